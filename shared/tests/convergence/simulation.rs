//! The simulation: clients, the server and the channels between them, with drop points and outages.

use super::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DropPoint {
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
pub(crate) struct Fault {
    pub(crate) victim: usize,
    pub(crate) point: DropPoint,
    pub(crate) not_before_step: usize,
    pub(crate) reconnect: Reconnect,
    pub(crate) real: bool,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Outage {
    pub(crate) until_step: usize,
    pub(crate) reconnect: Reconnect,
    /// false: paused (baseline), true: disconnected.
    pub(crate) real: bool,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Config {
    pub(crate) clients: usize,
    pub(crate) steps: usize,
    pub(crate) edit_percent: u64,
    /// Percent of steps on which a random client loses its connection.
    pub(crate) chaos_percent: u64,
    pub(crate) fault: Option<Fault>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Queue {
    Up(usize),
    Down(usize),
}

pub(crate) struct Sim {
    pub(crate) rng: Rng,
    pub(crate) cfg: Config,
    pub(crate) step: usize,
    pub(crate) server: Server,
    pub(crate) clients: Vec<Client>,
    pub(crate) up: Vec<VecDeque<Submit>>,
    pub(crate) down: Vec<VecDeque<usize>>,
    pub(crate) outage: Vec<Option<Outage>>,
    pub(crate) markers: Markers,
    pub(crate) fault_fired: bool,
    /// No faults or outages start while draining.
    pub(crate) draining: bool,
    /// Revision at which the faulted operation was committed (AfterCommit).
    pub(crate) fault_rev: Option<usize>,
    /// Receipt the server gave an eager re-send.
    pub(crate) resend_receipts: Vec<Receipt>,
}

/// Everything that must match between a drop run and its no-drop twin.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub(crate) text: String,
    pub(crate) log: Vec<Entry>,
    pub(crate) client_texts: Vec<String>,
    pub(crate) markers: Vec<char>,
}

pub(crate) struct Report {
    pub(crate) outcome: Outcome,
    pub(crate) fault_fired: bool,
    pub(crate) fault_rev: Option<usize>,
    pub(crate) resend_receipts: Vec<Receipt>,
    pub(crate) duplicates: usize,
    pub(crate) transformed: usize,
    pub(crate) stale_events: usize,
}

impl Sim {
    pub(crate) fn new(seed: u64, cfg: Config) -> Self {
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

    pub(crate) fn run(mut self) -> SimResult<Report> {
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

    pub(crate) fn eligible(&self) -> Vec<Queue> {
        let idle = |i: usize| self.outage[i].is_none();
        let ups = (0..self.clients.len()).filter(|&i| idle(i) && !self.up[i].is_empty()).map(Queue::Up);
        let downs = (0..self.clients.len()).filter(|&i| idle(i) && !self.down[i].is_empty()).map(Queue::Down);
        ups.chain(downs).collect()
    }

    pub(crate) fn one_step(&mut self) -> SimResult<()> {
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
    pub(crate) fn deliver_random(&mut self) -> SimResult<bool> {
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

    pub(crate) fn fault_armed(&self, victim: usize, point: DropPoint) -> Option<Fault> {
        self.cfg.fault.filter(|f| {
            !self.draining
                && !self.fault_fired
                && f.victim == victim
                && f.point == point
                && self.step >= f.not_before_step
        })
    }

    pub(crate) fn trigger(&mut self, f: Fault) {
        self.fault_fired = true;
        let until_step = self.step + 1 + self.rng.below(40);
        self.start_outage(f.victim, Outage { until_step, reconnect: f.reconnect, real: f.real });
    }

    pub(crate) fn start_outage(&mut self, i: usize, o: Outage) {
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

    pub(crate) fn deliver_up(&mut self, i: usize) -> SimResult<()> {
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
    pub(crate) fn accept(&mut self, m: &Submit) -> SimResult<Receipt> {
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

    pub(crate) fn deliver_down(&mut self, i: usize) -> SimResult<()> {
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

    pub(crate) fn receive(&mut self, i: usize, e: &Entry) -> SimResult<()> {
        if let Some(m) = self.clients[i].receive(e)? {
            self.up[i].push_back(m);
        }
        self.clients[i].check_invariant(&self.server)
    }

    pub(crate) fn end_outages(&mut self, all: bool) -> SimResult<()> {
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

    pub(crate) fn reconnect(&mut self, i: usize, how: Reconnect) -> SimResult<()> {
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

    pub(crate) fn maybe_chaos(&mut self) -> SimResult<()> {
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

    pub(crate) fn finish(self) -> SimResult<Report> {
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

pub(crate) fn run(seed: u64, cfg: Config) -> Report {
    Sim::new(seed, cfg).run().unwrap_or_else(|e| panic!("seed {seed}, {cfg:?}: {e}"))
}

pub(crate) fn plain(clients: usize, steps: usize) -> Config {
    Config { clients, steps, edit_percent: 35, chaos_percent: 0, fault: None }
}
