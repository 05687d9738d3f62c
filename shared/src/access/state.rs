//! Everything about annex access a room holds, and lookups by `R-N`,
//! `BG-N` and `P-N`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::checks::{CheckOverride, CheckResult};
use crate::ids::{AccessRequestId, BreakGlassId, PromotionId};

use super::{AccessPolicy, AccessRequest, BreakGlass, Promotion, Purge};

/// Everything about annex access a room holds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessState {
    #[serde(default)]
    pub policy: AccessPolicy,
    #[serde(default)]
    pub requests: BTreeMap<AccessRequestId, AccessRequest>,
    #[serde(default)]
    pub break_glass: BTreeMap<BreakGlassId, BreakGlass>,
    #[serde(default)]
    pub promotions: BTreeMap<PromotionId, Promotion>,
    /// The room checks that fail right now (passing ones are not listed),
    /// as the server last evaluated them.
    #[serde(default)]
    pub checks: Vec<CheckResult>,
    /// Every check override, active and lapsed.
    #[serde(default)]
    pub overrides: Vec<CheckOverride>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purged: Option<Purge>,
}

impl AccessState {
    /// The copy that may leave the server (no promotion passages).
    pub fn redacted(&self) -> AccessState {
        let mut out = self.clone();
        for p in out.promotions.values_mut() {
            *p = p.redacted();
        }
        out
    }

    pub fn next_request_number(&self) -> u32 {
        self.requests.values().map(|r| r.number).max().unwrap_or(0) + 1
    }

    pub fn next_break_glass_number(&self) -> u32 {
        self.break_glass.values().map(|b| b.number).max().unwrap_or(0) + 1
    }

    pub fn next_promotion_number(&self) -> u32 {
        self.promotions.values().map(|p| p.number).max().unwrap_or(0) + 1
    }

    /// A request by id or `R-N`.
    pub fn request_by_name(&self, name: &str) -> Option<&AccessRequest> {
        let t = name.trim();
        if let Ok(id) = t.parse::<AccessRequestId>() {
            return self.requests.get(&id);
        }
        let n = number_of(t, &["R-", "r-", "R", "r"])?;
        self.requests.values().find(|r| r.number == n)
    }

    /// A break-glass invocation by id or `BG-N`.
    pub fn break_glass_by_name(&self, name: &str) -> Option<&BreakGlass> {
        let t = name.trim();
        if let Ok(id) = t.parse::<BreakGlassId>() {
            return self.break_glass.get(&id);
        }
        let n = number_of(t, &["BG-", "bg-", "BG", "bg"])?;
        self.break_glass.values().find(|b| b.number == n)
    }

    /// A promotion by id or `P-N`.
    pub fn promotion_by_name(&self, name: &str) -> Option<&Promotion> {
        let t = name.trim();
        if let Ok(id) = t.parse::<PromotionId>() {
            return self.promotions.get(&id);
        }
        let n = number_of(t, &["P-", "p-", "P", "p"])?;
        self.promotions.values().find(|p| p.number == n)
    }
}

fn number_of(text: &str, prefixes: &[&str]) -> Option<u32> {
    prefixes.iter().find_map(|p| text.strip_prefix(p)).and_then(|d| d.parse().ok()).filter(|n| *n > 0)
}
