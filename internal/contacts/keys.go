package contacts

import "github.com/kefu-gateway/kefu/internal/store"

// Keys is the contacts key schema. Every key carries the hash tag {ct}, so
// contacts, their indexes, their follow-ups and campaigns' recipient states
// live in one Redis Cluster slot and one Lua script can check and change
// them together (an opt-out and a campaign send cannot cross). That puts
// them on one Cluster node: about 1 KiB per contact, so millions fit.
//
//	{ct}:c:<cid>           hash   name, pname (platform name), tz, union, opt (opt-out ms), opt_src,
//	                              created, first, last (seen ms), lin (last inbound customer message ms, strictly increasing),
//	                              pv (bumped by every change but the times; see recentContacts),
//	                              il:<channel>/<account>/<user id> (that identity's last inbound ms, when a
//	                              returning customer's message moved it; see TouchLua)
//	{ct}:c:<cid>:a         hash   attributes
//	{ct}:c:<cid>:t         set    tags
//	{ct}:c:<cid>:i         hash   "<channel>/<account>/<user id>" → identity JSON (its last_inbound as of
//	                              the last full observation; a later il: field on the contact wins)
//	{ct}:c:<cid>:n         list   notes JSON, newest first, capped
//	{ct}:id                hash   "<channel>/<account>/<user id>" → cid
//	{ct}:union             hash   WeChat UnionID → cid
//	{ct}:alias             hash   cid merged away → cid it was merged into
//	{ct}:seen              zset   cid scored by last seen ms (every contact)
//	{ct}:tag:<tag>         set    cids with the tag
//	{ct}:ch:<channel>      set    cids with an identity on the channel
//	{ct}:ch:<ch>/<account> set    cids with an identity on the account
//	{ct}:fu:<cid>          hash   the contact's follow-ups (package followup)
//	{ct}:cmp:...           campaigns (package campaign)
type Keys struct {
	// Base is the configured prefix plus "{ct}:".
	Base string
}

// NewKeys returns the contacts keys under the store's prefix.
func NewKeys(k store.Keys) Keys { return Keys{Base: k.Prefix + "{ct}:"} }

// Contact is the contact's main hash.
func (k Keys) Contact(cid string) string { return k.Base + "c:" + cid }

// Attributes is the contact's attribute hash.
func (k Keys) Attributes(cid string) string { return k.Base + "c:" + cid + ":a" }

// Tags is the contact's tag set.
func (k Keys) Tags(cid string) string { return k.Base + "c:" + cid + ":t" }

// Identities is the contact's identity hash.
func (k Keys) Identities(cid string) string { return k.Base + "c:" + cid + ":i" }

// Notes is the contact's note list.
func (k Keys) Notes(cid string) string { return k.Base + "c:" + cid + ":n" }

// IdentityIndex maps identities to contacts.
func (k Keys) IdentityIndex() string { return k.Base + "id" }

// UnionIndex maps WeChat UnionIDs to contacts.
func (k Keys) UnionIndex() string { return k.Base + "union" }

// Aliases maps merged-away contacts to the contact they became.
func (k Keys) Aliases() string { return k.Base + "alias" }

// Seen is every contact scored by when it was last seen (ms).
func (k Keys) Seen() string { return k.Base + "seen" }

// Tag is the set of contacts with tag.
func (k Keys) Tag(tag string) string { return k.Base + "tag:" + tag }

// Channel is the set of contacts with an identity on the channel, or on one
// account of it when account is not empty.
func (k Keys) Channel(channel, account string) string {
	if account == "" {
		return k.Base + "ch:" + channel
	}
	return k.Base + "ch:" + channel + "/" + account
}

// Followups is the contact's follow-up hash (owned by package followup;
// contacts moves it when contacts merge).
func (k Keys) Followups(cid string) string { return k.Base + "fu:" + cid }

// Slot is a key of the {ct} slot that scripts name as KEYS[1] so Redis
// Cluster routes them; the scripts build the other keys from Base.
func (k Keys) Slot() string { return k.Base + "seen" }
