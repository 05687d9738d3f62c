//! The wire form of a text operation and its checks: [`TextOp::from_wire`]
//! for a request's [`WireOp`], and the `Serialize`/`Deserialize` of a typed
//! [`TextOp`] (the same JSON array, read under [`OpLimits::DECODE`]).

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};

use super::{Component, OpError, TextOp};

/// Limits applied when turning a wire operation into a [`TextOp`].
#[derive(Clone, Copy, Debug)]
pub struct OpLimits {
    /// Most components in one operation.
    pub max_components: usize,
    /// Most characters the resulting text may have.
    pub max_text_chars: usize,
}

impl Default for OpLimits {
    fn default() -> Self {
        Self { max_components: 10_000, max_text_chars: 1_000_000 }
    }
}

impl OpLimits {
    /// The ceiling under which a [`TextOp`] is decoded from JSON: events a
    /// client receives and changes or snapshots read back from storage.
    ///
    /// We chose a *bounded `Deserialize`* over decoding the wire form and
    /// parsing it again wherever an operation is used: the checks of
    /// [`TextOp::from_wire`] run once, while the JSON is read, and what
    /// comes out is typed. The real size limits are the server's own
    /// (configurable, so unknown to a client); they are applied at the
    /// server's edge, to a request's wire operation, capped at this
    /// ceiling ([`OpLimits::capped`]) so the server never stores an
    /// operation it could not decode again. Storage reads are trusted data
    /// we wrote under those (stored) limits: they decode under this same
    /// ceiling. Its job is structure and arithmetic, not policy: no zero
    /// counts or empty inserts, and lengths far from `usize` overflow even
    /// from a hostile server (an unlimited parse could wrap).
    pub const DECODE: OpLimits = OpLimits { max_components: 1 << 24, max_text_chars: 1 << 40 };

    /// These limits, at most [`OpLimits::DECODE`].
    pub fn capped(self) -> OpLimits {
        OpLimits {
            max_components: self.max_components.min(Self::DECODE.max_components),
            max_text_chars: self.max_text_chars.min(Self::DECODE.max_text_chars),
        }
    }
}

/// One wire component: positive = retain, negative = delete, string = insert.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum WireComponent {
    Count(i64),
    Text(String),
}

/// The wire form of an operation.
pub type WireOp = Vec<WireComponent>;

impl TextOp {
    /// Builds an operation from its wire form, refusing anything malformed
    /// or larger than `limits` before doing arithmetic on it.
    pub fn from_wire(wire: &[WireComponent], limits: OpLimits) -> Result<Self, OpError> {
        if wire.len() > limits.max_components {
            return Err(OpError::TooLarge(format!("{} components (limit {})", wire.len(), limits.max_components)));
        }
        let mut builder = WireBuilder::new(limits);
        for c in wire {
            match c {
                WireComponent::Count(n) => builder.count(*n)?,
                WireComponent::Text(s) => builder.text(s)?,
            }
        }
        Ok(builder.op)
    }

    /// The wire form.
    pub fn to_wire(&self) -> WireOp {
        self.components()
            .iter()
            .map(|c| match c {
                Component::Retain(n) => WireComponent::Count(*n as i64),
                Component::Insert(s) => WireComponent::Text(s.clone()),
                Component::Delete(n) => WireComponent::Count(-(*n as i64)),
            })
            .collect()
    }
}

/// Builds a [`TextOp`] from wire components one at a time, with the
/// checks of [`TextOp::from_wire`] (shared with the `Deserialize` impl).
struct WireBuilder {
    op: TextOp,
    limits: OpLimits,
    /// Largest count accepted (`limits.max_text_chars` as an `i64`).
    max: i64,
    components: usize,
}

impl WireBuilder {
    fn new(limits: OpLimits) -> Self {
        let max = i64::try_from(limits.max_text_chars).unwrap_or(i64::MAX);
        Self { op: TextOp::new(), limits, max, components: 0 }
    }

    /// Counts one more component against the limit (for a stream whose
    /// length is not known up front).
    fn next_component(&mut self) -> Result<(), OpError> {
        self.components += 1;
        if self.components > self.limits.max_components {
            return Err(OpError::TooLarge(format!("more than {} components", self.limits.max_components)));
        }
        Ok(())
    }

    /// A retain (positive) or delete (negative).
    fn count(&mut self, n: i64) -> Result<(), OpError> {
        if n == 0 {
            return Err(OpError::InvalidComponent("zero-length retain/delete".into()));
        }
        if n > self.max || n < -self.max {
            return Err(OpError::TooLarge(format!("component of length {n}")));
        }
        if n > 0 {
            self.op.retain(n as usize);
        } else {
            self.op.delete(n.unsigned_abs() as usize);
        }
        self.check_lengths()
    }

    /// An insert.
    fn text(&mut self, s: &str) -> Result<(), OpError> {
        if s.is_empty() {
            return Err(OpError::InvalidComponent("empty insert".into()));
        }
        self.op.insert(s);
        self.check_lengths()
    }

    fn check_lengths(&self) -> Result<(), OpError> {
        if self.op.base_len() > self.limits.max_text_chars || self.op.target_len() > self.limits.max_text_chars {
            return Err(OpError::TooLarge(format!("text would exceed {} characters", self.limits.max_text_chars)));
        }
        Ok(())
    }
}

/// Writes the wire array ([`TextOp::to_wire`]'s JSON, byte for byte)
/// without building it.
impl Serialize for TextOp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.components().len()))?;
        for c in self.components() {
            match c {
                Component::Retain(n) => seq.serialize_element(&(*n as i64))?,
                Component::Insert(s) => seq.serialize_element(s)?,
                Component::Delete(n) => seq.serialize_element(&-(*n as i64))?,
            }
        }
        seq.end()
    }
}

/// Reads the wire array with the checks of [`TextOp::from_wire`] under
/// [`OpLimits::DECODE`], component by component (no intermediate
/// [`WireOp`]).
impl<'de> Deserialize<'de> for TextOp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_seq(OpVisitor)
    }
}

struct OpVisitor;

impl<'de> Visitor<'de> for OpVisitor {
    type Value = TextOp;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a text operation: an array of retain counts, insert strings and negative delete counts")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<TextOp, A::Error> {
        let mut builder = WireBuilder::new(OpLimits::DECODE);
        while let Some(part) = seq.next_element::<WirePart>()? {
            builder.next_component().map_err(de::Error::custom)?;
            match part {
                WirePart::Count(n) => builder.count(n),
                WirePart::Text(s) => builder.text(&s),
            }
            .map_err(de::Error::custom)?;
        }
        Ok(builder.op)
    }
}

/// One component as read by [`OpVisitor`]: an integer or a string, read
/// directly (the untagged [`WireComponent`] buffers each value first).
enum WirePart {
    Count(i64),
    Text(String),
}

impl<'de> Deserialize<'de> for WirePart {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PartVisitor;
        impl<'de> Visitor<'de> for PartVisitor {
            type Value = WirePart;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an integer (retain or delete) or a string (insert)")
            }

            fn visit_i64<E: de::Error>(self, n: i64) -> Result<WirePart, E> {
                Ok(WirePart::Count(n))
            }

            fn visit_u64<E: de::Error>(self, n: u64) -> Result<WirePart, E> {
                i64::try_from(n).map(WirePart::Count).map_err(|_| E::custom(format!("component of length {n}")))
            }

            fn visit_str<E: de::Error>(self, s: &str) -> Result<WirePart, E> {
                Ok(WirePart::Text(s.to_string()))
            }

            fn visit_string<E: de::Error>(self, s: String) -> Result<WirePart, E> {
                Ok(WirePart::Text(s))
            }
        }
        deserializer.deserialize_any(PartVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::Change;
    use crate::ids::SectionId;

    #[test]
    fn a_typed_op_writes_its_wire_array_byte_for_byte() {
        let op = TextOp::from_texts("héllo wörld", "héllo brave wörld!");
        let typed = serde_json::to_string(&op).expect("json");
        assert_eq!(typed, serde_json::to_string(&op.to_wire()).expect("json"));
        let back: TextOp = serde_json::from_str(&typed).expect("decodes");
        assert_eq!(back, op);
    }

    #[test]
    fn a_stored_change_reads_back_typed_and_writes_the_same_bytes() {
        let section = SectionId::new();
        let stored = format!(r#"{{"kind":"section_edited","section":"{section}","op":[3,"ab",-1,2]}}"#);
        let change: Change = serde_json::from_str(&stored).expect("decodes");
        let Change::SectionEdited { op, .. } = &change else { panic!("an edit") };
        assert_eq!((op.base_len(), op.target_len()), (6, 7));
        assert_eq!(serde_json::to_string(&change).expect("json"), stored);
        let value: Change = serde_json::from_value(serde_json::from_str(&stored).expect("value")).expect("decodes");
        assert_eq!(value, change);
    }

    #[test]
    fn decoding_applies_the_from_wire_checks() {
        for bad in [
            "[0]",
            r#"[""]"#,
            "[9223372036854775807]",
            "[-9223372036854775808]",
            "[18446744073709551615]",
            "[1.5]",
            "[true]",
            "{}",
        ] {
            assert!(serde_json::from_str::<TextOp>(bad).is_err(), "{bad} must be refused");
        }
        // Normalized as `from_wire` does.
        let op: TextOp = serde_json::from_str(r#"[2,3,-1,"x"]"#).expect("valid");
        assert_eq!(serde_json::to_string(&op).expect("json"), r#"[5,"x",-1]"#);
    }
}
