//! Base URLs of service instances: checked and normalised once, when a client or a
//! [`Balancer`](super::Balancer) is built, so that a malformed one is a configuration error
//! naming it rather than a retryable failure on every call.
//!
//! A base URL is `scheme://host[:port][/path]`:
//!
//! - the scheme is `http` or `https` in any letter case, written lower-case;
//! - the host is a name or an IPv4 address (written lower-case) or an IPv6 address in
//!   brackets (`[::1]`); it may not be empty or carry user information (`user@`), which would
//!   end up in breaker names and metric labels;
//! - the port, when present, is a number from 1 to 65535;
//! - there is no query (`?`) or fragment (`#`): the paths of the calls are appended to
//!   the base URL, and a query in the middle of it would swallow them;
//! - no whitespace or control character anywhere; trailing `/` are dropped.

use std::net::Ipv6Addr;

/// Checks `url` and returns its normal form, or what is wrong with it (a phrase that
/// follows the quoted URL: `"http://[::1" has an IPv6 host without its closing "]"`).
pub(crate) fn normalize(url: &str) -> Result<String, String> {
    let problem = |what: &str| Err(format!("{url:?} {what}"));
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return problem("contains whitespace or a control character");
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return problem("must start with http:// or https://");
    };
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return problem("must start with http:// or https://");
    }
    if rest.contains('?') {
        return problem("has a query (\"?\"): a base URL cannot carry one");
    }
    if rest.contains('#') {
        return problem("has a fragment (\"#\"): a base URL cannot carry one");
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if authority.contains('@') {
        return problem("carries user information (\"@\"): put credentials in headers");
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let Some((addr, after)) = v6.split_once(']') else {
            return problem("has an IPv6 host without its closing \"]\"");
        };
        if addr.parse::<Ipv6Addr>().is_err() {
            return problem(&format!("has an invalid IPv6 address {addr:?}"));
        }
        let port = match after {
            "" => None,
            p => match p.strip_prefix(':') {
                Some(p) => Some(p),
                None => return problem("has text after its IPv6 host"),
            },
        };
        (format!("[{}]", addr.to_ascii_lowercase()), port)
    } else {
        let (host, port) = match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        };
        if host.is_empty() {
            return problem("has no host");
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_');
        if !host.chars().all(allowed) {
            return problem(&format!(
                "has an invalid host {host:?} (letters, digits, \"-\", \".\", \"_\")"
            ));
        }
        (host.to_ascii_lowercase(), port)
    };
    let port = match port {
        None => String::new(),
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 && p.bytes().all(|b| b.is_ascii_digit()) => format!(":{n}"),
            _ => return problem(&format!("has an invalid port {p:?} (1 to 65535)")),
        },
    };
    let path = path.trim_end_matches('/');
    let normal = format!("{scheme}://{host}{port}{path}");
    if let Err(e) = normal.parse::<ureq::http::Uri>() {
        return problem(&format!("is not a valid URL: {e}"));
    }
    Ok(normal)
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn good_urls_are_normalised() {
        for (given, normal) in [
            ("http://a.local", "http://a.local"),
            ("HTTP://A.Local:8080/", "http://a.local:8080"),
            ("Https://api.local/v2//", "https://api.local/v2"),
            ("http://[::1]:80", "http://[::1]:80"),
            ("http://[FE80::1]/x", "http://[fe80::1]/x"),
            ("http://127.0.0.1:1", "http://127.0.0.1:1"),
            ("http://h:65535/A/B", "http://h:65535/A/B"),
        ] {
            assert_eq!(normalize(given).as_deref(), Ok(normal), "{given}");
        }
    }

    #[test]
    fn bad_urls_name_the_problem() {
        for (given, problem) in [
            ("http://[::1", "closing \"]\""),
            ("http://[::1]x", "after its IPv6 host"),
            ("http://[zz]", "invalid IPv6"),
            ("http://:80", "no host"),
            ("http://", "no host"),
            ("http://host:99999", "invalid port \"99999\""),
            ("http://host:0", "invalid port"),
            ("http://host:", "invalid port"),
            ("http://host:+80", "invalid port"),
            ("http://host/?q=1", "query"),
            ("http://host/#top", "fragment"),
            ("http://u:p@host", "user information"),
            ("ftp://host", "http:// or https://"),
            ("host:80", "http:// or https://"),
            ("http://a b", "whitespace"),
            ("http://h%41", "invalid host"),
        ] {
            let e = normalize(given).unwrap_err();
            assert!(e.starts_with(&format!("{given:?} ")), "{e}");
            assert!(e.contains(problem), "{given}: {e}");
        }
    }
}
