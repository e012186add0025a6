//! Schedules as dapr/kit `cron` (a fork of robfig/cron) reads them, for jobs, reminders and
//! the `bindings.cron` component:
//!
//! - cron fields `second minute hour day-of-month month day-of-week`; jobs and reminders
//!   require all six ([`Dialect::Jobs`]), the binding also takes five without seconds
//!   ([`Dialect::Binding`]). Each field is a comma-separated list of `*`, `?`, a value, a
//!   range `a-b`, each optionally with a step `/n` (`5/20` means `5-max/20`); months and
//!   days of the week also by name (`jan`-`dec`, `sun`-`sat`, any case). When both day
//!   fields are restricted a day matching either fires, otherwise both must match.
//! - an optional `TZ=<zone>` or `CRON_TZ=<zone>` prefix: the fields are wall-clock times in
//!   that zone (from the system's time-zone database); without it, this machine's zone.
//! - descriptors `@yearly`/`@annually`, `@monthly`, `@weekly`, `@daily`/`@midnight`,
//!   `@hourly`, and `@every <Go duration>`: jobs take sub-second periods (at least 1 ms,
//!   counted in whole milliseconds), the binding whole seconds (at least 1 s).
//!
//! The grammar is checked here field by field (so errors name the field and reject what
//! robfig rejects, such as `L`, `W`, `#` or a day of week 7); the next firing time is
//! computed by `croner`.

use std::time::Duration;

use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::timing::parse_go_duration;

/// Which grammar to accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// Jobs and reminders (dapr/kit `cron.ParseStandard` as the Scheduler uses it).
    Jobs,
    /// The `bindings.cron` component: seconds optional, `@every` in whole seconds.
    Binding,
}

/// A parsed schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    /// `@every`: a fixed period; binding periods count from the whole second.
    Every {
        period: Duration,
        whole_seconds: bool,
    },
    Cron {
        cron: Box<Cron>,
        zone: TimeZone,
    },
}

/// The bounds and names of one field.
struct Field {
    what: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

const FIELDS: [Field; 6] = [
    Field {
        what: "second",
        min: 0,
        max: 59,
        names: &[],
    },
    Field {
        what: "minute",
        min: 0,
        max: 59,
        names: &[],
    },
    Field {
        what: "hour",
        min: 0,
        max: 23,
        names: &[],
    },
    Field {
        what: "day of month",
        min: 1,
        max: 31,
        names: &[],
    },
    Field {
        what: "month",
        min: 1,
        max: 12,
        names: &MONTHS,
    },
    Field {
        what: "day of week",
        min: 0,
        max: 6,
        names: &DAYS,
    },
];

impl Field {
    fn value(&self, text: &str) -> Result<u32, String> {
        let lower = text.to_ascii_lowercase();
        if let Some(i) = self.names.iter().position(|n| *n == lower) {
            // Months are numbered from 1, days of the week from 0.
            return Ok(i as u32 + self.min);
        }
        text.parse::<u32>()
            .map_err(|_| format!("failed to parse int from {text} in the {} field", self.what))
    }

    /// Checks one comma-separated part: `*`, `?`, `v`, `a-b`, each with an optional `/n`.
    fn check(&self, part: &str) -> Result<(), String> {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, Some(s)),
            None => (part, None),
        };
        if let Some(s) = step {
            if s.contains('/') {
                return Err(format!("too many slashes: {part}"));
            }
            let n: u32 = s
                .parse()
                .map_err(|_| format!("failed to parse int from {s} in the {} field", self.what))?;
            if n == 0 {
                return Err(format!("step of range should be a positive number: {part}"));
            }
        }
        if range == "*" || range == "?" {
            return Ok(());
        }
        let (lo, hi) = match range.split_once('-') {
            Some((a, b)) => {
                if b.contains('-') {
                    return Err(format!("too many hyphens: {part}"));
                }
                (self.value(a)?, self.value(b)?)
            }
            // `N/step` runs from N to the maximum.
            None if step.is_some() => (self.value(range)?, self.max),
            None => {
                let v = self.value(range)?;
                (v, v)
            }
        };
        if lo < self.min {
            return Err(format!(
                "beginning of range ({lo}) below minimum ({}): {part}",
                self.min
            ));
        }
        if hi > self.max {
            return Err(format!(
                "end of range ({hi}) above maximum ({}): {part}",
                self.max
            ));
        }
        if lo > hi {
            return Err(format!(
                "beginning of range ({lo}) beyond end of range ({hi}): {part}"
            ));
        }
        Ok(())
    }
}

/// The descriptors and the six fields they stand for.
const DESCRIPTORS: [(&str, &str); 7] = [
    ("@yearly", "0 0 0 1 1 *"),
    ("@annually", "0 0 0 1 1 *"),
    ("@monthly", "0 0 0 1 * *"),
    ("@weekly", "0 0 0 * * 0"),
    ("@daily", "0 0 0 * * *"),
    ("@midnight", "0 0 0 * * *"),
    ("@hourly", "0 0 * * * *"),
];

impl Schedule {
    /// Parses `text`; the error says what is wrong, without repeating the whole schedule.
    pub fn parse(text: &str, dialect: Dialect) -> Result<Schedule, String> {
        let mut spec = text.trim();
        if spec.is_empty() {
            return Err("empty spec string".into());
        }
        let mut zone = None;
        if spec.starts_with("TZ=") || spec.starts_with("CRON_TZ=") {
            let Some(end) = spec.find(char::is_whitespace) else {
                return Err(format!(
                    "timezone prefix {spec} is not followed by a schedule"
                ));
            };
            let name = &spec[spec.find('=').map_or(0, |i| i + 1)..end];
            zone = Some(
                TimeZone::get(name).map_err(|e| format!("provided bad location {name}: {e}"))?,
            );
            spec = spec[end..].trim();
        }
        if let Some(d) = spec.strip_prefix("@every ") {
            let d = d.trim();
            let period = parse_go_duration(d)
                .ok_or_else(|| format!("failed to parse duration @every {d}"))?;
            let period = match dialect {
                // As dapr/kit: at least a millisecond, whole milliseconds.
                Dialect::Jobs => Duration::from_millis(
                    u64::try_from(period.as_millis()).unwrap_or(u64::MAX).max(1),
                ),
                // As robfig/cron: at least a second, whole seconds.
                Dialect::Binding => Duration::from_secs(period.as_secs().max(1)),
            };
            return Ok(Schedule {
                kind: Kind::Every {
                    period,
                    whole_seconds: dialect == Dialect::Binding,
                },
            });
        }
        let fields_text;
        let fields: Vec<&str> = if spec.starts_with('@') {
            let (_, six) = DESCRIPTORS
                .iter()
                .find(|(name, _)| *name == spec)
                .ok_or_else(|| format!("unrecognized descriptor: {spec}"))?;
            six.split(' ').collect()
        } else {
            let given: Vec<&str> = spec.split_whitespace().collect();
            match (dialect, given.len()) {
                (_, 6) => given,
                (Dialect::Binding, 5) => {
                    fields_text = format!("0 {}", given.join(" "));
                    fields_text.split(' ').collect()
                }
                (Dialect::Jobs, n) => {
                    return Err(format!("expected exactly 6 fields, found {n}: {spec}"));
                }
                (Dialect::Binding, n) => {
                    return Err(format!("expected 5 to 6 fields, found {n}: {spec}"));
                }
            }
        };
        for (field, text) in FIELDS.iter().zip(&fields) {
            for part in text.split(',') {
                if part.is_empty() {
                    return Err(format!("empty list entry in the {} field", field.what));
                }
                field.check(part)?;
            }
        }
        // `?` is `*` for robfig in every field; croner only knows it in the day fields.
        let normalized: Vec<String> = fields.iter().map(|f| f.replace('?', "*")).collect();
        let cron = CronParser::builder()
            .seconds(Seconds::Required)
            .year(Year::Disallowed)
            .sloppy_ranges(true)
            .build()
            .parse(&normalized.join(" "))
            .map_err(|e| e.to_string())?;
        Ok(Schedule {
            kind: Kind::Cron {
                cron: Box::new(cron),
                zone: zone.unwrap_or_else(TimeZone::system),
            },
        })
    }

    /// The `@every` period, when the schedule is one.
    pub fn every(&self) -> Option<Duration> {
        match &self.kind {
            Kind::Every { period, .. } => Some(*period),
            Kind::Cron { .. } => None,
        }
    }

    /// The first firing strictly after `after`; `None` when there is none (within the
    /// range `croner` searches) or on overflow. `@every` counts from the millisecond of
    /// `after` (the binding's from its whole second).
    pub fn next_after(&self, after: Timestamp) -> Option<Timestamp> {
        match &self.kind {
            Kind::Every {
                period,
                whole_seconds,
            } => {
                let ms = after.as_millisecond();
                let base = if *whole_seconds {
                    ms - ms.rem_euclid(1000)
                } else {
                    ms
                };
                let step = i64::try_from(period.as_millis()).ok()?;
                Timestamp::from_millisecond(base.checked_add(step)?).ok()
            }
            Kind::Cron { cron, zone } => {
                let start = after.to_zoned(zone.clone());
                cron.find_next_occurrence(&start, false)
                    .ok()
                    .map(|z| z.timestamp())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn utc(h: i8, m: i8, s: i8) -> Timestamp {
        date(2024, 3, 15)
            .at(h, m, s, 0)
            .to_zoned(TimeZone::UTC)
            .unwrap()
            .timestamp()
    }

    fn next(spec: &str, after: Timestamp) -> Timestamp {
        // Wall-clock fields in UTC, whatever this machine's zone.
        let spec = if spec.starts_with('@') && !spec.starts_with("@every") || !spec.starts_with('@')
        {
            format!("TZ=UTC {spec}")
        } else {
            spec.to_string()
        };
        Schedule::parse(&spec, Dialect::Jobs)
            .unwrap()
            .next_after(after)
            .unwrap()
    }

    #[test]
    fn six_fields_names_ranges_steps() {
        let t = utc(10, 7, 31);
        assert_eq!(next("*/1 * * * * *", t), utc(10, 7, 32));
        assert_eq!(next("*/10 * * * * *", t), utc(10, 7, 40));
        assert_eq!(next("0 30 * * * *", t), utc(10, 30, 0));
        assert_eq!(next("5/20 * * * * *", utc(10, 0, 6)), utc(10, 0, 25));
        assert_eq!(next("0 0 12 * * ?", t), utc(12, 0, 0));
        assert_eq!(next("? 8 10 * * *", t), utc(10, 8, 0));
        assert_eq!(next("0 0,15,45 10-11 * * *", t), utc(10, 15, 0));
        // 2024-03-15 is a Friday: MON is the 18th; the month by name.
        let monday = date(2024, 3, 18)
            .at(9, 0, 0, 0)
            .to_zoned(TimeZone::UTC)
            .unwrap();
        assert_eq!(next("0 0 9 * * MON", t), monday.timestamp());
        assert_eq!(next("0 0 9 * mar-Apr mon", t), monday.timestamp());
        // Both day fields restricted: either matches (the 16th comes before Monday).
        let sat = date(2024, 3, 16)
            .at(0, 0, 0, 0)
            .to_zoned(TimeZone::UTC)
            .unwrap();
        assert_eq!(next("0 0 0 16 * mon", t), sat.timestamp());
    }

    #[test]
    fn descriptors_and_every() {
        let t = utc(10, 7, 31);
        assert_eq!(next("@hourly", t), utc(11, 0, 0));
        let midnight = date(2024, 3, 16)
            .at(0, 0, 0, 0)
            .to_zoned(TimeZone::UTC)
            .unwrap();
        assert_eq!(next("@daily", t), midnight.timestamp());
        assert_eq!(next("@midnight", t), midnight.timestamp());
        let april = date(2024, 4, 1)
            .at(0, 0, 0, 0)
            .to_zoned(TimeZone::UTC)
            .unwrap();
        assert_eq!(next("@monthly", t), april.timestamp());
        let sunday = date(2024, 3, 17)
            .at(0, 0, 0, 0)
            .to_zoned(TimeZone::UTC)
            .unwrap();
        assert_eq!(next("@weekly", t), sunday.timestamp());
        let year = date(2025, 1, 1)
            .at(0, 0, 0, 0)
            .to_zoned(TimeZone::UTC)
            .unwrap();
        assert_eq!(next("@yearly", t), year.timestamp());
        assert_eq!(next("@annually", t), year.timestamp());
        // `@every` counts from the given instant, to the millisecond; sub-second allowed.
        let t = Timestamp::from_millisecond(utc(10, 0, 0).as_millisecond() + 250).unwrap();
        let plus = |ms: i64| Timestamp::from_millisecond(t.as_millisecond() + ms).unwrap();
        assert_eq!(next("@every 1s", t), plus(1_000));
        assert_eq!(next("@every 1m30s", t), plus(90_000));
        assert_eq!(next("@every 100ms", t), plus(100));
        assert_eq!(next("@every 1.5s", t), plus(1_500));
        assert_eq!(next("@every 0s", t), plus(1));
        // The binding's `@every`: whole seconds, from the whole second.
        let b = Schedule::parse("@every 1500ms", Dialect::Binding).unwrap();
        assert_eq!(b.next_after(t), Some(utc(10, 0, 1)));
    }

    #[test]
    fn time_zone_prefixes() {
        let t = utc(10, 7, 31);
        // 08:00 in Tokyo (UTC+9, no DST) is 23:00 UTC the day before.
        let s = Schedule::parse("CRON_TZ=Asia/Tokyo 0 0 8 * * *", Dialect::Jobs).unwrap();
        let want = date(2024, 3, 15)
            .at(23, 0, 0, 0)
            .to_zoned(TimeZone::UTC)
            .unwrap();
        assert_eq!(s.next_after(t), Some(want.timestamp()));
        let s = Schedule::parse("TZ=UTC 0 0 8 * * *", Dialect::Jobs).unwrap();
        let want = date(2024, 3, 16)
            .at(8, 0, 0, 0)
            .to_zoned(TimeZone::UTC)
            .unwrap();
        assert_eq!(s.next_after(t), Some(want.timestamp()));
    }

    #[test]
    fn bad_schedules_say_why() {
        for (bad, why) in [
            ("", "empty spec"),
            ("* * * * *", "expected exactly 6 fields, found 5"),
            ("* * * * * * *", "expected exactly 6 fields, found 7"),
            ("61 * * * * *", "above maximum (59)"),
            ("* * * * * 7", "above maximum (6)"),
            ("* * * 0 * *", "below minimum (1)"),
            ("* * * * * L", "failed to parse int from L"),
            ("* * * 1W * *", "failed to parse int from 1W"),
            ("* * * * * 1#2", "failed to parse int from 1#2"),
            ("*/0 * * * * *", "positive number"),
            ("5-1 * * * * *", "beyond end of range"),
            ("1-2-3 * * * * *", "too many hyphens"),
            ("*/2/3 * * * * *", "too many slashes"),
            ("1,,2 * * * * *", "empty list entry"),
            ("* * * * foo *", "failed to parse int from foo"),
            ("@every soon", "failed to parse duration"),
            ("@fortnightly", "unrecognized descriptor"),
            (
                "TZ=Nowhere/Zone * * * * * *",
                "provided bad location Nowhere/Zone",
            ),
            ("CRON_TZ=UTC", "not followed by a schedule"),
        ] {
            let e = Schedule::parse(bad, Dialect::Jobs).unwrap_err();
            assert!(e.contains(why), "{bad:?}: {e}");
        }
        // The binding also takes five fields (seconds 0).
        let b = Schedule::parse("*/15 * * * *", Dialect::Binding).unwrap();
        assert!(b.every().is_none());
        assert!(Schedule::parse("* * * *", Dialect::Binding).is_err());
    }
}
