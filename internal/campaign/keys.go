package campaign

import "github.com/kefu-gateway/kefu/internal/contacts"

// keys are a campaign's Redis keys, in the contacts {ct} slot so a claim
// checks the recipient's opt-out in the same atomic step.
//
//	{ct}:cmps              zset  campaign ids by creation (ms)
//	{ct}:cmp:<id>          hash  def (JSON), status, gen, created, started, finished, total, batches, planned, built, error
//	{ct}:cmp:<id>:st       hash  counters: sent, skipped, failed, inflight, deferred, skipped:<reason>, failed:<reason>
//	{ct}:cmp:<id>:r        hash  contact id → i:<token>:<lease ms> (sending) | s | k:<reason> | f:<reason> | d (deferred)
//	{ct}:cmp:<id>:aud      zset  the audience, scored by position (batches are rank ranges)
//	{ct}:cmp:<id>:later    zset  deferred contact ids by when they may go (ms)
//	{ct}:cmp:<id>:bd       set   numbers of the batches finished
//	{ct}:cmp:<id>:tmp      set   scratch while the audience is built
type keys struct {
	ct   contacts.Keys
	base string
}

func newKeys(ct contacts.Keys) keys { return keys{ct: ct, base: ct.Base} }

func (k keys) index() string             { return k.base + "cmps" }
func (k keys) campaign(id string) string { return k.base + "cmp:" + id }
func (k keys) stats(id string) string    { return k.base + "cmp:" + id + ":st" }
func (k keys) rcpt(id string) string     { return k.base + "cmp:" + id + ":r" }
func (k keys) aud(id string) string      { return k.base + "cmp:" + id + ":aud" }
func (k keys) later(id string) string    { return k.base + "cmp:" + id + ":later" }
func (k keys) done(id string) string     { return k.base + "cmp:" + id + ":bd" }
func (k keys) tmp(id string) string      { return k.base + "cmp:" + id + ":tmp" }

// all are the campaign's keys, for expiry.
func (k keys) all(id string) []string {
	return []string{k.campaign(id), k.stats(id), k.rcpt(id), k.aud(id), k.later(id), k.done(id), k.tmp(id)}
}
