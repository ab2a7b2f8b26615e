package dingtalk

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/adapters"
	"github.com/kefu-gateway/kefu/adapters/internal/dingmsg"
	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/kefu-gateway/kefu/internal/clock"
	"github.com/kefu-gateway/kefu/internal/metrics"
	"github.com/kefu-gateway/kefu/internal/store"
	"github.com/kefu-gateway/kefu/internal/testutil/redistest"
	"github.com/open-dingtalk/dingtalk-stream-sdk-go/payload"
	"go.uber.org/zap"
	"gopkg.in/yaml.v3"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const testSecret = "golden-app-secret"

// recorder is an adapters.Inbound that keeps what it is given.
type recorder struct {
	mu   sync.Mutex
	msgs []message.Message
}

func (r *recorder) Accept(_ context.Context, m message.Message) (adapters.Turn, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, m)
	return doneTurn{}, nil
}

func (r *recorder) last() (message.Message, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.msgs) == 0 {
		return message.Message{}, 0
	}
	return r.msgs[len(r.msgs)-1], len(r.msgs)
}

type doneTurn struct{}

func (doneTurn) Duplicate() bool          { return false }
func (t doneTurn) Known() <-chan struct{} { return t.Done() }
func (doneTurn) TakePassive(context.Context, time.Duration) ([]message.Message, bool) {
	return nil, false
}
func (doneTurn) Return([]message.Message) {}
func (doneTurn) Done() <-chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}
func (doneTurn) Err() error { return nil }

func testChannel(t testing.TB, accounts string, now time.Time, withRedis bool) (*Channel, *recorder) {
	t.Helper()
	var node yaml.Node
	if err := yaml.Unmarshal([]byte(accounts), &node); err != nil {
		t.Fatal(err)
	}
	in := &recorder{}
	deps := adapters.Deps{Log: zap.NewNop(), Keys: store.Keys{Prefix: "kefu:"}, Inbound: in, Clock: clock.NewFake(now),
		BodyLimit: 1 << 20, Metrics: metrics.New(), ConfigFile: "kefu.yaml"}
	if withRedis {
		deps.Redis = redistest.New(t).Client
	}
	ch, err := New(deps, node.Content[0], "channels.dingtalk")
	if err != nil {
		t.Fatal(err)
	}
	return ch.(*Channel), in
}

const goldenAccounts = `
- id: robot
  app_key: dingappkey
  app_secret: golden-app-secret
`

// Every golden callback, signed, normalizes to its *.want.json over HTTP,
// and a stream frame carrying the same body normalizes identically.
func TestGoldenCallbacksBothModes(t *testing.T) {
	at := time.UnixMilli(1700000000000)
	ch, in := testChannel(t, goldenAccounts, at, true)
	a := ch.accounts["robot"]
	files, _ := filepath.Glob("testdata/callbacks/*.json")
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, ".want.json") {
			continue
		}
		n++
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			body, _ := os.ReadFile(f)
			ts := strconv.FormatInt(at.UnixMilli(), 10)
			m, err := a.openRequest(ts, dingmsg.Sign(ts, testSecret), body)
			if err != nil {
				t.Fatal(err)
			}
			m.Raw = nil
			want := strings.TrimSuffix(f, ".json") + ".want.json"
			if *update {
				var b bytes.Buffer
				enc := json.NewEncoder(&b)
				enc.SetEscapeHTML(false)
				enc.SetIndent("", "  ")
				enc.Encode(m)
				os.WriteFile(want, b.Bytes(), 0o644)
			}
			wb, err := os.ReadFile(want)
			if err != nil {
				t.Fatalf("%v (run go test -update once)", err)
			}
			var wm message.Message
			json.Unmarshal(wb, &wm)
			gj, _ := json.Marshal(m)
			wj, _ := json.Marshal(wm)
			if !bytes.Equal(gj, wj) {
				t.Errorf("HTTP mode\n got %s\nwant %s", gj, wj)
			}

			frame, _ := json.Marshal(payload.DataFrame{SpecVersion: "1.0", Type: "CALLBACK", Data: string(body),
				Headers: payload.DataFrameHeader{"topic": payload.BotMessageCallbackTopic, "messageId": "frame-" + name}})
			ack, disconnect := a.handleFrame(context.Background(), frame)
			if ack == nil || ack.Code != 200 || ack.Headers["messageId"] != "frame-"+name || disconnect {
				t.Fatalf("stream ack %+v", ack)
			}
			got, _ := in.last()
			got.Raw = nil
			sj, _ := json.Marshal(got)
			if !bytes.Equal(sj, wj) {
				t.Errorf("stream mode\n got %s\nwant %s", sj, wj)
			}
		})
	}
	if n < 5 {
		t.Fatalf("%d golden callbacks", n)
	}
}

func TestBackoffGrowsWithJitterWithinBounds(t *testing.T) {
	min, max := 100*time.Millisecond, 1600*time.Millisecond
	for attempt := 0; attempt < 10; attempt++ {
		d := min << attempt
		if d > max {
			d = max
		}
		seen := map[time.Duration]bool{}
		for i := 0; i < 200; i++ {
			got := backoff(min, max, attempt)
			if got < d/2 || got > d {
				t.Fatalf("backoff(attempt %d) = %s, want within [%s, %s]", attempt, got, d/2, d)
			}
			seen[got] = true
		}
		if len(seen) < 10 {
			t.Errorf("attempt %d: %d distinct delays in 200 draws: no jitter", attempt, len(seen))
		}
	}
}

func TestConfigDefaultsAndErrors(t *testing.T) {
	ch, _ := testChannel(t, goldenAccounts, time.Now(), false)
	c := ch.accounts["robot"].cfg
	if c.Mode != ModeHTTP || c.SignWindow != time.Hour || c.WebhookMargin != time.Minute || c.Timeout != 10*time.Second ||
		c.Stream.ReconnectMin != time.Second || c.Stream.ReconnectMax != time.Minute || c.robotCode() != "dingappkey" {
		t.Errorf("defaults %+v", c)
	}
	var node yaml.Node
	yaml.Unmarshal([]byte(`
- id: a
  app_key: k
  mode: websocket
  sign_window: 2h
  stream: { reconnect_min: 5s, reconnect_max: 1s }`), &node)
	_, err := New(adapters.Deps{Log: zap.NewNop(), Clock: clock.Real{}, ConfigFile: "kefu.yaml"}, node.Content[0], "channels.dingtalk")
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"kefu.yaml:4: channels.dingtalk[0].mode: must be http or stream", "app_secret: REQUIRED", "sign_window", "stream.reconnect_max"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func FuzzHTTPCallback(f *testing.F) {
	at := time.UnixMilli(1700000000000)
	ts := strconv.FormatInt(at.UnixMilli(), 10)
	body, _ := os.ReadFile("testdata/callbacks/text_single.json")
	f.Add(ts, dingmsg.Sign(ts, testSecret), body)
	f.Add("", "", []byte("{}"))
	f.Add("1700000000000", "AAAA", []byte(`{"msgId":1}`))
	ch, _ := testChannel(f, goldenAccounts, at, false)
	a := ch.accounts["robot"]
	f.Fuzz(func(t *testing.T, timestamp, sign string, body []byte) {
		m, err := a.openRequest(timestamp, sign, body)
		if err != nil {
			if s := StatusOf(err); s != 400 && s != 401 && s != 413 {
				t.Fatalf("status %d for %v", s, err)
			}
			return
		}
		if m.ID == "" || m.ConversationID == "" {
			t.Fatalf("accepted a message without id or conversation: %+v", m)
		}
	})
}

func FuzzStreamFrame(f *testing.F) {
	body, _ := os.ReadFile("testdata/callbacks/text_group.json")
	frame, _ := json.Marshal(payload.DataFrame{Type: "CALLBACK", Data: string(body),
		Headers: payload.DataFrameHeader{"topic": payload.BotMessageCallbackTopic, "messageId": "m1"}})
	f.Add(frame)
	f.Add([]byte(`{"type":"SYSTEM","headers":{"topic":"ping","messageId":"p"},"data":"x"}`))
	f.Add([]byte(`{"type":"SYSTEM","headers":null}`))
	f.Add([]byte(`not json`))
	ch, _ := testChannel(f, goldenAccounts, time.UnixMilli(1700000000000), true)
	a := ch.accounts["robot"]
	f.Fuzz(func(t *testing.T, data []byte) {
		ack, _ := a.handleFrame(context.Background(), data)
		if ack != nil && ack.Headers["messageId"] == "" {
			t.Fatalf("ack without a messageId: %+v", ack)
		}
	})
}
