//! The `ok` results of the access requests.

use serde::{Deserialize, Serialize};

use crate::ids::{AccessRequestId, AnnexId, BreakGlassId, PromotionId, SectionId};

use super::{PromotionStatus, RequestStatus, Sealed};

/// What happened to one annex of a `request_access`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestOutcome {
    pub annex: AnnexId,
    pub annex_code: String,
    /// The request (new, or the one it folded into).
    pub request: AccessRequestId,
    /// `R-N`.
    pub code: String,
    /// `new`, or what it folded into: `pending` or `grant`.
    pub outcome: String,
    pub status: RequestStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

/// `ok` result of `request_access`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestAccessResult {
    /// The revision of the last change recorded.
    pub revision: u64,
    #[serde(default)]
    pub duplicate: bool,
    #[serde(default)]
    pub requests: Vec<RequestOutcome>,
}

/// `ok` result of `break_glass`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakGlassResult {
    pub revision: u64,
    pub invocation: BreakGlassId,
    /// `BG-N`.
    pub code: String,
    pub ends_at: i64,
}

/// `ok` result of `request_promotion`, `approve_promotion`, `deny_promotion`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromotionResult {
    pub revision: u64,
    pub promotion: PromotionId,
    /// `P-N`.
    pub code: String,
    pub status: PromotionStatus,
}

/// `ok` result of `view_promotion` (annex content: shown to the deciders).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromotionPassage {
    pub promotion: PromotionId,
    pub code: String,
    pub annex: AnnexId,
    pub annex_code: String,
    pub section: SectionId,
    pub section_title: String,
    pub reason: String,
    pub passage: Sealed,
    /// This view is in the audit log.
    pub logged: bool,
}

/// `ok` result of `access_history`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistoryResult {
    pub room: crate::ids::RoomId,
    pub entries: Vec<crate::access_history::HistoryEntry>,
}
