package contacts

import "github.com/redis/go-redis/v9"

// luaLib is shared by the contact scripts. Every script gets ARGV[1] = the
// key base ("kefu:{ct}:") and ARGV[2] = now in ms, and names a {ct} key as
// KEYS[1] so Redis Cluster routes it; the keys it touches are built from
// the base and all live in that slot.
const luaLib = `
local P = ARGV[1]
local NOW = tonumber(ARGV[2])
local function ck(cid) return P .. 'c:' .. cid end

local function resolve(cid)
  for _ = 1, 16 do
    local to = redis.call('HGET', P .. 'alias', cid)
    if not to then return cid end
    cid = to
  end
  return cid
end

local function exists(cid) return redis.call('EXISTS', ck(cid)) == 1 end

-- bump marks a change to the contact's profile or identities: processes
-- that remember the contact (touchScript) must read it again.
local function bump(cid) redis.call('HINCRBY', ck(cid), 'pv', 1) end

local function ik_parts(ik)
  local c, a = string.match(ik, '^([^/]*)/([^/]*)/')
  return c, a
end

local function index_identity(cid, ik, old)
  local c, a = ik_parts(ik)
  redis.call('HSET', P .. 'id', ik, cid)
  if old then
    redis.call('SREM', P .. 'ch:' .. c, old)
    redis.call('SREM', P .. 'ch:' .. c .. '/' .. a, old)
  end
  redis.call('SADD', P .. 'ch:' .. c, cid)
  redis.call('SADD', P .. 'ch:' .. c .. '/' .. a, cid)
end

local function fields(key)
  local kv = redis.call('HGETALL', key)
  local t = {}
  for i = 1, #kv, 2 do t[kv[i]] = kv[i + 1] end
  return t
end

local function create(cid)
  redis.call('HSET', ck(cid), 'created', NOW, 'first', NOW, 'last', NOW)
  redis.call('ZADD', P .. 'seen', NOW, cid)
end

-- merge moves everything of contact from into contact into; into wins on
-- conflicts, an opt-out on either side is kept, and from becomes an alias.
local function merge(into, from)
  if into == from then return end
  local fi, ti = ck(from), ck(into)
  local ids = redis.call('HGETALL', fi .. ':i')
  for i = 1, #ids, 2 do
    redis.call('HSET', ti .. ':i', ids[i], ids[i + 1])
    index_identity(into, ids[i], from)
  end
  for _, t in ipairs(redis.call('SMEMBERS', fi .. ':t')) do
    redis.call('SADD', ti .. ':t', t)
    redis.call('SREM', P .. 'tag:' .. t, from)
    redis.call('SADD', P .. 'tag:' .. t, into)
  end
  local attrs = redis.call('HGETALL', fi .. ':a')
  for i = 1, #attrs, 2 do redis.call('HSETNX', ti .. ':a', attrs[i], attrs[i + 1]) end
  for _, n in ipairs(redis.call('LRANGE', fi .. ':n', 0, -1)) do redis.call('RPUSH', ti .. ':n', n) end
  local f, t = fields(fi), fields(ti)
  -- The moved identities' last inbound (see TouchLua) moves with them.
  for k, v in pairs(f) do
    if string.sub(k, 1, 3) == 'il:' then redis.call('HSET', ti, k, v) end
  end
  for _, k in ipairs({'name', 'pname', 'tz', 'union'}) do
    if (t[k] or '') == '' and (f[k] or '') ~= '' then redis.call('HSET', ti, k, f[k]) end
  end
  if (t.opt or '') == '' and (f.opt or '') ~= '' then redis.call('HSET', ti, 'opt', f.opt, 'opt_src', f.opt_src or '') end
  local function num(x) return tonumber(x or '0') or 0 end
  if t.first == nil or (f.first and num(f.first) < num(t.first)) then redis.call('HSET', ti, 'first', f.first or NOW) end
  if t.created == nil or (f.created and num(f.created) < num(t.created)) then redis.call('HSET', ti, 'created', f.created or NOW) end
  local last = math.max(num(f.last), num(t.last))
  redis.call('HSET', ti, 'last', last)
  if num(f.lin) > num(t.lin) then redis.call('HSET', ti, 'lin', f.lin) end
  if (f.union or '') ~= '' then redis.call('HSET', P .. 'union', f.union, into) end
  local ffu, tfu = P .. 'fu:' .. from, P .. 'fu:' .. into
  local fus = redis.call('HGETALL', ffu)
  if #fus > 0 then
    for i = 1, #fus, 2 do redis.call('HSET', tfu, fus[i], fus[i + 1]) end
    local a, b = redis.call('PTTL', ffu), redis.call('PTTL', tfu)
    if a < 0 or b < 0 then redis.call('PERSIST', tfu) else redis.call('PEXPIRE', tfu, math.max(a, b)) end
  end
  redis.call('DEL', fi, fi .. ':i', fi .. ':t', fi .. ':a', fi .. ':n', ffu)
  redis.call('ZREM', P .. 'seen', from)
  redis.call('ZADD', P .. 'seen', last, into)
  redis.call('HSET', P .. 'alias', from, into)
  bump(into)
end

-- locate finds the contact of an identity, linking it through the UnionID
-- (merging two contacts the UnionID proves are one person) and creating it
-- with new_cid when there is none (unless new_cid is ''). It returns the
-- contact id, whether it was created, the identity key and its record.
local function locate(ch, acct, uid, union, new_cid)
  local ik = ch .. '/' .. acct .. '/' .. uid
  local cid = redis.call('HGET', P .. 'id', ik)
  if cid then
    cid = resolve(cid)
    if not exists(cid) then cid = nil end
  end
  if union ~= '' then
    local u = redis.call('HGET', P .. 'union', union)
    if u then
      u = resolve(u)
      if exists(u) then
        if not cid then cid = u elseif cid ~= u then merge(u, cid); cid = u end
      end
    end
  end
  local created = 0
  if not cid then
    if new_cid == '' then return nil end
    cid = new_cid
    create(cid)
    created = 1
  end
  if union ~= '' then
    redis.call('HSET', P .. 'union', union, cid)
    redis.call('HSET', ck(cid), 'union', union)
  end
  local raw = redis.call('HGET', ck(cid) .. ':i', ik)
  local idt
  if raw then
    idt = cjson.decode(raw)
  else
    idt = {channel = ch, account = acct, id = uid, first_seen = NOW}
    index_identity(cid, ik, nil)
  end
  if union ~= '' then idt.union_id = union end
  return cid, created, ik, idt
end

local function save_identity(cid, ik, idt)
  redis.call('HSET', ck(cid) .. ':i', ik, cjson.encode(idt))
end

local function read(cid)
  local c = ck(cid)
  return {cid, redis.call('HGETALL', c), redis.call('HGETALL', c .. ':a'), redis.call('SMEMBERS', c .. ':t'),
    redis.call('HVALS', c .. ':i'), redis.call('LRANGE', c .. ':n', 0, -1)}
end
`

// observeScript records an inbound message: it finds or creates the
// sender's contact (linking by UnionID), updates the identity, last seen and
// (for customer messages) last inbound, applies an opt-out or opt-in, and
// returns the contact.
//
//	ARGV: 3 new cid, 4 channel, 5 account, 6 user id, 7 union id,
//	      8 conversation id, 9 platform name, 10 customer message "1"/"0",
//	      11 opt "out" | "in" | "", 12 opt source, 13 routing meta JSON ("" = none),
//	      14 "lite" to return the contact without identities and notes
//
// A returning customer whose identity, contact and UnionID are already
// linked is found by the few lines before the library: defining the
// library's functions costs Redis more than the rest of such an
// observation (BenchmarkObserveKnownCustomer/full). Everyone else goes through
// locate. Any change besides the times (a new contact or identity, another
// conversation, routing meta or platform name, consent) bumps the
// contact's pv, which touchScript checks.
//
// Returns {contact, created, opt changed, opted out before}.
var observeScript = redis.NewScript(`
local P, NOW = ARGV[1], tonumber(ARGV[2])
local cid, created, ik, idt
local dirty = false
do
  local k = ARGV[4] .. '/' .. ARGV[5] .. '/' .. ARGV[6]
  local found = redis.call('HGET', P .. 'id', k)
  if found and not redis.call('HGET', P .. 'alias', found) then
    local fc = P .. 'c:' .. found
    local raw = redis.call('HGET', fc .. ':i', k)
    if raw and redis.call('EXISTS', fc) == 1 and (ARGV[7] == '' or
        (redis.call('HGET', P .. 'union', ARGV[7]) == found and redis.call('HGET', fc, 'union') == ARGV[7])) then
      cid, created, ik, idt = found, 0, k, cjson.decode(raw)
      if ARGV[7] ~= '' then idt.union_id = ARGV[7] end
    end
  end
end
if not cid then
` + luaLib + `
  cid, created, ik, idt = locate(ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[3])
  dirty = true
end
local c = P .. 'c:' .. cid
-- The fields read below, in one call; each is read before it is written.
local lin, pname, last, opted = unpack(redis.call('HMGET', c, 'lin', 'pname', 'last', 'opt'))
if ARGV[8] ~= '' and idt.conversation_id ~= ARGV[8] then
  idt.conversation_id = ARGV[8]
  dirty = true
end
if ARGV[13] ~= '' then
  local meta, same = cjson.decode(ARGV[13]), type(idt.meta) == 'table'
  if same then
    for k, v in pairs(meta) do if idt.meta[k] ~= v then same = false end end
    for k in pairs(idt.meta) do if meta[k] == nil then same = false end end
  end
  if not same then
    idt.meta = meta
    dirty = true
  end
end
if ARGV[10] == '1' then
  idt.last_inbound = NOW
  redis.call('HSET', c, 'lin', math.max((tonumber(lin) or 0) + 1, NOW))
end
redis.call('HSET', c .. ':i', ik, cjson.encode(idt))
if ARGV[9] ~= '' and pname ~= ARGV[9] then
  redis.call('HSET', c, 'pname', ARGV[9])
  dirty = true
end
if NOW > (tonumber(last) or 0) then
  redis.call('HSET', c, 'last', NOW)
  redis.call('ZADD', P .. 'seen', NOW, cid)
end
local before = (opted and opted ~= '') and 1 or 0
local changed = 0
if ARGV[11] == 'out' and before == 0 then
  redis.call('HSET', c, 'opt', NOW, 'opt_src', ARGV[12])
  changed = 1
elseif ARGV[11] == 'in' and before == 1 then
  redis.call('HDEL', c, 'opt', 'opt_src')
  changed = 1
end
if dirty or changed == 1 then redis.call('HINCRBY', c, 'pv', 1) end
local contact
if ARGV[14] == 'lite' then
  -- What a turn needs: the profile, attributes and tags.
  contact = {cid, redis.call('HGETALL', c), redis.call('HGETALL', c .. ':a'), redis.call('SMEMBERS', c .. ':t'), {}, {}}
else
  contact = {cid, redis.call('HGETALL', c), redis.call('HGETALL', c .. ':a'), redis.call('SMEMBERS', c .. ':t'),
    redis.call('HVALS', c .. ':i'), redis.call('LRANGE', c .. ':n', 0, -1)}
end
return {contact, created, changed, before}
`)

// TouchLua defines the two halves of a returning customer's observation
// whose contact this process remembers (see recentContacts): when the
// contact's pv is still the one remembered, nothing but the times can
// differ from what observeScript would write.
//
//   - contact_touch_check(P, cid, ik, pv) returns the contact's hash key
//     and times while the contact exists at version pv ("" = none yet) and
//     still holds the identity; otherwise (changed, merged away, gone) nil,
//     having written nothing.
//   - contact_touch_apply(P, NOW, cid, ik, c, h) then moves the contact's
//     last inbound and last seen, and the identity's last inbound: that
//     one goes in the contact's hash, as il:<identity key>, instead of
//     inside the identity's JSON record, which a returning customer's
//     message would otherwise have to read, rewrite and store again
//     (decodeContact reads the later of the two).
//
// touchScript runs both alone; the router's one-trip commit runs them in
// its own script (check before it writes anything, apply after), so the
// turn costs Redis one script call fewer.
const TouchLua = `
local function contact_touch_check(P, cid, ik, pv)
  local c = P .. 'c:' .. cid
  local h = redis.call('HMGET', c, 'pv', 'created', 'lin', 'last')
  if not h[2] or (h[1] or '') ~= pv then return nil end
  if redis.call('HEXISTS', c .. ':i', ik) == 0 then return nil end
  return c, h
end
local function contact_touch_apply(P, NOW, cid, ik, c, h)
  local lin = math.max((tonumber(h[3]) or 0) + 1, NOW)
  if NOW > (tonumber(h[4]) or 0) then
    redis.call('HSET', c, 'lin', lin, 'last', NOW, 'il:' .. ik, NOW)
    redis.call('ZADD', P .. 'seen', NOW, cid)
  else
    redis.call('HSET', c, 'lin', lin, 'il:' .. ik, NOW)
  end
end
`

// touchScript is TouchLua on its own: it moves the remembered contact's
// times and returns 1, or writes nothing and returns 0 when the contact
// changed, and the caller observes in full.
//
//	ARGV: 1 key prefix, 2 now (ms), 3 cid, 4 identity key, 5 remembered pv
var touchScript = redis.NewScript(TouchLua + `
local P, NOW, cid, ik = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]
local c, h = contact_touch_check(P, cid, ik, ARGV[5])
if not c then return 0 end
contact_touch_apply(P, NOW, cid, ik, c, h)
return 1
`)

// readScript reads a contact by id (following merges) or by identity.
//
//	ARGV: 3 cid ("" = by identity), 4 channel, 5 account, 6 user id
//
// Returns the contact, or false.
var readScript = redis.NewScript(luaLib + `
local cid
if ARGV[3] ~= '' then
  cid = resolve(ARGV[3])
else
  cid = redis.call('HGET', P .. 'id', ARGV[4] .. '/' .. ARGV[5] .. '/' .. ARGV[6])
  if not cid then return false end
  cid = resolve(cid)
end
if not exists(cid) then return false end
return read(cid)
`)

// updateScript changes a contact found by id, or by identity (created when
// missing). ops is JSON: {name, tz, set: {k: v}, unset: [k], add: [tag],
// remove: [tag], opt: "out"|"in", opt_src, note: {...}, max_tags,
// max_attrs, max_notes}; absent keys change nothing. Limits are checked
// before the profile is written; a contact found by identity has that
// identity (and a new contact) recorded first.
//
//	ARGV: 3 cid ("" = by identity), 4 channel, 5 account, 6 user id,
//	      7 union id, 8 conversation id, 9 new cid, 10 ops JSON
//
// Returns {"ok", contact} or {"notfound"} or {"limit", what, max}.
var updateScript = redis.NewScript(luaLib + `
local cid
if ARGV[3] ~= '' then
  cid = resolve(ARGV[3])
  if not exists(cid) then return {'notfound'} end
else
  local created, ik, idt
  cid, created, ik, idt = locate(ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[9])
  if ARGV[8] ~= '' and idt.conversation_id ~= ARGV[8] then idt.conversation_id = ARGV[8] end
  save_identity(cid, ik, idt)
  -- Written even when a limit refuses the rest: processes remembering the
  -- contact must read it again.
  bump(cid)
end
local c = ck(cid)
local ops = cjson.decode(ARGV[10])
local null = cjson.null
if type(ops.add) == 'table' and #ops.add > 0 then
  local n = redis.call('SCARD', c .. ':t')
  local removing = {}
  if type(ops.remove) == 'table' then for _, t in ipairs(ops.remove) do removing[t] = true end end
  for _, t in ipairs(ops.add) do
    if redis.call('SISMEMBER', c .. ':t', t) == 0 then n = n + 1 end
  end
  for t, _ in pairs(removing) do
    if redis.call('SISMEMBER', c .. ':t', t) == 1 then n = n - 1 end
  end
  if n > ops.max_tags then return {'limit', 'tags', ops.max_tags} end
end
-- was holds the attributes' values before the update (false when unset),
-- read once for the limit and for telling a change.
local was = {}
if type(ops.set) == 'table' then
  local n = redis.call('HLEN', c .. ':a')
  for k, _ in pairs(ops.set) do
    was[k] = redis.call('HGET', c .. ':a', k)
    if not was[k] then n = n + 1 end
  end
  if type(ops.unset) == 'table' then
    for _, k in ipairs(ops.unset) do
      if redis.call('HEXISTS', c .. ':a', k) == 1 then n = n - 1 end
    end
  end
  if n > ops.max_attrs then return {'limit', 'attributes', ops.max_attrs} end
end
-- changed records whether the update changed the contact: only then is
-- pv bumped, so a flow setting the same tag on every visit does not make
-- other processes observe the contact in full again.
local changed = false
local function set_field(key, field, value)
  if redis.call('HGET', key, field) ~= value then
    redis.call('HSET', key, field, value)
    changed = true
  end
end
if type(ops.remove) == 'table' then
  for _, t in ipairs(ops.remove) do
    if redis.call('SREM', c .. ':t', t) == 1 then changed = true end
    redis.call('SREM', P .. 'tag:' .. t, cid)
  end
end
if type(ops.add) == 'table' then
  for _, t in ipairs(ops.add) do
    if redis.call('SADD', c .. ':t', t) == 1 then changed = true end
    redis.call('SADD', P .. 'tag:' .. t, cid)
  end
end
if type(ops.unset) == 'table' then
  for _, k in ipairs(ops.unset) do
    if redis.call('HDEL', c .. ':a', k) == 1 then changed = true end
  end
end
if type(ops.set) == 'table' then
  -- A key is never both set and unset (Update.Validate), so was still holds.
  for k, v in pairs(ops.set) do
    if was[k] ~= v then
      redis.call('HSET', c .. ':a', k, v)
      changed = true
    end
  end
end
if type(ops.name) == 'string' then set_field(c, 'name', ops.name) end
if type(ops.tz) == 'string' then set_field(c, 'tz', ops.tz) end
if ops.opt == 'out' then
  local o = redis.call('HGET', c, 'opt')
  if not o or o == '' then
    redis.call('HSET', c, 'opt', NOW, 'opt_src', ops.opt_src or 'api')
    changed = true
  end
elseif ops.opt == 'in' then
  if redis.call('HDEL', c, 'opt', 'opt_src') > 0 then changed = true end
end
if type(ops.note) == 'string' then
  redis.call('LPUSH', c .. ':n', ops.note)
  redis.call('LTRIM', c .. ':n', 0, ops.max_notes - 1)
  changed = true
end
if changed then bump(cid) end
return {'ok', read(cid)}
`)

// linkScript adds an identity to a contact. When the identity (or its
// UnionID) belongs to another contact, that contact is merged into this one.
//
//	ARGV: 3 cid, 4 channel, 5 account, 6 user id, 7 union id
//
// Returns {"ok", contact, merged cid or ""} or {"notfound"}.
var linkScript = redis.NewScript(luaLib + `
local cid = resolve(ARGV[3])
if not exists(cid) then return {'notfound'} end
local ik = ARGV[4] .. '/' .. ARGV[5] .. '/' .. ARGV[6]
local merged = ''
local other = redis.call('HGET', P .. 'id', ik)
if other then other = resolve(other) end
if other and other ~= cid and exists(other) then
  merge(cid, other)
  merged = other
end
if ARGV[7] ~= '' then
  local u = redis.call('HGET', P .. 'union', ARGV[7])
  if u then u = resolve(u) end
  if u and u ~= cid and exists(u) then
    merge(cid, u)
    merged = u
  end
  redis.call('HSET', P .. 'union', ARGV[7], cid)
  if (redis.call('HGET', ck(cid), 'union') or '') == '' then redis.call('HSET', ck(cid), 'union', ARGV[7]) end
end
local raw = redis.call('HGET', ck(cid) .. ':i', ik)
local idt
if raw then idt = cjson.decode(raw) else idt = {channel = ARGV[4], account = ARGV[5], id = ARGV[6], first_seen = NOW} end
if ARGV[7] ~= '' then idt.union_id = ARGV[7] end
save_identity(cid, ik, idt)
index_identity(cid, ik, nil)
bump(cid)
return {'ok', read(cid), merged}
`)
