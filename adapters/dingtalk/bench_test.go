package dingtalk

import (
	"context"
	"encoding/json"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/adapters/internal/dingmsg"
	"github.com/open-dingtalk/dingtalk-stream-sdk-go/payload"
)

// BenchmarkOpenRequest measures an HTTP-mode callback's own work: the sign
// check and parsing the body into a message.
func BenchmarkOpenRequest(b *testing.B) {
	at := time.UnixMilli(1700000000000)
	ch, _ := testChannel(b, goldenAccounts, at, false)
	a := ch.accounts["robot"]
	body, _ := os.ReadFile("testdata/callbacks/text_group.json")
	ts := strconv.FormatInt(at.UnixMilli(), 10)
	sign := dingmsg.Sign(ts, testSecret)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := a.openRequest(ts, sign, body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHandleFrame measures a stream frame from decoding to its ack,
// with the route saved in Redis and the message handed to a recording router.
func BenchmarkHandleFrame(b *testing.B) {
	ch, _ := testChannel(b, goldenAccounts, time.UnixMilli(1700000000000), true)
	a := ch.accounts["robot"]
	body, _ := os.ReadFile("testdata/callbacks/text_single.json")
	frame, _ := json.Marshal(payload.DataFrame{Type: "CALLBACK", Data: string(body),
		Headers: payload.DataFrameHeader{"topic": payload.BotMessageCallbackTopic, "messageId": "m"}})
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if ack, _ := a.handleFrame(ctx, frame); ack == nil || ack.Code != 200 {
			b.Fatal("no ack")
		}
	}
}
