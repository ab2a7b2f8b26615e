package conformance

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Texts the suite's flows answer (see FlowsDir).
const (
	// TextHello is answered with ReplyHello.
	TextHello = "你好"
	// ReplyHello answers TextHello.
	ReplyHello = "您好！这里是一致性测试，请问有什么可以帮您？"
	// TextLong is answered with LongReply.
	TextLong = "长回复"
)

// LongReply answers TextLong: about 4.5 KB of numbered Chinese sentences
// without spaces or line breaks, so a channel with a 2048-byte limit must
// deliver it in three parts and any lost or reordered part shows.
var LongReply = longReply()

func longReply() string {
	var b strings.Builder
	for i := 1; i <= 45; i++ {
		fmt.Fprintf(&b, "第%02d段：这是检验长消息按字节边界切分、按顺序送达且不丢结尾的文字。", i)
	}
	b.WriteString("全文完。")
	return b.String()
}

// FlowsDir writes the suite's flows into a temporary directory and returns
// it, for the harness's flows.dir. TextHello and TextLong have flows; any
// other text gets the router's fallback answer.
func FlowsDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	quote := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	src := "flows:\n" +
		"  - id: conformance_hello\n" +
		"    triggers: { keywords: [" + quote(TextHello) + "] }\n" +
		"    steps:\n" +
		"      - say: " + quote(ReplyHello) + "\n" +
		"  - id: conformance_long\n" +
		"    triggers: { keywords: [" + quote(TextLong) + "] }\n" +
		"    steps:\n" +
		"      - say: " + quote(LongReply) + "\n"
	if err := os.WriteFile(filepath.Join(dir, "conformance.yaml"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}
