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

/// A fuzz target for random call sequences on handles: breakers (protocol, admit,
/// manual control, metrics with any size tag), a bulkhead, a limiter, retry states, a
/// manual clock; handles freed and set to NULL mid-sequence (calls on NULL must be
/// refused), double frees of NULL, stale and forged permits, out-of-range enums.
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
            let s = match op % 25 {
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
                    if op % 25 == 1 {
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
                ),
                "op {}: unexpected status {s} ({})",
                op % 25,
                err.message_str()
            );
        }
    }
    // SAFETY: each handle is live or NULL and freed once.
    unsafe {
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
