//! Evidence lineage: which registered source record (and which version of
//! it, by digest) each section's `[verified: ID]` statements were checked
//! against.
//!
//! - When a section first cites a registered record, the citation is
//!   *bound* to the record's current digest.
//! - When a new version of the record is registered, every binding to it
//!   turns *stale*: the statements citing it show as stale evidence and
//!   the stale-evidence room check holds the room.
//! - A stale binding becomes fresh again when a member re-confirms it
//!   (`confirm_evidence`), when a statement citing it is updated (its text
//!   changed after the record did), or it ends when no statement of the
//!   section cites the record any more (relabelled or removed).
//! - A citation of an id with no registered record is *unknown evidence*:
//!   a readiness blocker once the room keeps a source register.
//!
//! The server derives the binding updates after each batch
//! ([`updates`]) and commits them as one `evidence_rebound` change, so the
//! revision log holds every step (what `stats` measures "time to
//! maintain" from).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::canonical::sha256_hex;
use crate::ids::SectionId;
use crate::room::{RoomState, Section};
use crate::source::{Source, is_annex_citation};
use crate::statement::{StatementLabel, statements};

/// The room's source register and evidence bindings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceState {
    /// Registered records by id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sources: BTreeMap<String, Source>,
    /// One binding per (section, record id) the packet cites.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bindings: Vec<Binding>,
}

impl EvidenceState {
    /// Whether the room keeps a source register (citations are then checked).
    pub fn has_register(&self) -> bool {
        !self.sources.is_empty()
    }

    /// Without any record text (what leaves the server).
    pub fn redacted(&self) -> EvidenceState {
        EvidenceState {
            sources: self.sources.iter().map(|(k, s)| (k.clone(), s.redacted())).collect(),
            bindings: self.bindings.clone(),
        }
    }

    pub fn binding(&self, section: SectionId, source: &str) -> Option<&Binding> {
        self.bindings.iter().find(|b| b.section == section && b.source == source)
    }

    /// The stale bindings, in section then id order.
    pub fn stale(&self) -> impl Iterator<Item = &Binding> {
        self.bindings.iter().filter(|b| b.stale.is_some())
    }
}

/// Why a citation was bound to a record version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BindReason {
    /// The section started citing the record.
    Cited,
    /// A statement citing it was updated after the record changed.
    Updated,
    /// A member re-confirmed the statement against the new version.
    Confirmed,
}

/// Why a binding ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnbindReason {
    /// No statement of the section cites the record any more.
    Relabelled,
    /// The section is gone.
    SectionGone,
}

/// A citation bound to one version of a record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Binding {
    pub section: SectionId,
    /// The record id.
    pub source: String,
    pub version: u32,
    /// The digest the citation was checked against.
    pub digest: String,
    pub why: BindReason,
    /// The revision the binding was made at.
    pub revision: u64,
    pub at_ms: i64,
    /// Set when the record changed after the binding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stale: Option<Stale>,
}

/// A binding whose record changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stale {
    /// The record's version now.
    pub version: u32,
    pub digest: String,
    /// When the record first changed after the binding.
    pub since_revision: u64,
    pub since_ms: i64,
    /// Digest of the citing statements' text then: once they differ, the
    /// statements were updated.
    pub statements: String,
}

/// One step of the bindings, as committed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum BindingUpdate {
    Bind { section: SectionId, source: String, version: u32, digest: String, why: BindReason },
    Unbind { section: SectionId, source: String, why: UnbindReason },
}

/// The record ids each statement of `section` cites (source records only,
/// not `annex:` citations), with the statement's text.
pub fn citations(section: &Section) -> Vec<(Vec<String>, String)> {
    statements(&section.body)
        .into_iter()
        .filter_map(|s| match s.label {
            StatementLabel::Verified { evidence } => {
                let ids: Vec<String> = evidence.into_iter().filter(|e| !is_annex_citation(e)).collect();
                (!ids.is_empty()).then_some((ids, s.text))
            }
            _ => None,
        })
        .collect()
}

/// Digest of the text of the statements of `section` citing `source`.
pub fn citing_digest(section: &Section, source: &str) -> String {
    let mut all = String::new();
    for (ids, text) in citations(section) {
        if ids.iter().any(|i| i == source) {
            all.push_str(&text);
            all.push('\u{1e}');
        }
    }
    sha256_hex(all.as_bytes())
}

/// The binding updates the state needs now. `touched` limits the sections
/// looked at (`None`: all); sections gone are always unbound.
pub fn updates(state: &RoomState, touched: Option<&BTreeSet<SectionId>>) -> Vec<BindingUpdate> {
    let ev = &state.evidence;
    let mut out = Vec::new();
    if ev.sources.is_empty() && ev.bindings.is_empty() {
        return out;
    }
    for b in &ev.bindings {
        if state.section(b.section).is_none() {
            out.push(BindingUpdate::Unbind {
                section: b.section,
                source: b.source.clone(),
                why: UnbindReason::SectionGone,
            });
        }
    }
    for section in &state.sections {
        if touched.is_some_and(|t| !t.contains(&section.id)) {
            continue;
        }
        let cited: BTreeSet<String> = citations(section).into_iter().flat_map(|(ids, _)| ids).collect();
        for b in ev.bindings.iter().filter(|b| b.section == section.id) {
            if !cited.contains(&b.source) {
                out.push(BindingUpdate::Unbind {
                    section: section.id,
                    source: b.source.clone(),
                    why: UnbindReason::Relabelled,
                });
            } else if let Some(stale) = &b.stale
                && citing_digest(section, &b.source) != stale.statements
            {
                out.push(BindingUpdate::Bind {
                    section: section.id,
                    source: b.source.clone(),
                    version: stale.version,
                    digest: stale.digest.clone(),
                    why: BindReason::Updated,
                });
            }
        }
        for id in &cited {
            if ev.binding(section.id, id).is_some() {
                continue;
            }
            if let Some(current) = ev.sources.get(id).and_then(Source::current) {
                out.push(BindingUpdate::Bind {
                    section: section.id,
                    source: id.clone(),
                    version: current.version,
                    digest: current.digest.clone(),
                    why: BindReason::Cited,
                });
            }
        }
    }
    out
}

/// Applies binding steps (from a committed `evidence_rebound`).
pub fn apply_updates(state: &mut RoomState, updates: &[BindingUpdate], revision: u64, at_ms: i64) {
    for u in updates {
        match u {
            BindingUpdate::Bind { section, source, version, digest, why } => {
                let binding = Binding {
                    section: *section,
                    source: source.clone(),
                    version: *version,
                    digest: digest.clone(),
                    why: *why,
                    revision,
                    at_ms,
                    stale: None,
                };
                match state.evidence.bindings.iter_mut().find(|b| b.section == *section && b.source == *source) {
                    Some(b) => *b = binding,
                    None => state.evidence.bindings.push(binding),
                }
            }
            BindingUpdate::Unbind { section, source, .. } => {
                state.evidence.bindings.retain(|b| !(b.section == *section && b.source == *source));
            }
        }
    }
    state.evidence.bindings.sort_by(|a, b| (a.section, &a.source).cmp(&(b.section, &b.source)));
}

/// Marks the bindings of `source` stale after a new version was registered.
pub fn mark_stale(state: &mut RoomState, source: &str, revision: u64, at_ms: i64) {
    let Some(current) = state.evidence.sources.get(source).and_then(Source::current).cloned() else { return };
    let sections: BTreeMap<SectionId, String> = state
        .evidence
        .bindings
        .iter()
        .filter(|b| b.source == source)
        .filter_map(|b| state.section(b.section).map(|s| (b.section, citing_digest(s, source))))
        .collect();
    for b in state.evidence.bindings.iter_mut().filter(|b| b.source == source) {
        if b.digest == current.digest {
            b.stale = None;
            continue;
        }
        let statements = sections.get(&b.section).cloned().unwrap_or_default();
        b.stale = Some(match b.stale.take() {
            // Still stale from an earlier change: the clock keeps running.
            Some(s) => Stale { version: current.version, digest: current.digest.clone(), statements, ..s },
            None => Stale {
                version: current.version,
                digest: current.digest.clone(),
                since_revision: revision,
                since_ms: at_ms,
                statements,
            },
        });
    }
}

/// A statement's citation of an id with no registered record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnknownCitation {
    pub section: SectionId,
    pub section_title: String,
    pub source: String,
}

/// Citations of ids the register does not hold (empty when the room keeps
/// no register: nothing to check against).
pub fn unknown_citations(state: &RoomState) -> Vec<UnknownCitation> {
    if !state.evidence.has_register() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for section in &state.sections {
        let cited: BTreeSet<String> = citations(section).into_iter().flat_map(|(ids, _)| ids).collect();
        for id in cited.into_iter().filter(|id| !state.evidence.sources.contains_key(id)) {
            out.push(UnknownCitation { section: section.id, section_title: section.title.clone(), source: id });
        }
    }
    out
}

/// Citations in the room with no register to check them against (counted
/// for readiness, non-blocking).
pub fn unchecked_citations(state: &RoomState) -> usize {
    if state.evidence.has_register() {
        return 0;
    }
    state.sections.iter().map(|s| citations(s).into_iter().map(|(ids, _)| ids.len()).sum::<usize>()).sum()
}

/// One statement's evidence as people read it: each cited id with its
/// state in this section.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CitedRecord {
    pub source: String,
    pub status: CitationStatus,
}

/// The state of one citation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum CitationStatus {
    /// Bound to the record's current version.
    Fresh { version: u32, digest: String },
    /// The record changed since it was cited.
    Stale { cited_version: u32, version: u32, since_revision: u64 },
    /// No registered record has this id.
    Unknown,
    /// The room keeps no register, or the binding is not derived yet.
    Unchecked,
}

/// The citations of `section`, in order of first appearance.
pub fn cited_records(state: &RoomState, section: &Section) -> Vec<CitedRecord> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (ids, _) in citations(section) {
        for id in ids {
            if !seen.insert(id.clone()) {
                continue;
            }
            let status = match state.evidence.binding(section.id, &id) {
                Some(Binding { stale: Some(s), version, .. }) => CitationStatus::Stale {
                    cited_version: *version,
                    version: s.version,
                    since_revision: s.since_revision,
                },
                Some(b) => CitationStatus::Fresh { version: b.version, digest: b.digest.clone() },
                None if state.evidence.has_register() && !state.evidence.sources.contains_key(&id) => {
                    CitationStatus::Unknown
                }
                None => CitationStatus::Unchecked,
            };
            out.push(CitedRecord { source: id, status });
        }
    }
    out
}

/// Time to maintain: from a cited record's change to the citing
/// statement being updated, re-confirmed or relabelled.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaintainTime {
    /// Stale citations maintained.
    pub maintained: u64,
    /// Citations stale now.
    pub open: u64,
    /// Median time to maintain (maintained ones).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub median_ms: Option<i64>,
    /// The worst, counting a citation still stale up to the newest revision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worst_ms: Option<i64>,
}

/// [`MaintainTime`] replayed from the revision log (oldest first).
pub fn maintain_time(log: &[&crate::change::Revision]) -> MaintainTime {
    use crate::change::Change;
    let mut bound: BTreeMap<(SectionId, String), Option<i64>> = BTreeMap::new();
    let mut done: Vec<i64> = Vec::new();
    for r in log {
        match &r.change {
            Change::SourceRecorded { source, version, .. } if version.version > 1 => {
                for ((_, s), since) in bound.iter_mut() {
                    if s == source && since.is_none() {
                        *since = Some(r.at_ms);
                    }
                }
            }
            Change::EvidenceRebound { updates } => {
                for u in updates {
                    match u {
                        BindingUpdate::Bind { section, source, .. } => {
                            if let Some(Some(since)) = bound.insert((*section, source.clone()), None) {
                                done.push((r.at_ms - since).max(0));
                            }
                        }
                        BindingUpdate::Unbind { section, source, .. } => {
                            if let Some(Some(since)) = bound.remove(&(*section, source.clone())) {
                                done.push((r.at_ms - since).max(0));
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
    let now = log.last().map_or(0, |r| r.at_ms);
    let open: Vec<i64> = bound.values().flatten().map(|since| (now - since).max(0)).collect();
    let mut sorted = done.clone();
    sorted.sort_unstable();
    MaintainTime {
        maintained: done.len() as u64,
        open: open.len() as u64,
        median_ms: (!sorted.is_empty()).then(|| sorted[sorted.len() / 2]),
        worst_ms: done.iter().chain(open.iter()).copied().max(),
    }
}

#[cfg(test)]
mod tests;
