package apiclient

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/kefu-gateway/kefu/adapters"
)

func TestSendError(t *testing.T) {
	pe := func(code int) error {
		return fmt.Errorf("sending: %w", &PlatformError{Platform: WeChat, API: "x", Code: code})
	}
	tests := []struct {
		name      string
		err       error
		want      error
		permanent bool
	}{
		{"window", pe(45015), adapters.ErrWindowClosed, true},
		{"quota", pe(45047), adapters.ErrQuotaExceeded, true},
		{"kf quota", pe(95001), adapters.ErrQuotaExceeded, true},
		{"kf session", pe(95018), adapters.ErrPermanent, true},
		{"invalid openid", pe(40003), adapters.ErrPermanent, true},
		{"busy", pe(-1), nil, false},
		{"canceled", context.Canceled, context.Canceled, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := SendError(tt.err)
			if tt.want != nil && !errors.Is(got, tt.want) {
				t.Fatalf("SendError = %v, want %v in the chain", got, tt.want)
			}
			if errors.Is(got, adapters.ErrPermanent) != tt.permanent {
				t.Fatalf("permanent = %v, want %v", !tt.permanent, tt.permanent)
			}
			if _, ok := AsPlatformError(got); !ok && tt.err != context.Canceled {
				t.Fatal("the PlatformError left the chain")
			}
		})
	}
	if SendError(nil) != nil {
		t.Fatal("SendError(nil) != nil")
	}
}
