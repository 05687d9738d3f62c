//! Canonical encoding and content hashes.
//!
//! The canonical form of a value is its JSON with object keys sorted by
//! code point and no insignificant whitespace (RFC 8785's model; we only
//! emit integers, so number formatting is never ambiguous). The content hash
//! of a room is SHA-256 over the canonical encoding of
//! `{"annexes": …, "register": …, "sections": …}`, where annexes are the
//! redacted annex map plus each annex's content hash.

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::room::RoomState;

/// Canonical JSON bytes of any serializable value.
pub fn canonical_json<T: Serialize>(value: &T) -> Vec<u8> {
    // serde_json's Map is a BTreeMap (no `preserve_order`), so converting to
    // a Value sorts every object's keys.
    let v: Value = serde_json::to_value(value).unwrap_or(Value::Null);
    let mut out = Vec::new();
    write_canonical(&v, &mut out);
    out
}

fn write_canonical(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Object(map) => {
            out.push(b'{');
            for (i, (k, val)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(Value::String(k.clone()).to_string().as_bytes());
                out.push(b':');
                write_canonical(val, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, val) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(val, out);
            }
            out.push(b']');
        }
        other => out.extend_from_slice(other.to_string().as_bytes()),
    }
}

/// SHA-256 (lower-case hex) of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The room's content hash: packet + register + annex map.
pub fn content_hash(state: &RoomState) -> String {
    #[derive(Serialize)]
    struct Content<'a> {
        sections: Vec<SectionContent<'a>>,
        register: Vec<&'a crate::objection::Objection>,
        annexes: Vec<crate::annex::Annex>,
    }
    #[derive(Serialize)]
    struct SectionContent<'a> {
        id: String,
        title: &'a str,
        body: &'a str,
    }
    let content = Content {
        sections: state
            .sections
            .iter()
            .map(|s| SectionContent { id: s.id.to_string(), title: &s.title, body: &s.body })
            .collect(),
        register: state.objections.values().collect(),
        annexes: state.annexes.values().map(|a| a.redacted()).collect(),
    };
    sha256_hex(&canonical_json(&content))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sorted_no_whitespace() {
        let v = serde_json::json!({"b": 1, "a": {"d": [1, "x"], "c": null}});
        assert_eq!(String::from_utf8(canonical_json(&v)).expect("utf8"), r#"{"a":{"c":null,"d":[1,"x"]},"b":1}"#);
    }
}
