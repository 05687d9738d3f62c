//! The disagreement register: objections, their anchors, threads and status.

use serde::{Deserialize, Serialize};

use crate::ids::{ObjectionId, ReplyId, SectionId, UserId};
use crate::role::{ParseEnumError, kebab_enum_text};
use std::fmt;
use std::str::FromStr;

/// What an objection is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ObjectionKind {
    ExposureScope,
    EvidenceSufficiency,
    Wording,
    Sensitivity,
    Other,
}

kebab_enum_text!(ObjectionKind, "objection kind", [
    ObjectionKind::ExposureScope => "exposure-scope",
    ObjectionKind::EvidenceSufficiency => "evidence-sufficiency",
    ObjectionKind::Wording => "wording",
    ObjectionKind::Sensitivity => "sensitivity",
    ObjectionKind::Other => "other",
]);

/// Lifecycle: `open` → `addressed` | `withdrawn` | `accepted-residual`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ObjectionStatus {
    Open,
    Addressed,
    Withdrawn,
    AcceptedResidual,
}

kebab_enum_text!(ObjectionStatus, "objection status", [
    ObjectionStatus::Open => "open",
    ObjectionStatus::Addressed => "addressed",
    ObjectionStatus::Withdrawn => "withdrawn",
    ObjectionStatus::AcceptedResidual => "accepted-residual",
]);

/// Where an objection points.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anchor {
    pub section: SectionId,
    /// Paragraph index in the section, when it is about one statement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statement: Option<usize>,
    /// The quoted text it is about, when anchored to a selection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote: Option<String>,
}

/// One reply in an objection's thread.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    pub id: ReplyId,
    pub author: UserId,
    pub text: String,
    pub at_ms: i64,
}

/// One status change, kept as history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    pub status: ObjectionStatus,
    pub by: UserId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rationale: Option<String>,
    pub at_ms: i64,
}

/// An objection in the register. Never deleted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Objection {
    pub id: ObjectionId,
    /// Per-room number, shown as `O-N` and used by `[contested: O-N]`.
    pub number: u32,
    pub author: UserId,
    pub anchor: Anchor,
    pub kind: ObjectionKind,
    pub blocking: bool,
    pub text: String,
    pub status: ObjectionStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rationale: Option<String>,
    pub replies: Vec<Reply>,
    pub history: Vec<StatusChange>,
    pub at_ms: i64,
}

impl Objection {
    /// `O-N`.
    pub fn code(&self) -> String {
        format!("O-{}", self.number)
    }

    pub fn is_open(&self) -> bool {
        self.status == ObjectionStatus::Open
    }
}

/// Whether `from → to` is a legal status move.
pub fn status_move_allowed(from: ObjectionStatus, to: ObjectionStatus) -> bool {
    from == ObjectionStatus::Open && to != ObjectionStatus::Open
}
