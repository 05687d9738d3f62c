//! Property tests for the text-operation algebra (`trustroom_shared::ot`)
//! and the client half of the OT model (`trustroom_shared::ot_client`).
//!
//! Texts mix ASCII, multi-byte characters (é, €, 中, 😀, 𝄞) and newlines, so
//! every length is checked in chars, never bytes.
// Test code: a failed expectation is the verdict (the lints bind product code).
#![allow(clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use trustroom_shared::ot::{self, Component, OpError, OpLimits, TextOp, TieBreak, WireComponent};
use trustroom_shared::ot_client::SectionSync;

/// Characters random texts are made of: 1-, 2-, 3- and 4-byte UTF-8 plus a newline.
const ALPHABET: &[char] = &['a', 'b', 'x', ' ', '\n', 'é', 'ß', '€', '中', '😀', '𝄞'];

fn text(max_chars: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(ALPHABET), 0..=max_chars).prop_map(|cs| cs.into_iter().collect())
}

fn nonempty_text(max_chars: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(ALPHABET), 1..=max_chars).prop_map(|cs| cs.into_iter().collect())
}

/// One step of a random edit script; [`build`] clamps it to the text.
#[derive(Clone, Debug)]
enum Piece {
    Retain(usize),
    Delete(usize),
    /// Delete everything that is left (whole-text and tail deletes).
    DeleteRest,
    Insert(String),
}

fn piece() -> impl Strategy<Value = Piece> {
    prop_oneof![
        3 => (1usize..10).prop_map(Piece::Retain),
        2 => (1usize..6).prop_map(Piece::Delete),
        1 => Just(Piece::DeleteRest),
        3 => nonempty_text(5).prop_map(Piece::Insert),
    ]
}

/// Turns a script into an operation whose base length is exactly `len`:
/// retains and deletes are clamped to what is left and the rest is retained.
fn build(len: usize, pieces: &[Piece]) -> TextOp {
    let mut op = TextOp::new();
    let mut left = len;
    for p in pieces {
        match p {
            Piece::Retain(n) => {
                let k = (*n).min(left);
                op.retain(k);
                left -= k;
            }
            Piece::Delete(n) => {
                let k = (*n).min(left);
                op.delete(k);
                left -= k;
            }
            Piece::DeleteRest => {
                op.delete(left);
                left = 0;
            }
            Piece::Insert(s) => {
                op.insert(s);
            }
        }
    }
    op.retain(left);
    op
}

/// A random operation over a text of `len` chars.
fn op_for(len: usize) -> impl Strategy<Value = TextOp> {
    prop::collection::vec(piece(), 0..8).prop_map(move |pieces| build(len, &pieces))
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

/// A text and one operation on it.
fn text_and_op() -> impl Strategy<Value = (String, TextOp)> {
    text(24).prop_flat_map(|s| {
        let n = chars(&s);
        (Just(s), op_for(n))
    })
}

/// A text and two concurrent operations on it.
fn text_and_two_ops() -> impl Strategy<Value = (String, TextOp, TextOp)> {
    text(24).prop_flat_map(|s| {
        let n = chars(&s);
        (Just(s), op_for(n), op_for(n))
    })
}

/// Either tie between two inserts at the same place: every transform
/// property holds for both.
fn tie() -> impl Strategy<Value = TieBreak> {
    prop_oneof![Just(TieBreak::First), Just(TieBreak::Second)]
}

/// A text, an operation `a` on it and an operation `b` on `a`'s result.
fn text_and_sequential_ops() -> impl Strategy<Value = (String, TextOp, TextOp)> {
    text_and_op().prop_flat_map(|(s, a)| {
        let mid = a.apply(&s).expect("generated op fits its text");
        let n = chars(&mid);
        (Just(s), Just(a), op_for(n))
    })
}

/// A text and three operations applied one after the other.
fn text_and_three_sequential_ops() -> impl Strategy<Value = (String, TextOp, TextOp, TextOp)> {
    text_and_sequential_ops().prop_flat_map(|(s, a, b)| {
        let mid = a.apply(&s).and_then(|t| b.apply(&t)).expect("generated ops fit their texts");
        let n = chars(&mid);
        (Just(s), Just(a), Just(b), op_for(n))
    })
}

/// Independent reference: where each char of the base text ends up
/// (`None` when the operation deletes it).
fn char_destinations(op: &TextOp) -> Vec<Option<usize>> {
    let mut out = Vec::new();
    let mut new_pos = 0usize;
    for c in op.components() {
        match c {
            Component::Retain(n) => {
                for _ in 0..*n {
                    out.push(Some(new_pos));
                    new_pos += 1;
                }
            }
            Component::Insert(s) => new_pos += chars(s),
            Component::Delete(n) => out.extend(std::iter::repeat_n(None, *n)),
        }
    }
    out
}

/// Component invariants every built operation keeps: no empty components,
/// no two neighbours of the same kind, never a delete directly before an insert,
/// and base/target lengths that match the components.
fn assert_well_formed(op: &TextOp) -> Result<(), TestCaseError> {
    let comps = op.components();
    let mut base = 0;
    let mut target = 0;
    for (i, c) in comps.iter().enumerate() {
        match c {
            Component::Retain(n) => {
                prop_assert!(*n > 0, "empty retain in {comps:?}");
                base += n;
                target += n;
            }
            Component::Delete(n) => {
                prop_assert!(*n > 0, "empty delete in {comps:?}");
                base += n;
            }
            Component::Insert(s) => {
                prop_assert!(!s.is_empty(), "empty insert in {comps:?}");
                target += chars(s);
            }
        }
        if let Some(next) = comps.get(i + 1) {
            prop_assert!(
                std::mem::discriminant(c) != std::mem::discriminant(next),
                "neighbours of the same kind in {comps:?}"
            );
            prop_assert!(
                !matches!((c, next), (Component::Delete(_), Component::Insert(_))),
                "delete before insert in {comps:?}"
            );
        }
    }
    prop_assert_eq!(base, op.base_len());
    prop_assert_eq!(target, op.target_len());
    Ok(())
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig { cases, ..ProptestConfig::default() }
}

proptest! {
    #![proptest_config(config(1024))]

    /// `apply` (which copies retained runs as byte slices) equals a
    /// char-by-char reference on multi-byte texts.
    #[test]
    fn apply_matches_a_char_by_char_reference((s, op) in text_and_op()) {
        let mut chars = s.chars();
        let mut expected = String::new();
        for c in op.components() {
            match c {
                Component::Retain(n) => expected.extend(chars.by_ref().take(*n)),
                Component::Insert(t) => expected.push_str(t),
                Component::Delete(n) => { chars.by_ref().take(*n).for_each(drop); }
            }
        }
        prop_assert_eq!(op.apply(&s).expect("generated op fits its text"), expected);
    }

    /// TP1: both orders of applying two concurrent operations meet, with
    /// either tie.
    #[test]
    fn transform_satisfies_tp1((s, a, b) in text_and_two_ops(), tie in tie()) {
        let (a2, b2) = TextOp::transform_with(&a, &b, tie)?;
        prop_assert_eq!(a2.base_len(), b.target_len());
        prop_assert_eq!(b2.base_len(), a.target_len());
        prop_assert_eq!(a2.target_len(), b2.target_len());
        assert_well_formed(&a2)?;
        assert_well_formed(&b2)?;
        let via_a = b2.apply(&a.apply(&s)?)?;
        let via_b = a2.apply(&b.apply(&s)?)?;
        prop_assert_eq!(&via_a, &via_b);
        prop_assert_eq!(chars(&via_a), a2.target_len());
    }

    /// Concurrent edits keep every char neither side deleted and every insert:
    /// a multiset check that catches lost or doubled text even where TP1 holds.
    #[test]
    fn transform_keeps_surviving_chars_and_all_inserts((s, a, b) in text_and_two_ops(), tie in tie()) {
        let (_, b2) = TextOp::transform_with(&a, &b, tie)?;
        let merged = b2.apply(&a.apply(&s)?)?;
        let da = char_destinations(&a);
        let db = char_destinations(&b);
        let mut expected: Vec<char> = s
            .chars()
            .enumerate()
            .filter(|(i, _)| da[*i].is_some() && db[*i].is_some())
            .map(|(_, c)| c)
            .collect();
        for op in [&a, &b] {
            for c in op.components() {
                if let Component::Insert(t) = c {
                    expected.extend(t.chars());
                }
            }
        }
        let mut got: Vec<char> = merged.chars().collect();
        expected.sort_unstable();
        got.sort_unstable();
        prop_assert_eq!(got, expected);
    }

    /// The server's rebase is the second half of `transform(accepted, incoming)`
    /// and converges with the client that applied `incoming` first (with
    /// either tie, the same on both sides).
    #[test]
    fn transform_server_is_second_half_of_transform((s, accepted, incoming) in text_and_two_ops(), tie in tie()) {
        if tie == TieBreak::First {
            prop_assert_eq!(ot::transform_server(&incoming, &accepted)?, ot::transform_server_with(&incoming, &accepted, tie)?);
        }
        let rebased = ot::transform_server_with(&incoming, &accepted, tie)?;
        let (accepted2, incoming2) = TextOp::transform_with(&accepted, &incoming, tie)?;
        prop_assert_eq!(&rebased, &incoming2);
        let at_server = rebased.apply(&accepted.apply(&s)?)?;
        let at_author = accepted2.apply(&incoming.apply(&s)?)?;
        prop_assert_eq!(at_server, at_author);
    }

    /// Composing then applying equals applying one after the other.
    #[test]
    fn compose_agrees_with_sequential_apply((s, a, b) in text_and_sequential_ops()) {
        let ab = a.compose(&b)?;
        assert_well_formed(&ab)?;
        prop_assert_eq!(ab.base_len(), a.base_len());
        prop_assert_eq!(ab.target_len(), b.target_len());
        prop_assert_eq!(ab.apply(&s)?, b.apply(&a.apply(&s)?)?);
    }

    /// (a·b)·c and a·(b·c) have the same effect.
    #[test]
    fn compose_is_associative_in_effect((s, a, b, c) in text_and_three_sequential_ops()) {
        let left = a.compose(&b)?.compose(&c)?;
        let right = a.compose(&b.compose(&c)?)?;
        prop_assert_eq!(left.apply(&s)?, right.apply(&s)?);
    }

    /// Transforming `b` against `a1·a2` or against `a1` then `a2` (what the
    /// server does over its log) keeps the same characters. Exact equality is
    /// NOT a property of this algebra (nor of ot.js's): the canonical form puts
    /// an insert before an adjacent delete, so composing can move an insert
    /// next to a concurrent insert and change who wins the tie. The client
    /// and the server always transform against the same concrete operations,
    /// so convergence never relies on it (the simulation in convergence.rs
    /// checks that end to end).
    #[test]
    fn transform_against_composition_keeps_the_same_chars(
        (s, a1, a2, b) in text_and_sequential_ops().prop_flat_map(|(s, a1, a2)| {
            let n = chars(&s);
            (Just(s), Just(a1), Just(a2), op_for(n))
        })
    ) {
        let stepwise = ot::transform_server(&ot::transform_server(&b, &a1)?, &a2)?;
        let at_once = ot::transform_server(&b, &a1.compose(&a2)?)?;
        let end = a2.apply(&a1.apply(&s)?)?;
        let mut x: Vec<char> = stepwise.apply(&end)?.chars().collect();
        let mut y: Vec<char> = at_once.apply(&end)?.chars().collect();
        x.sort_unstable();
        y.sort_unstable();
        prop_assert_eq!(x, y);
    }

    /// The inverse undoes the operation.
    #[test]
    fn invert_undoes((s, a) in text_and_op()) {
        let after = a.apply(&s)?;
        let inv = a.invert(&s);
        assert_well_formed(&inv)?;
        prop_assert_eq!(inv.base_len(), a.target_len());
        prop_assert_eq!(inv.target_len(), a.base_len());
        prop_assert_eq!(inv.apply(&after)?, s);
    }

    /// The wire form round-trips, also through JSON, and never carries a
    /// zero count or an empty string.
    #[test]
    fn wire_form_roundtrips((_s, a) in text_and_op()) {
        let wire = a.to_wire();
        for c in &wire {
            match c {
                WireComponent::Count(n) => prop_assert!(*n != 0),
                WireComponent::Text(t) => prop_assert!(!t.is_empty()),
            }
        }
        prop_assert_eq!(&TextOp::from_wire(&wire, OpLimits::default())?, &a);
        let json = serde_json::to_string(&wire).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let back: Vec<WireComponent> =
            serde_json::from_str(&json).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(TextOp::from_wire(&back, OpLimits::default())?, a);
    }

    /// A cursor stays inside the new text, keeps its order relative to other
    /// cursors, and a cursor on a surviving char stays on that char.
    #[test]
    fn transform_index_stays_in_bounds_and_follows_its_char((s, a) in text_and_op()) {
        let after: Vec<char> = a.apply(&s)?.chars().collect();
        let before: Vec<char> = s.chars().collect();
        let dest = char_destinations(&a);
        let mut prev = 0;
        for i in 0..=before.len() {
            let j = a.transform_index(i);
            prop_assert_eq!(j, a.transform_index_with(i, TieBreak::First));
            prop_assert!(j <= a.target_len(), "index {i} -> {j} beyond {}", a.target_len());
            prop_assert!(j >= prev, "cursor order broken at {i}: {prev} then {j}");
            prev = j;
            if let Some(Some(d)) = dest.get(i) {
                prop_assert_eq!(j, *d, "cursor on char {} moved off it", i);
                prop_assert_eq!(after.get(j), before.get(i));
            }
        }
    }

    /// With the cursor winning the tie, an insert exactly at the cursor goes
    /// after it: the cursor stays in bounds and in order, and sits just
    /// before that insert, which sits just before the char it was on.
    #[test]
    fn a_cursor_that_wins_the_tie_stays_before_an_insert_at_it((s, a) in text_and_op()) {
        let after: Vec<char> = a.apply(&s)?.chars().collect();
        let before: Vec<char> = s.chars().collect();
        let dest = char_destinations(&a);
        let mut inserted_at = vec![0usize; before.len() + 1];
        let mut pos = 0usize;
        for c in a.components() {
            match c {
                Component::Retain(n) | Component::Delete(n) => pos += n,
                Component::Insert(t) => inserted_at[pos] += chars(t),
            }
        }
        let mut prev = 0;
        for (i, ins) in inserted_at.iter().copied().enumerate() {
            let j = a.transform_index_with(i, TieBreak::Second);
            prop_assert!(j <= a.target_len(), "index {i} -> {j} beyond {}", a.target_len());
            prop_assert!(j >= prev, "cursor order broken at {i}: {prev} then {j}");
            prop_assert_eq!(j + ins, a.transform_index(i), "index {} with {} inserted at it", i, ins);
            prev = j;
            if let Some(Some(d)) = dest.get(i) {
                prop_assert_eq!(j + ins, *d, "cursor on char {} is not just before its insert", i);
                prop_assert_eq!(after.get(*d), before.get(i));
            }
        }
    }

    /// The cheap diff builds an operation that really produces the new text.
    #[test]
    fn from_texts_produces_the_new_text(old in text(24), new in text(24)) {
        let op = TextOp::from_texts(&old, &new);
        assert_well_formed(&op)?;
        prop_assert_eq!(op.apply(&old)?, new);
    }

    /// Hostile wire input never panics, and anything accepted respects the limits.
    #[test]
    fn from_wire_never_panics_on_hostile_input(
        wire in prop::collection::vec(
            prop_oneof![
                any::<i64>().prop_map(WireComponent::Count),
                (-40i64..40).prop_map(WireComponent::Count),
                text(6).prop_map(WireComponent::Text),
            ],
            0..12,
        )
    ) {
        let limits = OpLimits { max_components: 8, max_text_chars: 64 };
        if let Ok(op) = TextOp::from_wire(&wire, limits) {
            prop_assert!(wire.len() <= limits.max_components);
            prop_assert!(op.base_len() <= limits.max_text_chars);
            prop_assert!(op.target_len() <= limits.max_text_chars);
            assert_well_formed(&op)?;
        }
    }
}

proptest! {
    #![proptest_config(config(512))]

    /// The client state machine keeps its local text equal to
    /// server text · in_flight · buffer while a remote operation arrives,
    /// and rebases the in-flight operation exactly as the server will.
    #[test]
    fn section_sync_remote_keeps_client_invariant(
        (s, remote, in_flight, buffer) in text_and_two_ops().prop_flat_map(|(s, remote, in_flight)| {
            let mid = in_flight.apply(&s).expect("generated op fits its text");
            let n = chars(&mid);
            (Just(s), Just(remote), Just(in_flight), prop::option::of(op_for(n)))
        }),
        tie in tie(),
    ) {
        let mut sync = SectionSync::default();
        prop_assert_eq!(sync.local(in_flight.clone())?, Some(in_flight.clone()));
        let mut local = in_flight.apply(&s)?;
        if let Some(b) = &buffer {
            prop_assert_eq!(sync.local(b.clone())?, None);
            local = b.apply(&local)?;
        }
        let to_apply = sync.remote_with(&remote, tie)?;
        let local = to_apply.apply(&local)?;

        let server = remote.apply(&s)?;
        let rebased = ot::transform_server_with(&in_flight, &remote, tie)?;
        prop_assert_eq!(sync.in_flight(), Some(&rebased));
        let mut expected = rebased.apply(&server)?;
        match (&sync, &buffer) {
            (SectionSync::Awaiting { .. }, None) => {}
            (SectionSync::AwaitingWithBuffer { buffer: b2, .. }, Some(_)) => {
                expected = b2.apply(&expected)?;
            }
            (state, _) => prop_assert!(false, "unexpected state {state:?}"),
        }
        prop_assert_eq!(local, expected);
    }
}

fn wire(parts: &[WireComponent]) -> TextOp {
    TextOp::from_wire(parts, OpLimits::default()).expect("valid test op")
}

fn n(v: i64) -> WireComponent {
    WireComponent::Count(v)
}

fn t(s: &str) -> WireComponent {
    WireComponent::Text(s.to_string())
}

#[test]
fn concurrent_inserts_at_the_same_place_put_the_first_argument_first() {
    let s = "a😀b";
    let a = wire(&[n(1), t("X"), n(2)]);
    let b = wire(&[n(1), t("Y"), n(2)]);
    let (a2, b2) = TextOp::transform(&a, &b).expect("aligned");
    let via_a = b2.apply(&a.apply(s).expect("apply")).expect("apply");
    let via_b = a2.apply(&b.apply(s).expect("apply")).expect("apply");
    assert_eq!(via_a, "aXY😀b");
    assert_eq!(via_b, "aXY😀b");
    // On the server the accepted operation wins the tie.
    let rebased = ot::transform_server(&b, &a).expect("aligned");
    assert_eq!(rebased.apply(&a.apply(s).expect("apply")).expect("apply"), "aXY😀b");
    // With the tie to the second operation, its insert goes first, on both sides.
    let (a2, b2) = TextOp::transform_with(&a, &b, TieBreak::Second).expect("aligned");
    assert_eq!(b2.apply(&a.apply(s).expect("apply")).expect("apply"), "aYX😀b");
    assert_eq!(a2.apply(&b.apply(s).expect("apply")).expect("apply"), "aYX😀b");
    let rebased = ot::transform_server_with(&b, &a, TieBreak::Second).expect("aligned");
    assert_eq!(rebased.apply(&a.apply(s).expect("apply")).expect("apply"), "aYX😀b");
    // The author rule: the lower user id goes first, the same author keeps the order.
    let (low, high) =
        (trustroom_shared::UserId(uuid::Uuid::from_u128(1)), trustroom_shared::UserId(uuid::Uuid::from_u128(2)));
    assert_eq!(TieBreak::by_author(low, high), TieBreak::First);
    assert_eq!(TieBreak::by_author(high, low), TieBreak::Second);
    assert_eq!(TieBreak::by_author(high, high), TieBreak::First);
}

#[test]
fn concurrent_deletes_of_the_same_chars_delete_once() {
    let s = "é€中😀";
    let a = wire(&[n(1), n(-2), n(1)]);
    let b = wire(&[n(2), n(-2)]);
    let (a2, b2) = TextOp::transform(&a, &b).expect("aligned");
    assert_eq!(b2.apply(&a.apply(s).expect("apply")).expect("apply"), "é");
    assert_eq!(a2.apply(&b.apply(s).expect("apply")).expect("apply"), "é");
}

#[test]
fn misaligned_operations_are_errors_not_panics() {
    let two = wire(&[n(2)]);
    let three = wire(&[n(3)]);
    assert!(matches!(TextOp::transform(&two, &three), Err(OpError::Misaligned(_))));
    assert!(matches!(ot::transform_server(&two, &three), Err(OpError::Misaligned(_))));
    assert!(matches!(two.compose(&three), Err(OpError::Misaligned(_))));
    assert_eq!(three.apply("é€"), Err(OpError::LengthMismatch { expected: 3, actual: 2 }));
}

#[test]
fn from_wire_normalizes_delete_then_insert() {
    let a = wire(&[n(1), n(-2), t("é€"), n(1)]);
    let b = wire(&[n(1), t("é€"), n(-2), n(1)]);
    assert_eq!(a, b);
    assert_eq!(a.apply("a😀bc").expect("apply"), "aé€c");
}

/// Regression: a failed `local`/`remote` must leave the state as it was
/// (it used to reset to `Synced`, forgetting the in-flight operation).
#[test]
fn section_sync_keeps_its_state_when_an_operation_does_not_fit() {
    let in_flight = wire(&[n(2), t("x")]);
    let buffer = wire(&[n(3), t("y")]);
    let mut sync = SectionSync::default();
    assert!(sync.local(in_flight.clone()).expect("fits").is_some());
    let before_buffer = sync.clone();
    // A remote op against the wrong length (5 chars instead of 2).
    assert!(sync.remote(&wire(&[n(5)])).is_err());
    assert_eq!(sync, before_buffer);

    assert!(sync.local(buffer.clone()).expect("fits").is_none());
    let with_buffer = sync.clone();
    // A local edit that does not follow the buffer (base 9, buffer target 4).
    assert!(sync.local(wire(&[n(9)])).is_err());
    assert_eq!(sync, with_buffer);
    assert!(sync.remote(&wire(&[n(7)])).is_err());
    assert_eq!(sync, with_buffer);
    assert_eq!(sync.in_flight(), Some(&in_flight));
}
