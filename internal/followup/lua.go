package followup

import "github.com/redis/go-redis/v9"

// The follow-up scripts take KEYS[1] = the contact's hash and KEYS[2] = the
// contact's follow-up hash (both in the contacts {ct} slot), so the opt-out
// and the customer's replies are checked in the same atomic step that
// claims a follow-up for sending.

// scheduleScript stores a follow-up record, replacing the one with the same
// key (its generation goes up so the old task does nothing), after checking
// the contact's pending limit and pruning the oldest finished records.
//
//	ARGV: 1 field, 2 record JSON, 3 max pending, 4 keep-until ms, 5 now ms
//
// Returns {"ok", gen, old gen, old status} | {"nocontact"} | {"limit", n}.
var scheduleScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return {'nocontact'} end
local max = tonumber(ARGV[3])
local now = tonumber(ARGV[5])
local gen, oldgen, oldstatus = 1, 0, ''
local pending = 0
local finished = {}
local all = redis.call('HGETALL', KEYS[2])
for i = 1, #all, 2 do
  local r = cjson.decode(all[i + 1])
  if all[i] == ARGV[1] then
    oldgen = tonumber(r.gen) or 0
    oldstatus = r.status or ''
    gen = oldgen + 1
  elseif r.status == 'scheduled' or r.status == 'sending' then
    pending = pending + 1
  else
    finished[#finished + 1] = {all[i], tonumber(r.u) or 0}
  end
end
if pending >= max then return {'limit', pending} end
if #finished >= max then
  table.sort(finished, function(a, b) return a[2] < b[2] end)
  for i = 1, #finished - max + 1 do redis.call('HDEL', KEYS[2], finished[i][1]) end
end
local rec = cjson.decode(ARGV[2])
rec.gen = gen
rec.lin = tonumber(redis.call('HGET', KEYS[1], 'lin') or '0')
redis.call('HSET', KEYS[2], ARGV[1], cjson.encode(rec))
local keep = tonumber(ARGV[4]) - now
local ttl = redis.call('PTTL', KEYS[2])
if ttl < keep then redis.call('PEXPIRE', KEYS[2], keep) end
return {'ok', gen, oldgen, oldstatus}
`)

// claimScript moves a due follow-up from scheduled to sending, unless the
// customer opted out or (for cancel-on-reply ones) wrote since it was
// scheduled, which it records instead.
//
//	ARGV: 1 field, 2 gen, 3 now ms, 4 updated (RFC 3339)
//
// Returns "ok" | "stale" | "interrupted" | "opted_out" | "customer_replied".
var claimScript = redis.NewScript(`
local raw = redis.call('HGET', KEYS[2], ARGV[1])
if not raw then return 'stale' end
local r = cjson.decode(raw)
if tostring(r.gen) ~= ARGV[2] then return 'stale' end
if r.status == 'sending' then return 'interrupted' end
if r.status ~= 'scheduled' then return 'stale' end
local c = redis.call('HMGET', KEYS[1], 'opt', 'lin')
local result = 'ok'
if c[1] and c[1] ~= '' then
  r.status, r.reason, result = 'skipped', 'opted_out', 'opted_out'
elseif r.cancel_on_reply and (tonumber(c[2] or '0') or 0) > (tonumber(r.lin) or 0) then
  r.status, r.reason, result = 'cancelled', 'customer_replied', 'customer_replied'
else
  r.status = 'sending'
end
r.u, r.updated = tonumber(ARGV[3]), ARGV[4]
redis.call('HSET', KEYS[2], ARGV[1], cjson.encode(r))
return result
`)

// patchScript changes fields of a follow-up record if it is still the
// generation and in the status the caller saw.
//
//	ARGV: 1 field, 2 gen, 3 expected status ("*" = any unfinished), 4 patch JSON
//
// Returns "ok" | "stale".
var patchScript = redis.NewScript(`
local raw = redis.call('HGET', KEYS[2], ARGV[1])
if not raw then return 'stale' end
local r = cjson.decode(raw)
if tostring(r.gen) ~= ARGV[2] then return 'stale' end
if ARGV[3] == '*' then
  if r.status ~= 'scheduled' and r.status ~= 'sending' then return 'stale' end
elseif r.status ~= ARGV[3] then
  return 'stale'
end
for k, v in pairs(cjson.decode(ARGV[4])) do r[k] = v end
redis.call('HSET', KEYS[2], ARGV[1], cjson.encode(r))
return 'ok'
`)
