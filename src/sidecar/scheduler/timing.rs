//! The time grammar of actor timers, reminders and jobs, as dapr/kit `time` reads it:
//!
//! - a **period** is an ISO 8601 duration (`P1DT2H`, `PT3S`; integers only), optionally with
//!   repetitions (`R5/PT1S`; `R0` is an error), or else a Go duration (`1m30s`, `500ms`);
//! - a **due time** or **ttl** is an ISO 8601 duration without repetitions or a Go duration,
//!   both counted from a base instant (now, or the due time for a ttl), or an absolute
//!   RFC 3339 time.
//!
//! Calendar parts (years, months, days) are added the way Go's `time.AddDate` does: the
//! month and day overflow into the next unit (31 January + 1 month = 3 March).

use std::time::Duration;

use chrono::{DateTime, Datelike, NaiveDate, Utc};

use crate::sidecar::resources::parse_duration_with_unit;

/// Sleeps until the wall-clock time `at` (at once when it has passed).
pub async fn sleep_until(at: DateTime<Utc>) {
    if let Ok(d) = (at - Utc::now()).to_std() {
        tokio::time::sleep(d).await;
    }
}

/// An amount of time that may have calendar parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Interval {
    pub years: u32,
    pub months: u32,
    /// Weeks are counted as 7 days.
    pub days: u32,
    pub time: Duration,
}

impl Interval {
    pub fn fixed(time: Duration) -> Self {
        Interval {
            time,
            ..Interval::default()
        }
    }

    /// The interval as a plain duration, when it has no calendar part.
    pub fn as_fixed(&self) -> Option<Duration> {
        (self.years == 0 && self.months == 0 && self.days == 0).then_some(self.time)
    }

    pub fn is_zero(&self) -> bool {
        self.as_fixed() == Some(Duration::ZERO)
    }

    /// `t` plus the interval, calendar parts first (Go `AddDate`, then `Add`); `None` on
    /// overflow.
    pub fn add_to(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let shifted = if self.years == 0 && self.months == 0 && self.days == 0 {
            t
        } else {
            let months_total = i64::from(t.year()) * 12
                + i64::from(t.month0())
                + i64::from(self.years) * 12
                + i64::from(self.months);
            let year = i32::try_from(months_total.div_euclid(12)).ok()?;
            let month = u32::try_from(months_total.rem_euclid(12)).ok()? + 1;
            let first = NaiveDate::from_ymd_opt(year, month, 1)?;
            let day = first.checked_add_days(chrono::Days::new(
                u64::from(t.day0()) + u64::from(self.days),
            ))?;
            day.and_time(t.time()).and_utc()
        };
        shifted.checked_add_signed(chrono::TimeDelta::from_std(self.time).ok()?)
    }
}

/// A parsed period: the interval between firings and how many firings (`None` = until
/// deleted or expired).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub every: Interval,
    pub repeats: Option<u32>,
}

/// Reads a period: ISO 8601 (with optional `R<n>/`) first, then a Go duration.
pub fn parse_period(text: &str) -> Result<Period, String> {
    let text = text.trim();
    if let Some(iso) = parse_iso8601(text, true)? {
        return Ok(iso);
    }
    let every =
        parse_go_duration(text).ok_or_else(|| format!("unsupported duration format \"{text}\""))?;
    Ok(Period {
        every: Interval::fixed(every),
        repeats: None,
    })
}

/// Reads a due time or ttl relative to `base`: ISO 8601 duration without repetitions, a Go
/// duration, or an absolute RFC 3339 time (returned as is).
pub fn parse_time(text: &str, base: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let text = text.trim();
    let unsupported = || format!("unsupported time/duration format \"{text}\"");
    match parse_iso8601(text, false) {
        Ok(Some(period)) => return period.every.add_to(base).ok_or_else(unsupported),
        Ok(None) => {}
        Err(e) => return Err(e),
    }
    if let Some(d) = parse_go_duration(text) {
        return Interval::fixed(d).add_to(base).ok_or_else(unsupported);
    }
    if let Some(d) = parse_signed_go_duration(text) {
        // A negative Go duration is a time in the past, as Go's `Add` makes it.
        return base
            .checked_sub_signed(chrono::TimeDelta::from_std(d).map_err(|_| unsupported())?)
            .ok_or_else(unsupported);
    }
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| unsupported())
}

/// Go's `time.ParseDuration` for non-negative values: units required except for a bare
/// `0`; `µs`, `μs` and `us` all mean microseconds.
pub fn parse_go_duration(text: &str) -> Option<Duration> {
    let text = text.strip_prefix('+').unwrap_or(text);
    if text == "0" {
        return Some(Duration::ZERO);
    }
    if text.is_empty() || text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    parse_duration_with_unit(&text.replace('\u{3bc}', "\u{b5}"), Duration::from_secs(1))
}

/// The magnitude of a negative Go duration (`-5s`), `None` for anything else.
fn parse_signed_go_duration(text: &str) -> Option<Duration> {
    parse_go_duration(text.strip_prefix('-')?)
}

/// Reads an ISO 8601 duration. `Ok(None)` when `text` is not ISO 8601 at all (so a Go
/// duration may be tried), `Err` when it is but is invalid.
fn parse_iso8601(text: &str, allow_repeats: bool) -> Result<Option<Period>, String> {
    let (repeats, body) = match text.strip_prefix('R') {
        Some(rest) => {
            let Some((count, body)) = rest.split_once('/') else {
                return Ok(None);
            };
            if !allow_repeats {
                return Err(format!("repetitions are not allowed in \"{text}\""));
            }
            let n: u32 = count
                .parse()
                .map_err(|_| format!("invalid repetitions in \"{text}\""))?;
            if n == 0 {
                return Err(format!("\"{text}\" has zero repetitions"));
            }
            (Some(n), body)
        }
        None => (None, text),
    };
    let Some(designators) = body.strip_prefix('P') else {
        return if repeats.is_some() {
            Err(format!("unsupported ISO 8601 duration format \"{text}\""))
        } else {
            Ok(None)
        };
    };
    let invalid = || format!("unsupported ISO 8601 duration format \"{text}\"");
    let mut interval = Interval::default();
    let mut in_time = false;
    let mut seen_any = false;
    let mut number = String::new();
    let mut seconds: u64 = 0;
    // Designators must come in order: Y M W D, then after T: H M S.
    let mut last_rank = 0;
    for c in designators.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        if c == 'T' {
            if in_time || !number.is_empty() {
                return Err(invalid());
            }
            in_time = true;
            last_rank = 4;
            continue;
        }
        let rank = match (in_time, c) {
            (false, 'Y') => 1,
            (false, 'M') => 2,
            (false, 'W') => 3,
            (false, 'D') => 4,
            (true, 'H') => 5,
            (true, 'M') => 6,
            (true, 'S') => 7,
            _ => return Err(invalid()),
        };
        if number.is_empty() || rank <= last_rank {
            return Err(invalid());
        }
        last_rank = rank;
        let n: u32 = number.parse().map_err(|_| invalid())?;
        number.clear();
        seen_any = true;
        match rank {
            1 => interval.years = n,
            2 => interval.months = n,
            3 => interval.days = interval.days.checked_add(n * 7).ok_or_else(invalid)?,
            4 => interval.days = interval.days.checked_add(n).ok_or_else(invalid)?,
            5 => seconds += u64::from(n) * 3600,
            6 => seconds += u64::from(n) * 60,
            _ => seconds += u64::from(n),
        }
    }
    if !number.is_empty() || !seen_any {
        return Err(invalid());
    }
    interval.time = Duration::from_secs(seconds);
    Ok(Some(Period {
        every: interval,
        repeats,
    }))
}

/// Go's `Duration.String()`: `1h0m0s`, `1m30s`, `1.5s`, `250ms`, `1µs`, `0s`.
pub fn go_duration_string(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".into();
    }
    if nanos < 1_000_000_000 {
        let (unit, scale) = if nanos < 1_000 {
            ("ns", 1)
        } else if nanos < 1_000_000 {
            ("\u{b5}s", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        return format!("{}{unit}", fraction(nanos, scale));
    }
    let total_secs = nanos / 1_000_000_000;
    let sub = nanos % 1_000_000_000;
    let hours = total_secs / 3600;
    let minutes = (total_secs % 3600) / 60;
    let secs = fraction(
        u128::from((total_secs % 60) as u64) * 1_000_000_000 + sub,
        1_000_000_000,
    );
    if hours > 0 {
        format!("{hours}h{minutes}m{secs}s")
    } else if minutes > 0 {
        format!("{minutes}m{secs}s")
    } else {
        format!("{secs}s")
    }
}

/// `value / scale` in decimal with trailing zeros of the fraction removed.
fn fraction(value: u128, scale: u128) -> String {
    let whole = value / scale;
    let rest = value % scale;
    if rest == 0 {
        return whole.to_string();
    }
    let width = scale.to_string().len() - 1;
    let digits = format!("{rest:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn periods_read_iso8601_with_repetitions_and_go_durations() {
        let p = parse_period("R5/PT1S").unwrap();
        assert_eq!(p.repeats, Some(5));
        assert_eq!(p.every.as_fixed(), Some(Duration::from_secs(1)));
        let p = parse_period("P1Y2M3W4DT5H6M7S").unwrap();
        assert_eq!((p.every.years, p.every.months, p.every.days), (1, 2, 25));
        assert_eq!(p.every.time, Duration::from_secs(5 * 3600 + 6 * 60 + 7));
        assert_eq!(p.repeats, None);
        let p = parse_period("0h0m3s0ms").unwrap();
        assert_eq!(p.every.as_fixed(), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_period("1m30s").unwrap().every.as_fixed(),
            Some(Duration::from_secs(90))
        );
        assert!(
            parse_period("R0/PT1S")
                .unwrap_err()
                .contains("zero repetitions")
        );
        for bad in [
            "PT1.5S", "P", "PT", "PS", "P1S", "PT1H2H", "PT1S1M", "R/PT1S", "Rx/PT1S", "R2/1s",
            "5", "soon", "",
        ] {
            assert!(parse_period(bad).is_err(), "{bad:?} must be refused");
        }
    }

    #[test]
    fn due_times_are_relative_durations_or_absolute_times() {
        let now = at("2026-01-31T10:00:00Z");
        assert_eq!(parse_time("PT3S", now).unwrap(), at("2026-01-31T10:00:03Z"));
        assert_eq!(parse_time("3s", now).unwrap(), at("2026-01-31T10:00:03Z"));
        assert_eq!(parse_time("0s", now).unwrap(), now);
        assert_eq!(parse_time("-1s", now).unwrap(), at("2026-01-31T09:59:59Z"));
        // Go AddDate: 31 January + 1 month normalises to 3 March.
        assert_eq!(parse_time("P1M", now).unwrap(), at("2026-03-03T10:00:00Z"));
        assert_eq!(
            parse_time("P1Y1D", now).unwrap(),
            at("2027-02-01T10:00:00Z")
        );
        assert_eq!(
            parse_time("2030-05-01T00:00:00.5+02:00", now).unwrap(),
            at("2030-04-30T22:00:00.5Z")
        );
        assert!(
            parse_time("R2/PT1S", now)
                .unwrap_err()
                .contains("repetitions")
        );
        assert!(
            parse_time("tomorrow", now)
                .unwrap_err()
                .contains("unsupported")
        );
        assert!(parse_time("", now).is_err());
    }

    #[test]
    fn go_duration_strings_match_go() {
        for (d, s) in [
            (Duration::ZERO, "0s"),
            (Duration::from_secs(1), "1s"),
            (Duration::from_secs(90), "1m30s"),
            (Duration::from_secs(3600), "1h0m0s"),
            (Duration::from_millis(1500), "1.5s"),
            (Duration::from_millis(250), "250ms"),
            (Duration::from_micros(1), "1\u{b5}s"),
            (Duration::from_nanos(1500), "1.5\u{b5}s"),
            (Duration::from_nanos(7), "7ns"),
            (Duration::from_secs(86_400 + 61), "24h1m1s"),
        ] {
            assert_eq!(go_duration_string(d), s);
            assert_eq!(parse_go_duration(s), Some(d), "{s} parses back");
        }
        assert_eq!(parse_go_duration("5"), None);
        assert_eq!(
            parse_go_duration("2\u{3bc}s"),
            Some(Duration::from_micros(2))
        );
    }
}
