package fakeplatform

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// WeCom codes the fake answers with (PROTOCOLS.md §3.2, §3.3; silenceper kf/error.go).
const (
	CodeInvalidCorpID     = 40013
	CodeInvalidAgentID    = 40056
	CodeAllInvalidUsers   = 81013
	CodeInvalidOpenKfID   = 95000
	CodeKFSendLimit       = 95001 // UNCONFIRMED: community code tables
	CodeKFSessionInvalid  = 95018 // "send msg session status invalid"
	CodeInvalidTransition = 95016 // fake: the documents name no code for a refused state change
	CodeInvalidEventCode  = 40058 // fake: unknown, used or expired welcome_code/msg_code
	CodeDuplicateMsgID    = 40059 // fake: a send_msg msgid used before ("MSG_ID重复")
	kfEventCodeLifetime   = 20 * time.Second
)

// WeCom fakes qyapi.weixin.qq.com: self-built app messages and 微信客服.
type WeCom struct {
	*core
	secrets       map[string]bool // corpid/secret
	enforceWindow bool
	invalidUsers  map[string]bool

	queue      []map[string]any // sync_msg items, oldest first
	pageSize   int
	emptyPages int
	sessions   map[string]*kfSession // open_kfid/external_userid
	windows    map[string]*window    // open_kfid/external_userid
	codes      map[string]*eventCode
	sentMsgIDs map[string]bool
	msgSeq     int
}

type kfSession struct {
	state    int
	servicer string
}

type eventCode struct {
	expires time.Time
	used    bool
}

// NewWeCom starts a WeCom fake, closed when the test ends.
func NewWeCom(t testing.TB) *WeCom {
	w := &WeCom{
		secrets: map[string]bool{}, invalidUsers: map[string]bool{}, pageSize: 1000,
		sessions: map[string]*kfSession{}, windows: map[string]*window{}, codes: map[string]*eventCode{}, sentMsgIDs: map[string]bool{},
	}
	w.core = newCore(t, http.HandlerFunc(w.serve))
	return w
}

// WeComApp is the TokenCalls key of a corp's secret. An app secret and the
// 微信客服 secret of one corp are different credentials with different tokens.
func WeComApp(corpID, secret string) string { return corpID + "/" + secret }

// AddSecret registers a corp's secret (an app's or the 微信客服 one).
func (w *WeCom) AddSecret(corpID, secret string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.secrets[WeComApp(corpID, secret)] = true
}

// EnforceWindow turns the 微信客服 48-hour window and 5-message quota on or off.
func (w *WeCom) EnforceWindow(on bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.enforceWindow = on
}

// SetInvalidUsers makes message/send report these UserIDs as invalid.
func (w *WeCom) SetInvalidUsers(userIDs ...string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, u := range userIDs {
		w.invalidUsers[u] = true
	}
}

// SetSyncPageSize caps sync_msg pages (default 1000, the platform maximum).
func (w *WeCom) SetSyncPageSize(n int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.pageSize = n
}

// InjectEmptyPages makes the next n sync_msg calls return an empty msg_list
// with has_more 1 and an unchanged cursor, which the platform does
// (PROTOCOLS.md §3.3 "keep pulling while has_more==1 even if msg_list is empty").
func (w *WeCom) InjectEmptyPages(n int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.emptyPages = n
}

// CallbackToken returns a token for a kf_msg_or_event callback.
func (w *WeCom) CallbackToken() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgSeq++
	return "ENCfakecallbacktoken" + strconv.Itoa(w.msgSeq)
}

func (w *WeCom) nextID(prefix string) string {
	w.msgSeq++
	return prefix + strconv.Itoa(w.msgSeq)
}

func kfKey(openKfID, user string) string { return openKfID + "/" + user }

// PushCustomerMessage queues a customer message (origin 3) of msgType with
// body (e.g. {"content": "hi"} for text) and returns its msgid. Like a real
// customer message it re-arms the window and reopens an ended session.
func (w *WeCom) PushCustomerMessage(openKfID, externalUserID, msgType string, body map[string]any) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	id := w.nextID("fake-customer-msg-")
	w.queue = append(w.queue, map[string]any{
		"msgid": id, "open_kfid": openKfID, "external_userid": externalUserID,
		"send_time": w.now().Unix(), "origin": 3, "msgtype": msgType, msgType: body,
	})
	key := kfKey(openKfID, externalUserID)
	w.windows[key] = &window{opened: w.now()}
	if s, ok := w.sessions[key]; ok && s.state == 4 {
		s.state, s.servicer = 0, ""
	}
	return id
}

// PushCustomerText queues a customer text message and returns its msgid.
func (w *WeCom) PushCustomerText(openKfID, externalUserID, content string) string {
	return w.PushCustomerMessage(openKfID, externalUserID, "text", map[string]any{"content": content})
}

// PushServicerText queues a message a servicer wrote in the WeCom client (origin 5).
func (w *WeCom) PushServicerText(openKfID, externalUserID, servicerUserID, content string) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	id := w.nextID("fake-servicer-msg-")
	w.queue = append(w.queue, map[string]any{
		"msgid": id, "open_kfid": openKfID, "external_userid": externalUserID, "servicer_userid": servicerUserID,
		"send_time": w.now().Unix(), "origin": 5, "msgtype": "text", "text": map[string]any{"content": content},
	})
	return id
}

// PushEnterSession queues an enter_session event and returns its msgid and
// welcome_code (valid 20 s for one send_msg_on_event).
func (w *WeCom) PushEnterSession(openKfID, externalUserID, scene, sceneParam string) (msgID, welcomeCode string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	msgID, welcomeCode = w.nextID("fake-event-"), w.nextID("fake-welcome-code-")
	w.codes[welcomeCode] = &eventCode{expires: w.now().Add(kfEventCodeLifetime)}
	w.queue = append(w.queue, map[string]any{
		"msgid": msgID, "send_time": w.now().Unix(), "origin": 4, "msgtype": "event",
		"event": map[string]any{"event_type": "enter_session", "open_kfid": openKfID, "external_userid": externalUserID,
			"scene": scene, "scene_param": sceneParam, "welcome_code": welcomeCode},
	})
	return msgID, welcomeCode
}

// PushEvent queues any system event (origin 4) and returns its msgid.
func (w *WeCom) PushEvent(event map[string]any) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	id := w.nextID("fake-event-")
	w.queue = append(w.queue, map[string]any{"msgid": id, "send_time": w.now().Unix(), "origin": 4, "msgtype": "event", "event": event})
	return id
}

// SessionState returns a conversation's 微信客服 state and servicer.
func (w *WeCom) SessionState(openKfID, externalUserID string) (int, string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if s, ok := w.sessions[kfKey(openKfID, externalUserID)]; ok {
		return s.state, s.servicer
	}
	return 0, ""
}

// SetSessionState forces a conversation's state, as a servicer acting in the
// WeCom client would.
func (w *WeCom) SetSessionState(openKfID, externalUserID string, state int, servicer string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.sessions[kfKey(openKfID, externalUserID)] = &kfSession{state: state, servicer: servicer}
}

func (w *WeCom) serve(rw http.ResponseWriter, r *http.Request) {
	idx, fault := w.record(r)
	if applyFault(r.Context(), rw, fault) {
		return
	}
	req := w.request(idx)
	if r.URL.Path == "/cgi-bin/gettoken" {
		corp, secret := req.Query.Get("corpid"), req.Query.Get("corpsecret")
		w.mu.Lock()
		ok := w.secrets[WeComApp(corp, secret)]
		w.mu.Unlock()
		if !ok {
			writeErr(rw, CodeTokenRevoked, "invalid credential (fake)")
			return
		}
		value, ttl := w.issue(WeComApp(corp, secret), false)
		writeOK(rw, map[string]any{"access_token": value, "expires_in": int(ttl / time.Second)})
		return
	}
	_, ok := w.authorizeQuery(rw, r, idx)
	if !ok {
		return
	}
	switch r.URL.Path {
	case "/cgi-bin/message/send":
		w.appSend(rw, req)
	case "/cgi-bin/kf/sync_msg":
		w.syncMsg(rw, req)
	case "/cgi-bin/kf/send_msg":
		w.kfSend(rw, req)
	case "/cgi-bin/kf/send_msg_on_event":
		w.kfSendOnEvent(rw, req)
	case "/cgi-bin/kf/service_state/get":
		w.stateGet(rw, req)
	case "/cgi-bin/kf/service_state/trans":
		w.stateTrans(rw, req)
	default:
		http.NotFound(rw, r)
	}
}

// appSend serves POST /cgi-bin/message/send.
func (w *WeCom) appSend(rw http.ResponseWriter, req Request) {
	agent, _ := req.JSON["agentid"].(float64)
	if agent == 0 {
		writeErr(rw, CodeInvalidAgentID, "invalid agentid")
		return
	}
	msgType := req.String("msgtype")
	if _, ok := req.JSON[msgType].(map[string]any); !ok || msgType == "" {
		writeErr(rw, CodeMissingField, "no body for msgtype")
		return
	}
	to := req.String("touser")
	if to == "" && req.String("toparty") == "" && req.String("totag") == "" {
		writeErr(rw, CodeMissingField, "no recipient")
		return
	}
	w.mu.Lock()
	var invalid []string
	users := strings.Split(to, "|")
	for _, u := range users {
		if w.invalidUsers[u] {
			invalid = append(invalid, u)
		}
	}
	id := w.nextID("fake-app-msg-")
	w.mu.Unlock()
	if to != "" && len(invalid) == len(users) {
		writeErr(rw, CodeAllInvalidUsers, "all touser invalid")
		return
	}
	writeOK(rw, map[string]any{"msgid": id, "invaliduser": strings.Join(invalid, "|")})
}

// syncMsg serves POST /cgi-bin/kf/sync_msg with cursor paging.
func (w *WeCom) syncMsg(rw http.ResponseWriter, req Request) {
	cursor := req.String("cursor")
	start := 0
	if cursor != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(cursor, "fake-cursor-"))
		if err != nil || !strings.HasPrefix(cursor, "fake-cursor-") || n < 0 {
			writeErr(rw, CodeMissingField, "invalid cursor")
			return
		}
		start = n
	}
	limit := 1000
	if l, ok := req.JSON["limit"].(float64); ok && l > 0 && l < 1000 {
		limit = int(l)
	}
	openKfID := req.String("open_kfid")

	w.mu.Lock()
	defer w.mu.Unlock()
	if limit > w.pageSize {
		limit = w.pageSize
	}
	if w.emptyPages > 0 {
		w.emptyPages--
		writeOK(rw, map[string]any{"next_cursor": "fake-cursor-" + strconv.Itoa(start), "has_more": 1, "msg_list": []any{}})
		return
	}
	if start > len(w.queue) {
		start = len(w.queue)
	}
	list := []any{}
	i := start
	for ; i < len(w.queue) && len(list) < limit; i++ {
		item := w.queue[i]
		if openKfID != "" && itemKfID(item) != openKfID {
			continue
		}
		list = append(list, item)
	}
	hasMore := 0
	if i < len(w.queue) {
		hasMore = 1
	}
	writeOK(rw, map[string]any{"next_cursor": "fake-cursor-" + strconv.Itoa(i), "has_more": hasMore, "msg_list": list})
}

func itemKfID(item map[string]any) string {
	if id, ok := item["open_kfid"].(string); ok {
		return id
	}
	if ev, ok := item["event"].(map[string]any); ok {
		id, _ := ev["open_kfid"].(string)
		return id
	}
	return ""
}

// kfSend serves POST /cgi-bin/kf/send_msg.
func (w *WeCom) kfSend(rw http.ResponseWriter, req Request) {
	to, kf, msgType := req.String("touser"), req.String("open_kfid"), req.String("msgtype")
	if to == "" || msgType == "" {
		writeErr(rw, CodeMissingField, "touser and msgtype are required")
		return
	}
	if kf == "" {
		writeErr(rw, CodeInvalidOpenKfID, "invalid open_kfid")
		return
	}
	if _, ok := req.JSON[msgType].(map[string]any); !ok {
		writeErr(rw, CodeMissingField, "no body for msgtype "+msgType)
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	key := kfKey(kf, to)
	msgID := req.String("msgid")
	if msgID != "" && w.sentMsgIDs[msgID] {
		writeErr(rw, CodeDuplicateMsgID, "duplicate msgid (fake)")
		return
	}
	if s, ok := w.sessions[key]; ok && s.state != 0 && s.state != 1 {
		writeErr(rw, CodeKFSessionInvalid, "send msg session status invalid")
		return
	}
	if w.enforceWindow {
		switch windowCheck(w.windows, key, w.now()) {
		case "closed":
			writeErr(rw, CodeKFSessionInvalid, "send msg session status invalid")
			return
		case "quota":
			writeErr(rw, CodeKFSendLimit, "send msg count limit")
			return
		}
	}
	if msgID == "" {
		msgID = w.nextID("fake-kf-sent-")
	}
	w.sentMsgIDs[msgID] = true
	writeOK(rw, map[string]any{"msgid": msgID})
}

// kfSendOnEvent serves POST /cgi-bin/kf/send_msg_on_event.
func (w *WeCom) kfSendOnEvent(rw http.ResponseWriter, req Request) {
	code, msgType := req.String("code"), req.String("msgtype")
	if _, ok := req.JSON[msgType].(map[string]any); !ok || msgType == "" {
		writeErr(rw, CodeMissingField, "no body for msgtype")
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	c, ok := w.codes[code]
	if !ok || c.used || !w.now().Before(c.expires) {
		writeErr(rw, CodeInvalidEventCode, "invalid code (fake)")
		return
	}
	c.used = true
	writeOK(rw, map[string]any{"msgid": w.nextID("fake-kf-event-sent-")})
}

func (w *WeCom) stateGet(rw http.ResponseWriter, req Request) {
	kf, user := req.String("open_kfid"), req.String("external_userid")
	if kf == "" || user == "" {
		writeErr(rw, CodeMissingField, "open_kfid and external_userid are required")
		return
	}
	w.mu.Lock()
	s := w.sessions[kfKey(kf, user)]
	w.mu.Unlock()
	state, servicer := 0, ""
	if s != nil {
		state, servicer = s.state, s.servicer
	}
	out := map[string]any{"service_state": state}
	if servicer != "" {
		out["servicer_userid"] = servicer
	}
	writeOK(rw, out)
}

// allowedTransitions is the 微信客服 state machine (PROTOCOLS.md §3.3).
var allowedTransitions = map[int][]int{0: {1, 2, 3, 4}, 1: {1, 2, 3, 4}, 2: {2, 3, 4}, 3: {3, 4}}

func (w *WeCom) stateTrans(rw http.ResponseWriter, req Request) {
	kf, user := req.String("open_kfid"), req.String("external_userid")
	to, ok := req.JSON["service_state"].(float64)
	servicer := req.String("servicer_userid")
	if kf == "" || user == "" || !ok {
		writeErr(rw, CodeMissingField, "open_kfid, external_userid and service_state are required")
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	key := kfKey(kf, user)
	s, exists := w.sessions[key]
	if !exists {
		s = &kfSession{}
	}
	allowed := false
	for _, next := range allowedTransitions[s.state] {
		if next == int(to) {
			allowed = true
		}
	}
	if !allowed || (int(to) == 3 && servicer == "") {
		writeErr(rw, CodeInvalidTransition, "invalid service state transition (fake)")
		return
	}
	s.state, s.servicer = int(to), servicer
	w.sessions[key] = s
	out := map[string]any{}
	if s.state == 3 || s.state == 4 {
		code := w.nextID("fake-msg-code-")
		w.codes[code] = &eventCode{expires: w.now().Add(kfEventCodeLifetime)}
		out["msg_code"] = code
	}
	writeOK(rw, out)
}
