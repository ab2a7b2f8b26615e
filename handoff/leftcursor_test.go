package handoff

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/internal/testutil/redistest"
	"github.com/redis/go-redis/v9"
)

// restoreLeftScript, which noticeLeft runs for a notice that could not be
// queued: the agent's cursor goes back, so the next notice carries its
// messages; a cursor another notice moved since stays where it is. (The
// call site: TestLeftNoticeThatCannotBeQueuedComesAgain.)
func TestLeftCursorGoesBackWhenTheNoticeFails(t *testing.T) {
	db := redistest.New(t)
	ctx := context.Background()
	stream, cursor := "kefu:{ho}:msgs", "kefu:{ho}:leftseen:alice"
	add := func() string {
		return db.Client.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: []any{"queue", "q", "text", "t"}}).Val()
	}
	take := func() (string, int) {
		t.Helper()
		res, err := takeLeftScript.Run(ctx, db.Client, []string{stream, cursor}, leftLookback.Milliseconds(), leftTakeMax, leftCursorTTL.Milliseconds()).Slice()
		if err != nil {
			t.Fatal(err)
		}
		before, _ := res[0].(string)
		return before, len(res[1].([]any))
	}
	first := add()
	if before, n := take(); before != "" || n != 1 {
		t.Fatalf("first take: before %q, %d entries", before, n)
	}
	second := add()
	if before, n := take(); before != first || n != 1 {
		t.Fatalf("second take: before %q, %d entries", before, n)
	}
	// The second notice failed: back to the first.
	if err := restoreLeftScript.Run(ctx, db.Client, []string{cursor}, second, first, leftCursorTTL.Milliseconds()).Err(); err != nil {
		t.Fatal(err)
	}
	if _, n := take(); n != 1 {
		t.Fatalf("after the restore the next take has %d entries, want the second again", n)
	}
	// A failed first notice forgets the cursor; one moved since is kept.
	if n, err := restoreLeftScript.Run(ctx, db.Client, []string{cursor}, first, "", leftCursorTTL.Milliseconds()).Int(); err != nil || n != 0 {
		t.Fatalf("restoring a cursor another notice had moved: %d, %v; want 0 (kept)", n, err)
	}
	if err := restoreLeftScript.Run(ctx, db.Client, []string{cursor}, second, "", leftCursorTTL.Milliseconds()).Err(); err != nil {
		t.Fatal(err)
	}
	if db.Client.Exists(ctx, cursor).Val() != 0 {
		t.Fatal("a failed first notice left a cursor")
	}
	if _, n := take(); n != 2 {
		t.Fatalf("without a cursor the take reaches back over both entries, got %d", n)
	}
}

// An agent's first notice reaches back leftLookback by Redis's clock, which
// numbers the stream: a message left 25 h ago is not in it, one left 23 h
// ago is.
func TestFirstLeftNoticeReachesBackADay(t *testing.T) {
	db := redistest.New(t)
	ctx := context.Background()
	stream, cursor := "kefu:{ho}:msgs", "kefu:{ho}:leftseen:bob"
	now, err := db.Client.Time(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, ago := range []time.Duration{25 * time.Hour, 23 * time.Hour} {
		id := fmt.Sprintf("%d-0", now.Add(-ago).UnixMilli())
		if err := db.Client.XAdd(ctx, &redis.XAddArgs{Stream: stream, ID: id, Values: []any{"queue", "q", "text", ago.String()}}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	res, err := takeLeftScript.Run(ctx, db.Client, []string{stream, cursor}, leftLookback.Milliseconds(), leftTakeMax, leftCursorTTL.Milliseconds()).Slice()
	if err != nil {
		t.Fatal(err)
	}
	entries := res[1].([]any)
	if len(entries) != 1 {
		t.Fatalf("first notice has %d entries, want only the one left 23 h ago", len(entries))
	}
	if m, _ := decodeLeft(entries[0]); m.Text != (23 * time.Hour).String() {
		t.Fatalf("first notice has %q", m.Text)
	}
}
