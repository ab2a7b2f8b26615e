package fakeplatform

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/kefu-gateway/kefu/adapters/internal/dingmsg"
	"github.com/kefu-gateway/kefu/adapters/internal/wxcrypto"
)

// CallbackSigner builds the requests WeChat and WeCom send to a callback URL,
// signed with the account's Token and, in safe mode, encrypted with its
// EncodingAESKey (PROTOCOLS.md §0, §1.1, §3.1). target is the full URL or the
// path of the adapter's endpoint; the requests work with http.Client.Do and
// with a handler's ServeHTTP alike.
type CallbackSigner struct {
	Token          string
	EncodingAESKey string // empty for plain-mode accounts
	ReceiveID      string // the AppID (official account, mini-program) or CorpID (WeCom)
	// Now stamps the requests; nil means time.Now.
	Now func() time.Time
	// Nonce is the nonce parameter; empty means "1234567890".
	Nonce string
}

func (s CallbackSigner) stamp() (string, string) {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	nonce := s.Nonce
	if nonce == "" {
		nonce = "1234567890"
	}
	return strconv.FormatInt(now().Unix(), 10), nonce
}

func (s CallbackSigner) crypter() (*wxcrypto.Crypter, error) {
	c, err := wxcrypto.New(wxcrypto.Config{Token: s.Token, EncodingAESKey: s.EncodingAESKey, ReceiveID: s.ReceiveID})
	if err != nil {
		return nil, fmt.Errorf("building callback: %w", err)
	}
	return c, nil
}

func newRequest(method, target string, q url.Values, body []byte, contentType string) (*http.Request, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("building callback: %w", err)
	}
	u.RawQuery = q.Encode()
	r, err := http.NewRequest(method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("building callback: %w", err)
	}
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	return r, nil
}

// URLCheck is the official-account / mini-program URL verification:
// GET ?signature&timestamp&nonce&echostr; the adapter must answer echostr.
func (s CallbackSigner) URLCheck(target, echostr string) (*http.Request, error) {
	ts, nonce := s.stamp()
	q := url.Values{"signature": {wxcrypto.Signature(s.Token, ts, nonce)}, "timestamp": {ts}, "nonce": {nonce}, "echostr": {echostr}}
	return newRequest(http.MethodGet, target, q, nil, "")
}

// WeComURLCheck is the WeCom app / 微信客服 URL verification: echostr is
// encrypted and signed with msg_signature; the adapter must answer the
// plaintext echo exactly.
func (s CallbackSigner) WeComURLCheck(target, echo string) (*http.Request, error) {
	c, err := s.crypter()
	if err != nil {
		return nil, err
	}
	enc, err := c.Encrypt([]byte(echo))
	if err != nil {
		return nil, fmt.Errorf("building callback: %w", err)
	}
	ts, nonce := s.stamp()
	q := url.Values{"msg_signature": {wxcrypto.Signature(s.Token, ts, nonce, enc)}, "timestamp": {ts}, "nonce": {nonce}, "echostr": {enc}}
	return newRequest(http.MethodGet, target, q, nil, "")
}

func contentTypeOf(format wxcrypto.Format) string {
	if format == wxcrypto.FormatJSON {
		return "application/json"
	}
	return "text/xml"
}

// PlainPush is a plain-mode push of payload (XML or JSON).
func (s CallbackSigner) PlainPush(target string, payload []byte, format wxcrypto.Format) (*http.Request, error) {
	ts, nonce := s.stamp()
	q := url.Values{"signature": {wxcrypto.Signature(s.Token, ts, nonce)}, "timestamp": {ts}, "nonce": {nonce}, "openid": {fromUser(payload, format)}}
	return newRequest(http.MethodPost, target, q, payload, contentTypeOf(format))
}

// EncryptedPush is a safe-mode official-account or mini-program push:
// encrypt_type=aes, msg_signature and signature in the query, the
// {ToUserName, Encrypt} envelope in the body.
func (s CallbackSigner) EncryptedPush(target string, payload []byte, format wxcrypto.Format) (*http.Request, error) {
	enc, env, err := s.seal(payload, format, "")
	if err != nil {
		return nil, err
	}
	ts, nonce := s.stamp()
	q := url.Values{
		"signature": {wxcrypto.Signature(s.Token, ts, nonce)}, "timestamp": {ts}, "nonce": {nonce},
		"encrypt_type": {"aes"}, "msg_signature": {wxcrypto.Signature(s.Token, ts, nonce, enc)}, "openid": {fromUser(payload, format)},
	}
	return newRequest(http.MethodPost, target, q, env, contentTypeOf(format))
}

// WeComPush is a WeCom app or 微信客服 callback: msg_signature, timestamp and
// nonce in the query, <xml><ToUserName/><AgentID/><Encrypt/></xml> in the
// body. agentID is empty for 微信客服.
func (s CallbackSigner) WeComPush(target string, payload []byte, agentID string) (*http.Request, error) {
	enc, env, err := s.seal(payload, wxcrypto.FormatXML, agentID)
	if err != nil {
		return nil, err
	}
	ts, nonce := s.stamp()
	q := url.Values{"msg_signature": {wxcrypto.Signature(s.Token, ts, nonce, enc)}, "timestamp": {ts}, "nonce": {nonce}}
	return newRequest(http.MethodPost, target, q, env, "text/xml")
}

// seal encrypts payload and wraps it in the envelope of format.
func (s CallbackSigner) seal(payload []byte, format wxcrypto.Format, agentID string) (string, []byte, error) {
	c, err := s.crypter()
	if err != nil {
		return "", nil, err
	}
	enc, err := c.Encrypt(payload)
	if err != nil {
		return "", nil, fmt.Errorf("building callback: %w", err)
	}
	to := toUser(payload, format)
	if format == wxcrypto.FormatJSON {
		b, _ := json.Marshal(map[string]string{"ToUserName": to, "Encrypt": enc})
		return enc, b, nil
	}
	var b bytes.Buffer
	b.WriteString("<xml><ToUserName>" + cdata(to) + "</ToUserName>")
	if agentID != "" {
		b.WriteString("<AgentID>" + cdata(agentID) + "</AgentID>")
	}
	b.WriteString("<Encrypt>" + cdata(enc) + "</Encrypt></xml>")
	return enc, b.Bytes(), nil
}

// OpenReply verifies and decrypts an encrypted passive reply as the platform
// would, returning the reply's plaintext XML or JSON.
func (s CallbackSigner) OpenReply(body []byte, format wxcrypto.Format) ([]byte, error) {
	c, err := s.crypter()
	if err != nil {
		return nil, err
	}
	return c.OpenReply(body, format)
}

type userNames struct {
	ToUserName   string `xml:"ToUserName" json:"ToUserName"`
	FromUserName string `xml:"FromUserName" json:"FromUserName"`
}

func names(payload []byte, format wxcrypto.Format) userNames {
	var n userNames
	if format == wxcrypto.FormatJSON {
		_ = json.Unmarshal(payload, &n)
	} else {
		_ = xml.Unmarshal(payload, &n)
	}
	return n
}

func toUser(payload []byte, format wxcrypto.Format) string { return names(payload, format).ToUserName }
func fromUser(payload []byte, format wxcrypto.Format) string {
	return names(payload, format).FromUserName
}

// DingTalkCallback is a DingTalk HTTP-mode robot callback: body with the
// timestamp (ms) and sign headers computed from appSecret at time at.
func DingTalkCallback(target, appSecret string, body []byte, at time.Time) (*http.Request, error) {
	ts := strconv.FormatInt(at.UnixMilli(), 10)
	r, err := newRequest(http.MethodPost, target, nil, body, "application/json")
	if err != nil {
		return nil, err
	}
	r.Header.Set("timestamp", ts)
	r.Header.Set("sign", dingmsg.Sign(ts, appSecret))
	return r, nil
}
