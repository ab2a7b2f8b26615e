// Package rawhttp performs one HTTP exchange over its own TCP connection,
// writing the request beside reading the answer. A server that answers
// before it has read the whole request and closes — fasthttp does so for a
// body over its limit (413) or headers over its read buffer (431) — is
// still heard; an http.Client may report the reset instead.
package rawhttp

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"time"
)

// Do sends req to addr and returns the answer with its body read whole.
// timeout bounds the dial and the whole exchange.
func Do(addr string, req *http.Request, timeout time.Duration) (*http.Response, error) {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(timeout))
	go func() { _ = req.Write(conn) }() // may fail once the server has answered
	res, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	res.Body = io.NopCloser(bytes.NewReader(body))
	return res, err
}
