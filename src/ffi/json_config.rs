//! JSON configuration, the one format of every policy (`bw_<policy>_new_json`).
//!
//! A policy's JSON form is a type in `src/ffi/` that derives `serde::Deserialize` and
//! `Serialize` (`#[serde(default, deny_unknown_fields)]`) and implements [`JsonConfig`]:
//! how to build the handle, and its JSON Schema. From that one type come the parser
//! ([`config_from_json`]), the one `new_json` body every policy's export calls
//! ([`new_json`]), the defaults (`bw_<policy>_config_defaults_json`, the serialized
//! `Default`) and the schema (`bw_<policy>_config_schema_json`, whose `default`s are
//! filled from the same `Default`). Validation of the values stays in the policy's
//! builder, whose `ConfigError` (naming the field by its JSON name) converts into
//! `BW_INVALID_CONFIG` with `?`.

use std::ffi::{CString, c_char};
use std::sync::OnceLock;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use super::clock::{bw_clock, clock_or_monotonic};
use super::error::{FfiError, bw_error};
use super::out::into_handle;
use super::status::{BW_INVALID_CONFIG, bw_status};
use crate::clock::Clock;
use crate::error::{ConfigError, PolicyKind};

/// The longest `name` a JSON configuration (or a registry) accepts, in bytes (longer
/// names are refused with `BW_INVALID_CONFIG`): names are
/// quoted in messages, and every message must fit in `bw_error.message`.
pub const BW_NAME_MAX_LEN: usize = 128;

/// The most characters of a user's text (an unknown key, a string value) quoted in a
/// message; longer text is cut with "...".
const MAX_QUOTED: usize = 64;

/// A policy's JSON configuration type.
pub trait JsonConfig: DeserializeOwned + Serialize + Default {
    /// The policy (for messages and `bw_error.policy`).
    const POLICY: PolicyKind;
    /// The C handle `new_json` builds.
    type Handle;
    /// Builds the handle on `clock` (the policy's builder validates the values).
    ///
    /// # Errors
    ///
    /// `BW_INVALID_CONFIG` naming the field.
    fn build(self, clock: Clock) -> Result<Self::Handle, FfiError>;
    /// The JSON Schema of the configuration's properties (an `object` schema); the
    /// `default` of every top-level property is added from `Default`.
    fn schema() -> Value;
}

/// The one body of every `bw_<policy>_new_json`: parses `json` (`json_len` bytes, empty
/// or NULL with length 0 for the defaults), builds the handle on `clock` (NULL: the
/// monotonic clock) into `*out`.
///
/// # Safety
///
/// As the exported functions document: `json` NULL or valid for `json_len` bytes,
/// `clock` NULL or a live clock, `out` NULL or writable, `err` NULL or writable.
pub unsafe fn new_json<J: JsonConfig>(
    json: *const c_char,
    json_len: usize,
    clock: *const bw_clock,
    out: *mut *mut J::Handle,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let text = try_bytes!(json, json_len);
        let clock = clock_or_monotonic(opt_ref!(clock));
        let out = try_out!(out);
        let config: J = config_from_json(J::POLICY, text)?;
        out.set(into_handle(config.build(clock)?));
        Ok(())
    })
}

/// A lazily built, static, NUL-terminated text (for the `*_json(void)` getters): never
/// freed, the same pointer on every call.
pub fn static_text(
    cell: &'static OnceLock<CString>,
    make: impl FnOnce() -> String,
) -> *const c_char {
    cell.get_or_init(|| CString::new(make()).unwrap_or_default())
        .as_ptr()
}

/// The full default configuration of `J` as JSON text (every key, unset options as
/// `null`).
pub fn defaults_json<J: JsonConfig>() -> String {
    serde_json::to_string(&J::default()).unwrap_or_default()
}

/// The JSON Schema (draft 2020-12) of `J`, with the defaults of its top-level properties.
pub fn schema_json<J: JsonConfig>() -> String {
    let mut schema = J::schema();
    if let (Some(props), Ok(Value::Object(defaults))) = (
        schema.get_mut("properties").and_then(Value::as_object_mut),
        serde_json::to_value(J::default()),
    ) {
        for (key, value) in defaults {
            if let Some(Value::Object(p)) = props.get_mut(&key) {
                p.insert("default".into(), value);
            }
        }
    }
    let mut root = Map::new();
    root.insert(
        "$schema".into(),
        json!("https://json-schema.org/draft/2020-12/schema"),
    );
    root.insert(
        "title".into(),
        json!(format!("breakwater {} configuration", J::POLICY)),
    );
    if let Value::Object(m) = schema {
        root.extend(m);
    }
    Value::Object(root).to_string()
}

/// Schema builders for [`JsonConfig::schema`].
pub mod schema {
    use serde_json::{Value, json};

    /// An object with `properties`, no other keys, and the `required` ones.
    pub fn object(properties: Vec<(&str, Value)>, required: &[&str]) -> Value {
        let props: serde_json::Map<String, Value> = properties
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        json!({"type": "object", "properties": props, "required": required,
               "additionalProperties": false})
    }

    /// An integer in `[min, max]`.
    pub fn integer(min: u64, max: u64, description: &str) -> Value {
        json!({"type": "integer", "minimum": min, "maximum": max, "description": description})
    }

    /// A number; `min_exclusive` when 0 itself is refused.
    pub fn number(description: &str) -> Value {
        json!({"type": "number", "description": description})
    }

    /// A number in `(0, 1]`.
    pub fn rate(description: &str) -> Value {
        json!({"type": "number", "exclusiveMinimum": 0, "maximum": 1, "description": description})
    }

    /// A duration in milliseconds (`*_ms`, fractions allowed, not negative).
    pub fn ms(description: &str) -> Value {
        json!({"type": "number", "minimum": 0, "description": description})
    }

    /// The `name` property.
    pub fn name(description: &str) -> Value {
        json!({"type": "string", "maxLength": super::BW_NAME_MAX_LEN, "description": description})
    }

    /// One of a few strings.
    pub fn one_of_strings(values: &[&str], description: &str) -> Value {
        json!({"type": "string", "enum": values, "description": description})
    }

    /// `schema` or `null` (an optional setting whose default is "unset").
    pub fn nullable(schema: Value) -> Value {
        json!({"anyOf": [schema, {"type": "null"}]})
    }
}

/// Parses `text` (UTF-8 JSON) into `T`. Empty text (or only white space) gives
/// `T::default()`.
///
/// # Errors
///
/// `BW_INVALID_CONFIG` with a message that names the field as written in the JSON (dots
/// for objects, `[i]` for arrays), without a text position (the JSON may have been
/// written by a binding, not by the user), e.g. `invalid bulkhead configuration:
/// max_concurrent: invalid value: integer `-1`, expected u32`; an unknown key is named
/// with the closest known key. Only malformed JSON (a syntax error) gives a line and
/// column.
///
/// # Examples
///
/// ```
/// use breakwater::PolicyKind;
/// use breakwater::ffi::json_config::config_from_json;
///
/// #[derive(serde::Deserialize, Default, Debug, PartialEq)]
/// #[serde(default, deny_unknown_fields)]
/// struct Config { max_concurrent: u32 }
///
/// let c: Config = config_from_json(PolicyKind::Bulkhead, br#"{"max_concurrent": 4}"#).unwrap();
/// assert_eq!(c, Config { max_concurrent: 4 });
/// let e = config_from_json::<Config>(PolicyKind::Bulkhead, br#"{"max_concurent": 4}"#).unwrap_err();
/// assert_eq!(
///     e.message.to_string(),
///     "invalid bulkhead configuration: unknown key \"max_concurent\" (did you mean \"max_concurrent\"?)"
/// );
/// ```
pub fn config_from_json<T: DeserializeOwned + Default>(
    policy: PolicyKind,
    text: &[u8],
) -> Result<T, FfiError> {
    if text.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(text).map_err(|e| {
        let mut ffi = FfiError::new(BW_INVALID_CONFIG, describe(policy, text, &e));
        ffi.policy = super::status::policy_code(policy);
        ffi
    })
}

/// A `*_ms` duration of a JSON configuration (a JSON number, fractions allowed, rounded
/// to the nanosecond).
///
/// # Errors
///
/// A [`ConfigError`] naming `field` for a negative value or one beyond 2^64 - 1 ns.
pub fn ms_field(policy: PolicyKind, field: &'static str, ms: f64) -> Result<Duration, ConfigError> {
    if !ms.is_finite() || ms < 0.0 {
        return Err(ConfigError::new(
            policy,
            field,
            format!(
                "must be a non-negative number of milliseconds, got {}",
                Num(ms)
            ),
        ));
    }
    let ns = (ms * 1e6).round();
    if ns >= u64::MAX as f64 {
        return Err(ConfigError::new(
            policy,
            field,
            format!("is too large: {} ms (at most 2^64 - 1 ns)", Num(ms)),
        ));
    }
    Ok(Duration::from_nanos(ns as u64))
}

/// A number in a message: plain, or in exponent form when it is very large or small
/// (so that a message stays short).
struct Num(f64);

impl std::fmt::Display for Num {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let a = self.0.abs();
        if a != 0.0 && !(1e-6..1e15).contains(&a) {
            write!(f, "{:e}", self.0)
        } else {
            write!(f, "{}", self.0)
        }
    }
}

/// A duration as `*_ms` JSON.
pub fn to_ms(d: Duration) -> f64 {
    d.as_nanos() as f64 / 1e6
}

/// Refuses a `name` longer than [`BW_NAME_MAX_LEN`] bytes.
///
/// # Errors
///
/// A [`ConfigError`] naming `name`.
pub fn check_name(policy: PolicyKind, name: &str) -> Result<(), ConfigError> {
    if name.len() > BW_NAME_MAX_LEN {
        return Err(ConfigError::new(
            policy,
            "name",
            format!(
                "is {} bytes long: at most {BW_NAME_MAX_LEN} bytes",
                name.len()
            ),
        ));
    }
    Ok(())
}

/// `text` quoted as a JSON string, cut to [`MAX_QUOTED`] characters.
pub(crate) fn quote(text: &str) -> String {
    let mut cut: String = text.chars().take(MAX_QUOTED).collect();
    if cut.len() < text.len() {
        cut.push_str("...");
    }
    format!("{cut:?}")
}

fn describe(policy: PolicyKind, text: &[u8], e: &serde_json::Error) -> String {
    let prefix = format!("invalid {policy} configuration: ");
    if !matches!(e.classify(), serde_json::error::Category::Data) {
        return format!("{prefix}malformed JSON: {e}");
    }
    let path = offset_of(text, e.line(), e.column())
        .map(|end| path_at(text, end))
        .unwrap_or_default();
    let full = e.to_string();
    let bare = match full.rfind(" at line ") {
        Some(i) => &full[..i],
        None => &full[..],
    };
    if let Some(rest) = bare.strip_prefix("unknown field `") {
        let (key, known) = rest.split_once('`').unwrap_or((rest, ""));
        let known: Vec<&str> = known.split('`').skip(1).step_by(2).collect();
        let parent = path.rsplit_once('.').map_or("", |(p, _)| p);
        let at = if parent.is_empty() || path == key {
            String::new()
        } else {
            format!(" in {parent}")
        };
        return match closest(key, &known) {
            Some(k) => format!(
                "{prefix}unknown key {}{at} (did you mean {k:?}?)",
                quote(key)
            ),
            None => format!(
                "{prefix}unknown key {}{at} (known keys: {})",
                quote(key),
                known.join(", ")
            ),
        };
    }
    if let Some(rest) = bare.strip_prefix("missing field `") {
        let key = rest.split('`').next().unwrap_or(rest);
        let field = if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        };
        return format!("{prefix}{field} is required");
    }
    let bare = cut_quotes(bare);
    if path.is_empty() {
        format!("{prefix}{bare}")
    } else {
        format!("{prefix}{path}: {bare}")
    }
}

/// `text` with every quoted segment (between `"` or between backticks) of more than
/// [`MAX_QUOTED`] characters cut there, followed by "...": serde quotes the user's
/// values in full.
fn cut_quotes(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(512));
    let mut open: Option<char> = None;
    let mut run = 0;
    let mut escaped = false;
    for ch in text.chars() {
        match open {
            None => {
                if ch == '"' || ch == '`' {
                    open = Some(ch);
                    run = 0;
                }
                out.push(ch);
            }
            Some(q) => {
                if ch == q && !escaped {
                    if run > MAX_QUOTED {
                        out.push_str("...");
                    }
                    open = None;
                    out.push(ch);
                    continue;
                }
                escaped = ch == '\\' && !escaped;
                run += 1;
                if run <= MAX_QUOTED {
                    out.push(ch);
                }
            }
        }
    }
    out
}

/// The known key closest to `key` (edit distance at most a third of its length, at
/// least 2; a key that only lacks or adds the unit suffix `_ms` counts as close), if any.
fn closest<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
    let limit = (key.chars().count() / 3).max(2);
    let bare = |k: &str| k.strip_suffix("_ms").unwrap_or(k).to_owned();
    known
        .iter()
        .map(|k| {
            let d = if bare(k) == bare(key) {
                1
            } else {
                distance(key, k)
            };
            (d, *k)
        })
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Levenshtein distance (characters).
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// The byte offset just after serde_json's error position (line and column are 1-based;
/// the column is the byte of the last character read).
fn offset_of(text: &[u8], line: usize, column: usize) -> Option<usize> {
    if line == 0 {
        return None;
    }
    let mut start = 0;
    for _ in 1..line {
        start += text[start..].iter().position(|&b| b == b'\n')? + 1;
    }
    Some((start + column).min(text.len()))
}

enum Frame {
    Object {
        key: Option<String>,
        expect_key: bool,
    },
    Array {
        index: usize,
    },
}

/// The path of the value being read at byte `end` of `text` (`a.b[2].c`), found by
/// scanning the JSON structure up to there.
pub(crate) fn path_at(text: &[u8], end: usize) -> String {
    let text = &text[..end.min(text.len())];
    let mut stack: Vec<Frame> = Vec::new();
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'{' => stack.push(Frame::Object {
                key: None,
                expect_key: true,
            }),
            b'[' => stack.push(Frame::Array { index: 0 }),
            b'}' | b']' => {
                stack.pop();
            }
            b',' => match stack.last_mut() {
                Some(Frame::Object { key, expect_key }) => {
                    *key = None;
                    *expect_key = true;
                }
                Some(Frame::Array { index }) => *index += 1,
                None => {}
            },
            b'"' => {
                let (s, next) = read_string(text, i + 1);
                let Some(s) = s else { break }; // the string runs past `end`
                if let Some(Frame::Object { key, expect_key }) = stack.last_mut() {
                    if *expect_key {
                        *key = Some(s);
                        *expect_key = false;
                    }
                }
                i = next;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    let mut path = String::new();
    for frame in &stack {
        match frame {
            Frame::Object { key: Some(k), .. } => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
            }
            Frame::Object { key: None, .. } => {}
            Frame::Array { index } => {
                path.push('[');
                path.push_str(&index.to_string());
                path.push(']');
            }
        }
    }
    path
}

/// Reads a JSON string whose content starts at `i`; returns its text (simple escapes
/// decoded) and the index after its closing quote, or `None` if it is not closed.
fn read_string(text: &[u8], mut i: usize) -> (Option<String>, usize) {
    let mut out = Vec::new();
    while i < text.len() {
        match text[i] {
            b'"' => return (Some(String::from_utf8_lossy(&out).into_owned()), i + 1),
            b'\\' if i + 1 < text.len() => {
                out.push(match text[i + 1] {
                    b'n' => b'\n',
                    b't' => b'\t',
                    other => other,
                });
                i += 2;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    (None, i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::status::BW_POLICY_RETRY;

    #[derive(serde::Deserialize, Default, Debug, PartialEq)]
    #[serde(default, deny_unknown_fields)]
    struct Window {
        size: u32,
        kind: Option<String>,
    }

    #[derive(serde::Deserialize, Default, Debug, PartialEq)]
    #[serde(default, deny_unknown_fields)]
    struct Conf {
        max: u32,
        window: Window,
        list: Vec<u32>,
        #[serde(rename = "nested list")]
        nested: Vec<Window>,
    }

    fn err(text: &str) -> String {
        let e = config_from_json::<Conf>(PolicyKind::Retry, text.as_bytes()).unwrap_err();
        assert_eq!(e.status, BW_INVALID_CONFIG);
        assert_eq!(e.policy, BW_POLICY_RETRY);
        e.message.to_string()
    }

    #[test]
    fn parses_a_full_config() {
        let c: Conf = config_from_json(
            PolicyKind::Retry,
            br#"{"max": 3, "window": {"size": 10, "kind": "count"}, "list": [1, 2]}"#,
        )
        .unwrap();
        assert_eq!(c.max, 3);
        assert_eq!(c.window.size, 10);
        assert_eq!(c.window.kind.as_deref(), Some("count"));
        assert_eq!(c.list, vec![1, 2]);
    }

    #[test]
    fn empty_text_gives_the_defaults() {
        for text in [&b""[..], b"  \n\t "] {
            let c: Conf = config_from_json(PolicyKind::Retry, text).unwrap();
            assert_eq!(c, Conf::default());
        }
    }

    #[test]
    fn a_type_error_names_the_field() {
        assert_eq!(
            err(r#"{"max": "x"}"#),
            "invalid retry configuration: max: invalid type: string \"x\", expected u32"
        );
    }

    #[test]
    fn a_nested_error_names_the_path() {
        assert_eq!(
            err(r#"{"max": 1, "window": {"size": -1}}"#),
            "invalid retry configuration: window.size: invalid value: integer `-1`, expected u32"
        );
        assert_eq!(
            err("{\n  \"max\": 1,\n  \"window\": {\"size\": 1.5}\n}"),
            "invalid retry configuration: window.size: invalid type: floating point `1.5`, expected u32"
        );
    }

    #[test]
    fn an_array_error_names_the_index() {
        assert_eq!(
            err(r#"{"list": [1, 2, "a"]}"#),
            "invalid retry configuration: list[2]: invalid type: string \"a\", expected u32"
        );
        assert!(
            err(r#"{"nested list": [{"size": 1}, {"size": true}]}"#).starts_with(
                "invalid retry configuration: nested list[1].size: invalid type: boolean"
            )
        );
    }

    #[test]
    fn an_unknown_field_is_refused_by_name() {
        assert_eq!(
            err(r#"{"max": 1, "windw": {}}"#),
            "invalid retry configuration: unknown key \"windw\" (did you mean \"window\"?)"
        );
        assert_eq!(
            err(r#"{"window": {"sizes": 1}}"#),
            "invalid retry configuration: unknown key \"sizes\" in window (did you mean \"size\"?)"
        );
        assert_eq!(
            err(r#"{"zzzzzzzz": 1}"#),
            "invalid retry configuration: unknown key \"zzzzzzzz\" (known keys: max, window, list, nested list)"
        );
    }

    #[test]
    fn syntax_errors_have_no_path() {
        assert_eq!(
            err(r#"{"max": 1,"#),
            "invalid retry configuration: malformed JSON: EOF while parsing a value at line 1 column 10"
        );
        assert_eq!(
            err(r#"{"max": 1} x"#),
            "invalid retry configuration: malformed JSON: trailing characters at line 1 column 12"
        );
        assert!(err("42").starts_with("invalid retry configuration: invalid type: integer `42`"));
    }

    #[test]
    fn a_missing_key_is_named_by_its_path() {
        #[derive(serde::Deserialize, Default, Debug)]
        #[serde(default, deny_unknown_fields)]
        struct Outer {
            inner: Option<Inner>,
        }
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        struct Inner {
            #[allow(dead_code, reason = "read by serde")]
            threshold: f64,
        }
        let e = config_from_json::<Outer>(PolicyKind::Retry, br#"{"inner": {}}"#).unwrap_err();
        assert_eq!(
            e.message.to_string(),
            "invalid retry configuration: inner.threshold is required"
        );
    }

    #[test]
    fn long_user_text_is_quoted_up_to_a_bound() {
        let key = "k".repeat(5000);
        let e = err(&format!(r#"{{"{key}": 1}}"#));
        assert!(e.len() < 300, "{e}");
        assert!(e.contains(&format!("\"{}...\"", "k".repeat(64))), "{e}");
        let value = "v".repeat(5000);
        let e = err(&format!(r#"{{"max": "{value}"}}"#));
        assert!(e.len() < 300, "{e}");
        assert!(e.contains(&format!("\"{}...\"", "v".repeat(64))), "{e}");
    }

    #[test]
    fn escaped_keys_and_strings_do_not_confuse_the_path() {
        assert_eq!(
            path_at(br#"{"a\"b": {"c": "x,}]", "d": 1"#, usize::MAX),
            "a\"b.d"
        );
    }
}
