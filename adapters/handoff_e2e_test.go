package adapters_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/adapters/internal/fakeplatform"
	"github.com/kefu-gateway/kefu/adapters/internal/wxcrypto"
	"github.com/kefu-gateway/kefu/internal/testutil/apptest"
)

// The issue-6 acceptance loops, through the real channel adapters: a
// customer asks for a human, the agent gets the notice in WeCom (the real
// wecom_app adapter against a fake WeCom), the agent's reply — an encrypted
// WeCom callback — reaches the customer on their own channel, /end asks for
// a rating, and the customer is back with the bot.

const (
	corpID   = "ww0123456789abcdef"
	appSec   = "agents-app-secret"
	wcToken  = "agenttoken"
	wcAESKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
	oaAppID  = "wx0123456789abcdef"
	oaSecret = "oa-app-secret"
	oaToken  = "oatoken"
)

type handoffRig struct {
	t      *testing.T
	srv    *apptest.Server
	wecom  *fakeplatform.WeCom
	wechat *fakeplatform.WeChat
	signer fakeplatform.CallbackSigner
	msgID  int64
}

func newHandoffRig(t *testing.T) *handoffRig {
	wecom := fakeplatform.NewWeCom(t)
	wecom.AddSecret(corpID, appSec)
	wechat := fakeplatform.NewWeChat(t)
	wechat.AddApp(oaAppID, oaSecret)
	root := apptest.RepoRoot()
	srv := apptest.Start(t, fmt.Sprintf(`
workers: { poll_interval: 100ms }
flows: { dir: %[1]s/configs/flows }
knowledge: { dir: %[1]s/configs/knowledge }
channels:
  web: [ { id: shop } ]
  wecom_app:
    - { id: agents, corp_id: %[2]s, agent_id: 1000002, secret: %[3]s, token: %[4]s, encoding_aes_key: %[5]s, api_base: %[6]s, merge_window: 0s }
  wechat_oa:
    - { id: oa, app_id: %[7]s, app_secret: %[8]s, token: %[9]s, encryption: plain, verified: true, api_base: %[10]s }
handoff:
  agents:
    - { id: amy, name: 客服小美, wecom_user: amy, wecom_app: agents, max_concurrent: 3 }
`, root, corpID, appSec, wcToken, wcAESKey, wecom.URL(), oaAppID, oaSecret, oaToken, wechat.URL()), apptest.Options{})
	return &handoffRig{t: t, srv: srv, wecom: wecom, wechat: wechat, msgID: 9000,
		signer: fakeplatform.CallbackSigner{Token: wcToken, EncodingAESKey: wcAESKey, ReceiveID: corpID}}
}

// agentSays posts an encrypted WeCom callback from the agent.
func (h *handoffRig) agentSays(text string) {
	h.t.Helper()
	h.msgID++
	r, err := h.signer.WeComPush("/wecom/app/agents", fakeplatform.WeComAppText(corpID, "amy", 1000002, text, h.msgID, time.Now()), "1000002")
	if err != nil {
		h.t.Fatal(err)
	}
	if st := forward(h.t, r, h.srv.URL); st != 200 {
		h.t.Fatalf("agent callback %q: %d", text, st)
	}
}

// agentSaw reports whether WeCom was asked to show the agent text containing want.
func (h *handoffRig) agentSaw(want string) bool {
	for _, c := range h.wecom.Calls("/cgi-bin/message/send") {
		if c.String("touser") == "amy" && strings.Contains(string(c.Body), want) {
			return true
		}
	}
	return false
}

// rated waits until the agent's CSAT tally holds one rating of score.
func (h *handoffRig) rated(score int) {
	h.t.Helper()
	waitUntil(h.t, "the rating stored for the agent", func() bool {
		rs, err := h.srv.App.Handoff().Ratings(context.Background())
		if err != nil {
			return false
		}
		for _, r := range rs {
			if r.Agent == "amy" && r.Count == 1 && r.Scores[score-1] == 1 {
				return true
			}
		}
		return false
	})
}

func forward(t *testing.T, r *http.Request, base string) int {
	t.Helper()
	req, _ := http.NewRequest(r.Method, base+r.URL.RequestURI(), r.Body)
	req.Header = r.Header
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(30 * time.Millisecond)
	}
}

type webVisitor struct {
	t     *testing.T
	base  string
	token string
}

func (v *webVisitor) say(text string) {
	var out struct{ Replies []json.RawMessage }
	if st := postJSON(v.t, v.base+"/api/web/shop/messages", v.token, fmt.Sprintf(`{"type":"text","text":%q}`, text), &out); st != 200 {
		v.t.Fatalf("web message: %d", st)
	}
}

func (v *webVisitor) saw(from, want string) bool {
	req, _ := http.NewRequest("GET", v.base+"/api/web/shop/messages", nil)
	req.Header.Set("Authorization", "Bearer "+v.token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	defer res.Body.Close()
	var out struct {
		Messages []struct{ From, Text, Name string }
	}
	json.NewDecoder(res.Body).Decode(&out)
	for _, m := range out.Messages {
		if m.From == from && strings.Contains(m.Text, want) {
			return true
		}
	}
	return false
}

func TestHandoffLoopWebVisitor(t *testing.T) {
	h := newHandoffRig(t)
	h.agentSays("/online")
	var s session
	postJSON(t, h.srv.URL+"/api/web/shop/sessions", "", `{"name":"王先生"}`, &s)
	v := &webVisitor{t: t, base: h.srv.URL, token: s.Token}
	v.say("我的订单一直没发货")
	v.say("人工")
	waitUntil(t, "the agent's notice with the customer's context", func() bool {
		return h.agentSaw("王先生") && h.agentSaw("一直没发货")
	})
	h.agentSays("您好，我帮您查一下")
	waitUntil(t, "the agent's reply on the widget", func() bool { return v.saw("agent", "我帮您查一下") })
	v.say("好的谢谢")
	waitUntil(t, "the customer's reply relayed to the agent", func() bool { return h.agentSaw("好的谢谢") })
	if v.saw("bot", "好的谢谢") {
		t.Fatal("the bot answered while the agent served")
	}
	h.agentSays("/end")
	waitUntil(t, "the rating question", func() bool { return v.saw("bot", "打分") || v.saw("system", "打分") })
	v.say("5")
	h.rated(5)
	v.say("你好")
	waitUntil(t, "the bot back after the rating", func() bool { return v.saw("bot", "您好！我是小店的智能客服") })
}

func TestHandoffLoopOfficialAccountCustomer(t *testing.T) {
	h := newHandoffRig(t)
	h.agentSays("/online")
	const openID = "oCustomer1"
	oaSay := func(text string, id int64) string {
		r, err := (fakeplatform.CallbackSigner{Token: oaToken, ReceiveID: oaAppID}).PlainPush("/wechat/oa/oa",
			fakeplatform.OAText(openID, "gh_shop", text, id, time.Now()), wxcrypto.FormatXML)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(r.Method, h.srv.URL+r.URL.RequestURI(), r.Body)
		req.Header = r.Header
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return string(b)
	}
	oaSay("人工", 1)
	waitUntil(t, "the agent's notice", func() bool { return h.agentSaw("wechat_oa") || h.agentSaw("公众号") || h.agentSaw("人工") })
	h.agentSays("您好，我是客服小美")
	waitUntil(t, "the agent's reply as a customer-service message", func() bool {
		for _, c := range h.wechat.Calls("/cgi-bin/message/custom/send") {
			if c.String("touser") == openID && strings.Contains(string(c.Body), "我是客服小美") {
				return true
			}
		}
		return false
	})
	h.agentSays("/end")
	waitUntil(t, "the rating question as a customer-service message", func() bool {
		for _, c := range h.wechat.Calls("/cgi-bin/message/custom/send") {
			if c.String("touser") == openID && strings.Contains(string(c.Body), "打分") {
				return true
			}
		}
		return false
	})
	oaSay("5", 2)
	h.rated(5)
	if reply := oaSay("你好", 3); !strings.Contains(reply, "您好！我是小店的智能客服") {
		waitUntil(t, "the bot's greeting", func() bool {
			for _, c := range h.wechat.Calls("/cgi-bin/message/custom/send") {
				if strings.Contains(string(c.Body), "小店的智能客服") {
					return true
				}
			}
			return false
		})
	}
}

type session struct {
	Token string `json:"token"`
}

func postJSON(t *testing.T, url, token, body string, out any) int {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if out != nil && res.StatusCode == 200 {
		json.Unmarshal(b, out)
	}
	return res.StatusCode
}
