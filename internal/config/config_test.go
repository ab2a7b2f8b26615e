package config

import (
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func parse(t *testing.T, s string) *yaml.Node {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(s), &n); err != nil {
		t.Fatal(err)
	}
	return &n
}

func TestExpandEnv(t *testing.T) {
	env := map[string]string{"HOST": "db.internal", "PORT": "6380", "EMPTY": "", "TRICKY": "a: b\n- c # d"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	cases := []struct {
		in, want string
		wantErr  string
	}{
		{"plain", "plain", ""},
		{"${HOST}:${PORT}", "db.internal:6380", ""},
		{"${MISSING:-fallback}", "fallback", ""},
		{"${EMPTY:-fallback}", "fallback", ""},
		{"${EMPTY}", "", ""},
		{"cost $$5", "cost $5", ""},
		{"$HOST", "$HOST", ""},
		{"${TRICKY}", "a: b\n- c # d", ""},
		{"${MISSING}", "", "MISSING is not set"},
		{"${1BAD}", "", "bad variable name"},
		{"${HOST", "", "unterminated"},
	}
	for _, tc := range cases {
		got, err := expand(tc.in, lookup)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("expand(%q) error = %v, want %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("expand(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

type sample struct {
	Addr    string        `yaml:"addr"`
	Port    int           `yaml:"port"`
	Timeout time.Duration `yaml:"timeout"`
	Nested  struct {
		Name  string   `yaml:"name"`
		Items []string `yaml:"items"`
	} `yaml:"nested"`
	List []item `yaml:"list"`
}

type item struct {
	ID string `yaml:"id"`
}

func (s *sample) Validate() error {
	var errs []error
	for i, it := range s.List {
		if it.ID == "" {
			errs = append(errs, Errorf("list["+string(rune('0'+i))+"].id", "REQUIRED"))
		}
	}
	if s.Port < 0 {
		errs = append(errs, Errorf("port", "must not be negative"))
	}
	return Join(errs...)
}

func TestDecodeReportsKeysAndLines(t *testing.T) {
	cases := []struct {
		name, yaml, want string
	}{
		{"unknown key with suggestion", "addr: x\nnested:\n  nmae: y\n", `f.yaml:3: svc.nested.nmae: unknown key (did you mean "name"?)`},
		{"unknown key without suggestion", "zzzzzzzz: 1\n", `f.yaml:1: svc.zzzzzzzz: unknown key`},
		{"unknown key in a list item", "list:\n  - id: a\n  - idd: b\n", `f.yaml:3: svc.list[1].idd: unknown key`},
		{"type error", "port: abc\n", "f.yaml:1: svc.port: cannot use !!str `abc` into int"},
		{"bad duration", "timeout: soon\n", "f.yaml:1: svc.timeout:"},
		{"validation error is located", "addr: x\nlist:\n  - id: a\n  - {}\n", "f.yaml:4: svc.list[1].id: REQUIRED"},
		{"validation of a missing key points at its parent", "port: -1\n", "f.yaml:1: svc.port: must not be negative"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var s sample
			err := Decode(parse(t, tc.yaml), &s, "f.yaml", "svc")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v\nwant it to contain %q", err, tc.want)
			}
		})
	}
}

func TestDecodeKeepsDefaultsAndResolvesExpandedTypes(t *testing.T) {
	n := parse(t, "port: ${PORT}\ntimeout: 3s\n")
	if err := ExpandEnv(n, "f.yaml", func(string) (string, bool) { return "8081", true }); err != nil {
		t.Fatal(err)
	}
	s := sample{Addr: "default"}
	if err := Decode(n, &s, "f.yaml", ""); err != nil {
		t.Fatal(err)
	}
	if s.Addr != "default" || s.Port != 8081 || s.Timeout != 3*time.Second {
		t.Errorf("decoded %+v", s)
	}
}

func TestExpandEnvNamesTheKey(t *testing.T) {
	n := parse(t, "llm:\n  api_key: ${NOPE}\n")
	err := ExpandEnv(n, "f.yaml", func(string) (string, bool) { return "", false })
	if err == nil || !strings.Contains(err.Error(), "f.yaml:2: llm.api_key: environment variable NOPE is not set") {
		t.Fatalf("error = %v", err)
	}
}

func TestLineOf(t *testing.T) {
	n := parse(t, "a:\n  b:\n    - x: 1\n    - x: 2\n      y: 3\n")
	for path, want := range map[string]int{"a": 1, "a.b": 2, "a.b[1]": 4, "a.b[1].y": 5, "a.b[1].missing": 4, "zz": 1} {
		if got := LineOf(n, path); got != want {
			t.Errorf("LineOf(%q) = %d, want %d", path, got, want)
		}
	}
}
