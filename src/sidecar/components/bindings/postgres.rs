//! `bindings.postgresql` (alias `bindings.postgres`, output): SQL against a PostgreSQL
//! server named by `connectionString` (alias `url`; a URL or `key=value` pairs), as the
//! official component:
//!
//! * `exec`: runs request metadata `sql` with the optional `params` (a JSON array, `$1`,
//!   `$2`, ...); metadata `rows-affected`. Without params the statement goes through the
//!   simple protocol, so several `;`-separated statements may run at once (the count is
//!   the last one's), as pgx does;
//! * `query`: the rows as a JSON array of arrays (one value per column: numbers, strings,
//!   booleans, `null`, JSON columns as JSON, timestamps as RFC 3339 strings, `bytea` as
//!   base64);
//! * `close`: closes the connection; later `exec`/`query` fail with `component is closed`.
//!
//! Every answer has the metadata `operation`, `sql`, `start-time`, `end-time` and
//! `duration`. `params` are sent as text and converted by the server to the parameter's
//! type (a JSON number for an `int` column, a string for a `date`, an object for `jsonb`).
//! `timeout` (`timeoutInSeconds`, default 20 s) bounds connecting.
//!
//! Limits: one connection (re-opened when it drops) rather than a pool; no TLS
//! (`sslmode=require` fails to connect; the default `prefer` falls back to plain), no
//! Azure AD or AWS IAM authentication.

use std::error::Error as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use bytes::{BufMut, Bytes, BytesMut};
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, SecondsFormat, Utc};
use futures_util::future::BoxFuture;
use serde_json::{Number, Value};
use tokio::sync::Mutex;
use tokio_postgres::types::{Format, FromSql, IsNull, ToSql, Type, to_sql_checked};
use tokio_postgres::{Client, Config, NoTls, Row, SimpleQueryMessage};

use super::{
    BindingComponent, BindingError, InvokeRequest, InvokeResponse, Metadata, OutputBinding,
};
use crate::sidecar::components::metadata::meta_duration;
use crate::sidecar::components::{Context, Instance};
use crate::sidecar::log::{self, scope};
use crate::sidecar::resources::{Component, ResourceError};

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);

pub struct Postgres {
    config: Config,
    timeout: Duration,
    client: Mutex<Option<Arc<Client>>>,
    closed: AtomicBool,
}

/// A parameter sent in text format: the server parses it as the parameter's type.
#[derive(Debug)]
struct TextParam(Option<String>);

impl ToSql for TextParam {
    fn to_sql(
        &self,
        _ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match &self.0 {
            None => Ok(IsNull::Yes),
            Some(s) => {
                out.put_slice(s.as_bytes());
                Ok(IsNull::No)
            }
        }
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }

    fn encode_format(&self, _ty: &Type) -> Format {
        Format::Text
    }

    to_sql_checked!();
}

/// One JSON parameter as text (`null` as SQL NULL; arrays and objects as JSON text).
fn text_param(v: &Value) -> TextParam {
    TextParam(match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        other => Some(other.to_string()),
    })
}

/// Any column's raw binary value, for types decoded here by hand.
struct Raw(Vec<u8>);

impl<'a> FromSql<'a> for Raw {
    fn from_sql(
        _ty: &Type,
        raw: &'a [u8],
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(raw.to_vec()))
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }
}

/// PostgreSQL's binary `numeric` as a decimal string.
fn numeric_text(raw: &[u8]) -> Option<String> {
    let word =
        |i: usize| -> Option<i16> { Some(i16::from_be_bytes([*raw.get(i)?, *raw.get(i + 1)?])) };
    let ndigits = word(0)? as usize;
    let weight = word(2)? as i32;
    let sign = word(4)? as u16;
    let dscale = word(6)?.max(0) as usize;
    match sign {
        0xC000 => return Some("NaN".into()),
        0xD000 => return Some("Infinity".into()),
        0xF000 => return Some("-Infinity".into()),
        _ => {}
    }
    let digits: Vec<i16> = (0..ndigits)
        .map(|i| word(8 + 2 * i))
        .collect::<Option<_>>()?;
    let mut int = String::new();
    for i in 0..=weight.max(-1) {
        let d = digits.get(i as usize).copied().unwrap_or(0);
        if int.is_empty() {
            if d != 0 {
                int.push_str(&d.to_string());
            }
        } else {
            int.push_str(&format!("{d:04}"));
        }
    }
    if int.is_empty() {
        int.push('0');
    }
    let mut frac = String::new();
    let mut i = weight + 1;
    while frac.len() < dscale {
        let d = if i < 0 {
            0
        } else {
            digits.get(i as usize).copied().unwrap_or(0)
        };
        frac.push_str(&format!("{d:04}"));
        i += 1;
    }
    frac.truncate(dscale);
    let sign = if sign == 0x4000 { "-" } else { "" };
    Some(if frac.is_empty() {
        format!("{sign}{int}")
    } else {
        format!("{sign}{int}.{frac}")
    })
}

fn rfc3339(t: DateTime<Utc>) -> Value {
    Value::String(t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

/// Column `i` of `row` as JSON, the way pgx's values marshal.
fn column(row: &Row, i: usize) -> Result<Value, tokio_postgres::Error> {
    let ty = row.columns()[i].type_().clone();
    macro_rules! get {
        ($t:ty, $f:expr) => {
            row.try_get::<_, Option<$t>>(i)?.map_or(Value::Null, $f)
        };
    }
    Ok(match ty {
        Type::BOOL => get!(bool, Value::Bool),
        Type::INT2 => get!(i16, Value::from),
        Type::INT4 => get!(i32, Value::from),
        Type::INT8 => get!(i64, Value::from),
        Type::OID => get!(u32, Value::from),
        Type::FLOAT4 => get!(f32, |v| Number::from_f64(f64::from(v))
            .map_or(Value::Null, Value::Number)),
        Type::FLOAT8 => get!(f64, |v| Number::from_f64(v)
            .map_or(Value::Null, Value::Number)),
        Type::JSON | Type::JSONB => get!(Value, |v| v),
        Type::TIMESTAMP => get!(NaiveDateTime, |v| rfc3339(v.and_utc())),
        Type::TIMESTAMPTZ => get!(DateTime<Utc>, rfc3339),
        Type::DATE => get!(NaiveDate, |v| rfc3339(v.and_time(NaiveTime::MIN).and_utc())),
        Type::UUID => get!(uuid::Uuid, |v| Value::String(v.to_string())),
        Type::BYTEA => get!(Vec<u8>, |v| Value::String(
            base64::engine::general_purpose::STANDARD.encode(v)
        )),
        Type::NUMERIC => get!(Raw, |r| numeric_text(&r.0)
            .and_then(|s| s
                .parse::<f64>()
                .ok()
                .and_then(Number::from_f64)
                .map(Value::Number)
                .or(Some(Value::String(s))))
            .unwrap_or(Value::Null)),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
            get!(String, Value::String)
        }
        _ => get!(Raw, |r| match String::from_utf8(r.0) {
            Ok(s) => Value::String(s),
            Err(e) =>
                Value::String(base64::engine::general_purpose::STANDARD.encode(e.into_bytes())),
        }),
    })
}

fn db_error(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!(
            "{}: {} (SQLSTATE {})",
            db.severity(),
            db.message(),
            db.code().code()
        ),
        None => match e.source() {
            Some(s) => format!("{e}: {s}"),
            None => e.to_string(),
        },
    }
}

impl Postgres {
    /// Opens the connection, bounded by `timeout`.
    async fn connect(config: &Config, timeout: Duration) -> Result<Arc<Client>, String> {
        let (client, connection) = tokio::time::timeout(timeout, config.connect(NoTls))
            .await
            .map_err(|_| format!("unable to connect to the DB: no answer within {timeout:?}"))?
            .map_err(|e| format!("unable to connect to the DB: {}", db_error(&e)))?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                log::debug(
                    scope::COMPONENTS,
                    &format!("postgres connection ended: {e}"),
                );
            }
        });
        Ok(Arc::new(client))
    }

    /// The open connection, re-opened when it dropped.
    async fn client(&self) -> Result<Arc<Client>, BindingError> {
        let mut slot = self.client.lock().await;
        if self.closed.load(Ordering::Acquire) {
            return Err(BindingError::new("component is closed"));
        }
        if let Some(c) = slot.as_ref().filter(|c| !c.is_closed()) {
            return Ok(c.clone());
        }
        let c = Self::connect(&self.config, self.timeout)
            .await
            .map_err(BindingError::new)?;
        *slot = Some(c.clone());
        Ok(c)
    }

    async fn exec(&self, sql: &str, params: &[TextParam]) -> Result<u64, BindingError> {
        let client = self.client().await?;
        let fail = |e: tokio_postgres::Error| {
            BindingError::new(format!("error executing query: {}", db_error(&e)))
        };
        if params.is_empty() {
            let messages = client.simple_query(sql).await.map_err(fail)?;
            return Ok(messages
                .iter()
                .filter_map(|m| match m {
                    SimpleQueryMessage::CommandComplete(n) => Some(*n),
                    _ => None,
                })
                .next_back()
                .unwrap_or(0));
        }
        let refs: Vec<&(dyn ToSql + Sync)> =
            params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        client.execute(sql, &refs).await.map_err(fail)
    }

    async fn query(&self, sql: &str, params: &[TextParam]) -> Result<Vec<u8>, BindingError> {
        let client = self.client().await?;
        let refs: Vec<&(dyn ToSql + Sync)> =
            params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        let rows = client
            .query(sql, &refs)
            .await
            .map_err(|e| BindingError::new(format!("error executing query: {}", db_error(&e))))?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let values = (0..row.len())
                .map(|i| column(row, i))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| {
                    BindingError::new(format!("error reading result: {}", db_error(&e)))
                })?;
            out.push(Value::Array(values));
        }
        Ok(serde_json::to_vec(&out).unwrap_or_default())
    }
}

#[async_trait]
impl OutputBinding for Postgres {
    fn operations(&self) -> &'static [&'static str] {
        &["exec", "query", "close"]
    }

    async fn invoke(&self, req: InvokeRequest) -> Result<Option<InvokeResponse>, BindingError> {
        if req.operation == "close" {
            self.close().await;
            return Ok(None);
        }
        if self.closed.load(Ordering::Acquire) {
            return Err(BindingError::new("component is closed"));
        }
        let sql = req.metadata.get("sql").cloned().unwrap_or_default();
        if sql.is_empty() {
            return Err(BindingError::new("required metadata not set: sql"));
        }
        let params: Vec<TextParam> = match req.metadata.get("params").filter(|p| !p.is_empty()) {
            None => Vec::new(),
            Some(p) => match serde_json::from_str::<Value>(p) {
                Ok(Value::Array(a)) => a.iter().map(text_param).collect(),
                Ok(_) => {
                    return Err(BindingError::new(
                        "invalid metadata property params: failed to unserialize into an array: not a JSON array",
                    ));
                }
                Err(e) => {
                    return Err(BindingError::new(format!(
                        "invalid metadata property params: failed to unserialize into an array: {e}"
                    )));
                }
            },
        };
        let start = Utc::now();
        let mut metadata = Metadata::from([
            ("operation".to_string(), req.operation.clone()),
            ("sql".to_string(), sql.clone()),
            (
                "start-time".to_string(),
                start.to_rfc3339_opts(SecondsFormat::AutoSi, true),
            ),
        ]);
        let mut data = Bytes::new();
        match req.operation.as_str() {
            "exec" => {
                let n = self.exec(&sql, &params).await?;
                metadata.insert("rows-affected".into(), n.to_string());
            }
            "query" => data = Bytes::from(self.query(&sql, &params).await?),
            other => {
                return Err(BindingError::new(format!(
                    "invalid operation type: {other}. Expected exec, query, or close"
                )));
            }
        }
        let end = Utc::now();
        metadata.insert(
            "end-time".into(),
            end.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        );
        let took = (end - start).to_std().unwrap_or_default();
        metadata.insert("duration".into(), format!("{took:?}"));
        Ok(Some(InvokeResponse { data, metadata }))
    }

    async fn close(&self) {
        self.closed.store(true, Ordering::Release);
        // Dropping the client ends the connection task.
        self.client.lock().await.take();
    }
}

fn settings(c: &Component) -> Result<(Config, Duration), ResourceError> {
    let (field, raw) = match (c.meta("connectionString"), c.meta("url")) {
        (Some(s), _) if !s.trim().is_empty() => ("connectionString", s.trim()),
        (_, Some(u)) if !u.trim().is_empty() => ("url", u.trim()),
        _ => {
            return Err(c.field_error(
                "connectionString",
                "missing connection string; e.g. host=localhost user=postgres password=example port=5432 database=postgres",
            ));
        }
    };
    let config: Config = raw
        .parse()
        .map_err(|e| c.field_error(field, format!("failed to parse connection string: {e}")))?;
    let timeout_field = if c.meta("timeout").is_some() {
        "timeout"
    } else {
        "timeoutInSeconds"
    };
    let timeout = meta_duration(c, timeout_field, DEFAULT_TIMEOUT, Duration::from_secs(1))?;
    let timeout = if timeout.is_zero() {
        DEFAULT_TIMEOUT
    } else {
        timeout
    };
    Ok((config, timeout))
}

/// Registry row: a connection string is required and must parse.
pub fn validate(c: &Component, _ctx: &Context) -> Result<(), ResourceError> {
    super::Direction::from_component(c)?;
    settings(c).map(|_| ())
}

/// Registry row: connects (bounded by `timeout`).
pub fn create(c: Component, _ctx: Context) -> BoxFuture<'static, Result<Instance, ResourceError>> {
    Box::pin(async move {
        let (config, timeout) = settings(&c)?;
        let field = if c
            .meta("connectionString")
            .is_some_and(|v| !v.trim().is_empty())
        {
            "connectionString"
        } else {
            "url"
        };
        let client = Postgres::connect(&config, timeout)
            .await
            .map_err(|e| c.field_error(field, e))?;
        let binding = Postgres {
            config,
            timeout,
            client: Mutex::new(Some(client)),
            closed: AtomicBool::new(false),
        };
        BindingComponent::instance(&c, None, Some(Arc::new(binding)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric(ndigits: i16, weight: i16, sign: u16, dscale: i16, digits: &[i16]) -> Vec<u8> {
        let mut v = Vec::new();
        for w in [ndigits, weight, sign as i16, dscale] {
            v.extend_from_slice(&w.to_be_bytes());
        }
        for d in digits {
            v.extend_from_slice(&d.to_be_bytes());
        }
        v
    }

    #[test]
    fn numerics_decode() {
        // 12345.678 = [1, 2345, 6780], weight 1, dscale 3.
        assert_eq!(
            numeric_text(&numeric(3, 1, 0, 3, &[1, 2345, 6780])).unwrap(),
            "12345.678"
        );
        // -0.05 = [500], weight -1, dscale 2.
        assert_eq!(
            numeric_text(&numeric(1, -1, 0x4000, 2, &[500])).unwrap(),
            "-0.05"
        );
        // 0
        assert_eq!(numeric_text(&numeric(0, 0, 0, 0, &[])).unwrap(), "0");
        // 100000000 = [1, 0, 0], weight 2
        assert_eq!(
            numeric_text(&numeric(1, 2, 0, 0, &[1])).unwrap(),
            "100000000"
        );
    }

    #[test]
    fn connection_strings() {
        let ok = Component::new("p", "bindings.postgresql")
            .with_meta("url", "postgres://u:p@localhost:5432/db");
        assert!(validate(&ok, &Context::new("a")).is_ok());
        let kv = Component::new("p", "bindings.postgres")
            .with_meta("connectionString", "host=localhost user=postgres port=5432");
        assert!(validate(&kv, &Context::new("a")).is_ok());
        let e = validate(
            &Component::new("p", "bindings.postgresql"),
            &Context::new("a"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("connection string"), "{e}");
    }
}
