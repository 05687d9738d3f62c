//! Property tests for suggestion rebasing under concurrent edits, through
//! the same pure `change::apply` the server, a replay and every client use.
//!
//! A model tags every char of the original text with its index and replays
//! the suggestion's operation and each concurrent edit on the tagged text.
//! Expected: the suggestion is `conflicting` exactly when an edit deleted a
//! char the suggestion deletes (its target text); otherwise it stays
//! applicable to the current text, deletes exactly its target chars and
//! inserts exactly its text, in order — the intended edit.
// Test code: a failed expectation is the verdict (the lints bind product code).
#![allow(clippy::expect_used, clippy::panic)]

mod support;

use proptest::prelude::*;
use support::{Piece, build};
use trustroom_shared::change::{Change, Revision, apply};
use trustroom_shared::ids::{RoomId, SectionId, SuggestionId, UserId};
use trustroom_shared::ot::{Component, TextOp};
use trustroom_shared::role::{AgentRole, Role};
use trustroom_shared::room::RoomState;
use trustroom_shared::suggestion::{Decision, Proposal, Suggestion, SuggestionStatus};

const ALPHABET: &[char] = &['a', 'b', 'x', ' ', '\n', 'é', '€', '中', '😀'];

fn text(min: usize, max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(ALPHABET), min..=max).prop_map(|cs| cs.into_iter().collect())
}

fn piece() -> impl Strategy<Value = Piece> {
    prop_oneof![
        3 => (1usize..8).prop_map(Piece::Retain),
        2 => (1usize..5).prop_map(Piece::Delete),
        2 => text(1, 4).prop_map(Piece::Insert),
    ]
}

/// A char and the index it had in the original text (`None`: inserted later).
type Tagged = Vec<(char, Option<usize>)>;

/// Applies `op` to a tagged text: returns the new text, the original
/// indices it deleted and the text it inserted.
fn apply_tagged(text: &Tagged, op: &TextOp) -> (Tagged, Vec<Option<usize>>, String) {
    let mut out = Vec::new();
    let mut deleted = Vec::new();
    let mut inserted = String::new();
    let mut i = 0;
    for c in op.components() {
        match c {
            Component::Retain(n) => {
                out.extend_from_slice(&text[i..i + n]);
                i += n;
            }
            Component::Delete(n) => {
                deleted.extend(text[i..i + n].iter().map(|(_, t)| *t));
                i += n;
            }
            Component::Insert(s) => {
                out.extend(s.chars().map(|c| (c, None)));
                inserted.push_str(s);
            }
        }
    }
    (out, deleted, inserted)
}

fn plain(t: &Tagged) -> String {
    t.iter().map(|(c, _)| *c).collect()
}

fn rev(state: &RoomState, author: UserId, change: Change) -> Revision {
    Revision { revision: state.revision + 1, author, at_ms: 1_000 + state.revision as i64, client: None, change }
}

fn scenario() -> impl Strategy<Value = (String, Vec<Piece>, Vec<Vec<Piece>>)> {
    (
        text(1, 30),
        prop::collection::vec(piece(), 1..6),
        prop::collection::vec(prop::collection::vec(piece(), 0..6), 1..5),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn rebased_suggestions_make_the_intended_edit_or_conflict_exactly_when_their_target_is_gone(
        (original, s_script, edit_scripts) in scenario()
    ) {
        let owner = UserId::new();
        let agent = UserId::new();
        let section = SectionId::new();
        let mut state = RoomState::new(RoomId::new(), "t".into(), 0);
        let r = rev(&state, owner, Change::SectionAdded { section, title: "S".into(), body: original.clone(), after: None });
        apply(&mut state, &r).expect("section added");

        let len = original.chars().count();
        let s_op = build(len, &s_script);
        prop_assume!(!s_op.is_noop());
        let tagged: Tagged = original.chars().enumerate().map(|(i, c)| (c, Some(i))).collect();
        let (_, target, s_inserted) = apply_tagged(&tagged, &s_op);
        let id = SuggestionId::new();
        let suggestion = Suggestion {
            id,
            number: 1,
            proposer: agent,
            proposer_role: Role::Agent { agent_role: AgentRole::Chronology },
            proposal: Proposal::Edit { section, op: s_op.clone() },
            rationale: "r".into(),
            evidence: vec![],
            status: SuggestionStatus::Open,
            flags: vec![],
            proposed_revision: state.revision,
            revision: state.revision,
            conflict: None,
            decision: None,
            at_ms: 0,
        };
        let r = rev(&state, agent, Change::SuggestionProposed { suggestion });
        apply(&mut state, &r).expect("suggestion proposed");

        // Concurrent edits, each against the text as it is then.
        let mut current = tagged.clone();
        let mut gone: Vec<usize> = Vec::new();
        for script in &edit_scripts {
            let e = build(current.len(), script);
            let (next, deleted, _) = apply_tagged(&current, &e);
            gone.extend(deleted.into_iter().flatten());
            current = next;
            let r = rev(&state, owner, Change::SectionEdited { section, op: e });
            apply(&mut state, &r).expect("edit applies");
            prop_assert_eq!(&state.section(section).expect("section").body, &plain(&current));
        }

        let s = state.suggestions.suggestions.get(&id).expect("suggestion kept");
        let target_gone = target.iter().flatten().any(|t| gone.contains(t));
        if target_gone {
            prop_assert_eq!(s.status, SuggestionStatus::Conflicting);
            prop_assert!(s.conflict.is_some());
        } else {
            prop_assert_eq!(s.status, SuggestionStatus::Open);
            prop_assert_eq!(s.revision, state.revision);
            let Proposal::Edit { op, .. } = &s.proposal else { panic!("edit suggestion") };
            let rebased = op.clone();
            prop_assert_eq!(rebased.base_len(), current.len(), "applies to the current text");
            let (after, deleted, inserted) = apply_tagged(&current, &rebased);
            // Deletes exactly the target chars, all of which survived.
            let mut want = target.clone();
            want.sort();
            let mut got = deleted.clone();
            got.sort();
            prop_assert_eq!(got, want, "deletes exactly its target text");
            prop_assert_eq!(inserted, s_inserted.clone(), "inserts exactly its text");
            // Applying it through `apply` (accept = decision + edit) gives the same text.
            let decision = Decision { status: SuggestionStatus::Accepted, by: owner, reason: None, at_ms: 0 };
            let r = rev(&state, owner, Change::SuggestionDecided { suggestion: id, decision });
            apply(&mut state, &r).expect("decided");
            let r = rev(&state, owner, Change::SectionEdited { section, op: rebased });
            apply(&mut state, &r).expect("accepted suggestion applies");
            prop_assert_eq!(&state.section(section).expect("section").body, &plain(&after));
        }
    }
}
