package fakeplatform

import (
	"net/http"
	"testing"
	"time"
)

// WeChat codes the fake answers with (PROTOCOLS.md §1.6).
const (
	CodeInvalidAppID   = 40013
	CodeWindowClosed   = 45015
	CodeQuotaExceeded  = 45047
	CodeInvalidCommand = 45072 // typing command other than Typing/CancelTyping
	CodeMissingField   = 44002 // fake: a required body field is empty
)

// WeChat fakes api.weixin.qq.com for official accounts and mini-programs.
type WeChat struct {
	*core
	apps          map[string]string // appid → secret
	stable        map[string]string // appid → current stable token
	enforceWindow bool
	windows       map[string]*window // appid/openid
}

// NewWeChat starts a WeChat fake, closed when the test ends.
func NewWeChat(t testing.TB) *WeChat {
	w := &WeChat{apps: map[string]string{}, stable: map[string]string{}, windows: map[string]*window{}}
	w.core = newCore(t, http.HandlerFunc(w.serve))
	return w
}

// AddApp registers an AppID and its AppSecret; TokenCalls(appID) counts its
// token requests (both /cgi-bin/token and /cgi-bin/stable_token).
func (w *WeChat) AddApp(appID, secret string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.apps[appID] = secret
}

// EnforceWindow turns the 48-hour window and 5-message quota of
// customer-service messages on or off (off by default).
func (w *WeChat) EnforceWindow(on bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.enforceWindow = on
}

// CustomerMessaged opens (or re-arms) openID's window for appID at the fake's
// current time, as a customer message does.
func (w *WeChat) CustomerMessaged(appID, openID string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.windows[appID+"/"+openID] = &window{opened: w.now()}
}

func (w *WeChat) serve(rw http.ResponseWriter, r *http.Request) {
	idx, fault := w.record(r)
	if applyFault(r.Context(), rw, fault) {
		return
	}
	req := w.request(idx)
	switch r.URL.Path {
	case "/cgi-bin/token":
		w.token(rw, req)
		return
	case "/cgi-bin/stable_token":
		w.stableToken(rw, req)
		return
	}
	app, ok := w.authorizeQuery(rw, r, idx)
	if !ok {
		return
	}
	switch r.URL.Path {
	case "/cgi-bin/message/custom/send":
		w.customSend(rw, req, app)
	case "/cgi-bin/message/custom/typing":
		switch cmd := req.String("command"); {
		case req.String("touser") == "":
			writeErr(rw, CodeMissingField, "touser is empty")
		case cmd != "Typing" && cmd != "CancelTyping":
			writeErr(rw, CodeInvalidCommand, "invalid command")
		default:
			writeOK(rw, nil)
		}
	case "/cgi-bin/message/template/send":
		if req.String("touser") == "" || req.String("template_id") == "" {
			writeErr(rw, CodeMissingField, "touser and template_id are required")
			return
		}
		writeOK(rw, map[string]any{"msgid": 200000000 + idx})
	case "/cgi-bin/message/subscribe/send":
		if req.String("touser") == "" || req.String("template_id") == "" {
			writeErr(rw, CodeMissingField, "touser and template_id are required")
			return
		}
		writeOK(rw, nil)
	default:
		http.NotFound(rw, r)
	}
}

func (w *WeChat) credentialsOK(appID, secret string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	want, ok := w.apps[appID]
	switch {
	case !ok:
		return CodeInvalidAppID
	case want != secret:
		return CodeTokenRevoked // 40001: AppSecret wrong
	}
	return 0
}

// token serves GET /cgi-bin/token?grant_type=client_credential&appid&secret.
func (w *WeChat) token(rw http.ResponseWriter, req Request) {
	if req.Query.Get("grant_type") != "client_credential" {
		writeErr(rw, 40002, "invalid grant_type")
		return
	}
	appID := req.Query.Get("appid")
	if code := w.credentialsOK(appID, req.Query.Get("secret")); code != 0 {
		writeErr(rw, code, "invalid appid or secret")
		return
	}
	value, ttl := w.issue(appID, false)
	writeJSON(rw, http.StatusOK, map[string]any{"access_token": value, "expires_in": int(ttl / time.Second)})
}

// stableToken serves POST /cgi-bin/stable_token: the same token while it has
// more than 5 minutes left, a new one (revoking the old) on force_refresh
// (PROTOCOLS.md §1.7).
func (w *WeChat) stableToken(rw http.ResponseWriter, req Request) {
	appID := req.String("appid")
	if req.String("grant_type") != "client_credential" {
		writeErr(rw, 40002, "invalid grant_type")
		return
	}
	if code := w.credentialsOK(appID, req.String("secret")); code != 0 {
		writeErr(rw, code, "invalid appid or secret")
		return
	}
	force, _ := req.JSON["force_refresh"].(bool)
	w.mu.Lock()
	current, now := w.stable[appID], w.now()
	if t, ok := w.tokens[current]; ok && !force && !t.revoked && t.expires.Sub(now) > 5*time.Minute {
		w.calls[appID]++
		left := t.expires.Sub(now)
		w.mu.Unlock()
		writeJSON(rw, http.StatusOK, map[string]any{"access_token": current, "expires_in": int(left / time.Second)})
		return
	}
	if t, ok := w.tokens[current]; ok && force {
		t.revoked = true
	}
	w.mu.Unlock()
	value, ttl := w.issue(appID, true)
	w.mu.Lock()
	w.stable[appID] = value
	w.mu.Unlock()
	writeJSON(rw, http.StatusOK, map[string]any{"access_token": value, "expires_in": int(ttl / time.Second)})
}

// customSend serves POST /cgi-bin/message/custom/send.
func (w *WeChat) customSend(rw http.ResponseWriter, req Request, app string) {
	to, msgType := req.String("touser"), req.String("msgtype")
	if to == "" || msgType == "" {
		writeErr(rw, CodeMissingField, "touser and msgtype are required")
		return
	}
	if _, ok := req.JSON[msgType].(map[string]any); !ok {
		writeErr(rw, CodeMissingField, "no body for msgtype "+msgType)
		return
	}
	w.mu.Lock()
	refusal := ""
	if w.enforceWindow {
		refusal = windowCheck(w.windows, app+"/"+to, w.now())
	}
	w.mu.Unlock()
	switch refusal {
	case "closed":
		writeErr(rw, CodeWindowClosed, "response out of time limit or subscription is canceled")
	case "quota":
		writeErr(rw, CodeQuotaExceeded, "out of response count limit")
	default:
		writeOK(rw, nil)
	}
}
