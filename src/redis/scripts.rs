//! The Lua scripts that make every shared decision atomic in Redis.
//!
//! Each runs on the server's clock (`TIME`, milliseconds for the breaker, microseconds
//! for the limiter), so the processes' clocks never have to agree.
//!
//! # The breaker hash (`KEYS[1]`, `prefix:breaker:{name}`)
//!
//! | field | meaning |
//! | --- | --- |
//! | `st`, `gen` | state code (as [`State::code`](crate::State::code)) and generation |
//! | `ou`, `since` | open-until and the current state's start (server ms) |
//! | `ro` | consecutive re-opens (open-duration growth) |
//! | `ta`, `tsu`, `tfa` | half-open trial: admissions, successes, failures |
//! | `cf`, `ws`, `wf` | consecutive failures; failure window start and count |
//! | `cs`, `cfl` | successes and failures of the current generation, fleet-wide |
//! | `ts`, `tf`, `stale`, `trans` | lifetime successes, failures, stale outcomes dropped, transitions |
//!
//! `KEYS[2]` (`...:w`) holds the time-window buckets `c<index>` (calls) and `f<index>`
//! (failures); it is deleted at every transition.

use std::time::Duration;

use crate::breaker::{BreakerConfig, TransitionReason, TripPolicy, Window};

use super::link::Script;

/// Shared by every breaker script: arguments, server time, type checks, creation (or a
/// generation bump after the server lost its data), transitions and the reply.
const BREAKER_PRELUDE: &str = r#"
local K, W, C = KEYS[1], KEYS[2], ARGV[1]
local POL, THR, WIN, MINC = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local OPEN_MS, MULT, CAP = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local TRIAL, SUCC, MAXWAIT, BUCKET = tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11]), tonumber(ARGV[12])
local LOCAL_GEN = tonumber(ARGV[13])
local t = redis.call('TIME')
local NOW = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ty = redis.call('TYPE', K)['ok']
if ty ~= 'hash' and ty ~= 'none' then
  return redis.error_reply('WRONGTYPE key ' .. K .. ' holds a ' .. ty .. ', not a breakwater shared breaker (a hash)')
end
local wty = redis.call('TYPE', W)['ok']
if wty ~= 'hash' and wty ~= 'none' then
  return redis.error_reply('WRONGTYPE key ' .. W .. ' holds a ' .. wty .. ', not a breakwater window (a hash)')
end
local function num(f) return tonumber(redis.call('HGET', K, f) or '0') end
if ty == 'none' then
  redis.call('HSET', K, 'st', 0, 'gen', LOCAL_GEN + 1, 'since', NOW)
elseif num('gen') < LOCAL_GEN then
  redis.call('HSET', K, 'gen', LOCAL_GEN + 1)
end
local function go(to, why)
  local from = num('st')
  local gen = redis.call('HINCRBY', K, 'gen', 1)
  redis.call('DEL', W)
  local ou = 0
  if to == 1 then
    local k = num('ro')
    local d = OPEN_MS * (MULT ^ k)
    if CAP > 0 and d > CAP then d = CAP end
    ou = NOW + math.floor(d)
    redis.call('HSET', K, 'ro', k + 1)
  elseif to ~= 2 then
    redis.call('HSET', K, 'ro', 0)
  end
  redis.call('HSET', K, 'st', to, 'ou', ou, 'since', NOW, 'cf', 0, 'ws', 0, 'wf', 0,
    'ta', 0, 'tsu', 0, 'tfa', 0, 'cs', 0, 'cfl', 0)
  redis.call('HINCRBY', K, 'trans', 1)
  local rem = 0
  if ou > NOW then rem = ou - NOW end
  redis.call('PUBLISH', C, gen .. ' ' .. to .. ' ' .. rem .. ' ' .. why .. ' ' .. from)
end
local function settle()
  local st = num('st')
  if st == 1 and NOW >= num('ou') then go(2, 1)
  elseif st == 2 and NOW >= num('since') + MAXWAIT then go(1, 4) end
end
local function reply(extra)
  local st = num('st')
  local rem = 0
  if st == 1 and num('ou') > NOW then rem = num('ou') - NOW end
  return {st, num('gen'), rem, num('cs'), num('cfl'), num('cf'), num('stale'), num('ts'), num('tf'), extra}
end
"#;

/// Reads the state (after applying a due transition).
const SYNC: &str = r#"
settle()
return reply(0)
"#;

/// Adds a batch of outcomes of generation `ARGV[14]`: `ARGV[15]` successes, `ARGV[16]`
/// failures, `ARGV[17]` ignored, `ARGV[18]` failures after the batch's last success.
const RECORD: &str = r#"
settle()
local g, S, F, I, TR = tonumber(ARGV[14]), tonumber(ARGV[15]), tonumber(ARGV[16]), tonumber(ARGV[17]), tonumber(ARGV[18])
if g ~= num('gen') then
  redis.call('HINCRBY', K, 'stale', S + F)
  return reply(S + F)
end
redis.call('HINCRBY', K, 'ts', S)
redis.call('HINCRBY', K, 'tf', F)
local st = num('st')
if st == 0 or st == 4 then
  redis.call('HINCRBY', K, 'cs', S)
  redis.call('HINCRBY', K, 'cfl', F)
  if st == 0 then
    if POL == 1 then
      local cf = num('cf') + F
      if S > 0 then cf = TR end
      redis.call('HSET', K, 'cf', cf)
      if F > 0 and cf >= THR then go(1, 0) end
    elseif POL == 2 then
      if F > 0 then
        local ws, wf = num('ws'), num('wf')
        if ws == 0 or NOW - ws >= WIN then ws, wf = NOW, F else wf = wf + F end
        redis.call('HSET', K, 'ws', ws, 'wf', wf)
        if wf >= THR then go(1, 0) end
      end
    elseif S + F > 0 then
      local idx = math.floor(NOW / BUCKET)
      local nb = math.ceil(WIN / BUCKET)
      redis.call('HINCRBY', W, 'c' .. idx, S + F)
      if F > 0 then redis.call('HINCRBY', W, 'f' .. idx, F) end
      local all = redis.call('HGETALL', W)
      local calls, fails = 0, 0
      for i = 1, #all, 2 do
        local f = all[i]
        local b = tonumber(string.sub(f, 2))
        if b == nil or b <= idx - nb then
          redis.call('HDEL', W, f)
        elseif string.sub(f, 1, 1) == 'c' then
          calls = calls + tonumber(all[i + 1])
        else
          fails = fails + tonumber(all[i + 1])
        end
      end
      if calls >= MINC and calls > 0 and fails / calls >= THR then go(1, 0) end
    end
  end
elseif st == 2 then
  local ta = num('ta') - I
  if ta < 0 then ta = 0 end
  local tsu, tfa = num('tsu') + S, num('tfa') + F
  redis.call('HSET', K, 'ta', ta, 'tsu', tsu, 'tfa', tfa)
  if POL == 3 then
    if tsu + tfa >= TRIAL then
      if tfa / (tsu + tfa) >= THR then go(1, 3) else go(0, 2) end
    end
  elseif tfa > 0 then go(1, 3)
  elseif tsu >= SUCC then go(0, 2) end
end
return reply(0)
"#;

/// Asks for a half-open trial slot; `extra` is 1 when admitted (or when the breaker is
/// closed or disabled by now), 0 when refused.
const TRIAL: &str = r#"
settle()
local st = num('st')
if st == 2 then
  local ta = num('ta')
  if ta < TRIAL then
    redis.call('HSET', K, 'ta', ta + 1)
    return reply(1)
  end
  return reply(0)
end
if st == 0 or st == 4 then return reply(1) end
return reply(0)
"#;

/// Moves to state `ARGV[14]` for reason `ARGV[15]` (reset, force open, disable);
/// a no-op when already in that manual mode.
const MANUAL: &str = r#"
local to, why = tonumber(ARGV[14]), tonumber(ARGV[15])
if to ~= 0 and num('st') == to then return reply(0) end
go(to, why)
return reply(1)
"#;

/// GCRA on one string key holding the theoretical arrival time (server µs), at an
/// emission interval of `ARGV[1]` µs with a burst of `ARGV[2]`: takes as many permits as
/// are free now, up to `ARGV[3]` (a lease takes what it can). Replies `{n, 0}` with the
/// `n >= 1` permits granted, or `{0, wait_us}` until the next one is free. `ARGV[3] = 0`
/// only checks the key.
const GCRA: &str = r#"
local K = KEYS[1]
local T, B, N = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local ty = redis.call('TYPE', K)['ok']
if ty ~= 'string' and ty ~= 'none' then
  return redis.error_reply('WRONGTYPE key ' .. K .. ' holds a ' .. ty .. ', not a breakwater rate limiter (a string)')
end
if N == 0 then return {0, 0} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', K) or '0') or 0
if tat < now then tat = now end
local free = math.floor((now + B * T - tat) / T)
if free < 1 then return {0, tat + T - B * T - now} end
local n = N
if free < n then n = free end
local new = tat + n * T
redis.call('SET', K, string.format('%.0f', new), 'PX', math.floor((new - now) / 1000) + 1)
return {n, 0}
"#;

/// Index of each breaker script in [`breaker_scripts`].
pub(crate) const SYNC_SCRIPT: usize = 0;
pub(crate) const RECORD_SCRIPT: usize = 1;
pub(crate) const TRIAL_SCRIPT: usize = 2;
pub(crate) const MANUAL_SCRIPT: usize = 3;

/// The breaker scripts, each with the prelude.
pub(crate) fn breaker_scripts() -> Vec<Script> {
    [
        ("sync", SYNC),
        ("record", RECORD),
        ("trial", TRIAL),
        ("manual", MANUAL),
    ]
    .into_iter()
    .map(|(name, body)| Script::new(name, format!("{BREAKER_PRELUDE}{body}")))
    .collect()
}

/// The limiter's one script.
pub(crate) fn limiter_scripts() -> Vec<Script> {
    vec![Script::new("gcra", GCRA.to_owned())]
}

/// The reason numbered `code` in the scripts.
pub(crate) fn reason_from_code(code: u32) -> TransitionReason {
    match code {
        0 => TransitionReason::ThresholdReached,
        1 => TransitionReason::OpenDurationElapsed,
        2 => TransitionReason::TrialSucceeded,
        3 => TransitionReason::TrialFailed,
        4 => TransitionReason::HalfOpenTimeout,
        6 => TransitionReason::ForcedOpen,
        7 => TransitionReason::Disabled,
        _ => TransitionReason::Reset,
    }
}

/// The script number of a manual reason.
pub(crate) fn reason_code(reason: TransitionReason) -> u64 {
    match reason {
        TransitionReason::ForcedOpen => 6,
        TransitionReason::Disabled => 7,
        _ => 5,
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX / 4).max(1)
}

/// `ARGV[1..=12]`: channel, policy, threshold, window, minimum calls, open duration,
/// multiplier, cap, trial size, success threshold, half-open max wait, bucket width.
pub(crate) fn script_config(c: &BreakerConfig, key: &str) -> Vec<String> {
    let (pol, thr, win, minc) = match &c.policy {
        TripPolicy::ConsecutiveFailures { threshold } => (1, f64::from(*threshold), 1, 0),
        TripPolicy::FailuresInWindow { threshold, window } => {
            (2, f64::from(*threshold), ms(*window), 0)
        }
        TripPolicy::FailureRate {
            threshold,
            window,
            minimum_calls,
            ..
        } => {
            let w = match window {
                Window::Time(d) => ms(*d),
                Window::Count(_) => 1,
            };
            (3, *threshold, w, *minimum_calls)
        }
        TripPolicy::SlowCallRate { .. } => (3, 1.0, 1, 1),
    };
    let bucket = (win / 10).max(1);
    vec![
        format!("{key}:events"),
        pol.to_string(),
        format!("{thr}"),
        win.to_string(),
        minc.to_string(),
        ms(c.open_duration).to_string(),
        format!("{}", c.open_duration_multiplier),
        c.open_duration_cap.map_or(0, ms).to_string(),
        c.half_open_max_calls.to_string(),
        c.effective_success_threshold().to_string(),
        ms(c.effective_half_open_max_wait()).to_string(),
        bucket.to_string(),
    ]
}
