//! Promotions of annex passages into the packet: the sealed passage, the
//! record and its provenance, and the text inserted on approval.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ids::{AnnexId, PromotionId, SectionId, UserId};
use crate::role::{ParseEnumError, kebab_enum_text};
use crate::room::RoomState;

use super::Decided;

/// Annex text travelling in a request or held by the server (a passage to
/// promote). Serializes as a plain string; its `Debug` never shows the
/// text, so logging a request cannot leak annex content.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Sealed(pub String);

impl Sealed {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sealed(<{} chars>)", self.0.chars().count())
    }
}

/// A promotion's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PromotionStatus {
    Requested,
    Approved,
    Denied,
}

kebab_enum_text!(PromotionStatus, "promotion status", [
    PromotionStatus::Requested => "requested",
    PromotionStatus::Approved => "approved",
    PromotionStatus::Denied => "denied",
]);

/// Where promoted text came from: kept with the promotion and shown with
/// the passage in the packet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    pub annex: AnnexId,
    pub annex_code: String,
    /// SHA-256 (hex) of the promoted text.
    pub passage_hash: String,
    pub approver: UserId,
    pub approved_at_ms: i64,
    /// The revision of the edit that inserted the passage.
    pub inserted_revision: u64,
}

/// A request to move an exact annex passage into a packet section.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Promotion {
    pub id: PromotionId,
    /// Per-room number, shown as `P-N`.
    pub number: u32,
    pub requester: UserId,
    pub annex: AnnexId,
    pub section: SectionId,
    pub reason: String,
    pub passage_chars: usize,
    /// SHA-256 of the passage; only shown once approved (a hash of a short
    /// pending passage would let anyone confirm a guess).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passage_hash: Option<String>,
    /// The passage itself: held by the server only, purged by retention.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passage: Option<Sealed>,
    pub at_ms: i64,
    pub status: PromotionStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided: Option<Decided>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Provenance>,
}

impl Promotion {
    /// `P-N`.
    pub fn code(&self) -> String {
        format!("P-{}", self.number)
    }

    /// The copy that may leave the server.
    pub fn redacted(&self) -> Promotion {
        let approved = self.status == PromotionStatus::Approved;
        Promotion {
            passage: None,
            passage_hash: if approved { self.passage_hash.clone() } else { None },
            ..self.clone()
        }
    }
}

/// SHA-256 (hex) of a passage.
pub fn passage_hash(passage: &str) -> String {
    crate::canonical::sha256_hex(passage.as_bytes())
}

/// The text appended to the section on approval: a new paragraph labeled
/// with the annex as its evidence, then the exact passage.
pub fn promotion_insert(annex_code: &str, passage: &str, body: &str) -> String {
    let sep = if body.is_empty() || body.ends_with("\n\n") {
        ""
    } else if body.ends_with('\n') {
        "\n"
    } else {
        "\n\n"
    };
    format!("{sep}[verified: annex:{annex_code}] {passage}")
}

/// Approved promotions whose passage the server still holds, by section.
pub fn promoted_passages(state: &RoomState) -> Vec<(SectionId, &str)> {
    state
        .access
        .promotions
        .values()
        .filter(|p| p.status == PromotionStatus::Approved)
        .filter_map(|p| p.passage.as_ref().map(|t| (p.section, t.expose())))
        .filter(|(_, t)| !t.is_empty())
        .collect()
}
