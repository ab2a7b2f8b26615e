package fakeplatform

import (
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// DingTalk answers of the fake. The v1.0 API reports errors as an HTTP status
// with {"code","message"}; an invalid token is HTTP 400 InvalidAuthentication
// (seen in public issue threads); session webhooks answer {errcode, errmsg}.
const (
	DingTalkAuthKey        = "InvalidAuthentication"
	DingTalkBadSecretKey   = "invalidClientSecret"      // fake
	DingTalkBadParamKey    = "MissingParameter"         // fake
	CodeSessionExpired     = 310000                     // fake: unknown or expired sessionWebhook
	SessionWebhookLifetime = 5400231 * time.Millisecond // PROTOCOLS.md §4.1 sample
	dingTalkSessionPath    = "/robot/sendBySession"
	dingTalkTokenHeader    = "x-acs-dingtalk-access-token"
)

// DingTalk fakes api.dingtalk.com (OAuth token, robot OpenAPI sends) and the
// session webhooks of oapi.dingtalk.com, on one server.
type DingTalk struct {
	*core
	apps     map[string]string    // appKey → appSecret
	sessions map[string]time.Time // session → expiry
}

// NewDingTalk starts a DingTalk fake, closed when the test ends.
func NewDingTalk(t testing.TB) *DingTalk {
	d := &DingTalk{apps: map[string]string{}, sessions: map[string]time.Time{}}
	d.core = newCore(t, http.HandlerFunc(d.serve))
	return d
}

// AddApp registers an AppKey and AppSecret; TokenCalls(appKey) counts its
// token requests.
func (d *DingTalk) AddApp(appKey, appSecret string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.apps[appKey] = appSecret
}

// NewSessionWebhook returns a sessionWebhook URL on this fake and its expiry
// (about 90 minutes from the fake's now, as the platform's samples show).
func (d *DingTalk) NewSessionWebhook() (string, time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.seq++
	session := "fake-session-" + strconv.Itoa(d.seq)
	expires := d.now().Add(SessionWebhookLifetime)
	d.sessions[session] = expires
	return d.srv.URL + dingTalkSessionPath + "?session=" + session, expires
}

func (d *DingTalk) serve(rw http.ResponseWriter, r *http.Request) {
	idx, fault := d.record(r)
	if applyFault(r.Context(), rw, fault) {
		return
	}
	req := d.request(idx)
	switch r.URL.Path {
	case "/v1.0/oauth2/accessToken":
		d.token(rw, req)
		return
	case dingTalkSessionPath:
		d.sessionSend(rw, req)
		return
	}
	app, code := d.checkToken(r.Header.Get(dingTalkTokenHeader))
	if code != 0 {
		writeJSON(rw, http.StatusBadRequest, map[string]any{"code": DingTalkAuthKey, "message": "不合法的access_token", "requestid": "fake"})
		return
	}
	d.setApp(idx, app)
	switch r.URL.Path {
	case "/v1.0/robot/oToMessages/batchSend":
		users, _ := req.JSON["userIds"].([]any)
		if !d.validRobotMessage(rw, req) {
			return
		}
		if len(users) == 0 {
			dingTalkBadParam(rw, "userIds")
			return
		}
		writeJSON(rw, http.StatusOK, map[string]any{"processQueryKey": "fake-pqk-" + strconv.Itoa(idx), "invalidStaffIdList": []string{}, "flowControlledStaffIdList": []string{}})
	case "/v1.0/robot/groupMessages/send":
		if !d.validRobotMessage(rw, req) {
			return
		}
		if req.String("openConversationId") == "" {
			dingTalkBadParam(rw, "openConversationId")
			return
		}
		writeJSON(rw, http.StatusOK, map[string]any{"processQueryKey": "fake-pqk-" + strconv.Itoa(idx)})
	default:
		http.NotFound(rw, r)
	}
}

func dingTalkBadParam(rw http.ResponseWriter, field string) {
	writeJSON(rw, http.StatusBadRequest, map[string]any{"code": DingTalkBadParamKey, "message": field + " is required (fake)", "requestid": "fake"})
}

// validRobotMessage checks robotCode, msgKey and that msgParam is a JSON
// object encoded as a string.
func (d *DingTalk) validRobotMessage(rw http.ResponseWriter, req Request) bool {
	for _, f := range []string{"robotCode", "msgKey", "msgParam"} {
		if req.String(f) == "" {
			dingTalkBadParam(rw, f)
			return false
		}
	}
	var param map[string]any
	if json.Unmarshal([]byte(req.String("msgParam")), &param) != nil {
		dingTalkBadParam(rw, "msgParam (a JSON object as a string)")
		return false
	}
	return true
}

// token serves POST /v1.0/oauth2/accessToken {appKey, appSecret}.
func (d *DingTalk) token(rw http.ResponseWriter, req Request) {
	key, secret := req.String("appKey"), req.String("appSecret")
	d.mu.Lock()
	want, ok := d.apps[key]
	d.mu.Unlock()
	if !ok || want != secret {
		writeJSON(rw, http.StatusBadRequest, map[string]any{"code": DingTalkBadSecretKey, "message": "appKey or appSecret invalid (fake)", "requestid": "fake"})
		return
	}
	value, ttl := d.issue(key, false)
	writeJSON(rw, http.StatusOK, map[string]any{"accessToken": value, "expireIn": int(ttl / time.Second)})
}

// sessionSend serves a sessionWebhook reply: text or markdown.
func (d *DingTalk) sessionSend(rw http.ResponseWriter, req Request) {
	session := req.Query.Get("session")
	d.mu.Lock()
	expires, ok := d.sessions[session]
	live := ok && d.now().Before(expires)
	d.mu.Unlock()
	if !live {
		writeErr(rw, CodeSessionExpired, "session expired or unknown (fake)")
		return
	}
	switch req.String("msgtype") {
	case "text", "markdown":
		if _, ok := req.JSON[req.String("msgtype")].(map[string]any); ok {
			writeOK(rw, nil)
			return
		}
	}
	writeErr(rw, CodeMissingField, "msgtype must be text or markdown with its body")
}
