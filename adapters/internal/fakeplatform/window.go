package fakeplatform

import "time"

// Window rules shared by WeChat customer-service messages and 微信客服
// (PROTOCOLS.md §1.5, §2, §3.3): after a customer message, 5 sends within 48 h.
const (
	WindowLength = 48 * time.Hour
	WindowSends  = 5
)

// window is one customer's open reply window.
type window struct {
	opened time.Time
	used   int
}

// windowCheck reports why a send is refused: "" when allowed, "closed" or
// "quota". It counts the send when allowed.
func windowCheck(ws map[string]*window, key string, now time.Time) string {
	w, ok := ws[key]
	if !ok || !now.Before(w.opened.Add(WindowLength)) {
		return "closed"
	}
	if w.used >= WindowSends {
		return "quota"
	}
	w.used++
	return ""
}
