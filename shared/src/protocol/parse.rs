//! Parsing the client's text frames: the handshake and requests, with
//! stable error codes for each kind of bad input.

use std::fmt;

use serde_json::Value;

use super::{ClientFrame, ErrorCode, Hello, MAX_REQUEST_ID_LEN, Request};

/// Parses one client text frame after the handshake into a request, with
/// stable error codes for each kind of bad input.
pub fn parse_request(text: &str) -> Result<ClientFrame, (Option<String>, ErrorCode, String)> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| (None, ErrorCode::Malformed, format!("not valid JSON: {e}")))?;
    let id_hint = value.get("id").and_then(Value::as_str).filter(|s| s.len() <= MAX_REQUEST_ID_LEN).map(String::from);
    reject_duplicate_keys(text).map_err(|m| (id_hint, ErrorCode::Invalid, m))?;
    let Value::Object(obj) = &value else {
        return Err((None, ErrorCode::Malformed, "a frame must be a JSON object".into()));
    };
    let id = match obj.get("id") {
        Some(Value::String(s)) if !s.is_empty() && s.len() <= MAX_REQUEST_ID_LEN => s.clone(),
        Some(Value::String(_)) => {
            return Err((None, ErrorCode::Invalid, format!("`id` must be 1..={MAX_REQUEST_ID_LEN} bytes")));
        }
        Some(_) => return Err((None, ErrorCode::Invalid, "`id` must be a string".into())),
        None => return Err((None, ErrorCode::Invalid, "missing request `id`".into())),
    };
    let ty = match obj.get("type") {
        Some(Value::String(s)) => s.as_str(),
        Some(_) => return Err((Some(id), ErrorCode::Invalid, "`type` must be a string".into())),
        None => return Err((Some(id), ErrorCode::Invalid, "missing `type`".into())),
    };
    if ty == "hello" {
        return Err((Some(id), ErrorCode::Invalid, "already authenticated: `hello` only once".into()));
    }
    if !Request::is_type(ty) {
        let shown: String = ty.chars().take(40).collect();
        return Err((Some(id), ErrorCode::UnknownType, format!("unknown message type {shown:?}")));
    }
    let request: Request =
        serde_json::from_value(value.clone()).map_err(|e| (Some(id.clone()), ErrorCode::Invalid, e.to_string()))?;
    // Sequence numbers are stored as signed 64-bit integers: a larger one
    // could not be told apart from another after a restart.
    if request.seq().is_some_and(|s| s > crate::requests::MAX_SEQ) {
        return Err((
            Some(id),
            ErrorCode::Invalid,
            format!(
                "`seq` must be between 0 and {} (it is stored as a signed 64-bit integer)",
                crate::requests::MAX_SEQ
            ),
        ));
    }
    Ok(ClientFrame { id, request })
}

/// Parses the handshake frame.
pub fn parse_hello(text: &str) -> Result<Hello, (ErrorCode, String)> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| (ErrorCode::Malformed, format!("not valid JSON: {e}")))?;
    reject_duplicate_keys(text).map_err(|m| (ErrorCode::Invalid, m))?;
    match value.get("type") {
        Some(Value::String(t)) if t == "hello" => {}
        _ => return Err((ErrorCode::Unauthenticated, "the first frame must be `hello`".into())),
    }
    serde_json::from_value(value).map_err(|e| (ErrorCode::Invalid, format!("bad hello: {e}")))
}

/// Serializes the handshake frame.
pub fn hello_frame(hello: &Hello) -> String {
    let mut v = serde_json::to_value(hello).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.insert("type".into(), Value::String("hello".into()));
    }
    v.to_string()
}

/// Refuses JSON objects that repeat a key: a proxy reading the first
/// occurrence and the server reading the last must never disagree.
fn reject_duplicate_keys(text: &str) -> Result<(), String> {
    use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};

    struct Check;
    impl<'de> serde::Deserialize<'de> for Check {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(CheckVisitor)
        }
    }
    struct CheckVisitor;
    impl<'de> Visitor<'de> for CheckVisitor {
        type Value = Check;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_bool<E>(self, _: bool) -> Result<Check, E> {
            Ok(Check)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Check, E> {
            Ok(Check)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Check, E> {
            Ok(Check)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Check, E> {
            Ok(Check)
        }
        fn visit_str<E>(self, _: &str) -> Result<Check, E> {
            Ok(Check)
        }
        fn visit_unit<E>(self) -> Result<Check, E> {
            Ok(Check)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Check, A::Error> {
            while seq.next_element::<Check>()?.is_some() {}
            Ok(Check)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Check, A::Error> {
            let mut seen = std::collections::HashSet::new();
            while let Some(key) = map.next_key::<String>()? {
                if !seen.insert(key.clone()) {
                    let shown: String = key.chars().take(40).collect();
                    return Err(serde::de::Error::custom(format!("duplicate key {shown:?}")));
                }
                map.next_value::<Check>()?;
            }
            Ok(Check)
        }
    }
    serde_json::from_str::<Check>(text).map(|_| ()).map_err(|e| format!("invalid JSON object: {e}"))
}
