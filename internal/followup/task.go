package followup

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
	"github.com/kefu-gateway/kefu/workers"
)

// TypeSend is the task type that sends one due follow-up.
const TypeSend = "followup:send"

// SendPayload names a follow-up record and the generation the task was
// enqueued for.
type SendPayload struct {
	ContactID string `json:"c"`
	Key       string `json:"k"`
	Gen       int64  `json:"g"`
}

// TaskID is the asynq task id of a follow-up generation: unique per
// conversation, follow-up id and scheduling.
func TaskID(key string, gen int64) string {
	return "followup:" + key + ":" + strconv.FormatInt(gen, 10)
}

// NewSendTask returns the task sending the follow-up at due.
func NewSendTask(p SendPayload, due time.Time, opts ...asynq.Option) (*asynq.Task, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encoding follow-up task: %w", err)
	}
	base := []asynq.Option{asynq.Queue(workers.QueueDefault), asynq.TaskID(TaskID(p.Key, p.Gen)), asynq.ProcessAt(due),
		asynq.MaxRetry(6), asynq.Timeout(10 * time.Minute)}
	return asynq.NewTask(TypeSend, b, append(base, opts...)...), nil
}
