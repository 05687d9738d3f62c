//! The export bundle: the packet, the register with threads and history,
//! the annex map (references only), the readiness record and the release
//! manifest of one packet revision, as deterministic JSON or Markdown.
//!
//! Everything here is a pure function of the room state (and the manifest
//! record, when that packet revision was released): the same state gives
//! byte-identical output. Nothing restricted is ever included: annexes are
//! redacted, every `[[annex:CODE]]` reference is rendered as an explicit
//! marker `[redacted: annex A1 · tenant-identifiers]`, and any annex
//! sensitive pattern found in the packet or register is replaced by that
//! marker too (then the bundle is not `exact`: its content no longer hashes
//! to the room's content hash). Missing or stale references are marked.

mod markdown;
mod packet;

pub use markdown::*;
pub use packet::*;

use std::fmt::{self, Write as _};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::annex::Annex;
use crate::canonical::{canonical_json, content_hash, sha256_hex};
use crate::ids::{RoomId, SectionId, UserId};
use crate::manifest::ManifestRecord;
use crate::objection::{Objection, ObjectionStatus};
use crate::readiness::{Blocker, HeldAnnex, Residual, boundary_checked, content_blockers, held_annexes, residual};
use crate::release::Lane;
use crate::role::{ParseEnumError, kebab_enum_text};
use crate::room::RoomState;
use crate::statement::{StatementLabel, statements};

/// The `format` of every JSON bundle this module writes.
pub const EXPORT_FORMAT: &str = "trustroom-export/1";

/// The two export formats.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    #[default]
    Json,
    Markdown,
}

kebab_enum_text!(ExportFormat, "export format", [
    ExportFormat::Json => "json",
    ExportFormat::Markdown => "markdown",
]);

/// The marker standing where restricted detail (or an annex reference) was.
pub fn redaction_marker(code: &str, classification: &str) -> String {
    format!("[redacted: annex {code} · {classification}]")
}

/// Replaces every occurrence (case-insensitive) of any annex's sensitive
/// patterns in `text` with that annex's redaction marker. Returns the text
/// and the codes of the annexes found (sorted, unique). Never lets a
/// pattern through: if one still matches after the replacement (an exotic
/// case mapping), the whole text becomes markers.
pub fn redact_sensitive<'a>(text: &str, annexes: impl IntoIterator<Item = &'a Annex>) -> (String, Vec<String>) {
    let mut patterns: Vec<(Vec<char>, &'a Annex)> = Vec::new();
    let annexes: Vec<&'a Annex> = annexes.into_iter().collect();
    for a in &annexes {
        for p in a.sensitive.iter().filter(|p| !p.is_empty()) {
            patterns.push((p.chars().collect(), a));
        }
    }
    if patterns.is_empty() || text.is_empty() {
        return (text.to_string(), Vec::new());
    }
    // Longest first, so a pattern containing another is replaced whole.
    patterns.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.1.code.cmp(&b.1.code)));
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut hit: Vec<String> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let found = patterns.iter().find(|(p, _)| {
            i + p.len() <= chars.len() && p.iter().zip(&chars[i..]).all(|(a, b)| a.to_lowercase().eq(b.to_lowercase()))
        });
        match found {
            Some((p, annex)) => {
                out.push_str(&redaction_marker(&annex.code, &annex.classification));
                if !hit.contains(&annex.code) {
                    hit.push(annex.code.clone());
                }
                i += p.len();
            }
            None => {
                out.push(chars[i]);
                i += 1;
            }
        }
    }
    let still: Vec<&&Annex> = annexes.iter().filter(|a| !a.leaks_in(&out).is_empty()).collect();
    if !still.is_empty() {
        out = still.iter().map(|a| redaction_marker(&a.code, &a.classification)).collect::<Vec<_>>().join(" ");
        for a in still {
            if !hit.contains(&a.code) {
                hit.push(a.code.clone());
            }
        }
    }
    hit.sort_by_key(|c| crate::readiness::annex_code_key(c));
    (out, hit)
}

/// A section as the content hash covers it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SectionContent {
    pub id: SectionId,
    pub title: String,
    pub body: String,
}

/// Exactly what the content hash covers (see `canonical::content_hash`):
/// sections in packet order, the register and the redacted annex map, both
/// ascending by id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HashedContent {
    pub sections: Vec<SectionContent>,
    pub register: Vec<Objection>,
    pub annexes: Vec<Annex>,
}

/// The hashed content of a state (annexes redacted).
pub fn hashed_content(state: &RoomState) -> HashedContent {
    HashedContent {
        sections: state
            .sections
            .iter()
            .map(|s| SectionContent { id: s.id, title: s.title.clone(), body: s.body.clone() })
            .collect(),
        register: state.objections.values().cloned().collect(),
        annexes: state.annexes.values().map(Annex::redacted).collect(),
    }
}

/// SHA-256 of the canonical JSON of any value.
pub fn digest<T: Serialize>(value: &T) -> String {
    sha256_hex(&canonical_json(value))
}

/// One statement of the packet as exported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PacketStatement {
    /// Paragraph index in the section (0-based).
    pub index: usize,
    pub label: StatementLabel,
    /// The paragraph with every annex reference and any restricted detail
    /// replaced by a marker.
    pub text: String,
    /// Missing or stale references and redactions in this paragraph.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub marks: Vec<String>,
}

/// One section of the packet as exported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PacketSection {
    pub id: SectionId,
    pub title: String,
    /// SHA-256 of the canonical `{"body","id","title"}` of the section.
    pub digest: String,
    pub statements: Vec<PacketStatement>,
}

/// A member, for names in the register and readiness.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberRef {
    pub user: UserId,
    pub name: String,
    pub role: String,
}

/// The content part of the readiness record (the co-sign side is in the
/// manifest; release state is not part of a packet revision).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoreReadiness {
    pub owners: Vec<UserId>,
    pub blockers: Vec<Blocker>,
    pub residual: Vec<Residual>,
    pub held_annexes: Vec<HeldAnnex>,
    pub lanes: Vec<Lane>,
    pub boundary_checked: bool,
}

/// A marked problem: where, and what.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mark {
    #[serde(rename = "where")]
    pub at: String,
    pub mark: String,
}

/// Everything about one packet revision that the bundle binds (and the
/// manifest's `bundle_digest` covers).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportCore {
    pub room: RoomId,
    pub title: String,
    /// The packet revision: the revision of the newest content change.
    pub revision: u64,
    /// The room's content hash at this revision.
    pub content_hash: String,
    /// True when `content` is exactly what `content_hash` covers; false
    /// when restricted detail had to be redacted from it.
    pub exact: bool,
    /// The hashed content (see [`HashedContent`]).
    pub content: HashedContent,
    /// The packet rendered with markers, statement by statement.
    pub packet: Vec<PacketSection>,
    pub members: Vec<MemberRef>,
    pub readiness: CoreReadiness,
    pub marks: Vec<Mark>,
}

/// The bundle: `{"core", "format", "release"}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Bundle {
    pub format: String,
    pub core: ExportCore,
    /// The manifest and release event, when this packet revision was released.
    pub release: Option<ManifestRecord>,
    /// The room's working metrics at the exported room revision (not
    /// covered by the manifest: they move with suggestions and access,
    /// which do not change the packet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<ExportStats>,
    /// The hold register at the exported room revision, open and cleared
    /// (not in a released packet revision's bundle, whose every byte the
    /// manifest covers: its manifest lists the holds cleared since the
    /// release before).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub holds: Vec<crate::holds::HoldEntry>,
    /// The transformation trace of the exported packet revision (an
    /// unreleased one's; a released one's is in its release record, bound
    /// by the manifest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<crate::trace::Trace>,
}

/// The metrics an export carries: [`crate::stats::RoomStats`] without the
/// per-bucket series (sparklines are for screens) and without annex views
/// (viewing must not change an export's bytes).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportStats {
    pub suggestions: crate::stats::Outcomes,
    pub by_role: Vec<crate::stats::RoleOutcomes>,
    pub by_human: Vec<crate::stats::HumanOutcomes>,
    pub objections: crate::stats::ObjectionCounts,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_ready_after_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_release_after_ms: Option<i64>,
    pub access: crate::stats::AccessCounts,
    pub edits: u64,
    #[serde(default)]
    pub handoff: crate::handoff_stats::HandoffStats,
}

impl ExportStats {
    /// The export's metrics of `state` from its revision log.
    pub fn of(state: &RoomState, log: &[crate::change::Revision]) -> ExportStats {
        let st = crate::stats::compute(state, log, None);
        ExportStats {
            suggestions: st.suggestions,
            by_role: st.by_role,
            by_human: st.by_human,
            objections: st.objections,
            first_ready_after_ms: st.first_ready_after_ms,
            first_release_after_ms: st.first_release_after_ms,
            access: st.access,
            edits: st.edits,
            handoff: st.handoff,
        }
    }
}

#[cfg(test)]
mod tests;
