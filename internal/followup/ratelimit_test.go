package followup_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/kefu-gateway/kefu/internal/followup"
	"github.com/kefu-gateway/kefu/internal/ratelimit"
	"github.com/kefu-gateway/kefu/internal/testutil/fakechannel"
)

// Follow-ups due together draw from the channel account's rate limit
// (rate_limits), as campaigns and agent replies do: twelve due at the same
// moment go out at 20/s without burst, spread over at least eleven
// intervals of 50 ms, although four workers could send them at once.
func TestFollowupsKeepTheChannelRate(t *testing.T) {
	e := setup(t, []string{"rl"}, nil, nil, ratelimit.Config{Channels: []ratelimit.ChannelLimit{
		{Channel: fakechannel.Kind, Account: "rl", Rate: ratelimit.Rate{Events: 20, Per: time.Second, Burst: 1}}}})
	const n, text = 12, "还在考虑吗？"
	var mu sync.Mutex
	var sentAt []time.Time
	fakechannel.Get("rl").Fail = func(_ int, m message.Message) error {
		if m.Text == text {
			mu.Lock()
			sentAt = append(sentAt, time.Now())
			mu.Unlock()
		}
		return nil
	}
	var recs []*followup.Record
	for i := range n {
		user := fmt.Sprint("u", i)
		e.say(t, "rl", user, "hi")
		// The env's clock stands still: the same delay is the same due time.
		recs = append(recs, e.schedule(t, conv("rl", user), followup.Followup{ID: "nudge", Delay: 500 * time.Millisecond, Text: text}))
	}
	for _, r := range recs {
		if got := e.record(t, r.ContactID, r.Key, 15*time.Second); got.Status != followup.StatusSent {
			t.Fatalf("follow-up %+v", got)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(sentAt) != n {
		t.Fatalf("%d sends, want %d", len(sentAt), n)
	}
	first, last := sentAt[0], sentAt[0]
	for _, at := range sentAt {
		if at.Before(first) {
			first = at
		}
		if at.After(last) {
			last = at
		}
	}
	if spread := last.Sub(first); spread < 500*time.Millisecond {
		t.Fatalf("%d follow-ups at 20/s went out within %s, want about 550 ms (at least 500)", n, spread)
	}
}
