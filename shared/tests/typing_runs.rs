//! Typing at the same place as someone else (issue #16): people each type a
//! word one key per operation at the same position while their operations
//! cross, through the real client state machine (`SectionSync`, one
//! operation in flight, later keys buffered), the real server transform and
//! a cursor moved like the TUI moves it.
//!
//! - With the tie every side uses today — the operation the server
//!   sequenced first goes first, and an insert at your cursor pushes it
//!   right — the words interleave letter by letter (`a1l2p3h4a`), though
//!   every text converges.
//! - With the author rule (`TieBreak::by_author`), used identically by the
//!   server's transform, the client's transforms and the client's cursor,
//!   each word stays in one piece under every schedule tried, and every text
//!   still converges.
// Test code: a failed expectation is the verdict (the lints bind product code).
#![allow(clippy::expect_used, clippy::panic)]

use std::collections::VecDeque;

use trustroom_shared::UserId;
use trustroom_shared::ot::{self, TextOp, TieBreak};
use trustroom_shared::ot_client::SectionSync;

/// The tie rule every party of a run uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rule {
    /// Today's: the operation sequenced first wins; an insert at the cursor pushes it right.
    Sequenced,
    /// The author with the lower user id goes first, in every transform and at the cursor.
    Author,
}

impl Rule {
    /// The tie for a transform whose first operation is by `first` and whose
    /// second is by `second`.
    fn tie(self, first: UserId, second: UserId) -> TieBreak {
        match self {
            Rule::Sequenced => TieBreak::First,
            Rule::Author => TieBreak::by_author(first, second),
        }
    }
}

struct Submit {
    author: usize,
    /// The server revision the operation is based on.
    base: usize,
    op: TextOp,
}

#[derive(Clone)]
struct Event {
    rev: usize,
    author: usize,
    op: TextOp,
}

/// The sequencer: transforms each operation against everything accepted
/// after its base, as the room does (`incoming_op`).
struct Server {
    text: String,
    log: Vec<Event>,
}

impl Server {
    fn receive(&mut self, m: Submit, users: &[UserId], rule: Rule) -> Event {
        let mut op = m.op;
        for e in &self.log[m.base..] {
            let tie = rule.tie(users[e.author], users[m.author]);
            op = ot::transform_server_with(&op, &e.op, tie).expect("the operation fits its base");
        }
        self.text = op.apply(&self.text).expect("the server applies it");
        let e = Event { rev: self.log.len() + 1, author: m.author, op };
        self.log.push(e.clone());
        e
    }
}

/// One person typing a word at their cursor, one key per operation.
struct Typist {
    me: usize,
    word: Vec<char>,
    typed: usize,
    text: String,
    cursor: usize,
    sync: SectionSync,
    last_seen: usize,
    /// To the server, and from it (FIFO each).
    up: VecDeque<Submit>,
    down: VecDeque<Event>,
}

impl Typist {
    fn type_key(&mut self) -> bool {
        let Some(&c) = self.word.get(self.typed) else { return false };
        let len = self.text.chars().count();
        let mut op = TextOp::new();
        op.retain(self.cursor).insert(&c.to_string()).retain(len - self.cursor);
        self.text = op.apply(&self.text).expect("a key applies locally");
        self.cursor += 1;
        self.typed += 1;
        if let Some(send) = self.sync.local(op).expect("a key fits") {
            self.up.push_back(Submit { author: self.me, base: self.last_seen, op: send });
        }
        true
    }

    fn receive(&mut self, e: Event, users: &[UserId], rule: Rule) {
        assert_eq!(e.rev, self.last_seen + 1, "events arrive in order");
        self.last_seen = e.rev;
        if e.author == self.me {
            if let Some(buffer) = self.sync.ack() {
                self.up.push_back(Submit { author: self.me, base: self.last_seen, op: buffer });
            }
            return;
        }
        // The remote operation goes first in this transform: the same pair,
        // with the same tie, as the server's transform of our operation.
        let tie = rule.tie(users[e.author], users[self.me]);
        let local = self.sync.remote_with(&e.op, tie).expect("the remote operation fits");
        self.text = local.apply(&self.text).expect("it applies locally");
        self.cursor = local.transform_index_with(self.cursor, tie);
    }
}

struct Room {
    users: Vec<UserId>,
    rule: Rule,
    server: Server,
    typists: Vec<Typist>,
}

const BEFORE: &str = "Note: [";
const AFTER: &str = "] end.";

impl Room {
    fn new(words: &[&str], users: &[UserId], rule: Rule) -> Room {
        let initial = format!("{BEFORE}{AFTER}");
        let at = BEFORE.chars().count();
        let typists = words
            .iter()
            .enumerate()
            .map(|(me, w)| Typist {
                me,
                word: w.chars().collect(),
                typed: 0,
                text: initial.clone(),
                cursor: at,
                sync: SectionSync::Synced,
                last_seen: 0,
                up: VecDeque::new(),
                down: VecDeque::new(),
            })
            .collect();
        Room { users: users.to_vec(), rule, server: Server { text: initial, log: Vec::new() }, typists }
    }

    /// The server takes the next operation from typist `i`, and queues the
    /// event for everyone.
    fn send(&mut self, i: usize) -> bool {
        let Some(m) = self.typists[i].up.pop_front() else { return false };
        let e = self.server.receive(m, &self.users, self.rule);
        for t in &mut self.typists {
            t.down.push_back(e.clone());
        }
        true
    }

    fn deliver(&mut self, i: usize) -> bool {
        let Some(e) = self.typists[i].down.pop_front() else { return false };
        let (users, rule) = (self.users.clone(), self.rule);
        self.typists[i].receive(e, &users, rule);
        true
    }

    fn drain(&mut self) {
        loop {
            let mut moved = false;
            for i in 0..self.typists.len() {
                moved |= self.send(i) | self.deliver(i);
            }
            if !moved {
                break;
            }
        }
    }

    /// The typed part of the server's text, after checking that every
    /// typist converged on it.
    fn converged(&self) -> String {
        for t in &self.typists {
            assert_eq!(t.text, self.server.text, "typist {} diverged from the server", t.me);
            assert!(!t.sync.has_pending());
        }
        let text = &self.server.text;
        assert!(text.starts_with(BEFORE) && text.ends_with(AFTER), "{text:?}");
        text[BEFORE.len()..text.len() - AFTER.len()].to_string()
    }
}

/// Everyone types a key, the server takes them in typist order, then every
/// event reaches everyone: each round, every operation crosses the others.
fn crossing(words: &[&str], users: &[UserId], rule: Rule) -> String {
    let mut room = Room::new(words, users, rule);
    loop {
        let mut typed = false;
        for t in &mut room.typists {
            typed |= t.type_key();
        }
        if !typed {
            break;
        }
        for i in 0..room.typists.len() {
            while room.send(i) {}
        }
        for i in 0..room.typists.len() {
            while room.deliver(i) {}
        }
    }
    room.drain();
    room.converged()
}

/// xorshift64*: deterministic per seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n
    }
}

/// Keys, sends and deliveries in a random order (each channel stays FIFO).
fn random(words: &[&str], users: &[UserId], rule: Rule, seed: u64) -> String {
    let mut room = Room::new(words, users, rule);
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let n = room.typists.len();
    loop {
        let mut moves: Vec<(usize, usize)> = Vec::new();
        for i in 0..n {
            let t = &room.typists[i];
            if t.typed < t.word.len() {
                moves.push((0, i));
            }
            if !t.up.is_empty() {
                moves.push((1, i));
            }
            if !t.down.is_empty() {
                moves.push((2, i));
            }
        }
        if moves.is_empty() {
            break;
        }
        match moves[rng.below(moves.len())] {
            (0, i) => {
                room.typists[i].type_key();
            }
            (1, i) => {
                room.send(i);
            }
            (_, i) => {
                room.deliver(i);
            }
        }
    }
    room.converged()
}

fn users(n: u128) -> Vec<UserId> {
    (1..=n).map(|k| UserId(uuid::Uuid::from_u128(k))).collect()
}

#[test]
fn todays_tie_interleaves_two_words_typed_at_the_same_place() {
    // The report, reproduced: converged, but letter by letter.
    assert_eq!(crossing(&["alpha", "1234"], &users(2), Rule::Sequenced), "a1l2p3h4a");
    let mut interleaved = 0;
    for seed in 0..300 {
        let typed = random(&["alpha", "1234"], &users(2), Rule::Sequenced, seed);
        if !(typed.contains("alpha") && typed.contains("1234")) {
            interleaved += 1;
        }
    }
    assert!(interleaved > 30, "only {interleaved} of 300 schedules interleaved");
}

#[test]
fn the_author_tie_keeps_each_word_together_and_converges() {
    let two = users(2);
    assert_eq!(crossing(&["alpha", "1234"], &two, Rule::Author), "alpha1234");
    // The order between the two runs is the order of the user ids.
    let reversed: Vec<UserId> = two.iter().rev().copied().collect();
    assert_eq!(crossing(&["alpha", "1234"], &reversed, Rule::Author), "1234alpha");
    for seed in 0..1_000 {
        for (words, ids) in [
            (vec!["alpha", "1234"], users(2)),
            (vec!["alpha", "1234"], reversed.clone()),
            (vec!["alpha", "1234", "XYZ"], users(3)),
            (vec!["één", "中文字", "😀𝄞"], users(3)),
        ] {
            let typed = random(&words, &ids, Rule::Author, seed);
            for w in &words {
                assert!(typed.contains(w), "seed {seed}: {w:?} split in {typed:?}");
            }
            assert_eq!(typed.chars().count(), words.iter().map(|w| w.chars().count()).sum::<usize>());
        }
    }
}
