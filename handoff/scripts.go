package handoff

import "github.com/redis/go-redis/v9"

// The handoff's state changes are Lua scripts so that no two workers ever
// see a half-done change: a conversation is claimed by one agent only, an
// agent's capacity is never exceeded, a finished handoff is not resumed by
// a late timer. Every key a script touches carries the {ho} tag (one
// Cluster slot) and is passed in KEYS.

// beginScript starts a handoff unless one is active.
//
//	KEYS: 1 record, 2 queue (used when the new status is queued)
//	ARGV: 1 conversation id, 2 status, 3 now ms, 4 handoff id, 5.. field/value pairs
//
// Returns {"new", position} (position 0 unless queued), or
// {"active", status, agent, queue} when a handoff is already under way.
var beginScript = redis.NewScript(`
local st = redis.call('HGET', KEYS[1], 'status')
if st == 'queued' or st == 'assigned' or st == 'message' or st == 'servicer' then
  local h = redis.call('HMGET', KEYS[1], 'agent', 'queue')
  return {'active', st, h[1] or '', h[2] or ''}
end
redis.call('DEL', KEYS[1])
local fields = {'hid', ARGV[4], 'status', ARGV[2], 'seq', '0', 'req', ARGV[3]}
for i = 5, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
local pos = 0
if ARGV[2] == 'queued' then
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
  pos = redis.call('ZRANK', KEYS[2], ARGV[1]) + 1
end
return {'new', pos}
`)

// claimScript assigns waiting conversations of one queue, longest waiting
// first, to online agents with free capacity, and records each assignment
// as a claim to carry out (notify the agent, tell the customer) before its
// lease ends.
//
//	KEYS: 1 queue, 2 presence, 3 claims, 4 assignment counter,
//	      then per candidate agent: agent hash, agent conversations,
//	      then per conversation: its record
//	ARGV: 1 now ms, 2 lease end ms, 3 strategy, 4 agent count, 5 conversation count,
//	      then agent ids, then agent capacities, then conversation ids (queue order)
//
// Returns a flat list of conversation id, agent id pairs.
var claimScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local rr = ARGV[3] == 'round_robin'
local na = tonumber(ARGV[4])
local nc = tonumber(ARGV[5])
local out = {}
for j = 1, nc do
  local conv = ARGV[5 + 2 * na + j]
  local ckey = KEYS[4 + 2 * na + j]
  if redis.call('ZSCORE', KEYS[1], conv) then
    if redis.call('HGET', ckey, 'status') ~= 'queued' then
      redis.call('ZREM', KEYS[1], conv)
    else
      -- An agent who just gave the conversation back (a transfer to a
      -- queue, or gone quiet) gets it again only when nobody else can.
      local from = redis.call('HGET', ckey, 'from') or ''
      local best, bestLoad, bestLast = 0, 0, 0
      for pass = 1, 2 do
        for i = 1, na do
          local id = ARGV[5 + i]
          local cap = tonumber(ARGV[5 + na + i])
          local akey, ackey = KEYS[3 + 2 * i], KEYS[4 + 2 * i]
          local exp = tonumber(redis.call('ZSCORE', KEYS[2], id) or '0')
          if (id ~= from) == (pass == 1) and exp > now and redis.call('HGET', akey, 'off') ~= '1' then
            local load = redis.call('ZCARD', ackey)
            if load < cap then
              local last = tonumber(redis.call('HGET', akey, 'last') or '0')
              local better
              if best == 0 then better = true
              elseif rr then better = last < bestLast
              else better = load < bestLoad or (load == bestLoad and last < bestLast) end
              if better then best, bestLoad, bestLast = i, load, last end
            end
          end
        end
        if best ~= 0 or from == '' then break end
      end
      if best == 0 then break end
      local id = ARGV[5 + best]
      local akey, ackey = KEYS[3 + 2 * best], KEYS[4 + 2 * best]
      redis.call('ZREM', KEYS[1], conv)
      redis.call('ZADD', ackey, now, conv)
      redis.call('HSET', akey, 'last', redis.call('INCR', KEYS[4]))
      local cur = redis.call('HGET', akey, 'cur')
      if not cur or not redis.call('ZSCORE', ackey, cur) then redis.call('HSET', akey, 'cur', conv) end
      redis.call('HINCRBY', ckey, 'seq', 1)
      redis.call('HSET', ckey, 'status', 'assigned', 'agent', id, 'asg', now, 'from', '')
      redis.call('ZADD', KEYS[3], ARGV[2], conv)
      out[#out + 1] = conv
      out[#out + 1] = id
    end
  end
end
return out
`)

// callBackScript starts a handoff already assigned to the agent who calls
// back a customer (/callback), unless one is active or the agent is full:
// one step, so no assignment run can give the customer to someone else
// and nothing is left half-started. Like claimScript it records a claim,
// which complete carries out.
//
//	KEYS: 1 record, 2 agent hash, 3 agent conversations, 4 claims, 5 assignment counter
//	ARGV: 1 conversation id, 2 now ms, 3 lease end ms, 4 handoff id, 5 agent id,
//	      6 agent capacity, 7.. field/value pairs
//
// Returns "new", "active" or "full".
var callBackScript = redis.NewScript(`
local st = redis.call('HGET', KEYS[1], 'status')
if st == 'queued' or st == 'assigned' or st == 'message' or st == 'servicer' then return 'active' end
if redis.call('ZCARD', KEYS[3]) >= tonumber(ARGV[6]) then return 'full' end
redis.call('DEL', KEYS[1])
local fields = {'hid', ARGV[4], 'status', 'assigned', 'seq', '1', 'req', ARGV[2], 'asg', ARGV[2], 'agent', ARGV[5], 'from', ''}
for i = 7, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[2], 'last', redis.call('INCR', KEYS[5]), 'cur', ARGV[1])
redis.call('ZADD', KEYS[4], ARGV[3], ARGV[1])
return 'new'
`)

// recoverScript takes over claims whose lease ended (their worker died or
// stalled), extending the lease for the caller.
//
//	KEYS: 1 claims
//	ARGV: 1 now ms, 2 new lease end ms, 3 limit
var recoverScript = redis.NewScript(`
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, c in ipairs(due) do redis.call('ZADD', KEYS[1], ARGV[2], c) end
return due
`)

// finishScript moves a handoff out of its status: it leaves its queue and
// its agent, and the agent's current conversation moves on.
//
//	KEYS: 1 record, 2 queue, 3 agent hash, 4 agent conversations, 5 claims
//	ARGV: 1 conversation id, 2 handoff id, 3 allowed statuses (",a,b,"),
//	      4 new status, 5 now ms, 6 record TTL ms (0 = keep), 7 agent, 8 queue,
//	      9.. extra field/value pairs
//
// Returns {"ok", old status, the agent's next current conversation},
// {"gone"} when the handoff id changed, {"status", s} when the status is
// not allowed, {"retry"} when agent or queue changed since they were read.
var finishScript = redis.NewScript(`
local h = redis.call('HMGET', KEYS[1], 'hid', 'status', 'agent', 'queue')
if h[1] ~= ARGV[2] then return {'gone'} end
if not string.find(ARGV[3], ',' .. (h[2] or '') .. ',', 1, true) then return {'status', h[2] or ''} end
if (h[3] or '') ~= ARGV[7] or (h[4] or '') ~= ARGV[8] then return {'retry'} end
redis.call('ZREM', KEYS[2], ARGV[1])
local nextCur = ''
if ARGV[7] ~= '' then
  redis.call('ZREM', KEYS[4], ARGV[1])
  if redis.call('HGET', KEYS[3], 'cur') == ARGV[1] then
    local first = redis.call('ZRANGE', KEYS[4], 0, 0)
    if first[1] then
      redis.call('HSET', KEYS[3], 'cur', first[1])
      nextCur = first[1]
    else
      redis.call('HDEL', KEYS[3], 'cur')
    end
  end
end
redis.call('ZREM', KEYS[5], ARGV[1])
local fields = {'status', ARGV[4], 'end', ARGV[5]}
for i = 9, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
if ARGV[6] == '0' then redis.call('PERSIST', KEYS[1]) else redis.call('PEXPIRE', KEYS[1], ARGV[6]) end
return {'ok', h[2], nextCur}
`)

// transferScript moves an assigned conversation from one agent to another
// who is online and has room, and records the claim to notify the new agent.
//
//	KEYS: 1 record, 2 from agent hash, 3 from agent conversations, 4 to agent hash,
//	      5 to agent conversations, 6 presence, 7 claims, 8 assignment counter
//	ARGV: 1 conversation id, 2 handoff id, 3 from agent, 4 to agent, 5 to capacity,
//	      6 now ms, 7 lease end ms
//
// Returns {"ok", from agent's next current conversation}, or {"gone"},
// {"offline"}, {"full"}.
var transferScript = redis.NewScript(`
local h = redis.call('HMGET', KEYS[1], 'hid', 'status', 'agent')
if h[1] ~= ARGV[2] or h[2] ~= 'assigned' or h[3] ~= ARGV[3] then return {'gone'} end
local exp = tonumber(redis.call('ZSCORE', KEYS[6], ARGV[4]) or '0')
if exp <= tonumber(ARGV[6]) or redis.call('HGET', KEYS[4], 'off') == '1' then return {'offline'} end
if redis.call('ZCARD', KEYS[5]) >= tonumber(ARGV[5]) then return {'full'} end
redis.call('ZREM', KEYS[3], ARGV[1])
local nextCur = ''
if redis.call('HGET', KEYS[2], 'cur') == ARGV[1] then
  local first = redis.call('ZRANGE', KEYS[3], 0, 0)
  if first[1] then
    redis.call('HSET', KEYS[2], 'cur', first[1])
    nextCur = first[1]
  else
    redis.call('HDEL', KEYS[2], 'cur')
  end
end
redis.call('ZADD', KEYS[5], ARGV[6], ARGV[1])
redis.call('HSET', KEYS[4], 'last', redis.call('INCR', KEYS[8]))
local cur = redis.call('HGET', KEYS[4], 'cur')
if not cur or not redis.call('ZSCORE', KEYS[5], cur) then redis.call('HSET', KEYS[4], 'cur', ARGV[1]) end
redis.call('HINCRBY', KEYS[1], 'seq', 1)
redis.call('HSET', KEYS[1], 'agent', ARGV[4], 'asg', ARGV[6], 'from', ARGV[3])
redis.call('ZADD', KEYS[7], ARGV[7], ARGV[1])
return {'ok', nextCur}
`)

// requeueScript puts an assigned conversation back in a queue, at the
// place its original request earned it.
//
//	KEYS: 1 record, 2 agent hash, 3 agent conversations, 4 queue, 5 claims
//	ARGV: 1 conversation id, 2 handoff id, 3 agent, 4 queue id
//
// Returns {"ok", the agent's next current conversation, position} or {"gone"}.
var requeueScript = redis.NewScript(`
local h = redis.call('HMGET', KEYS[1], 'hid', 'status', 'agent', 'req')
if h[1] ~= ARGV[2] or h[2] ~= 'assigned' or h[3] ~= ARGV[3] then return {'gone'} end
redis.call('ZREM', KEYS[3], ARGV[1])
local nextCur = ''
if redis.call('HGET', KEYS[2], 'cur') == ARGV[1] then
  local first = redis.call('ZRANGE', KEYS[3], 0, 0)
  if first[1] then
    redis.call('HSET', KEYS[2], 'cur', first[1])
    nextCur = first[1]
  else
    redis.call('HDEL', KEYS[2], 'cur')
  end
end
redis.call('ZREM', KEYS[5], ARGV[1])
redis.call('ZADD', KEYS[4], h[4], ARGV[1])
redis.call('HSET', KEYS[1], 'status', 'queued', 'agent', '', 'queue', ARGV[4], 'from', ARGV[3], 'pos', '0')
return {'ok', nextCur, redis.call('ZRANK', KEYS[4], ARGV[1]) + 1}
`)

// heartbeatScript refreshes an agent's presence unless they went /offline.
//
//	KEYS: 1 presence, 2 agent hash
//	ARGV: 1 agent id, 2 presence end ms, 3 mode: "beat", "online" or "offline", 4 now ms
//
// Returns 1 when the agent was offline (or expired) before and is online now.
var heartbeatScript = redis.NewScript(`
local before = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1]) or '0')
local off = redis.call('HGET', KEYS[2], 'off') == '1'
if ARGV[3] == 'offline' then
  redis.call('HSET', KEYS[2], 'off', '1')
  redis.call('ZREM', KEYS[1], ARGV[1])
  return 0
end
if ARGV[3] == 'online' then
  redis.call('HDEL', KEYS[2], 'off')
  off = false
end
if off then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
if before <= tonumber(ARGV[4]) then return 1 end
return 0
`)

// rateScript records a customer's rating once: it consumes the open
// question and adds the score to the conversation's and the agent's tallies.
//
//	KEYS: 1 open question, 2 conversation ratings, 3 agent tallies, 4 ratings log
//	ARGV: 1 handoff id, 2 score, 3 rating JSON, 4 conversation id
//
// Returns the agent id, or false when no question (for that handoff) is open.
var rateScript = redis.NewScript(`
local h = redis.call('HMGET', KEYS[1], 'hid', 'agent')
if not h[1] or h[1] ~= ARGV[1] then return false end
redis.call('DEL', KEYS[1])
redis.call('RPUSH', KEYS[2], ARGV[3])
redis.call('LTRIM', KEYS[2], -100, -1)
redis.call('HINCRBY', KEYS[3], h[2] .. ':n', 1)
redis.call('HINCRBY', KEYS[3], h[2] .. ':sum', ARGV[2])
redis.call('HINCRBY', KEYS[3], h[2] .. ':s' .. ARGV[2], 1)
redis.call('XADD', KEYS[4], 'MAXLEN', '~', 100000, '*', 'conversation', ARGV[4], 'agent', h[2], 'handoff', ARGV[1], 'score', ARGV[2])
return h[2]
`)

// clearOwnerAtScript gives the conversation back to the bot only if its
// state hash is still at the version the caller read, so an owner set after
// that read (a newer handoff's) is never cleared by mistake: every owner
// change bumps the version.
//
//	KEYS: 1 conversation hash
//	ARGV: 1 expected version (field v, "0" when absent)
//
// Returns 1 when the owner was cleared, 0 when the version moved on.
var clearOwnerAtScript = redis.NewScript(`
if (redis.call('HGET', KEYS[1], 'v') or '0') ~= ARGV[1] then return 0 end
if redis.call('HDEL', KEYS[1], 'o') == 1 then redis.call('HINCRBY', KEYS[1], 'v', 1) end
return 1
`)

// ownerScript sets or clears the conversation's owner (field o of its
// state hash) and bumps its version, so a turn in flight fails its
// compare-and-set and runs again, seeing the new owner. It leaves owners
// that are not the handoff's alone.
//
//	KEYS: 1 conversation hash
//	ARGV: 1 new owner ("" = the bot), 2 only when the current owner is this
//	      ("" = any handoff owner or none), 3 TTL ms for a hash without one,
//	      4.. handoff owner prefixes
//
// Returns 1 when the owner is now ARGV[1], 0 when someone else owns it.
var ownerScript = redis.NewScript(`
local o = redis.call('HGET', KEYS[1], 'o') or ''
if ARGV[2] ~= '' and o ~= ARGV[2] then return 0 end
if o ~= '' then
  local mine = false
  for i = 4, #ARGV do
    if string.sub(o, 1, #ARGV[i]) == ARGV[i] then mine = true end
  end
  if not mine then return 0 end
end
if o == ARGV[1] then return 1 end
if ARGV[1] == '' then
  redis.call('HDEL', KEYS[1], 'o')
else
  redis.call('HSET', KEYS[1], 'o', ARGV[1])
end
redis.call('HINCRBY', KEYS[1], 'v', 1)
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return 1
`)
