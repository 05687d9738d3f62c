//! Release state: drafting → held / ready → released / escalated.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ids::UserId;
use crate::role::{ParseEnumError, kebab_enum_text};

/// A downstream review lane.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Lane {
    Privacy,
    ProductSecurity,
    AccountGovernance,
}

kebab_enum_text!(Lane, "lane", [
    Lane::Privacy => "privacy",
    Lane::ProductSecurity => "product-security",
    Lane::AccountGovernance => "account-governance",
]);

/// The room's release state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum ReleaseState {
    Drafting,
    Held { reasons: Vec<String>, by: UserId, at_ms: i64 },
    Ready { revision: u64, by: UserId, at_ms: i64 },
    Released { revision: u64, content_hash: String, lane: Lane, by: UserId, at_ms: i64 },
    Escalated { reason: String, by: UserId, at_ms: i64 },
}

impl ReleaseState {
    /// Upper-case name for status bars.
    pub fn name(&self) -> &'static str {
        match self {
            ReleaseState::Drafting => "DRAFTING",
            ReleaseState::Held { .. } => "HELD",
            ReleaseState::Ready { .. } => "READY",
            ReleaseState::Released { .. } => "RELEASED",
            ReleaseState::Escalated { .. } => "ESCALATED",
        }
    }

    /// Escalated rooms are read-only for everyone.
    pub fn is_read_only(&self) -> bool {
        matches!(self, ReleaseState::Escalated { .. })
    }
}
