package campaigncli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/kefu-gateway/kefu/internal/campaign"
)

// client calls the operator API.
type client struct {
	base    string
	token   string
	timeout time.Duration
	http    http.Client
}

func (c *client) do(ctx context.Context, method, path string, body []byte, out any) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.base+"/admin/api"+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("building request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("calling kefu at %s: %w", c.base, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("reading kefu's answer: %w", err)
	}
	if res.StatusCode >= 300 {
		var e struct {
			Error string `json:"error"`
			Field string `json:"field"`
		}
		if json.Unmarshal(raw, &e) == nil && e.Error != "" {
			if e.Field != "" {
				return fmt.Errorf("%s: %s (HTTP %d)", e.Field, e.Error, res.StatusCode)
			}
			return fmt.Errorf("%s (HTTP %d)", e.Error, res.StatusCode)
		}
		return fmt.Errorf("HTTP %d from %s", res.StatusCode, req.URL.Path)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("decoding kefu's answer: %w", err)
	}
	return nil
}

func (c *client) get(ctx context.Context, id string) (*campaign.Progress, error) {
	var p campaign.Progress
	return &p, c.do(ctx, "GET", "/campaigns/"+url.PathEscape(id), nil, &p)
}

func (c *client) list(ctx context.Context) ([]*campaign.Progress, error) {
	var out struct {
		Campaigns []*campaign.Progress `json:"campaigns"`
	}
	return out.Campaigns, c.do(ctx, "GET", "/campaigns?limit=50", nil, &out)
}

func (c *client) create(ctx context.Context, def []byte) (*campaign.Progress, error) {
	var p campaign.Progress
	return &p, c.do(ctx, "POST", "/campaigns", def, &p)
}

func (c *client) control(ctx context.Context, id, action string) (*campaign.Progress, error) {
	var p campaign.Progress
	return &p, c.do(ctx, "POST", "/campaigns/"+url.PathEscape(id)+"/"+action, nil, &p)
}
