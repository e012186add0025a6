//! The one duration parser of the sidecar: Go's `time.ParseDuration` syntax (`1h2m3.5s`,
//! `500ms`, `2us`) or a plain integer, whose unit the caller names (components decoded by
//! dapr/kit read plain integers as seconds, the Redis settings and `initTimeout` as ms).

use std::time::Duration;

/// Go syntax, or a plain integer meaning milliseconds.
pub fn parse_duration(text: &str) -> Option<Duration> {
    parse_duration_with_unit(text, Duration::from_millis(1))
}

/// Go syntax, or a plain integer counting `int_unit`s.
pub fn parse_duration_with_unit(text: &str, int_unit: Duration) -> Option<Duration> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if let Ok(n) = text.parse::<u32>() {
        return int_unit.checked_mul(n);
    }
    let mut rest = text;
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return None;
        }
        let number: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds_per_unit = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += number * seconds_per_unit;
    }
    Duration::try_from_secs_f64(total).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_accept_go_syntax_and_plain_integers() {
        assert_eq!(parse_duration("5s"), Some(Duration::from_secs(5)));
        assert_eq!(parse_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("1500"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("1.5h"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("0"), Some(Duration::ZERO));
        assert_eq!(parse_duration("5x"), None);
        assert_eq!(parse_duration("s"), None);
        assert_eq!(parse_duration(""), None);
        assert_eq!(
            parse_duration_with_unit("30", Duration::from_secs(1)),
            Some(Duration::from_secs(30))
        );
    }
}
