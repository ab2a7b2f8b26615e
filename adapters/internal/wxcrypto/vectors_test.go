package wxcrypto

import (
	"bytes"
	"errors"
	"net/url"
	"os"
	"strings"
	"testing"
)

// Tencent's published WeCom callback sample (PROTOCOLS.md §0).
const (
	vecToken   = "QDG6eK"
	vecAESKey  = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
	vecCorpID  = "wx5823bf96d3bd56c7"
	vecEchoStr = "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="
)

func vectorCrypter(t testing.TB, receiveID string) *Crypter {
	t.Helper()
	c, err := New(Config{Token: vecToken, EncodingAESKey: vecAESKey, ReceiveID: receiveID})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSignatureVectors(t *testing.T) {
	tests := []struct {
		name  string
		parts []string
		want  string
	}{
		{"mini-program plain signature [MP-push]", []string{"AAAAA", "1714036504", "1514711492"}, "f464b24fc39322e44b38aa78f5edd27bd1441696"},
		{"WeCom URL check msg_signature", []string{vecToken, "1409659589", "263014780", vecEchoStr}, "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Signature(tt.parts...); got != tt.want {
				t.Fatalf("Signature = %s, want %s", got, tt.want)
			}
			// The order of the arguments must not matter: the values are sorted.
			rev := make([]string, len(tt.parts))
			for i, p := range tt.parts {
				rev[len(rev)-1-i] = p
			}
			orig := append([]string(nil), rev...)
			if got := Signature(rev...); got != tt.want {
				t.Fatalf("Signature(reversed) = %s, want %s", got, tt.want)
			}
			if strings.Join(rev, "|") != strings.Join(orig, "|") {
				t.Fatal("Signature modified its argument slice")
			}
		})
	}
	if err := VerifySignature("AAAAA", "1714036504", "1514711492", "f464b24fc39322e44b38aa78f5edd27bd1441696"); err != nil {
		t.Fatalf("VerifySignature(vector) = %v", err)
	}
	if err := VerifySignature("AAAAB", "1714036504", "1514711492", "f464b24fc39322e44b38aa78f5edd27bd1441696"); !errors.Is(err, ErrSignatureMismatch) {
		t.Fatalf("VerifySignature(wrong token) = %v, want ErrSignatureMismatch", err)
	}
}

func TestOpenEchoOfficialVector(t *testing.T) {
	c := vectorCrypter(t, vecCorpID)
	// The sample GET request, URL-encoded exactly as WeCom sends it.
	raw := "msg_signature=5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3&timestamp=1409659589&nonce=263014780&echostr=P9nAzCzyDtyTWESHep1vC5X9xho%2FqYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp%2B4RPcs8TgAE7OaBO%2BFZXvnaqQ%3D%3D"
	v, err := url.ParseQuery(raw)
	if err != nil {
		t.Fatal(err)
	}
	q, err := ParseQuery(v)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.OpenEcho(q)
	if err != nil {
		t.Fatalf("OpenEcho = %v", err)
	}
	if string(got) != "1616140317555161061" {
		t.Fatalf("OpenEcho = %q, want 1616140317555161061", got)
	}

	// A '+' that reached us unescaped decodes to a space; it must still verify.
	v.Set("echostr", strings.ReplaceAll(vecEchoStr, "+", " "))
	q, err = ParseQuery(v)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c.OpenEcho(q); err != nil || string(got) != "1616140317555161061" {
		t.Fatalf("OpenEcho(space for plus) = %q, %v", got, err)
	}
}

func TestOpenRequestOfficialPost(t *testing.T) {
	body, err := os.ReadFile("testdata/wecom_official_post.xml")
	if err != nil {
		t.Fatal(err)
	}
	q := Query{MsgSignature: "477715d11cdb4164915debcba66cb864d751f3e6", Timestamp: "1409659813", Nonce: "1372623149"}

	opened, err := vectorCrypter(t, vecCorpID).OpenRequest(q, body, FormatXML)
	if err != nil {
		t.Fatalf("OpenRequest = %v", err)
	}
	if !opened.Encrypted {
		t.Fatal("Encrypted = false for an encrypted body")
	}
	for _, want := range []string{"<ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName>", "<MsgType><![CDATA[text]]></MsgType>", "<AgentID>218</AgentID>"} {
		if !bytes.Contains(opened.Plain, []byte(want)) {
			t.Errorf("plaintext lacks %s:\n%s", want, opened.Plain)
		}
	}

	// The same payload for another corp must be refused: the receive id is checked.
	_, err = vectorCrypter(t, "wwSomeOtherCorp").OpenRequest(q, body, FormatXML)
	if !errors.Is(err, ErrReceiveIDMismatch) || !IsAuthFailure(err) {
		t.Fatalf("OpenRequest(other corp) = %v, want ErrReceiveIDMismatch", err)
	}

	// Any change to the ciphertext breaks msg_signature before decryption.
	tampered := bytes.Replace(body, []byte("RypEv"), []byte("RypEw"), 1)
	if _, err := vectorCrypter(t, vecCorpID).OpenRequest(q, tampered, FormatXML); !errors.Is(err, ErrSignatureMismatch) {
		t.Fatalf("OpenRequest(tampered) = %v, want ErrSignatureMismatch", err)
	}
}
