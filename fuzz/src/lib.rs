//! The bodies of the fuzz targets, shared by the cargo-fuzz targets
//! (`fuzz/fuzz_targets/*.rs`, built by `scripts/fuzz.sh`) and by the corpus replay test
//! (`tests/fuzz_corpus.rs`, run by CI on stable without libFuzzer), which includes this
//! file with `#[path]`.
//!
//! Every exported C function is reached through the `abi` module below and nowhere else:
//! when the C ABI is renamed (ABI v2: `bw_<policy>_metrics`, `*_ms` keys), only that
//! module changes.
//!
//! A target "finds" something by crashing: a panic that escapes the library, an abort,
//! a hang (libFuzzer's `-timeout`), or one of the checks below (a status outside the
//! documented set, an out-parameter written on failure, a permit count that does not add
//! up).
#![allow(
    unsafe_code,
    reason = "drives the C ABI with raw pointers; every unsafe block has a SAFETY comment"
)]
#![allow(dead_code, reason = "the replay test and each target use parts of it")]

use std::ptr;

/// The one place that names C functions (retarget here for ABI v2).
pub mod abi {
    use std::ffi::c_char;
    use std::ptr;

    use breakwater::ffi::breaker::*;
    pub use breakwater::ffi::breaker::{
        bw_breaker, bw_breaker_admission, bw_breaker_stats, bw_permit,
    };
    use breakwater::ffi::bulkhead::*;
    pub use breakwater::ffi::bulkhead::{bw_bulkhead, bw_bulkhead_stats};
    pub use breakwater::ffi::clock::bw_clock;
    use breakwater::ffi::clock::*;
    pub use breakwater::ffi::error::bw_error;
    use breakwater::ffi::pool::*;
    use breakwater::ffi::ratelimit::*;
    pub use breakwater::ffi::ratelimit::{bw_limiter, bw_limiter_stats};
    use breakwater::ffi::retry::*;
    pub use breakwater::ffi::retry::{bw_retry, bw_retry_state};
    pub use breakwater::ffi::status::*;
    /// The success outcome code.
    pub const OUTCOME_SUCCESS: u32 = breakwater::ffi::breaker::BW_OUTCOME_SUCCESS;
    use breakwater::ffi::timeout::*;
    use breakwater::ffi::{breaker, bw_clock_manual_new};

    /// The policies with a JSON constructor.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Policy {
        /// `bw_breaker_new_json` (and the breaker's other JSON entry points).
        Breaker,
        /// `bw_retry_new_json`.
        Retry,
        /// `bw_bulkhead_new_json`.
        Bulkhead,
        /// `bw_limiter_new_json`.
        Limiter,
        /// `bw_pool_new_json`.
        Pool,
        /// `bw_time_limiter_new_json`.
        TimeLimiter,
    }

    impl Policy {
        /// Every policy, in corpus-folder order.
        pub const ALL: [Policy; 6] = [
            Policy::Breaker,
            Policy::Retry,
            Policy::Bulkhead,
            Policy::Limiter,
            Policy::Pool,
            Policy::TimeLimiter,
        ];

        /// The target's (and corpus folder's) name.
        pub fn target(self) -> &'static str {
            match self {
                Policy::Breaker => "json_breaker",
                Policy::Retry => "json_retry",
                Policy::Bulkhead => "json_bulkhead",
                Policy::Limiter => "json_limiter",
                Policy::Pool => "json_pool",
                Policy::TimeLimiter => "json_time_limiter",
            }
        }
    }

    /// Builds a policy from JSON text (`json` may be NULL) on `clock` (NULL: monotonic),
    /// uses it a little (its metrics), frees it. Returns the constructor's status.
    ///
    /// # Safety
    ///
    /// `json` is NULL or valid for reads of `len` bytes; `clock` is NULL or a live clock.
    pub unsafe fn new_use_free(
        policy: Policy,
        json: *const c_char,
        len: usize,
        clock: *const bw_clock,
        err: &mut bw_error,
    ) -> bw_status {
        // SAFETY: the caller's contract for `json`, `clock`; every out-pointer is a local.
        unsafe {
            macro_rules! build {
                ($new:ident, $free:ident, |$h:ident| $use:expr) => {{
                    let mut $h = ptr::null_mut();
                    let status = $new(json, len, clock, &mut $h, err);
                    if status == BW_OK {
                        assert!(!$h.is_null(), "BW_OK with a NULL handle");
                        $use;
                        $free($h);
                    } else {
                        assert!($h.is_null(), "an out-parameter written on failure");
                    }
                    status
                }};
            }
            match policy {
                Policy::Breaker => {
                    // The registry takes the same JSON.
                    let mut e2 = bw_error::default();
                    let mut registry = ptr::null_mut();
                    assert_eq!(breaker::bw_registry_new(&mut registry, &mut e2), BW_OK);
                    let mut b = ptr::null_mut();
                    let name = b"fuzzed";
                    let s2 = breaker::bw_registry_breaker(
                        registry,
                        name.as_ptr().cast(),
                        name.len(),
                        json,
                        len,
                        clock,
                        &mut b,
                        &mut e2,
                    );
                    if s2 == BW_OK {
                        breaker::bw_breaker_free(b);
                    }
                    breaker::bw_registry_free(registry);
                    build!(bw_breaker_new_json, bw_breaker_free, |h| {
                        let mut stats = bw_breaker_stats {
                            size: std::mem::size_of::<bw_breaker_stats>(),
                            ..Default::default()
                        };
                        assert_eq!(breaker_metrics(h, &mut stats, err), BW_OK);
                    })
                }
                Policy::Retry => build!(bw_retry_new_json, bw_retry_free, |h| {
                    let mut st = ptr::null_mut();
                    if bw_retry_begin(h, 0, &mut st, err) == BW_OK {
                        let (mut delay, mut stop) = (0u64, 0u32);
                        bw_retry_next(
                            st,
                            BW_RETRY_OUTCOME_RETRYABLE,
                            0,
                            &mut delay,
                            &mut stop,
                            err,
                        );
                        bw_retry_state_free(st);
                    }
                }),
                Policy::Bulkhead => build!(bw_bulkhead_new_json, bw_bulkhead_free, |h| {
                    let mut m = bw_bulkhead_stats {
                        size: std::mem::size_of::<bw_bulkhead_stats>(),
                        ..Default::default()
                    };
                    assert_eq!(bulkhead_metrics(h, &mut m, err), BW_OK);
                }),
                Policy::Limiter => build!(bw_limiter_new_json, bw_limiter_free, |h| {
                    let mut wait = 0u64;
                    bw_limiter_try_acquire(h, 1, &mut wait, err);
                }),
                Policy::Pool => build!(bw_pool_new_json, bw_pool_free, |h| {
                    let mut m = bw_pool_stats {
                        size: std::mem::size_of::<bw_pool_stats>(),
                        ..Default::default()
                    };
                    assert_eq!(bw_pool_metrics(h, &mut m, err), BW_OK);
                }),
                Policy::TimeLimiter => {
                    build!(bw_time_limiter_new_json, bw_time_limiter_free, |h| {
                        let mut m = bw_time_limiter_stats {
                            size: std::mem::size_of::<bw_time_limiter_stats>(),
                            ..Default::default()
                        };
                        assert_eq!(bw_time_limiter_metrics(h, &mut m, err), BW_OK);
                    })
                }
            }
        }
    }

    /// A manual clock.
    pub fn manual_clock() -> *mut bw_clock {
        let mut c = ptr::null_mut();
        let mut err = bw_error::default();
        // SAFETY: out-pointers to locals.
        assert_eq!(unsafe { bw_clock_manual_new(&mut c, &mut err) }, BW_OK);
        c
    }

    /// Frees a clock (NULL is fine).
    ///
    /// # Safety
    ///
    /// `c` is NULL or a live clock, not used afterwards.
    pub unsafe fn clock_free(c: *mut bw_clock) {
        // SAFETY: the caller's contract.
        unsafe { bw_clock_free(c) }
    }

    /// Advances a manual clock.
    ///
    /// # Safety
    ///
    /// `c` is NULL or a live clock.
    pub unsafe fn clock_advance(c: *const bw_clock, ns: u64, err: &mut bw_error) -> bw_status {
        // SAFETY: the caller's contract.
        unsafe { bw_clock_advance_ns(c, ns, err) }
    }

    /// The breaker's metrics into a size-tagged struct.
    ///
    /// # Safety
    ///
    /// `b` is NULL or a live breaker; `out` is valid for writes of a whole struct.
    pub unsafe fn breaker_metrics(
        b: *const bw_breaker,
        out: *mut bw_breaker_stats,
        err: &mut bw_error,
    ) -> bw_status {
        // SAFETY: the caller's contract.
        unsafe { bw_breaker_metrics(b, out, err) }
    }

    /// The bulkhead's metrics into a size-tagged struct.
    ///
    /// # Safety
    ///
    /// `b` is NULL or a live bulkhead; `out` is valid for writes of a whole struct.
    pub unsafe fn bulkhead_metrics(
        b: *const bw_bulkhead,
        out: *mut bw_bulkhead_stats,
        err: &mut bw_error,
    ) -> bw_status {
        // SAFETY: the caller's contract.
        unsafe { bw_bulkhead_metrics(b, out, err) }
    }

    /// The limiter's metrics into a size-tagged struct.
    ///
    /// # Safety
    ///
    /// `l` is NULL or a live limiter; `out` is valid for writes of a whole struct.
    pub unsafe fn limiter_metrics(
        l: *const bw_limiter,
        out: *mut bw_limiter_stats,
        err: &mut bw_error,
    ) -> bw_status {
        // SAFETY: the caller's contract.
        unsafe { bw_limiter_metrics(l, out, err) }
    }

    /// Builds a policy from JSON that must be valid.
    macro_rules! valid {
        ($name:ident, $new:ident, $ty:ty) => {
            /// Builds from JSON that must be valid, on `clock`.
            ///
            /// # Safety
            ///
            /// `clock` is NULL or a live clock.
            pub unsafe fn $name(json: &str, clock: *const bw_clock) -> *mut $ty {
                let mut h = ptr::null_mut();
                let mut err = bw_error::default();
                // SAFETY: a live string, the caller's clock; out-pointers to locals.
                let s = unsafe { $new(json.as_ptr().cast(), json.len(), clock, &mut h, &mut err) };
                assert_eq!(s, BW_OK, "{}: {}", json, err.message_str());
                h
            }
        };
    }
    valid!(breaker_new, bw_breaker_new_json, bw_breaker);
    valid!(bulkhead_new, bw_bulkhead_new_json, bw_bulkhead);
    valid!(limiter_new, bw_limiter_new_json, bw_limiter);
    valid!(retry_new, bw_retry_new_json, bw_retry);

    /// A new registry.
    pub fn registry_new() -> *mut bw_registry {
        let mut r = ptr::null_mut();
        let mut err = bw_error::default();
        // SAFETY: out-pointers to locals.
        assert_eq!(unsafe { bw_registry_new(&mut r, &mut err) }, BW_OK);
        r
    }

    pub use breakwater::ffi::breaker::{
        bw_registry, bw_registry_breaker as registry_breaker, bw_registry_free as registry_free,
    };

    /// The handle functions the sequence target calls, by name.
    pub use breakwater::ffi::breaker::{
        bw_breaker_admit as breaker_admit, bw_breaker_disable as breaker_disable,
        bw_breaker_force_open as breaker_force_open, bw_breaker_free as breaker_free,
        bw_breaker_record as breaker_record, bw_breaker_record_ptr as breaker_record_ptr,
        bw_breaker_reset as breaker_reset, bw_breaker_state as breaker_state,
        bw_breaker_try_acquire as breaker_try_acquire,
    };
    pub use breakwater::ffi::bulkhead::{
        bw_bulkhead_free as bulkhead_free, bw_bulkhead_release as bulkhead_release,
        bw_bulkhead_try_acquire as bulkhead_try_acquire,
    };
    pub use breakwater::ffi::ratelimit::{
        bw_limiter_free as limiter_free, bw_limiter_try_acquire as limiter_try_acquire,
    };
    pub use breakwater::ffi::retry::{
        bw_retry_begin as retry_begin, bw_retry_free as retry_free, bw_retry_next as retry_next,
        bw_retry_state_free as retry_state_free,
    };

    /// The registry's other policies and its two texts.
    pub use breakwater::ffi::registry::{
        bw_breaker_describe_transition as breaker_describe_transition,
        bw_registry_bulkhead as registry_bulkhead, bw_registry_health_json as registry_health_json,
        bw_registry_prometheus as registry_prometheus,
        bw_registry_rate_limiter as registry_rate_limiter,
    };

    /// The frame protocol.
    pub use breakwater::ffi::breaker::{
        BW_BREAKER_ENTER_RETRY_AFTER, bw_breaker_enter as breaker_enter, bw_breaker_event,
        bw_breaker_exit as breaker_exit, bw_breaker_exit_outcome as breaker_exit_outcome,
        bw_breaker_frame, bw_breaker_poll_events as breaker_poll_events,
    };

    /// Log records.
    pub use breakwater::ffi::log::{
        BW_LOG_TRACE, bw_log_record, bw_set_log_handler as set_log_handler,
    };

    /// The policies shared through Redis.
    pub use breakwater::ffi::redis::{
        bw_registry_shared_breaker as registry_shared_breaker,
        bw_registry_shared_rate_limiter as registry_shared_rate_limiter, bw_shared_breaker,
        bw_shared_breaker_free as shared_breaker_free,
        bw_shared_breaker_metrics as shared_breaker_metrics,
        bw_shared_breaker_new_json as shared_breaker_new_json,
        bw_shared_breaker_record as shared_breaker_record, bw_shared_breaker_stats,
        bw_shared_breaker_try_acquire as shared_breaker_try_acquire, bw_shared_limiter_stats,
        bw_shared_permit, bw_shared_rate_limiter,
        bw_shared_rate_limiter_free as shared_rate_limiter_free,
        bw_shared_rate_limiter_metrics as shared_rate_limiter_metrics,
        bw_shared_rate_limiter_new_json as shared_rate_limiter_new_json,
        bw_shared_rate_limiter_try_acquire as shared_rate_limiter_try_acquire,
    };
}

use abi::*;

/// A fuzz target for one JSON constructor: the bytes as the JSON text, through the
/// whole C path (UTF-8 check, JSON parse, validation, build, use, free); then NULL with
/// the same length.
pub fn json(policy: Policy, data: &[u8]) {
    let clock = manual_clock();
    let mut err = bw_error::default();
    // SAFETY: `data` is live for the call; `clock` is live until freed below.
    let status = unsafe { new_use_free(policy, data.as_ptr().cast(), data.len(), clock, &mut err) };
    match status {
        BW_OK => {}
        BW_INVALID_CONFIG | BW_INVALID_ARGUMENT => {
            assert!(!err.message_str().is_empty(), "a refusal without a message");
        }
        other => panic!(
            "{policy:?}: unexpected status {other} ({})",
            err.message_str()
        ),
    }
    // NULL text: refused unless the length is 0, where it is the empty text (whatever
    // the empty text gives: some constructors take it as "all defaults").
    let mut err = bw_error::default();
    // SAFETY: NULL text with any length must be refused without reading.
    let null_status =
        unsafe { new_use_free(policy, ptr::null(), data.len(), ptr::null(), &mut err) };
    if data.is_empty() {
        assert_eq!(
            null_status, status,
            "NULL with length 0 is not the empty text"
        );
    } else {
        assert_eq!(
            null_status,
            BW_INVALID_ARGUMENT,
            "NULL text of length {}",
            data.len()
        );
    }
    // SAFETY: the clock is not used afterwards.
    unsafe { clock_free(clock) };
}

/// Reads the fuzz input as a stream of small numbers.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    fn u64(&mut self) -> u64 {
        match self.u8() {
            // Mostly small values; sometimes the extremes.
            Some(b) if b < 200 => u64::from(b) * 1_000_000,
            Some(b) if b < 230 => u64::from(b),
            Some(b) if b < 250 => u64::MAX - u64::from(b),
            Some(_) => u64::MAX,
            None => 0,
        }
    }
}

const BREAKERS: [&str; 4] = [
    r#"{"consecutive_failures":2,"open_duration_ms":10}"#,
    r#"{"failure_rate":{"threshold":0.5,"window":{"count":4},"minimum_calls":2},"open_duration_ms":5,"half_open_max_calls":2}"#,
    r#"{"failure_rate":{"threshold":0.5,"window":{"time_ms":50},"minimum_calls":1,"slow":{"threshold":0.5,"slow_duration_ms":3}},"open_duration_ms":5}"#,
    r#"{"failures_in_window":{"threshold":2,"window_ms":20},"open_duration_ms":5,"half_open_max_calls":3,"success_threshold":2}"#,
];

/// The number of operations of the sequence target (an input byte modulo this).
const OPS: u8 = 36;

/// The most shared-policy operations a sequence runs. Each tries the unreachable Redis,
/// and freeing the registry at the end waits for the shared policies' subscriber
/// threads, which retry the connection on a 50 ms tick: a sequence with a shared policy
/// takes up to 50 ms instead of well under 1 ms, so they are kept rare (op 35 acts only
/// when the next byte is below 16) and few.
const MAX_SHARED_OPS: u32 = 8;

/// Registry bulkhead configurations: none, two different ones, an invalid one.
const REGISTRY_BULKHEADS: [Option<&str>; 4] = [
    None,
    Some(r#"{"max_concurrent":2}"#),
    Some(r#"{"max_concurrent":3}"#),
    Some(r#"{"max_concurrent":"#),
];

/// Registry limiter configurations: none, two different ones, an invalid one.
const REGISTRY_LIMITERS: [Option<&str>; 4] = [
    None,
    Some(r#"{"permits":5,"period_ms":100}"#),
    Some(r#"{"permits":2,"period_ms":10,"burst":1}"#),
    Some(r#"{"permits":0}"#),
];

/// Shared configurations through the registry ([breaker, limiter]): none, two
/// different ones, and one the registry refuses (the limiter's `lease_ttl_ms`; for the
/// breaker an invalid threshold). Every one names the unreachable Redis.
const SHARED_CONFIGS: [[Option<&str>; 4]; 2] = [
    [
        None,
        Some(r#"{"consecutive_failures":2,"redis_url":"redis://127.0.0.1:1/","op_timeout_ms":5}"#),
        Some(r#"{"consecutive_failures":3,"redis_url":"redis://127.0.0.1:1/","op_timeout_ms":5}"#),
        Some(r#"{"consecutive_failures":0,"redis_url":"redis://127.0.0.1:1/","op_timeout_ms":5}"#),
    ],
    [
        None,
        Some(
            r#"{"permits":5,"period_ms":100,"redis_url":"redis://127.0.0.1:1/","op_timeout_ms":5}"#,
        ),
        Some(
            r#"{"permits":2,"period_ms":10,"redis_url":"redis://127.0.0.1:1/","op_timeout_ms":5}"#,
        ),
        Some(
            r#"{"permits":5,"period_ms":100,"lease":2,"lease_ttl_ms":50,"redis_url":"redis://127.0.0.1:1/","op_timeout_ms":5}"#,
        ),
    ],
];

/// A registry name from the input: one of two valid names (`<prefix>0`, `<prefix>1`,
/// with its index), or now and then an empty or non-UTF-8 one (no index).
fn registry_name(input: &mut Bytes<'_>, prefix: &[u8; 2]) -> (Vec<u8>, Option<usize>) {
    match input.u8().unwrap_or(0) % 8 {
        6 => (Vec::new(), None),
        7 => (vec![prefix[0], 0xff, 0xfe], None),
        k => {
            let i = usize::from(k % 2);
            (vec![prefix[0], prefix[1], b'0' + i as u8], Some(i))
        }
    }
}

/// Checks a registry accessor's answer: an invalid name is `BW_INVALID_ARGUMENT`; an
/// invalid text (not a JSON object) is `BW_INVALID_CONFIG`; a handle only on `BW_OK`;
/// a message on every refusal.
fn check_registry_answer(
    s: bw_status,
    null_handle: bool,
    name: Option<usize>,
    json: Option<&str>,
    err: &bw_error,
) {
    assert_eq!(
        s == BW_OK,
        !null_handle,
        "registry: status {s} and the handle disagree"
    );
    if name.is_none() {
        assert_eq!(s, BW_INVALID_ARGUMENT, "registry: a bad name accepted");
    }
    if s != BW_OK {
        assert!(
            !err.message_str().is_empty(),
            "registry: a refusal without a message"
        );
    }
    if name.is_some() && json.is_some_and(|j| j.ends_with(':')) {
        assert_eq!(s, BW_INVALID_CONFIG, "registry: malformed JSON accepted");
    }
}

/// A fuzz target for random call sequences on handles: breakers (protocol, admit,
/// manual control, metrics with any size tag), a bulkhead, a limiter, retry states, a
/// manual clock; handles freed and set to NULL mid-sequence (calls on NULL must be
/// refused), double frees of NULL, stale and forged permits, out-of-range enums; the
/// registry's breakers, bulkheads (permits shared by name, checked), limiters and
/// shared policies, its Prometheus and health texts in every buffer case; transitions
/// described from forged and polled events; the frame protocol; the log handler set to
/// any level and off (a record above the level set on this thread, or malformed, fails
/// the run).
pub fn sequence(data: &[u8]) {
    let mut input = Bytes(data);
    let clock = manual_clock();
    let pick = input.u8().unwrap_or(0) as usize;
    // SAFETY: `clock` stays live until the end of this function.
    let (mut breaker, mut bulkhead, mut limiter, mut retry) = unsafe {
        (
            breaker_new(BREAKERS[pick % BREAKERS.len()], clock),
            bulkhead_new(r#"{"max_concurrent":3}"#, clock),
            limiter_new(r#"{"permits":5,"period_ms":100,"burst":2}"#, clock),
            retry_new(
                r#"{"max_attempts":4,"backoff":"exponential","initial_ms":10,"multiplier":2,"jitter":"full","seed":7}"#,
                clock,
            ),
        )
    };
    let registry = registry_new();
    let mut states: Vec<*mut bw_retry_state> = Vec::new();
    let mut permits: Vec<bw_permit> = Vec::new();
    let mut held = 0u64; // bulkhead permits taken and not given back
    // Registry handles: bulkheads (with their name's index) and limiters; permits held
    // per registry bulkhead name (shared by every handle of the name); the shared
    // policies' names built so far (only those may be asked for without a configuration:
    // the default configuration's Redis is the local port).
    let mut rbulk: Vec<(usize, *mut bw_bulkhead)> = Vec::new();
    let mut rlim: Vec<*mut bw_limiter> = Vec::new();
    let mut rheld = [0u64; 2];
    let mut shared_built = [[false; 2]; 2];
    let mut shared_ops = 0;
    let mut err = bw_error::default();
    let mut steps = 0;
    while let Some(op) = input.u8() {
        steps += 1;
        if steps > 2_000 {
            break;
        }
        // SAFETY: every handle is live or NULL (freed ones are set to NULL at once); every
        // out-pointer points to a local of the right type.
        unsafe {
            let s = match op % OPS {
                0 => {
                    let mut p = bw_permit {
                        generation: 0xdead,
                        acquired_ns: 0xbeef,
                    };
                    let s = breaker_try_acquire(breaker, &mut p, &mut err);
                    if s == BW_OK {
                        permits.push(p);
                    } else {
                        assert_eq!(
                            (p.generation, p.acquired_ns),
                            (0xdead, 0xbeef),
                            "permit written on failure"
                        );
                    }
                    s
                }
                1 | 2 => {
                    let outcome = u32::from(input.u8().unwrap_or(0) % 4); // 3 is out of range
                    let i = input.u8().unwrap_or(0) as usize;
                    let p = if permits.is_empty() || i % 7 == 6 {
                        // A forged permit.
                        bw_permit {
                            generation: input.u64(),
                            acquired_ns: input.u64(),
                        }
                    } else if i % 5 == 4 {
                        permits[i % permits.len()] // reported again
                    } else {
                        permits.swap_remove(i % permits.len())
                    };
                    if op % OPS == 1 {
                        breaker_record(breaker, p, outcome, &mut err)
                    } else {
                        breaker_record_ptr(breaker, &p, outcome, &mut err)
                    }
                }
                3 => {
                    let mut a = bw_breaker_admission::default();
                    let s = breaker_admit(breaker, &mut a, &mut err);
                    if s == BW_OK && a.reason == 0 {
                        permits.push(a.permit);
                    }
                    s
                }
                4 => breaker_record_ptr(breaker, ptr::null(), 0, &mut err),
                5 => {
                    // Any size tag: the library writes at most what it knows and the tag says.
                    let size = match input.u8().unwrap_or(0) % 4 {
                        0 => 0,
                        1 => 8,
                        2 => std::mem::size_of::<bw_breaker_stats>(),
                        _ => usize::MAX,
                    };
                    let mut st = bw_breaker_stats {
                        size,
                        ..Default::default()
                    };
                    breaker_metrics(breaker, &mut st, &mut err)
                }
                6 => {
                    let mut state = 99u32;
                    breaker_state(breaker, &mut state, &mut err)
                }
                7 => breaker_reset(breaker, &mut err),
                8 => breaker_force_open(breaker, &mut err),
                9 => breaker_disable(breaker, &mut err),
                10 => clock_advance(clock, input.u64(), &mut err),
                11 => {
                    let s = bulkhead_try_acquire(bulkhead, &mut err);
                    held += u64::from(s == BW_OK);
                    s
                }
                12 => {
                    let s = bulkhead_release(bulkhead, &mut err);
                    if s == BW_OK {
                        assert!(held > 0, "a release without an acquire succeeded");
                        held -= 1;
                    }
                    s
                }
                13 => {
                    let mut m = bw_bulkhead_stats {
                        size: std::mem::size_of::<bw_bulkhead_stats>(),
                        ..Default::default()
                    };
                    let s = bulkhead_metrics(bulkhead, &mut m, &mut err);
                    if s == BW_OK {
                        assert_eq!(m.max - m.available, held, "permits do not add up");
                        assert!(held <= m.max, "above max");
                    }
                    s
                }
                14 => {
                    let mut wait = 7u64;
                    limiter_try_acquire(
                        limiter,
                        u32::from(input.u8().unwrap_or(1)),
                        &mut wait,
                        &mut err,
                    )
                }
                15 => {
                    let mut m = bw_limiter_stats {
                        size: std::mem::size_of::<bw_limiter_stats>(),
                        ..Default::default()
                    };
                    limiter_metrics(limiter, &mut m, &mut err)
                }
                16 => {
                    let mut st = ptr::null_mut();
                    let s = retry_begin(retry, input.u64(), &mut st, &mut err);
                    if s == BW_OK {
                        states.push(st);
                    } else {
                        assert!(st.is_null(), "retry state written on failure");
                    }
                    s
                }
                17 => {
                    let st = if states.is_empty() {
                        ptr::null_mut()
                    } else {
                        states[input.u8().unwrap_or(0) as usize % states.len()]
                    };
                    let (mut delay, mut stop) = (0u64, 0u32);
                    let kind = u32::from(input.u8().unwrap_or(1) % 5); // 4 is out of range
                    retry_next(st, kind, input.u64(), &mut delay, &mut stop, &mut err)
                }
                18 => {
                    if !states.is_empty() {
                        let i = input.u8().unwrap_or(0) as usize % states.len();
                        retry_state_free(states.swap_remove(i));
                    }
                    retry_state_free(ptr::null_mut());
                    BW_OK
                }
                19 => {
                    // Free a handle and keep calling it as NULL.
                    match input.u8().unwrap_or(0) % 4 {
                        0 => {
                            breaker_free(breaker);
                            breaker = ptr::null_mut();
                        }
                        1 => {
                            bulkhead_free(bulkhead);
                            bulkhead = ptr::null_mut();
                            held = 0;
                        }
                        2 => {
                            limiter_free(limiter);
                            limiter = ptr::null_mut();
                        }
                        _ => {
                            // States keep their retry alive.
                            retry_free(retry);
                            retry = ptr::null_mut();
                        }
                    }
                    BW_OK
                }
                20 => {
                    // Double free of NULL is a no-op.
                    breaker_free(ptr::null_mut());
                    bulkhead_free(ptr::null_mut());
                    limiter_free(ptr::null_mut());
                    retry_free(ptr::null_mut());
                    BW_OK
                }
                21 => {
                    // NULL out-parameters and error objects.
                    breaker_try_acquire(breaker, ptr::null_mut(), ptr::null_mut())
                }
                22 => {
                    // Huge lengths with NULL text.
                    let mut h = ptr::null_mut();
                    let s = breakwater::ffi::breaker::bw_breaker_new_json(
                        ptr::null(),
                        usize::MAX - usize::from(input.u8().unwrap_or(0)),
                        clock,
                        &mut h,
                        &mut err,
                    );
                    assert!(h.is_null());
                    assert_eq!(s, BW_INVALID_ARGUMENT);
                    s
                }
                24 => {
                    // A registry handle freed, then asked for again: the registry keeps
                    // the breaker, and the new handle sees the counts of the old one.
                    let name = b"seq";
                    let json = BREAKERS[0];
                    let mut h = ptr::null_mut();
                    let s = registry_breaker(
                        registry,
                        name.as_ptr().cast(),
                        name.len(),
                        json.as_ptr().cast(),
                        json.len(),
                        clock,
                        &mut h,
                        &mut err,
                    );
                    assert_eq!(s, BW_OK, "{}", err.message_str());
                    let mut p = bw_permit::default();
                    let admitted = breaker_try_acquire(h, &mut p, &mut err) == BW_OK;
                    breaker_free(h);
                    let mut again = ptr::null_mut();
                    let s = registry_breaker(
                        registry,
                        name.as_ptr().cast(),
                        name.len(),
                        json.as_ptr().cast(),
                        json.len(),
                        clock,
                        &mut again,
                        &mut err,
                    );
                    assert_eq!(s, BW_OK, "{}", err.message_str());
                    if admitted {
                        // The permit of the freed handle is reported through the new one.
                        let r = breaker_record(again, p, abi::OUTCOME_SUCCESS, &mut err);
                        assert!(
                            r == BW_OK || r == BW_STALE,
                            "record through the registry: {r}"
                        );
                    }
                    breaker_free(again);
                    BW_OK
                }
                25 => {
                    // A registry bulkhead handle by name: no configuration, two different
                    // ones, an invalid one; sometimes an empty or non-UTF-8 name.
                    let (name, i) = registry_name(&mut input, b"rb");
                    let json = REGISTRY_BULKHEADS[input.u8().unwrap_or(0) as usize % 4];
                    let (jp, jl) = json.map_or((ptr::null(), 0), |j| (j.as_ptr().cast(), j.len()));
                    let mut h = ptr::null_mut();
                    let s = registry_bulkhead(
                        registry,
                        name.as_ptr().cast(),
                        name.len(),
                        jp,
                        jl,
                        &mut h,
                        &mut err,
                    );
                    check_registry_answer(s, h.is_null(), i, json, &err);
                    if s == BW_OK {
                        rbulk.push((i.unwrap(), h));
                    }
                    s
                }
                26 => {
                    let (name, i) = registry_name(&mut input, b"rl");
                    let json = REGISTRY_LIMITERS[input.u8().unwrap_or(0) as usize % 4];
                    let (jp, jl) = json.map_or((ptr::null(), 0), |j| (j.as_ptr().cast(), j.len()));
                    let mut h = ptr::null_mut();
                    let s = registry_rate_limiter(
                        registry,
                        name.as_ptr().cast(),
                        name.len(),
                        jp,
                        jl,
                        clock,
                        &mut h,
                        &mut err,
                    );
                    check_registry_answer(s, h.is_null(), i, json, &err);
                    if s == BW_OK {
                        rlim.push(h);
                    }
                    s
                }
                27 => {
                    // Use or free a registry handle: handles of one name share permits.
                    let k = input.u8().unwrap_or(0);
                    let j = input.u8().unwrap_or(0) as usize;
                    match k % 6 {
                        0 | 1 if !rbulk.is_empty() => {
                            let (n, h) = rbulk[j % rbulk.len()];
                            if k % 6 == 0 {
                                let s = bulkhead_try_acquire(h, &mut err);
                                rheld[n] += u64::from(s == BW_OK);
                                s
                            } else {
                                let s = bulkhead_release(h, &mut err);
                                if s == BW_OK {
                                    assert!(rheld[n] > 0, "a registry release without an acquire");
                                    rheld[n] -= 1;
                                }
                                s
                            }
                        }
                        2 if !rbulk.is_empty() => {
                            let (n, h) = rbulk[j % rbulk.len()];
                            let mut m = bw_bulkhead_stats {
                                size: std::mem::size_of::<bw_bulkhead_stats>(),
                                ..Default::default()
                            };
                            let s = bulkhead_metrics(h, &mut m, &mut err);
                            assert_eq!(s, BW_OK);
                            assert_eq!(
                                m.max - m.available,
                                rheld[n],
                                "registry permits do not add up"
                            );
                            s
                        }
                        3 if !rlim.is_empty() => {
                            let mut wait = 0u64;
                            limiter_try_acquire(rlim[j % rlim.len()], 1, &mut wait, &mut err)
                        }
                        4 if !rbulk.is_empty() => {
                            // The registry keeps the bulkhead (and its held permits).
                            bulkhead_free(rbulk.swap_remove(j % rbulk.len()).1);
                            BW_OK
                        }
                        5 if !rlim.is_empty() => {
                            limiter_free(rlim.swap_remove(j % rlim.len()));
                            BW_OK
                        }
                        _ => BW_OK,
                    }
                }
                28 => {
                    let case = input.u8().unwrap_or(0);
                    let r = if case >= 250 {
                        ptr::null_mut()
                    } else {
                        registry
                    };
                    text_cases(case, &mut err, |buf, len, out, e| {
                        registry_prometheus(r, buf, len, out, e)
                    })
                }
                29 => {
                    let case = input.u8().unwrap_or(0);
                    let r = if case >= 250 {
                        ptr::null_mut()
                    } else {
                        registry
                    };
                    text_cases(case, &mut err, |buf, len, out, e| {
                        registry_health_json(r, buf, len, out, e)
                    })
                }
                30 => {
                    // A forged event: codes mostly in range, sometimes not; any generation.
                    let code = |b: u8, n: u8| {
                        if b < 200 {
                            u32::from(b % n)
                        } else {
                            u32::from(b) * 0x0101_0101
                        }
                    };
                    let event = bw_breaker_event {
                        from: code(input.u8().unwrap_or(0), 5),
                        to: code(input.u8().unwrap_or(0), 5),
                        reason: code(input.u8().unwrap_or(0), 10),
                        generation: input.u64(),
                        at_ns: input.u64(),
                    };
                    let case = input.u8().unwrap_or(0);
                    let valid = event.from < 5 && event.to < 5 && event.reason < 10;
                    let ev: *const bw_breaker_event =
                        if case >= 250 { ptr::null() } else { &event };
                    let s = text_cases(case, &mut err, |buf, len, out, e| {
                        breaker_describe_transition(breaker, ev, buf, len, out, e)
                    });
                    if breaker.is_null() || ev.is_null() || !valid {
                        assert_eq!(s, BW_INVALID_ARGUMENT, "describe {event:?}");
                        assert!(!err.message_str().is_empty());
                    } else if case % 6 < 4 {
                        // (4 and 5 are the huge length and the NULL out_len.)
                        assert_ne!(
                            s,
                            BW_INVALID_ARGUMENT,
                            "describe {event:?}: {}",
                            err.message_str()
                        );
                    }
                    s
                }
                31 => {
                    // The breaker's real events, described.
                    let mut events = [bw_breaker_event::default(); 8];
                    let mut n = usize::MAX;
                    let s = breaker_poll_events(
                        breaker,
                        events.as_mut_ptr(),
                        events.len(),
                        &mut n,
                        &mut err,
                    );
                    if s == BW_OK {
                        assert!(n <= events.len(), "{n} events in a buffer of 8");
                        for e in &events[..n] {
                            let mut buf = [0u8; 512];
                            let mut len = 0usize;
                            let d = breaker_describe_transition(
                                breaker,
                                e,
                                buf.as_mut_ptr().cast(),
                                buf.len(),
                                &mut len,
                                &mut err,
                            );
                            assert_eq!(d, BW_OK, "describe a polled {e:?}: {}", err.message_str());
                            assert!(
                                std::str::from_utf8(&buf[..len])
                                    .is_ok_and(|t| t.starts_with("breaker ")),
                                "description of {e:?}"
                            );
                        }
                    } else {
                        assert!(breaker.is_null());
                    }
                    s
                }
                32 => {
                    // Enter through a frame: the breaker's (NULL once freed), a zeroed
                    // one, or no frame at all.
                    let k = input.u8().unwrap_or(0);
                    let forged = bw_permit {
                        generation: 0xdead,
                        acquired_ns: 0xbeef,
                    };
                    let mut frame = bw_breaker_frame {
                        breaker: if k % 4 == 3 { ptr::null() } else { breaker },
                        permit: forged,
                        retry_after_ns: 7,
                        retry_after_s: 7.0,
                    };
                    let r = if k % 8 == 7 {
                        breaker_enter(ptr::null_mut())
                    } else {
                        breaker_enter(&mut frame)
                    };
                    if k % 8 == 7 || frame.breaker.is_null() {
                        assert_eq!(r, -BW_INVALID_ARGUMENT, "enter without a breaker");
                        assert_eq!(
                            (frame.permit.generation, frame.retry_after_ns),
                            (0xdead, 7),
                            "frame written on a refusal"
                        );
                        BW_INVALID_ARGUMENT
                    } else if r == 0 {
                        assert_eq!(frame.retry_after_ns, 0);
                        permits.push(frame.permit);
                        BW_OK
                    } else {
                        assert!(r > 0, "enter: {r}");
                        let reason = r & !BW_BREAKER_ENTER_RETRY_AFTER;
                        assert!((1..=3).contains(&reason), "enter: reason {reason}");
                        assert_eq!(
                            (frame.permit.generation, frame.permit.acquired_ns),
                            (0, 0),
                            "permit not zeroed on a refusal"
                        );
                        if r & BW_BREAKER_ENTER_RETRY_AFTER == 0 {
                            assert_eq!(frame.retry_after_ns, 0);
                        }
                        assert_eq!(frame.retry_after_s, frame.retry_after_ns as f64 / 1e9);
                        BW_REJECTED
                    }
                }
                33 => {
                    // Exit a frame: an admitted permit, a forged one, a zeroed one; a
                    // NULL breaker; outcomes out of range.
                    let k = input.u8().unwrap_or(0);
                    let i = input.u8().unwrap_or(0) as usize;
                    let permit = match k % 4 {
                        0 => bw_permit::default(),
                        1 => bw_permit {
                            generation: input.u64(),
                            acquired_ns: input.u64(),
                        },
                        _ if permits.is_empty() => bw_permit::default(),
                        _ => permits.swap_remove(i % permits.len()),
                    };
                    let frame = bw_breaker_frame {
                        breaker: if k % 16 == 15 { ptr::null() } else { breaker },
                        permit,
                        retry_after_ns: 0,
                        retry_after_s: 0.0,
                    };
                    let outcome = match (k / 4) % 4 {
                        0 => None, // bw_breaker_exit
                        1 => Some(u32::from(input.u8().unwrap_or(0) % 3)),
                        2 => Some(3),
                        _ => Some(u32::MAX - u32::from(input.u8().unwrap_or(0))),
                    };
                    let s = if k >= 250 {
                        breaker_exit(ptr::null())
                    } else {
                        match outcome {
                            None => breaker_exit(&frame),
                            Some(o) => breaker_exit_outcome(&frame, o),
                        }
                    };
                    if k >= 250 || frame.breaker.is_null() || outcome.is_some_and(|o| o > 2) {
                        assert_eq!(
                            s, BW_INVALID_ARGUMENT,
                            "exit {outcome:?} on {:?}",
                            frame.breaker
                        );
                    } else if permit == bw_permit::default() {
                        assert_eq!(s, BW_STALE, "a zeroed permit recorded");
                    } else {
                        assert!(matches!(s, BW_OK | BW_STALE), "exit: {s}");
                    }
                    s
                }
                34 => {
                    // The log handler on (a level, sometimes above BW_LOG_TRACE) or off.
                    let k = input.u8().unwrap_or(0);
                    set_log(k % 8 != 7, u32::from(k / 8) % 8, &mut err)
                }
                // Rare (a second byte below 16) and bounded: see MAX_SHARED_OPS.
                35 if shared_ops >= MAX_SHARED_OPS || input.u8().unwrap_or(0) >= 16 => BW_OK,
                35 => {
                    // A shared policy through the registry (never a reachable Redis):
                    // built with a configuration, asked again without one, or with a
                    // different one; used a little and its handle freed.
                    shared_ops += 1;
                    let (name, i) = registry_name(&mut input, b"rs");
                    let k = input.u8().unwrap_or(0);
                    let limiter = k % 2 == 1;
                    let choice = (k / 2) as usize % 4;
                    let built = i.is_some_and(|i| shared_built[usize::from(limiter)][i]);
                    let json = if choice == 0 && !built {
                        // No configuration for a name not built yet would mean the
                        // default Redis: ask with the first configuration instead.
                        SHARED_CONFIGS[usize::from(limiter)][1]
                    } else {
                        SHARED_CONFIGS[usize::from(limiter)][choice]
                    };
                    let (jp, jl) = json.map_or((ptr::null(), 0), |j| (j.as_ptr().cast(), j.len()));
                    if limiter {
                        let mut h = ptr::null_mut();
                        let s = registry_shared_rate_limiter(
                            registry,
                            name.as_ptr().cast(),
                            name.len(),
                            jp,
                            jl,
                            &mut h,
                            &mut err,
                        );
                        if choice == 3 && i.is_some() {
                            // lease_ttl_ms: not for a registry limiter.
                            assert_eq!(s, BW_INVALID_CONFIG, "{}", err.message_str());
                        }
                        check_registry_answer(s, h.is_null(), i, Some(""), &err);
                        if s == BW_OK {
                            shared_built[1][i.unwrap()] = true;
                            use_shared_limiter(h);
                            shared_rate_limiter_free(h);
                        }
                        s
                    } else {
                        let mut h = ptr::null_mut();
                        let s = registry_shared_breaker(
                            registry,
                            name.as_ptr().cast(),
                            name.len(),
                            jp,
                            jl,
                            &mut h,
                            &mut err,
                        );
                        if choice == 3 && i.is_some() {
                            // A threshold of 0.
                            assert_eq!(s, BW_INVALID_CONFIG, "{}", err.message_str());
                        }
                        check_registry_answer(s, h.is_null(), i, Some(""), &err);
                        if s == BW_OK {
                            shared_built[0][i.unwrap()] = true;
                            use_shared_breaker(h);
                            shared_breaker_free(h);
                        }
                        s
                    }
                }
                _ => {
                    // A fresh breaker in place of a freed one.
                    if breaker.is_null() {
                        breaker = breaker_new(BREAKERS[pick % BREAKERS.len()], clock);
                        permits.clear();
                    }
                    BW_OK
                }
            };
            assert!(
                matches!(
                    s,
                    BW_OK
                        | BW_REJECTED
                        | BW_INVALID_ARGUMENT
                        | BW_STALE
                        | BW_TIMED_OUT
                        | BW_INVALID_CONFIG
                        | BW_BUFFER_TOO_SMALL
                ),
                "op {}: unexpected status {s} ({})",
                op % OPS,
                err.message_str()
            );
            check_log();
        }
    }
    // SAFETY: each handle is live or NULL and freed once.
    unsafe {
        let mut err = bw_error::default();
        set_log(false, 0, &mut err);
        LOG_LEVEL.with(|l| l.set(None));
        for (_, b) in rbulk {
            bulkhead_free(b);
        }
        for l in rlim {
            limiter_free(l);
        }
        for st in states {
            retry_state_free(st);
        }
        breaker_free(breaker);
        bulkhead_free(bulkhead);
        limiter_free(limiter);
        retry_free(retry);
        registry_free(registry);
        clock_free(clock);
    }
}

/// The Redis URL every shared policy of the targets gets: loopback port 1, where nothing
/// listens (connecting is refused at once), so that no input reaches a real server.
pub const UNREACHABLE_REDIS: &str = "redis://127.0.0.1:1/";
/// The longest `op_timeout_ms` an input keeps (larger ones are cut to it).
const SHARED_OP_TIMEOUT_MS: f64 = 20.0;

/// The JSON text given to the shared constructors for `data`, made safe to build: an
/// object gets `redis_url` pinned to [`UNREACHABLE_REDIS`] (a string value is kept as a
/// suffix after the fixed host, so that the URL parser still sees fuzzed paths, database
/// numbers and queries, but never another host) and `op_timeout_ms` at most
/// [`SHARED_OP_TIMEOUT_MS`] (non-numeric or out-of-range values are kept: validation
/// sees them). Anything else is passed as it is (the library refuses it: not an object),
/// except an all-whitespace text, which would mean "the defaults" (the default URL is
/// the local Redis port) and becomes `{}` pinned as above. Returns the text and whether
/// it is an object (only then may the constructor succeed).
pub fn shared_text(data: &[u8]) -> (Vec<u8>, bool) {
    use serde_json::{Map, Value};
    let parsed = if data.iter().all(u8::is_ascii_whitespace) {
        Ok(Value::Object(Map::new()))
    } else {
        serde_json::from_slice::<Value>(data)
    };
    let Ok(Value::Object(mut m)) = parsed else {
        return (data.to_vec(), false);
    };
    let url = match m.get("redis_url") {
        Some(Value::String(s)) if s.len() % 2 == 1 => Some(format!("{UNREACHABLE_REDIS}{s}")),
        Some(Value::String(_)) | None => Some(UNREACHABLE_REDIS.to_owned()),
        // Another type: refused by the library whatever it is.
        Some(_) => None,
    };
    if let Some(url) = url {
        m.insert("redis_url".into(), Value::String(url));
    }
    let keep = match m.get("op_timeout_ms") {
        Some(Value::Number(n)) => n.as_f64().is_some_and(|v| v <= SHARED_OP_TIMEOUT_MS),
        Some(_) => true,
        None => false,
    };
    if !keep {
        m.insert("op_timeout_ms".into(), SHARED_OP_TIMEOUT_MS.into());
    }
    (
        serde_json::to_vec(&Value::Object(m)).expect("a JSON value serialises"),
        true,
    )
}

/// Shared policies `json_shared` has built in this process.
static SHARED_BUILT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How many shared policies `json_shared` has built in this process (the replay test
/// prints it: inputs that get past validation to the connection).
pub fn shared_built() -> u64 {
    SHARED_BUILT.load(std::sync::atomic::Ordering::Relaxed)
}

/// Checks a constructor's answer: a documented status, a message on refusal, the handle
/// written exactly on success; success only for a pinned object.
fn check_built(what: &str, status: bw_status, written: bool, object: bool, err: &bw_error) {
    match status {
        BW_OK => {
            assert!(written, "{what}: BW_OK with a NULL handle");
            assert!(
                object,
                "{what}: built from a text that is not a JSON object"
            );
        }
        BW_INVALID_CONFIG | BW_INVALID_ARGUMENT => {
            assert!(!written, "{what}: an out-parameter written on failure");
            assert!(
                !err.message_str().is_empty(),
                "{what}: a refusal without a message"
            );
        }
        other => panic!("{what}: unexpected status {other} ({})", err.message_str()),
    }
}

/// A fuzz target for the Redis-shared JSON constructors: `bw_shared_breaker_new_json`,
/// `bw_shared_rate_limiter_new_json` and the registry's `bw_registry_shared_breaker` /
/// `bw_registry_shared_rate_limiter`, on the text of [`shared_text`] (never a reachable
/// server); what is built is used a little (acquire, record, metrics) and freed (which
/// stops its background threads). Then NULL text of the same length (not for length 0:
/// that is the defaults, the local Redis port).
pub fn json_shared(data: &[u8]) {
    let (text, object) = shared_text(data);
    let (json, len) = (text.as_ptr().cast(), text.len());
    let registry = registry_new();
    let name = b"fuzzed";
    // SAFETY: `text` is live for every call; out-pointers are locals; each handle is
    // freed once.
    unsafe {
        for via_registry in [false, true] {
            let mut err = bw_error::default();
            let mut b = ptr::null_mut();
            let s = if via_registry {
                registry_shared_breaker(
                    registry,
                    name.as_ptr().cast(),
                    name.len(),
                    json,
                    len,
                    &mut b,
                    &mut err,
                )
            } else {
                shared_breaker_new_json(json, len, &mut b, &mut err)
            };
            check_built("shared breaker", s, !b.is_null(), object, &err);
            if s == BW_OK {
                SHARED_BUILT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                use_shared_breaker(b);
                shared_breaker_free(b);
            }
            let mut err = bw_error::default();
            let mut l = ptr::null_mut();
            let s = if via_registry {
                registry_shared_rate_limiter(
                    registry,
                    name.as_ptr().cast(),
                    name.len(),
                    json,
                    len,
                    &mut l,
                    &mut err,
                )
            } else {
                shared_rate_limiter_new_json(json, len, &mut l, &mut err)
            };
            check_built("shared limiter", s, !l.is_null(), object, &err);
            if s == BW_OK {
                SHARED_BUILT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                use_shared_limiter(l);
                shared_rate_limiter_free(l);
            }
        }
        if !data.is_empty() {
            let mut err = bw_error::default();
            let mut b = ptr::null_mut();
            let s = shared_breaker_new_json(ptr::null(), data.len(), &mut b, &mut err);
            assert!(b.is_null());
            assert_eq!(s, BW_INVALID_ARGUMENT, "NULL text of length {}", data.len());
            let mut l = ptr::null_mut();
            let s = shared_rate_limiter_new_json(ptr::null(), data.len(), &mut l, &mut err);
            assert!(l.is_null());
            assert_eq!(s, BW_INVALID_ARGUMENT, "NULL text of length {}", data.len());
        }
        // NULL out-parameters.
        let mut err = bw_error::default();
        assert_eq!(
            shared_breaker_new_json(json, len, ptr::null_mut(), &mut err),
            BW_INVALID_ARGUMENT
        );
        assert_eq!(
            shared_rate_limiter_new_json(json, len, ptr::null_mut(), &mut err),
            BW_INVALID_ARGUMENT
        );
        registry_free(registry);
    }
}

/// Acquires, records and reads the metrics of a shared breaker.
///
/// # Safety
///
/// `b` is a live shared breaker.
unsafe fn use_shared_breaker(b: *mut bw_shared_breaker) {
    let mut err = bw_error::default();
    // SAFETY: the caller's contract; out-pointers are locals.
    unsafe {
        let mut p = bw_shared_permit::default();
        let s = shared_breaker_try_acquire(b, &mut p, &mut err);
        assert!(
            matches!(s, BW_OK | BW_REJECTED),
            "shared acquire: {s} ({})",
            err.message_str()
        );
        if s == BW_OK {
            let r = shared_breaker_record(b, p, abi::OUTCOME_SUCCESS, &mut err);
            assert!(matches!(r, BW_OK | BW_STALE), "shared record: {r}");
        }
        // A zeroed permit is stale; an unknown outcome is refused.
        let r = shared_breaker_record(b, bw_shared_permit::default(), 0, &mut err);
        assert_eq!(r, BW_STALE, "a zeroed shared permit");
        let r = shared_breaker_record(b, p, 3, &mut err);
        assert_eq!(r, BW_INVALID_ARGUMENT, "an unknown outcome");
        let mut m = bw_shared_breaker_stats {
            size: std::mem::size_of::<bw_shared_breaker_stats>(),
            ..Default::default()
        };
        assert_eq!(shared_breaker_metrics(b, &mut m, &mut err), BW_OK);
    }
}

/// Takes a permit from and reads the metrics of a shared rate limiter.
///
/// # Safety
///
/// `l` is a live shared rate limiter.
unsafe fn use_shared_limiter(l: *mut bw_shared_rate_limiter) {
    let mut err = bw_error::default();
    // SAFETY: the caller's contract; out-pointers are locals.
    unsafe {
        let mut wait = 0u64;
        let s = shared_rate_limiter_try_acquire(l, &mut wait, &mut err);
        assert!(
            matches!(s, BW_OK | BW_REJECTED),
            "shared limiter: {s} ({})",
            err.message_str()
        );
        let mut m = bw_shared_limiter_stats {
            size: std::mem::size_of::<bw_shared_limiter_stats>(),
            ..Default::default()
        };
        assert_eq!(shared_rate_limiter_metrics(l, &mut m, &mut err), BW_OK);
    }
}

/// Calls a text-copying function (`f(buf, len, out_len, err)`, the contract of
/// `bw_registry_prometheus`, `bw_registry_health_json`, `bw_breaker_describe_transition`)
/// with the buffer `case` picks: length 0 with NULL, a short buffer, the exact size, a
/// larger one, a huge length with NULL, a NULL `out_len`. Checks the contract: on
/// `BW_BUFFER_TOO_SMALL` the length is written and the buffer is not; on `BW_OK` the text
/// is UTF-8, NUL-terminated within `len`, and nothing past `len` is touched.
///
/// # Safety
///
/// `f` is one of those functions on live (or NULL) handles.
unsafe fn text_cases(
    case: u8,
    err: &mut bw_error,
    f: impl Fn(*mut std::ffi::c_char, usize, *mut usize, &mut bw_error) -> bw_status,
) -> bw_status {
    const SENTINEL: u8 = 0xA5;
    let mut need = usize::MAX;
    let s = f(ptr::null_mut(), 0, &mut need, err);
    if s != BW_BUFFER_TOO_SMALL {
        assert_eq!(s, BW_INVALID_ARGUMENT, "length 0: status {s}");
        assert_eq!(need, usize::MAX, "out_len written on a refusal");
        return s;
    }
    assert_ne!(need, usize::MAX, "BW_BUFFER_TOO_SMALL without the length");
    let mut out = usize::MAX;
    match case % 6 {
        0 => s,
        4 => {
            let s = f(
                ptr::null_mut(),
                usize::MAX - usize::from(case),
                &mut out,
                err,
            );
            assert_eq!(s, BW_INVALID_ARGUMENT, "a NULL buffer with a huge length");
            s
        }
        5 => {
            let mut buf = vec![SENTINEL; need + 1];
            let s = f(buf.as_mut_ptr().cast(), buf.len(), ptr::null_mut(), err);
            assert_eq!(s, BW_INVALID_ARGUMENT, "a NULL out_len");
            s
        }
        c => {
            // Short (1 to need bytes), exact (need + 1), larger (need + 1 + 64); a guard
            // of 16 bytes after the length given.
            let len = match c {
                1 => 1 + usize::from(case) % need.max(1),
                2 => need + 1,
                _ => need + 65,
            };
            let mut buf = vec![SENTINEL; len + 16];
            let s = f(buf.as_mut_ptr().cast(), len, &mut out, err);
            assert!(
                buf[len..].iter().all(|&b| b == SENTINEL),
                "written past the length given"
            );
            match s {
                BW_OK => {
                    assert!(out < len, "BW_OK: {out} bytes do not fit in {len}");
                    assert_eq!(buf[out], 0, "no NUL after the text");
                    assert!(!buf[..out].contains(&0), "a NUL inside the text");
                    assert!(std::str::from_utf8(&buf[..out]).is_ok(), "not UTF-8");
                }
                BW_BUFFER_TOO_SMALL => {
                    // The text may have grown since (a registry's counters move).
                    assert!(
                        out >= len,
                        "BW_BUFFER_TOO_SMALL but {out} bytes fit in {len}"
                    );
                    assert!(
                        buf.iter().all(|&b| b == SENTINEL),
                        "buffer written on BW_BUFFER_TOO_SMALL"
                    );
                }
                other => panic!("text copy: status {other} ({})", err.message_str()),
            }
            s
        }
    }
}

/// What the log handler of the sequence target saw.
struct LogCheck {
    /// Records received.
    records: std::sync::atomic::AtomicU64,
    /// Records above the level set on the receiving thread, or received while off.
    above: std::sync::atomic::AtomicU64,
    /// Records whose fields break `bw_log_record`'s contract.
    malformed: std::sync::atomic::AtomicU64,
}

static LOG: LogCheck = LogCheck {
    records: std::sync::atomic::AtomicU64::new(0),
    above: std::sync::atomic::AtomicU64::new(0),
    malformed: std::sync::atomic::AtomicU64::new(0),
};

thread_local! {
    /// The level the sequence running on this thread set (`Some(0)`: off); `None` on
    /// threads that did not set one (records caused there are not level-checked: the
    /// handler is process-wide).
    static LOG_LEVEL: std::cell::Cell<Option<u32>> = const { std::cell::Cell::new(None) };
}

/// A UTF-8 string of `len` bytes at `p`, NUL-terminated.
///
/// # Safety
///
/// `p` is NULL or valid for reads of `len + 1` bytes.
unsafe fn record_text<'a>(p: *const std::ffi::c_char, len: usize) -> Option<&'a str> {
    if p.is_null() {
        return None;
    }
    // SAFETY: the caller's contract.
    let bytes = unsafe { std::slice::from_raw_parts(p.cast::<u8>(), len + 1) };
    if bytes[len] != 0 || bytes[..len].contains(&0) {
        return None;
    }
    std::str::from_utf8(&bytes[..len]).ok()
}

/// The sequence target's log handler: counts records and contract breaches (never
/// panics: it must not unwind).
unsafe extern "C" fn count_record(record: *const bw_log_record, user_data: *mut std::ffi::c_void) {
    use std::sync::atomic::Ordering::Relaxed;
    // SAFETY: `user_data` is `&LOG` (static).
    let check = unsafe { &*user_data.cast::<LogCheck>() };
    check.records.fetch_add(1, Relaxed);
    // SAFETY: the record and its strings are valid during the call.
    let ok = !record.is_null()
        && unsafe {
            let r = &*record;
            (1..=BW_LOG_TRACE).contains(&r.level)
                && record_text(r.target, r.target_len).is_some_and(|t| t.starts_with("breakwater"))
                && record_text(r.message, r.message_len).is_some_and(|m| !m.is_empty())
                && record_text(r.fields_json, r.fields_json_len).is_some_and(|j| {
                    matches!(serde_json::from_str(j), Ok(serde_json::Value::Object(_)))
                })
        };
    if !ok {
        check.malformed.fetch_add(1, Relaxed);
        return;
    }
    // SAFETY: checked non-NULL above.
    let level = unsafe { (*record).level };
    if LOG_LEVEL
        .try_with(std::cell::Cell::get)
        .ok()
        .flatten()
        .is_some_and(|max| level > max)
    {
        check.above.fetch_add(1, Relaxed);
    }
}

/// Sets (or turns off) the log handler from the sequence; checks the answer.
///
/// # Safety
///
/// None beyond the library's: the handler and its data are static.
unsafe fn set_log(on: bool, level: u32, err: &mut bw_error) -> bw_status {
    let handler: Option<unsafe extern "C" fn(*const bw_log_record, *mut std::ffi::c_void)> =
        if on { Some(count_record) } else { None };
    let user = (&raw const LOG).cast_mut().cast();
    // SAFETY: a static handler and static user data.
    let s = unsafe { set_log_handler(handler, level, user, err) };
    if level > BW_LOG_TRACE {
        assert_eq!(s, BW_INVALID_ARGUMENT, "log level {level} accepted");
        assert!(
            err.message_str().contains("max_level"),
            "{}",
            err.message_str()
        );
    } else {
        assert_eq!(s, BW_OK, "log level {level}: {}", err.message_str());
        LOG_LEVEL.with(|l| l.set(Some(if on { level } else { 0 })));
    }
    s
}

/// Fails when the handler saw a malformed record or one above the level.
fn check_log() {
    use std::sync::atomic::Ordering::Relaxed;
    assert_eq!(LOG.malformed.load(Relaxed), 0, "a malformed log record");
    assert_eq!(
        LOG.above.load(Relaxed),
        0,
        "a log record above the level set"
    );
}

/// The log records the handler has received in this process.
pub fn log_records() -> u64 {
    LOG.records.load(std::sync::atomic::Ordering::Relaxed)
}
