package wxmsg

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/adapters/internal/wxcrypto"
	"github.com/kefu-gateway/kefu/adapters/message"
)

var update = flag.Bool("update", false, "rewrite the encrypted golden files in testdata")

const (
	goldenToken  = "kefutoken"
	goldenAESKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
	goldenAppID  = "wx0123456789abcdef"
	goldenCorpID = "ww0123456789abcdef"
)

// seqReader yields 0, 1, 2, ... so encrypted goldens are reproducible.
type seqReader struct{ n byte }

func (r *seqReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.n
		r.n++
	}
	return len(p), nil
}

func goldenCrypter(t testing.TB, receiveID string) *wxcrypto.Crypter {
	t.Helper()
	c, err := wxcrypto.New(wxcrypto.Config{Token: goldenToken, EncodingAESKey: goldenAESKey, ReceiveID: receiveID, Rand: &seqReader{}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// encryptedRequest is a golden encrypted callback: the URL query and the body
// exactly as the platform would send them.
type encryptedRequest struct {
	Query string `json:"query"`
	Body  string `json:"body"`
}

// sealRequest builds the encrypted request for a plaintext payload.
func sealRequest(t testing.TB, c *wxcrypto.Crypter, plain []byte, format wxcrypto.Format, toUser string, wecom bool) encryptedRequest {
	t.Helper()
	enc, err := c.Encrypt(plain)
	if err != nil {
		t.Fatal(err)
	}
	tsStr, nonce := "1700000000", "1234567890"
	q := url.Values{"timestamp": {tsStr}, "nonce": {nonce}, "msg_signature": {wxcrypto.Signature(goldenToken, tsStr, nonce, enc)}}
	if !wecom {
		q.Set("signature", wxcrypto.Signature(goldenToken, tsStr, nonce))
		q.Set("encrypt_type", "aes")
		q.Set("openid", "oUser")
	}
	var body []byte
	if format == wxcrypto.FormatJSON {
		body = []byte(`{"ToUserName":"` + toUser + `","Encrypt":"` + enc + `"}`)
	} else {
		body = []byte("<xml><ToUserName><![CDATA[" + toUser + "]]></ToUserName><Encrypt><![CDATA[" + enc + "]]></Encrypt></xml>")
	}
	return encryptedRequest{Query: q.Encode(), Body: string(body)}
}

// openRequest verifies and decrypts a golden request as an adapter would.
func openRequest(t testing.TB, c *wxcrypto.Crypter, req encryptedRequest, format wxcrypto.Format) []byte {
	t.Helper()
	v, err := url.ParseQuery(req.Query)
	if err != nil {
		t.Fatal(err)
	}
	q, err := wxcrypto.ParseQuery(v)
	if err != nil {
		t.Fatal(err)
	}
	opened, err := c.OpenRequest(q, []byte(req.Body), format)
	if err != nil {
		t.Fatalf("OpenRequest = %v", err)
	}
	if !opened.Encrypted {
		t.Fatal("golden request was not treated as encrypted")
	}
	return opened.Plain
}

// TestEncryptedGoldens opens every encrypted golden request and checks that
// it yields exactly the plain golden payload and the same message.
func TestEncryptedGoldens(t *testing.T) {
	type parser func([]byte) (message.Message, error)
	oa := func(b []byte) (message.Message, error) { return ParseOA(oaSrc, b) }
	mpXML := func(b []byte) (message.Message, error) { return ParseMP(mpSrc, b, wxcrypto.FormatXML) }
	mpJSON := func(b []byte) (message.Message, error) { return ParseMP(mpSrc, b, wxcrypto.FormatJSON) }
	wecom := func(b []byte) (message.Message, error) { return ParseWeComApp(wecomSrc, b) }
	kf := func(b []byte) (message.Message, error) {
		cb, err := ParseKFCallback(b)
		return message.Message{ID: cb.Token, To: message.Party{ID: cb.OpenKfID}}, err
	}
	tests := []struct {
		plain     string
		format    wxcrypto.Format
		receiveID string
		toUser    string
		wecom     bool
		parse     parser
	}{
		{"oa/text.xml", wxcrypto.FormatXML, goldenAppID, "gh_3a5b7c9d1e2f", false, oa},
		{"oa/voice_recognition.xml", wxcrypto.FormatXML, goldenAppID, "gh_3a5b7c9d1e2f", false, oa},
		{"oa/subscribe_qrscene.xml", wxcrypto.FormatXML, goldenAppID, "gh_3a5b7c9d1e2f", false, oa},
		{"mp/text.xml", wxcrypto.FormatXML, goldenAppID, "gh_mini0000001", false, mpXML},
		{"mp/text.json", wxcrypto.FormatJSON, goldenAppID, "gh_mini0000001", false, mpJSON},
		{"mp/enter_session.json", wxcrypto.FormatJSON, goldenAppID, "gh_mini0000001", false, mpJSON},
		{"wecom/image.xml", wxcrypto.FormatXML, goldenCorpID, goldenCorpID, true, wecom},
		{"wecom/enter_agent.xml", wxcrypto.FormatXML, goldenCorpID, goldenCorpID, true, wecom},
		{"kf/callback.xml", wxcrypto.FormatXML, goldenCorpID, goldenCorpID, true, kf},
	}
	for _, tt := range tests {
		t.Run(tt.plain, func(t *testing.T) {
			plain := readTestdata(t, tt.plain)
			encPath := filepath.Join("testdata", tt.plain+".enc.json")
			if *update {
				req := sealRequest(t, goldenCrypter(t, tt.receiveID), plain, tt.format, tt.toUser, tt.wecom)
				var b bytes.Buffer
				enc := json.NewEncoder(&b)
				enc.SetEscapeHTML(false)
				enc.SetIndent("", "  ")
				if err := enc.Encode(req); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(encPath, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			b, err := os.ReadFile(encPath)
			if err != nil {
				t.Fatal(err)
			}
			var req encryptedRequest
			if err := json.Unmarshal(b, &req); err != nil {
				t.Fatal(err)
			}
			got := openRequest(t, goldenCrypter(t, tt.receiveID), req, tt.format)
			if !bytes.Equal(got, plain) {
				t.Fatalf("decrypted payload differs from %s:\n%s", tt.plain, got)
			}
			fromEnc, err := tt.parse(got)
			if err != nil {
				t.Fatal(err)
			}
			fromPlain, err := tt.parse(plain)
			if err != nil {
				t.Fatal(err)
			}
			if fromEnc.ID == "" || fromEnc.ID != fromPlain.ID || fromEnc.Text != fromPlain.Text || fromEnc.To.ID != fromPlain.To.ID {
				t.Fatalf("encrypted and plain parse differ: %+v vs %+v", fromEnc, fromPlain)
			}
			// The same request for another AppID/CorpID is refused.
			other, _ := wxcrypto.New(wxcrypto.Config{Token: goldenToken, EncodingAESKey: goldenAESKey, ReceiveID: "wxNotThisAccount"})
			v, _ := url.ParseQuery(req.Query)
			q, _ := wxcrypto.ParseQuery(v)
			if _, err := other.OpenRequest(q, []byte(req.Body), tt.format); !wxcrypto.IsAuthFailure(err) {
				t.Fatalf("foreign account opened the request: %v", err)
			}
		})
	}
}

// TestOfficialWeComVectorParses runs Tencent's published encrypted WeCom
// sample through the whole inbound path.
func TestOfficialWeComVectorParses(t *testing.T) {
	body, err := os.ReadFile("../wxcrypto/testdata/wecom_official_post.xml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := wxcrypto.New(wxcrypto.Config{Token: "QDG6eK", EncodingAESKey: "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", ReceiveID: "wx5823bf96d3bd56c7"})
	if err != nil {
		t.Fatal(err)
	}
	q := wxcrypto.Query{MsgSignature: "477715d11cdb4164915debcba66cb864d751f3e6", Timestamp: "1409659813", Nonce: "1372623149"}
	opened, err := c.OpenRequest(q, body, wxcrypto.FormatXML)
	if err != nil {
		t.Fatal(err)
	}
	m, err := ParseWeComApp(wecomSrc, opened.Plain)
	if err != nil {
		t.Fatal(err)
	}
	if m.ID != "4561255354251345929" || m.Text != "hello" || m.From.ID != "mycreate" || m.Meta[MetaAgentID] != "218" || !m.Timestamp.Equal(time.Unix(1409659813, 0)) {
		t.Fatalf("message = %+v", m)
	}
}

// TestEncryptedPassiveReply seals a text reply the way an adapter answers a
// safe-mode push and reads it back as WeChat would.
func TestEncryptedPassiveReply(t *testing.T) {
	c := goldenCrypter(t, goldenAppID)
	in, err := ParseOA(oaSrc, readTestdata(t, "oa/text.xml"))
	if err != nil {
		t.Fatal(err)
	}
	reply := ReplyText(&in, "您好 ]]> 世界", time.Unix(1700000003, 0))
	env, err := c.Seal(reply, time.Unix(1700000003, 0))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := goldenCrypter(t, goldenAppID).OpenReply(env.XML(), wxcrypto.FormatXML)
	if err != nil || !bytes.Equal(plain, reply) {
		t.Fatalf("OpenReply = %q, %v", plain, err)
	}
}
