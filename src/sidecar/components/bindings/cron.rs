//! `bindings.cron` (input): fires on a schedule, in this machine's local time zone, as the
//! official component (robfig/cron syntax): five fields (minute hour day-of-month month
//! day-of-week), or six with seconds first; names (`JAN`, `MON`), ranges, lists, steps
//! (`*/15`, `5/10`), `?`; the descriptors `@yearly`/`@annually`, `@monthly`, `@weekly`,
//! `@daily`/`@midnight`, `@hourly`; and `@every <duration>` (Go syntax, at least 1 s); an
//! optional `TZ=`/`CRON_TZ=` zone prefix. The grammar is the scheduler's
//! (`scheduler::cron`, [`Dialect::Binding`]).
//! Each event has no data and the metadata `timeZone` and `readTimeUTC`, as upstream.
//!
//! What the app answers is not acted on: a failed delivery is only logged by the runtime,
//! never retried (as upstream). Firings do not overlap: when the app takes longer than the
//! interval, the firings that fell due meanwhile are skipped (upstream would run them side
//! by side).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Local, Utc};
use futures_util::future::BoxFuture;

use super::{BindingComponent, BindingError, Handler, InputBinding, Metadata, ReadEvent, Reader};
use crate::sidecar::components::{Context, Instance};
use crate::sidecar::log::{self, scope};
use crate::sidecar::resources::{Component, ResourceError};
use crate::sidecar::scheduler::cron::Dialect;

/// A parsed `schedule`: the scheduler's grammar in its binding dialect (five or six fields,
/// `@every` in whole seconds).
pub use crate::sidecar::scheduler::cron::Schedule;

/// Parses the component's `schedule`.
pub fn parse_schedule(text: &str) -> Result<Schedule, String> {
    if text.trim().is_empty() {
        return Err("schedule not set".into());
    }
    Schedule::parse(text, Dialect::Binding)
        .map_err(|e| format!("invalid schedule format '{}': {e}", text.trim()))
}

/// The first firing strictly after `after`, in local time.
fn next_after(schedule: &Schedule, after: DateTime<Local>) -> Option<DateTime<Local>> {
    let ts = jiff::Timestamp::from_millisecond(after.timestamp_millis()).ok()?;
    let next = schedule.next_after(ts)?;
    DateTime::from_timestamp_millis(next.as_millisecond()).map(|t| t.with_timezone(&Local))
}

/// Go's `time.Time.String()` of a UTC time: `2006-01-02 15:04:05.999999999 +0000 UTC`.
pub fn go_utc_string(t: DateTime<Utc>) -> String {
    let nanos = t.timestamp_subsec_nanos();
    let frac = if nanos == 0 {
        String::new()
    } else {
        format!(".{nanos:09}").trim_end_matches('0').to_string()
    };
    format!("{}{frac} +0000 UTC", t.format("%Y-%m-%d %H:%M:%S"))
}

pub struct CronBinding {
    name: String,
    schedule: Schedule,
}

#[async_trait]
impl InputBinding for CronBinding {
    async fn read(&self, handler: Arc<dyn Handler>) -> Result<Reader, BindingError> {
        let (stop, rx) = tokio::sync::watch::channel(false);
        let schedule = self.schedule.clone();
        let name = self.name.clone();
        let task = tokio::spawn(async move {
            let stopped = Reader::stopped(rx);
            tokio::pin!(stopped);
            loop {
                let Some(next) = next_after(&schedule, Local::now()) else {
                    log::warn(
                        scope::COMPONENTS,
                        &format!("cron binding {name}: the schedule never fires again"),
                    );
                    return;
                };
                let wait = (next - Local::now()).to_std().unwrap_or(Duration::ZERO);
                tokio::select! {
                    _ = &mut stopped => return,
                    _ = tokio::time::sleep(wait) => {}
                }
                let event = ReadEvent {
                    data: bytes::Bytes::new(),
                    metadata: Metadata::from([
                        ("timeZone".to_string(), "Local".to_string()),
                        ("readTimeUTC".to_string(), go_utc_string(Utc::now())),
                    ]),
                };
                // The answer is not acted on (the runtime logs failures), as upstream.
                let _ = handler.handle(event).await;
            }
        });
        Ok(Reader::new(stop, vec![task]))
    }
}

fn schedule(c: &Component) -> Result<Schedule, ResourceError> {
    parse_schedule(c.meta("schedule").unwrap_or("")).map_err(|e| c.field_error("schedule", e))
}

/// Registry row: `schedule` is required and must parse.
pub fn validate(c: &Component, _ctx: &Context) -> Result<(), ResourceError> {
    super::Direction::from_component(c)?;
    schedule(c).map(|_| ())
}

/// Registry row.
pub fn create(c: Component, _ctx: Context) -> BoxFuture<'static, Result<Instance, ResourceError>> {
    Box::pin(async move {
        let binding = CronBinding {
            name: c.name.clone(),
            schedule: schedule(&c)?,
        };
        BindingComponent::instance(&c, Some(Arc::new(binding)), None)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32, s: u32) -> DateTime<Local> {
        Local.with_ymd_and_hms(2024, 3, 15, h, m, s).unwrap()
    }

    #[test]
    fn syntaxes_as_robfig_cron() {
        let next = |s: &str, t| next_after(&parse_schedule(s).unwrap(), t).unwrap();
        // Five fields: minutes first, second 0.
        assert_eq!(next("*/15 * * * *", at(10, 7, 30)), at(10, 15, 0));
        // Six fields: seconds first.
        assert_eq!(next("*/10 * * * * *", at(10, 7, 31)), at(10, 7, 40));
        assert_eq!(next("0 30 * * * *", at(10, 7, 31)), at(10, 30, 0));
        // Start/step without a range (robfig: from 5 to the maximum).
        assert_eq!(next("5/20 * * * * *", at(10, 0, 6)), at(10, 0, 25));
        assert_eq!(next("@hourly", at(10, 7, 31)), at(11, 0, 0));
        assert_eq!(next("0 0 12 * * ?", at(10, 0, 0)), at(12, 0, 0));
        assert_eq!(next("@every 2s", at(10, 0, 0)), at(10, 0, 2));
        assert_eq!(next("@every 1m30s", at(10, 0, 0)), at(10, 1, 30));
        // 2024-03-15 is a Friday; MON names the next Monday.
        assert_eq!(
            next("0 0 9 * * MON", at(10, 0, 0)),
            Local.with_ymd_and_hms(2024, 3, 18, 9, 0, 0).unwrap()
        );
    }

    #[test]
    fn bad_schedules_name_the_problem() {
        for bad in [
            "",
            "* * *",
            "61 * * * * *",
            "@every soon",
            "TZ=Nowhere/Zone * * * * *",
            "* * * * * * *",
        ] {
            let e = parse_schedule(bad).unwrap_err();
            assert!(e.contains("schedule"), "{bad}: {e}");
        }
        let c = Component::new("c", "bindings.cron").with_meta("schedule", "nope");
        let e = validate(&c, &Context::new("a")).unwrap_err().to_string();
        assert!(e.contains("schedule") && e.contains("nope"), "{e}");
    }

    #[test]
    fn read_time_as_go_prints_it() {
        let t = Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap();
        assert_eq!(go_utc_string(t), "2024-01-02 03:04:05 +0000 UTC");
        let t = t + chrono::Duration::milliseconds(120);
        assert_eq!(go_utc_string(t), "2024-01-02 03:04:05.12 +0000 UTC");
    }
}
