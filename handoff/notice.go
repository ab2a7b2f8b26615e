package handoff

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/kefu-gateway/kefu/adapters/message"
	"go.uber.org/zap"
)

// maxTurnRunes caps each transcript line of a notice, so the notice stays
// readable on a phone and within one or two WeCom messages.
const maxTurnRunes = 120

// notice is what an agent reads when a customer is given to them: who the
// customer is, where they write from, what they told the bot and the flows
// collected, the tags and notes others left, and the last turns — so they
// never start with "how can I help you?" after the customer explained
// everything to the bot.
func (s *Service) notice(ctx context.Context, r *Record, a *AgentConfig) string {
	var b strings.Builder
	name := customerName(r)
	if r.From != "" {
		from := r.From
		if fa := s.agents[r.From]; fa != nil {
			from = fa.Name
		}
		fmt.Fprintf(&b, "【转接】%s 转来客户 %s · %s\n", from, name, channelLabel(r.Channel))
	} else if r.callBack() {
		fmt.Fprintf(&b, "【回访】%s · %s\n", name, channelLabel(r.Channel))
	} else {
		fmt.Fprintf(&b, "【新客户】%s · %s\n", name, channelLabel(r.Channel))
	}
	qname := r.Queue
	if q := s.queues[r.Queue]; q != nil {
		qname = q.Name
	}
	fmt.Fprintf(&b, "队列：%s", qname)
	if r.Reason != "" {
		fmt.Fprintf(&b, " · 原因：%s", r.Reason)
	}
	if !r.Requested.IsZero() && !r.Assigned.IsZero() && r.fromQueue() {
		fmt.Fprintf(&b, " · 等待 %s", minutes(r.Assigned.Sub(r.Requested)))
	}
	b.WriteByte('\n')
	if tags, err := s.tags.Tags(ctx, r.ref()); err != nil {
		s.logErr("reading tags for a notice failed", err, zapConv(r.Conversation))
	} else if len(tags) > 0 {
		fmt.Fprintf(&b, "标签：%s\n", strings.Join(tags, "、"))
	}
	if slots := s.slots(ctx, r.Conversation); slots != "" {
		fmt.Fprintf(&b, "已填写：%s\n", slots)
	}
	if notes := s.noteLines(ctx, r.Conversation); notes != "" {
		b.WriteString("备注：\n" + notes)
	}
	if s.cfg.NoticeTurns > 0 {
		if turns := s.recentTurns(ctx, r.Conversation, s.cfg.NoticeTurns); turns != "" {
			b.WriteString("—— 最近对话 ——\n" + turns)
		}
	}
	b.WriteString("——\n")
	if hint := switchHint(ctx, s, a, r.Conversation); hint != "" {
		b.WriteString(hint + "\n")
	} else {
		b.WriteString("直接回复即与客户对话。")
	}
	b.WriteString("/end 结束 · /transfer 转接 · /help 帮助")
	return b.String()
}

// slots renders the values the flows collected (the conversation state's
// flow.slots), sorted by name.
func (s *Service) slots(ctx context.Context, conv string) string {
	d, err := s.rdb.HGet(ctx, s.keys.Conversation(conv), "d").Result()
	if err != nil || d == "" {
		return ""
	}
	var st struct {
		Flow struct {
			Slots map[string]any `json:"slots"`
		} `json:"flow"`
	}
	if err := json.Unmarshal([]byte(d), &st); err != nil || len(st.Flow.Slots) == 0 {
		return ""
	}
	names := make([]string, 0, len(st.Flow.Slots))
	for k := range st.Flow.Slots {
		names = append(names, k)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, k := range names {
		parts[i] = fmt.Sprintf("%s=%v", k, st.Flow.Slots[k])
	}
	return clip(strings.Join(parts, "，"), 300)
}

// noteLines renders the agents' notes on the conversation, newest last.
func (s *Service) noteLines(ctx context.Context, conv string) string {
	raw, err := s.rdb.LRange(ctx, s.keys.notes(conv), -5, -1).Result()
	if err != nil || len(raw) == 0 {
		return ""
	}
	var b strings.Builder
	for _, x := range raw {
		var n struct {
			Agent string `json:"agent"`
			Text  string `json:"text"`
		}
		if json.Unmarshal([]byte(x), &n) != nil {
			continue
		}
		who := n.Agent
		if a := s.agents[n.Agent]; a != nil {
			who = a.Name
		}
		fmt.Fprintf(&b, "· %s：%s\n", who, clip(n.Text, maxTurnRunes))
	}
	return b.String()
}

// recentTurns renders the last n transcript entries between the customer,
// the bot and agents, one line each; kefu's own notices (queue positions,
// greetings) are left out.
func (s *Service) recentTurns(ctx context.Context, conv string, n int) string {
	msgs, err := s.tx.After(ctx, conv, "", 2*n)
	if err != nil {
		s.log.Warn("reading the transcript for an agent failed", zapConv(conv), zap.Error(err))
		return ""
	}
	kept := msgs[:0]
	for _, m := range msgs {
		if m.From.Role != message.RoleSystem {
			kept = append(kept, m)
		}
	}
	if len(kept) > n {
		kept = kept[len(kept)-n:]
	}
	var b strings.Builder
	for _, m := range kept {
		who := "客户"
		switch m.From.Role {
		case message.RoleBot:
			who = "机器人"
		case message.RoleAgent:
			who = "客服"
			if m.From.Name != "" {
				who = "客服" + m.From.Name
			}
		}
		text := describe(m)
		if m.Kind == message.KindEvent && m.Event != nil {
			text = "[" + m.Event.Type + "]"
		}
		fmt.Fprintf(&b, "%s %s：%s\n", m.Timestamp.In(s.zone()).Format("15:04"), who, clip(oneLine(text), maxTurnRunes))
	}
	return b.String()
}

// zone is the time zone agents read times in.
func (s *Service) zone() *time.Location {
	loc, err := time.LoadLocation(s.cfg.TimeZone)
	if err != nil {
		return time.UTC
	}
	return loc
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
