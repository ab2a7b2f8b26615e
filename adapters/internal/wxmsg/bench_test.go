package wxmsg

import (
	"encoding/json"
	"net/url"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/adapters/internal/wxcrypto"
)

// BenchmarkOpenAndParseOAText measures the inbound hot path of a safe-mode
// official account: query parsing, msg_signature verification, AES
// decryption, receive-id check and XML parsing of a text message.
func BenchmarkOpenAndParseOAText(b *testing.B) {
	var req encryptedRequest
	if err := json.Unmarshal(readTestdata(b, "oa/text.xml.enc.json"), &req); err != nil {
		b.Fatal(err)
	}
	v, err := url.ParseQuery(req.Query)
	if err != nil {
		b.Fatal(err)
	}
	body := []byte(req.Body)
	c := goldenCrypter(b, goldenAppID)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		q, err := wxcrypto.ParseQuery(v)
		if err != nil {
			b.Fatal(err)
		}
		opened, err := c.OpenRequest(q, body, wxcrypto.FormatXML)
		if err != nil {
			b.Fatal(err)
		}
		m, err := ParseOA(oaSrc, opened.Plain)
		if err != nil || m.Text == "" {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseOAText measures XML parsing alone, for comparison.
func BenchmarkParseOAText(b *testing.B) {
	payload := readTestdata(b, "oa/text.xml")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := ParseOA(oaSrc, payload); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSealTextReply measures rendering and encrypting a passive reply.
func BenchmarkSealTextReply(b *testing.B) {
	in, err := ParseOA(oaSrc, readTestdata(b, "oa/text.xml"))
	if err != nil {
		b.Fatal(err)
	}
	c, err := wxcrypto.New(wxcrypto.Config{Token: goldenToken, EncodingAESKey: goldenAESKey, ReceiveID: goldenAppID})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Unix(1700000001, 0)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		env, err := c.Seal(ReplyText(&in, "签收后7天内可在“我的订单”里申请无理由退货。", now), now)
		if err != nil {
			b.Fatal(err)
		}
		_ = env.XML()
	}
}
