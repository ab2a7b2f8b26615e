package campaign

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
	"github.com/kefu-gateway/kefu/workers"
)

// Task types.
const (
	// TypePlan builds a campaign's audience and queues its batches.
	TypePlan = "campaign:plan"
	// TypeBatch sends to one batch of recipients (or to the deferred ones
	// now due).
	TypeBatch = "campaign:batch"
)

// PlanPayload is the payload of a campaign:plan task.
type PlanPayload struct {
	ID  string `json:"id"`
	Gen int64  `json:"gen"`
}

// BatchPayload is the payload of a campaign:batch task: batch N of the
// audience, or (Later) the deferred recipients now due.
type BatchPayload struct {
	ID    string `json:"id"`
	Gen   int64  `json:"gen"`
	N     int64  `json:"n"`
	Later bool   `json:"later,omitempty"`
}

// NewPlanTask returns the plan task of a campaign generation, run at at.
func NewPlanTask(p PlanPayload, at time.Time) (*asynq.Task, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encoding campaign plan task: %w", err)
	}
	return asynq.NewTask(TypePlan, b, asynq.Queue(workers.QueueLow), asynq.ProcessAt(at), asynq.MaxRetry(10),
		asynq.Timeout(30*time.Minute), asynq.TaskID("campaign:"+p.ID+":plan:"+strconv.FormatInt(p.Gen, 10))), nil
}

// NewBatchTask returns a batch task, run at at.
func NewBatchTask(p BatchPayload, at time.Time) (*asynq.Task, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encoding campaign batch task: %w", err)
	}
	id := fmt.Sprintf("campaign:%s:%d:%d", p.ID, p.Gen, p.N)
	if p.Later {
		id = fmt.Sprintf("campaign:%s:%d:later:%d", p.ID, p.Gen, at.Unix()/60)
	}
	return asynq.NewTask(TypeBatch, b, asynq.Queue(workers.QueueLow), asynq.ProcessAt(at), asynq.MaxRetry(10),
		asynq.Timeout(30*time.Minute), asynq.TaskID(id)), nil
}
