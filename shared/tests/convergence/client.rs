//! The simulated client: the OT state machine, resend forms and reconnect policies.

use super::*;

/// How an in-flight operation is sent again after a reconnect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ResendForm {
    /// Byte for byte what was sent first: same seq, same base revision, same op.
    AsFirstSent,
    /// `SectionSync::in_flight()` (already transformed against what the
    /// client has seen) with base = the client's last-seen revision.
    Rebased,
}

/// What a reconnecting client does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reconnect {
    /// Receive every entry after the last-seen revision (recognising its own
    /// operation as the ack), then re-send the in-flight op if it was not among them.
    CatchUpThenResend(ResendForm),
    /// Re-send the in-flight op at once (the server must answer "duplicate"
    /// if it already has it), then catch up.
    ResendThenCatchUp(ResendForm),
}

pub(crate) struct Client {
    pub(crate) id: usize,
    pub(crate) text: String,
    pub(crate) sync: SectionSync,
    pub(crate) last_seen: usize,
    pub(crate) next_seq: u64,
    /// Seq of the in-flight operation and its form as first sent.
    pub(crate) in_flight: Option<Submit>,
    pub(crate) connected: bool,
    /// The in-flight operation has not been sent on the current connection.
    pub(crate) needs_send: bool,
    /// Events ignored because the client already had them (overlap after a reconnect).
    pub(crate) stale_events: usize,
}

impl Client {
    pub(crate) fn new(id: usize, text: String) -> Self {
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
    pub(crate) fn start_sending(&mut self, op: TextOp) -> Option<Submit> {
        let m = Submit { client: self.id, seq: self.next_seq, base: self.last_seen, op };
        self.next_seq += 1;
        self.in_flight = Some(m.clone());
        self.needs_send = !self.connected;
        self.connected.then_some(m)
    }

    /// A local edit (typed while online or offline).
    pub(crate) fn edit(&mut self, rng: &mut Rng, markers: &mut Markers) -> SimResult<Option<Submit>> {
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
    pub(crate) fn receive(&mut self, e: &Entry) -> SimResult<Option<Submit>> {
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

    pub(crate) fn resend(&self, form: ResendForm) -> SimResult<Submit> {
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
    pub(crate) fn check_invariant(&self, server: &Server) -> SimResult<()> {
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
