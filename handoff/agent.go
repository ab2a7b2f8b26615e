package handoff

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/kefu-gateway/kefu/adapters"
	"github.com/kefu-gateway/kefu/adapters/message"
	"go.uber.org/zap"
)

// Intercept takes agents' messages from their WeCom app (replies to
// customers, commands) and customers' answers to the rating question. The
// router calls it for every inbound message before loading the
// conversation; anything else it leaves alone at no cost: agents are
// recognized from configuration, ratings need one Redis read and only for
// messages that look like a rating ("5", "４分").
func (s *Service) Intercept(ctx context.Context, msg message.Message) (bool, error) {
	if msg.Channel == s.cfg.AgentChannel {
		// Employees who are not agents talk to the bot like customers.
		if a := s.byUser[msg.Account+"\x00"+msg.From.ID]; a != nil {
			return true, s.handleAgent(ctx, a, msg)
		}
	}
	if s.cfg.CSAT.Enabled && msg.Kind == message.KindText {
		if score, ok := parseRating(msg.Text); ok {
			return s.rate(ctx, msg, score)
		}
	}
	return false, nil
}

// ExemptFromBurst keeps agents' messages and rating answers out of the
// router's burst merging: every line an agent types is a message for the
// customer (or a command) on its own, and a rating must reach Intercept.
// It implements router.BurstExempter and does no I/O.
func (s *Service) ExemptFromBurst(msg message.Message) bool { return s.MayIntercept(msg) }

// MayIntercept reports whether Intercept may take msg: an agent's message
// or a rating answer. It implements router.InterceptPredictor and does no
// I/O.
func (s *Service) MayIntercept(msg message.Message) bool {
	if msg.Channel == s.cfg.AgentChannel && s.byUser[msg.Account+"\x00"+msg.From.ID] != nil {
		return true
	}
	if s.cfg.CSAT.Enabled && msg.Kind == message.KindText {
		_, ok := parseRating(msg.Text)
		return ok
	}
	return false
}

// handleAgent runs an agent's command or relays their text to the customer
// of their current conversation. Every message counts as a heartbeat.
func (s *Service) handleAgent(ctx context.Context, a *AgentConfig, msg message.Message) error {
	p, isCmd := s.commands.parse(msg.Text)
	if mode := presenceMode(p, isCmd); mode != "" {
		if _, err := s.heartbeat(ctx, a, mode); err != nil {
			return err
		}
	}
	if msg.Kind == message.KindEvent {
		return nil // opening the app (enter_agent) only refreshes presence
	}
	if msg.Kind != message.KindText || strings.TrimSpace(msg.Text) == "" {
		return s.sendAgent(ctx, a, "目前只能把文字消息转给客户，请发送文字。", "")
	}
	if !isCmd {
		return s.agentReply(ctx, a, msg.Text)
	}
	reply, err := s.runCommand(ctx, a, p)
	if err != nil {
		s.logErr("agent command failed", err, zap.String("agent", a.ID), zap.String("command", string(p.Cmd)))
		reply = "操作失败，请稍后再试。"
	}
	if reply == "" {
		return nil
	}
	return s.sendAgent(ctx, a, reply, "")
}

// presenceMode is the one heartbeat an agent's message records: /offline
// and /online their own (/offline records no beat first, which would bring
// a returning agent online and tell them of left messages on their way
// out), /accept online (it takes a customer), a mistyped /offline none,
// anything else a beat.
func presenceMode(p Parsed, isCmd bool) string {
	switch {
	case !isCmd:
		return beat
	case p.Cmd == CmdOffline && p.Problem != "":
		return ""
	case p.Cmd == CmdOffline:
		return offline
	case p.Problem == "" && (p.Cmd == CmdOnline || p.Cmd == CmdAccept):
		return online
	}
	return beat
}

// agentReply sends an agent's text to their current customer.
func (s *Service) agentReply(ctx context.Context, a *AgentConfig, text string) error {
	r, err := s.current(ctx, a)
	if err != nil {
		return err
	}
	if r == nil {
		return s.sendAgent(ctx, a, "您当前没有接待中的会话，消息没有发出。发送 /list 查看会话，/accept 接入排队的客户。", "")
	}
	if why := s.windowClosed(ctx, r); why != "" {
		return s.sendAgent(ctx, a, fmt.Sprintf("消息未送达：客户 %s 的消息窗口已关闭（%s）。等客户再次发消息后才能回复。", customerName(r), why), "")
	}
	if err := s.say(ctx, r, message.Party{ID: a.ID, Name: a.Name, Role: message.RoleAgent}, text); err != nil {
		return err
	}
	return s.rdb.HSet(ctx, s.keys.record(r.Conversation), fAgentLast, ms(s.clock.Now())).Err()
}

// windowClosed says why the customer cannot be written to now ("" = they
// can). Platforms such as WeChat allow messages only within 48 h of the
// customer's last one (PROTOCOLS.md §1.5); the channel knows.
func (s *Service) windowClosed(ctx context.Context, r *Record) string {
	ad, ok := s.adapters.Lookup(r.Channel, r.Account)
	if !ok {
		return "渠道未配置"
	}
	wc, ok := ad.(adapters.WindowChecker)
	if !ok {
		return ""
	}
	w, err := wc.Window(ctx, r.Customer)
	if err != nil {
		s.logErr("checking the customer's window failed; sending anyway", err, zapConv(r.Conversation))
		return ""
	}
	if w.Open && w.Remaining != 0 {
		return ""
	}
	if w.Reason != "" {
		return w.Reason
	}
	return "平台限制"
}

// current is the agent's current conversation, or nil.
func (s *Service) current(ctx context.Context, a *AgentConfig) (*Record, error) {
	cur, err := s.rdb.HGet(ctx, s.keys.agent(a.ID), "cur").Result()
	if err != nil && !isNil(err) {
		return nil, fmt.Errorf("reading the agent's current conversation: %w", err)
	}
	if cur == "" {
		return nil, nil
	}
	r, err := s.readRecord(ctx, cur)
	if err != nil {
		return nil, err
	}
	if r == nil || r.Status != StatusAssigned || r.Agent != a.ID {
		return nil, nil
	}
	return r, nil
}

// runCommand carries out an agent command and returns the answer to show.
func (s *Service) runCommand(ctx context.Context, a *AgentConfig, p Parsed) (string, error) {
	if p.Problem != "" {
		if p.Cmd == CmdHelp {
			return p.Problem + "\n\n" + helpText(), nil
		}
		return p.Problem + "。" + s.commands.usage(p.Cmd), nil
	}
	switch p.Cmd {
	case CmdHelp:
		if len(p.Args) == 1 {
			if c, ok := s.commands.slash[strings.ToLower(strings.TrimLeft(p.Args[0], "/／"))]; ok {
				return s.commands.usage(c), nil
			}
		}
		return helpText(), nil
	case CmdList:
		return s.listText(ctx, a)
	case CmdMessages:
		return s.recentLeftText(ctx, a)
	case CmdCallBack:
		return s.callBack(ctx, a, p.Index)
	case CmdOnline:
		s.triggerAssign(ctx, "")
		return fmt.Sprintf("您已上线，将为您分配新客户（%s 内没有任何消息会自动下线）。", minutes(s.cfg.PresenceTTL)), nil
	case CmdOffline:
		n, err := s.rdb.ZCard(ctx, s.keys.agentConvs(a.ID)).Result()
		if err != nil {
			return "", fmt.Errorf("counting the agent's conversations: %w", err)
		}
		return fmt.Sprintf("您已下线，不再分配新客户；接待中的 %d 个会话不受影响。发送 /online 重新上线。", n), nil
	case CmdAccept:
		return s.accept(ctx, a)
	case CmdSwitch:
		return s.switchTo(ctx, a, p.Index)
	}
	r, err := s.current(ctx, a)
	if err != nil {
		return "", err
	}
	if r == nil {
		return "您当前没有接待中的会话。发送 /list 查看会话。", nil
	}
	name := customerName(r)
	switch p.Cmd {
	case CmdEnd:
		next, err := s.release(ctx, r, StatusResolved, false)
		if errors.Is(err, errGone) {
			return "该会话已经结束。", nil
		}
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("已结束与客户 %s 的会话。%s", name, s.nextText(ctx, next)), nil
	case CmdBot:
		next, err := s.release(ctx, r, StatusReturned, false)
		if errors.Is(err, errGone) {
			return "该会话已经结束。", nil
		}
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("已将客户 %s 交回智能客服。%s", name, s.nextText(ctx, next)), nil
	case CmdTransfer:
		return s.transfer(ctx, a, r, p.Args[0])
	case CmdNote:
		b, _ := json.Marshal(map[string]any{"agent": a.ID, "text": p.Text, "ts": ms(s.clock.Now())})
		pipe := s.rdb.TxPipeline()
		pipe.RPush(ctx, s.keys.notes(r.Conversation), b)
		pipe.LTrim(ctx, s.keys.notes(r.Conversation), -50, -1)
		pipe.PExpire(ctx, s.keys.notes(r.Conversation), s.cfg.RecordTTL)
		if _, err := pipe.Exec(ctx); err != nil {
			return "", fmt.Errorf("adding a note: %w", err)
		}
		return fmt.Sprintf("已为客户 %s 添加备注（客户看不到）。", name), nil
	case CmdTag:
		if err := s.tags.AddTags(ctx, r.ref(), p.Args); err != nil {
			return "", err
		}
		return fmt.Sprintf("已为客户 %s 添加标签：%s。", name, strings.Join(p.Args, "、")), nil
	}
	return helpText(), nil
}

// nextText tells the agent which conversation is current now.
func (s *Service) nextText(ctx context.Context, next string) string {
	if next == "" {
		return ""
	}
	r, err := s.readRecord(ctx, next)
	if err != nil || r == nil {
		return ""
	}
	return fmt.Sprintf("当前会话：客户 %s。", customerName(r))
}

// switchTo makes the agent's n-th conversation (as /list numbers them) current.
func (s *Service) switchTo(ctx context.Context, a *AgentConfig, n int) (string, error) {
	convs, err := s.rdb.ZRange(ctx, s.keys.agentConvs(a.ID), 0, -1).Result()
	if err != nil {
		return "", fmt.Errorf("reading the agent's conversations: %w", err)
	}
	if n > len(convs) {
		list, err := s.listText(ctx, a)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("没有第 %d 个会话。\n%s", n, list), nil
	}
	conv := convs[n-1]
	if err := s.setCurrent(ctx, a, conv); err != nil {
		return "", err
	}
	r, err := s.readRecord(ctx, conv)
	if err != nil || r == nil {
		return "", err
	}
	text := fmt.Sprintf("已切换到客户 %s，直接发送文字即回复该客户。", customerName(r))
	if recent := s.recentTurns(ctx, conv, 3); recent != "" {
		text += "\n最近消息：\n" + recent
	}
	return text, nil
}

// accept gives the agent the longest-waiting customer of their queues (the
// /accept message put them online, see presenceMode).
func (s *Service) accept(ctx context.Context, a *AgentConfig) (string, error) {
	if full, text, err := s.atCapacity(ctx, a); err != nil || full {
		return text, err
	}
	type head struct {
		queue, conv string
		since       float64
	}
	var heads []head
	for _, q := range s.queueOrder {
		if !serves(*a, *q) {
			continue
		}
		zs, err := s.rdb.ZRangeWithScores(ctx, s.keys.queue(q.ID), 0, 0).Result()
		if err != nil {
			return "", fmt.Errorf("reading queue %s: %w", q.ID, err)
		}
		if len(zs) > 0 {
			heads = append(heads, head{q.ID, zs[0].Member.(string), zs[0].Score})
		}
	}
	sort.SliceStable(heads, func(i, j int) bool { return heads[i].since < heads[j].since })
	if len(heads) > 0 {
		if err := s.armRecovery(ctx, s.clock.Now().Add(s.cfg.ClaimLease)); err != nil {
			return "", err
		}
	}
	for _, h := range heads {
		took, err := s.takeWaiting(ctx, a, h.queue, h.conv)
		if err != nil {
			return "", err
		}
		if took {
			return "", nil // the notice says it all
		}
	}
	return "队列中没有等待的客户。", nil
}

// takeWaiting gives the agent conv, waiting in queue, unless another agent
// or a worker claimed it first (false). The caller armed the claim's
// recovery. The customers still waiting hear their new places.
func (s *Service) takeWaiting(ctx context.Context, a *AgentConfig, queue, conv string) (bool, error) {
	pairs, err := s.claim(ctx, queue, []*AgentConfig{a}, []string{conv})
	if err != nil || len(pairs) != 2 {
		return false, err
	}
	if err := s.complete(ctx, conv); err != nil {
		return false, err
	}
	s.updatePositions(ctx, queue)
	return true, nil
}

// setCurrent makes conv the one the agent's plain text answers.
func (s *Service) setCurrent(ctx context.Context, a *AgentConfig, conv string) error {
	if err := s.rdb.HSet(ctx, s.keys.agent(a.ID), "cur", conv).Err(); err != nil {
		return fmt.Errorf("switching conversation: %w", err)
	}
	return nil
}

// transfer hands the agent's conversation r to another agent or a queue.
func (s *Service) transfer(ctx context.Context, a *AgentConfig, r *Record, target string) (string, error) {
	name := customerName(r)
	if to := s.agentNamed(target); to != nil {
		if to.ID == a.ID {
			return "不能转接给自己。", nil
		}
		now := s.clock.Now()
		if err := s.armRecovery(ctx, now.Add(s.cfg.ClaimLease)); err != nil {
			return "", err
		}
		res, err := transferScript.Run(ctx, s.rdb,
			[]string{s.keys.record(r.Conversation), s.keys.agent(a.ID), s.keys.agentConvs(a.ID), s.keys.agent(to.ID),
				s.keys.agentConvs(to.ID), s.keys.presence(), s.keys.claims(), s.keys.assignSeq()},
			r.Conversation, r.ID, a.ID, to.ID, to.MaxConcurrent, ms(now), ms(now.Add(s.cfg.ClaimLease))).Slice()
		if err != nil {
			return "", fmt.Errorf("transferring conversation: %w", err)
		}
		switch str(res, 0) {
		case "offline":
			return fmt.Sprintf("%s 不在线，无法转接。可以转接到队列：/transfer %s", to.Name, r.Queue), nil
		case "full":
			return fmt.Sprintf("%s 的接待数已满，无法转接。", to.Name), nil
		case "ok":
		default:
			return "该会话已经结束。", nil
		}
		if err := s.complete(ctx, r.Conversation); err != nil {
			s.logErr("carrying out a transfer failed; it will be retried", err, zapConv(r.Conversation))
		}
		s.log.Info("conversation transferred", zapConv(r.Conversation), zap.String("from", a.ID), zap.String("to", to.ID))
		return fmt.Sprintf("已将客户 %s 转接给 %s。%s", name, to.Name, s.nextText(ctx, str(res, 1))), nil
	}
	if q := s.queueNamed(target); q != nil {
		if err := s.requeue(ctx, r, q.ID, true); err != nil {
			if errors.Is(err, errGone) {
				return "该会话已经结束。", nil
			}
			return "", err
		}
		return fmt.Sprintf("已将客户 %s 转到队列 %s。", name, q.Name), nil
	}
	var agents, queues []string
	for _, x := range s.agentOrder {
		if x.ID != a.ID {
			agents = append(agents, x.ID+"（"+x.Name+"）")
		}
	}
	for _, q := range s.queueOrder {
		queues = append(queues, q.ID)
	}
	return fmt.Sprintf("找不到客服或队列“%s”。客服：%s；队列：%s。", target, strings.Join(agents, "、"), strings.Join(queues, "、")), nil
}

func (s *Service) agentNamed(x string) *AgentConfig {
	if a := s.agents[x]; a != nil {
		return a
	}
	for _, a := range s.agentOrder {
		if strings.EqualFold(a.Name, x) || a.WecomUser == x {
			return a
		}
	}
	return nil
}

func (s *Service) queueNamed(x string) *QueueConfig {
	if q := s.queues[x]; q != nil {
		return q
	}
	for _, q := range s.queueOrder {
		if strings.EqualFold(q.Name, x) {
			return q
		}
	}
	return nil
}

// listText lists the agent's conversations and the queues they serve.
func (s *Service) listText(ctx context.Context, a *AgentConfig) (string, error) {
	convs, err := s.rdb.ZRange(ctx, s.keys.agentConvs(a.ID), 0, -1).Result()
	if err != nil {
		return "", fmt.Errorf("reading the agent's conversations: %w", err)
	}
	cur, _ := s.rdb.HGet(ctx, s.keys.agent(a.ID), "cur").Result()
	var b strings.Builder
	fmt.Fprintf(&b, "接待中（%d/%d）：\n", len(convs), a.MaxConcurrent)
	now := s.clock.Now()
	for i, c := range convs {
		r, err := s.readRecord(ctx, c)
		if err != nil {
			return "", err
		}
		if r == nil {
			continue
		}
		fmt.Fprintf(&b, "%d. %s · %s", i+1, customerName(r), channelLabel(r.Channel))
		if r.customerWaiting() {
			fmt.Fprintf(&b, " · 客户等待回复 %s", minutes(now.Sub(maxTime(r.CustomerLast, r.Assigned))))
		}
		if c == cur {
			b.WriteString(" ← 当前")
		}
		b.WriteByte('\n')
	}
	if len(convs) == 0 {
		b.WriteString("（无）\n")
	}
	var waiting []string
	for _, q := range s.queueOrder {
		if !serves(*a, *q) {
			continue
		}
		n, err := s.rdb.ZCard(ctx, s.keys.queue(q.ID)).Result()
		if err != nil {
			return "", fmt.Errorf("reading queue %s: %w", q.ID, err)
		}
		waiting = append(waiting, fmt.Sprintf("%s %d 位", q.Name, n))
	}
	if len(waiting) > 0 {
		b.WriteString("排队中：" + strings.Join(waiting, "，") + "\n")
	}
	on, err := s.isOnline(ctx, a)
	if err != nil {
		return "", err
	}
	if on {
		b.WriteString("状态：在线。/switch N 切换会话，/help 查看全部命令。")
	} else {
		b.WriteString("状态：离线（不分配新客户），发送 /online 上线。")
	}
	return b.String(), nil
}

func channelLabel(ch string) string {
	if l, ok := map[string]string{
		"wechat_oa": "公众号", "wechat_mp": "小程序", "wecom_kf": "微信客服", "wecom_app": "企业微信",
		"dingtalk": "钉钉", "web": "网页",
	}[ch]; ok {
		return l
	}
	return ch
}
