//! `Retry-After`: delta-seconds, the three HTTP-date formats relative to a given "now",
//! dates in the past, malformed values.
#![cfg(feature = "http")]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use breakwater::http::{parse_http_date, parse_retry_after, retry_after};
use ureq::http::HeaderMap;

/// Sun, 06 Nov 1994 08:49:37 GMT.
const T: u64 = 784_111_777;

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

#[test]
fn delta_seconds() {
    let now = SystemTime::now();
    assert_eq!(parse_retry_after("0", now), Some(Duration::ZERO));
    assert_eq!(
        parse_retry_after("120", now),
        Some(Duration::from_secs(120))
    );
    assert_eq!(parse_retry_after("  7 ", now), Some(Duration::from_secs(7)));
    assert_eq!(parse_retry_after("007", now), Some(Duration::from_secs(7)));
    assert_eq!(
        parse_retry_after("99999999999999999999999", now),
        Some(Duration::from_secs(u64::MAX))
    );
}

#[test]
fn the_three_date_formats_relative_to_now() {
    let now = at(T - 90);
    for date in [
        "Sun, 06 Nov 1994 08:49:37 GMT",
        "Sunday, 06-Nov-94 08:49:37 GMT",
        "Sun Nov  6 08:49:37 1994",
    ] {
        assert_eq!(parse_http_date(date, now), Some(at(T)), "{date}");
        assert_eq!(
            parse_retry_after(date, now),
            Some(Duration::from_secs(90)),
            "{date}"
        );
    }
}

#[test]
fn a_date_in_the_past_or_now_means_no_wait() {
    let date = "Sun, 06 Nov 1994 08:49:37 GMT";
    assert_eq!(parse_retry_after(date, at(T)), Some(Duration::ZERO));
    assert_eq!(parse_retry_after(date, at(T + 3600)), Some(Duration::ZERO));
    assert_eq!(
        parse_retry_after(date, at(T - 1)),
        Some(Duration::from_secs(1))
    );
}

#[test]
fn calendar_edges() {
    let now = at(0);
    let secs =
        |s: &str| parse_http_date(s, now).map(|t| t.duration_since(UNIX_EPOCH).unwrap().as_secs());
    assert_eq!(secs("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
    assert_eq!(secs("Tue, 29 Feb 2000 12:00:00 GMT"), Some(951_825_600));
    assert_eq!(secs("Fri, 31 Dec 1999 23:59:59 GMT"), Some(946_684_799));
    assert_eq!(secs("Sat, 01 Jan 2000 00:00:00 GMT"), Some(946_684_800));
    assert_eq!(secs("Thu, 29 Feb 2024 00:00:00 GMT"), Some(1_709_164_800));
    assert_eq!(secs("Wed, 31 Dec 1969 23:59:59 GMT"), None); // before the epoch
    assert_eq!(secs("Thu, 29 Feb 2001 00:00:00 GMT"), None); // not a leap year
    assert_eq!(secs("Mon, 29 Feb 1900 00:00:00 GMT"), None);
    assert_eq!(secs("Sat, 31 Jun 2024 00:00:00 GMT"), None);
}

#[test]
fn rfc850_two_digit_years_are_placed_within_fifty_years() {
    // now = 2025-06-01
    let now = at(1_748_736_000);
    let year_of = |s: &str| {
        let t = parse_http_date(s, now).unwrap();
        let days = t.duration_since(UNIX_EPOCH).unwrap().as_secs() / 86_400;
        1970 + (days * 400 / 146_097) // good enough to tell centuries apart
    };
    assert_eq!(year_of("Sunday, 06-Nov-94 08:49:37 GMT"), 1994);
    assert_eq!(year_of("Thursday, 01-Jan-26 00:00:00 GMT"), 2026);
    assert_eq!(year_of("Thursday, 01-Jan-70 00:00:00 GMT"), 2070);
}

#[test]
fn malformed_values_are_none() {
    let now = at(T);
    for bad in [
        "",
        "   ",
        "-1",
        "+5",
        "1.5",
        "1e3",
        "soon",
        "12 seconds",
        "0x10",
        "Sun, 06 Nov 1994 08:49:37",           // no GMT
        "Sun, 06 Nov 1994 08:49:37 UTC",       // not GMT
        "Sun, 06 Nov 94 08:49:37 GMT",         // two-digit year in IMF form
        "Sun, 6 Nov 1994 08:49:37 GMT",        // one-digit day in IMF form
        "Sun, 06 Foo 1994 08:49:37 GMT",       // month
        "Sun, 06 nov 1994 08:49:37 GMT",       // month case
        "Xyz, 06 Nov 1994 08:49:37 GMT",       // day name
        "Sun, 06 Nov 1994 24:00:00 GMT",       // hour
        "Sun, 06 Nov 1994 08:60:00 GMT",       // minute
        "Sun, 06 Nov 1994 8:49:37 GMT",        // one-digit hour
        "Sun, 00 Nov 1994 08:49:37 GMT",       // day zero
        "Sun, 06 Nov 1994 08:49:37 GMT extra", // trailing text
        "Sunday, 06-Nov-1994 08:49:37 GMT",    // four-digit year in RFC 850 form
        "Sun, 06-Nov-94 08:49:37 GMT",         // short day name in RFC 850 form
        "Sun Nov  6 08:49:37",                 // asctime without year
        "Sun Nov 106 08:49:37 1994",           // asctime day
    ] {
        assert_eq!(parse_retry_after(bad, now), None, "{bad:?}");
    }
}

#[test]
fn the_first_parsable_header_wins() {
    let now = at(T - 10);
    let mut headers = HeaderMap::new();
    assert_eq!(retry_after(&headers, now), None);
    headers.append("retry-after", "later".parse().unwrap());
    assert_eq!(retry_after(&headers, now), None);
    headers.append(
        "retry-after",
        "Sun, 06 Nov 1994 08:49:37 GMT".parse().unwrap(),
    );
    headers.append("retry-after", "99".parse().unwrap());
    assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(10)));
}
