package apiclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
)

func TestClassification(t *testing.T) {
	pe := func(code int) error {
		return fmt.Errorf("sending: %w", &PlatformError{Platform: WeChat, API: "x", Code: code})
	}
	status := func(s int) error { return &PlatformError{Platform: DingTalk, API: "x", HTTPStatus: s} }
	dt := &PlatformError{Platform: DingTalk, API: "x", HTTPStatus: 400, Key: "InvalidAuthentication"}
	netErr := &net.OpError{Op: "dial", Err: errors.New("refused")}

	tests := []struct {
		name                                             string
		err                                              error
		token, window, quota, kfSession, rate, transient bool
		permanent                                        bool
	}{
		{name: "nil"},
		{name: "40001", err: pe(40001), token: true, transient: true},
		{name: "40014", err: pe(40014), token: true, transient: true},
		{name: "42001", err: pe(42001), token: true, transient: true},
		{name: "dingtalk InvalidAuthentication", err: dt, token: true, transient: true},
		{name: "45015", err: pe(45015), window: true, permanent: true},
		{name: "45047", err: pe(45047), quota: true, permanent: true},
		{name: "95001", err: pe(95001), quota: true, permanent: true},
		{name: "95018", err: pe(95018), kfSession: true, permanent: true},
		{name: "45009", err: pe(45009), rate: true, transient: true},
		{name: "429", err: status(429), rate: true, transient: true},
		{name: "-1 busy", err: pe(-1), transient: true},
		{name: "502", err: status(502), transient: true},
		{name: "404", err: status(404), permanent: true},
		{name: "40003 invalid openid", err: pe(40003), permanent: true},
		{name: "network", err: fmt.Errorf("calling: %w", netErr), transient: true},
		{name: "deadline", err: fmt.Errorf("x: %w", context.DeadlineExceeded), transient: true},
		{name: "canceled", err: context.Canceled},
		{name: "bad request", err: fmt.Errorf("x: %w", ErrBadRequest), permanent: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := []bool{IsTokenInvalid(tt.err), IsWindowClosed(tt.err), IsQuotaExceeded(tt.err), IsKFSessionInvalid(tt.err), IsRateLimited(tt.err), IsTransient(tt.err), IsPermanent(tt.err)}
			want := []bool{tt.token, tt.window, tt.quota, tt.kfSession, tt.rate, tt.transient, tt.permanent}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("token/window/quota/kf/rate/transient/permanent = %v, want %v", got, want)
				}
			}
		})
	}
}

func TestPlatformErrorString(t *testing.T) {
	e := &PlatformError{Platform: WeCom, API: "cgi-bin/kf/send_msg", Code: 95018, Msg: "send msg session status invalid"}
	if e.Error() != "wecom cgi-bin/kf/send_msg: errcode 95018: send msg session status invalid" {
		t.Fatalf("Error() = %q", e.Error())
	}
	d := &PlatformError{Platform: DingTalk, API: "v1.0/robot/oToMessages/batchSend", HTTPStatus: 400, Key: "InvalidAuthentication", Msg: "不合法的access_token"}
	if d.Error() != "dingtalk v1.0/robot/oToMessages/batchSend: HTTP 400 InvalidAuthentication: 不合法的access_token" {
		t.Fatalf("Error() = %q", d.Error())
	}
	if got := truncate("一二三", 4); got != "一…" {
		t.Fatalf("truncate = %q", got)
	}
}
