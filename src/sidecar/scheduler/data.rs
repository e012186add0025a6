//! Job payloads (`google.protobuf.Any`) and JSON, as the official runtime converts them:
//! the HTTP API stores a request's `data` (any JSON value) as a `google.protobuf.Value`
//! inside an `Any`; an HTTP app receives such a payload as its JSON, and any other payload
//! as its raw bytes; `GET` renders the `Any` the way protojson does.

use base64::Engine as _;
use prost::Message as _;
use prost_types::value::Kind;
use serde_json::{Map, Number, Value};

use super::JobData;

pub const VALUE_TYPE: &str = "type.googleapis.com/google.protobuf.Value";
const WRAPPERS: &str = "type.googleapis.com/google.protobuf.";

fn to_proto(v: &Value) -> prost_types::Value {
    let kind = match v {
        Value::Null => Kind::NullValue(0),
        Value::Bool(b) => Kind::BoolValue(*b),
        Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or(0.0)),
        Value::String(s) => Kind::StringValue(s.clone()),
        Value::Array(a) => Kind::ListValue(prost_types::ListValue {
            values: a.iter().map(to_proto).collect(),
        }),
        Value::Object(m) => Kind::StructValue(prost_types::Struct {
            fields: m.iter().map(|(k, v)| (k.clone(), to_proto(v))).collect(),
        }),
    };
    prost_types::Value { kind: Some(kind) }
}

fn number(f: f64) -> Value {
    // Whole numbers print without a fraction, as Go's protojson prints them.
    if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
        Value::Number(Number::from(f as i64))
    } else {
        Number::from_f64(f).map_or(Value::Null, Value::Number)
    }
}

fn from_proto(v: &prost_types::Value) -> Value {
    match &v.kind {
        None | Some(Kind::NullValue(_)) => Value::Null,
        Some(Kind::BoolValue(b)) => Value::Bool(*b),
        Some(Kind::NumberValue(f)) => number(*f),
        Some(Kind::StringValue(s)) => Value::String(s.clone()),
        Some(Kind::ListValue(l)) => Value::Array(l.values.iter().map(from_proto).collect()),
        Some(Kind::StructValue(s)) => Value::Object(
            s.fields
                .iter()
                .map(|(k, v)| (k.clone(), from_proto(v)))
                .collect(),
        ),
    }
}

/// A JSON value as the HTTP API stores it: a `google.protobuf.Value` in an `Any`.
pub fn from_json(v: &Value) -> JobData {
    JobData {
        type_url: VALUE_TYPE.into(),
        value: to_proto(v).encode_to_vec(),
    }
}

/// The JSON of a `google.protobuf.Value` payload; `None` for any other type.
pub fn as_json(d: &JobData) -> Option<Value> {
    if d.type_url != VALUE_TYPE {
        return None;
    }
    prost_types::Value::decode(d.value.as_slice())
        .ok()
        .map(|v| from_proto(&v))
}

/// The body an HTTP app receives: the JSON of a `Value` payload, else the payload's bytes
/// with surrounding whitespace removed.
pub fn http_body(d: &JobData) -> Vec<u8> {
    match as_json(d) {
        Some(v) => serde_json::to_vec(&v).unwrap_or_default(),
        None => d.value.trim_ascii().to_vec(),
    }
}

/// The protojson form of the payload: `{"@type": ..., "value": ...}` for `Value` and the
/// wrapper types, `{"@type": ..., "value": "<base64>"}` for other types, `{}` for an empty
/// `Any`.
pub fn to_protojson(d: &JobData) -> Value {
    if d.type_url.is_empty() && d.value.is_empty() {
        return Value::Object(Map::new());
    }
    let value = as_json(d).or_else(|| wrapper_json(d)).unwrap_or_else(|| {
        Value::String(base64::engine::general_purpose::STANDARD.encode(&d.value))
    });
    let mut m = Map::new();
    m.insert("@type".into(), Value::String(d.type_url.clone()));
    m.insert("value".into(), value);
    Value::Object(m)
}

/// The wrapper types (`StringValue`, `BytesValue`, ...) in protojson.
fn wrapper_json(d: &JobData) -> Option<Value> {
    let name = d.type_url.strip_prefix(WRAPPERS)?;
    let b = d.value.as_slice();
    Some(match name {
        "StringValue" => Value::String(String::decode(b).ok()?),
        "BytesValue" => Value::String(
            base64::engine::general_purpose::STANDARD.encode(Vec::<u8>::decode(b).ok()?),
        ),
        "BoolValue" => Value::Bool(bool::decode(b).ok()?),
        "Int32Value" => Value::from(i32::decode(b).ok()?),
        "UInt32Value" => Value::from(u32::decode(b).ok()?),
        // 64-bit integers are strings in protojson.
        "Int64Value" => Value::String(i64::decode(b).ok()?.to_string()),
        "UInt64Value" => Value::String(u64::decode(b).ok()?.to_string()),
        "DoubleValue" => number(f64::decode(b).ok()?),
        "FloatValue" => number(f64::from(f32::decode(b).ok()?)),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_round_trips_through_value() {
        for v in [
            json!("someData"),
            json!("\"xyz\""),
            json!(123),
            json!(-1.5),
            json!(null),
            json!({"expression": "val", "n": [1, true, {"x": null}]}),
            json!({"@type": "type.googleapis.com/google.protobuf.StringValue", "value": "aproto"}),
        ] {
            let d = from_json(&v);
            assert_eq!(d.type_url, VALUE_TYPE);
            assert_eq!(as_json(&d), Some(v.clone()));
            assert_eq!(serde_json::from_slice::<Value>(&http_body(&d)).unwrap(), v);
            assert_eq!(to_protojson(&d), json!({"@type": VALUE_TYPE, "value": v}));
        }
    }

    #[test]
    fn other_payloads() {
        let s = JobData {
            type_url: format!("{WRAPPERS}StringValue"),
            value: "hi".to_string().encode_to_vec(),
        };
        assert_eq!(
            to_protojson(&s),
            json!({"@type": s.type_url, "value": "hi"})
        );
        let raw = JobData {
            type_url: "type.googleapis.com/my.Thing".into(),
            value: b"  {\"a\":1}\n".to_vec(),
        };
        assert_eq!(http_body(&raw), b"{\"a\":1}");
        assert_eq!(
            to_protojson(&raw)["value"],
            json!(base64::engine::general_purpose::STANDARD.encode(&raw.value))
        );
        assert_eq!(to_protojson(&JobData::default()), json!({}));
    }
}
