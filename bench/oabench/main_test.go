package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/internal/testutil/redistest"
)

// BenchmarkPassiveReply measures one official-account text push answered
// passively, on the bare silenceper/wechat server and on kefu (real Redis,
// demo flows), with parallel customers over loopback: compare the two
// ns/op. The load tool (go run ./bench/oabench) reports the same with
// percentiles and CPU per message.
func BenchmarkPassiveReply(b *testing.B) {
	b.Run("bare", func(b *testing.B) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		app := startBare(ln, benchToken)
		defer func() { _ = app.ShutdownWithTimeout(5 * time.Second) }()
		drive(b, "http://"+ln.Addr().String()+BarePath, []byte("<Content><![CDATA[你好]]></Content>"))
	})
	b.Run("kefu", func(b *testing.B) {
		drive(b, startTestKefu(b), []byte(greeting))
	})
}

// startTestKefu starts the bench's kefu on a test Redis, shut down when the
// test ends, and returns its callback URL.
func startTestKefu(tb testing.TB) string {
	db := redistest.New(tb)
	ctx := context.Background()
	kefu, base, err := startKefu(ctx, db.URL, "kefuoabench:")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { kefu.Shutdown(ctx) })
	return base + "/wechat/oa/" + benchAccount
}

func drive(b *testing.B, url string, want []byte) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	// Shutting the server down (kefu waits out the passive budget of the
	// last turns) is not part of the measurement.
	defer b.StopTimer()
	defer client.CloseIdleConnections()
	p := &pushes{url: url, text: "你好", base: 1 << 40}
	var customers atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		customer := int(customers.Add(1))
		for pb.Next() {
			req, err := p.next(customer)
			if err != nil {
				b.Error(err)
				return
			}
			res, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK || !bytes.Contains(body, want) {
				b.Errorf("answered %d %.200s", res.StatusCode, body)
				return
			}
		}
	})
}

// The bench's kefu finds the demo flows and knowledge base from wherever it
// runs inside the repository: `go test` runs here, in bench/oabench, and
// a relative knowledge.dir once failed the start from anywhere but the root.
func TestBenchKefuStartsAndAnswersAPush(t *testing.T) {
	req, err := (&pushes{url: startTestKefu(t), text: "你好", base: 1 << 40}).next(1)
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(greeting)) {
		t.Fatalf("answered %d %.300s, want the demo greeting", res.StatusCode, body)
	}
}
