package handoff

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// A customer who leaves a message is told "客服会尽快联系您", so the agents
// who serve the queue must hear of it: at once when they are online,
// otherwise in one notice when they next come online (their first message
// after presence lapsed, /online, /accept). Each agent has a cursor in the
// stream of left messages; takeLeftScript reads past it and moves it in one
// step, so every message reaches every agent once, however many processes
// deliver. The operator API (GET /handoff/messages) still lists them all.

const (
	// leftNoticeMax bounds the messages listed in one notice; the rest
	// are counted.
	leftNoticeMax = 10
	// leftTakeMax bounds the stream entries one notice reads past; a
	// longer backlog comes with the next.
	leftTakeMax = 200
	// leftLookback is how far back an agent's first notice reaches.
	leftLookback = 24 * time.Hour
	// leftCursorTTL forgets the cursor of an agent who has not heard of
	// left messages for a month (their next notice then reaches
	// leftLookback back); each notice check renews it.
	leftCursorTTL = 30 * 24 * time.Hour
	// leftListScan bounds how far back /messages looks, newest first,
	// for messages of the agent's queues; it reads leftListPage at a
	// time and stops once it has leftNoticeMax.
	leftListScan = 2000
	leftListPage = 100
	// leftTextRunes clips each message in a notice; the operator API has
	// the whole text.
	leftTextRunes = 200
)

// takeLeftScript returns the agent's cursor as it was ("" for none) and the
// left messages after it — or, for an agent without one, from ARGV[1] ms
// before Redis's clock, which numbers the stream — and moves the cursor
// past them.
//
//	KEYS: 1 messages stream, 2 agent's cursor
//	ARGV: 1 first notice's lookback ms, 2 max entries, 3 cursor TTL ms
var takeLeftScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[2])
local from
if cur then
  from = '(' .. cur
else
  local t = redis.call('TIME')
  from = string.format('%.0f', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - tonumber(ARGV[1])) .. '-0'
end
local xs = redis.call('XRANGE', KEYS[1], from, '+', 'COUNT', ARGV[2])
if #xs > 0 then
  redis.call('SET', KEYS[2], xs[#xs][1], 'PX', ARGV[3])
elseif cur then
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
end
return {cur or '', xs}`)

// restoreLeftScript puts an agent's cursor back to where it was when the
// notice it was moved for could not be queued, unless another notice moved
// it since.
//
//	KEYS: 1 agent's cursor
//	ARGV: 1 the cursor the notice set, 2 the cursor before ("" = none), 3 TTL ms
var restoreLeftScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) end
return 1`)

// noticeLeftOnline tells the queue's online agents of a message just left.
func (s *Service) noticeLeftOnline(ctx context.Context, queue string) {
	agents := s.queueAgents[queue]
	on, err := s.online(ctx, agents)
	if err != nil {
		s.logErr("reading agents' presence failed", err, zapQueue(queue))
		return
	}
	for i, a := range agents {
		if on[i] {
			s.noticeLeft(ctx, a)
		}
	}
}

// noticeLeft sends agent a the messages left for their queues since their
// last notice, if any. The notice goes as an outbound task, which retries
// a failed send itself; a notice that cannot even be queued (Redis
// unreachable) puts the cursor back, so the next one carries its messages.
func (s *Service) noticeLeft(ctx context.Context, a *AgentConfig) {
	if !s.cfg.LeaveMessage.Enabled {
		return
	}
	cursor := s.keys.leftCursor(a.ID)
	res, err := takeLeftScript.Run(ctx, s.rdb, []string{s.keys.messages(), cursor},
		leftLookback.Milliseconds(), leftTakeMax, leftCursorTTL.Milliseconds()).Slice()
	if err == nil && len(res) != 2 {
		err = fmt.Errorf("unexpected reply of %d items", len(res))
	}
	if err != nil {
		s.logErr("reading left messages failed", err, zap.String("agent", a.ID))
		return
	}
	before := str(res, 0)
	entries, _ := res[1].([]any)
	var mine []LeftMessage
	last := ""
	for _, x := range entries {
		m, ok := decodeLeft(x)
		if !ok {
			continue
		}
		last = m.ID
		if slices.Contains(s.queueAgents[m.Queue], a) {
			mine = append(mine, m)
		}
	}
	if len(mine) == 0 {
		return
	}
	if err := s.markCalledBack(ctx, mine[:min(len(mine), leftNoticeMax)]); err != nil {
		s.logErr("reading who called back failed", err, zap.String("agent", a.ID))
	}
	first := s.numberShown(ctx, a, mine, false)
	err = s.sendAgent(ctx, a, s.leftListText(fmt.Sprintf("您有 %d 条客户留言：", len(mine)), mine, first), "")
	if err == nil {
		return
	}
	s.logErr("telling the agent of left messages failed", err, zap.String("agent", a.ID))
	if rerr := restoreLeftScript.Run(context.WithoutCancel(ctx), s.rdb, []string{cursor}, last, before, leftCursorTTL.Milliseconds()).Err(); rerr != nil {
		s.logErr("putting the left-message cursor back failed", rerr, zap.String("agent", a.ID))
	}
}

// decodeLeft reads one XRANGE entry ({id, {field, value, ...}}) of the
// left-message stream.
func decodeLeft(x any) (LeftMessage, bool) {
	e, ok := x.([]any)
	if !ok || len(e) != 2 {
		return LeftMessage{}, false
	}
	id, _ := e[0].(string)
	kv, _ := e[1].([]any)
	f := make(map[string]any, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		if k, ok := kv[i].(string); ok {
			f[k] = kv[i+1]
		}
	}
	return leftMessage(id, f), true
}

// leftMessage builds a LeftMessage from a stream entry's fields.
func leftMessage(id string, f map[string]any) LeftMessage {
	v := func(k string) string { s, _ := f[k].(string); return s }
	ts, _ := strconv.ParseInt(v("ts"), 10, 64)
	return LeftMessage{ID: id, Conversation: v("conversation"), Queue: v("queue"), Channel: v("channel"),
		Account: v("account"), CustomerID: v("customer"), CustomerName: v("name"), Text: v("text"), Why: v("why"),
		At: time.UnixMilli(ts)}
}

// recentLeftText answers /messages: the newest messages left for the
// agent's queues, oldest first, whether or not they were told already.
func (s *Service) recentLeftText(ctx context.Context, a *AgentConfig) (string, error) {
	mine, err := s.recentLeft(ctx, a, leftNoticeMax)
	if err != nil {
		return "", err
	}
	if len(mine) == 0 {
		return "您所在的队列暂无客户留言。", nil
	}
	slices.Reverse(mine)
	if err := s.markCalledBack(ctx, mine); err != nil {
		return "", err
	}
	first := s.numberShown(ctx, a, mine, true)
	return s.leftListText(fmt.Sprintf("最近 %d 条客户留言：", len(mine)), mine, first), nil
}

// recentLeft returns up to want of the newest messages left for the
// agent's queues, newest first, reading the stream a page at a time back
// to at most leftListScan messages.
func (s *Service) recentLeft(ctx context.Context, a *AgentConfig, want int) ([]LeftMessage, error) {
	var mine []LeftMessage
	end := "+"
	for scanned := 0; scanned < leftListScan; {
		n := min(leftListPage, leftListScan-scanned)
		xs, err := s.rdb.XRevRangeN(ctx, s.keys.messages(), end, "-", int64(n)).Result()
		if err != nil {
			return nil, fmt.Errorf("reading left messages: %w", err)
		}
		for _, x := range xs {
			if m := leftMessage(x.ID, x.Values); slices.Contains(s.queueAgents[m.Queue], a) {
				mine = append(mine, m)
				if len(mine) == want {
					return mine, nil
				}
			}
		}
		if len(xs) < n {
			break
		}
		scanned += len(xs)
		end = "(" + xs[len(xs)-1].ID
	}
	return mine, nil
}

// leftListText lists the messages under heading, oldest first, at most
// leftNoticeMax, numbered from first (0: not numbered, see numberShown),
// with their times in the service's zone and who called the customer back.
func (s *Service) leftListText(heading string, ms []LeftMessage, first int) string {
	loc := s.zone()
	var b strings.Builder
	b.WriteString(heading)
	for i, m := range ms {
		if i == leftNoticeMax {
			fmt.Fprintf(&b, "\n……另有 %d 条，请在管理后台查看。", len(ms)-leftNoticeMax)
			break
		}
		name := customerName(&Record{Customer: message.Party{ID: m.CustomerID, Name: m.CustomerName}})
		b.WriteString("\n")
		if first > 0 {
			fmt.Fprintf(&b, "%d. ", first+i)
		}
		fmt.Fprintf(&b, "%s %s（%s）：%s", m.At.In(loc).Format("01-02 15:04"), name, channelLabel(m.Channel),
			clip(oneLine(m.Text), leftTextRunes))
		if m.CalledBackBy != "" {
			by := m.CalledBackBy
			if ag := s.agents[by]; ag != nil {
				by = ag.Name
			}
			fmt.Fprintf(&b, "（已由 %s 回访）", by)
		}
	}
	if first > 0 {
		b.WriteString("\n发送“回访 N”联系第 N 位客户。")
	}
	return b.String()
}
