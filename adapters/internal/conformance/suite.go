package conformance

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/kefu-gateway/kefu/internal/testutil/apptest"
	"github.com/kefu-gateway/kefu/router"
	"github.com/redis/go-redis/v9"
)

// suite is one run of the checks against one harness.
type suite struct {
	h    Harness
	tr   Traits
	srv  *apptest.Server
	srv2 *apptest.Server
	seq  atomic.Int64
	base int64
	// markers are customer texts that must not be logged at info level.
	mu      sync.Mutex
	markers []string
}

// Run runs every check against h. The checks share one kefu process (a
// second one joins for the cross-process retry check), use a fresh customer
// each and run concurrently: most of their time is spent watching for
// answers that must not come. The log check runs last and covers them all.
func Run(t *testing.T, h Harness) {
	s := &suite{h: h, tr: h.Traits().withDefaults(), base: time.Now().UnixNano() % 1e12 * 1000}
	s.srv = h.Start(t, nil)
	if _, ok := s.srv.App.Adapters.Lookup(h.Kind(), h.Account()); !ok {
		t.Fatalf("the harness's kefu has no %s account %q", h.Kind(), h.Account())
	}
	if got := s.srv.App.Cfg.HTTP.BodyLimit; got != BodyLimit {
		t.Fatalf("http.body_limit is %d, want conformance.BodyLimit (%d)", got, BodyLimit)
	}
	checks := []struct {
		name string
		run  func(*testing.T)
	}{
		{"URLVerification", s.urlVerification},
		{"Answer", s.answer},
		{"BadSignatureRefused", s.refused("forged", h.Forged)},
		{"StaleTimestampRefused", s.refused("stale", h.Stale)},
		{"RetriesAnsweredOnce", s.retries},
		{"LongReplySplitInOrder", s.longReply},
		{"WindowClosedRecorded", s.windowClosed},
		{"QuotaRespected", s.quota},
		{"MalformedIs400", s.malformed},
		{"OversizedIs413", s.oversized},
		{"UnknownAccountIs404", s.unknownAccount},
		{"JunkNeverCrashes", s.junk},
	}
	// t.Run from several goroutines runs the subtests side by side without
	// taking -parallel slots (they are mostly waiting).
	var wg sync.WaitGroup
	for _, c := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t.Run(c.name, c.run)
		}()
	}
	wg.Wait()
	t.Run("NoSecretsInLogs", s.noSecrets)
}

// ConcurrentRun runs Run for each harness side by side, as subtests named
// by names, for a channel tested in several modes.
func ConcurrentRun(t *testing.T, names []string, harnesses func(t *testing.T, name string) Harness) {
	var wg sync.WaitGroup
	for _, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t.Run(name, func(t *testing.T) { Run(t, harnesses(t, name)) })
		}()
	}
	wg.Wait()
}

// next returns a fresh message id and customer id.
func (s *suite) next(prefix string) (id, customer string) {
	n := s.seq.Add(1)
	return strconv.FormatInt(s.base+n, 10), fmt.Sprintf("oConf%s%d", prefix, s.base%1e6*100+n)
}

func (s *suite) inbound(prefix, text string) Inbound {
	id, customer := s.next(prefix)
	return Inbound{ID: id, Customer: customer, Text: text, At: time.Now()}
}

func (s *suite) collector(customer string) *collector {
	return &collector{h: s.h, customer: customer}
}

func isRefusal(status int) bool {
	return status == http.StatusUnauthorized || status == http.StatusForbidden
}

func (s *suite) urlVerification(t *testing.T) {
	req, want, ok := s.h.URLCheck(t)
	if !ok {
		t.Skip("the channel has no URL verification")
	}
	r := send(t, s.srv, req)
	if r.status != http.StatusOK || string(r.body) != want {
		t.Fatalf("URL check answered %d %q, want 200 %q", r.status, r.body, want)
	}
	forged := withBody(req, nil)
	q := forged.URL.Query()
	tampered := false
	for _, p := range []string{"signature", "msg_signature"} {
		if v := q.Get(p); v != "" {
			q.Set(p, flipHex(v))
			tampered = true
		}
	}
	if !tampered {
		t.Fatal("URL check request has neither signature nor msg_signature")
	}
	u := *forged.URL
	u.RawQuery = q.Encode()
	forged.URL = &u
	if r := send(t, s.srv, forged); !isRefusal(r.status) || strings.Contains(string(r.body), want) {
		t.Fatalf("forged URL check answered %d %q, want 401/403 without the echo", r.status, r.body)
	}
}

// flipHex changes the last hex digit of a signature.
func flipHex(v string) string {
	last := v[len(v)-1]
	repl := byte('0')
	if last == '0' {
		repl = '1'
	}
	return v[:len(v)-1] + string(repl)
}

// answer: a greeting gets exactly the flow's answer; any other text gets
// the fallback (never silence). The texts are markers the log check looks for.
func (s *suite) answer(t *testing.T) {
	for _, text := range []string{TextHello, "一致性测试的私密问题" + strconv.FormatInt(s.base, 36)} {
		in := s.inbound("Ans", text)
		if text != TextHello {
			s.mu.Lock()
			s.markers = append(s.markers, in.Text)
			s.mu.Unlock()
		}
		c := s.collector(in.Customer)
		r := send(t, s.srv, s.h.Request(t, in))
		if r.status != http.StatusOK {
			t.Fatalf("%q answered %d %q, want 200", text, r.status, r.body)
		}
		c.addResponse(t, in, r)
		got := c.wait(t, s.tr, func(rs []received) bool { return len(rs) >= 1 })
		if len(got) != 1 {
			t.Fatalf("%q: customer received %q, want exactly one answer", text, texts(got))
		}
		if text == TextHello && !strings.Contains(got[0].text, ReplyHello) {
			t.Fatalf("%q: customer received %q, want %q", text, got[0].text, ReplyHello)
		}
	}
}

// refused checks that a forged or stale request is refused and that nothing
// runs: no message accepted, nothing recorded, nothing sent; and that the
// genuine message with the same id is answered afterwards (the refused one
// left no dedup mark behind).
func (s *suite) refused(what string, build func(testing.TB, Inbound) *http.Request) func(*testing.T) {
	return func(t *testing.T) {
		in := s.inbound("Ref", TextHello)
		r := send(t, s.srv, build(t, in))
		if !isRefusal(r.status) {
			t.Fatalf("%s request answered %d %q, want 401 or 403", what, r.status, r.body)
		}
		time.Sleep(s.tr.Settle)
		s.nothingRan(t, what+" request", in.Customer)
		c := s.collector(in.Customer)
		r = send(t, s.srv, s.h.Request(t, in))
		if r.status != http.StatusOK {
			t.Fatalf("genuine request after the %s one answered %d %q", what, r.status, r.body)
		}
		c.addResponse(t, in, r)
		if got := c.wait(t, s.tr, func(rs []received) bool { return len(rs) >= 1 }); len(got) != 1 {
			t.Fatalf("genuine request after the %s one: customer received %q, want one answer", what, texts(got))
		}
	}
}

// nothingRan checks that nothing was recorded for customer (the router
// writes every message it accepts to the transcript) and nothing sent.
func (s *suite) nothingRan(t *testing.T, what, customer string) {
	t.Helper()
	conv, _ := s.h.Customer(customer)
	if n := s.srv.DB.Client.XLen(context.Background(), s.srv.App.Store.Keys.Transcript(conv)).Val(); n != 0 {
		t.Fatalf("%s: the router accepted it (%d transcript entries)", what, n)
	}
	if got := s.h.Active(t, customer); len(got) != 0 {
		t.Fatalf("%s made kefu send %+v", what, got)
	}
}

// retries sends one message five times — two at once on one process and
// one on a second process sharing the Redis, then one more to each — and
// expects one visible answer and a 200 for every attempt.
func (s *suite) retries(t *testing.T) {
	if s.srv2 == nil {
		s.srv2 = s.h.Start(t, s.srv.DB)
	}
	in := s.inbound("Dup", TextHello)
	c := s.collector(in.Customer)
	attempt := func(srv *apptest.Server) {
		r := send(t, srv, s.h.Request(t, in))
		if r.status != http.StatusOK {
			t.Errorf("retry answered %d %q, want 200", r.status, r.body)
		}
		c.addResponse(t, in, r)
	}
	var wg sync.WaitGroup
	for _, srv := range []*apptest.Server{s.srv, s.srv, s.srv2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			attempt(srv)
		}()
	}
	wg.Wait()
	c.wait(t, s.tr, func(rs []received) bool { return len(rs) >= 1 })
	attempt(s.srv)
	attempt(s.srv2)
	time.Sleep(s.tr.Settle)
	got := c.all(t)
	if len(got) != 1 || !strings.Contains(got[0].text, ReplyHello) {
		t.Fatalf("five attempts of one message: customer received %q, want exactly one %q", texts(got), ReplyHello)
	}
}

func stripSpace(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
}

// longReply: a reply over the channel's limit arrives whole, in parts
// within the limit, in order, the active parts after the passive one.
func (s *suite) longReply(t *testing.T) {
	a, _ := s.srv.App.Adapters.Lookup(s.h.Kind(), s.h.Account())
	limit := a.Capabilities().MaxTextBytes
	in := s.inbound("Long", TextLong)
	c := s.collector(in.Customer)
	r := send(t, s.srv, s.h.Request(t, in))
	if r.status != http.StatusOK {
		t.Fatalf("long reply request answered %d %q", r.status, r.body)
	}
	c.addResponse(t, in, r)
	want := stripSpace(LongReply)
	got := c.wait(t, s.tr, func(rs []received) bool {
		n := 0
		for _, x := range rs {
			n += len(stripSpace(x.text))
		}
		return n >= len(want)
	})
	var joined strings.Builder
	var lastPassive time.Time
	for i, x := range got {
		if !utf8.ValidString(x.text) {
			t.Errorf("part %d is not valid UTF-8", i+1)
		}
		if limit > 0 && len(x.text) > limit {
			t.Errorf("part %d is %d bytes, over the channel's %d", i+1, len(x.text), limit)
		}
		if x.passive {
			lastPassive = x.at
		} else if !lastPassive.IsZero() && x.at.Before(lastPassive) {
			t.Errorf("active part %d reached the platform before the passive reply was answered", i+1)
		}
		joined.WriteString(stripSpace(x.text))
	}
	if joined.String() != want {
		t.Fatalf("the %d parts received do not make up the long reply in order:\n got %q\nwant %q", len(got), joined.String(), want)
	}
	if limit > 0 && len(got) < (len(LongReply)+limit-1)/limit {
		t.Fatalf("long reply arrived in %d parts; %d bytes need at least %d at %d bytes", len(got), len(LongReply), (len(LongReply)+limit-1)/limit, limit)
	}
}

// deliver sends texts to customer outside a turn, as an agent reply or a
// follow-up does.
func (s *suite) deliver(t *testing.T, customer string, texts ...string) string {
	t.Helper()
	conv, party := s.h.Customer(customer)
	msgs := make([]message.Message, len(texts))
	for i, x := range texts {
		msgs[i] = message.Message{Kind: message.KindText, Text: x, From: message.Party{Role: message.RoleBot}}
	}
	_, err := s.srv.App.Router.Deliver(context.Background(), router.Delivery{
		ConversationID: conv, Channel: s.h.Kind(), Account: s.h.Account(), Customer: party, Messages: msgs,
	})
	if err != nil {
		t.Fatalf("delivering: %v", err)
	}
	return conv
}

// undeliverable returns the reasons recorded for conv's messages.
func (s *suite) undeliverable(t testing.TB, conv string) []string {
	entries, err := s.srv.DB.Client.XRange(context.Background(), s.srv.App.Store.Keys.Undeliverable(), "-", "+").Result()
	if err != nil && err != redis.Nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if e.Values["conversation"] == conv {
			r, _ := e.Values["reason"].(string)
			out = append(out, r)
		}
	}
	return out
}

func (s *suite) waitUndeliverable(t *testing.T, conv string, n int) []string {
	deadline := time.Now().Add(s.tr.AnswerWait)
	for {
		got := s.undeliverable(t, conv)
		if len(got) >= n || time.Now().After(deadline) {
			time.Sleep(s.tr.Settle)
			return s.undeliverable(t, conv)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func (s *suite) windowClosed(t *testing.T) {
	_, probe := s.next("WinProbe")
	if s.h.OpenWindow(t, s.srv, probe) == 0 {
		t.Skip("the channel has no reply window")
	}
	// A customer who never wrote (or wrote too long ago).
	_, customer := s.next("Win")
	s.h.CloseWindow(t, s.srv, customer)
	conv := s.deliver(t, customer, "窗口关闭后不应送达的消息")
	reasons := s.waitUndeliverable(t, conv, 1)
	if len(reasons) != 1 || !strings.Contains(reasons[0], "window") {
		t.Fatalf("undeliverable reasons %q, want one naming the closed window", reasons)
	}
	if got := s.h.Active(t, customer); len(got) != 0 {
		t.Fatalf("customer received %+v through a closed window", got)
	}
	if s.tr.Attempted != nil {
		if n := s.tr.Attempted(t, customer); n != 0 {
			t.Fatalf("kefu tried %d sends through a window it knew was closed", n)
		}
	}
}

func (s *suite) quota(t *testing.T) {
	_, customer := s.next("Quota")
	q := s.h.OpenWindow(t, s.srv, customer)
	if q == 0 {
		t.Skip("the channel has no quota")
	}
	texts := make([]string, q+1)
	for i := range texts {
		texts[i] = fmt.Sprintf("配额检查第%d条", i+1)
	}
	conv := s.deliver(t, customer, texts...)
	reasons := s.waitUndeliverable(t, conv, 1)
	got := s.h.Active(t, customer)
	if len(got) != q {
		t.Fatalf("customer received %d messages with a quota of %d: %+v", len(got), q, got)
	}
	for i, x := range got {
		if x.Text != texts[i] {
			t.Fatalf("message %d is %q, want %q (in order)", i+1, x.Text, texts[i])
		}
	}
	if len(reasons) != 1 || !strings.Contains(reasons[0], "quota") {
		t.Fatalf("undeliverable reasons %q, want one naming the quota", reasons)
	}
	if s.tr.Attempted != nil {
		if n := s.tr.Attempted(t, customer); n != q {
			t.Fatalf("kefu tried %d sends with a quota of %d", n, q)
		}
	}
}

// malformed: junk and truncated bodies with a valid signature, a query
// that does not decode, and the harness's own malformed payloads, get 400
// and nothing runs.
func (s *suite) malformed(t *testing.T) {
	in := s.inbound("Bad", TextHello)
	valid := s.h.Request(t, in)
	body := bodyOf(t, valid)
	cases := map[string]*http.Request{
		"junk body":      withBody(valid, []byte("\x00\x01 this is not a payload <<<{{{")),
		"truncated body": withBody(valid, body[:len(body)/2]),
		"empty body":     withBody(valid, nil),
	}
	if valid.URL.RawQuery != "" {
		// A channel signing through the query refuses one that does not
		// decode, however its server reads the parameters.
		undecodable := withBody(valid, body)
		undecodable.URL.RawQuery += "&x=%zz"
		cases["undecodable query"] = undecodable
	}
	for i, r := range s.h.Malformed(t) {
		cases[fmt.Sprintf("harness case %d", i+1)] = r
	}
	for name, req := range cases {
		if r := send(t, s.srv, req); r.status != http.StatusBadRequest {
			t.Errorf("%s answered %d %q, want 400", name, r.status, r.body)
		}
	}
	time.Sleep(s.tr.Settle)
	s.nothingRan(t, "a malformed request", in.Customer)
}

func (s *suite) oversized(t *testing.T) {
	in := s.inbound("Big", TextHello)
	valid := s.h.Request(t, in)
	body := bodyOf(t, valid)
	big := append(append([]byte(nil), body...), []byte(strings.Repeat(" ", BodyLimit+1-len(body)))...)
	if r := sendRaw(t, s.srv, withBody(valid, big)); r.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("a %d-byte body answered %d %.200q, want 413", len(big), r.status, r.body)
	}
	time.Sleep(s.tr.Settle)
	s.nothingRan(t, "an oversized request", in.Customer)
}

func (s *suite) unknownAccount(t *testing.T) {
	in := s.inbound("Unk", TextHello)
	req := withLastSegment(t, s.h.Request(t, in), "no-such-account")
	if r := send(t, s.srv, req); r.status != http.StatusNotFound {
		t.Fatalf("unknown account answered %d %q, want 404", r.status, r.body)
	}
	if check, _, ok := s.h.URLCheck(t); ok {
		if r := send(t, s.srv, withLastSegment(t, check, "no-such-account")); r.status != http.StatusNotFound {
			t.Fatalf("URL check of an unknown account answered %d %q, want 404", r.status, r.body)
		}
	}
}

// junk sends requests no platform would: they get 4xx, never 5xx, and kefu
// keeps serving.
func (s *suite) junk(t *testing.T) {
	in := s.inbound("Junk", TextHello)
	valid := s.h.Request(t, in)
	var cases []*http.Request
	add := func(method string, query string, body []byte) {
		r := withBody(valid, body)
		r.Method = method
		u := *valid.URL
		if query != "keep" {
			u.RawQuery = query
		}
		r.URL = &u
		cases = append(cases, r)
	}
	long := strings.Repeat("9", 5000)
	add(http.MethodGet, "", nil)
	add(http.MethodPost, "", nil)
	add(http.MethodPost, "signature=zz&timestamp=1&nonce=1", []byte("<xml/>"))
	add(http.MethodPost, "timestamp="+long+"&nonce="+long+"&signature="+long, []byte("<xml/>"))
	add(http.MethodPost, "encrypt_type=aes&timestamp=1&nonce=1", []byte("<xml><Encrypt>AAAA</Encrypt></xml>"))
	add(http.MethodPost, "msg_signature="+strings.Repeat("a", 40)+"&timestamp=1&nonce=1", []byte(`{"Encrypt":"%%%"}`))
	add(http.MethodGet, "echostr=x&timestamp=%ff&nonce=%00&signature="+strings.Repeat("0", 40), nil)
	add(http.MethodPut, "keep", bodyOf(t, valid))
	add(http.MethodDelete, "keep", nil)
	randomFrom := len(cases)
	rng := rand.New(rand.NewPCG(uint64(s.base), 7))
	for i := 0; i < 40; i++ {
		b := make([]byte, rng.IntN(2048))
		for j := range b {
			b[j] = byte(rng.IntN(256))
		}
		add(http.MethodPost, "keep", b)
	}
	for i, req := range cases {
		r := send(t, s.srv, req)
		if r.status >= 500 {
			t.Errorf("junk request %d (%s %s) answered %d %.200q", i, req.Method, req.URL.RawQuery, r.status, r.body)
		}
		if r.status == http.StatusOK && i >= randomFrom {
			t.Errorf("validly signed request with a random body (%d) answered 200", i)
		}
	}
	res, err := httpClient.Get(s.srv.URL + "/healthz")
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("kefu stopped serving after junk: %v", err)
	}
	res.Body.Close()
}

// noSecrets scans every log entry of the run (every level) for the
// configured secrets and access tokens, and entries at info level and above
// for the customers' texts.
func (s *suite) noSecrets(t *testing.T) {
	secrets := append([]string{"fake-token-"}, s.h.Secrets()...)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, srv := range []*apptest.Server{s.srv, s.srv2} {
		if srv == nil {
			continue
		}
		for _, e := range srv.Logs.All() {
			line := e.Message + " " + fmt.Sprint(e.ContextMap())
			for _, secret := range secrets {
				if secret != "" && strings.Contains(line, secret) {
					t.Errorf("log entry %q contains a secret (%.6s…)", e.Message, secret)
				}
			}
			if e.Level < 0 { // debug
				continue
			}
			for _, m := range s.markers {
				if strings.Contains(line, m) {
					t.Errorf("%s log entry %q contains a customer's text", e.Level, e.Message)
				}
			}
		}
	}
}
