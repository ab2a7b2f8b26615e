package handoff_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/handoff"
	"github.com/kefu-gateway/kefu/internal/contacts"
	"github.com/kefu-gateway/kefu/internal/testutil/fakechannel"
)

func TestParseCommand(t *testing.T) {
	cases := []struct {
		in      string
		isCmd   bool
		cmd     handoff.Command
		args    []string
		index   int
		text    string
		problem bool
	}{
		// Plain text goes to the customer.
		{in: "您好，请问有什么可以帮您？", isCmd: false},
		{in: "结束了吗", isCmd: false},             // an alias must be a whole word
		{in: "end of the story", isCmd: false}, // English words need the slash
		{in: "help me", isCmd: false},
		{in: "", isCmd: false},
		// Every command, English and Chinese, with and without a slash.
		{in: "/list", isCmd: true, cmd: handoff.CmdList},
		{in: "/ls", isCmd: true, cmd: handoff.CmdList},
		{in: "列表", isCmd: true, cmd: handoff.CmdList},
		{in: "  /LIST  ", isCmd: true, cmd: handoff.CmdList},
		{in: "/switch 2", isCmd: true, cmd: handoff.CmdSwitch, args: []string{"2"}, index: 2, text: "2"},
		{in: "切换 3", isCmd: true, cmd: handoff.CmdSwitch, args: []string{"3"}, index: 3, text: "3"},
		{in: "/切换2", isCmd: true, cmd: handoff.CmdSwitch, args: []string{"2"}, index: 2, text: "2"},
		{in: "／切换 #2", isCmd: true, cmd: handoff.CmdSwitch, args: []string{"#2"}, index: 2, text: "#2"},
		{in: "/accept", isCmd: true, cmd: handoff.CmdAccept},
		{in: "接入", isCmd: true, cmd: handoff.CmdAccept},
		{in: "/end", isCmd: true, cmd: handoff.CmdEnd},
		{in: "结束", isCmd: true, cmd: handoff.CmdEnd},
		{in: "／结束", isCmd: true, cmd: handoff.CmdEnd},
		{in: "/transfer bob", isCmd: true, cmd: handoff.CmdTransfer, args: []string{"bob"}, text: "bob"},
		{in: "转接 售后", isCmd: true, cmd: handoff.CmdTransfer, args: []string{"售后"}, text: "售后"},
		{in: "/note 客户很着急，明天回电", isCmd: true, cmd: handoff.CmdNote, args: []string{"客户很着急，明天回电"}, text: "客户很着急，明天回电"},
		{in: "备注 老客户  复购", isCmd: true, cmd: handoff.CmdNote, args: []string{"老客户", "复购"}, text: "老客户  复购"},
		{in: "/tag VIP", isCmd: true, cmd: handoff.CmdTag, args: []string{"VIP"}, text: "VIP"},
		{in: "标签 VIP，老客户、VIP 华东", isCmd: true, cmd: handoff.CmdTag, args: []string{"VIP", "老客户", "华东"}, text: "VIP，老客户、VIP 华东"},
		{in: "/bot", isCmd: true, cmd: handoff.CmdBot},
		{in: "转机器人", isCmd: true, cmd: handoff.CmdBot},
		{in: "/online", isCmd: true, cmd: handoff.CmdOnline},
		{in: "上线", isCmd: true, cmd: handoff.CmdOnline},
		{in: "/offline", isCmd: true, cmd: handoff.CmdOffline},
		{in: "下线", isCmd: true, cmd: handoff.CmdOffline},
		{in: "/help", isCmd: true, cmd: handoff.CmdHelp},
		{in: "帮助", isCmd: true, cmd: handoff.CmdHelp},
		{in: "/?", isCmd: true, cmd: handoff.CmdHelp},
		{in: "/help end", isCmd: true, cmd: handoff.CmdHelp, args: []string{"end"}, text: "end"},
		// Bad arguments: recognized, with a problem (the agent gets the usage).
		{in: "/switch", isCmd: true, cmd: handoff.CmdSwitch, problem: true},
		{in: "切换 x", isCmd: true, cmd: handoff.CmdSwitch, args: []string{"x"}, text: "x", problem: true},
		{in: "/switch 0", isCmd: true, cmd: handoff.CmdSwitch, args: []string{"0"}, text: "0", problem: true},
		{in: "/switch 1 2", isCmd: true, cmd: handoff.CmdSwitch, args: []string{"1", "2"}, index: 0, text: "1 2", problem: true},
		{in: "/end now", isCmd: true, cmd: handoff.CmdEnd, args: []string{"now"}, text: "now", problem: true},
		{in: "/transfer", isCmd: true, cmd: handoff.CmdTransfer, problem: true},
		{in: "转接 a b", isCmd: true, cmd: handoff.CmdTransfer, args: []string{"a", "b"}, text: "a b", problem: true},
		{in: "/note", isCmd: true, cmd: handoff.CmdNote, problem: true},
		{in: "标签 ，、", isCmd: true, cmd: handoff.CmdTag, text: "，、", problem: true},
		{in: "/help a b", isCmd: true, cmd: handoff.CmdHelp, args: []string{"a", "b"}, text: "a b", problem: true},
		// A mistyped slash command never reaches the customer.
		{in: "/ned", isCmd: true, cmd: handoff.CmdHelp, problem: true},
		{in: "/", isCmd: true, cmd: handoff.CmdHelp, problem: true},
	}
	for _, tc := range cases {
		p, ok := handoff.ParseCommand(tc.in, nil)
		if ok != tc.isCmd {
			t.Errorf("%q: command = %v, want %v", tc.in, ok, tc.isCmd)
			continue
		}
		if !ok {
			continue
		}
		if p.Cmd != tc.cmd || (p.Problem != "") != tc.problem || p.Text != tc.text {
			t.Errorf("%q = %+v; want cmd %s, problem %v, text %q", tc.in, p, tc.cmd, tc.problem, tc.text)
		}
		if tc.args != nil && !reflect.DeepEqual(p.Args, tc.args) {
			t.Errorf("%q args = %q, want %q", tc.in, p.Args, tc.args)
		}
		if !tc.problem && tc.index != p.Index {
			t.Errorf("%q index = %d, want %d", tc.in, p.Index, tc.index)
		}
	}
}

func TestCommandAliasesFromConfig(t *testing.T) {
	extra := map[string][]string{"end": {"完成", "done"}}
	if p, ok := handoff.ParseCommand("完成", extra); !ok || p.Cmd != handoff.CmdEnd {
		t.Errorf("完成 = %+v %v", p, ok)
	}
	if p, ok := handoff.ParseCommand("/done", extra); !ok || p.Cmd != handoff.CmdEnd {
		t.Errorf("/done = %+v %v", p, ok)
	}
	if _, ok := handoff.ParseCommand("done", extra); ok {
		t.Error("an ASCII alias without a slash became a command")
	}
}

func TestHelpMentionsEveryCommand(t *testing.T) {
	h := handoff.HelpText()
	for _, c := range []string{"/list", "/switch", "/accept", "/end", "/transfer", "/note", "/tag", "/bot", "/online", "/offline", "/messages", "/help",
		"列表", "切换", "接入", "结束", "转接", "备注", "标签", "转机器人", "上线", "下线", "查看留言", "帮助"} {
		if !strings.Contains(h, c) {
			t.Errorf("help lacks %s", c)
		}
	}
	if u := handoff.Usage(handoff.CmdSwitch); !strings.HasPrefix(u, "用法：/switch N") {
		t.Errorf("switch usage = %q", u)
	}
}

// Agents' commands end to end, over the agent channel: what the agent
// sends, what they get back, what the customer sees. Bad arguments get the
// usage, never an error and never a message to the customer.
func TestAgentCommandSession(t *testing.T) {
	e := setup(t, options{contacts: true, handoff: `
agent_channel: fake
position_interval: 0s
queues:
  - { id: presales, name: 售前 }
  - { id: aftersales, name: 售后 }
agents:
  - { id: alice, name: Alice, wecom_user: alice-wx, wecom_app: WECOM, max_concurrent: 2 }
  - { id: bob, name: Bob, wecom_user: bob-wx, wecom_app: WECOM, max_concurrent: 2 }
`})
	ctx := context.Background()
	say := func(text, want string) {
		t.Helper()
		before := len(sentTo(e.wecom, "alice-wx"))
		e.agent("alice-wx", text)
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			for _, m := range sentTo(e.wecom, "alice-wx")[before:] {
				if strings.Contains(m.Text, want) {
					return
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
		var got []string
		for _, m := range sentTo(e.wecom, "alice-wx")[before:] {
			got = append(got, m.Text)
		}
		t.Fatalf("%q: no answer containing %q; got %q", text, want, got)
	}
	say("/help", "客服命令")
	say("帮助 switch", "用法：/switch N")
	say("/ned", "未知命令：/ned")
	say("/list", "状态：在线")    // any message is a heartbeat
	say("您好", "您当前没有接待中的会话") // no conversation: nothing to send it to
	say("/end", "您当前没有接待中的会话")
	say("/accept", "队列中没有等待的客户")
	say("/offline", "您已下线")
	say("/list", "状态：离线")
	say("在吗", "您当前没有接待中的会话") // after /offline, messages do not bring her back

	e.askHuman("u1") // nobody online: waits
	e.askHuman("u2")
	e.waitFor(e.shop, "u2", "排在第 2 位")
	say("接入", "【新客户】顾客u1")                      // /accept takes the longest waiting, and puts her online
	e.waitFor(e.wecom, "alice-wx", "【新客户】顾客u2") // online again: the next one follows
	say("/accept", "接待数已满（2/2）")
	say("/list", "1. 顾客u1 · fake")
	say("/list", "2. 顾客u2 · fake")
	say("/list", "← 当前")

	say("/switch 9", "没有第 9 个会话")
	say("切换 x", "用法：/switch N")
	say("/switch 2", "已切换到客户 顾客u2")
	e.agent("alice-wx", "这条发给 u2")
	e.waitFor(e.shop, "u2", "这条发给 u2")
	if countWith(e.shop, "u1", "这条发给 u2") != 0 {
		t.Fatal("the reply went to the wrong customer")
	}
	// u1 writes while u2 is current: Alice is told how to switch.
	e.customer("u1", "还在吗")
	e.waitFor(e.wecom, "alice-wx", "/switch 1")

	say("/note 要求开发票", "已为客户 顾客u2 添加备注")
	say("标签 VIP 华东", "已为客户 顾客u2 添加标签：VIP、华东")
	say("/note", "请写上备注内容")
	say("/transfer", "用法：/transfer")
	say("/transfer nobody", "找不到客服或队列“nobody”")
	say("/transfer alice", "不能转接给自己")
	say("/transfer bob", "Bob 不在线")
	e.agent("bob-wx", "/online")
	say("/transfer Bob", "已将客户 顾客u2 转接给 Bob")
	n := e.waitFor(e.wecom, "bob-wx", "【转接】Alice 转来客户 顾客u2")
	for _, want := range []string{"要求开发票", "VIP、华东"} {
		if !strings.Contains(n.Text, want) {
			t.Errorf("transfer notice lacks %q:\n%s", want, n.Text)
		}
	}
	e.waitFor(e.shop, "u2", "已为您转接客服Bob")
	e.agent("bob-wx", "我是 Bob")
	e.waitFor(e.shop, "u2", "我是 Bob")
	if o := e.owner("u2"); o != "agent:bob" {
		t.Fatalf("owner after transfer = %q", o)
	}

	// Alice's current conversation is u1 again (the only one left).
	say("/transfer 售后", "已将客户 顾客u1 转到队列 售后")
	e.waitFor(e.shop, "u1", "正在为您转接其他客服")
	e.waitFor(e.wecom, "bob-wx", "顾客u1") // bob has room and serves every queue
	if d := e.detail("u1"); d.Queue != "aftersales" || d.Agent != "bob" {
		t.Fatalf("u1 after transfer to a queue: %+v", d.Record)
	}
	e.agent("bob-wx", "/switch 1")
	e.agent("bob-wx", "转机器人")
	e.waitFor(e.wecom, "bob-wx", "已将客户 顾客u2 交回智能客服")
	e.waitFor(e.shop, "u2", "客服已将您转回智能客服")
	if countWith(e.shop, "u2", "请为本次服务打分") != 0 {
		t.Error("/bot asked for a rating")
	}
	e.customer("u2", "hi")
	e.waitFor(e.shop, "u2", "hello there")

	say("/offline", "您已下线")
	e.customer("u3", "人工")
	e.waitFor(e.wecom, "bob-wx", "顾客u3")
	if countWith(e.wecom, "alice-wx", "顾客u3") != 0 {
		t.Error("an agent who went /offline was given a customer")
	}
	say("下线 现在", "这个命令不需要参数")

	// The tags are on the customer's contact, where flows and campaigns see them.
	c, err := e.contacts.ByIdentity(ctx, contacts.Identity{Channel: fakechannel.Kind, Account: e.shopID, ID: "u2"})
	if err != nil || !reflect.DeepEqual(c.Tags, []string{"VIP", "华东"}) {
		t.Fatalf("contact = %+v, %v", c, err)
	}
	if d := e.detail("u2"); len(d.Notes) != 1 || !strings.Contains(string(d.Notes[0]), "要求开发票") {
		t.Fatalf("notes = %s", d.Notes)
	}
	// No command, good or bad, ever reached a customer.
	for _, u := range []string{"u1", "u2", "u3"} {
		for _, m := range sentTo(e.shop, u) {
			if strings.Contains(m.Text, "/") || strings.Contains(m.Text, "用法") {
				t.Errorf("%s saw %q", u, m.Text)
			}
		}
	}
}
