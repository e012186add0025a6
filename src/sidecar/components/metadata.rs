//! Typed reads of component metadata, shared by every component type: booleans with the
//! spellings dapr/kit accepts, durations in Go syntax, integers. Errors name the field.

use std::time::Duration;

use crate::sidecar::resources::{Component, ResourceError, parse_duration_with_unit};

/// Reads a boolean metadata field; accepts the spellings dapr/kit treats as truthy
/// (`true`, `1`, `yes`, `on`, `y`, `t`) and their opposites, and refuses anything else.
pub fn meta_bool(component: &Component, field: &str, default: bool) -> Result<bool, ResourceError> {
    match component.meta(field).map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) => {
            match v.as_str() {
                "" => Ok(default),
                "1" | "t" | "true" | "y" | "yes" | "on" => Ok(true),
                "0" | "f" | "false" | "n" | "no" | "off" => Ok(false),
                _ => Err(component
                    .field_error(field, format!("{v:?} is not a boolean; use true or false"))),
            }
        }
    }
}

/// Reads a duration metadata field: Go syntax (`5s`, `500ms`) or a plain integer counting
/// `int_unit`s.
pub fn meta_duration(
    component: &Component,
    field: &str,
    default: Duration,
    int_unit: Duration,
) -> Result<Duration, ResourceError> {
    match component.meta(field).map(str::trim) {
        None | Some("") => Ok(default),
        Some(v) => parse_duration_with_unit(v, int_unit).ok_or_else(|| {
            let unit = if int_unit == Duration::from_secs(1) {
                "seconds"
            } else {
                "milliseconds"
            };
            component.field_error(
                field,
                format!("{v:?} is not a duration; use e.g. 5s, 500ms, 1m or a number of {unit}"),
            )
        }),
    }
}

/// Reads an integer metadata field.
pub fn meta_int(component: &Component, field: &str, default: i64) -> Result<i64, ResourceError> {
    match component.meta(field).map(str::trim) {
        None | Some("") => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| component.field_error(field, format!("{v:?} is not an integer"))),
    }
}
