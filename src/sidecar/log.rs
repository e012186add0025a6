//! `daprd`'s logger: the official logrus-style lines, on stdout (or `--log-file`).
//!
//! Text: `time="…" level=info msg="…" app_id=… instance=… scope=… type=log ver=…`, values
//! quoted only when logrus would quote them. JSON (`--log-as-json`): one object per line
//! with the keys `app_id, instance, level, msg, scope, time, type, ver` in that order.
//! Until [`init`] runs, lines use defaults (info, text, no app id). This is the only place
//! in the sidecar that writes to the terminal.

use std::io::Write;
use std::sync::{Mutex, OnceLock};

/// Log levels, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
    Fatal,
}

impl Level {
    pub fn parse(s: &str) -> Option<Level> {
        match s.trim().to_ascii_lowercase().as_str() {
            "debug" => Some(Level::Debug),
            "info" => Some(Level::Info),
            "warn" | "warning" => Some(Level::Warn),
            "error" => Some(Level::Error),
            "fatal" => Some(Level::Fatal),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warning",
            Level::Error => "error",
            Level::Fatal => "fatal",
        }
    }
}

/// Common scopes of the official daprd.
pub mod scope {
    pub const RUNTIME: &str = "dapr.runtime";
    pub const HTTP: &str = "dapr.runtime.http";
    pub const API_LOG: &str = "dapr.runtime.http-info";
    pub const COMPONENTS: &str = "dapr.runtime.components";
    pub const HEALTH: &str = "dapr.runtime.health";
}

struct Logger {
    level: Level,
    json: bool,
    app_id: String,
    instance: String,
    file: Option<Mutex<std::fs::File>>,
}

static LOGGER: OnceLock<Logger> = OnceLock::new();

/// This host's name, as logged in `instance` (invocation's `Forwarded` headers use it too).
pub(crate) fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// Installs the logger once; later calls are ignored. Fails only when `--log-file`
/// cannot be opened.
pub fn init(
    level: Level,
    json: bool,
    app_id: &str,
    file: Option<&std::path::Path>,
) -> std::io::Result<()> {
    let file = match file {
        Some(p) => Some(Mutex::new(
            fs_err::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)?
                .into_parts()
                .0,
        )),
        None => None,
    };
    let _ = LOGGER.set(Logger {
        level,
        json,
        app_id: app_id.to_string(),
        instance: hostname(),
        file,
    });
    Ok(())
}

fn logger() -> &'static Logger {
    LOGGER.get_or_init(|| Logger {
        level: Level::Info,
        json: false,
        app_id: String::new(),
        instance: hostname(),
        file: None,
    })
}

/// Whether a line at `level` would be written.
pub fn enabled(level: Level) -> bool {
    level >= logger().level
}

/// logrus quotes a value unless every byte is alphanumeric or one of `-._/@^+`.
fn push_value(out: &mut String, v: &str) {
    let plain = !v.is_empty()
        && v.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'/' | b'@' | b'^' | b'+')
        });
    if plain {
        out.push_str(v);
    } else {
        out.push('"');
        for c in v.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if (c as u32) < 0x20 => out.push_str(&format!("\\x{:02x}", c as u32)),
                c => out.push(c),
            }
        }
        out.push('"');
    }
}

/// Formats one line (without the trailing newline) at the current time.
fn format_line(
    lg: &Logger,
    level: Level,
    scope: &str,
    msg: &str,
    fields: &[(&str, &str)],
) -> String {
    let time = chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string();
    if lg.json {
        let mut m = serde_json::Map::new();
        m.insert("app_id".into(), lg.app_id.clone().into());
        for (k, v) in fields {
            m.insert((*k).into(), (*v).into());
        }
        m.insert("instance".into(), lg.instance.clone().into());
        m.insert("level".into(), level.as_str().into());
        m.insert("msg".into(), msg.into());
        m.insert("scope".into(), scope.into());
        m.insert("time".into(), time.into());
        m.insert("type".into(), "log".into());
        m.insert("ver".into(), crate::VERSION.into());
        m.sort_keys();
        serde_json::Value::Object(m).to_string()
    } else {
        let mut out = String::with_capacity(160 + msg.len());
        out.push_str("time=\"");
        out.push_str(&time);
        out.push_str("\" level=");
        out.push_str(level.as_str());
        out.push_str(" msg=");
        push_value(&mut out, msg);
        let mut rest: Vec<(&str, &str)> = vec![
            ("app_id", lg.app_id.as_str()),
            ("instance", lg.instance.as_str()),
            ("scope", scope),
            ("type", "log"),
            ("ver", crate::VERSION),
        ];
        rest.extend_from_slice(fields);
        rest.sort_by(|a, b| a.0.cmp(b.0));
        for (k, v) in rest {
            out.push(' ');
            out.push_str(k);
            out.push('=');
            push_value(&mut out, v);
        }
        out
    }
}

/// Writes one line with extra `key=value` fields (sorted among the standard ones, like logrus).
pub fn log_with(level: Level, scope: &str, msg: &str, fields: &[(&str, &str)]) {
    let lg = logger();
    if level < lg.level {
        return;
    }
    let mut line = format_line(lg, level, scope, msg, fields);
    line.push('\n');
    // A closed stdout must not bring the sidecar down: logging is best effort.
    match &lg.file {
        Some(f) => {
            if let Ok(mut f) = f.lock() {
                let _ = f.write_all(line.as_bytes());
            }
        }
        None => {
            let _ = std::io::stdout().lock().write_all(line.as_bytes());
        }
    }
}

pub fn log(level: Level, scope: &str, msg: &str) {
    log_with(level, scope, msg, &[]);
}

pub fn debug(scope: &str, msg: &str) {
    log(Level::Debug, scope, msg);
}

pub fn info(scope: &str, msg: &str) {
    log(Level::Info, scope, msg);
}

pub fn warn(scope: &str, msg: &str) {
    log(Level::Warn, scope, msg);
}

pub fn error(scope: &str, msg: &str) {
    log(Level::Error, scope, msg);
}

pub fn fatal(scope: &str, msg: &str) {
    log(Level::Fatal, scope, msg);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_line_matches_logrus_shape() {
        let lg = Logger {
            level: Level::Info,
            json: false,
            app_id: "nodeapp".into(),
            instance: "h".into(),
            file: None,
        };
        let line = format_line(
            &lg,
            Level::Info,
            scope::RUNTIME,
            "HTTP server is running on port 3500",
            &[],
        );
        assert!(line.starts_with("time=\""), "{line}");
        assert!(
            line.ends_with(&format!(
                " level=info msg=\"HTTP server is running on port 3500\" app_id=nodeapp instance=h scope=dapr.runtime type=log ver={}",
                crate::VERSION
            )),
            "{line}"
        );
    }

    #[test]
    fn json_line_has_official_keys() {
        let lg = Logger {
            level: Level::Info,
            json: true,
            app_id: "a".into(),
            instance: "h".into(),
            file: None,
        };
        let line = format_line(&lg, Level::Warn, "s", "m \"q\"", &[]);
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "app_id", "instance", "level", "msg", "scope", "time", "type", "ver"
            ]
        );
        assert_eq!(v["level"], "warning");
        assert_eq!(v["msg"], "m \"q\"");
    }
}
