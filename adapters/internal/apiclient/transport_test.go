package apiclient

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		cfg Config
		ok  bool
	}{
		{Config{}, true},
		{Config{APIBase: "http://127.0.0.1:8080"}, true},
		{Config{APIBase: "https://proxy.example.com/wechat"}, true},
		{Config{APIBase: "ftp://proxy"}, false},
		{Config{APIBase: "proxy.example.com"}, false},
		{Config{APIBase: "http://proxy?x=1"}, false},
		{Config{Timeout: -1}, false},
		{Config{MaxResponseBytes: -1}, false},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrInvalidConfig)) {
			t.Errorf("Validate(%+v) = %v, want ok=%v", tt.cfg, err, tt.ok)
		}
	}
}

func TestBaseTransportRewritesHostAndPrefix(t *testing.T) {
	var got *http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		io.WriteString(w, `{"errcode":0}`)
	}))
	defer srv.Close()

	for _, tt := range []struct{ base, wantPath string }{
		{srv.URL, "/cgi-bin/token"},
		{srv.URL + "/proxy/wechat/", "/proxy/wechat/cgi-bin/token"},
	} {
		hc, err := NewHTTPClient(Config{APIBase: tt.base})
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, "https://api.weixin.qq.com/cgi-bin/token?appid=a", nil)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got.URL.Path != tt.wantPath || got.URL.Query().Get("appid") != "a" {
			t.Errorf("base %s: server saw %s", tt.base, got.URL)
		}
		if req.URL.Host != "api.weixin.qq.com" {
			t.Errorf("the caller's request was modified: %s", req.URL)
		}
	}
	// No api_base: the transport is the given one, untouched.
	next := http.DefaultTransport
	rt, err := NewBaseTransport("", next)
	if err != nil || rt != next {
		t.Fatalf("NewBaseTransport(\"\") = %v, %v", rt, err)
	}
}

func TestRedactURL(t *testing.T) {
	got := redactURL("https://user:pw@api.weixin.qq.com/cgi-bin/token?grant_type=client_credential&appid=wx1&secret=SECRET#frag")
	if got != "https://api.weixin.qq.com/cgi-bin/token" {
		t.Fatalf("redactURL = %s", got)
	}
	err := redactError(&url.Error{Op: "Get", URL: "https://h/p?access_token=TOKEN", Err: errors.New("boom")})
	if strings.Contains(err.Error(), "TOKEN") || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("redactError = %v", err)
	}
}

func TestCheckResponse(t *testing.T) {
	c := &Client{platform: DingTalk}
	req := Request{Path: "/v1.0/x"}
	tests := []struct {
		name   string
		status int
		body   string
		want   *PlatformError // nil = success
		bad    bool
	}{
		{"ok", 200, `{"processQueryKey":"k"}`, nil, false},
		{"string code in a success body", 200, `{"code":"OK","result":1}`, nil, false},
		{"errcode 0", 200, `{"errcode":0,"errmsg":"ok"}`, nil, false},
		{"errcode", 200, `{"errcode":45015,"errmsg":"response out of time limit"}`, &PlatformError{Code: 45015, Msg: "response out of time limit"}, false},
		{"v1.0 error", 400, `{"code":"InvalidAuthentication","message":"不合法的access_token","requestid":"r"}`, &PlatformError{HTTPStatus: 400, Key: "InvalidAuthentication", Msg: "不合法的access_token"}, false},
		{"status without body", 502, `<html>bad gateway</html>`, &PlatformError{HTTPStatus: 502}, false},
		{"not json", 200, `<html>proxy login</html>`, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := c.checkResponse(req, tt.status, []byte(tt.body))
			if tt.bad {
				if !errors.Is(err, ErrMalformedResponse) {
					t.Fatalf("err = %v, want ErrMalformedResponse", err)
				}
				return
			}
			if tt.want == nil {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				return
			}
			pe, ok := AsPlatformError(err)
			if !ok || pe.HTTPStatus != tt.want.HTTPStatus || pe.Code != tt.want.Code || pe.Key != tt.want.Key || pe.Msg != tt.want.Msg {
				t.Fatalf("err = %#v, want %#v", err, tt.want)
			}
		})
	}
}
