package flows

import (
	"bytes"
	"encoding/json"
	"os"
	"sort"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

func compiledSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(Schema()))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func yamlToJSONValue(t *testing.T, data []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSchemaAcceptsEveryValidFlowFile validates the demo and the feature
// flows, which together use every key, against the JSON Schema.
func TestSchemaAcceptsEveryValidFlowFile(t *testing.T) {
	s := compiledSchema(t)
	files, _ := FlowFiles("../configs/flows", "testdata/features")
	if len(files) < 5 {
		t.Fatalf("found only %v", files)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Validate(yamlToJSONValue(t, data)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestSchemaRejectsMistakes(t *testing.T) {
	s := compiledSchema(t)
	for name, body := range map[string]string{
		"unknown step key":  "flows:\n  - id: f\n    steps:\n      - say: hi\n        choice: [a]\n",
		"two kinds":         "flows:\n  - id: f\n    steps:\n      - say: hi\n        goto: a\n",
		"unknown event":     "flows:\n  - id: f\n    triggers: { events: [follow] }\n    steps: [{say: x}]\n",
		"ask without slot":  "flows:\n  - id: f\n    steps: [{ask: q}]\n",
		"bad duration":      "flows:\n  - id: f\n    steps: [{ask: q, slot: s, timeout: soon}]\n",
		"missing steps":     "flows:\n  - id: f\n",
		"unknown flow key":  "flows:\n  - id: f\n    trigger: {}\n    steps: [{say: x}]\n",
		"bad answer type":   "flows:\n  - id: f\n    steps: [{ask: q, slot: s, type: mobile}]\n",
		"unknown top level": "flows: []\nextra: 1\n",
	} {
		if err := s.Validate(yamlToJSONValue(t, []byte(body))); err == nil {
			t.Errorf("%s: schema accepted it", name)
		}
	}
}

// TestSchemaKeysMatchParser keeps the schema and the parser's key tables in
// step: a key added to one must be added to the other.
func TestSchemaKeysMatchParser(t *testing.T) {
	var root map[string]any
	if err := json.Unmarshal(Schema(), &root); err != nil {
		t.Fatal(err)
	}
	defs := root["definitions"].(map[string]any)
	props := func(v any) []string {
		m := v.(map[string]any)["properties"].(map[string]any)
		var out []string
		for k := range m {
			out = append(out, k)
		}
		sort.Strings(out)
		return out
	}
	same := func(what string, got []string, want []string) {
		w := append([]string(nil), want...)
		sort.Strings(w)
		if !equalStrings(got, w) {
			t.Errorf("%s: schema has %v, parser %v", what, got, w)
		}
	}
	same("flow", props(defs["flow"]), flowKeys)
	same("triggers", props(defs["triggers"]), triggerKeys)
	for _, alt := range defs["step"].(map[string]any)["oneOf"].([]any) {
		m := alt.(map[string]any)
		if m["type"] != "object" {
			continue
		}
		kind := m["required"].([]any)[0].(string)
		same(kind+" step", props(m), append([]string{kind}, stepKeys[kind]...))
		inner := m["properties"].(map[string]any)[kind].(map[string]any)
		switch kind {
		case kindHTTP:
			same("http", props(inner), httpKeys)
		case kindSet:
			same("set", props(inner), setKeys)
		case kindFollowup:
			same("followup", props(inner), followupKeys)
		}
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
