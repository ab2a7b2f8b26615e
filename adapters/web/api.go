package web

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

const (
	localSite   = "kefu.site"
	localClaims = "kefu.claims"
	// maxWait caps the long-poll wait of GET /messages.
	maxWait = 30 * time.Second
	// historyLimit caps entries returned by one GET /messages.
	historyLimit = 200
)

var visitorIDPattern = regexp.MustCompile(`^[A-Za-z0-9_.:@-]{1,64}$`)
var clientIDPattern = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,64}$`)

// apiError writes {"error": msg} with status.
func apiError(c *fiber.Ctx, status int, msg string) error {
	return c.Status(status).JSON(fiber.Map{"error": msg})
}

// site resolves :id (404 when unknown) and enforces allowed origins (403),
// answering CORS for the origins it allows.
func (ch *Channel) site(c *fiber.Ctx) error {
	s, ok := ch.sites[c.Params("id")]
	if !ok {
		return apiError(c, fiber.StatusNotFound, "unknown site")
	}
	origin := c.Get(fiber.HeaderOrigin)
	if !s.cfg.originAllowed(origin, c.Hostname()) {
		return apiError(c, fiber.StatusForbidden, "origin not allowed for this site")
	}
	if origin != "" {
		c.Set(fiber.HeaderAccessControlAllowOrigin, origin)
		c.Set(fiber.HeaderVary, fiber.HeaderOrigin)
		c.Set(fiber.HeaderAccessControlAllowHeaders, "Authorization, Content-Type")
		c.Set(fiber.HeaderAccessControlAllowMethods, "GET, POST, OPTIONS")
		c.Set(fiber.HeaderAccessControlMaxAge, "600")
	}
	c.Locals(localSite, s)
	return c.Next()
}

// auth verifies the bearer token (401).
func (ch *Channel) auth(c *fiber.Ctx) error {
	s := c.Locals(localSite).(*Site)
	h := c.Get(fiber.HeaderAuthorization)
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || tok == "" {
		return apiError(c, fiber.StatusUnauthorized, "missing bearer token")
	}
	secret, err := ch.secretFor(c.UserContext(), s)
	if err != nil {
		return apiError(c, fiber.StatusServiceUnavailable, "temporarily unavailable")
	}
	cl, err := verifyToken(secret, strings.TrimSpace(tok), s.cfg.ID, s.cfg.TokenTTL, ch.deps.Clock.Now())
	if err != nil {
		return apiError(c, fiber.StatusUnauthorized, err.Error())
	}
	c.Locals(localClaims, cl)
	return c.Next()
}

type sessionRequest struct {
	VisitorID string `json:"visitor_id"`
	Name      string `json:"name"`
}

// createSession issues a visitor token. A new visitor (no visitor_id) gets
// an unguessable id and a web_session_start event, which flows may answer
// with a welcome.
func (ch *Channel) createSession(c *fiber.Ctx) error {
	s := c.Locals(localSite).(*Site)
	var req sessionRequest
	if body := c.Body(); len(strings.TrimSpace(string(body))) > 0 {
		if err := json.Unmarshal(body, &req); err != nil {
			return apiError(c, fiber.StatusBadRequest, "malformed JSON body")
		}
	}
	isNew := req.VisitorID == ""
	if isNew {
		req.VisitorID = randomID("v_")
	} else if !visitorIDPattern.MatchString(req.VisitorID) {
		return apiError(c, fiber.StatusBadRequest, "visitor_id must be 1-64 letters, digits or _.:@-")
	}
	req.Name = strings.TrimSpace(req.Name)
	if utf8.RuneCountInString(req.Name) > 64 || !utf8.ValidString(req.Name) {
		return apiError(c, fiber.StatusBadRequest, "name must be at most 64 characters")
	}
	secret, err := ch.secretFor(c.UserContext(), s)
	if err != nil {
		return apiError(c, fiber.StatusServiceUnavailable, "temporarily unavailable")
	}
	now := ch.deps.Clock.Now()
	token := signToken(secret, claims{Site: s.cfg.ID, Visitor: req.VisitorID, Name: req.Name, Issued: now.Unix()})
	if isNew {
		ev := message.Message{
			ID:             req.VisitorID + ":session-start",
			Channel:        Kind,
			Account:        s.cfg.ID,
			ConversationID: conversationID(s.cfg.ID, req.VisitorID),
			From:           message.Party{ID: req.VisitorID, Name: req.Name, Role: message.RoleCustomer},
			Kind:           message.KindEvent,
			Event:          &message.Event{Type: message.EventWebSessionStart, Key: s.cfg.ID},
			Timestamp:      now,
		}
		if _, err := ch.deps.Inbound.Accept(c.UserContext(), ev); err != nil {
			ch.log().Warn("starting web session failed", zap.String("site", s.cfg.ID), zap.Error(err))
		}
	}
	return c.JSON(fiber.Map{"visitor_id": req.VisitorID, "token": token})
}

type postRequest struct {
	Type string `json:"type"`
	Text string `json:"text"`
	// ID is an optional client-chosen message id: a retry with the same id
	// is processed once.
	ID string `json:"id"`
}

// validate checks a visitor message; it returns an HTTP status and error.
func (s *Site) validate(req *postRequest) (int, string) {
	if req.Type != "text" {
		return fiber.StatusBadRequest, `only {"type":"text"} messages are accepted`
	}
	req.Text = strings.TrimSpace(req.Text)
	if req.Text == "" || !utf8.ValidString(req.Text) {
		return fiber.StatusBadRequest, "text must be non-empty UTF-8"
	}
	if len(req.Text) > s.cfg.MaxTextBytes {
		return fiber.StatusRequestEntityTooLarge, "text longer than " + strconv.Itoa(s.cfg.MaxTextBytes) + " bytes"
	}
	if req.ID != "" && !clientIDPattern.MatchString(req.ID) {
		return fiber.StatusBadRequest, "id must be 1-64 letters, digits or _.:-"
	}
	return 0, ""
}

func (ch *Channel) inbound(s *Site, cl claims, req postRequest) message.Message {
	clientID := req.ID
	if clientID == "" {
		clientID = randomID("c_")
	}
	return message.Message{
		// Client ids are the visitor's own: scope them to the visitor.
		ID:             cl.Visitor + ":" + clientID,
		Channel:        Kind,
		Account:        s.cfg.ID,
		ConversationID: conversationID(s.cfg.ID, cl.Visitor),
		From:           message.Party{ID: cl.Visitor, Name: cl.Name, Role: message.RoleCustomer},
		Kind:           message.KindText,
		Text:           req.Text,
		Timestamp:      ch.deps.Clock.Now(),
		Meta:           map[string]string{"client_id": clientID},
	}
}

var rateScript = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`)

// allow applies the per-visitor rate limit.
func (ch *Channel) allow(ctx context.Context, s *Site, visitor string) (bool, error) {
	key := ch.deps.Keys.RateLimit("web:"+s.cfg.ID, visitor)
	n, err := rateScript.Run(ctx, ch.deps.Redis, []string{key}, s.cfg.RateLimit.Per.Milliseconds()).Int()
	if err != nil {
		return false, err
	}
	return n <= s.cfg.RateLimit.Messages, nil
}

// postMessage accepts a visitor message and answers with the replies
// produced within reply_wait.
func (ch *Channel) postMessage(c *fiber.Ctx) error {
	s := c.Locals(localSite).(*Site)
	cl := c.Locals(localClaims).(claims)
	var req postRequest
	if err := json.Unmarshal(c.Body(), &req); err != nil {
		return apiError(c, fiber.StatusBadRequest, "malformed JSON body")
	}
	if status, msg := s.validate(&req); status != 0 {
		return apiError(c, status, msg)
	}
	ctx := c.UserContext()
	ok, err := ch.allow(ctx, s, cl.Visitor)
	if err != nil {
		ch.deps.Metrics.Errors.WithLabelValues("web").Inc()
		return apiError(c, fiber.StatusServiceUnavailable, "temporarily unavailable")
	}
	if !ok {
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(s.cfg.RateLimit.Per.Seconds())))
		return apiError(c, fiber.StatusTooManyRequests, "too many messages; slow down")
	}
	turn, err := ch.deps.Inbound.Accept(ctx, ch.inbound(s, cl, req))
	if err != nil {
		ch.log().Error("accepting web message failed", zap.Error(err))
		return apiError(c, fiber.StatusServiceUnavailable, "temporarily unavailable")
	}
	if turn.Duplicate() {
		return c.JSON(fiber.Map{"replies": []Msg{}, "duplicate": true})
	}
	replies, _ := turn.TakePassive(ctx, s.cfg.ReplyWait)
	select {
	case <-turn.Done():
		if err := turn.Err(); err != nil {
			return apiError(c, fiber.StatusServiceUnavailable, "temporarily unavailable")
		}
	default:
	}
	return c.JSON(fiber.Map{"replies": toMsgs(replies)})
}

// getMessages returns the conversation after ?after= (from its start
// without one), waiting up to ?wait= seconds for something new when there
// is nothing yet: a new visitor's widget polling while its WebSocket is
// down waits too, instead of asking again at once.
func (ch *Channel) getMessages(c *fiber.Ctx) error {
	s := c.Locals(localSite).(*Site)
	cl := c.Locals(localClaims).(claims)
	after := c.Query("after")
	if after != "" && !validEntryID(after) {
		return apiError(c, fiber.StatusBadRequest, "after must be a message id")
	}
	wait, err := parseWait(c.Query("wait"))
	if err != nil {
		return apiError(c, fiber.StatusBadRequest, err.Error())
	}
	conv := conversationID(s.cfg.ID, cl.Visitor)
	ctx := c.UserContext()
	msgs, err := ch.history(ctx, conv, after)
	if err != nil {
		return apiError(c, fiber.StatusServiceUnavailable, "temporarily unavailable")
	}
	if len(msgs) > 0 || wait == 0 {
		return c.JSON(fiber.Map{"messages": msgs})
	}
	// Long-poll: subscribe first, then look again, so nothing committed in
	// between is missed; then wait for the next entry.
	l, err := ch.deps.Hub.Subscribe(ctx, conv)
	if err != nil {
		return apiError(c, fiber.StatusServiceUnavailable, "temporarily unavailable")
	}
	defer l.Close()
	if msgs, err = ch.history(ctx, conv, after); err != nil || len(msgs) > 0 {
		if err != nil {
			return apiError(c, fiber.StatusServiceUnavailable, "temporarily unavailable")
		}
		return c.JSON(fiber.Map{"messages": msgs})
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case ev, ok := <-l.C:
			if !ok {
				msgs, _ = ch.history(ctx, conv, after)
				return c.JSON(fiber.Map{"messages": msgs})
			}
			if ev.Kind != 'm' {
				continue
			}
			if msgs, err = ch.history(ctx, conv, after); err == nil && len(msgs) > 0 {
				return c.JSON(fiber.Map{"messages": msgs})
			}
		case <-timer.C:
			return c.JSON(fiber.Map{"messages": []Msg{}})
		}
	}
}

func (ch *Channel) history(ctx context.Context, conv, after string) ([]Msg, error) {
	ms, err := ch.deps.Transcripts.After(ctx, conv, after, historyLimit)
	if err != nil {
		return nil, err
	}
	return toMsgs(ms), nil
}

var entryIDPattern = regexp.MustCompile(`^\d{1,20}-\d{1,20}$`)

func validEntryID(s string) bool { return entryIDPattern.MatchString(s) }

// parseWait reads the long-poll wait of GET /messages: seconds, fractions
// allowed, 0 when absent, at most maxWait. NaN and negative values are
// refused; anything beyond maxWait, infinity included, waits maxWait (a
// float that large would not convert to a Duration).
func parseWait(v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	secs, err := strconv.ParseFloat(v, 64)
	if (err != nil && !errors.Is(err, strconv.ErrRange)) || !(secs >= 0) {
		return 0, errors.New("wait must be a number of seconds")
	}
	if secs >= maxWait.Seconds() {
		return maxWait, nil
	}
	return time.Duration(secs * float64(time.Second)), nil
}
