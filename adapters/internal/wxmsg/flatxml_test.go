package wxmsg

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// flatXMLCases are payloads at the edges of the fast decoder's shape; the
// fuzz target starts from them too.
var flatXMLCases = []string{
	"<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[o1]]></FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[你好]]></Content><MsgId>123</MsgId></xml>",
	"<xml>\n  <Content>plain text</Content>\n  <MsgId> 42 </MsgId>\n</xml>",
	"<xml><Content><![CDATA[a]]></Content><Content><![CDATA[b]]></Content></xml>",
	"<xml><Content>a&amp;b</Content></xml>",
	"<xml><Content>a<![CDATA[b]]>c</Content></xml>",
	"<xml><Content>line\r\nbreak</Content></xml>",
	"<xml><Content><![CDATA[line\r\nbreak]]></Content></xml>",
	"<xml><Content><![CDATA[<b>not markup</b> ]]></Content></xml>",
	"<xml><ScanCodeInfo><ScanType>qrcode</ScanType></ScanCodeInfo><Event>scancode_push</Event></xml>",
	"<?xml version=\"1.0\"?><xml><Content>x</Content></xml>",
	"<xml a=\"1\"><Content>x</Content></xml>",
	"<xml><Content>x</Content ></xml>",
	"<xml><Content/></xml>",
	"<xml><Unknown>x</Unknown><Unknown>y</Unknown><MsgType>text</MsgType></xml>",
	"<xml><CreateTime>abc</CreateTime></xml>",
	"<xml><Location_X> 23.1 </Location_X><Location_Y>1e3</Location_Y></xml>",
	"<xml><Content>\x01</Content></xml>",
	"<xml><Content>\xff</Content></xml>",
	"<xml><Content>\uFFFE</Content></xml>",
	"<xml><Content>x</Content></xml>trailing <junk",
	"<xml><Content>x</Content>",
	"<xml><Content>x</Contents></xml>",
	"<xml><Content><![CDATA[x]]> </Content></xml>",
	"<xml><Content>a]]>b</Content></xml>",
	"  <xml><Content>x</Content></xml>",
	"text<xml><Content>x</Content></xml>",
	"<xml></xml>",
	"<xml><1a>x</1a></xml>",
	"<x:xml><Content>x</Content></x:xml>",
}

// checkFlatAgrees fails when the fast decoder accepts payload and
// encoding/xml does not, or decodes it differently.
func checkFlatAgrees(t *testing.T, payload []byte) {
	t.Helper()
	var fast pushPayload
	if !decodeFlatXML(payload, &fast) {
		return
	}
	var slow pushPayload
	if err := xml.Unmarshal(payload, &slow); err != nil {
		t.Fatalf("fast decoder accepted %q, encoding/xml refuses it: %v", payload, err)
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("decoders disagree on %q:\nfast %+v\nxml  %+v", payload, fast, slow)
	}
}

func TestFlatXMLAgreesWithEncodingXML(t *testing.T) {
	accepted := 0
	for _, s := range flatXMLCases {
		checkFlatAgrees(t, []byte(s))
		var p pushPayload
		if decodeFlatXML([]byte(s), &p) {
			accepted++
		}
	}
	if accepted < 5 {
		t.Fatalf("the fast decoder took only %d of the edge cases; it is not being used", accepted)
	}
}

// Every payload in testdata decodes through the fast decoder exactly as
// encoding/xml does (or is left to it); some take the fast path, and a
// plain text push always does.
func TestFlatXMLTakesTheRealPayloads(t *testing.T) {
	fast := 0
	for _, dir := range []string{"oa", "wecom", "kf", "mp"} {
		files, _ := filepath.Glob(filepath.Join("testdata", dir, "*.xml"))
		for _, name := range files {
			b, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			checkFlatAgrees(t, b)
			if decodeFlatXML(b, &pushPayload{}) {
				fast++
			}
		}
	}
	if fast == 0 {
		t.Fatal("no payload in testdata took the fast path")
	}
	t.Logf("%d testdata payloads took the fast path", fast)
	var p pushPayload
	if !decodeFlatXML([]byte(flatXMLCases[0]), &p) || p.Content != "你好" || p.CreateTime != 1700000000 || p.MsgID != "123" {
		t.Fatalf("a plain text push did not take the fast path: %+v", p)
	}
}

// Every pushPayload field takes a value through the fast decoder: a field
// of a type it does not handle would send every payload carrying it to
// encoding/xml.
func TestFlatXMLTakesEveryField(t *testing.T) {
	typ := reflect.TypeOf(pushPayload{})
	for i := range typ.NumField() {
		tag, _, _ := strings.Cut(typ.Field(i).Tag.Get("xml"), ",")
		var p pushPayload
		if bit, known := setFlatField(&p, []byte(tag), []byte("1")); !known || bit != 1<<i {
			t.Errorf("field %s (xml %q): bit %b, known %v", typ.Field(i).Name, tag, bit, known)
		}
	}
}
