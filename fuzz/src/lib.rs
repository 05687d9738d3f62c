//! Fuzz targets as plain functions over bytes, used by the cargo-fuzz
//! binaries beside this file (`fuzz_targets/`, libFuzzer) and by a stable
//! `cargo test` that replays the committed corpus
//! (`shared/tests/fuzz_corpus.rs` includes this file as a module). Each
//! function panics when an invariant breaks; on any input it must return
//! without panicking, hanging or allocating without bound. They live here,
//! outside the `trustroom-shared` library, because panicking is their job.

use serde_json::Value;

use trustroom_shared::canonical::canonical_json;
use trustroom_shared::ot::{Component, OpLimits, TextOp, WireComponent, WireOp, transform_server};
use trustroom_shared::protocol::{ClientFrame, ErrorCode, hello_frame, parse_hello, parse_request};

/// The protocol decoder: `parse_request` and `parse_hello` on arbitrary
/// text. Accepted frames must round-trip (serialize, parse again, same
/// request); refusals must name a stable code and never echo an id that
/// breaks the id rules.
pub fn protocol_decoder(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match parse_request(text) {
        Ok(frame) => {
            assert!(!frame.id.is_empty() && frame.id.len() <= trustroom_shared::protocol::MAX_REQUEST_ID_LEN);
            let again = serde_json::to_string(&frame).expect("an accepted frame serializes");
            let reparsed: ClientFrame = parse_request(&again).expect("a re-serialized frame parses");
            assert_eq!(reparsed, frame, "request does not round-trip: {again}");
        }
        Err((id, code, message)) => {
            assert!(!message.is_empty());
            assert_ne!(code, ErrorCode::Internal);
            if let Some(id) = id {
                assert!(id.len() <= trustroom_shared::protocol::MAX_REQUEST_ID_LEN, "echoed id too long");
            }
        }
    }
    match parse_hello(text) {
        Ok(hello) => {
            let again = hello_frame(&hello);
            let reparsed = parse_hello(&again).expect("a re-serialized hello parses");
            assert_eq!(reparsed, hello, "hello does not round-trip: {again}");
        }
        Err((code, message)) => {
            assert!(!message.is_empty());
            assert_ne!(code, ErrorCode::Internal);
        }
    }
}

/// Reads bytes as a stream of small decisions.
struct Bytes<'a> {
    data: &'a [u8],
}

impl Bytes<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (first, rest) = self.data.split_first()?;
        self.data = rest;
        Some(*first)
    }

    fn u32(&mut self) -> Option<u32> {
        let mut v = 0u32;
        for _ in 0..4 {
            v = (v << 8) | u32::from(self.byte()?);
        }
        Some(v)
    }
}

/// Characters texts and inserts are made of: ASCII, multi-byte scalars and
/// the newline forms the server normalizes.
const ALPHABET: [&str; 12] = ["a", "b", " ", "\n", "é", "漢", "🦀", "\r", "\r\n", "\t", "z", "ß"];

fn text_from(bytes: &mut Bytes<'_>, max: usize) -> String {
    let n = bytes.byte().map_or(0, |b| usize::from(b) % (max + 1));
    (0..n).filter_map(|_| bytes.byte()).map(|b| ALPHABET[usize::from(b) % ALPHABET.len()]).collect()
}

/// A wire operation from bytes: mostly shaped to fit a text of `len`
/// chars, sometimes hostile (any i64 count, zero, empty insert).
fn wire_from(bytes: &mut Bytes<'_>, len: usize) -> WireOp {
    let mut wire = WireOp::new();
    let mut left = len;
    let steps = bytes.byte().map_or(0, |b| usize::from(b % 12));
    for _ in 0..steps {
        let Some(kind) = bytes.byte() else { break };
        match kind % 8 {
            0 | 1 if left > 0 => {
                let n = bytes.byte().map_or(1, |b| usize::from(b) % left + 1);
                left -= n;
                wire.push(WireComponent::Count(n as i64));
            }
            2 if left > 0 => {
                let n = bytes.byte().map_or(1, |b| usize::from(b) % left + 1);
                left -= n;
                wire.push(WireComponent::Count(-(n as i64)));
            }
            3 | 4 => {
                let s = text_from(bytes, 6);
                wire.push(WireComponent::Text(s));
            }
            5 => {
                // Hostile count: anything an i64 holds.
                let hi = i64::from(bytes.u32().unwrap_or(0));
                let lo = i64::from(bytes.u32().unwrap_or(0));
                wire.push(WireComponent::Count((hi << 32) | lo));
            }
            6 => wire.push(WireComponent::Count(if kind & 0x80 == 0 { 0 } else { i64::MIN })),
            _ => {}
        }
    }
    if left > 0 && bytes.byte().is_none_or(|b| b % 4 != 0) {
        wire.push(WireComponent::Count(left as i64));
    }
    wire
}

fn deleted(op: &TextOp) -> usize {
    op.components().iter().map(|c| if let Component::Delete(n) = c { *n } else { 0 }).sum()
}

fn inserted(op: &TextOp) -> usize {
    op.components().iter().map(|c| if let Component::Insert(s) = c { s.chars().count() } else { 0 }).sum()
}

/// The wire-operation validator and transform/apply: two operations from
/// bytes over a text from bytes, validated with small limits; whatever is
/// accepted must apply, transform, converge (TP1), compose and invert.
pub fn ot_ops(data: &[u8]) {
    // Also the raw JSON form, as a client would send it.
    if let Ok(wire) = serde_json::from_slice::<WireOp>(data) {
        let limits = OpLimits { max_components: 64, max_text_chars: 256 };
        if let Ok(op) = TextOp::from_wire(&wire, limits) {
            assert!(op.base_len() <= 256 && op.target_len() <= 256);
            let back = TextOp::from_wire(&op.to_wire(), limits).expect("to_wire of a valid op is valid");
            assert_eq!(back, op);
        }
    }
    let mut bytes = Bytes { data };
    let base = text_from(&mut bytes, 24);
    let len = base.chars().count();
    let limits = OpLimits { max_components: 16, max_text_chars: 64 };
    let wa = wire_from(&mut bytes, len);
    let wb = wire_from(&mut bytes, len);
    let (Ok(a), Ok(b)) = (TextOp::from_wire(&wa, limits), TextOp::from_wire(&wb, limits)) else { return };
    assert_eq!(TextOp::from_wire(&a.to_wire(), limits).as_ref(), Ok(&a));
    let (after_a, after_b) = match (a.apply(&base), b.apply(&base)) {
        (Ok(x), Ok(y)) => (x, y),
        (ra, rb) => {
            // Only a length mismatch may refuse an operation.
            assert!(a.base_len() != len || ra.is_ok(), "apply refused a fitting op: {ra:?}");
            assert!(b.base_len() != len || rb.is_ok(), "apply refused a fitting op: {rb:?}");
            return;
        }
    };
    assert_eq!(after_a.chars().count(), a.target_len());
    assert_eq!(a.target_len() + a.base_len(), len + len - deleted(&a) + inserted(&a));
    // TP1: both orders reach the same text.
    let (a2, b2) = TextOp::transform(&a, &b).expect("ops on the same base transform");
    let left = b2.apply(&after_a).expect("b' applies after a");
    let right = a2.apply(&after_b).expect("a' applies after b");
    assert_eq!(left, right, "transform does not converge");
    // The server's transform is the same with the accepted op winning ties.
    let incoming = transform_server(&b, &a).expect("server transform");
    assert_eq!(incoming.apply(&after_a).expect("server op applies"), left);
    // compose(a, b') == a then b'; invert undoes.
    let ab = a.compose(&b2).expect("a composes with b'");
    assert_eq!(ab.apply(&base).expect("composition applies"), left);
    let undo = a.invert(&base);
    assert_eq!(undo.apply(&after_a).expect("inverse applies"), base);
    // Cursor transforms stay inside the text.
    for i in 0..=len {
        assert!(a.transform_index(i) <= a.target_len());
    }
}

/// The canonicalizer: any JSON value's canonical form parses back to the
/// same value, is a fixed point, has sorted keys and no whitespace outside
/// strings.
pub fn canonical(data: &[u8]) {
    let Ok(value) = serde_json::from_slice::<Value>(data) else { return };
    let bytes = canonical_json(&value);
    let text = std::str::from_utf8(&bytes).expect("canonical JSON is UTF-8");
    let back: Value = serde_json::from_str(text).expect("canonical JSON parses");
    check_sorted(&back);
    if has_float(&value) {
        // Found by this target: serde_json without `float_roundtrip` reads
        // some shortest float representations back one ulp off (e.g.
        // 1.0000000060000003), so floats do not round-trip exactly. Room
        // content hashes only ever encode integers (see `canonical`), so
        // the exact checks below apply to integer-only values.
        return;
    }
    assert_eq!(back, value, "canonical form changes the value: {text}");
    assert_eq!(canonical_json(&back), bytes, "canonical form is not a fixed point");
    // Same bytes whatever the order the keys came in.
    if let Value::Object(map) = &value {
        let reversed: String = {
            let parts: Vec<String> =
                map.iter().rev().map(|(k, v)| format!("{}:{}", Value::String(k.clone()), v)).collect();
            format!("{{{}}}", parts.join(","))
        };
        if let Ok(v2) = serde_json::from_str::<Value>(&reversed) {
            assert_eq!(canonical_json(&v2), bytes);
        }
    }
}

fn has_float(v: &Value) -> bool {
    match v {
        Value::Number(n) => n.is_f64(),
        Value::Object(map) => map.values().any(has_float),
        Value::Array(items) => items.iter().any(has_float),
        _ => false,
    }
}

fn check_sorted(v: &Value) {
    match v {
        Value::Object(map) => {
            let keys: Vec<&String> = map.keys().collect();
            assert!(keys.windows(2).all(|w| w[0] < w[1]), "keys not sorted");
            map.values().for_each(check_sorted);
        }
        Value::Array(items) => items.iter().for_each(check_sorted),
        _ => {}
    }
}

/// A fuzz target: bytes in, a panic when an invariant breaks.
pub type Target = fn(&[u8]);

/// The targets by name (for corpus replay).
pub const TARGETS: [(&str, Target); 3] =
    [("protocol_decoder", protocol_decoder), ("ot_ops", ot_ops), ("canonical", canonical)];
