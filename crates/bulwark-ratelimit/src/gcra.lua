-- GCRA decision for one key, atomically, on Redis's clock. The twin of `decide` in
-- gcra.rs: same integer microseconds, same comparisons, same rounding (floor division,
-- corrected below so that double division cannot round up across an integer).
--
-- KEYS[1]  the key (holds the TAT: µs on Redis's clock, as a decimal integer)
-- ARGV[1]  emission interval T, µs
-- ARGV[2]  tolerance, burst x T, µs
-- ARGV[3]  cost, units
-- Returns { allowed (0/1), remaining, reset_after µs, retry_after µs or -1 }.
--
-- Every value stays below 2^53 (the quota is bounded in gcra.rs), where Lua's doubles
-- are exact integers.

local function floor_div(a, b)
  local q = math.floor(a / b)
  if q * b > a then
    q = q - 1
  elseif (q + 1) * b <= a then
    q = q + 1
  end
  return q
end

local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])

local base = now
local stored = tonumber(redis.call('GET', KEYS[1]) or '')
if stored and stored > now then
  base = stored
end

local new_tat = base + interval * cost
local allowed = 0
local state = base
local retry_after = -1
if new_tat - now <= tolerance then
  allowed = 1
  state = new_tat
  if new_tat > now then
    -- '%d', not tostring: tostring keeps only 14 significant digits. The key expires
    -- when its bucket is full again, so idle keys cost no memory.
    local ttl_ms = floor_div(new_tat - now + 999, 1000)
    redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', ttl_ms)
  end
elseif interval * cost <= tolerance then
  retry_after = new_tat - tolerance - now
end

local reset_after = state - now
local remaining = 0
if tolerance > reset_after then
  remaining = floor_div(tolerance - reset_after, interval)
end
return { allowed, remaining, reset_after, retry_after }
