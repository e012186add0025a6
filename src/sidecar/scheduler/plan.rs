//! When a job triggers, as go-etcd-cron's builder and `repeats` schedule decide it: checks
//! at creation (in upstream's order and wording), the first trigger time, the expiry, and
//! the trigger after each one. Times are Unix milliseconds.

use chrono::{DateTime, Timelike, Utc};
use jiff::Timestamp;

use super::JobSpec;
use super::cron::{Dialect, Schedule};
use super::timing::parse_time;

/// A trigger that was due longer ago than this was missed (no sidecar could take it): the
/// schedule continues from when it was delivered instead of catching up every missed one.
pub const MISSED_AFTER_MS: i64 = 1_000;

/// The times of a new job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Planned {
    /// The first trigger.
    pub first_ms: i64,
    /// When the job ends; triggers after it do not happen.
    pub expiry_ms: Option<i64>,
}

fn parse_schedule(spec: &JobSpec) -> Result<Option<Schedule>, String> {
    spec.schedule
        .as_deref()
        .map(|s| Schedule::parse(s, Dialect::Jobs))
        .transpose()
}

fn ts(ms: i64) -> Option<Timestamp> {
    Timestamp::from_millisecond(ms).ok()
}

/// Validates `spec` created at `now` and computes its first trigger and expiry.
pub fn plan(spec: &JobSpec, now: DateTime<Utc>) -> Result<Planned, String> {
    if spec.due_time.is_none() && spec.schedule.is_none() {
        return Err("job must have either a due time or a schedule".into());
    }
    if spec.schedule.is_none() && spec.repeats.is_some_and(|r| r > 1) {
        return Err("job must have a schedule to repeat".into());
    }
    if spec.repeats == Some(0) {
        return Err("defined repeats must be greater than 0".into());
    }
    if spec.schedule.is_none() && spec.ttl.is_some() {
        return Err("job must have a schedule to have a ttl".into());
    }
    let schedule = parse_schedule(spec)?;
    // As upstream, creation time counts in whole seconds.
    let now = now.with_nanosecond(0).unwrap_or(now);
    let due = match &spec.due_time {
        Some(d) => Some(parse_time(d, now).map_err(|_| due_time_error(d))?),
        None => None,
    };
    let expiry = match &spec.ttl {
        Some(t) => {
            let exp = parse_time(t, due.unwrap_or(now))
                .map_err(|_| "ttl format not recognized".to_string())?;
            if due.is_some_and(|d| d > exp) {
                return Err("ttl must be greater than due time".into());
            }
            Some(exp.timestamp_millis())
        }
        None => None,
    };
    let first_ms = match (due, &schedule) {
        (Some(d), _) => d.timestamp_millis(),
        (None, Some(s)) => s
            .next_after(ts(now.timestamp_millis()).ok_or("time out of range")?)
            .ok_or("the schedule never fires")?
            .as_millisecond(),
        (None, None) => return Err("job must have either a due time or a schedule".into()),
    };
    Ok(Planned {
        first_ms,
        expiry_ms: expiry,
    })
}

/// Upstream's messages for a due time: repetitions are named, anything else is "not
/// recognized".
fn due_time_error(text: &str) -> String {
    if text.trim().starts_with('R') && text.contains('/') {
        "repeats not supported for due time".into()
    } else {
        "due time format not recognized".into()
    }
}

/// The trigger after the one scheduled at `due_ms`, once `triggered` triggers have
/// happened (this one included), delivered at `now_ms`; `None` when the job is over.
pub fn following(
    spec: &JobSpec,
    triggered: u32,
    due_ms: i64,
    expiry_ms: Option<i64>,
    now_ms: i64,
) -> Option<i64> {
    if spec.repeats.is_some_and(|r| triggered >= r) {
        return None;
    }
    let schedule = parse_schedule(spec).ok()??;
    let from = if now_ms.saturating_sub(due_ms) > MISSED_AFTER_MS {
        now_ms
    } else {
        due_ms
    };
    let next = schedule.next_after(ts(from)?)?.as_millisecond();
    if expiry_ms.is_some_and(|e| next > e) {
        return None;
    }
    Some(next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn spec(schedule: Option<&str>, due: Option<&str>) -> JobSpec {
        JobSpec {
            schedule: schedule.map(str::to_string),
            due_time: due.map(str::to_string),
            ..JobSpec::default()
        }
    }

    fn at(s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 3, 15, 10, 0, s).unwrap()
    }

    fn ms(t: DateTime<Utc>) -> i64 {
        t.timestamp_millis()
    }

    #[test]
    fn validation_follows_upstream() {
        let now = at(0);
        let cases: [(JobSpec, &str); 8] = [
            (spec(None, None), "either a due time or a schedule"),
            (
                JobSpec {
                    repeats: Some(2),
                    ..spec(None, Some("1s"))
                },
                "must have a schedule to repeat",
            ),
            (
                JobSpec {
                    repeats: Some(0),
                    ..spec(Some("@daily"), None)
                },
                "repeats must be greater than 0",
            ),
            (
                JobSpec {
                    ttl: Some("1h".into()),
                    ..spec(None, Some("1s"))
                },
                "schedule to have a ttl",
            ),
            (spec(Some("* * * * *"), None), "expected exactly 6 fields"),
            (spec(None, Some("soon")), "due time format not recognized"),
            (
                spec(None, Some("R2/PT1S")),
                "repeats not supported for due time",
            ),
            (
                JobSpec {
                    ttl: Some("5s".into()),
                    ..spec(Some("@every 1s"), Some("2024-03-15T11:00:00Z"))
                },
                "",
            ),
        ];
        for (s, want) in cases {
            match plan(&s, now) {
                Err(e) => assert!(!want.is_empty() && e.contains(want), "{s:?}: {e}"),
                Ok(p) => assert!(want.is_empty(), "{s:?} accepted: {p:?}"),
            }
        }
        let ttl_first = JobSpec {
            ttl: Some("2024-03-15T09:00:00Z".into()),
            ..spec(Some("@every 1s"), Some("2024-03-15T11:00:00Z"))
        };
        assert_eq!(
            plan(&ttl_first, now).unwrap_err(),
            "ttl must be greater than due time"
        );
        let bad_ttl = JobSpec {
            ttl: Some("never".into()),
            ..spec(Some("@every 1s"), None)
        };
        assert_eq!(
            plan(&bad_ttl, now).unwrap_err(),
            "ttl format not recognized"
        );
    }

    #[test]
    fn first_trigger_and_expiry() {
        // Created at 10:00:00.700: counted from 10:00:00.
        let now = at(0) + chrono::Duration::milliseconds(700);
        let p = plan(&spec(Some("@every 2s"), None), now).unwrap();
        assert_eq!((p.first_ms, p.expiry_ms), (ms(at(2)), None));
        let p = plan(&spec(Some("*/5 * * * * *"), None), now).unwrap();
        assert_eq!(p.first_ms, ms(at(5)));
        // A due time fires first, even with a schedule; a ttl counts from it.
        let s = JobSpec {
            ttl: Some("10s".into()),
            ..spec(Some("@every 1s"), Some("3s"))
        };
        let p = plan(&s, now).unwrap();
        assert_eq!((p.first_ms, p.expiry_ms), (ms(at(3)), Some(ms(at(13)))));
        let p = plan(&spec(None, Some("PT1M")), now).unwrap();
        assert_eq!(p.first_ms, ms(at(0)) + 60_000);
        let p = plan(&spec(None, Some("2024-03-15T10:00:30Z")), now).unwrap();
        assert_eq!(p.first_ms, ms(at(30)));
    }

    #[test]
    fn triggers_after_the_first() {
        let every = spec(Some("@every 1s"), None);
        let t0 = ms(at(1));
        // On time: the next one is a period after the scheduled time, not the delivery.
        assert_eq!(following(&every, 1, t0, None, t0 + 300), Some(t0 + 1_000));
        // Repeats count triggers.
        let three = JobSpec {
            repeats: Some(3),
            ..every.clone()
        };
        assert_eq!(following(&three, 2, t0, None, t0), Some(t0 + 1_000));
        assert_eq!(following(&three, 3, t0, None, t0), None);
        // The expiry ends it.
        assert_eq!(following(&every, 1, t0, Some(t0 + 500), t0), None);
        assert_eq!(
            following(&every, 1, t0, Some(t0 + 1_000), t0),
            Some(t0 + 1_000)
        );
        // A missed trigger: the schedule continues from the delivery.
        assert_eq!(
            following(&every, 1, t0, None, t0 + 60_000),
            Some(t0 + 61_000)
        );
        // One-shot jobs end after their trigger.
        assert_eq!(following(&spec(None, Some("1s")), 1, t0, None, t0), None);
        // Cron: the next matching second.
        let cron = spec(Some("*/10 * * * * *"), None);
        assert_eq!(
            following(&cron, 1, ms(at(10)), None, ms(at(10))),
            Some(ms(at(20)))
        );
    }
}
