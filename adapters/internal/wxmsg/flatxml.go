package wxmsg

import (
	"bytes"
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

// setFlatField stores value in the field named name. known is false for a
// name no field has; bit is the field's own bit, or 0 when the field
// refused the value.
func setFlatField(p *pushPayload, name, value []byte) (bit uint64, known bool) {
	str := func(n uint, dst *string) (uint64, bool) {
		*dst = string(value)
		return 1 << n, true
	}
	text := func(n uint, dst *flexText) (uint64, bool) {
		*dst = flexText(bytes.TrimSpace(value))
		return 1 << n, true
	}
	num := func(n uint, set func(string) error) (uint64, bool) {
		if set(string(bytes.TrimSpace(value))) != nil {
			return 0, true
		}
		return 1 << n, true
	}
	switch string(name) {
	case "ToUserName":
		return str(0, &p.ToUserName)
	case "FromUserName":
		return str(1, &p.FromUserName)
	case "CreateTime":
		return num(2, p.CreateTime.set)
	case "MsgType":
		return str(3, &p.MsgType)
	case "MsgId":
		return text(4, &p.MsgID)
	case "MsgID":
		return text(5, &p.MsgID2)
	case "AgentID":
		return text(6, &p.AgentID)
	case "UnionId":
		return str(7, &p.UnionID)
	case "Content":
		return str(8, &p.Content)
	case "PicUrl":
		return str(9, &p.PicURL)
	case "MediaId":
		return str(10, &p.MediaID)
	case "Format":
		return str(11, &p.Format)
	case "Recognition":
		return str(12, &p.Recognition)
	case "ThumbMediaId":
		return str(13, &p.ThumbMediaID)
	case "Location_X":
		return num(14, p.LocationX.set)
	case "Location_Y":
		return num(15, p.LocationY.set)
	case "Scale":
		return text(16, &p.Scale)
	case "Label":
		return str(17, &p.Label)
	case "Title":
		return str(18, &p.Title)
	case "Description":
		return str(19, &p.Description)
	case "Url":
		return str(20, &p.URL)
	case "Event":
		return str(21, &p.Event)
	case "EventKey":
		return str(22, &p.EventKey)
	case "Ticket":
		return str(23, &p.Ticket)
	case "Latitude":
		return num(24, p.Latitude.set)
	case "Longitude":
		return num(25, p.Longitude.set)
	case "Precision":
		return text(26, &p.Precision)
	case "SessionFrom":
		return str(27, &p.SessionFrom)
	case "AppId":
		return str(28, &p.AppID)
	case "PagePath":
		return str(29, &p.PagePath)
	case "ThumbUrl":
		return str(30, &p.ThumbURL)
	case "Token":
		return str(31, &p.Token)
	case "OpenKfId":
		return str(32, &p.OpenKfID)
	}
	return 0, false
}
