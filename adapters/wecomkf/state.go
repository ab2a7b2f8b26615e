package wecomkf

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/kefu-gateway/kefu/adapters/internal/apiclient"
	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// Session states of a 微信客服 conversation (PROTOCOLS.md §3.3).
const (
	StateUntreated = apiclient.KFStateUntreated // 0 未处理: the API may send
	StateBot       = apiclient.KFStateBot       // 1 由智能助手接待: the API may send
	StatePool      = apiclient.KFStatePool      // 2 待接入池排队中
	StateHuman     = apiclient.KFStateHuman     // 3 由人工接待
	StateEnded     = apiclient.KFStateEnded     // 4 已结束/未开始
)

// SessionState is a conversation's state as WeCom reports it.
type SessionState struct {
	State          int
	ServicerUserID string
}

// BotMaySend reports whether the API may send in this state: only 0 and 1.
func (s SessionState) BotMaySend() bool { return s.State == StateUntreated || s.State == StateBot }

// String describes the state for undeliverable reasons and logs.
func (s SessionState) String() string {
	switch s.State {
	case StateUntreated:
		return "state 0 (untreated)"
	case StateBot:
		return "state 1 (bot)"
	case StatePool:
		return "state 2 (queued for a WeCom servicer)"
	case StateHuman:
		return "state 3 (served by WeCom servicer " + s.ServicerUserID + ")"
	case StateEnded:
		return "state 4 (session ended)"
	}
	return "state " + strconv.Itoa(s.State)
}

// Errors of the session-state API.
var (
	// ErrHumanServing is returned by TransferToServicer when a WeCom
	// servicer already serves the conversation: kefu never takes a
	// conversation away from a human.
	ErrHumanServing = errors.New("a WeCom servicer is serving this conversation")
	// ErrSessionEnded is returned by TransferToServicer for an ended session;
	// it reopens only when the customer writes again.
	ErrSessionEnded = errors.New("the 微信客服 session has ended")
)

// ServiceState returns the conversation's current state, asking WeCom
// (service_state/get) and refreshing the cache.
func (a *Account) ServiceState(ctx context.Context, customer message.Party, openKfID string) (SessionState, error) {
	if a.api == nil {
		return SessionState{}, errNotConnected
	}
	st, err := a.api.ServiceState(ctx, openKfID, customer.ID)
	if err != nil {
		return SessionState{}, err
	}
	s := SessionState{State: st.State, ServicerUserID: st.ServicerUserID}
	a.cacheState(ctx, openKfID, customer.ID, s)
	return s, nil
}

// cachedState returns the conversation's state from the cache when it is
// fresh (state_cache), else asks WeCom.
func (a *Account) cachedState(ctx context.Context, openKfID, user string) (SessionState, error) {
	if a.cfg.StateCache > 0 {
		v, err := a.ch.deps.Redis.Get(ctx, a.keys.state(openKfID, user)).Result()
		if err == nil {
			if state, servicer, ok := strings.Cut(v, ":"); ok {
				if n, err := strconv.Atoi(state); err == nil {
					return SessionState{State: n, ServicerUserID: servicer}, nil
				}
			}
		} else if !errors.Is(err, redis.Nil) {
			return SessionState{}, fmt.Errorf("reading cached kf session state: %w", err)
		}
	}
	return a.ServiceState(ctx, message.Party{ID: user}, openKfID)
}

func (a *Account) cacheState(ctx context.Context, openKfID, user string, s SessionState) {
	if a.cfg.StateCache <= 0 {
		return
	}
	v := strconv.Itoa(s.State) + ":" + s.ServicerUserID
	if err := a.ch.deps.Redis.Set(ctx, a.keys.state(openKfID, user), v, a.cfg.StateCache).Err(); err != nil {
		a.ch.deps.Log.Warn("caching kf session state failed", zap.Error(err))
	}
}

// TransferToServicer hands a 微信客服 conversation to WeCom's own servicers
// (the people listed under 微信客服 → 接待人员, who answer in the WeCom client):
// to servicerUserID (state 3, 由人工接待), or, when servicerUserID is empty,
// to the kf account's queue (state 2, 待接入池). customer is the external_userid
// party (Conversation.Customer); openKfID is the kf account (see
// ParseConversationID).
//
// It never takes a conversation from a human: when another servicer already
// serves it (state 3) it returns ErrHumanServing, and an ended session
// ErrSessionEnded. Transferring to the servicer who already serves it, or to
// the queue while queued, does nothing. After a transfer the bot's sends are
// refused (the API may send only in states 0 and 1), so say anything the
// customer should read before calling it, or use TransferWithNotice.
func (a *Account) TransferToServicer(ctx context.Context, customer message.Party, openKfID, servicerUserID string) error {
	_, err := a.transfer(ctx, customer, openKfID, servicerUserID)
	return err
}

// TransferWithNotice transfers like TransferToServicer, then sends notice to
// the customer with the msg_code the transfer returns (send_msg_on_event),
// the one way to write after the state has left 0/1 (PROTOCOLS.md §3.3). An
// empty notice sends nothing.
func (a *Account) TransferWithNotice(ctx context.Context, customer message.Party, openKfID, servicerUserID, notice string) error {
	code, err := a.transfer(ctx, customer, openKfID, servicerUserID)
	if err != nil || notice == "" || code == "" {
		return err
	}
	if _, err := a.api.SendMsgOnEvent(ctx, apiclient.KFEventMessage{Code: code, MsgType: "text", Text: &apiclient.Text{Content: notice}}); err != nil {
		return fmt.Errorf("sending kf transfer notice: %w", err)
	}
	return nil
}

func (a *Account) transfer(ctx context.Context, customer message.Party, openKfID, servicerUserID string) (string, error) {
	if customer.ID == "" || openKfID == "" {
		return "", fmt.Errorf("transferring kf conversation: %w: customer id and open_kfid are required", apiclient.ErrBadRequest)
	}
	cur, err := a.ServiceState(ctx, customer, openKfID)
	if err != nil {
		return "", fmt.Errorf("transferring kf conversation: %w", err)
	}
	target := StateHuman
	if servicerUserID == "" {
		target = StatePool
	}
	switch {
	case cur.State == StateHuman && cur.ServicerUserID == servicerUserID && servicerUserID != "":
		return "", nil
	case cur.State == StateHuman:
		return "", fmt.Errorf("transferring kf conversation: %w (%s)", ErrHumanServing, cur)
	case cur.State == StateEnded:
		return "", fmt.Errorf("transferring kf conversation: %w", ErrSessionEnded)
	case cur.State == StatePool && target == StatePool:
		return "", nil
	}
	code, err := a.api.TransServiceState(ctx, openKfID, customer.ID, target, servicerUserID)
	if err != nil {
		return "", fmt.Errorf("transferring kf conversation: %w", err)
	}
	a.cacheState(ctx, openKfID, customer.ID, SessionState{State: target, ServicerUserID: servicerUserID})
	a.ch.deps.Log.Info("kf conversation transferred to WeCom servicers", zap.String("account", a.cfg.ID),
		zap.String("open_kfid", openKfID), zap.Int("state", target), zap.String("servicer", servicerUserID))
	return code, nil
}
