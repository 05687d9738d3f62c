//! Seeded, deterministic simulation of the client–server OT model: one
//! sequencing server (text + log of accepted operations + (client, seq)
//! idempotency map) and several clients driven by `ot_client::SectionSync`,
//! connected by per-client FIFO channels whose deliveries are interleaved in
//! random order. No tokio, no threads: one seeded PRNG drives everything, so a
//! failing seed replays exactly.
//!
//! What is proved:
//! - convergence: after draining, every client's text == the server's text ==
//!   a replay of the server log from the initial text, and at every step each
//!   client's text == server text at its last-seen revision · in_flight · buffer;
//! - unique marker characters (U+E000..) inserted once are never lost or doubled;
//! - the three drop points (before the server receives, after commit before
//!   the ack, after the ack) end in exactly the same state as a run where the
//!   connection did not drop (the same schedule, with the victim merely paused);
//! - the server never applies a (client, seq) twice.
// Test code: a failed expectation is the verdict (the lints bind product code).
#![allow(clippy::expect_used, clippy::panic)]

macro_rules! check {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(format!($($fmt)+));
        }
    };
}

mod client;
mod rng;
mod server;
mod simulation;
mod texts;

use client::*;
use rng::*;
use server::*;
use simulation::*;
use texts::*;

use std::collections::{HashMap, VecDeque};

use trustroom_shared::ot::{self, TextOp};
use trustroom_shared::ot_client::SectionSync;

type SimResult<T> = Result<T, String>;

fn err<E: std::fmt::Display>(context: &'static str) -> impl Fn(E) -> String {
    move |e| format!("{context}: {e}")
}

// -------------------------------------------------------------- tests -----

/// 200 seeds × 300 steps, 5–8 clients, random interleaving of every channel.
#[test]
fn clients_server_and_log_replay_converge_over_many_seeds() {
    let mut ops = 0;
    let mut markers = 0;
    let mut multi_byte = false;
    let mut newlines = false;
    for seed in 0..200 {
        let r = run(seed, plain(5 + (seed as usize % 4), 300));
        assert_eq!(r.stale_events, 0, "seed {seed}: without reconnects no event arrives twice");
        assert_eq!(r.duplicates, 0, "seed {seed}: without reconnects nothing is re-sent");
        ops += r.outcome.log.len();
        markers += r.outcome.markers.len();
        multi_byte |= r.outcome.text.len() > r.outcome.text.chars().count();
        newlines |= r.outcome.text.contains('\n');
    }
    // The simulation really exercised something.
    assert!(ops > 200 * 25, "only {ops} accepted ops");
    assert!(markers > 200 * 10, "only {markers} markers");
    assert!(multi_byte && newlines);
}

/// The runs are deterministic per seed, and concurrency is real: a large
/// share of operations reach the server behind its revision and are transformed.
#[test]
fn simulation_is_deterministic_and_really_concurrent() {
    let a = run(7, plain(6, 300));
    let b = run(7, plain(6, 300));
    assert_eq!(a.outcome, b.outcome, "same seed, same run");
    let c = run(8, plain(6, 300));
    assert_ne!(a.outcome.log, c.outcome.log, "different seeds, different runs");
    let (mut transformed, mut accepted) = (0, 0);
    for seed in 0..20 {
        let r = run(seed, plain(5, 300));
        transformed += r.transformed;
        accepted += r.outcome.log.len();
    }
    assert!(transformed * 3 > accepted, "only {transformed} of {accepted} ops were concurrent");
}

/// Runs `point` with a real drop and as the no-drop twin for many seeds;
/// both must end in identical state (text, log with seqs and ops, every client).
fn drop_matches_no_drop(point: DropPoint, reconnect: Reconnect, seeds: u64) -> Vec<Report> {
    let mut reports = Vec::new();
    for seed in 0..seeds {
        let clients = 5 + (seed as usize % 3);
        let fault = Fault {
            victim: seed as usize % clients,
            point,
            not_before_step: 20 + (seed as usize % 150),
            reconnect,
            real: false,
        };
        let cfg = |real| Config { fault: Some(Fault { real, ..fault }), ..plain(clients, 300) };
        let baseline = run(seed, cfg(false));
        let dropped = run(seed, cfg(true));
        assert_eq!(baseline.fault_fired, dropped.fault_fired, "seed {seed}");
        assert!(
            dropped.outcome == baseline.outcome,
            "seed {seed}, {point:?}, {reconnect:?}: drop run differs from the no-drop run\n drop:    {:?}\n no drop: {:?}",
            dropped.outcome.text,
            baseline.outcome.text
        );
        assert_eq!(baseline.duplicates, 0);
        reports.push(dropped);
    }
    let fired = reports.iter().filter(|r| r.fault_fired).count();
    assert_eq!(fired as u64, seeds, "{point:?}: the drop happened in only {fired} of {seeds} seeds");
    reports
}

#[test]
fn drop_before_server_receives_resending_the_first_form_matches_no_drop() {
    let reports =
        drop_matches_no_drop(DropPoint::BeforeServer, Reconnect::CatchUpThenResend(ResendForm::AsFirstSent), 60);
    assert!(reports.iter().all(|r| r.duplicates == 0), "a lost op is not a duplicate");
}

#[test]
fn drop_before_server_receives_resending_the_rebased_op_matches_no_drop() {
    drop_matches_no_drop(DropPoint::BeforeServer, Reconnect::CatchUpThenResend(ResendForm::Rebased), 60);
}

#[test]
fn drop_after_commit_before_ack_catch_up_is_the_ack_and_matches_no_drop() {
    let reports =
        drop_matches_no_drop(DropPoint::AfterCommit, Reconnect::CatchUpThenResend(ResendForm::AsFirstSent), 60);
    // Catch-up showed the op as accepted, so it was never sent again.
    assert!(reports.iter().all(|r| r.duplicates == 0));
}

#[test]
fn drop_after_commit_before_ack_resend_is_deduplicated_and_matches_no_drop() {
    for form in [ResendForm::AsFirstSent, ResendForm::Rebased] {
        let reports = drop_matches_no_drop(DropPoint::AfterCommit, Reconnect::ResendThenCatchUp(form), 40);
        for r in reports.iter().filter(|r| r.fault_fired) {
            let rev = r.fault_rev.expect("after-commit drop records the revision");
            assert_eq!(r.resend_receipts, vec![Receipt::Duplicate(rev)], "resend must get the first revision back");
            assert_eq!(r.duplicates, 1);
        }
    }
}

#[test]
fn drop_after_ack_matches_no_drop() {
    // Edits typed while offline are sent after the catch-up, in both forms.
    for form in [ResendForm::AsFirstSent, ResendForm::Rebased] {
        let reports = drop_matches_no_drop(DropPoint::AfterAck, Reconnect::CatchUpThenResend(form), 40);
        assert!(reports.iter().all(|r| r.duplicates == 0), "nothing was left to re-send");
    }
}

/// Random disconnects of random clients at random moments (often several at
/// once, with edits typed offline), with every reconnect strategy.
#[test]
fn random_disconnects_still_converge_without_loss_or_doubling() {
    let mut duplicates = 0;
    let mut stale = 0;
    for seed in 0..100 {
        let cfg = Config { chaos_percent: 4, ..plain(5 + (seed as usize % 4), 300) };
        let r = run(1_000 + seed, cfg);
        duplicates += r.duplicates;
        stale += r.stale_events;
    }
    assert!(duplicates > 0, "the dedup path was never exercised");
    assert!(stale > 0, "the overlap between catch-up and live events was never exercised");
}

// ----------------------------------------------- small scripted cases -----

fn wire_op(parts: &[ot::WireComponent]) -> TextOp {
    TextOp::from_wire(parts, ot::OpLimits::default()).expect("valid test op")
}

/// The server answers a re-sent (client, seq) with the first revision and
/// changes nothing, whatever base and operation the resend carries.
#[test]
fn server_deduplicates_by_client_and_seq() {
    use ot::WireComponent::{Count, Text};
    let mut server = Server::new("é😀\n".to_string());
    let op = wire_op(&[Count(1), Text("€".into()), Count(2)]);
    let first = Submit { client: 3, seq: 9, base: 0, op: op.clone() };
    assert_eq!(server.receive(&first), Ok(Receipt::Applied(1)));
    let other = Submit { client: 4, seq: 9, base: 0, op: wire_op(&[Text("x".into()), Count(3)]) };
    assert_eq!(server.receive(&other), Ok(Receipt::Applied(2)));
    let text = server.text.clone();
    assert_eq!(text, "xé€😀\n");
    // The same (client, seq) again — as first sent, and rebased on rev 2.
    assert_eq!(server.receive(&first), Ok(Receipt::Duplicate(1)));
    let rebased = Submit { base: 2, op: wire_op(&[Count(2), Text("€".into()), Count(2)]), ..first };
    assert_eq!(server.receive(&rebased), Ok(Receipt::Duplicate(1)));
    assert_eq!(server.text, text);
    assert_eq!(server.rev(), 2);
    assert_eq!(server.duplicates, 2);
}

/// Why `ResendForm::Rebased` must carry the client's *current* revision: the
/// in-flight op held by `SectionSync` is already transformed, so sending it
/// with its original base makes the server transform it twice. Here that
/// silently puts the insert in the wrong place (and in general it can fail
/// with a length mismatch).
#[test]
fn rebased_op_with_its_original_base_would_be_transformed_twice() {
    use ot::WireComponent::{Count, Text};
    let mut server = Server::new("abcd".to_string());
    let mut client = Client::new(0, "abcd".to_string());
    // Client 0 types X between b and c and sends it against rev 0.
    let x = wire_op(&[Count(2), Text("X".into()), Count(2)]);
    client.text = x.apply(&client.text).expect("apply");
    let sent = client.sync.local(x).expect("local").expect("sent");
    let sent = client.start_sending(sent).expect("connected");
    // Meanwhile client 1's op (Z in front, d removed) is accepted as rev 1 and reaches client 0.
    let z = Submit { client: 1, seq: 1, base: 0, op: wire_op(&[Text("Z".into()), Count(3), Count(-1)]) };
    assert_eq!(server.receive(&z), Ok(Receipt::Applied(1)));
    assert_eq!(client.receive(&server.entry(1).expect("rev 1")), Ok(None));
    assert_eq!(client.text, "ZabXc");
    // Client 0's first send was lost; right answers:
    let good_first = sent.clone();
    let good_rebased = client.resend(ResendForm::Rebased).expect("in flight");
    assert_eq!(good_rebased.base, 1);
    for good in [good_first, good_rebased] {
        let mut s = Server::new("abcd".to_string());
        s.receive(&z).expect("z");
        s.receive(&good).expect("resend");
        assert_eq!(s.text, client.text);
    }
    // The wrong answer: the rebased op with the original base.
    let wrong = Submit { base: 0, ..client.resend(ResendForm::Rebased).expect("in flight") };
    server.receive(&wrong).expect("lengths happen to line up");
    assert_ne!(server.text, client.text, "transforming twice misplaces the insert");
    assert_eq!(server.text, "ZabcX");
}

/// The three drop points on one small script, by hand, each compared with
/// the no-drop run.
#[test]
fn three_drop_points_by_hand() {
    use ot::WireComponent::{Count, Text};
    let initial = "ß😀\n€";
    // What happens with no drop: A's op (rev 2) is concurrent with B's (rev 1).
    let a_op = wire_op(&[Count(2), Text("A".into()), Count(2)]);
    let b_op = wire_op(&[Count(-1), Text("B\n".into()), Count(3)]);
    let expected = {
        let mut s = Server::new(initial.to_string());
        s.receive(&Submit { client: 1, seq: 1, base: 0, op: b_op.clone() }).expect("b");
        s.receive(&Submit { client: 0, seq: 1, base: 0, op: a_op.clone() }).expect("a");
        s.text
    };
    assert_eq!(expected, "B\n😀A\n€");

    for point in [DropPoint::BeforeServer, DropPoint::AfterCommit, DropPoint::AfterAck] {
        let mut server = Server::new(initial.to_string());
        let mut a = Client::new(0, initial.to_string());
        a.text = a_op.apply(&a.text).expect("apply");
        let first = a.sync.local(a_op.clone()).expect("local").expect("send");
        let first = a.start_sending(first).expect("connected");
        server.receive(&Submit { client: 1, seq: 1, base: 0, op: b_op.clone() }).expect("b");
        // A sees B's op before anything goes wrong.
        a.receive(&server.entry(1).expect("rev 1")).expect("remote");
        match point {
            DropPoint::BeforeServer => {} // `first` is lost
            DropPoint::AfterCommit => {
                assert_eq!(server.receive(&first), Ok(Receipt::Applied(2))); // the ack is lost
            }
            DropPoint::AfterAck => {
                assert_eq!(server.receive(&first), Ok(Receipt::Applied(2)));
                a.receive(&server.entry(2).expect("rev 2")).expect("ack");
                assert!(!a.sync.has_pending());
            }
        }
        // Reconnect: catch up after rev 1, then re-send if still in flight.
        a.connected = true;
        let missed: Vec<Entry> = server.log[a.last_seen..].to_vec();
        for e in &missed {
            assert_eq!(a.receive(e), Ok(None));
        }
        if a.sync.has_pending() {
            assert_eq!(point, DropPoint::BeforeServer);
            let again = a.resend(ResendForm::AsFirstSent).expect("in flight");
            assert_eq!(again, first, "same seq, same base, same op");
            assert_eq!(server.receive(&again), Ok(Receipt::Applied(2)));
            a.receive(&server.entry(2).expect("rev 2")).expect("ack");
        }
        // A re-send now, at any point, is a duplicate.
        assert_eq!(server.receive(&first), Ok(Receipt::Duplicate(2)), "{point:?}");
        assert!(!a.sync.has_pending(), "{point:?}");
        assert_eq!(server.rev(), 2, "{point:?}");
        assert_eq!(server.text, expected, "{point:?}");
        assert_eq!(a.text, expected, "{point:?}");
    }
}
