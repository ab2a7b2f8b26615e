package wecomkf

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
	"github.com/kefu-gateway/kefu/adapters/internal/apiclient"
	"github.com/kefu-gateway/kefu/adapters/internal/wxmsg"
	"github.com/kefu-gateway/kefu/workers"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// TypeSync pulls a kf account's new messages with sync_msg and hands them to
// the router.
const TypeSync = "wecom_kf:sync"

// SyncPayload names the account and the kf account (open_kfid, or "_all")
// to pull.
type SyncPayload struct {
	Account  string `json:"account"`
	OpenKfID string `json:"open_kfid"`
}

// SyncTaskID is the asynq task id of a kf account's pull: one id per kf
// account, so callbacks arriving while a pull is queued coalesce into it.
func SyncTaskID(account, openKfID string) string { return TypeSync + ":" + account + ":" + openKfID }

// NewSyncTask returns a sync task for p.
func NewSyncTask(p SyncPayload, opts ...asynq.Option) (*asynq.Task, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encoding kf sync task: %w", err)
	}
	base := []asynq.Option{asynq.Queue(workers.QueueCritical), asynq.MaxRetry(10), asynq.Timeout(10 * time.Minute)}
	return asynq.NewTask(TypeSync, b, append(base, opts...)...), nil
}

// followUpDelay is how far ahead a follow-up pull is scheduled.
const followUpDelay = time.Second

// enqueueSync schedules a pull of kf. The task id is fixed per kf account so
// a burst of callbacks coalesces into one queued pull. A queued pull covers
// every callback before it starts; but when the id is taken by a pull that
// is already running, that pull may have finished its last page before this
// callback's messages existed. So on a conflict a follow-up pull is also
// scheduled, one second ahead under an id per second: every callback of
// that second either creates it or finds it still waiting, and it starts
// after all of them. A follow-up with nothing new to fetch ends after two
// Redis reads (see sync).
func (ch *Channel) enqueueSync(ctx context.Context, account, kf string) error {
	p := SyncPayload{Account: account, OpenKfID: kf}
	task, err := NewSyncTask(p, asynq.TaskID(SyncTaskID(account, kf)))
	if err != nil {
		return err
	}
	_, err = ch.deps.Tasks.EnqueueContext(ctx, task)
	if !errors.Is(err, asynq.ErrTaskIDConflict) {
		if err != nil {
			return fmt.Errorf("enqueueing kf sync: %w", err)
		}
		return nil
	}
	// asynq schedules on the wall clock, so the bucket is a wall-clock second.
	bucket := strconv.FormatInt(time.Now().Unix(), 10)
	follow, err := NewSyncTask(p, asynq.TaskID(SyncTaskID(account, kf)+":"+bucket), asynq.ProcessIn(followUpDelay), asynq.Retention(0))
	if err != nil {
		return err
	}
	if _, err := ch.deps.Tasks.EnqueueContext(ctx, follow); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("enqueueing kf follow-up sync: %w", err)
	}
	return nil
}

// processSync is the TypeSync handler.
func (ch *Channel) processSync(ctx context.Context, t *asynq.Task) error {
	var p SyncPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("decoding kf sync task: %v: %w", err, asynq.SkipRetry)
	}
	a, ok := ch.accounts[p.Account]
	if !ok {
		return fmt.Errorf("pulling kf messages: no account %q: %w", p.Account, asynq.SkipRetry)
	}
	if p.OpenKfID == "" {
		p.OpenKfID = allKfIDs
	}
	return a.sync(ctx, p.OpenKfID)
}

// errBusy means another worker is pulling the same kf account; the task is
// retried after it.
var errBusy = errors.New("another worker is pulling this kf account")

// sync pulls every page of kf's new messages and dispatches them, keeping
// the cursor in Redis. Only one worker pulls a kf account at a time (a
// Redis lock), because the cursor is a single position in one stream.
//
// The cursor is written only after a page's messages are all dispatched
// (accepted by the router and their turns finished), so a worker that dies
// mid-page makes the next pull fetch that page again, and the router drops
// the messages it had already seen: nothing is lost, nothing is answered
// twice. Pages are pulled while has_more is 1, even when msg_list is empty
// (PROTOCOLS.md §3.3).
func (a *Account) sync(ctx context.Context, kf string) error {
	if a.api == nil {
		return fmt.Errorf("pulling kf messages: %w", errNotConnected)
	}
	lock, err := a.lock(ctx, kf)
	if err != nil {
		return err
	}
	defer lock.release(ctx)

	rdb := a.ch.deps.Redis
	vals, err := rdb.MGet(ctx, a.keys.sync(kf, "seq"), a.keys.sync(kf, "synced"), a.keys.sync(kf, "cursor"), a.keys.sync(kf, "token")).Result()
	if err != nil {
		return fmt.Errorf("reading kf sync state: %w", err)
	}
	seq, synced := intOf(vals[0]), intOf(vals[1])
	cursor, _ := vals[2].(string)
	token, _ := vals[3].(string)
	if seq > 0 && synced >= seq {
		// Every callback so far is covered by a complete pull.
		return nil
	}
	req := apiclient.SyncMsgRequest{Cursor: cursor, Token: token, Limit: a.cfg.Sync.Limit}
	if kf != allKfIDs {
		req.OpenKfID = kf
	}
	log := a.ch.deps.Log.With(zap.String("account", a.cfg.ID), zap.String("open_kfid", kf))
	for page := 0; page < a.cfg.Sync.MaxPages; page++ {
		body, err := a.api.SyncMsg(ctx, req)
		if err != nil {
			return err
		}
		pg, err := wxmsg.ParseKFSync(a.src, body)
		if err != nil {
			return fmt.Errorf("pulling kf messages: %w", err)
		}
		a.noteOthers(ctx, pg.Others)
		if err := a.dispatch(ctx, pg.Messages); err != nil {
			return err
		}
		if pg.NextCursor != "" && pg.NextCursor != req.Cursor {
			if err := rdb.Set(ctx, a.keys.sync(kf, "cursor"), pg.NextCursor, 0).Err(); err != nil {
				return fmt.Errorf("saving kf cursor: %w", err)
			}
			req.Cursor = pg.NextCursor
		}
		log.Debug("kf page dispatched", zap.Int("page", page), zap.Int("messages", len(pg.Messages)),
			zap.Int("others", len(pg.Others)), zap.Bool("has_more", pg.HasMore))
		if !pg.HasMore {
			if seq > 0 {
				if err := rdb.Set(ctx, a.keys.sync(kf, "synced"), seq, 0).Err(); err != nil {
					return fmt.Errorf("saving kf sync state: %w", err)
				}
			}
			return nil
		}
		if err := lock.renew(ctx); err != nil {
			return err
		}
	}
	// A long backlog: hand over to a fresh task rather than hold this worker.
	log.Info("kf backlog continues in a new task", zap.Int("pages", a.cfg.Sync.MaxPages))
	return a.ch.enqueueSync(ctx, a.cfg.ID, kf)
}

func intOf(v any) int64 {
	s, _ := v.(string)
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

var errNotConnected = errors.New("wecom kf account has no API client")

var unlockScript = redis.NewScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`)
var renewScript = redis.NewScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`)

// pullLock is a held kf pull lock.
type pullLock struct {
	rdb   redis.UniversalClient
	key   string
	owner string
	ttl   time.Duration
}

// lock takes kf's pull lock, waiting up to sync.lock_wait for another
// worker's pull to end.
func (a *Account) lock(ctx context.Context, kf string) (*pullLock, error) {
	var id [12]byte
	_, _ = rand.Read(id[:])
	l := &pullLock{rdb: a.ch.deps.Redis, key: a.keys.sync(kf, "lock"), owner: hex.EncodeToString(id[:]), ttl: a.cfg.Sync.LockTTL}
	deadline := time.Now().Add(a.cfg.Sync.LockWait)
	for {
		ok, err := l.rdb.SetNX(ctx, l.key, l.owner, l.ttl).Result()
		if err != nil {
			return nil, fmt.Errorf("locking kf pull: %w", err)
		}
		if ok {
			return l, nil
		}
		if time.Now().After(deadline) {
			return nil, errBusy
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// release drops the lock if this worker still holds it. The task's context
// may be done by then, so it uses a short one of its own.
func (l *pullLock) release(ctx context.Context) {
	c, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
	defer cancel()
	_ = unlockScript.Run(c, l.rdb, []string{l.key}, l.owner).Err()
}

// renew extends the lock after a page.
func (l *pullLock) renew(ctx context.Context) error {
	n, err := renewScript.Run(ctx, l.rdb, []string{l.key}, l.owner, l.ttl.Milliseconds()).Int()
	if err != nil {
		return fmt.Errorf("renewing kf pull lock: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("renewing kf pull lock: lost after %s; another worker may be pulling", l.ttl)
	}
	return nil
}
