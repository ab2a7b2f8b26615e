package dingtalk

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/kefu-gateway/kefu/adapters/internal/dingmsg"
	"github.com/kefu-gateway/kefu/adapters/message"
)

// route is where a conversation's answers go: the latest sessionWebhook while
// it lives, then the robot OpenAPI — a 1:1 batch send to the staff id, or a
// group send to the open conversation id.
type route struct {
	Group          bool
	ConversationID string // openConversationId (cid...)
	StaffID        string // 1:1 recipient
	RobotCode      string
	Webhook        string
	WebhookExpires time.Time
}

// routeTTL is how long a conversation's route is kept after its last message.
const routeTTL = 30 * 24 * time.Hour

func (a *Account) routeKey(conv string) string {
	return a.ch.deps.Keys.Prefix + "dingtalk:route:{" + conv + "}"
}

// routeOf reads the route a message carries (inbound messages and the
// router's replies to them keep Meta and Reply).
func routeOf(msg message.Message) route {
	return route{
		Group:          msg.Meta[dingmsg.MetaConversationType] == dingmsg.ConversationGroup,
		ConversationID: msg.Meta[dingmsg.MetaConversationID],
		StaffID:        msg.To.ID,
		RobotCode:      msg.Meta[dingmsg.MetaRobotCode],
		Webhook:        msg.Reply.Token,
		WebhookExpires: msg.Reply.TokenExpires,
	}
}

func (r route) complete() bool {
	if r.Group {
		return r.ConversationID != ""
	}
	return r.StaffID != "" && r.ConversationID != ""
}

// saveRoute keeps an inbound message's route, so answers produced later
// outside its turn (an agent's reply, a follow-up) find the conversation's
// latest webhook, or the OpenAPI target once it has expired.
//
// Key: <prefix>dingtalk:route:{<conversation>}, a hash, TTL 30 days.
func (a *Account) saveRoute(ctx context.Context, msg message.Message) error {
	r := routeOf(msg)
	r.StaffID = msg.From.ID
	fields := map[string]any{
		"group": strconv.FormatBool(r.Group), "cid": r.ConversationID, "staff": r.StaffID, "robot": r.RobotCode,
		"hook": r.Webhook, "exp": strconv.FormatInt(r.WebhookExpires.UnixMilli(), 10),
	}
	key := a.routeKey(msg.ConversationID)
	pipe := a.ch.deps.Redis.TxPipeline()
	pipe.HSet(ctx, key, fields)
	pipe.Expire(ctx, key, routeTTL)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("saving dingtalk route: %w", err)
	}
	return nil
}

// loadRoute reads a conversation's saved route; ok is false when there is none.
func (a *Account) loadRoute(ctx context.Context, conv string) (route, bool, error) {
	v, err := a.ch.deps.Redis.HGetAll(ctx, a.routeKey(conv)).Result()
	if err != nil {
		return route{}, false, fmt.Errorf("reading dingtalk route: %w", err)
	}
	if len(v) == 0 {
		return route{}, false, nil
	}
	ms, _ := strconv.ParseInt(v["exp"], 10, 64)
	r := route{Group: v["group"] == "true", ConversationID: v["cid"], StaffID: v["staff"], RobotCode: v["robot"], Webhook: v["hook"]}
	if ms > 0 {
		r.WebhookExpires = time.UnixMilli(ms)
	}
	return r, true, nil
}
