package wxmsg

import (
	"bytes"
	"reflect"
	"strings"
	"unicode/utf8"
)

// decodeFlatXML decodes the shape nearly every push has — one root element
// whose children each hold plain text or one CDATA section (PROTOCOLS.md
// §1.3 examples) — into p, without encoding/xml's generality, which costs
// more than the rest of a callback's parsing and checking together.
//
// It reports false, leaving p to be discarded, for anything outside that
// shape: a prolog or comment, attributes, nested elements, entities, a
// carriage return (XML turns \r\n into \n), a name outside [A-Za-z0-9_], a
// character XML forbids, a repeated field or a value a field refuses.
// encoding/xml then decodes the payload, so the result never differs from
// encoding/xml's (FuzzFlatXMLAgreesWithEncodingXML checks exactly that).
func decodeFlatXML(b []byte, p *pushPayload) bool {
	i := skipXMLSpace(b, 0)
	root, i, ok := openTag(b, i)
	if !ok {
		return false
	}
	var seen uint64
	for {
		i = skipXMLSpace(b, i)
		if i+1 < len(b) && b[i] == '<' && b[i+1] == '/' {
			// Only the root's end tag may come here; what follows it is
			// not read, as with encoding/xml.
			_, ok := closeTag(b, i, root)
			return ok
		}
		var name []byte
		if name, i, ok = openTag(b, i); !ok {
			return false
		}
		var value []byte
		if value, i, ok = elementText(b, i); !ok {
			return false
		}
		if i, ok = closeTag(b, i, name); !ok {
			return false
		}
		bit, known := setFlatField(p, name, value)
		if !known {
			continue // encoding/xml skips elements no field names
		}
		if bit == 0 || seen&bit != 0 {
			return false // refused value, or repeated
		}
		seen |= bit
	}
}

func skipXMLSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n') {
		i++
	}
	return i
}

// openTag reads "<Name>" at i.
func openTag(b []byte, i int) (name []byte, next int, ok bool) {
	if i >= len(b) || b[i] != '<' {
		return nil, i, false
	}
	j := i + 1
	for j < len(b) && isFlatNameByte(b[j], j == i+1) {
		j++
	}
	if j == i+1 || j >= len(b) || b[j] != '>' {
		return nil, i, false
	}
	return b[i+1 : j], j + 1, true
}

// closeTag reads "</name>" at i.
func closeTag(b []byte, i int, name []byte) (next int, ok bool) {
	end := i + 2 + len(name)
	if end >= len(b) || b[i] != '<' || b[i+1] != '/' || !bytes.Equal(b[i+2:end], name) || b[end] != '>' {
		return i, false
	}
	return end + 1, true
}

func isFlatNameByte(c byte, first bool) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		return true
	case c >= '0' && c <= '9':
		return !first
	}
	return false
}

var (
	cdataOpen  = []byte("<![CDATA[")
	cdataClose = []byte("]]>")
)

// elementText reads one CDATA section, or plain text without markup or
// entities, up to the next '<'.
func elementText(b []byte, i int) (text []byte, next int, ok bool) {
	if bytes.HasPrefix(b[i:], cdataOpen) {
		start := i + len(cdataOpen)
		n := bytes.Index(b[start:], cdataClose)
		if n < 0 {
			return nil, i, false
		}
		text = b[start : start+n]
		next = start + n + len(cdataClose)
	} else {
		n := bytes.IndexByte(b[i:], '<')
		if n < 0 {
			return nil, i, false
		}
		text = b[i : i+n]
		if bytes.IndexByte(text, '&') >= 0 || bytes.IndexByte(text, '>') >= 0 {
			return nil, i, false
		}
		next = i + n
	}
	return text, next, validXMLChars(text)
}

// validXMLChars reports whether s is UTF-8 of characters XML allows,
// without carriage returns (encoding/xml rewrites those).
func validXMLChars(s []byte) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\t' && c != '\n' {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			return false
		}
		if !(r >= 0x80 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF) {
			return false
		}
		i += size
	}
	return true
}

// flatFields maps each pushPayload field's XML name to its index, read off
// the struct tags once, so the fast decoder knows every field the struct
// has. A field's bit in decodeFlatXML's seen set is 1 << its index.
var flatFields = func() map[string]int {
	typ := reflect.TypeOf(pushPayload{})
	if typ.NumField() > 64 {
		panic("wxmsg: pushPayload has more fields than decodeFlatXML's seen set holds")
	}
	m := make(map[string]int, typ.NumField())
	for i := range typ.NumField() {
		name, _, _ := strings.Cut(typ.Field(i).Tag.Get("xml"), ",")
		m[name] = i
	}
	return m
}()

// numberSetter is a field that parses its trimmed text (flexInt,
// flexFloat).
type numberSetter interface{ set(string) error }

// setFlatField stores value in the field named name as encoding/xml would:
// strings verbatim, flexText trimmed, numbers parsed. known is false for a
// name no field has; bit is the field's own bit, or 0 when the field
// refused the value.
func setFlatField(p *pushPayload, name, value []byte) (bit uint64, known bool) {
	i, ok := flatFields[string(name)]
	if !ok {
		return 0, false
	}
	switch f := reflect.ValueOf(p).Elem().Field(i).Addr().Interface().(type) {
	case *string:
		*f = string(value)
	case *flexText:
		*f = flexText(bytes.TrimSpace(value))
	case numberSetter:
		if f.set(string(bytes.TrimSpace(value))) != nil {
			return 0, true
		}
	default:
		return 0, true // a field type this decoder does not know: encoding/xml decides
	}
	return 1 << i, true
}
