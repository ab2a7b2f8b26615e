package adapters

import (
	"fmt"

	"github.com/kefu-gateway/kefu/internal/config"
	"gopkg.in/yaml.v3"
)

// BuildAccounts decodes a channel kind's account list (the node under
// channels.<kind>) the way every channel does: each item strictly into a
// copy of defaults() (unknown keys and bad values reported as
// "file:line: channels.kind[i].key: message"), duplicate ids refused, then
// build turns each decoded configuration into an account. Every problem is
// reported, not just the first. The accounts come back in file order.
func BuildAccounts[C any, A any](deps Deps, node *yaml.Node, path string, defaults func() C, id func(C) string, build func(C) (A, error)) ([]A, error) {
	var raw []yaml.Node
	if err := config.Decode(node, &raw, deps.ConfigFile, path); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []A
	var errs []error
	for i := range raw {
		cfg := defaults()
		p := fmt.Sprintf("%s[%d]", path, i)
		if err := config.Decode(&raw[i], &cfg, deps.ConfigFile, p); err != nil {
			errs = append(errs, err)
			continue
		}
		if seen[id(cfg)] {
			errs = append(errs, &config.FieldError{File: deps.ConfigFile, Line: raw[i].Line, Path: p + ".id", Msg: fmt.Sprintf("duplicate account id %q", id(cfg))})
			continue
		}
		seen[id(cfg)] = true
		a, err := build(cfg)
		if err != nil {
			errs = append(errs, &config.FieldError{File: deps.ConfigFile, Line: raw[i].Line, Path: p, Msg: err.Error()})
			continue
		}
		out = append(out, a)
	}
	if err := config.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}
