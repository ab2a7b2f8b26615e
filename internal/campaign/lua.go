package campaign

import "github.com/redis/go-redis/v9"

// Recipient states in the :r hash: absent = queued; "i:<token>:<lease
// ms>" = being sent by the holder of token until lease; "s" = sent;
// "k:<reason>" = skipped; "f:<reason>" = failed; "d" = deferred.
//
// luaCommon is shared: KEYS[1] campaign hash, KEYS[2] stats hash,
// KEYS[3] recipient hash, KEYS[4] later zset.
const luaCommon = `
local function count(result)
  local kind = string.sub(result, 1, 1)
  if kind == 's' then
    redis.call('HINCRBY', KEYS[2], 'sent', 1)
  elseif kind == 'k' then
    redis.call('HINCRBY', KEYS[2], 'skipped', 1)
    redis.call('HINCRBY', KEYS[2], 'skipped:' .. string.sub(result, 3), 1)
  elseif kind == 'f' then
    redis.call('HINCRBY', KEYS[2], 'failed', 1)
    local reason = string.sub(result, 3)
    local colon = string.find(reason, ':', 1, true)
    if colon then reason = string.sub(reason, 1, colon - 1) end
    redis.call('HINCRBY', KEYS[2], 'failed:' .. reason, 1)
  end
end

-- complete marks a running campaign completed once every recipient is settled.
local function complete(now)
  local st = redis.call('HMGET', KEYS[2], 'sent', 'skipped', 'failed')
  local done = (tonumber(st[1]) or 0) + (tonumber(st[2]) or 0) + (tonumber(st[3]) or 0)
  local c = redis.call('HMGET', KEYS[1], 'status', 'total')
  if c[1] == 'running' and c[2] and done >= tonumber(c[2]) then
    redis.call('HSET', KEYS[1], 'status', 'completed', 'finished', now)
  end
end
`

// claimScript claims a recipient for sending: the campaign must be running
// at generation gen, the recipient queued or deferred, and the contact not
// opted out (then it is settled as skipped instead).
//
//	KEYS: 1-4 as luaCommon, 5 the contact's hash
//	ARGV: 1 contact id, 2 gen, 3 token, 4 lease until ms, 5 now ms
//
// Returns {"ok"} | {"skipped"} | {"settled", state} | {"inflight", state} | {"halt", status}.
var claimScript = redis.NewScript(luaCommon + `
local c = redis.call('HMGET', KEYS[1], 'status', 'gen')
if c[1] ~= 'running' then return {'halt', c[1] or ''} end
if c[2] ~= ARGV[2] then return {'halt', 'stale'} end
local r = redis.call('HGET', KEYS[3], ARGV[1])
local deferred = r == 'd'
if r and not deferred then
  if string.sub(r, 1, 2) == 'i:' then return {'inflight', r} end
  return {'settled', r}
end
if deferred then
  redis.call('HINCRBY', KEYS[2], 'deferred', -1)
  redis.call('ZREM', KEYS[4], ARGV[1])
end
local opt = redis.call('HGET', KEYS[5], 'opt')
if opt and opt ~= '' then
  redis.call('HSET', KEYS[3], ARGV[1], 'k:opted_out')
  count('k:opted_out')
  complete(ARGV[5])
  return {'skipped'}
end
redis.call('HSET', KEYS[3], ARGV[1], 'i:' .. ARGV[3] .. ':' .. ARGV[4])
redis.call('HINCRBY', KEYS[2], 'inflight', 1)
return {'ok'}
`)

// finishScript settles a recipient this worker claimed with token: result
// "s", "k:<reason>", "f:<reason>", or "release" (back to queued, for a
// retry). A recipient someone else marked interrupted because the lease
// ran out is corrected to the real result.
//
//	ARGV: 1 contact id, 2 token, 3 result, 4 now ms
//
// Returns "ok" | "stale".
var finishScript = redis.NewScript(luaCommon + `
local r = redis.call('HGET', KEYS[3], ARGV[1])
if r and string.find(r, 'i:' .. ARGV[2] .. ':', 1, true) == 1 then
  redis.call('HINCRBY', KEYS[2], 'inflight', -1)
  if ARGV[3] == 'release' then
    redis.call('HDEL', KEYS[3], ARGV[1])
    return 'ok'
  end
elseif r == 'f:interrupted:' .. ARGV[2] and ARGV[3] ~= 'release' then
  redis.call('HINCRBY', KEYS[2], 'failed', -1)
  redis.call('HINCRBY', KEYS[2], 'failed:interrupted', -1)
else
  return 'stale'
end
redis.call('HSET', KEYS[3], ARGV[1], ARGV[3])
count(ARGV[3])
complete(ARGV[4])
return 'ok'
`)

// interruptScript settles a recipient whose sender's lease ran out (the
// worker died mid-send) as failed: it may have reached the customer, so it
// is not sent again.
//
//	ARGV: 1 contact id, 2 the state seen ("i:<token>:<lease>"), 3 now ms
var interruptScript = redis.NewScript(luaCommon + `
local r = redis.call('HGET', KEYS[3], ARGV[1])
if r ~= ARGV[2] then return 'stale' end
local token = string.match(r, '^i:([^:]*):')
redis.call('HINCRBY', KEYS[2], 'inflight', -1)
redis.call('HSET', KEYS[3], ARGV[1], 'f:interrupted:' .. token)
count('f:interrupted')
complete(ARGV[3])
return 'ok'
`)

// settleScript settles queued (or deferred) recipients without a send:
// skipped ("k"), failed ("f") or deferred ("d", with when in ms), if the
// campaign is still running at gen.
//
//	ARGV: 1 gen, 2 now ms, then triples: contact id, kind, reason or due ms
//
// Returns "ok" | "halt".
var settleScript = redis.NewScript(luaCommon + `
local c = redis.call('HMGET', KEYS[1], 'status', 'gen')
if c[1] ~= 'running' or c[2] ~= ARGV[1] then return 'halt' end
for i = 3, #ARGV, 3 do
  local cid, kind, arg = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local r = redis.call('HGET', KEYS[3], cid)
  if not r or r == 'd' then
    if kind == 'd' then
      if not r then
        redis.call('HSET', KEYS[3], cid, 'd')
        redis.call('HINCRBY', KEYS[2], 'deferred', 1)
      end
      redis.call('ZADD', KEYS[4], arg, cid)
    else
      if r == 'd' then
        redis.call('HINCRBY', KEYS[2], 'deferred', -1)
        redis.call('ZREM', KEYS[4], cid)
      end
      local result = kind .. ':' .. arg
      redis.call('HSET', KEYS[3], cid, result)
      count(result)
    end
  end
end
complete(ARGV[2])
return 'ok'
`)

// controlScript pauses, resumes or cancels.
//
//	ARGV: 1 action (pause | resume | cancel), 2 now ms
//
// Returns {"ok", new status, gen} or {"refused", status}.
var controlScript = redis.NewScript(luaCommon + `
local c = redis.call('HMGET', KEYS[1], 'status', 'gen', 'total')
local status, gen = c[1], tonumber(c[2]) or 0
if not status then return {'refused', ''} end
local action, now = ARGV[1], ARGV[2]
if action == 'pause' then
  if status ~= 'running' and status ~= 'scheduled' then return {'refused', status} end
  redis.call('HSET', KEYS[1], 'status', 'paused', 'paused_from', status)
  return {'ok', 'paused', gen}
elseif action == 'resume' then
  if status ~= 'paused' then return {'refused', status} end
  local to = redis.call('HGET', KEYS[1], 'paused_from') or 'running'
  if to == 'running' and not c[3] then to = 'scheduled' end
  gen = gen + 1
  redis.call('HSET', KEYS[1], 'status', to, 'gen', gen)
  complete(now)
  return {'ok', redis.call('HGET', KEYS[1], 'status'), gen}
elseif action == 'cancel' then
  if status ~= 'running' and status ~= 'scheduled' and status ~= 'paused' then return {'refused', status} end
  local total = tonumber(c[3]) or 0
  local st = redis.call('HMGET', KEYS[2], 'sent', 'skipped', 'failed', 'inflight')
  local rest = total - (tonumber(st[1]) or 0) - (tonumber(st[2]) or 0) - (tonumber(st[3]) or 0) - (tonumber(st[4]) or 0)
  if rest > 0 then
    redis.call('HINCRBY', KEYS[2], 'skipped', rest)
    redis.call('HINCRBY', KEYS[2], 'skipped:cancelled', rest)
  end
  redis.call('HSET', KEYS[2], 'deferred', 0)
  redis.call('DEL', KEYS[4])
  if not c[3] then redis.call('HSET', KEYS[1], 'total', 0) end
  redis.call('HSET', KEYS[1], 'status', 'cancelled', 'finished', now, 'gen', gen + 1)
  return {'ok', 'cancelled', gen + 1}
end
return {'refused', status}
`)

// builtScript records the built audience and starts a scheduled campaign.
//
//	ARGV: 1 total, 2 batches, 3 now ms
//
// Returns the campaign's status.
var builtScript = redis.NewScript(luaCommon + `
redis.call('HSET', KEYS[1], 'total', ARGV[1], 'batches', ARGV[2], 'built', 1)
local status = redis.call('HGET', KEYS[1], 'status')
if status == 'scheduled' then
  redis.call('HSET', KEYS[1], 'status', 'running', 'started', ARGV[3])
  status = 'running'
elseif status == 'paused' then
  redis.call('HSET', KEYS[1], 'paused_from', 'running', 'started', ARGV[3])
end
complete(ARGV[3])
return redis.call('HGET', KEYS[1], 'status')
`)
