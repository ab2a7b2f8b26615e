package campaigncli

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/kefu-gateway/kefu/internal/campaign"
)

const barWidth = 30

// watch shows a campaign's progress until it ends (or once). On a
// terminal the bar is redrawn in place; otherwise a line is printed each
// time the counts change.
func watch(ctx context.Context, c *client, id string, interval time.Duration, once bool, out io.Writer) error {
	tty := isTerminal(out)
	var last string
	var prevDone int64
	var prevAt time.Time
	var rate float64 // recipients settled per second, smoothed
	for {
		p, err := c.get(ctx, id)
		if err != nil {
			if tty && last != "" {
				fmt.Fprintln(out)
			}
			return err
		}
		now := time.Now()
		if !prevAt.IsZero() {
			if el := now.Sub(prevAt).Seconds(); el > 0 {
				cur := float64(p.Done()-prevDone) / el
				if rate == 0 {
					rate = cur
				} else {
					rate = 0.7*rate + 0.3*cur
				}
			}
		}
		prevDone, prevAt = p.Done(), now
		if once || p.IsFinal() {
			if tty && last != "" {
				fmt.Fprint(out, "\r\033[K")
			}
			fmt.Fprintln(out, header(p))
			fmt.Fprintln(out, Bar(p, 0))
			if p.IsFinal() {
				fmt.Fprintln(out, Summary(p))
			}
			return nil
		}
		line := Bar(p, rate)
		switch {
		case last == "":
			fmt.Fprintln(out, header(p))
			fmt.Fprint(out, line)
			if !tty {
				fmt.Fprintln(out)
			}
		case tty:
			fmt.Fprint(out, "\r\033[K"+line)
		case counts(line) != counts(last):
			fmt.Fprintln(out, line)
		}
		last = line
		select {
		case <-ctx.Done():
			if tty {
				fmt.Fprintln(out)
			}
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}

// counts is the part of a bar line that changes with progress (not the
// rate estimate).
func counts(line string) string {
	if i := strings.Index(line, "  ·  "); i >= 0 {
		return line[:i]
	}
	return line
}

func header(p *campaign.Progress) string {
	return fmt.Sprintf("%s (%s) %s", p.Name, p.ID, p.Status)
}

// Bar renders one progress line: the bar, percentage, counts and, with a
// rate (recipients per second), the speed and time left.
func Bar(p *campaign.Progress, rate float64) string {
	var frac float64
	if p.Total > 0 {
		frac = float64(p.Done()) / float64(p.Total)
	} else if p.IsFinal() {
		frac = 1
	}
	full := int(frac*barWidth + 1e-9)
	bar := strings.Repeat("█", full) + strings.Repeat("░", barWidth-full)
	s := fmt.Sprintf("[%s] %5.1f%%  %s/%s  sent %s · skipped %s · failed %s", bar, frac*100, num(p.Done()), num(p.Total),
		num(p.Sent), num(p.Skipped), num(p.Failed))
	if p.Sending > 0 {
		s += " · sending " + num(p.Sending)
	}
	if p.Deferred > 0 {
		s += " · deferred " + num(p.Deferred)
	}
	if p.Status == campaign.StatusPaused {
		s += "  (paused)"
	}
	if rate > 0 && p.Total > p.Done() {
		left := time.Duration(float64(p.Total-p.Done()) / rate * float64(time.Second))
		s += fmt.Sprintf("  ·  %.0f/s, ETA %s", rate, left.Round(time.Second))
	}
	return s
}

// Summary is the closing line of a finished campaign.
func Summary(p *campaign.Progress) string {
	took := ""
	if p.Started != nil && p.Finished != nil {
		took = " in " + p.Finished.Sub(*p.Started).Round(time.Second).String()
	}
	s := fmt.Sprintf("%s%s: sent %s · skipped %s%s · failed %s%s", p.Status, took, num(p.Sent), num(p.Skipped), byReason(p.SkippedBy),
		num(p.Failed), byReason(p.FailedBy))
	if p.Error != "" {
		s += " · " + p.Error
	}
	return s
}

func byReason(m map[string]int64) string {
	if len(m) == 0 {
		return ""
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + " " + num(m[k])
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// num writes n with thousands separators.
func num(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
