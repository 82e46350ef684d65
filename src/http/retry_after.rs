//! The `Retry-After` header (RFC 9110, section 10.2.3): delta-seconds or an HTTP-date, in
//! any of the three date formats a recipient must accept.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ureq::http::HeaderMap;
use ureq::http::header::RETRY_AFTER;

const SECS_PER_DAY: i64 = 86_400;
const SHORT_DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const LONG_DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Parses a `Retry-After` value into a wait, relative to `now` (the wall-clock time) for the
/// HTTP-date form.
///
/// - delta-seconds (`"120"`): that many seconds; a number too large for a `u64` saturates.
/// - HTTP-date (`"Sun, 06 Nov 1994 08:49:37 GMT"`, the obsolete RFC 850 form
///   `"Sunday, 06-Nov-94 08:49:37 GMT"` and the asctime form `"Sun Nov  6 08:49:37 1994"`):
///   the time from `now` to that date, zero when it has passed.
/// - anything else (negative, fractional, empty, a malformed date): `None`.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, SystemTime, UNIX_EPOCH};
/// use breakwater::http::parse_retry_after;
///
/// let now = UNIX_EPOCH + Duration::from_secs(784_111_767); // Sun, 06 Nov 1994 08:49:27 GMT
/// assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
/// assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now), Some(Duration::from_secs(10)));
/// assert_eq!(parse_retry_after("Sat, 05 Nov 1994 08:49:37 GMT", now), Some(Duration::ZERO));
/// assert_eq!(parse_retry_after("-1", now), None);
/// assert_eq!(parse_retry_after("soon", now), None);
/// ```
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        let secs = v.parse::<u64>().unwrap_or(u64::MAX);
        return Some(Duration::from_secs(secs));
    }
    let at = parse_http_date(v, now)?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The wait asked for by the first `Retry-After` header of `headers` that parses (see
/// [`parse_retry_after`]).
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use breakwater::http::retry_after;
///
/// let mut headers = ureq::http::HeaderMap::new();
/// headers.insert("retry-after", "3".parse().unwrap());
/// assert_eq!(retry_after(&headers, SystemTime::now()), Some(Duration::from_secs(3)));
/// ```
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    headers
        .get_all(RETRY_AFTER)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| parse_retry_after(v, now))
}

/// Parses an HTTP-date in any of its three formats (IMF-fixdate, RFC 850, asctime) into a
/// wall-clock time. `now` places the RFC 850 two-digit year: a year that would be more
/// than 50 years in the future is taken from the century before. Returns `None` for a
/// malformed date or one before 1970.
///
/// ```
/// use std::time::{Duration, SystemTime, UNIX_EPOCH};
/// use breakwater::http::parse_http_date;
///
/// let t = UNIX_EPOCH + Duration::from_secs(784_111_777);
/// let now = SystemTime::now();
/// assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT", now), Some(t));
/// assert_eq!(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT", now), Some(t));
/// assert_eq!(parse_http_date("Sun Nov  6 08:49:37 1994", now), Some(t));
/// assert_eq!(parse_http_date("Sun, 31 Feb 1994 08:49:37 GMT", now), None);
/// ```
pub fn parse_http_date(value: &str, now: SystemTime) -> Option<SystemTime> {
    let value = value.trim();
    let (year, month, day, time) = if let Some((day_name, rest)) = value.split_once(',') {
        let mut t = rest.split_ascii_whitespace();
        if SHORT_DAYS.contains(&day_name) {
            // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
            let (d, m, y, time, gmt) = (t.next()?, t.next()?, t.next()?, t.next()?, t.next()?);
            if gmt != "GMT" || t.next().is_some() || d.len() != 2 || y.len() != 4 {
                return None;
            }
            (number(y)?, month(m)?, number(d)?, time)
        } else if LONG_DAYS.contains(&day_name) {
            // RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT"
            let (date, time, gmt) = (t.next()?, t.next()?, t.next()?);
            if gmt != "GMT" || t.next().is_some() {
                return None;
            }
            let mut parts = date.split('-');
            let (d, m, y) = (parts.next()?, parts.next()?, parts.next()?);
            if parts.next().is_some() || d.len() != 2 || y.len() != 2 {
                return None;
            }
            (two_digit_year(number(y)?, now), month(m)?, number(d)?, time)
        } else {
            return None;
        }
    } else {
        // asctime: "Sun Nov  6 08:49:37 1994"
        let mut t = value.split_ascii_whitespace();
        let (day_name, m, d, time, y) = (t.next()?, t.next()?, t.next()?, t.next()?, t.next()?);
        if !SHORT_DAYS.contains(&day_name) || t.next().is_some() || d.len() > 2 || y.len() != 4 {
            return None;
        }
        (number(y)?, month(m)?, number(d)?, time)
    };
    let (hour, minute, second) = clock_time(time)?;
    if day == 0 || day > days_in_month(year, month) || year < 1970 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let secs = days * SECS_PER_DAY + hour * 3600 + minute * 60 + second;
    Some(UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).ok()?))
}

fn number(s: &str) -> Option<i64> {
    if s.is_empty() || s.len() > 4 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn month(s: &str) -> Option<i64> {
    MONTHS.iter().position(|m| *m == s).map(|i| i as i64 + 1)
}

/// "08:49:37" -> (8, 49, 37); a leap second (60) is accepted.
fn clock_time(s: &str) -> Option<(i64, i64, i64)> {
    let mut parts = s.split(':');
    let (h, m, sec) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || h.len() != 2 || m.len() != 2 || sec.len() != 2 {
        return None;
    }
    let (h, m, sec) = (number(h)?, number(m)?, number(sec)?);
    (h < 24 && m < 60 && sec <= 60).then_some((h, m, sec))
}

fn two_digit_year(yy: i64, now: SystemTime) -> i64 {
    let now_secs = match now.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 2),
        Err(_) => 0,
    };
    let this_year = civil_year(now_secs.div_euclid(SECS_PER_DAY));
    let mut year = this_year - this_year.rem_euclid(100) + yy;
    if year > this_year + 50 {
        year -= 100;
    } else if year <= this_year - 50 {
        year += 100;
    }
    year
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The year of the date `days` days after 1970-01-01 (inverse of `days_from_civil`).
fn civil_year(days: i64) -> i64 {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    yoe + era * 400 + i64::from(month <= 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip_over_four_centuries() {
        for days in (0..146_097 * 2).step_by(97) {
            let year = civil_year(days);
            assert!(days_from_civil(year, 1, 1) <= days);
            assert!(days_from_civil(year + 1, 1, 1) > days);
        }
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    }

    #[test]
    fn two_digit_years_follow_the_fifty_year_rule() {
        let now = UNIX_EPOCH + Duration::from_secs(days_from_civil(2025, 6, 1) as u64 * 86_400);
        assert_eq!(two_digit_year(94, now), 1994);
        assert_eq!(two_digit_year(75, now), 2075);
        assert_eq!(two_digit_year(76, now), 1976);
        assert_eq!(two_digit_year(5, now), 2005);
    }
}
