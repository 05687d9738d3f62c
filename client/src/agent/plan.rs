//! What an agent does next, as a pure function of the room state, its own
//! identity and the source records: [`plan`]. The runtime sends the
//! actions; planning again on the state that includes them yields nothing
//! (idempotence), because each rule recognises the agent's own suggestions
//! and objections already in the room — open or decided.

use std::collections::BTreeSet;

use trustroom_shared::boundary;
use trustroom_shared::objection::{ObjectionKind, ObjectionStatus};
use trustroom_shared::ot::TextOp;
use trustroom_shared::role::AgentRole;
use trustroom_shared::room::RoomState;
use trustroom_shared::suggestion::{Proposal, RegisterProposal, Suggestion, SuggestionStatus};
use trustroom_shared::{ObjectionId, SectionId, UserId};

use super::sources::Sources;
use super::{chronology, normaliser, trace_keeper};

/// One thing an agent asks the server to do. Agents only ever suggest and
/// object: there is deliberately no variant for editing, deciding,
/// granting, holding or releasing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Propose a section edit (against the section's current text).
    SuggestEdit { section: SectionId, op: TextOp, rationale: String, evidence: Vec<String> },
    /// Propose a register change.
    SuggestRegister { change: RegisterProposal, rationale: String, evidence: Vec<String> },
    /// Raise an objection.
    Object { section: SectionId, statement: Option<usize>, quote: Option<String>, kind: ObjectionKind, text: String },
}

impl Action {
    /// A stable key naming what the action is about (the runtime skips an
    /// action it already sent whose result is not in the room yet).
    pub fn key(&self) -> String {
        match self {
            Action::SuggestEdit { section, evidence, .. } => format!("edit:{section}:{}", evidence.join(",")),
            Action::SuggestRegister { change, .. } => {
                let ids: Vec<String> = change.objections().iter().map(ToString::to_string).collect();
                format!("register:{}:{}", change.action(), ids.join(","))
            }
            Action::Object { section, quote, .. } => format!("object:{section}:{}", quote.as_deref().unwrap_or("")),
        }
    }
}

/// Settings of a planning pass.
#[derive(Clone, Debug, Default)]
pub struct PlanOptions {
    /// The chronology section's id or exact title (default: the first
    /// section whose title starts with "Chronology").
    pub chronology_section: Option<String>,
}

/// The agent's own suggestions, in number order.
fn mine(state: &RoomState, me: UserId) -> Vec<&Suggestion> {
    let mut v: Vec<&Suggestion> = state.suggestions.suggestions.values().filter(|s| s.proposer == me).collect();
    v.sort_by_key(|s| s.number);
    v
}

/// Suggestions that still count as "proposed" (a human has them or
/// decided them); withdrawn and conflicting ones do not.
fn counts(s: &Suggestion) -> bool {
    matches!(s.status, SuggestionStatus::Open | SuggestionStatus::Accepted | SuggestionStatus::Rejected)
}

/// The chronology section.
pub fn chronology_section<'a>(state: &'a RoomState, opts: &PlanOptions) -> Option<&'a trustroom_shared::room::Section> {
    match &opts.chronology_section {
        Some(name) => state.sections.iter().find(|s| s.id.to_string() == *name || s.title == *name),
        None => state.sections.iter().find(|s| chronology::is_chronology_title(&s.title)),
    }
}

/// What `role` does next in `state`.
pub fn plan(role: AgentRole, state: &RoomState, me: UserId, sources: &Sources, opts: &PlanOptions) -> Vec<Action> {
    match role {
        AgentRole::Chronology => plan_chronology(state, me, sources, opts),
        AgentRole::ObjectionNormaliser => plan_normaliser(state, me),
        AgentRole::TraceKeeper => plan_trace_keeper(state, me, sources),
    }
}

fn plan_chronology(state: &RoomState, me: UserId, sources: &Sources, opts: &PlanOptions) -> Vec<Action> {
    let Some(section) = chronology_section(state, opts) else { return Vec::new() };
    let own: Vec<&Suggestion> = mine(state, me).into_iter().filter(|s| s.section() == Some(section.id)).collect();
    let proposed: BTreeSet<String> =
        own.iter().filter(|s| counts(s)).flat_map(|s| s.evidence.iter().cloned()).collect();
    let busy = own.iter().any(|s| s.is_open());
    let rules = state.suggestions.rules();
    let flagged = |text: &str| !boundary::evaluate(&rules, text, "").is_empty();
    chronology::plan(&section.body, sources, &proposed, &flagged, busy)
        .into_iter()
        .map(|ins| {
            let mut rationale = chronology::rationale(&ins.records, sources);
            if flagged(&ins.text) {
                rationale.push_str(
                    " The room's boundary rules flag this record's text, so it comes alone: \
                     reject it without touching the other entries.",
                );
            }
            Action::SuggestEdit { section: section.id, op: ins.op(section.len), rationale, evidence: ins.records }
        })
        .collect()
}

fn plan_trace_keeper(state: &RoomState, me: UserId, sources: &Sources) -> Vec<Action> {
    let raised: BTreeSet<(SectionId, String)> = state
        .objections
        .values()
        .filter(|o| o.author == me)
        .filter_map(|o| o.anchor.quote.clone().map(|q| (o.anchor.section, q)))
        .collect();
    trace_keeper::to_raise(trace_keeper::findings(state, sources), &raised)
        .into_iter()
        .map(|f| Action::Object {
            section: f.section,
            statement: Some(f.statement),
            quote: Some(f.quote.clone()),
            kind: ObjectionKind::EvidenceSufficiency,
            text: f.objection_text(sources),
        })
        .collect()
}

fn plan_normaliser(state: &RoomState, me: UserId) -> Vec<Action> {
    let mine = mine(state, me);
    let register: Vec<&RegisterProposal> = mine
        .iter()
        .filter(|s| s.status != SuggestionStatus::Withdrawn)
        .filter_map(|s| match &s.proposal {
            Proposal::Register { change } => Some(change),
            Proposal::Edit { .. } => None,
        })
        .collect();
    let mut out = Vec::new();
    let mut merging: BTreeSet<ObjectionId> = BTreeSet::new();
    for group in normaliser::duplicate_groups(state) {
        let already: BTreeSet<ObjectionId> = register
            .iter()
            .filter_map(|c| match c {
                RegisterProposal::MergeObjections { keep, duplicates } if *keep == group.keep => Some(duplicates),
                _ => None,
            })
            .flatten()
            .copied()
            .collect();
        merging.extend(group.others.iter().map(|(id, _)| *id));
        let new: Vec<&(ObjectionId, String)> = group.others.iter().filter(|(id, _)| !already.contains(id)).collect();
        if new.is_empty() {
            continue;
        }
        let codes: Vec<&str> = new.iter().map(|(_, c)| c.as_str()).collect();
        out.push(Action::SuggestRegister {
            change: RegisterProposal::MergeObjections {
                keep: group.keep,
                duplicates: new.iter().map(|(id, _)| *id).collect(),
            },
            rationale: format!(
                "{} {} the same as {}: same anchor, word overlap {}% (Jaccard ≥ {}%). Merging keeps one thread.",
                codes.join(", "),
                if codes.len() == 1 { "says" } else { "say" },
                group.keep_code,
                group.similarity_pct,
                (normaliser::SIMILAR * 100.0) as u32
            ),
            evidence: std::iter::once(group.keep_code.clone()).chain(codes.iter().map(|c| c.to_string())).collect(),
        });
    }
    let proposed = |objection: ObjectionId, action: &str| {
        register.iter().any(|c| c.action() == action && c.objections() == [objection])
    };
    let mut open: Vec<_> = state.objections.values().filter(|o| o.status == ObjectionStatus::Open).collect();
    open.sort_by_key(|o| o.number);
    for o in open.into_iter().filter(|o| !merging.contains(&o.id)) {
        if o.kind == ObjectionKind::Other
            && !proposed(o.id, "set_kind")
            && let Some(kind) = normaliser::kind_guess(&o.text)
        {
            out.push(Action::SuggestRegister {
                change: RegisterProposal::SetKind { objection: o.id, kind },
                rationale: format!("{} is filed as `other` but its words are about {kind}.", o.code()),
                evidence: vec![o.code()],
            });
        }
        if !proposed(o.id, "set_anchor")
            && let Some((statement, quote)) = normaliser::anchor_guess(state, o)
        {
            out.push(Action::SuggestRegister {
                change: RegisterProposal::SetAnchor {
                    objection: o.id,
                    statement: Some(statement),
                    quote: Some(quote.clone()),
                },
                rationale: format!(
                    "{} names \"{quote}\", which occurs in exactly one statement of its section: statement {}.",
                    o.code(),
                    statement + 1
                ),
                evidence: vec![o.code()],
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::fixtures::{self, section_id as sid};
    use trustroom_shared::SuggestionId;
    use trustroom_shared::objection::Anchor;
    use trustroom_shared::role::Role;
    use trustroom_shared::suggestion::Suggestion;
    use uuid::Uuid;

    const ME: UserId = UserId(Uuid::from_u128(0xa9));
    const HUMAN: UserId = UserId(Uuid::from_u128(0x11));

    fn room() -> RoomState {
        let mut s = fixtures::room(&[
            ("Summary", "# Summary\n\n[verified: CASE-1, SL-2] Shown for 11 minutes.\n\nNobody else saw it."),
            ("Chronology", "# Chronology (UTC)\n\n[verified: TL-1] 09:02 Opened.\n\n[verified: SL-2] 09:17 Rendered."),
            (
                "Exposure scope",
                "# Scope\n\n[contested: O-1] Customer names but no payment data.\n\n[verified: SL-2] 09:17 Read-only.",
            ),
        ]);
        s.revision = 3;
        s
    }

    fn srcs() -> Sources {
        fixtures::sources(
            "s.jsonl",
            &[
                r#"{"id":"TL-1","time":"2026-11-17T09:02Z","actor":"c","kind":"case-opened","text":"Case CASE-1 opened."}"#,
                r#"{"id":"SL-2","time":"2026-11-17T09:17:03Z","actor":"t","kind":"render","text":"Rendered."}"#,
                r#"{"id":"SL-3","time":"2026-11-17T09:19Z","actor":"t","kind":"render","text":"Refreshed."}"#,
                r#"{"id":"EN-1","time":"2026-11-17T11:00Z","actor":"l","kind":"comment","text":"Chat."}"#,
                r#"{"id":"EN-2","time":"2026-11-17T11:05Z","actor":"l","kind":"escalation","text":"Escalated."}"#,
            ],
        )
    }

    /// Adds open objection `O-n` by `author` on `section`, quoting `quote`.
    fn objection(
        s: &mut RoomState,
        n: u32,
        author: UserId,
        section: SectionId,
        kind: ObjectionKind,
        text: &str,
        quote: Option<&str>,
    ) {
        let anchor = Anchor { section, statement: None, quote: quote.map(String::from) };
        fixtures::objection(s, n, author, anchor, kind, text);
    }

    /// Records `actions` in `state` the way the server would (by `ME`).
    fn record(state: &mut RoomState, actions: &[Action]) {
        for a in actions {
            let n = state.suggestions.next_number();
            let proposal = match a {
                Action::SuggestEdit { section, op, .. } => Proposal::Edit { section: *section, op: op.clone() },
                Action::SuggestRegister { change, .. } => Proposal::Register { change: change.clone() },
                Action::Object { section, quote, kind, text, .. } => {
                    let num = state.next_objection_number();
                    objection(state, num, ME, *section, *kind, text, quote.as_deref());
                    continue;
                }
            };
            let evidence = match a {
                Action::SuggestEdit { evidence, .. } | Action::SuggestRegister { evidence, .. } => evidence.clone(),
                Action::Object { .. } => vec![],
            };
            let id = SuggestionId(Uuid::from_u128(0x900 + u128::from(n)));
            state.suggestions.suggestions.insert(
                id,
                Suggestion {
                    id,
                    number: n,
                    proposer: ME,
                    proposer_role: Role::Agent { agent_role: AgentRole::Chronology },
                    proposal,
                    rationale: "r".into(),
                    evidence,
                    status: SuggestionStatus::Open,
                    flags: vec![],
                    proposed_revision: state.revision,
                    revision: state.revision,
                    conflict: None,
                    decision: None,
                    at_ms: 0,
                },
            );
        }
    }

    #[test]
    fn chronology_proposes_missing_events_once() {
        let mut state = room();
        let actions = plan(AgentRole::Chronology, &state, ME, &srcs(), &PlanOptions::default());
        assert_eq!(actions.len(), 1, "{actions:?}");
        let Action::SuggestEdit { section, op, evidence, rationale } = &actions[0] else { panic!("an edit") };
        assert_eq!(*section, sid(1));
        assert_eq!(evidence, &["SL-3", "EN-2"], "comment records are not events");
        assert!(rationale.contains("SL-3 09:19 (s.jsonl)"), "{rationale}");
        assert_eq!(
            op.apply(&state.sections[1].body).expect("applies"),
            "# Chronology (UTC)\n\n[verified: TL-1] 09:02 Opened.\n\n[verified: SL-2] 09:17 Rendered.\n\n\
             [verified: SL-3] 09:19 Refreshed.\n\n[verified: EN-2] 11:05 Escalated."
        );
        record(&mut state, &actions);
        assert!(plan(AgentRole::Chronology, &state, ME, &srcs(), &PlanOptions::default()).is_empty());
        // Rejected stays decided; conflicting or withdrawn is proposed again.
        for (status, again) in [
            (SuggestionStatus::Rejected, false),
            (SuggestionStatus::Conflicting, true),
            (SuggestionStatus::Withdrawn, true),
        ] {
            for s in state.suggestions.suggestions.values_mut() {
                s.status = status;
            }
            assert_eq!(
                !plan(AgentRole::Chronology, &state, ME, &srcs(), &PlanOptions::default()).is_empty(),
                again,
                "{status}"
            );
        }
        // Someone else's suggestion with the same records does not count.
        for s in state.suggestions.suggestions.values_mut() {
            s.status = SuggestionStatus::Open;
            s.proposer = HUMAN;
        }
        assert_eq!(plan(AgentRole::Chronology, &state, ME, &srcs(), &PlanOptions::default()).len(), 1);
    }

    #[test]
    fn chronology_section_can_be_named() {
        let state = room();
        let opts = PlanOptions { chronology_section: Some("Exposure scope".into()) };
        let actions = plan(AgentRole::Chronology, &state, ME, &srcs(), &opts);
        assert_eq!(actions.len(), 2, "before the first entry and after the last");
        assert!(actions.iter().all(|a| matches!(a, Action::SuggestEdit { section, .. } if *section == sid(2))));
        let none = PlanOptions { chronology_section: Some("No such".into()) };
        assert!(plan(AgentRole::Chronology, &state, ME, &srcs(), &none).is_empty());
    }

    #[test]
    fn trace_keeper_objects_once_per_finding() {
        let mut state = room();
        let actions = plan(AgentRole::TraceKeeper, &state, ME, &srcs(), &PlanOptions::default());
        let quotes: Vec<&str> = actions
            .iter()
            .map(|a| match a {
                Action::Object { quote, kind, .. } => {
                    assert_eq!(*kind, ObjectionKind::EvidenceSufficiency);
                    quote.as_deref().unwrap_or_default()
                }
                other => panic!("only objections: {other:?}"),
            })
            .collect();
        assert_eq!(quotes, ["CASE-1", "Nobody else saw it."]);
        record(&mut state, &actions);
        assert!(plan(AgentRole::TraceKeeper, &state, ME, &srcs(), &PlanOptions::default()).is_empty());
        // Even once withdrawn, a finding is not raised again.
        for o in state.objections.values_mut() {
            o.status = ObjectionStatus::Withdrawn;
        }
        assert!(plan(AgentRole::TraceKeeper, &state, ME, &srcs(), &PlanOptions::default()).is_empty());
    }

    #[test]
    fn normaliser_merges_duplicates_and_fills_kinds_and_anchors_once() {
        let mut state = room();
        let scope = sid(2);
        for (n, kind, text) in [
            (
                1,
                ObjectionKind::ExposureScope,
                "The session log does not rule out a third tenant: the cached tenant context was reused for 11 minutes.",
            ),
            (2, ObjectionKind::Wording, "\"no payment data\" is stated as fact; say \"no payment fields\"."),
            (
                3,
                ObjectionKind::Other,
                "The session log cannot rule out a third tenant; the cached tenant context was reused for 11 minutes.",
            ),
            (4, ObjectionKind::Other, "The 09:17 entry needs the render log line before we call it verified."),
        ] {
            objection(&mut state, n, HUMAN, scope, kind, text, None);
        }
        let actions = plan(AgentRole::ObjectionNormaliser, &state, ME, &srcs(), &PlanOptions::default());
        let keys: Vec<String> = actions
            .iter()
            .map(|a| match a {
                Action::SuggestRegister { change, .. } => match change {
                    RegisterProposal::MergeObjections { keep, duplicates } => format!("merge {keep} {duplicates:?}"),
                    RegisterProposal::SetKind { objection, kind } => format!("kind {objection} {kind}"),
                    RegisterProposal::SetAnchor { objection, statement, quote } => {
                        format!("anchor {objection} {statement:?} {quote:?}")
                    }
                    RegisterProposal::Reword { .. } => "reword".into(),
                },
                other => panic!("only register suggestions: {other:?}"),
            })
            .collect();
        let o = |n: u128| ObjectionId(Uuid::from_u128(0x500 + n));
        assert_eq!(
            keys,
            [
                format!("merge {} [{:?}]", o(1), o(3)),
                format!("anchor {} Some(1) Some(\"no payment data\")", o(2)),
                format!("kind {} evidence-sufficiency", o(4)),
                format!("anchor {} Some(2) Some(\"09:17\")", o(4)),
            ]
        );
        record(&mut state, &actions);
        assert!(plan(AgentRole::ObjectionNormaliser, &state, ME, &srcs(), &PlanOptions::default()).is_empty());
    }

    #[test]
    fn agents_never_plan_anything_but_suggestions_and_objections() {
        // The type has no other variant; this pins the wire types too.
        let state = room();
        for role in [AgentRole::Chronology, AgentRole::ObjectionNormaliser, AgentRole::TraceKeeper] {
            for a in plan(role, &state, ME, &srcs(), &PlanOptions::default()) {
                let req = crate::agent::wire::request(state.id, &a, state.revision, 1);
                let v = serde_json::to_value(&req).expect("serialises");
                let ty = v["type"].as_str().unwrap_or_default().to_string();
                assert!(crate::agent::wire::AGENT_REQUEST_TYPES.contains(&ty.as_str()), "{ty}");
            }
        }
    }
}
