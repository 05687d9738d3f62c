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

use std::collections::{HashMap, VecDeque};

use trustroom_shared::ot::{self, TextOp};
use trustroom_shared::ot_client::SectionSync;

type SimResult<T> = Result<T, String>;

macro_rules! check {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(format!($($fmt)+));
        }
    };
}

fn err<E: std::fmt::Display>(context: &'static str) -> impl Fn(E) -> String {
    move |e| format!("{context}: {e}")
}

// ---------------------------------------------------------------- PRNG ----

/// SplitMix64: tiny, fast, good enough to drive a simulation.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ 0x9E37_79B9_7F4A_7C15)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    fn percent(&mut self, p: u64) -> bool {
        self.next_u64() % 100 < p
    }
}

// -------------------------------------------------------------- texts -----

/// Ordinary characters: 1- to 4-byte UTF-8 and newlines.
const ALPHABET: &[char] = &['a', 'b', 'z', ' ', '\n', '\n', 'é', 'ß', '€', '中', '😀', '𝄞'];
const MARKER_BASE: u32 = 0xE000;
const MARKER_END: u32 = 0xF8FF;

fn is_marker(c: char) -> bool {
    (MARKER_BASE..=MARKER_END).contains(&(c as u32))
}

/// Hands out marker characters, each exactly once per run.
#[derive(Default)]
struct Markers {
    issued: Vec<char>,
}

impl Markers {
    fn fresh(&mut self) -> SimResult<char> {
        let code = MARKER_BASE + self.issued.len() as u32;
        check!(code <= MARKER_END, "ran out of marker characters");
        let c = char::from_u32(code).ok_or("marker is not a char")?;
        self.issued.push(c);
        Ok(c)
    }
}

fn random_text(rng: &mut Rng, max: usize) -> String {
    let n = rng.below(max + 1);
    (0..n).map(|_| ALPHABET[rng.below(ALPHABET.len())]).collect()
}

/// A random local edit over the whole text: one to three places, each an
/// insert, a delete or a replacement. Deletes stop at marker characters, so
/// markers are only ever removed if OT itself loses them. About one insert in
/// four carries a fresh marker.
fn random_edit(rng: &mut Rng, text: &str, markers: &mut Markers) -> SimResult<TextOp> {
    let chars: Vec<char> = text.chars().collect();
    let len = chars.len();
    let mut op = TextOp::new();
    let mut at = 0;
    for _ in 0..1 + rng.below(3) {
        let p = at + rng.below(len - at + 1);
        op.retain(p - at);
        at = p;
        // Keep texts from growing without bound.
        let delete_bias = if len > 160 { 4 } else { 0 };
        let kind = rng.below(10 + delete_bias);
        if kind >= 5 {
            let want = 1 + rng.below(4);
            let mut d = 0;
            while d < want && at + d < len && !is_marker(chars[at + d]) {
                d += 1;
            }
            op.delete(d);
            at += d;
        }
        if kind < 5 || kind == 9 {
            let mut s = random_text(rng, 3);
            if s.is_empty() || rng.percent(25) {
                let m = markers.fresh()?;
                let cut = s.char_indices().map(|(i, _)| i).nth(rng.below(s.chars().count() + 1));
                s.insert(cut.unwrap_or(s.len()), m);
            }
            op.insert(&s);
        }
    }
    op.retain(len - at);
    Ok(op)
}

// ------------------------------------------------------------- server -----

/// An operation as a client sends it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Submit {
    client: usize,
    seq: u64,
    /// Server revision the operation is based on.
    base: usize,
    op: TextOp,
}

/// One accepted change; `rev` is 1-based (revision 0 is the initial text).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    rev: usize,
    client: usize,
    seq: u64,
    op: TextOp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Receipt {
    Applied(usize),
    /// This (client, seq) was already accepted at that revision.
    Duplicate(usize),
}

/// The sequencer: transforms each incoming operation against everything
/// accepted after its base revision, applies it and appends it to the log.
struct Server {
    initial: String,
    text: String,
    log: Vec<Entry>,
    /// Text at every revision (`history[r]`), for the client invariant.
    history: Vec<String>,
    accepted: HashMap<(usize, u64), usize>,
    duplicates: usize,
    /// Accepted operations that had to be transformed (base behind the server).
    transformed: usize,
}

impl Server {
    fn new(initial: String) -> Self {
        Server {
            text: initial.clone(),
            history: vec![initial.clone()],
            initial,
            log: Vec::new(),
            accepted: HashMap::new(),
            duplicates: 0,
            transformed: 0,
        }
    }

    fn rev(&self) -> usize {
        self.log.len()
    }

    fn receive(&mut self, m: &Submit) -> SimResult<Receipt> {
        // Idempotency comes first: a resend may be based on anything.
        if let Some(&rev) = self.accepted.get(&(m.client, m.seq)) {
            self.duplicates += 1;
            return Ok(Receipt::Duplicate(rev));
        }
        check!(m.base <= self.rev(), "revision {} from the future (server at {})", m.base, self.rev());
        let mut op = m.op.clone();
        if m.base < self.rev() {
            self.transformed += 1;
        }
        for e in &self.log[m.base..] {
            op = ot::transform_server(&op, &e.op).map_err(err("server transform"))?;
        }
        self.text = op.apply(&self.text).map_err(err("server apply"))?;
        let rev = self.rev() + 1;
        self.log.push(Entry { rev, client: m.client, seq: m.seq, op });
        self.history.push(self.text.clone());
        self.accepted.insert((m.client, m.seq), rev);
        Ok(Receipt::Applied(rev))
    }

    fn entry(&self, rev: usize) -> SimResult<Entry> {
        rev.checked_sub(1)
            .and_then(|i| self.log.get(i))
            .cloned()
            .ok_or_else(|| format!("no log entry for revision {rev}"))
    }
}

// ------------------------------------------------------------- client -----

/// How an in-flight operation is sent again after a reconnect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ResendForm {
    /// Byte for byte what was sent first: same seq, same base revision, same op.
    AsFirstSent,
    /// `SectionSync::in_flight()` (already transformed against what the
    /// client has seen) with base = the client's last-seen revision.
    Rebased,
}

/// What a reconnecting client does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reconnect {
    /// Receive every entry after the last-seen revision (recognising its own
    /// operation as the ack), then re-send the in-flight op if it was not among them.
    CatchUpThenResend(ResendForm),
    /// Re-send the in-flight op at once (the server must answer "duplicate"
    /// if it already has it), then catch up.
    ResendThenCatchUp(ResendForm),
}

struct Client {
    id: usize,
    text: String,
    sync: SectionSync,
    last_seen: usize,
    next_seq: u64,
    /// Seq of the in-flight operation and its form as first sent.
    in_flight: Option<Submit>,
    connected: bool,
    /// The in-flight operation has not been sent on the current connection.
    needs_send: bool,
    /// Events ignored because the client already had them (overlap after a reconnect).
    stale_events: usize,
}

impl Client {
    fn new(id: usize, text: String) -> Self {
        Client {
            id,
            text,
            sync: SectionSync::Synced,
            last_seen: 0,
            next_seq: 1,
            in_flight: None,
            connected: true,
            needs_send: false,
            stale_events: 0,
        }
    }

    /// Registers `op` as the new in-flight operation; returns it to send if connected.
    fn start_sending(&mut self, op: TextOp) -> Option<Submit> {
        let m = Submit { client: self.id, seq: self.next_seq, base: self.last_seen, op };
        self.next_seq += 1;
        self.in_flight = Some(m.clone());
        self.needs_send = !self.connected;
        self.connected.then_some(m)
    }

    /// A local edit (typed while online or offline).
    fn edit(&mut self, rng: &mut Rng, markers: &mut Markers) -> SimResult<Option<Submit>> {
        let op = random_edit(rng, &self.text, markers)?;
        if op.is_noop() {
            return Ok(None);
        }
        self.text = op.apply(&self.text).map_err(err("local apply"))?;
        match self.sync.local(op).map_err(err("SectionSync::local"))? {
            Some(op) => Ok(self.start_sending(op)),
            None => Ok(None),
        }
    }

    /// An event from the server (live or during catch-up).
    fn receive(&mut self, e: &Entry) -> SimResult<Option<Submit>> {
        if e.rev <= self.last_seen {
            self.stale_events += 1;
            return Ok(None);
        }
        check!(e.rev == self.last_seen + 1, "client {} got rev {} after {}: gap", self.id, e.rev, self.last_seen);
        self.last_seen = e.rev;
        if e.client != self.id {
            let op = self.sync.remote(&e.op).map_err(err("SectionSync::remote"))?;
            self.text = op.apply(&self.text).map_err(err("client apply"))?;
            return Ok(None);
        }
        let mine = self.in_flight.as_ref().map(|m| m.seq);
        check!(
            mine == Some(e.seq),
            "client {} got its own seq {} at rev {} but has {:?} in flight",
            self.id,
            e.seq,
            e.rev,
            mine
        );
        self.in_flight = None;
        self.needs_send = false;
        Ok(self.sync.ack().and_then(|buffer| self.start_sending(buffer)))
    }

    fn resend(&self, form: ResendForm) -> SimResult<Submit> {
        let first = self.in_flight.as_ref().ok_or("nothing in flight to re-send")?;
        match form {
            ResendForm::AsFirstSent => Ok(first.clone()),
            ResendForm::Rebased => Ok(Submit {
                client: self.id,
                seq: first.seq,
                base: self.last_seen,
                op: self.sync.in_flight().ok_or("SectionSync has nothing in flight")?.clone(),
            }),
        }
    }

    /// Local text == server text at the last-seen revision · in_flight · buffer.
    fn check_invariant(&self, server: &Server) -> SimResult<()> {
        let base = server.history.get(self.last_seen).ok_or("last_seen beyond the server")?;
        let expected = match &self.sync {
            SectionSync::Synced => base.clone(),
            SectionSync::Awaiting { in_flight } => in_flight.apply(base).map_err(err("invariant"))?,
            SectionSync::AwaitingWithBuffer { in_flight, buffer } => {
                let t = in_flight.apply(base).map_err(err("invariant"))?;
                buffer.apply(&t).map_err(err("invariant"))?
            }
        };
        check!(
            expected == self.text,
            "client {} diverged from server rev {} + pending ops:\n  local:    {:?}\n  expected: {:?}",
            self.id,
            self.last_seen,
            self.text,
            expected
        );
        check!(
            self.sync.has_pending() == self.in_flight.is_some(),
            "client {}: SectionSync pending = {} but in-flight seq = {:?}",
            self.id,
            self.sync.has_pending(),
            self.in_flight.as_ref().map(|m| m.seq)
        );
        Ok(())
    }
}

// --------------------------------------------------------- simulation -----

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DropPoint {
    /// The client's operation is lost before the server receives it.
    BeforeServer,
    /// The server commits the operation; the ack (and the connection) is lost.
    AfterCommit,
    /// The ack arrives (nothing else pending), then the connection is lost.
    /// Once armed, the victim types nothing while it has an op pending, so
    /// its buffer drains.
    AfterAck,
}

/// A planned connection drop for one client. `real == false` is the
/// no-drop baseline: at the same moment the client is only paused (its
/// channels hold their messages), and resumes by taking what is queued.
#[derive(Clone, Copy, Debug)]
struct Fault {
    victim: usize,
    point: DropPoint,
    not_before_step: usize,
    reconnect: Reconnect,
    real: bool,
}

#[derive(Clone, Copy, Debug)]
struct Outage {
    until_step: usize,
    reconnect: Reconnect,
    /// false: paused (baseline), true: disconnected.
    real: bool,
}

#[derive(Clone, Copy, Debug)]
struct Config {
    clients: usize,
    steps: usize,
    edit_percent: u64,
    /// Percent of steps on which a random client loses its connection.
    chaos_percent: u64,
    fault: Option<Fault>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Queue {
    Up(usize),
    Down(usize),
}

struct Sim {
    rng: Rng,
    cfg: Config,
    step: usize,
    server: Server,
    clients: Vec<Client>,
    up: Vec<VecDeque<Submit>>,
    down: Vec<VecDeque<usize>>,
    outage: Vec<Option<Outage>>,
    markers: Markers,
    fault_fired: bool,
    /// No faults or outages start while draining.
    draining: bool,
    /// Revision at which the faulted operation was committed (AfterCommit).
    fault_rev: Option<usize>,
    /// Receipt the server gave an eager re-send.
    resend_receipts: Vec<Receipt>,
}

/// Everything that must match between a drop run and its no-drop twin.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    text: String,
    log: Vec<Entry>,
    client_texts: Vec<String>,
    markers: Vec<char>,
}

struct Report {
    outcome: Outcome,
    fault_fired: bool,
    fault_rev: Option<usize>,
    resend_receipts: Vec<Receipt>,
    duplicates: usize,
    transformed: usize,
    stale_events: usize,
}

impl Sim {
    fn new(seed: u64, cfg: Config) -> Self {
        let mut rng = Rng::new(seed);
        let initial = random_text(&mut rng, 40);
        let clients = (0..cfg.clients).map(|i| Client::new(i, initial.clone())).collect();
        Sim {
            rng,
            cfg,
            step: 0,
            server: Server::new(initial),
            clients,
            up: vec![VecDeque::new(); cfg.clients],
            down: vec![VecDeque::new(); cfg.clients],
            outage: vec![None; cfg.clients],
            markers: Markers::default(),
            fault_fired: false,
            draining: false,
            fault_rev: None,
            resend_receipts: Vec::new(),
        }
    }

    fn run(mut self) -> SimResult<Report> {
        for step in 0..self.cfg.steps {
            self.step = step;
            self.end_outages(false)?;
            self.maybe_chaos()?;
            self.one_step()?;
        }
        self.draining = true;
        self.end_outages(true)?;
        while self.deliver_random()? {}
        self.finish()
    }

    fn eligible(&self) -> Vec<Queue> {
        let idle = |i: usize| self.outage[i].is_none();
        let ups = (0..self.clients.len()).filter(|&i| idle(i) && !self.up[i].is_empty()).map(Queue::Up);
        let downs = (0..self.clients.len()).filter(|&i| idle(i) && !self.down[i].is_empty()).map(Queue::Down);
        ups.chain(downs).collect()
    }

    fn one_step(&mut self) -> SimResult<()> {
        if self.rng.percent(self.cfg.edit_percent) {
            let i = self.rng.below(self.clients.len());
            if self.fault_armed(i, DropPoint::AfterAck).is_some() && self.clients[i].sync.has_pending() {
                // The victim stops typing while it waits, so its ack leaves it
                // with nothing pending (the same in the drop run and its twin).
                return Ok(());
            }
            let sent = self.clients[i].edit(&mut self.rng, &mut self.markers)?;
            if let Some(m) = sent {
                self.up[i].push_back(m);
            }
            return self.clients[i].check_invariant(&self.server);
        }
        self.deliver_random().map(|_| ())
    }

    /// Delivers the head of one random non-empty channel; false when all are empty.
    fn deliver_random(&mut self) -> SimResult<bool> {
        let queues = self.eligible();
        if queues.is_empty() {
            return Ok(false);
        }
        match queues[self.rng.below(queues.len())] {
            Queue::Up(i) => self.deliver_up(i)?,
            Queue::Down(i) => self.deliver_down(i)?,
        }
        Ok(true)
    }

    fn fault_armed(&self, victim: usize, point: DropPoint) -> Option<Fault> {
        self.cfg.fault.filter(|f| {
            !self.draining
                && !self.fault_fired
                && f.victim == victim
                && f.point == point
                && self.step >= f.not_before_step
        })
    }

    fn trigger(&mut self, f: Fault) {
        self.fault_fired = true;
        let until_step = self.step + 1 + self.rng.below(40);
        self.start_outage(f.victim, Outage { until_step, reconnect: f.reconnect, real: f.real });
    }

    fn start_outage(&mut self, i: usize, o: Outage) {
        if o.real {
            // The socket dies: whatever was on the wire in either direction is gone.
            let c = &mut self.clients[i];
            c.connected = false;
            c.needs_send = c.in_flight.is_some();
            self.up[i].clear();
            self.down[i].clear();
        }
        self.outage[i] = Some(o);
    }

    fn deliver_up(&mut self, i: usize) -> SimResult<()> {
        if let Some(f) = self.fault_armed(i, DropPoint::BeforeServer) {
            // The baseline keeps the message queued; the real drop loses it.
            self.trigger(f);
            return Ok(());
        }
        let m = self.up[i].pop_front().ok_or("empty uplink")?;
        if let Receipt::Applied(rev) = self.accept(&m)?
            && let Some(f) = self.fault_armed(i, DropPoint::AfterCommit)
        {
            self.fault_rev = Some(rev);
            self.trigger(f);
        }
        Ok(())
    }

    /// Server receive + broadcast to every connected client (the author too).
    fn accept(&mut self, m: &Submit) -> SimResult<Receipt> {
        let receipt = self.server.receive(m)?;
        if let Receipt::Applied(rev) = receipt {
            for (j, c) in self.clients.iter().enumerate() {
                if c.connected {
                    self.down[j].push_back(rev);
                }
            }
        }
        Ok(receipt)
    }

    fn deliver_down(&mut self, i: usize) -> SimResult<()> {
        let rev = self.down[i].pop_front().ok_or("empty downlink")?;
        let e = self.server.entry(rev)?;
        let own_ack = e.client == i;
        self.receive(i, &e)?;
        if own_ack
            && !self.clients[i].sync.has_pending()
            && let Some(f) = self.fault_armed(i, DropPoint::AfterAck)
        {
            check!(self.up[i].is_empty(), "after-ack drop with something still to send");
            self.trigger(f);
        }
        Ok(())
    }

    fn receive(&mut self, i: usize, e: &Entry) -> SimResult<()> {
        if let Some(m) = self.clients[i].receive(e)? {
            self.up[i].push_back(m);
        }
        self.clients[i].check_invariant(&self.server)
    }

    fn end_outages(&mut self, all: bool) -> SimResult<()> {
        for i in 0..self.clients.len() {
            let Some(o) = self.outage[i] else { continue };
            if !all && self.step < o.until_step {
                continue;
            }
            self.outage[i] = None;
            if o.real {
                self.reconnect(i, o.reconnect)?;
            } else {
                // Baseline: the paused client takes everything queued for it.
                while let Some(rev) = self.down[i].pop_front() {
                    let e = self.server.entry(rev)?;
                    self.receive(i, &e)?;
                }
            }
        }
        Ok(())
    }

    fn reconnect(&mut self, i: usize, how: Reconnect) -> SimResult<()> {
        self.clients[i].connected = true;
        if let Reconnect::ResendThenCatchUp(form) = how
            && self.clients[i].needs_send
        {
            let m = self.clients[i].resend(form)?;
            self.clients[i].needs_send = false;
            let receipt = self.accept(&m)?;
            self.resend_receipts.push(receipt);
        }
        // Catch-up: every entry after the last-seen revision, in order.
        for rev in self.clients[i].last_seen + 1..=self.server.rev() {
            let e = self.server.entry(rev)?;
            self.receive(i, &e)?;
        }
        if let Reconnect::CatchUpThenResend(form) = how
            && self.clients[i].needs_send
        {
            let m = self.clients[i].resend(form)?;
            check!(
                !self.server.accepted.contains_key(&(m.client, m.seq)),
                "client {} would re-send ({}, {}) although catch-up showed it accepted",
                i,
                m.client,
                m.seq
            );
            self.clients[i].needs_send = false;
            self.up[i].push_back(m);
        }
        Ok(())
    }

    fn maybe_chaos(&mut self) -> SimResult<()> {
        if self.cfg.chaos_percent == 0 || !self.rng.percent(self.cfg.chaos_percent) {
            return Ok(());
        }
        let i = self.rng.below(self.clients.len());
        if self.outage[i].is_some() {
            return Ok(());
        }
        let form = if self.rng.percent(50) { ResendForm::AsFirstSent } else { ResendForm::Rebased };
        let reconnect =
            if self.rng.percent(50) { Reconnect::CatchUpThenResend(form) } else { Reconnect::ResendThenCatchUp(form) };
        let until_step = self.step + 1 + self.rng.below(30);
        self.start_outage(i, Outage { until_step, reconnect, real: true });
        Ok(())
    }

    fn finish(self) -> SimResult<Report> {
        let server = &self.server;
        // Replay of the log from the initial text.
        let mut replay = server.initial.clone();
        for e in &server.log {
            replay = e.op.apply(&replay).map_err(err("replay"))?;
        }
        check!(replay == server.text, "log replay {:?} != server text {:?}", replay, server.text);
        // The same through one composed operation.
        let mut all = TextOp::from_texts(&server.initial, &server.initial);
        for e in &server.log {
            all = all.compose(&e.op).map_err(err("compose log"))?;
        }
        check!(all.apply(&server.initial).map_err(err("composed log"))? == server.text, "composed log differs");

        for (i, c) in self.clients.iter().enumerate() {
            check!(c.connected && self.outage[i].is_none(), "client {i} still offline");
            check!(self.up[i].is_empty() && self.down[i].is_empty(), "client {i} has undelivered messages");
            check!(!c.sync.has_pending() && c.in_flight.is_none(), "client {i} still has pending ops: {:?}", c.sync);
            check!(c.last_seen == server.rev(), "client {i} saw rev {} of {}", c.last_seen, server.rev());
            check!(c.text == server.text, "client {i} text {:?} != server {:?}", c.text, server.text);
        }

        // Each (client, seq) accepted once, and every seq a client used was accepted.
        let mut seen = HashMap::new();
        for e in &server.log {
            check!(seen.insert((e.client, e.seq), e.rev).is_none(), "({}, {}) applied twice", e.client, e.seq);
        }
        for c in &self.clients {
            for seq in 1..c.next_seq {
                check!(seen.contains_key(&(c.id, seq)), "({}, {seq}) never accepted", c.id);
            }
        }

        // Markers: each exactly once, and no others.
        for &m in &self.markers.issued {
            let n = server.text.chars().filter(|&c| c == m).count();
            check!(n == 1, "marker U+{:04X} appears {n} times", m as u32);
        }
        let total = server.text.chars().filter(|&c| is_marker(c)).count();
        check!(total == self.markers.issued.len(), "{total} markers in text, {} issued", self.markers.issued.len());

        Ok(Report {
            stale_events: self.clients.iter().map(|c| c.stale_events).sum(),
            duplicates: server.duplicates,
            transformed: server.transformed,
            fault_fired: self.fault_fired,
            fault_rev: self.fault_rev,
            resend_receipts: self.resend_receipts,
            outcome: Outcome {
                text: self.server.text,
                log: self.server.log,
                client_texts: self.clients.into_iter().map(|c| c.text).collect(),
                markers: self.markers.issued,
            },
        })
    }
}

fn run(seed: u64, cfg: Config) -> Report {
    Sim::new(seed, cfg).run().unwrap_or_else(|e| panic!("seed {seed}, {cfg:?}: {e}"))
}

fn plain(clients: usize, steps: usize) -> Config {
    Config { clients, steps, edit_percent: 35, chaos_percent: 0, fault: None }
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
