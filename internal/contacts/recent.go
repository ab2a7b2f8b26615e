package contacts

import (
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"sync"
)

// recentContactsMax bounds how many identities a process remembers. A
// forgotten one costs its next message the full observation, no more.
const recentContactsMax = 1 << 15

// recentContacts remembers, per identity, the contact the last full
// observation in this process found, so that the next message from that
// identity runs touchScript (the times only) instead of observeScript and
// skips reading the profile back. The contact's pv, which every other
// change bumps in Redis, tells the script whether what is remembered still
// holds; other processes' changes are caught that way too.
type recentContacts struct {
	mu sync.Mutex
	m  map[string]*recentContact
}

// recentContact is what an identity's last full observation left: enough
// to tell whether the next message would change anything but the times.
type recentContact struct {
	// version is the contact's pv ("" before its first change).
	version string
	// conversationID and meta are what the identity's record holds; meta
	// is "" until a message or an update is known to have set it, and a
	// message with meta then takes the full observation.
	conversationID string
	meta           string
	// contact is the profile without identities and notes, never changed
	// after it is stored (hits hand out copies).
	contact *Contact
}

func newRecentContacts() *recentContacts {
	return &recentContacts{m: make(map[string]*recentContact)}
}

// get returns what is remembered of identity key ik.
func (r *recentContacts) get(ik string) *recentContact {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.m[ik]
}

// put remembers rc for ik unless what is remembered is newer.
func (r *recentContacts) put(ik string, rc *recentContact) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.m[ik]; ok && old.contact.ID == rc.contact.ID && versionNumber(old.version) > versionNumber(rc.version) {
		return
	}
	if _, ok := r.m[ik]; !ok && len(r.m) >= recentContactsMax {
		for k := range r.m { // an arbitrary one
			delete(r.m, k)
			break
		}
	}
	r.m[ik] = rc
}

// refresh replaces what is remembered of c's identities with c as an
// update or link script returned it (a full read, with identities), so a
// flow that tags the customer does not cost the next message a full
// observation.
func (r *recentContacts) refresh(c *Contact) {
	if c == nil {
		return
	}
	var remembered *Contact // copied only when an identity is remembered
	for _, id := range c.Identities {
		if old := r.get(id.Key()); old != nil && old.contact.ID == c.ID {
			if remembered == nil {
				remembered = copyContact(c)
			}
			r.put(id.Key(), rememberIdentity(c.version, id, remembered))
		}
	}
}

// rememberIdentity is what a read of the contact c at version says of its
// identity id.
func rememberIdentity(version string, id Identity, c *Contact) *recentContact {
	return &recentContact{version: version, conversationID: id.ConversationID, meta: metaJSON(id.Meta), contact: c}
}

// metaJSON is routing meta as observeScript takes it and identity records
// hold it: a JSON object, or "" for none.
func metaJSON(meta map[string]string) string {
	if len(meta) == 0 {
		return ""
	}
	b, _ := json.Marshal(meta) // a map of strings always encodes
	return string(b)
}

// copyContact returns c without identities and notes (what the router's
// observation reads), with maps and slices of its own: the copy remembered
// shares nothing with the contact the caller got, and each hit hands out
// another copy.
func copyContact(c *Contact) *Contact {
	out := *c
	out.Attributes = maps.Clone(c.Attributes)
	out.Tags = slices.Clone(c.Tags)
	out.Identities, out.Notes = []Identity{}, []Note{}
	return &out
}

func versionNumber(v string) int64 {
	n, _ := strconv.ParseInt(v, 10, 64)
	return n
}
