package contacts

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

func FuzzQuietHours(f *testing.F) {
	f.Add("22:00", "08:00", int64(1_700_000_000), "Asia/Shanghai")
	f.Add("12:00", "13:30", int64(1_741_500_000), "America/New_York")
	f.Add("7:5", "24:00", int64(0), "UTC")
	f.Fuzz(func(t *testing.T, start, end string, unix int64, zone string) {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			loc = time.UTC
		}
		q := QuietHours{Start: start, End: end}
		now := time.Unix(unix%(1<<40), 0)
		until, quiet := q.Until(now, loc)
		if q.validate() != nil && quiet {
			t.Fatalf("invalid quiet hours %+v reported quiet", q)
		}
		if quiet && (!until.After(now) || until.Sub(now) > 26*time.Hour) {
			t.Fatalf("%+v at %s: until %s", q, now.In(loc), until)
		}
		if quiet {
			if _, again := q.Until(until, loc); again {
				t.Fatalf("%+v: still quiet at the end %s", q, until)
			}
		}
	})
}

// FuzzUpdateBody decodes PATCH /contacts/{id} bodies as the API does and
// validates them: nothing panics, and a valid update encodes for the
// script.
func FuzzUpdateBody(f *testing.F) {
	f.Add(`{"name":"王芳","attributes":{"size":"L","city":null},"add_tags":["复购"],"remove_tags":["问过尺码"],"by":"amy"}`)
	f.Add(`{"opted_out":true,"timezone":"Europe/Berlin"}`)
	f.Add(`{"attributes":{"bad key":"x"}}`)
	s := &Store{cfg: Defaults()}
	f.Fuzz(func(t *testing.T, body string) {
		var b updateBody
		dec := json.NewDecoder(bytes.NewReader([]byte(body)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&b); err != nil {
			return
		}
		u := b.update()
		if err := u.Validate(); err != nil {
			return
		}
		if _, err := s.ops(u); err != nil {
			t.Fatalf("valid update %+v does not encode: %v", u, err)
		}
	})
}
