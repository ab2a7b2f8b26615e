package wxmsg

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"

	"github.com/kefu-gateway/kefu/adapters/internal/wxcrypto"
)

// pushPayload is the union of the fields of every WeChat/WeCom push this
// package reads. XML tags and JSON keys are identical (PROTOCOLS.md §2 "JSON
// keys == XML tags").
type pushPayload struct {
	ToUserName   string   `xml:"ToUserName" json:"ToUserName"`
	FromUserName string   `xml:"FromUserName" json:"FromUserName"`
	CreateTime   flexInt  `xml:"CreateTime" json:"CreateTime"`
	MsgType      string   `xml:"MsgType" json:"MsgType"`
	MsgID        flexText `xml:"MsgId" json:"MsgId"`
	// MsgID2 is the spelling of template-send result events ("MsgID").
	MsgID2  flexText `xml:"MsgID" json:"MsgID"`
	AgentID flexText `xml:"AgentID" json:"AgentID"`
	UnionID string   `xml:"UnionId" json:"UnionId"`

	Content      string `xml:"Content" json:"Content"`
	PicURL       string `xml:"PicUrl" json:"PicUrl"`
	MediaID      string `xml:"MediaId" json:"MediaId"`
	Format       string `xml:"Format" json:"Format"`
	Recognition  string `xml:"Recognition" json:"Recognition"`
	ThumbMediaID string `xml:"ThumbMediaId" json:"ThumbMediaId"`

	LocationX flexFloat `xml:"Location_X" json:"Location_X"`
	LocationY flexFloat `xml:"Location_Y" json:"Location_Y"`
	Scale     flexText  `xml:"Scale" json:"Scale"`
	Label     string    `xml:"Label" json:"Label"`

	Title       string `xml:"Title" json:"Title"`
	Description string `xml:"Description" json:"Description"`
	URL         string `xml:"Url" json:"Url"`

	Event     string    `xml:"Event" json:"Event"`
	EventKey  string    `xml:"EventKey" json:"EventKey"`
	Ticket    string    `xml:"Ticket" json:"Ticket"`
	Latitude  flexFloat `xml:"Latitude" json:"Latitude"`
	Longitude flexFloat `xml:"Longitude" json:"Longitude"`
	Precision flexText  `xml:"Precision" json:"Precision"`

	// Mini-program fields (PROTOCOLS.md §2).
	SessionFrom string `xml:"SessionFrom" json:"SessionFrom"`
	AppID       string `xml:"AppId" json:"AppId"`
	PagePath    string `xml:"PagePath" json:"PagePath"`
	ThumbURL    string `xml:"ThumbUrl" json:"ThumbUrl"`

	// 微信客服 callback fields (PROTOCOLS.md §3.3).
	Token    string `xml:"Token" json:"Token"`
	OpenKfID string `xml:"OpenKfId" json:"OpenKfId"`
}

// decodePush decodes one push payload in the given format.
func decodePush(payload []byte, format wxcrypto.Format) (*pushPayload, error) {
	if len(payload) > MaxPayloadLen {
		return nil, fmt.Errorf("%w: %d bytes (limit %d)", ErrTooLarge, len(payload), MaxPayloadLen)
	}
	if len(bytes.TrimSpace(payload)) == 0 {
		return nil, fmt.Errorf("%w: empty payload", ErrMalformed)
	}
	p := new(pushPayload)
	var err error
	if format == wxcrypto.FormatJSON {
		err = json.Unmarshal(payload, p)
	} else if !decodeFlatXML(payload, p) {
		*p = pushPayload{}
		err = xml.Unmarshal(payload, p)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: decoding %s: %v", ErrMalformed, format, err)
	}
	return p, nil
}

// flexText is a string that also accepts a JSON number, for ids such as
// MsgId that are 64-bit numbers in JSON (too large for float64) and strings
// in XML.
type flexText string

// UnmarshalJSON accepts a JSON string, number or null.
func (f *flexText) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*f = ""
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexText(s)
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("want a string or a number, got %.20s", b)
		}
		*f = flexText(n.String())
	}
	return nil
}

// UnmarshalXML trims the element text.
func (f *flexText) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	var s string
	if err := d.DecodeElement(&s, &start); err != nil {
		return err
	}
	*f = flexText(strings.TrimSpace(s))
	return nil
}

// flexInt is an int64 that also accepts a quoted number in JSON and
// surrounding spaces in XML.
type flexInt int64

// UnmarshalJSON accepts a JSON number, a numeric string or null.
func (f *flexInt) UnmarshalJSON(b []byte) error {
	var t flexText
	if err := t.UnmarshalJSON(b); err != nil {
		return err
	}
	return f.set(string(t))
}

// UnmarshalXML parses the element text as a decimal integer.
func (f *flexInt) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	var t flexText
	if err := t.UnmarshalXML(d, start); err != nil {
		return err
	}
	return f.set(string(t))
}

func (f *flexInt) set(s string) error {
	if s == "" {
		*f = 0
		return nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("want an integer, got %.20q", s)
	}
	*f = flexInt(n)
	return nil
}

// flexFloat is a float64 that also accepts a quoted number in JSON.
type flexFloat float64

// UnmarshalJSON accepts a JSON number, a numeric string or null.
func (f *flexFloat) UnmarshalJSON(b []byte) error {
	var t flexText
	if err := t.UnmarshalJSON(b); err != nil {
		return err
	}
	return f.set(string(t))
}

// UnmarshalXML parses the element text as a decimal number.
func (f *flexFloat) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	var t flexText
	if err := t.UnmarshalXML(d, start); err != nil {
		return err
	}
	return f.set(string(t))
}

func (f *flexFloat) set(s string) error {
	if s == "" {
		*f = 0
		return nil
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("want a number, got %.20q", s)
	}
	*f = flexFloat(n)
	return nil
}
