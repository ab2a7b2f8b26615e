package knowledge

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// maxFileBytes bounds one knowledge file; a larger file is a problem, not an
// out-of-memory crash.
const maxFileBytes = 16 << 20

// knowledgeFiles lists the knowledge files directly inside dir, sorted: the
// FAQ files (*.yaml, *.yml) and the documents (*.md). A missing dir is empty.
func knowledgeFiles(dir string) ([]string, error) {
	var paths []string
	for _, pat := range []string{"*.yaml", "*.yml", "*.md"} {
		m, err := filepath.Glob(filepath.Join(dir, pat))
		if err != nil {
			return nil, fmt.Errorf("listing knowledge files: %w", err)
		}
		paths = append(paths, m...)
	}
	sort.Strings(paths)
	return paths, nil
}

// LoadDir loads and indexes every knowledge file in dir. A missing dir is an
// empty base. Problems in the files are returned together as a Problems error
// and no base: a half-loaded base would answer some questions wrongly.
func LoadDir(dir string) (*Base, error) {
	paths, err := knowledgeFiles(dir)
	if err != nil {
		return nil, err
	}
	return LoadFiles(paths)
}

// LoadFiles loads and indexes the given knowledge files (*.yaml, *.yml, *.md).
func LoadFiles(paths []string) (*Base, error) {
	var (
		faqs     []*FAQ
		passages []*Passage
		probs    Problems
	)
	for _, p := range paths {
		data, err := readLimited(p)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			probs = append(probs, Problem{File: p, Line: 1, Msg: err.Error()})
			continue
		}
		switch strings.ToLower(filepath.Ext(p)) {
		case ".md":
			passages = append(passages, splitMarkdown(p, data)...)
		default:
			fs, ps := parseFAQFile(p, data)
			faqs = append(faqs, fs...)
			probs = append(probs, ps...)
		}
	}
	byID := make(map[string]*FAQ, len(faqs))
	for _, f := range faqs {
		if prev := byID[f.ID]; prev != nil {
			probs = append(probs, Problem{File: f.File, Line: f.Line,
				Msg: fmt.Sprintf("duplicate faq id %q (first defined at %s:%d)", f.ID, prev.File, prev.Line)})
			continue
		}
		byID[f.ID] = f
	}
	if len(probs) > 0 {
		return nil, probs
	}
	return NewBase(faqs, passages), nil
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading knowledge file: %w", err)
	}
	if len(data) > maxFileBytes {
		return nil, fmt.Errorf("file larger than %d MiB", maxFileBytes>>20)
	}
	return data, nil
}

// NewBase indexes FAQs and passages that are already validated. Entries with a
// duplicate id after the first are ignored.
func NewBase(faqs []*FAQ, passages []*Passage) *Base {
	b := &Base{byID: make(map[string]*FAQ, len(faqs))}
	for _, f := range faqs {
		if f == nil || b.byID[f.ID] != nil {
			continue
		}
		b.byID[f.ID] = f
		b.FAQs = append(b.FAQs, f)
	}
	b.Passages = passages
	fb := newIndexBuilder()
	for i, f := range b.FAQs {
		fb.add(i, f.Question)
		for _, v := range f.Similar {
			fb.add(i, v)
		}
	}
	b.faqIndex = fb.build()
	pb := newIndexBuilder()
	for i, p := range b.Passages {
		pb.add(i, p.Title+"\n"+p.Text)
	}
	b.passageIndex = pb.build()
	return b
}

// faqKeys are the keys an FAQ entry may have.
var faqKeys = map[string]bool{"id": true, "question": true, "similar": true, "answer": true, "tags": true}

// parseFAQFile parses one FAQ file, walking the YAML node tree so that every
// problem carries the line it is on.
func parseFAQFile(path string, data []byte) ([]*FAQ, Problems) {
	var probs Problems
	add := func(line int, format string, args ...any) {
		probs = append(probs, Problem{File: path, Line: line, Msg: fmt.Sprintf(format, args...)})
	}
	var root yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil // an empty file holds no FAQs
		}
		add(yamlErrorLine(err), "%s", yamlErrorText(err))
		return nil, probs
	}
	doc := &root
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		doc = doc.Content[0]
	}
	if doc.Kind != yaml.MappingNode {
		add(doc.Line, "expected a mapping with a \"faqs\" list")
		return nil, probs
	}
	var list *yaml.Node
	for i := 0; i+1 < len(doc.Content); i += 2 {
		k, v := doc.Content[i], doc.Content[i+1]
		if k.Value != "faqs" {
			add(k.Line, "unknown key %q (expected \"faqs\")", k.Value)
			continue
		}
		list = v
	}
	if list == nil {
		if len(probs) == 0 {
			add(doc.Line, "missing \"faqs\" list")
		}
		return nil, probs
	}
	if list.Kind != yaml.SequenceNode {
		if list.Tag == "!!null" {
			return nil, probs
		}
		add(list.Line, "\"faqs\" must be a list")
		return nil, probs
	}
	var faqs []*FAQ
	for _, item := range list.Content {
		f, ps := parseFAQ(path, item)
		probs = append(probs, ps...)
		if f != nil && len(ps) == 0 {
			faqs = append(faqs, f)
		}
	}
	return faqs, probs
}

func parseFAQ(path string, n *yaml.Node) (*FAQ, Problems) {
	var probs Problems
	add := func(line int, format string, args ...any) {
		probs = append(probs, Problem{File: path, Line: line, Msg: fmt.Sprintf(format, args...)})
	}
	if n.Kind != yaml.MappingNode {
		add(n.Line, "faq entry must be a mapping with id, question and answer")
		return nil, probs
	}
	f := &FAQ{File: path, Line: n.Line}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !faqKeys[k.Value] {
			add(k.Line, "unknown faq key %q", k.Value)
			continue
		}
		switch k.Value {
		case "id", "question", "answer":
			if v.Kind != yaml.ScalarNode {
				add(v.Line, "%s must be a string", k.Value)
				continue
			}
			s := strings.TrimSpace(v.Value)
			switch k.Value {
			case "id":
				f.ID = s
			case "question":
				f.Question = s
			case "answer":
				f.Answer = s
			}
		case "similar", "tags":
			list, ok := stringList(v)
			if !ok {
				add(v.Line, "%s must be a list of strings", k.Value)
				continue
			}
			for j, s := range list {
				if s == "" {
					add(v.Content[j].Line, "empty entry in %s", k.Value)
				}
			}
			if k.Value == "similar" {
				f.Similar = list
			} else {
				f.Tags = list
			}
		}
	}
	if f.ID == "" {
		add(n.Line, "faq is missing an id")
	} else if strings.ContainsAny(f.ID, " \t\n") {
		add(n.Line, "faq id %q must not contain spaces", f.ID)
	}
	if f.Question == "" {
		add(n.Line, "faq %q is missing a question", f.ID)
	} else if Normalize(f.Question) == "" {
		add(n.Line, "faq %q: question has no words to match on", f.ID)
	}
	if f.Answer == "" {
		add(n.Line, "faq %q is missing an answer", f.ID)
	}
	return f, probs
}

func stringList(v *yaml.Node) ([]string, bool) {
	if v.Tag == "!!null" {
		return nil, true
	}
	if v.Kind != yaml.SequenceNode {
		return nil, false
	}
	out := make([]string, 0, len(v.Content))
	for _, c := range v.Content {
		if c.Kind != yaml.ScalarNode {
			return nil, false
		}
		out = append(out, strings.TrimSpace(c.Value))
	}
	return out, true
}

// yamlErrorLine extracts the line number yaml.v3 puts in its syntax errors
// ("yaml: line 7: ..."); 1 when there is none.
func yamlErrorLine(err error) int {
	msg := err.Error()
	if i := strings.Index(msg, "line "); i >= 0 {
		n := 0
		for _, c := range msg[i+5:] {
			if c < '0' || c > '9' {
				break
			}
			n = n*10 + int(c-'0')
		}
		if n > 0 {
			return n
		}
	}
	return 1
}

// yamlErrorText drops yaml.v3's "yaml: line N: " prefix, which Problem
// already prints.
func yamlErrorText(err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if strings.HasPrefix(msg, "line ") {
		if i := strings.Index(msg, ": "); i >= 0 {
			return msg[i+2:]
		}
	}
	return msg
}
