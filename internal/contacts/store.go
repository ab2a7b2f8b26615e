package contacts

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/kefu-gateway/kefu/internal/clock"
	"github.com/kefu-gateway/kefu/internal/store"
	"github.com/redis/go-redis/v9"
)

// Store keeps contacts in Redis. It is safe for concurrent use.
type Store struct {
	rdb   redis.UniversalClient
	keys  Keys
	cfg   Config
	clock clock.Clock
	// loadOnce loads the observation scripts for pipelined EVALSHA.
	loadOnce   sync.Once
	remembered *recentContacts
}

// NewStore returns a contact store. cfg should have been validated.
func NewStore(rdb redis.UniversalClient, keys store.Keys, cfg Config, clk clock.Clock) *Store {
	if clk == nil {
		clk = clock.Real{}
	}
	cfg.OptOut = cfg.OptOut.prepared()
	return &Store{rdb: rdb, keys: NewKeys(keys), cfg: cfg, clock: clk, remembered: newRecentContacts()}
}

// Keys returns the contacts key schema.
func (s *Store) Keys() Keys { return s.keys }

// Config returns the contacts configuration.
func (s *Store) Config() *Config { return &s.cfg }

// Location is the time zone of c: its own, else the configured default.
func (s *Store) Location(c *Contact) *time.Location {
	if c != nil && c.Timezone != "" {
		if loc, err := time.LoadLocation(c.Timezone); err == nil {
			return loc
		}
	}
	return s.cfg.Location()
}

// QuietUntil reports whether t is in c's quiet hours and when they end.
func (s *Store) QuietUntil(c *Contact, t time.Time) (time.Time, bool) {
	return s.cfg.QuietHours.Until(t, s.Location(c))
}

func (s *Store) args(extra ...any) []any {
	return append([]any{s.keys.Base, s.clock.Now().UnixMilli()}, extra...)
}

// NewID returns a fresh contact id.
func NewID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "c" + hex.EncodeToString(b[:])
}

// Observation is what Observe learnt from one inbound message.
type Observation struct {
	Contact *Contact
	// Created is true for a customer seen for the first time.
	Created bool
	// Action is the opt-out or opt-in keyword the message was (OptNone
	// otherwise); Changed says whether it changed the contact's consent
	// (false for a second 退订, or 订阅 from someone never opted out).
	Action  OptAction
	Changed bool
	// WasOptedOut is the consent before this message.
	WasOptedOut bool
	// Path says how the observation ran: ObservedTimesOnly, ObservedFull
	// or ObservedChanged.
	Path string
}

// How an observation ran (Observation.Path; the label of
// kefu_contact_observations_total).
const (
	// ObservedTimesOnly: the process remembered the contact and only its
	// times moved (touchScript).
	ObservedTimesOnly = "times_only"
	// ObservedFull: the full observation script ran.
	ObservedFull = "full"
	// ObservedChanged: the remembered contact had changed, so the full
	// observation ran in a second round trip.
	ObservedChanged = "changed"
)

// Observe records an inbound message from a customer in one round trip: it
// finds or creates the sender's contact (linking OA and mini-program through
// the UnionID), notes the identity's conversation and last inbound time,
// last seen, and applies an opt-out or opt-in keyword. Messages not written
// by a customer only touch last seen.
func (s *Store) Observe(ctx context.Context, msg message.Message) (*Observation, error) {
	cmd, err := s.observe(ctx, s.rdb, msg, false)
	if err != nil {
		return nil, err
	}
	return cmd.Result(ctx)
}

// ObserveCmd is an Observe queued on a pipeline (see ObservePipe).
type ObserveCmd struct {
	s      *Store
	msg    message.Message
	cmd    *redis.Cmd
	action OptAction
	// ik is the sender's identity key and meta the routing meta JSON the
	// observation writes ("" = none).
	ik, meta string
	// touched is what the store remembered when it queued touchScript
	// instead of the full observation; now is the time it gave the script.
	touched *recentContact
	now     int64
}

// ObservePipe queues Observe on pipe, so the router can fold it into the
// first round trip of a turn (with dedup and the conversation load) instead
// of installing the Inbound interceptor. Read the result after the pipeline
// ran. The contact it returns has no identities and notes.
//
// A customer message from an identity this process observed before, and
// that changes nothing but the times, only moves them (touchScript) and
// returns the contact as remembered: the observation costs Redis a third
// of the full one. When the contact changed meanwhile, Result observes in
// full, in a second round trip.
func (s *Store) ObservePipe(ctx context.Context, pipe redis.Pipeliner, msg message.Message) (*ObserveCmd, error) {
	return s.observe(ctx, pipe, msg, true)
}

// newObserveCmd is msg's observation before anything is queued: the
// sender's identity key, the consent keyword and the routing meta it
// carries.
func (s *Store) newObserveCmd(msg message.Message) (*ObserveCmd, error) {
	if msg.Channel == "" || msg.Account == "" || msg.From.ID == "" {
		return nil, errors.New("observing message: channel, account and sender id are required")
	}
	o := &ObserveCmd{s: s, msg: msg, action: OptNone, ik: Identity{Channel: msg.Channel, Account: msg.Account, ID: msg.From.ID}.Key()}
	if msg.IsCustomer() && msg.Kind == message.KindText {
		o.action = s.cfg.OptOut.Classify(msg.Text)
	}
	if len(msg.Meta) <= 16 {
		if meta := metaJSON(msg.Meta); len(meta) <= 2048 {
			o.meta = meta
		}
	}
	return o, nil
}

// Recalled is a remembered sender's observation, prepared without Redis
// (see Recall).
type Recalled struct {
	// Contact is what the observation returns, without identities, notes
	// and times; the caller's own copy. It holds while the contact is
	// still at the remembered version and holds the sender's identity,
	// which contact_touch_check (TouchLua) checks: a turn that commits
	// only then (the router's one-trip turns) sees the contact as a full
	// observation would.
	Contact *Contact
	o       *ObserveCmd
}

// TouchArgs are the arguments of TouchLua's functions for this
// observation, in order: key prefix, now (ms), contact id, identity key,
// remembered version. A script that includes TouchLua (the router's
// one-trip commit) then observes in place of touchScript.
func (r *Recalled) TouchArgs() []any {
	o, rc := r.o, r.o.touched
	return []any{o.s.keys.Base, o.s.clock.Now().UnixMilli(), rc.contact.ID, o.ik, rc.version}
}

// Recall is what ObservePipe would find for msg, known without asking
// Redis: the contact this process remembers for the sender, when msg
// changes nothing but its times. ok is false when nothing is remembered or
// msg changes more than the times (a consent keyword among them).
func (s *Store) Recall(msg message.Message) (*Recalled, bool) {
	o, err := s.newObserveCmd(msg)
	if err != nil {
		return nil, false
	}
	rc := s.remembered.get(o.ik)
	if rc == nil || !o.onlyTimesChange(rc) {
		return nil, false
	}
	o.touched = rc
	return &Recalled{Contact: copyContact(rc.contact), o: o}, true
}

func (s *Store) observe(ctx context.Context, c redis.Scripter, msg message.Message, pipelined bool) (*ObserveCmd, error) {
	o, err := s.newObserveCmd(msg)
	if err != nil {
		return nil, err
	}
	keys := []string{s.keys.Slot()}
	if !pipelined {
		o.cmd = observeScript.Run(ctx, c, keys, o.args(false)...)
		return o, nil
	}
	if rc := s.remembered.get(o.ik); rc != nil && o.onlyTimesChange(rc) {
		o.queueTouch(ctx, c, rc)
		return o, nil
	}
	s.loadScripts(ctx)
	o.cmd = observeScript.EvalSha(ctx, c, keys, o.args(true)...)
	return o, nil
}

// queueTouch queues touchScript for the sender whose contact rc remembers,
// by the script's hash (see observe).
func (o *ObserveCmd) queueTouch(ctx context.Context, c redis.Scripter, rc *recentContact) {
	s := o.s
	s.loadScripts(ctx)
	o.touched, o.now = rc, s.clock.Now().UnixMilli()
	o.cmd = touchScript.EvalSha(ctx, c, []string{s.keys.Slot()}, s.keys.Base, o.now, rc.contact.ID, o.ik, rc.version)
}

// loadScripts loads the observation's scripts once per process, so the
// hot path sends their hashes, not their sources. After a Redis restart
// the first call answers NOSCRIPT and Result observes the slow way, which
// loads them again.
func (s *Store) loadScripts(ctx context.Context) {
	s.loadOnce.Do(func() {
		_ = observeScript.Load(ctx, s.rdb).Err()
		_ = touchScript.Load(ctx, s.rdb).Err()
	})
}

// args are observeScript's arguments for the message.
func (o *ObserveCmd) args(lite bool) []any {
	m := o.msg
	l := ""
	if lite {
		l = "lite"
	}
	return o.s.args(NewID(), m.Channel, m.Account, m.From.ID, m.From.UnionID, m.ConversationID, m.From.Name,
		store.ScriptFlag(m.IsCustomer()), string(o.action), "keyword", o.meta, l)
}

// onlyTimesChange reports whether observeScript, given the message, would
// change nothing but the times of the contact rc remembers (as long as
// its pv is the remembered one, which touchScript checks).
func (o *ObserveCmd) onlyTimesChange(rc *recentContact) bool {
	m := o.msg
	return m.IsCustomer() && o.action == OptNone && m.ConversationID != "" && m.ConversationID == rc.conversationID &&
		(o.meta == "" || o.meta == rc.meta) &&
		(m.From.Name == "" || m.From.Name == rc.contact.PlatformName) &&
		(m.From.UnionID == "" || m.From.UnionID == rc.contact.UnionID)
}

// Result decodes the observation after the pipeline ran. When Redis had
// lost the script, or the remembered contact changed, it observes again in
// a round trip of its own (ctx bounds it).
func (o *ObserveCmd) Result(ctx context.Context) (*Observation, error) {
	if o.touched != nil {
		switch n, err := o.cmd.Int64(); {
		case err == nil && n == 1:
			c := copyContact(o.touched.contact)
			c.LastSeen, c.LastInbound = msInt(o.now), msInt(o.now)
			return &Observation{Contact: c, Action: OptNone, WasOptedOut: c.OptedOut, Path: ObservedTimesOnly}, nil
		case store.IsNoScript(err):
			_ = touchScript.Load(ctx, o.s.rdb).Err()
			return o.again(ctx)
		case err != nil:
			return nil, fmt.Errorf("observing contact: %w", err)
		}
		// The remembered contact changed: observe in full.
		obs, err := o.again(ctx)
		if obs != nil {
			obs.Path = ObservedChanged
		}
		return obs, err
	}
	res, err := o.cmd.Slice()
	if store.IsNoScript(err) {
		return o.again(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("observing contact: %w", err)
	}
	if len(res) != 4 {
		return nil, fmt.Errorf("observing contact: unexpected reply of %d items", len(res))
	}
	c, err := decodeContact(res[0])
	if err != nil {
		return nil, fmt.Errorf("observing contact: %w", err)
	}
	o.remember(c)
	return &Observation{Contact: c, Created: res[1] == int64(1), Action: o.action, Changed: res[2] == int64(1),
		WasOptedOut: res[3] == int64(1), Path: ObservedFull}, nil
}

// again runs the full observation on its own, sending the script's source
// if Redis lost it; its contact has no identities and notes, like a
// pipelined one.
func (o *ObserveCmd) again(ctx context.Context) (*Observation, error) {
	full := *o
	full.touched = nil
	full.cmd = observeScript.Run(ctx, o.s.rdb, []string{o.s.keys.Slot()}, o.args(true)...)
	return full.Result(ctx)
}

// remember keeps what a full observation of a customer message found, for
// the identity's next message (see recentContacts). The identity's record
// holds the message's conversation, and its meta when the message had any
// (else the record's, known only from a read with identities).
func (o *ObserveCmd) remember(c *Contact) {
	if !o.msg.IsCustomer() || o.msg.ConversationID == "" {
		return
	}
	rc := &recentContact{version: c.version, conversationID: o.msg.ConversationID, meta: o.meta,
		contact: copyContact(c)}
	for _, id := range c.Identities {
		if id.Key() == o.ik {
			rc = rememberIdentity(c.version, id, rc.contact)
		}
	}
	o.s.remembered.put(o.ik, rc)
}

// Get returns the contact with id (following merges), or ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (*Contact, error) {
	if id == "" {
		return nil, ErrNotFound
	}
	return s.read(ctx, id, Identity{})
}

// ByIdentity returns the contact of a channel identity, or ErrNotFound.
func (s *Store) ByIdentity(ctx context.Context, ident Identity) (*Contact, error) {
	if ident.Channel == "" || ident.Account == "" || ident.ID == "" {
		return nil, ErrNotFound
	}
	return s.read(ctx, "", ident)
}

func (s *Store) read(ctx context.Context, id string, ident Identity) (*Contact, error) {
	res, err := readScript.Run(ctx, s.rdb, []string{s.keys.Slot()}, s.args(id, ident.Channel, ident.Account, ident.ID)...).Result()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("reading contact: %w", err)
	}
	return decodeContact(res)
}

// ContactCmd is a contact read queued on a pipeline (see ReadPipe).
type ContactCmd struct{ cmd *redis.Cmd }

// Result decodes the contact after the pipeline ran: nil (and no error)
// when the identity has no contact yet.
func (c *ContactCmd) Result() (*Contact, error) {
	res, err := c.cmd.Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading contact: %w", err)
	}
	return decodeContact(res)
}

// ReadPipe queues the read of an identity's contact on pipe, so a caller
// (the router's first round trip) reads it with what it already loads. The
// script's source goes with the command, so it works on a Redis that has
// not seen it yet.
func (s *Store) ReadPipe(ctx context.Context, pipe redis.Pipeliner, channel, account, userID string) *ContactCmd {
	return &ContactCmd{cmd: readScript.Eval(ctx, pipe, []string{s.keys.Slot()}, s.args("", channel, account, userID)...)}
}

// GetPipe queues the read of a contact by id on pipe (see ReadPipe).
func (s *Store) GetPipe(ctx context.Context, pipe redis.Pipeliner, id string) *ContactCmd {
	return &ContactCmd{cmd: readScript.Eval(ctx, pipe, []string{s.keys.Slot()}, s.args(id, "", "", "")...)}
}

// decodeContact reads a contact script reply:
// {cid, hash kv, attributes kv, tags, identity JSON, note JSON}.
func decodeContact(v any) (*Contact, error) {
	arr, ok := v.([]any)
	if !ok || len(arr) != 6 {
		return nil, fmt.Errorf("decoding contact: unexpected reply %T", v)
	}
	c := &Contact{Attributes: map[string]string{}, Tags: []string{}, Identities: []Identity{}, Notes: []Note{}}
	c.ID, _ = arr[0].(string)
	h := pairs(arr[1])
	c.Name = h["name"]
	c.PlatformName = h["pname"]
	if c.Name == "" {
		c.Name = c.PlatformName
	}
	c.Timezone = h["tz"]
	c.UnionID = h["union"]
	c.Created = msTime(h["created"])
	c.FirstSeen = msTime(h["first"])
	c.LastSeen = msTime(h["last"])
	c.LastInbound = msTime(h["lin"])
	c.version = h["pv"]
	if o := h["opt"]; o != "" {
		c.OptedOut = true
		t := msTime(o)
		c.OptedOutAt = &t
		c.OptOutSource = h["opt_src"]
	}
	c.Attributes = pairs(arr[2])
	for _, t := range strs(arr[3]) {
		c.Tags = append(c.Tags, t)
	}
	sort.Strings(c.Tags)
	for _, raw := range strs(arr[4]) {
		var r identityRecord
		if err := json.Unmarshal([]byte(raw), &r); err != nil {
			continue
		}
		id := r.identity()
		// A returning customer's messages move the identity's last inbound
		// in the contact's hash, not in the record (TouchLua).
		if lin, err := strconv.ParseInt(h["il:"+id.Key()], 10, 64); err == nil && lin > r.LastInbound {
			id.LastInbound = msInt(lin)
		}
		c.Identities = append(c.Identities, id)
	}
	sort.Slice(c.Identities, func(i, j int) bool { return c.Identities[i].Key() < c.Identities[j].Key() })
	for _, raw := range strs(arr[5]) {
		var n Note
		if err := json.Unmarshal([]byte(raw), &n); err == nil {
			c.Notes = append(c.Notes, n)
		}
	}
	sort.SliceStable(c.Notes, func(i, j int) bool { return c.Notes[i].At.After(c.Notes[j].At) })
	return c, nil
}

// identityRecord is an identity as the scripts store it (times in ms).
type identityRecord struct {
	Channel        string `json:"channel"`
	Account        string `json:"account"`
	ID             string `json:"id"`
	UnionID        string `json:"union_id"`
	ConversationID string `json:"conversation_id"`
	FirstSeen      int64  `json:"first_seen"`
	LastInbound    int64  `json:"last_inbound"`
	// Meta is a JSON object, or [] when cjson wrote an empty table.
	Meta json.RawMessage `json:"meta"`
}

func (r identityRecord) identity() Identity {
	id := Identity{Channel: r.Channel, Account: r.Account, ID: r.ID, UnionID: r.UnionID, ConversationID: r.ConversationID,
		FirstSeen: msInt(r.FirstSeen), LastInbound: msInt(r.LastInbound)}
	var meta map[string]string
	if len(r.Meta) > 0 && json.Unmarshal(r.Meta, &meta) == nil && len(meta) > 0 {
		id.Meta = meta
	}
	return id
}

func pairs(v any) map[string]string {
	out := map[string]string{}
	arr, _ := v.([]any)
	for i := 0; i+1 < len(arr); i += 2 {
		k, _ := arr[i].(string)
		val, _ := arr[i+1].(string)
		out[k] = val
	}
	return out
}

func strs(v any) []string {
	arr, _ := v.([]any)
	out := make([]string, 0, len(arr))
	for _, x := range arr {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func msTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return time.Time{}
	}
	return msInt(int64(f))
}

func msInt(ms int64) time.Time {
	if ms <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}
