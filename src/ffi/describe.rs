//! The library describes its vocabularies, so that bindings keep no tables:
//! `bw_policy_name`, `bw_reason_name`, `bw_state_name`, `bw_transition_reason_name`,
//! and `bw_rejection_message`.
//!
//! Each returns a static NUL-terminated string for a code, or NULL for a code that is
//! not one, so that a binding enumerates `0, 1, 2, ...` until NULL. The text is the Rust
//! enum's own name (`PolicyKind`'s `Display`, `RejectReason`'s `Display`,
//! `State::as_str`, `TransitionReason::as_str`), the one table in the core; code 0 of
//! policies and reasons is `"none"` (`BW_POLICY_NONE`, `BW_REASON_NONE`).

use std::ffi::{CString, c_char};
use std::sync::OnceLock;

use super::breaker::calls::call_kind_code;
use super::breaker::events::transition_code;
use super::status::{policy_code, reason_code};
use crate::breaker::{CallKind, State, TransitionReason};
use crate::error::{PolicyKind, RejectReason};

/// Every policy kind (for the code -> name direction; `policy_code` is the other).
const POLICIES: [PolicyKind; 11] = [
    PolicyKind::CircuitBreaker,
    PolicyKind::Retry,
    PolicyKind::Deadline,
    PolicyKind::TimeLimiter,
    PolicyKind::Bulkhead,
    PolicyKind::ThreadPool,
    PolicyKind::RateLimiter,
    PolicyKind::Fallback,
    PolicyKind::Cache,
    PolicyKind::Pipeline,
    PolicyKind::Http,
];

/// Every rejection reason.
const REASONS: [RejectReason; 10] = [
    RejectReason::Open,
    RejectReason::TrialFull,
    RejectReason::ForcedOpen,
    RejectReason::BulkheadFull,
    RejectReason::QueueFull,
    RejectReason::Shutdown,
    RejectReason::RateLimited,
    RejectReason::BudgetExhausted,
    RejectReason::DeadlineExceeded,
    RejectReason::Cancelled,
];

/// Every transition reason.
pub(crate) const TRANSITIONS: [TransitionReason; 10] = [
    TransitionReason::ThresholdReached,
    TransitionReason::OpenDurationElapsed,
    TransitionReason::TrialSucceeded,
    TransitionReason::TrialFailed,
    TransitionReason::HalfOpenTimeout,
    TransitionReason::Reset,
    TransitionReason::ForcedOpen,
    TransitionReason::Disabled,
    TransitionReason::ManualOpen,
    TransitionReason::ManualHalfOpen,
];

/// A table of names indexed by code (gaps are `None`), built once.
fn table(
    cell: &'static OnceLock<Vec<Option<CString>>>,
    entries: impl FnOnce() -> Vec<(u32, String)>,
) -> &'static [Option<CString>] {
    cell.get_or_init(|| {
        let entries = entries();
        let len = entries
            .iter()
            .map(|(c, _)| *c as usize + 1)
            .max()
            .unwrap_or(0);
        let mut v: Vec<Option<CString>> = vec![None; len];
        for (code, name) in entries {
            v[code as usize] = CString::new(name).ok();
        }
        v
    })
}

fn lookup(names: &[Option<CString>], code: u32) -> *const c_char {
    names
        .get(code as usize)
        .and_then(Option::as_ref)
        .map_or(std::ptr::null(), |s| s.as_ptr())
}

/// The name of a policy code (`BW_POLICY_*`, as in `bw_error.policy`): `"none"` for
/// `BW_POLICY_NONE`, `"circuit breaker"`, `"retry"`, ... NULL for an unknown code.
/// Static; never fails; must not be freed.
#[unsafe(no_mangle)]
pub extern "C" fn bw_policy_name(policy: u32) -> *const c_char {
    static NAMES: OnceLock<Vec<Option<CString>>> = OnceLock::new();
    ffi_boundary_value!(std::ptr::null(), {
        let names = table(&NAMES, || {
            let mut v = vec![(0, "none".to_owned())];
            v.extend(POLICIES.iter().map(|p| (policy_code(*p), p.to_string())));
            v
        });
        lookup(names, policy)
    })
}

/// The name of a rejection reason code (`BW_REASON_*`, as in `bw_error.reason`):
/// `"none"` for `BW_REASON_NONE`, `"open"`, `"half-open trial full"`, ... NULL for an
/// unknown code. Static; never fails; must not be freed.
#[unsafe(no_mangle)]
pub extern "C" fn bw_reason_name(reason: u32) -> *const c_char {
    static NAMES: OnceLock<Vec<Option<CString>>> = OnceLock::new();
    ffi_boundary_value!(std::ptr::null(), {
        let names = table(&NAMES, || {
            let mut v = vec![(0, "none".to_owned())];
            v.extend(REASONS.iter().map(|r| (reason_code(*r), r.to_string())));
            v
        });
        lookup(names, reason)
    })
}

/// The name of a breaker state code (`BW_STATE_*`): `"closed"`, `"open"`,
/// `"half-open"`, `"forced-open"`, `"disabled"`; NULL for an unknown code. Static; never
/// fails; must not be freed.
#[unsafe(no_mangle)]
pub extern "C" fn bw_state_name(state: u32) -> *const c_char {
    static NAMES: OnceLock<Vec<Option<CString>>> = OnceLock::new();
    ffi_boundary_value!(std::ptr::null(), {
        let names = table(&NAMES, || {
            (0..)
                .map_while(State::from_code)
                .map(|s| (s.code(), s.as_str().to_owned()))
                .collect()
        });
        lookup(names, state)
    })
}

/// The name of a call event's kind (`BW_CALL_*`, in `bw_breaker_call_event`):
/// `"success"`, `"failure"`, `"ignored"`, `"rejected"`, `"stale"`; NULL for an unknown
/// code. Static; never fails; must not be freed.
#[unsafe(no_mangle)]
pub extern "C" fn bw_call_kind_name(kind: u32) -> *const c_char {
    static NAMES: OnceLock<Vec<Option<CString>>> = OnceLock::new();
    ffi_boundary_value!(std::ptr::null(), {
        let names = table(&NAMES, || {
            [
                CallKind::Success,
                CallKind::Failure,
                CallKind::Ignored,
                CallKind::Rejected(RejectReason::Open),
                CallKind::Stale,
            ]
            .into_iter()
            .map(|k| (call_kind_code(k).0, k.as_str().to_owned()))
            .collect()
        });
        lookup(names, kind)
    })
}

/// The name of a transition reason code (`BW_TRANSITION_*`, in `bw_breaker_event`):
/// `"threshold reached"`, `"open duration elapsed"`, ...; NULL for an unknown code.
/// Static; never fails; must not be freed.
#[unsafe(no_mangle)]
pub extern "C" fn bw_transition_reason_name(reason: u32) -> *const c_char {
    static NAMES: OnceLock<Vec<Option<CString>>> = OnceLock::new();
    ffi_boundary_value!(std::ptr::null(), {
        let names = table(&NAMES, || {
            TRANSITIONS
                .iter()
                .map(|t| (transition_code(*t), t.as_str().to_owned()))
                .collect()
        });
        lookup(names, reason)
    })
}

/// The message a rejection by `policy` (`BW_POLICY_*`) for `reason` (`BW_REASON_*`)
/// carries in `bw_error.message` (`"circuit breaker rejected the call: open"`), for
/// bindings that report refusals without an error object (`bw_breaker_admit`). NULL
/// when either code is unknown or is 0. Static; never fails; must not be freed.
#[unsafe(no_mangle)]
pub extern "C" fn bw_rejection_message(policy: u32, reason: u32) -> *const c_char {
    static TEXTS: OnceLock<Vec<Option<CString>>> = OnceLock::new();
    let stride = REASONS.len() as u32 + 1;
    ffi_boundary_value!(std::ptr::null(), {
        let texts = table(&TEXTS, || {
            let mut v = Vec::new();
            for p in POLICIES {
                for r in REASONS {
                    let message = super::error::Message::Rejected(p, r).to_string();
                    v.push((policy_code(p) * stride + reason_code(r), message));
                }
            }
            v
        });
        if policy == 0 || reason == 0 || reason >= stride {
            return std::ptr::null();
        }
        policy
            .checked_mul(stride)
            .map_or(std::ptr::null(), |i| lookup(texts, i + reason))
    })
}

/// `bw_health_status_name` code: working (`"UP"`).
pub const BW_HEALTH_UP: u32 = 0;
/// `bw_health_status_name` code: working with reduced function (`"DEGRADED"`).
pub const BW_HEALTH_DEGRADED: u32 = 1;
/// `bw_health_status_name` code: not working (`"DOWN"`).
pub const BW_HEALTH_DOWN: u32 = 2;

/// The word a health report (`bw_registry_health_json`) writes for a status code
/// (`BW_HEALTH_*`): `"UP"`, `"DEGRADED"`, `"DOWN"`; NULL for an unknown code. Static; never
/// fails; must not be freed.
#[unsafe(no_mangle)]
pub extern "C" fn bw_health_status_name(status: u32) -> *const c_char {
    static NAMES: OnceLock<Vec<Option<CString>>> = OnceLock::new();
    ffi_boundary_value!(std::ptr::null(), {
        use crate::exposition::Status;
        let names = table(&NAMES, || {
            [
                (BW_HEALTH_UP, Status::Up),
                (BW_HEALTH_DEGRADED, Status::Degraded),
                (BW_HEALTH_DOWN, Status::Down),
            ]
            .into_iter()
            .map(|(code, s)| (code, s.as_str().to_owned()))
            .collect()
        });
        lookup(names, status)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    fn all(f: extern "C" fn(u32) -> *const c_char) -> Vec<String> {
        (0u32..)
            .map(|code| f(code))
            .take_while(|p| !p.is_null())
            // SAFETY: a non-NULL result is a static NUL-terminated string.
            .map(|p| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn every_table_enumerates_until_null() {
        assert_eq!(all(bw_policy_name).len(), 1 + POLICIES.len());
        assert_eq!(all(bw_policy_name)[1], "circuit breaker");
        assert_eq!(all(bw_reason_name).len(), 1 + REASONS.len());
        assert_eq!(all(bw_reason_name)[2], "half-open trial full");
        assert_eq!(
            all(bw_state_name),
            ["closed", "open", "half-open", "forced-open", "disabled"]
        );
        assert_eq!(all(bw_transition_reason_name).len(), TRANSITIONS.len());
        assert!(bw_policy_name(u32::MAX).is_null());
        assert!(bw_state_name(99).is_null());
        // SAFETY: non-NULL results are static NUL-terminated strings.
        let open = unsafe { CStr::from_ptr(bw_rejection_message(1, 1)) };
        assert_eq!(
            open.to_str().unwrap(),
            "circuit breaker rejected the call: open"
        );
        assert!(bw_rejection_message(0, 1).is_null());
        assert!(bw_rejection_message(1, 0).is_null());
        assert!(bw_rejection_message(1, 11).is_null());
        assert!(bw_rejection_message(u32::MAX, 1).is_null());
    }
}
