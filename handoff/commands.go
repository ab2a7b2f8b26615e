package handoff

import (
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// Command is an agent command.
type Command string

// Agent commands. Each has an English name used after a slash and Chinese
// aliases that also work without one ("结束", "切换 2"), because typing a
// slash on a phone keyboard in Chinese input mode is a chore.
const (
	CmdList     Command = "list"
	CmdSwitch   Command = "switch"
	CmdAccept   Command = "accept"
	CmdEnd      Command = "end"
	CmdTransfer Command = "transfer"
	CmdNote     Command = "note"
	CmdTag      Command = "tag"
	CmdBot      Command = "bot"
	CmdOnline   Command = "online"
	CmdOffline  Command = "offline"
	CmdMessages Command = "messages"
	CmdCallBack Command = "callback"
	CmdHelp     Command = "help"
)

type argKind int

const (
	argsNone  argKind = iota // no arguments
	argsIndex                // one number ≥ 1
	argsWord                 // one word
	argsText                 // free text, at least one character
	argsWords                // one or more words (commas also separate)
	argsHelp                 // optional command name
)

type commandSpec struct {
	aliases []string
	args    argKind
	usage   string
}

var commandNames = map[Command]commandSpec{
	CmdList:     {[]string{"list", "ls", "列表"}, argsNone, "/list（列表）— 列出您接待中的会话和排队人数"},
	CmdSwitch:   {[]string{"switch", "sw", "切换"}, argsIndex, "/switch N（切换 N）— 切换到 /list 中的第 N 个会话"},
	CmdAccept:   {[]string{"accept", "接入"}, argsNone, "/accept（接入）— 接入排队最久的客户"},
	CmdEnd:      {[]string{"end", "结束"}, argsNone, "/end（结束）— 结束当前会话，请客户评价后交回智能客服"},
	CmdTransfer: {[]string{"transfer", "转接"}, argsWord, "/transfer 客服或队列（转接 客服或队列）— 把当前会话转给另一位客服或另一个队列"},
	CmdNote:     {[]string{"note", "备注"}, argsText, "/note 内容（备注 内容）— 给当前会话加内部备注，客户看不到"},
	CmdTag:      {[]string{"tag", "标签"}, argsWords, "/tag 标签…（标签 标签…）— 给当前客户打标签"},
	CmdBot:      {[]string{"bot", "转机器人"}, argsNone, "/bot（转机器人）— 把当前客户交回智能客服（不请客户评价）"},
	CmdOnline:   {[]string{"online", "上线"}, argsNone, "/online（上线）— 开始接待新客户"},
	CmdOffline:  {[]string{"offline", "下线"}, argsNone, "/offline（下线）— 不再接待新客户，已有会话照常"},
	CmdMessages: {[]string{"messages", "查看留言"}, argsNone, "/messages（查看留言）— 列出您所在队列最近的客户留言"},
	CmdCallBack: {[]string{"callback", "cb", "回访"}, argsIndex, "/callback N（回访 N）— 联系留言列表中的第 N 位客户，由您接待"},
	CmdHelp:     {[]string{"help", "帮助", "?", "？"}, argsHelp, "/help（帮助）— 显示本说明"},
}

// commandOrder is the order of the help text.
var commandOrder = []Command{CmdList, CmdSwitch, CmdAccept, CmdEnd, CmdTransfer, CmdNote, CmdTag, CmdBot, CmdOnline, CmdOffline, CmdMessages, CmdCallBack, CmdHelp}

func commandList() []string {
	out := make([]string, 0, len(commandNames))
	for c := range commandNames {
		out = append(out, string(c))
	}
	sort.Strings(out)
	return out
}

// Parsed is an agent message read as a command.
type Parsed struct {
	Cmd Command
	// Args are the words after the command; Text is everything after it.
	Args []string
	Text string
	// Index is the number of /switch and /callback.
	Index int
	// Problem, when set, says what is wrong; the agent is shown the
	// command's usage instead of it running.
	Problem string
}

// commandSet recognizes commands by their words.
type commandSet struct {
	// slash maps every alias (lowercase) to its command; bare holds the
	// aliases that work without a slash (the non-ASCII ones).
	slash map[string]Command
	bare  map[string]Command
}

func newCommandSet(extra map[string][]string) commandSet {
	cs := commandSet{slash: map[string]Command{}, bare: map[string]Command{}}
	add := func(c Command, w string) {
		w = strings.ToLower(w)
		cs.slash[w] = c
		if !isASCII(w) {
			cs.bare[w] = c
		}
	}
	for c, spec := range commandNames {
		for _, w := range spec.aliases {
			add(c, w)
		}
	}
	for name, words := range extra {
		for _, w := range words {
			add(Command(name), w)
		}
	}
	return cs
}

func isASCII(s string) bool {
	for _, r := range s {
		if r > unicode.MaxASCII {
			return false
		}
	}
	return true
}

// parse reads an agent's message. ok is false for plain text, which goes
// to the customer. A message is a command when it starts with a slash
// ("/end", "／结束") or when its first word is a Chinese alias ("结束",
// "切换 2"). A slash with an unknown word is a command too (help), so a
// mistyped command never reaches the customer.
func (cs commandSet) parse(text string) (p Parsed, ok bool) {
	t := strings.TrimSpace(text)
	slashed := false
	for _, sl := range []string{"/", "／"} {
		if rest, cut := strings.CutPrefix(t, sl); cut {
			t, slashed = strings.TrimSpace(rest), true
			break
		}
	}
	word, rest := splitWord(t)
	lw := strings.ToLower(word)
	cmd, known := cs.bare[lw]
	if slashed {
		cmd, known = cs.slash[lw]
		if !known {
			// "/切换2": a known alias glued to a number.
			if c, n, glued := cs.gluedIndex(lw); glued {
				cmd, known, rest = c, true, n+" "+rest
			}
		}
	}
	if !known {
		if !slashed {
			return Parsed{}, false
		}
		return Parsed{Cmd: CmdHelp, Problem: "未知命令：/" + word}, true
	}
	p = Parsed{Cmd: cmd, Text: strings.TrimSpace(rest), Args: fields(rest)}
	switch commandNames[cmd].args {
	case argsNone:
		if len(p.Args) > 0 {
			p.Problem = "这个命令不需要参数"
		}
	case argsIndex:
		n, err := strconv.Atoi(strings.TrimPrefix(strings.Join(p.Args, ""), "#"))
		if len(p.Args) != 1 || err != nil || n < 1 {
			p.Problem = "请给出会话序号（/list 里的数字）"
			if cmd == CmdCallBack {
				p.Problem = "请给出留言序号（留言通知或 /messages 里的数字）"
			}
		}
		p.Index = n
	case argsWord:
		if len(p.Args) != 1 {
			p.Problem = "请给出一位客服或一个队列"
		}
	case argsText:
		if p.Text == "" {
			p.Problem = "请写上备注内容"
		}
	case argsWords:
		p.Args = splitTags(p.Text)
		if len(p.Args) == 0 {
			p.Problem = "请至少给出一个标签"
		}
	case argsHelp:
		if len(p.Args) > 1 {
			p.Problem = "只能查看一个命令的说明"
		}
	}
	return p, true
}

// gluedIndex splits "切换2" into the switch command and "2".
func (cs commandSet) gluedIndex(w string) (Command, string, bool) {
	i := strings.IndexFunc(w, unicode.IsDigit)
	if i <= 0 {
		return "", "", false
	}
	c, ok := cs.slash[w[:i]]
	if !ok || commandNames[c].args != argsIndex {
		return "", "", false
	}
	return c, w[i:], true
}

func splitWord(s string) (word, rest string) {
	i := strings.IndexFunc(s, unicode.IsSpace)
	if i < 0 {
		return s, ""
	}
	return s[:i], s[i:]
}

func fields(s string) []string { return strings.Fields(s) }

// splitTags splits on spaces and ASCII or Chinese commas, dropping empties
// and repeats.
func splitTags(s string) []string {
	seen := map[string]bool{}
	var out []string
	for _, t := range strings.FieldsFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || r == ',' || r == '，' || r == '、'
	}) {
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out
}

// usage is the usage line of one command, or the whole help.
func (cs commandSet) usage(c Command) string {
	if spec, ok := commandNames[c]; ok && c != CmdHelp {
		return "用法：" + spec.usage
	}
	return helpText()
}

func helpText() string {
	var b strings.Builder
	b.WriteString("客服命令（斜杠命令或中文命令均可）：\n")
	for _, c := range commandOrder {
		b.WriteString(commandNames[c].usage)
		b.WriteByte('\n')
	}
	b.WriteString("直接发送文字即回复当前会话的客户。")
	return b.String()
}

// normalizeWord folds a customer command word for comparison.
func normalizeWord(s string) string {
	return strings.ToLower(strings.Trim(strings.TrimSpace(s), "/／。.!！"))
}
