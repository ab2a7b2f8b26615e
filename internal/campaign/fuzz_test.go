package campaign

import (
	"encoding/json"
	"testing"
	"time"
)

// FuzzDefinition decodes campaign bodies as the API does and validates
// them: nothing panics, and what passes is a campaign that can run.
func FuzzDefinition(f *testing.F) {
	f.Add(`{"id":"double11-vip","name":"双十一","audience":{"tags":["vip"],"exclude_tags":["x"],"channel":"wechat_oa","active_within_days":30},"content":{"text":"hi"},"rate":"20/s"}`)
	f.Add(`{"name":"all","audience":{"everyone":true},"content":{"flow":"promo"},"schedule_at":"2030-01-01T00:00:00Z"}`)
	f.Add(`{"name":"x","audience":{"tags":["a"],"match":"all"},"content":{"text":"t"},"rate":"unlimited"}`)
	now := time.Date(2025, 11, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body string) {
		var d Definition
		if err := json.Unmarshal([]byte(body), &d); err != nil {
			return
		}
		if err := d.validate(now, Defaults(), nil); err != nil {
			return
		}
		if d.Name == "" || d.Rate == nil || (d.Content.Text == "") == (d.Content.Flow == "") ||
			(len(d.Audience.Tags) == 0 && d.Audience.Channel == "" && !d.Audience.Everyone) {
			t.Fatalf("accepted %+v", d)
		}
		if d.ScheduleAt != nil && d.ScheduleAt.Before(now) {
			t.Fatalf("schedule_at in the past kept: %s", d.ScheduleAt)
		}
	})
}
