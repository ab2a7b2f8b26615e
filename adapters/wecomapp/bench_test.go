package wecomapp

import (
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/adapters/internal/wxcrypto"
)

// BenchmarkOpenRequest measures the callback's own work: query parsing,
// msg_signature, AES decryption and parsing into a message.
func BenchmarkOpenRequest(b *testing.B) {
	at := time.Unix(1700000000, 0)
	env := newHandlerEnv(b, testAccounts, at, false)
	a := env.ch.accounts["helpdesk"]
	plain, _ := os.ReadFile("testdata/callbacks/text.xml")
	req, err := goldenSigner(at).WeComPush("/wecom/app/helpdesk", plain, "1000002")
	if err != nil {
		b.Fatal(err)
	}
	body := make([]byte, req.ContentLength)
	req.Body.Read(body)
	v, _ := url.ParseQuery(req.URL.RawQuery)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		q, err := wxcrypto.ParseQuery(v)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := a.openRequest(q, body); err != nil {
			b.Fatal(err)
		}
	}
}
