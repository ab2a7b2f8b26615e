package flowcli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func run(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := RunCLI(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestLint(t *testing.T) {
	if code, out, _ := run("lint", "../../configs/flows"); code != 0 || out != "" {
		t.Fatalf("demo lint: %d %q", code, out)
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("flows:\n  - id: f\n    steps:\n      - goto: x\n      - say: '{{slots.y}}'\n"), 0o644)
	code, out, errOut := run("lint", bad)
	want := bad + ":2: warning: flow \"f\" has no triggers and no step calls, starts or schedules it\n" +
		bad + ":4: goto: unknown step \"x\" in flow \"f\"\n" +
		bad + ":5: slots.y is never set: no ask, set or http map in any flow fills it\n" +
		bad + ":5: step is unreachable in flow \"f\": no step leads to it\n"
	if code != 1 || out != want || !strings.Contains(errOut, "3 errors, 1 warnings") {
		t.Fatalf("code %d\nout %q\nwant prefix %q\nerr %q", code, out, want, errOut)
	}
	if code, _, _ := run("lint", filepath.Join(dir, "missing")); code != 1 {
		t.Fatalf("missing path: %d", code)
	}
}

func TestTest(t *testing.T) {
	code, out, _ := run("test", "../../configs/flows")
	if code != 0 || !strings.HasSuffix(out, " passed, 0 failed\n") {
		t.Fatalf("demo tests: %d %q", code, out)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f.yaml"), []byte("flows:\n  - id: hi\n    triggers: { keywords: [hi] }\n    steps: [{say: hello}]\n"), 0o644)
	tf := filepath.Join(dir, "f_test.yaml")
	os.WriteFile(tf, []byte("tests:\n  - name: ok\n    turns:\n      - user: hi\n        bot: hello\n"+
		"  - name: wrong\n    turns:\n      - user: hi\n        bot: bonjour\n"+
		"  - name: unhandled\n    turns:\n      - user: hi\n        handled: false\n"), 0o644)
	code, out, _ = run("test", tf)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 1 || len(lines) != 3 || lines[2] != "1 passed, 2 failed" {
		t.Fatalf("code %d out %q", code, out)
	}
	wantFirst := tf + `:6: case "wrong": turn 1 (line 8, user: hi): bot: want ["bonjour"], got ["hello"]`
	if lines[0] != wantFirst {
		t.Fatalf("got  %q\nwant %q", lines[0], wantFirst)
	}
	if !strings.Contains(lines[1], "handled: want false, got true") {
		t.Fatalf("got %q", lines[1])
	}
	os.WriteFile(tf, []byte("tests:\n  - name: x\n    turns:\n      - usr: hi\n"), 0o644)
	if code, out, _ := run("test", dir); code != 1 || !strings.Contains(out, tf+":4: invalid test file") || !strings.HasSuffix(out, "0 passed, 1 failed\n") {
		t.Fatalf("bad test file: %d %q", code, out)
	}
}

func TestSchemaAndUsage(t *testing.T) {
	code, out, _ := run("schema")
	var v map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil || v["title"] != "kefu flow file" {
		t.Fatalf("schema: %d %.80q", code, out)
	}
	if code, _, _ := run(); code != 2 {
		t.Fatal("no args must be a usage error")
	}
	if code, _, errOut := run("frobnicate"); code != 2 || !strings.Contains(errOut, "unknown command") {
		t.Fatal("unknown command")
	}
}
