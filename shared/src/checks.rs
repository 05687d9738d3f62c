//! Room checks: pure functions of the room state and the server's clock,
//! evaluated by the server after every change. Only the server holds the
//! annexes' sensitive patterns, so only it can run the annex-boundary
//! check; it publishes the failing checks in the room state
//! (`access.checks`, `checks_evaluated` events) for every client to show.
//!
//! - **annex boundary**: no annex's sensitive identifier or pattern appears
//!   in a section (title or body), except inside a passage promoted from
//!   that annex with the owner's approval. Each violation names the section
//!   and the char position, never the pattern.
//! - **access validity**: no grant is still approved past its expiry or
//!   held by someone who left, and no break-glass runs past its end.
//! - **release rules**: no content change slipped in after the owner
//!   marked the room READY (stays failing while the room is held for it,
//!   until the owner marks it ready again).
//!
//! A failing check moves the room to HELD and blocks release. The owner
//! may override one failing check with a rationale; the override covers
//! exactly what the check saw (`covered`) and lapses when that changes.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::access::{RequestStatus, promoted_passages};
use crate::canonical::{canonical_json, sha256_hex};
use crate::ids::{SectionId, UserId};
use crate::release::ReleaseState;
use crate::role::ParseEnumError;
use crate::room::{RoomState, Section};

/// The room checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    AnnexBoundary,
    AccessValidity,
    ReleaseRules,
    StaleEvidence,
}

impl CheckKind {
    pub const ALL: [CheckKind; 4] =
        [CheckKind::AnnexBoundary, CheckKind::AccessValidity, CheckKind::ReleaseRules, CheckKind::StaleEvidence];

    /// `annex_boundary`, …
    pub fn name(&self) -> &'static str {
        match self {
            CheckKind::AnnexBoundary => "annex_boundary",
            CheckKind::AccessValidity => "access_validity",
            CheckKind::ReleaseRules => "release_rules",
            CheckKind::StaleEvidence => "stale_evidence",
        }
    }

    /// `annex boundary`, … (for people).
    pub fn title(&self) -> &'static str {
        match self {
            CheckKind::AnnexBoundary => "annex boundary",
            CheckKind::AccessValidity => "access validity",
            CheckKind::ReleaseRules => "release rules",
            CheckKind::StaleEvidence => "stale evidence",
        }
    }

    /// The reason a failing check puts on the HELD state.
    pub fn hold_reason(&self) -> String {
        format!("room check failing: {}", self.title())
    }
}

impl fmt::Display for CheckKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for CheckKind {
    type Err = ParseEnumError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let n = crate::access::normalize_name(s);
        CheckKind::ALL.into_iter().find(|k| k.name() == n).ok_or(ParseEnumError {
            what: "room check",
            value: s.to_string(),
            expected: "annex_boundary access_validity release_rules stale_evidence",
        })
    }
}

/// One thing a check found. Never contains a sensitive pattern.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section: Option<SectionId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section_title: Option<String>,
    /// The annex code whose pattern matched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annex: Option<String>,
    /// Char position in the section body (absent for a title match).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<usize>,
    /// Length in chars of the match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub len: Option<usize>,
    /// One line for people.
    pub detail: String,
}

/// A failing check as evaluated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    pub check: CheckKind,
    /// One line for people.
    pub reason: String,
    pub violations: Vec<Violation>,
    /// Digest of what the check looked at; an override covers exactly this.
    pub covered: String,
    /// True while an active override covers this failure.
    #[serde(default)]
    pub overridden: bool,
    /// Release rules: the READY revision the content changed after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_revision: Option<u64>,
}

/// The owner's override of one failing check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckOverride {
    pub check: CheckKind,
    pub rationale: String,
    pub by: UserId,
    pub at_ms: i64,
    /// The failure it covers (`CheckResult::covered`).
    pub covered: String,
    /// The revision the override was recorded at.
    pub revision: u64,
    /// The revision at which it lapsed (what it covered changed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lapsed_at: Option<u64>,
}

impl CheckOverride {
    pub fn is_active(&self) -> bool {
        self.lapsed_at.is_none()
    }
}

/// Evaluates every check; returns the failing ones in `CheckKind` order,
/// marked `overridden` when an active override covers them.
pub fn evaluate(state: &RoomState, now: i64) -> Vec<CheckResult> {
    evaluate_with(state, now, boundary_violations(state))
}

/// Like [`evaluate`] with annex-boundary violations supplied by the caller
/// (the server caches them per section).
pub fn evaluate_with(state: &RoomState, now: i64, boundary: Vec<Violation>) -> Vec<CheckResult> {
    let mut out = Vec::new();
    if !boundary.is_empty() {
        out.push(boundary_result(state, boundary));
    }
    if let Some(r) = access_validity(state, now) {
        out.push(r);
    }
    if let Some(r) = release_rules(state) {
        out.push(r);
    }
    if let Some(r) = stale_evidence(state) {
        out.push(r);
    }
    mark_overridden(state, &mut out);
    out
}

fn mark_overridden(state: &RoomState, results: &mut [CheckResult]) {
    for r in results.iter_mut() {
        r.overridden = active_override(state, r.check).is_some_and(|o| o.covered == r.covered);
    }
}

/// The active override of `check`, if any.
pub fn active_override(state: &RoomState, check: CheckKind) -> Option<&CheckOverride> {
    state.access.overrides.iter().find(|o| o.check == check && o.is_active())
}

/// The published failing checks no override covers (these hold the room
/// and block release).
pub fn blocking(state: &RoomState) -> impl Iterator<Item = &CheckResult> {
    state.access.checks.iter().filter(|c| !c.overridden)
}

/// Active overrides that no longer cover a failure in `results` (the check
/// passes now, or what it covered changed): they lapse.
pub fn lapsing(state: &RoomState, results: &[CheckResult]) -> Vec<CheckKind> {
    state
        .access
        .overrides
        .iter()
        .filter(|o| o.is_active())
        .filter(|o| !results.iter().any(|r| r.check == o.check && r.covered == o.covered))
        .map(|o| o.check)
        .collect()
}

// ---------------------------------------------------------------------------
// Annex boundary
// ---------------------------------------------------------------------------

fn fold_char(c: char) -> char {
    let mut l = c.to_lowercase();
    match (l.next(), l.next()) {
        (Some(a), None) => a,
        _ => c,
    }
}

/// `text` folded char by char with [`fold_char`], as UTF-8. A folded needle
/// occurs in a folded haystack exactly when [`find_ci`] finds it in their
/// char vectors (UTF-8 matches can only start on char boundaries), so this
/// is an exact, allocation-light pre-check for the common case of no match.
fn fold_str(text: &str) -> String {
    // Unicode's lowercase table is a binary search per char; a text uses
    // few distinct non-ASCII letters, so a small direct-mapped memo of
    // recent ones answers most of them. '\0' is ASCII and never looked up,
    // so it marks an empty slot.
    let mut memo = [('\0', '\0'); 32];
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let folded = if c.is_ascii() {
            c.to_ascii_lowercase()
        } else {
            let slot = &mut memo[c as usize % 32];
            if slot.0 != c {
                *slot = (c, fold_char(c));
            }
            slot.1
        };
        out.push(folded);
    }
    out
}

/// Whether any annex's sensitive pattern occurs in `folded` (a
/// [`fold_str`] body) or in `title`.
fn may_leak(state: &RoomState, folded: &str, title: &str) -> bool {
    state.annexes.values().any(|annex| {
        !annex.leaks_in(title).is_empty()
            || annex.sensitive.iter().filter(|p| !p.is_empty()).any(|p| folded.contains(fold_str(p).as_str()))
    })
}

/// Char positions of case-insensitive occurrences of `needle` in `hay`.
fn find_ci(hay: &[char], needle: &[char]) -> Vec<usize> {
    if needle.is_empty() || needle.len() > hay.len() {
        return Vec::new();
    }
    let first = needle[0];
    (0..=hay.len() - needle.len()).filter(|&i| hay[i] == first && hay[i..i + needle.len()] == *needle).collect()
}

/// Char positions of exact occurrences of `needle` in `hay`.
fn find_exact(hay: &[char], needle: &[char]) -> Vec<usize> {
    if needle.is_empty() || needle.len() > hay.len() {
        return Vec::new();
    }
    (0..=hay.len() - needle.len()).filter(|&i| hay[i..i + needle.len()] == *needle).collect()
}

/// Whether the state carries the annexes' sensitive patterns (the server's).
pub fn has_patterns(state: &RoomState) -> bool {
    state.annexes.values().any(|a| !a.sensitive.is_empty())
}

/// Every annex-boundary violation in the packet (needs the server's state).
pub fn boundary_violations(state: &RoomState) -> Vec<Violation> {
    if !has_patterns(state) {
        return Vec::new();
    }
    let promoted = promoted_passages(state);
    state.sections.iter().flat_map(|s| section_boundary(state, s, &promoted)).collect()
}

/// The annex-boundary violations in one section. `promoted` lists the
/// approved promoted passages (from [`promoted_passages`]).
pub fn section_boundary(state: &RoomState, section: &Section, promoted: &[(SectionId, &str)]) -> Vec<Violation> {
    let mut out = Vec::new();
    // Every edit re-checks its section: the usual answer (nothing there)
    // costs one folded copy of the body and a substring search per pattern.
    if !has_patterns(state) || !may_leak(state, &fold_str(&section.body), &section.title) {
        return out;
    }
    let title = crate::export::redact_sensitive(&section.title, state.annexes.values()).0;
    let body: Vec<char> = section.body.chars().map(fold_char).collect();
    let exact: Vec<char> = section.body.chars().collect();
    let ranges: Vec<(usize, usize)> = promoted
        .iter()
        .filter(|(s, _)| *s == section.id)
        .flat_map(|(_, passage)| {
            let p: Vec<char> = passage.chars().collect();
            find_exact(&exact, &p).into_iter().map(move |i| (i, i + p.len()))
        })
        .collect();
    for annex in state.annexes.values() {
        if !annex.leaks_in(&section.title).is_empty() {
            out.push(Violation {
                section: Some(section.id),
                section_title: Some(title.clone()),
                annex: Some(annex.code.clone()),
                position: None,
                len: None,
                detail: format!("annex {} sensitive detail in the title of section \"{title}\"", annex.code),
            });
        }
        for pattern in annex.sensitive.iter().filter(|p| !p.is_empty()) {
            let needle: Vec<char> = pattern.chars().map(fold_char).collect();
            for pos in find_ci(&body, &needle) {
                let end = pos + needle.len();
                if ranges.iter().any(|(a, b)| *a <= pos && end <= *b) {
                    continue;
                }
                out.push(Violation {
                    section: Some(section.id),
                    section_title: Some(title.clone()),
                    annex: Some(annex.code.clone()),
                    position: Some(pos),
                    len: Some(needle.len()),
                    detail: format!("annex {} sensitive detail in \"{title}\" at char {pos}", annex.code),
                });
            }
        }
    }
    out.sort_by(|a, b| a.position.cmp(&b.position).then(a.annex.cmp(&b.annex)));
    out
}

/// The annex-boundary violations that block release: computed from the
/// patterns on the server (none while an active override covers exactly
/// them), or the server's published, non-overridden result on a client.
pub fn boundary_blocking(state: &RoomState) -> Vec<Violation> {
    if has_patterns(state) {
        let violations = boundary_violations(state);
        if violations.is_empty() {
            return violations;
        }
        let result = boundary_result(state, violations);
        if active_override(state, CheckKind::AnnexBoundary).is_some_and(|o| o.covered == result.covered) {
            return Vec::new();
        }
        return result.violations;
    }
    state
        .access
        .checks
        .iter()
        .find(|c| c.check == CheckKind::AnnexBoundary && !c.overridden)
        .map(|c| c.violations.clone())
        .unwrap_or_default()
}

fn boundary_result(state: &RoomState, violations: Vec<Violation>) -> CheckResult {
    // What the check saw: the text of every section with a violation.
    let mut covered: Vec<(String, &str, &str)> = state
        .sections
        .iter()
        .filter(|s| violations.iter().any(|v| v.section == Some(s.id)))
        .map(|s| (s.id.to_string(), s.title.as_str(), s.body.as_str()))
        .collect();
    covered.sort();
    let sections: Vec<&str> = {
        let mut t: Vec<&str> = violations.iter().filter_map(|v| v.section_title.as_deref()).collect();
        t.dedup();
        t
    };
    CheckResult {
        check: CheckKind::AnnexBoundary,
        reason: format!(
            "{} annex-restricted detail(s) in the packet: {}",
            violations.len(),
            sections.iter().map(|t| format!("\"{t}\"")).collect::<Vec<_>>().join(", ")
        ),
        violations,
        covered: sha256_hex(&canonical_json(&covered)),
        overridden: false,
        ready_revision: None,
    }
}

// ---------------------------------------------------------------------------
// Stale evidence
// ---------------------------------------------------------------------------

/// Statements citing a record that changed since they were checked against
/// it (see `evidence`): the room holds until each is re-confirmed, updated
/// or relabelled.
fn stale_evidence(state: &RoomState) -> Option<CheckResult> {
    let mut violations = Vec::new();
    let mut covered = Vec::new();
    for b in state.evidence.stale() {
        let Some(stale) = &b.stale else { continue };
        let title = state
            .section(b.section)
            .map(|s| crate::export::redact_sensitive(&s.title, state.annexes.values()).0)
            .unwrap_or_default();
        violations.push(Violation {
            section: Some(b.section),
            section_title: Some(title.clone()),
            annex: None,
            position: None,
            len: None,
            detail: format!(
                "{} changed since \"{title}\" cited it (cited v{}, now v{} since rev {})",
                b.source, b.version, stale.version, stale.since_revision
            ),
        });
        covered.push((b.section.to_string(), b.source.clone(), stale.digest.clone()));
    }
    if violations.is_empty() {
        return None;
    }
    let ids: Vec<&str> = state
        .evidence
        .stale()
        .map(|b| b.source.as_str())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    Some(CheckResult {
        check: CheckKind::StaleEvidence,
        reason: format!(
            "{} citation(s) of changed source records to re-confirm or relabel: {}",
            violations.len(),
            ids.join(", ")
        ),
        violations,
        covered: sha256_hex(&canonical_json(&covered)),
        overridden: false,
        ready_revision: None,
    })
}

// ---------------------------------------------------------------------------
// Access validity
// ---------------------------------------------------------------------------

fn access_validity(state: &RoomState, now: i64) -> Option<CheckResult> {
    let mut violations = Vec::new();
    let mut ids = Vec::new();
    for r in state.access.requests.values().filter(|r| r.status == RequestStatus::Approved) {
        let code = state.annexes.get(&r.annex).map_or("?", |a| a.code.as_str());
        if r.expires_at.is_none_or(|e| e <= now) {
            violations.push(violation(format!("grant {} ({code}) is still approved past its expiry", r.code())));
            ids.push(r.id.to_string());
        } else if state.member(r.requester).is_none() {
            violations.push(violation(format!("grant {} ({code}) is held by someone who left the room", r.code())));
            ids.push(r.id.to_string());
        }
    }
    for b in state.access.break_glass.values().filter(|b| b.ended.is_none()) {
        if b.ends_at <= now {
            violations.push(violation(format!("break-glass {} runs past its end", b.code())));
            ids.push(b.id.to_string());
        } else if state.member(b.user).is_none() {
            violations.push(violation(format!("break-glass {} is held by someone who left the room", b.code())));
            ids.push(b.id.to_string());
        }
    }
    if violations.is_empty() {
        return None;
    }
    Some(CheckResult {
        check: CheckKind::AccessValidity,
        reason: format!("{} access record(s) used past their end", violations.len()),
        violations,
        covered: sha256_hex(ids.join(",").as_bytes()),
        overridden: false,
        ready_revision: None,
    })
}

fn violation(detail: String) -> Violation {
    Violation { section: None, section_title: None, annex: None, position: None, len: None, detail }
}

// ---------------------------------------------------------------------------
// Release rules
// ---------------------------------------------------------------------------

fn release_rules(state: &RoomState) -> Option<CheckResult> {
    let ready = match &state.release {
        ReleaseState::Ready { revision, .. } if state.content_revision > *revision => *revision,
        // Held for it: stays failing until the owner marks the room ready again.
        ReleaseState::Held { .. } => {
            state.access.checks.iter().find(|c| c.check == CheckKind::ReleaseRules).and_then(|c| c.ready_revision)?
        }
        _ => return None,
    };
    let detail = format!(
        "the packet changed at rev {} after the owner marked it READY at rev {ready}; mark it ready again after review",
        state.content_revision
    );
    Some(CheckResult {
        check: CheckKind::ReleaseRules,
        reason: format!("content changed after READY at rev {ready}"),
        violations: vec![violation(detail)],
        covered: format!("ready:{ready}:content:{}", state.content_revision),
        overridden: false,
        ready_revision: Some(ready),
    })
}

#[cfg(test)]
mod tests;
