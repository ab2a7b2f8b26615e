package handoff

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
	"github.com/kefu-gateway/kefu/workers"
)

// Task types. Register every handler of Tasks with the workers.
const (
	// TypeAssign gives waiting customers to agents with free capacity.
	// It runs on a request, when an agent frees capacity or comes online,
	// and first finishes assignments a crashed worker left half-done.
	TypeAssign = "handoff:assign"
	// TypeRecover finishes assignments whose claim lease ended.
	TypeRecover = "handoff:recover"
	// TypeQueueTimeout ends a wait nobody answered in queue_timeout.
	TypeQueueTimeout = "handoff:queue_timeout"
	// TypeIdle reminds agents of quiet conversations and ends them.
	TypeIdle = "handoff:idle"
	// TypeMessageTimeout returns a customer who was offered to leave a
	// message, and did not, to the bot.
	TypeMessageTimeout = "handoff:message_timeout"
)

// AssignPayload is the payload of a handoff:assign task.
type AssignPayload struct {
	// Queue to assign from; empty = every queue, longest waiting first.
	Queue string `json:"queue,omitempty"`
}

// RecoverPayload is the payload of a handoff:recover task.
type RecoverPayload struct{}

// TimerPayload is the payload of the handoff's timers (queue timeout, idle,
// message timeout). A timer acts only while the conversation is still in
// the same handoff (ID) and, where it matters, the same assignment (Seq).
type TimerPayload struct {
	Conversation string `json:"conversation"`
	Handoff      string `json:"handoff"`
	Seq          int    `json:"seq"`
}

func newTask(typ string, payload any, opts ...asynq.Option) (*asynq.Task, error) {
	b, err := json.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("encoding %s task: %w", typ, err)
	}
	base := []asynq.Option{asynq.Queue(workers.QueueDefault), asynq.MaxRetry(10), asynq.Timeout(time.Minute)}
	return asynq.NewTask(typ, b, append(base, opts...)...), nil
}

// NewAssignTask returns a handoff:assign task.
func NewAssignTask(p AssignPayload, opts ...asynq.Option) (*asynq.Task, error) {
	return newTask(TypeAssign, p, opts...)
}

// NewRecoverTask returns a handoff:recover task.
func NewRecoverTask(opts ...asynq.Option) (*asynq.Task, error) {
	return newTask(TypeRecover, RecoverPayload{}, opts...)
}

// NewQueueTimeoutTask returns a handoff:queue_timeout task.
func NewQueueTimeoutTask(p TimerPayload, opts ...asynq.Option) (*asynq.Task, error) {
	return newTask(TypeQueueTimeout, p, opts...)
}

// NewIdleTask returns a handoff:idle task.
func NewIdleTask(p TimerPayload, opts ...asynq.Option) (*asynq.Task, error) {
	return newTask(TypeIdle, p, opts...)
}

// NewMessageTimeoutTask returns a handoff:message_timeout task.
func NewMessageTimeoutTask(p TimerPayload, opts ...asynq.Option) (*asynq.Task, error) {
	return newTask(TypeMessageTimeout, p, opts...)
}

// Tasks returns the handoff's task handlers by type, for the workers.
func (s *Service) Tasks() map[string]asynq.Handler {
	return map[string]asynq.Handler{
		TypeAssign: asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
			var p AssignPayload
			if err := json.Unmarshal(t.Payload(), &p); err != nil {
				return fmt.Errorf("decoding %s task: %v: %w", TypeAssign, err, asynq.SkipRetry)
			}
			if err := s.recoverClaims(ctx); err != nil {
				return err
			}
			if p.Queue == "" {
				return s.assignAll(ctx)
			}
			_, err := s.assignQueue(ctx, p.Queue)
			return err
		}),
		TypeRecover: asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
			return s.recoverClaims(ctx)
		}),
		TypeQueueTimeout: s.timerHandler(TypeQueueTimeout, s.queueTimeout),
		TypeIdle:         s.timerHandler(TypeIdle, s.idle),
		TypeMessageTimeout: s.timerHandler(TypeMessageTimeout, func(ctx context.Context, p TimerPayload) error {
			return s.messageTimeout(ctx, p)
		}),
	}
}

func (s *Service) timerHandler(typ string, f func(context.Context, TimerPayload) error) asynq.Handler {
	return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		var p TimerPayload
		if err := json.Unmarshal(t.Payload(), &p); err != nil || p.Conversation == "" {
			return fmt.Errorf("decoding %s task: %v: %w", typ, err, asynq.SkipRetry)
		}
		return f(ctx, p)
	})
}

// enqueue schedules a task. A task with an id that is already queued (or
// was done recently) is not scheduled twice; that is not an error.
func (s *Service) enqueue(ctx context.Context, t *asynq.Task, err error, opts ...asynq.Option) error {
	if err != nil {
		return err
	}
	_, err = s.tasks.EnqueueContext(ctx, t, opts...)
	if errors.Is(err, asynq.ErrTaskIDConflict) || errors.Is(err, asynq.ErrDuplicateTask) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("enqueueing %s: %w", t.Type(), err)
	}
	return nil
}

// triggerAssign schedules an assignment run for queue ("" = every queue).
func (s *Service) triggerAssign(ctx context.Context, queue string) {
	t, err := NewAssignTask(AssignPayload{Queue: queue})
	s.logErr("scheduling assignment failed", s.enqueue(ctx, t, err), zapQueue(queue))
}

// dueIn schedules a task d from now, rounded up to a whole second: asynq
// compares due times in Unix seconds, so a task is otherwise started up to
// a second early, and a timer must never fire before its time.
func (s *Service) dueIn(d time.Duration) asynq.Option {
	return asynq.ProcessIn(s.after(ceilSecond(s.clock.Now().Add(d))))
}

func ceilSecond(t time.Time) time.Time {
	if u := t.Truncate(time.Second); !u.Equal(t) {
		return u.Add(time.Second)
	}
	return t
}

// after returns how long from now until at (at least a millisecond).
func (s *Service) after(at time.Time) time.Duration {
	d := at.Sub(s.clock.Now())
	if d < time.Millisecond {
		d = time.Millisecond
	}
	return d
}

// timerID names a timer task so scheduling it again does nothing.
func timerID(kind string, p TimerPayload, suffix ...string) string {
	id := "ho-" + kind + "-" + p.Handoff + "-" + strconv.Itoa(p.Seq)
	for _, x := range suffix {
		id += "-" + x
	}
	return id
}
