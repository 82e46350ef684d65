//! JSON configuration: parses the text a C caller gives (`const char *json, size_t len`)
//! into a policy's config type, with errors that name the field.
//!
//! A policy's config type derives `serde::Deserialize` (with `#[serde(default,
//! deny_unknown_fields)]` so that a misspelt field is refused); its export reads
//! `let text = try_bytes!(json, json_len);` and calls [`config_from_json`]. Validation
//! of the values (zero capacities, thresholds out of range) stays in the policy's
//! builder, whose `ConfigError` converts into `BW_INVALID_CONFIG` with `?`.

use serde::de::DeserializeOwned;

use super::error::FfiError;
use super::status::BW_INVALID_CONFIG;
use crate::error::PolicyKind;

/// Parses `text` (UTF-8 JSON) into `T`. Empty text (or only white space) gives
/// `T::default()`.
///
/// # Errors
///
/// `BW_INVALID_CONFIG` with a message such as
/// `invalid circuit breaker configuration: window.size: invalid type: string "x",
/// expected u32 at line 1 column 24`: the path of the offending field (dots for objects,
/// `[i]` for arrays) when it can be told, then serde's description and position.
///
/// # Examples
///
/// ```
/// use breakwater::PolicyKind;
/// use breakwater::ffi::json::config_from_json;
///
/// #[derive(serde::Deserialize, Default, Debug, PartialEq)]
/// #[serde(default, deny_unknown_fields)]
/// struct Config { max_concurrent: u32 }
///
/// let c: Config = config_from_json(PolicyKind::Bulkhead, br#"{"max_concurrent": 4}"#).unwrap();
/// assert_eq!(c, Config { max_concurrent: 4 });
/// let e = config_from_json::<Config>(PolicyKind::Bulkhead, br#"{"max_concurrent": -1}"#).unwrap_err();
/// assert!(e.message.to_string().starts_with("invalid bulkhead configuration: max_concurrent: invalid value"));
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

fn describe(policy: PolicyKind, text: &[u8], e: &serde_json::Error) -> String {
    let path = match e.classify() {
        serde_json::error::Category::Data => offset_of(text, e.line(), e.column())
            .map(|end| path_at(text, end))
            .unwrap_or_default(),
        _ => String::new(),
    };
    if path.is_empty() {
        format!("invalid {policy} configuration: {e}")
    } else {
        format!("invalid {policy} configuration: {path}: {e}")
    }
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
            "invalid retry configuration: max: invalid type: string \"x\", expected u32 at line 1 column 11"
        );
    }

    #[test]
    fn a_nested_error_names_the_path() {
        assert_eq!(
            err(r#"{"max": 1, "window": {"size": -1}}"#),
            "invalid retry configuration: window.size: invalid value: integer `-1`, expected u32 at line 1 column 32"
        );
        assert_eq!(
            err("{\n  \"max\": 1,\n  \"window\": {\"size\": 1.5}\n}"),
            "invalid retry configuration: window.size: invalid type: floating point `1.5`, expected u32 at line 3 column 24"
        );
    }

    #[test]
    fn an_array_error_names_the_index() {
        assert_eq!(
            err(r#"{"list": [1, 2, "a"]}"#),
            "invalid retry configuration: list[2]: invalid type: string \"a\", expected u32 at line 1 column 19"
        );
        assert!(
            err(r#"{"nested list": [{"size": 1}, {"size": true}]}"#).starts_with(
                "invalid retry configuration: nested list[1].size: invalid type: boolean"
            )
        );
    }

    #[test]
    fn an_unknown_field_is_refused_by_name() {
        assert!(err(r#"{"max": 1, "windw": {}}"#).starts_with(
            "invalid retry configuration: windw: unknown field `windw`, expected one of"
        ));
    }

    #[test]
    fn syntax_errors_have_no_path() {
        assert_eq!(
            err(r#"{"max": 1,"#),
            "invalid retry configuration: EOF while parsing a value at line 1 column 10"
        );
        assert_eq!(
            err(r#"{"max": 1} x"#),
            "invalid retry configuration: trailing characters at line 1 column 12"
        );
        assert!(err("42").starts_with("invalid retry configuration: invalid type: integer `42`"));
    }

    #[test]
    fn escaped_keys_and_strings_do_not_confuse_the_path() {
        assert_eq!(
            path_at(br#"{"a\"b": {"c": "x,}]", "d": 1"#, usize::MAX),
            "a\"b.d"
        );
    }
}
