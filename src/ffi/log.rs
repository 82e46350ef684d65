//! The library's log records for C, Python and Go: `bw_set_log_handler`.
//!
//! The core writes its events (breaker transitions, rejections, retries) as `tracing`
//! events under targets starting with `breakwater`. A C program (and through it the Python
//! `logging` and Go `log/slog` adapters) asks for them with `bw_set_log_handler`: the
//! library then installs, once, a small `tracing` subscriber of its own that hands every
//! record at or above the chosen level to the handler, with the sentence the core wrote
//! and its fields as a JSON object. The bindings keep no message texts: they forward what
//! the core says.
//!
//! Level codes (`BW_LOG_*`) follow `tracing`'s order; `bw_log_level_name` names them.

use std::ffi::{CString, c_char, c_void};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;
use tracing::field::{Field, Visit};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber, span};

use super::error::FfiError;
use super::status::bw_status;

/// `bw_set_log_handler` level: no records.
pub const BW_LOG_OFF: u32 = 0;
/// Level of a record: an error.
pub const BW_LOG_ERROR: u32 = 1;
/// Level of a record: a warning (a breaker opening).
pub const BW_LOG_WARN: u32 = 2;
/// Level of a record: information (other breaker transitions).
pub const BW_LOG_INFO: u32 = 3;
/// Level of a record: debugging detail (rejections, retries).
pub const BW_LOG_DEBUG: u32 = 4;
/// Level of a record: tracing detail.
pub const BW_LOG_TRACE: u32 = 5;

/// One log record, passed to the handler of `bw_set_log_handler`. Every pointer is valid
/// only during the call; the strings are UTF-8 with their lengths (also NUL-terminated).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct bw_log_record {
    /// `BW_LOG_ERROR` ... `BW_LOG_TRACE`.
    pub level: u32,
    /// Where the record comes from: `"breakwater::breaker"`, `"breakwater::retry"`, ...
    pub target: *const c_char,
    /// The length of `target` in bytes.
    pub target_len: usize,
    /// The sentence the library wrote, e.g. `"breaker authors: closed -> open (3
    /// consecutive failures)"`.
    pub message: *const c_char,
    /// The length of `message` in bytes.
    pub message_len: usize,
    /// The record's other fields as a JSON object (`{"policy":"circuit breaker",
    /// "name":"authors","from":"closed","to":"open",...}`): strings, numbers, booleans.
    pub fields_json: *const c_char,
    /// The length of `fields_json` in bytes.
    pub fields_json_len: usize,
}

/// A log handler (the `handler` parameter of `bw_set_log_handler`).
pub type bw_log_fn = unsafe extern "C" fn(record: *const bw_log_record, user_data: *mut c_void);

/// The handler and its `user_data`.
struct Handler {
    f: bw_log_fn,
    user_data: *mut c_void,
}

// SAFETY: `bw_set_log_handler` documents that the handler is called from any thread the
// library runs on, so the caller guarantees `user_data` may be used from those threads.
unsafe impl Send for Handler {}
// SAFETY: as above; the handler is only called, never mutated, through a shared reference.
unsafe impl Sync for Handler {}

/// The level chosen (`BW_LOG_*`), read by the subscriber on every callsite check.
static LEVEL: AtomicU32 = AtomicU32::new(BW_LOG_OFF);
/// The handler, cloned out of the lock before each call (a handler may log, or change
/// the handler, without deadlocking).
static HANDLER: Mutex<Option<Arc<Handler>>> = Mutex::new(None);
/// Whether our subscriber is the global default (installed once, on first use).
static INSTALLED: OnceLock<bool> = OnceLock::new();

/// The `BW_LOG_*` code of a `tracing` level.
fn level_code(level: &Level) -> u32 {
    match *level {
        Level::ERROR => BW_LOG_ERROR,
        Level::WARN => BW_LOG_WARN,
        Level::INFO => BW_LOG_INFO,
        Level::DEBUG => BW_LOG_DEBUG,
        _ => BW_LOG_TRACE,
    }
}

/// The subscriber the library installs: it forwards the library's own events to the
/// handler, ignores spans and everything not under `breakwater`.
struct Forward;

impl Forward {
    fn wants(meta: &Metadata<'_>) -> bool {
        // Events, and the hints of `tracing::enabled!` (which the core asks before
        // writing a sentence); never spans.
        !meta.is_span()
            && meta.target().starts_with("breakwater")
            && level_code(meta.level()) <= LEVEL.load(Ordering::Relaxed)
    }
}

impl Subscriber for Forward {
    fn register_callsite(&self, _meta: &'static Metadata<'static>) -> Interest {
        // The level can change at any time: ask `enabled` each time (one atomic load).
        Interest::sometimes()
    }

    fn enabled(&self, meta: &Metadata<'_>) -> bool {
        Forward::wants(meta)
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        use tracing::level_filters::LevelFilter;
        Some(match LEVEL.load(Ordering::Relaxed) {
            BW_LOG_OFF => LevelFilter::OFF,
            BW_LOG_ERROR => LevelFilter::ERROR,
            BW_LOG_WARN => LevelFilter::WARN,
            BW_LOG_INFO => LevelFilter::INFO,
            BW_LOG_DEBUG => LevelFilter::DEBUG,
            _ => LevelFilter::TRACE,
        })
    }

    fn new_span(&self, _span: &span::Attributes<'_>) -> span::Id {
        span::Id::from_u64(1)
    }

    fn record(&self, _span: &span::Id, _values: &span::Record<'_>) {}

    fn record_follows_from(&self, _span: &span::Id, _follows: &span::Id) {}

    fn event(&self, event: &Event<'_>) {
        let meta = event.metadata();
        if !Forward::wants(meta) {
            return;
        }
        let Some(handler) = HANDLER.lock().clone() else {
            return;
        };
        let mut fields = Fields::default();
        event.record(&mut fields);
        let json = serde_json::Value::Object(fields.map).to_string();
        let (Ok(target), Ok(message), Ok(json)) = (
            CString::new(meta.target()),
            CString::new(fields.message.replace('\0', " ")),
            CString::new(json),
        ) else {
            return;
        };
        let record = bw_log_record {
            level: level_code(meta.level()),
            target: target.as_ptr(),
            target_len: target.as_bytes().len(),
            message: message.as_ptr(),
            message_len: message.as_bytes().len(),
            fields_json: json.as_ptr(),
            fields_json_len: json.as_bytes().len(),
        };
        // SAFETY: `bw_set_log_handler` documents the handler's contract: it is called with
        // a record valid for the call and the `user_data` given, from any thread, and it
        // must not unwind.
        unsafe { (handler.f)(&record, handler.user_data) };
    }

    fn enter(&self, _span: &span::Id) {}

    fn exit(&self, _span: &span::Id) {}
}

/// An event's fields: the message apart, the others as JSON values.
#[derive(Default)]
struct Fields {
    message: String,
    map: serde_json::Map<String, serde_json::Value>,
}

impl Visit for Fields {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.map.insert(field.name().to_owned(), value.into());
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.map.insert(field.name().to_owned(), value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.map.insert(field.name().to_owned(), value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.map.insert(field.name().to_owned(), value.into());
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            value.clone_into(&mut self.message);
        } else {
            self.map.insert(field.name().to_owned(), value.into());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let mut text = String::new();
        let _ = write!(text, "{value:?}");
        if field.name() == "message" {
            self.message = text;
        } else {
            self.map.insert(field.name().to_owned(), text.into());
        }
    }
}

/// Sends the library's log records at `max_level` and above (`BW_LOG_ERROR` the most
/// severe ... `BW_LOG_TRACE` everything) to `handler(record, user_data)`, replacing any
/// handler set before. `BW_LOG_OFF` or a NULL `handler` turns records off.
///
/// What is logged: breaker transitions (`BW_LOG_WARN` when a breaker opens, `BW_LOG_INFO`
/// otherwise), rejections and retries (`BW_LOG_DEBUG`), each with the sentence the
/// library writes and its fields as JSON (see `bw_log_record`). The handler is called
/// on the thread that caused the event (any thread, pool workers included), possibly
/// from several threads at once; it must return quickly, must not unwind, and may call
/// the library (a record it causes is delivered too). `user_data` must stay valid until
/// the handler is replaced.
///
/// The library installs its record forwarder as the process's `tracing` subscriber of the
/// library's own copy of `tracing` (a C program has no other); a Rust program linking the
/// Rust crate uses its own subscriber instead and does not call this.
///
/// `BW_INVALID_ARGUMENT` for a level above `BW_LOG_TRACE`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_set_log_handler(
    handler: Option<unsafe extern "C" fn(record: *const bw_log_record, user_data: *mut c_void)>,
    max_level: u32,
    user_data: *mut c_void,
    err: *mut super::error::bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        if max_level > BW_LOG_TRACE {
            return Err(FfiError::invalid_argument(format!(
                "max_level: {max_level} is not a valid value (expected 0 (BW_LOG_OFF) to 5 (BW_LOG_TRACE))"
            )));
        }
        let installed =
            *INSTALLED.get_or_init(|| tracing::subscriber::set_global_default(Forward).is_ok());
        if !installed && handler.is_some() && max_level != BW_LOG_OFF {
            return Err(FfiError::invalid_argument(
                "another tracing subscriber is already installed in this process",
            ));
        }
        let level = if handler.is_some() {
            max_level
        } else {
            BW_LOG_OFF
        };
        *HANDLER.lock() = handler.map(|f| Arc::new(Handler { f, user_data }));
        LEVEL.store(level, Ordering::Relaxed);
        tracing::callsite::rebuild_interest_cache();
        Ok(())
    })
}

/// The name of a level code (`BW_LOG_*`): `"off"`, `"error"`, `"warn"`, `"info"`,
/// `"debug"`, `"trace"`; NULL for an unknown code. Static; never fails; must not be
/// freed.
#[unsafe(no_mangle)]
pub extern "C" fn bw_log_level_name(level: u32) -> *const c_char {
    const NAMES: [&std::ffi::CStr; 6] = [c"off", c"error", c"warn", c"info", c"debug", c"trace"];
    NAMES
        .get(level as usize)
        .map_or(std::ptr::null(), |n| n.as_ptr())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records seen by `collect` whose fields name `logtest` (other tests of this binary
    /// may log at the same time).
    static SEEN: Mutex<Vec<(u32, String, String, String)>> = Mutex::new(Vec::new());

    unsafe extern "C" fn collect(record: *const bw_log_record, user_data: *mut c_void) {
        // SAFETY: the library passes a record valid for the call, with valid strings.
        let r = unsafe { &*record };
        let text = |p: *const c_char, n: usize| {
            // SAFETY: as above: `n` bytes at `p`.
            let bytes = unsafe { std::slice::from_raw_parts(p.cast::<u8>(), n) };
            String::from_utf8(bytes.to_vec()).unwrap()
        };
        let fields = text(r.fields_json, r.fields_json_len);
        if fields.contains("\"logtest\"") {
            assert_eq!(user_data as usize, 42);
            SEEN.lock().push((
                r.level,
                text(r.target, r.target_len),
                text(r.message, r.message_len),
                fields,
            ));
        }
    }

    fn set(level: u32, on: bool) -> bw_status {
        let handler: Option<bw_log_fn> = if on { Some(collect) } else { None };
        // SAFETY: `collect` is a valid handler; `err` may be NULL.
        unsafe { bw_set_log_handler(handler, level, 42 as *mut c_void, std::ptr::null_mut()) }
    }

    #[test]
    fn records_reach_the_handler_by_level_and_target() {
        assert_eq!(set(BW_LOG_DEBUG, true), 0);
        tracing::warn!(target: "breakwater::breaker", name = "logtest", generation = 3u64, open = true, "breaker logtest: closed -> open");
        tracing::debug!(target: "breakwater::retry", name = "logtest", "retrying");
        tracing::trace!(target: "breakwater::retry", name = "logtest", "too fine");
        tracing::warn!(target: "somebody_else", name = "logtest", "not ours");
        // A real transition of a breaker, as the core writes it.
        let breaker = crate::CircuitBreaker::builder()
            .name("logtest")
            .consecutive_failures(1)
            .build()
            .unwrap();
        let _ = breaker.call(|| Err::<(), _>("down"));
        assert_eq!(set(BW_LOG_WARN, true), 0);
        tracing::info!(target: "breakwater::breaker", name = "logtest", "below warn");
        assert_eq!(set(BW_LOG_INFO, false), 0); // NULL handler: off
        tracing::error!(target: "breakwater::breaker", name = "logtest", "handler gone");
        let seen = SEEN.lock().clone();
        assert_eq!(seen.len(), 3, "{seen:?}");
        assert_eq!(seen[2].0, BW_LOG_WARN);
        assert_eq!(
            seen[2].2,
            "breaker logtest: closed -> open (1 consecutive failure)"
        );
        let t: serde_json::Value = serde_json::from_str(&seen[2].3).unwrap();
        assert_eq!((&t["from"], &t["to"]), (&"closed".into(), &"open".into()));
        assert_eq!(seen[0].0, BW_LOG_WARN);
        assert_eq!(seen[0].1, "breakwater::breaker");
        assert_eq!(seen[0].2, "breaker logtest: closed -> open");
        let fields: serde_json::Value = serde_json::from_str(&seen[0].3).unwrap();
        assert_eq!(
            fields,
            serde_json::json!({"name": "logtest", "generation": 3, "open": true})
        );
        assert_eq!((seen[1].0, seen[1].2.as_str()), (BW_LOG_DEBUG, "retrying"));
        assert_eq!(
            set(BW_LOG_TRACE + 1, true),
            super::super::status::BW_INVALID_ARGUMENT
        );
    }

    #[test]
    fn level_names() {
        // SAFETY: static NUL-terminated strings.
        let name = |l| unsafe { std::ffi::CStr::from_ptr(bw_log_level_name(l)) };
        assert_eq!(name(BW_LOG_OFF), c"off");
        assert_eq!(name(BW_LOG_WARN), c"warn");
        assert_eq!(name(BW_LOG_TRACE), c"trace");
        assert!(bw_log_level_name(BW_LOG_TRACE + 1).is_null());
    }
}
