package apiclient

import (
	"fmt"

	"github.com/kefu-gateway/kefu/adapters"
)

// SendError maps a failed send onto the adapter contract's errors, so an
// adapter's Send can return it as is and the outbox decides without knowing
// the platform: a closed 48-hour window becomes adapters.ErrWindowClosed, a
// used-up quota adapters.ErrQuotaExceeded, other permanent failures (a 微信客服
// session owned by a human, an invalid recipient, a malformed request) are
// wrapped with adapters.Permanent, and transient ones are returned unchanged
// for a retry. The original error stays in the chain for errors.As.
func SendError(err error) error {
	switch {
	case err == nil:
		return nil
	case IsWindowClosed(err):
		return fmt.Errorf("%w: %w", adapters.ErrWindowClosed, err)
	case IsQuotaExceeded(err):
		return fmt.Errorf("%w: %w", adapters.ErrQuotaExceeded, err)
	case IsPermanent(err):
		return adapters.Permanent(err)
	}
	return err
}
