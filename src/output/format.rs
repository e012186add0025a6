//! `-o json|yaml|table` as the official CLI renders them: JSON pretty-printed with a
//! two-space indent and no trailing newline (`[]` when empty); YAML with a trailing
//! newline (`[]\n` when empty).

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Table,
    Json,
    Yaml,
}

impl OutputFormat {
    /// Parse the `-o` value; `""`, `table` and `list` mean the table. `None` for anything
    /// else (the caller prints `An invalid output format was specified.`).
    pub fn parse(s: &str) -> Option<OutputFormat> {
        match s {
            "" | "table" | "list" => Some(OutputFormat::Table),
            "json" => Some(OutputFormat::Json),
            "yaml" => Some(OutputFormat::Yaml),
            _ => None,
        }
    }
}

pub const INVALID_FORMAT: &str = "An invalid output format was specified.";

pub fn json<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

pub fn yaml<T: Serialize + ?Sized>(value: &T) -> String {
    let v = serde_json::to_value(value).unwrap_or(serde_json::Value::Null);
    if v.as_array().is_some_and(|a| a.is_empty()) {
        return "[]\n".to_string();
    }
    let mut s = serde_saphyr::to_string(&v).unwrap_or_default();
    if !s.ends_with('\n') {
        s.push('\n');
    }
    s
}
