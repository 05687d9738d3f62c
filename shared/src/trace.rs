//! The transformation trace: for each section, the accepted changes that
//! shaped it since the release of the packet revision before — runs of
//! direct edits by one author, accepted suggestions with their proposer
//! (human or agent) and acceptor — and the evidence its citations are
//! bound to (record id, version, digest). Deterministic from the revision
//! log and the state: the export carries it and the release manifest
//! binds its digest.

use serde::{Deserialize, Serialize};

use crate::change::{Change, Revision};
use crate::export::redact_sensitive;
use crate::ids::{SectionId, UserId};
use crate::role::Role;
use crate::room::RoomState;
use crate::suggestion::{Proposal, SuggestionStatus};

/// The trace of one packet revision.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trace {
    /// Changes after this packet revision are traced (the release of the
    /// packet revision before; 0 before a first release).
    pub since_packet_revision: u64,
    /// Up to this packet revision.
    pub packet_revision: u64,
    pub sections: Vec<SectionTrace>,
}

/// The trace of one section.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SectionTrace {
    pub section: SectionId,
    pub title: String,
    pub changes: Vec<TraceChange>,
    pub evidence: Vec<EvidenceRef>,
}

/// Who made a change: a person or an agent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthorKind {
    Human,
    Agent,
    /// The room itself (an operator's or a derived change).
    Room,
}

/// One accepted change (or run of direct edits).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum TraceChange {
    /// The section was added.
    Added { author: String, author_kind: AuthorKind, revision: u64 },
    /// Consecutive direct edits of the section by one author.
    Edits { author: String, author_kind: AuthorKind, edits: u64, first_revision: u64, last_revision: u64 },
    /// An accepted suggestion (`S-N`), applied by its acceptor.
    Suggestion {
        code: String,
        author: String,
        author_kind: AuthorKind,
        acceptor: String,
        revision: u64,
        /// Evidence the proposer cited (ids only).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        evidence: Vec<String>,
    },
}

/// A citation's bound record version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceRef {
    pub id: String,
    pub version: u32,
    pub digest: String,
    /// True while the record changed since the citation was checked.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stale: bool,
}

/// The packet revision after which a release of packet revision `packet`
/// traces changes: the last release's, when it released an earlier packet
/// revision; its own window when it released this very packet revision;
/// 0 before a first release.
pub fn window_start(state: &RoomState, packet: u64) -> u64 {
    match &state.last_release {
        Some(l) if l.revision == packet => l.trace_since,
        Some(l) => l.revision,
        None => 0,
    }
}

fn who(state: &RoomState, user: UserId) -> (String, AuthorKind) {
    match state.member(user) {
        Some(m) => {
            (m.name.clone(), if matches!(m.role, Role::Agent { .. }) { AuthorKind::Agent } else { AuthorKind::Human })
        }
        None if !crate::members::is_room_actor(user) => {
            (crate::members::name_or_former(state, user), AuthorKind::Human)
        }
        None => ("room".into(), AuthorKind::Room),
    }
}

/// The trace of `state`'s packet revision from its revision log (`log`
/// must hold the revisions after the window start, in order; others are
/// ignored).
pub fn trace(state: &RoomState, log: &[Revision]) -> Trace {
    let packet = state.content_revision;
    let since = window_start(state, packet);
    let mut sections: Vec<SectionTrace> = state
        .sections
        .iter()
        .map(|s| SectionTrace {
            section: s.id,
            title: redact_sensitive(&s.title, state.annexes.values()).0,
            changes: Vec::new(),
            evidence: state
                .evidence
                .bindings
                .iter()
                .filter(|b| b.section == s.id)
                .map(|b| EvidenceRef {
                    id: b.source.clone(),
                    version: b.version,
                    digest: b.digest.clone(),
                    stale: b.stale.is_some(),
                })
                .collect(),
        })
        .collect();
    // The edit an accepted suggestion makes follows its decision.
    let mut accepted_edit: Option<(SectionId, TraceChange)> = None;
    for rev in log.iter().filter(|r| r.revision > since && r.revision <= packet) {
        match &rev.change {
            Change::SuggestionDecided { suggestion, decision } if decision.status == SuggestionStatus::Accepted => {
                let Some(s) = state.suggestions.suggestions.get(suggestion) else { continue };
                let Proposal::Edit { section, .. } = &s.proposal else { continue };
                let (author, author_kind) = who(state, s.proposer);
                let change = TraceChange::Suggestion {
                    code: s.code(),
                    author,
                    author_kind,
                    acceptor: who(state, decision.by).0,
                    revision: rev.revision,
                    evidence: s.evidence.clone(),
                };
                accepted_edit = Some((*section, change));
            }
            Change::SectionAdded { section, .. } => {
                let (author, author_kind) = who(state, rev.author);
                if let Some(t) = sections.iter_mut().find(|t| t.section == *section) {
                    t.changes.push(TraceChange::Added { author, author_kind, revision: rev.revision });
                }
            }
            Change::SectionEdited { section, .. } => {
                let Some(t) = sections.iter_mut().find(|t| t.section == *section) else { continue };
                if let Some((s, change)) = accepted_edit.take()
                    && s == *section
                {
                    t.changes.push(change);
                    continue;
                }
                let (author, author_kind) = who(state, rev.author);
                match t.changes.last_mut() {
                    Some(TraceChange::Edits { author: a, edits, last_revision, .. }) if *a == author => {
                        *edits += 1;
                        *last_revision = rev.revision;
                    }
                    _ => t.changes.push(TraceChange::Edits {
                        author,
                        author_kind,
                        edits: 1,
                        first_revision: rev.revision,
                        last_revision: rev.revision,
                    }),
                }
            }
            _ => {}
        }
    }
    Trace { since_packet_revision: since, packet_revision: packet, sections }
}

/// The digest a manifest binds: SHA-256 of the canonical trace.
pub fn trace_digest(trace: &Trace) -> String {
    crate::canonical::sha256_hex(&crate::canonical::canonical_json(trace))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::apply;
    use crate::readiness::tests::{fixture, set_body};

    #[test]
    fn runs_of_edits_per_author_and_the_same_bytes_twice() {
        let run = || {
            let mut f = fixture();
            set_body(&mut f, "# Summary\n\n[verified: TL-1] A fact, edited.");
            set_body(&mut f, "# Summary\n\n[verified: TL-1] A fact, edited twice.");
            let rev = Revision {
                revision: f.state.revision + 1,
                author: f.legal,
                at_ms: 5,
                client: None,
                change: Change::SectionEdited {
                    section: f.section,
                    op: crate::ot::TextOp::from_texts(
                        &f.state.section(f.section).map(|s| s.body.clone()).unwrap_or_default(),
                        "# Summary\n\n[verified: TL-1] A fact, by legal.",
                    ),
                },
            };
            apply(&mut f.state, &rev).expect("applies");
            // The log as the fixture made it: rebuild from scratch.
            (f.state.clone(), rev)
        };
        let (state, last) = run();
        let log: Vec<Revision> = vec![last.clone()];
        let t = trace(&state, &log);
        let s = &t.sections[0];
        assert!(matches!(&s.changes[..], [TraceChange::Edits { author, edits: 1, .. }] if author == "dan"), "{s:?}");
        assert_eq!(trace_digest(&t), trace_digest(&trace(&run().0, &log)));
        assert_eq!(t.since_packet_revision, 0);
        assert_eq!(t.packet_revision, state.content_revision);
    }
}
