//! The simulated server: sequencing, transform against history, deduplication by (client, seq).

use super::*;

/// An operation as a client sends it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Submit {
    pub(crate) client: usize,
    pub(crate) seq: u64,
    /// Server revision the operation is based on.
    pub(crate) base: usize,
    pub(crate) op: TextOp,
}

/// One accepted change; `rev` is 1-based (revision 0 is the initial text).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) rev: usize,
    pub(crate) client: usize,
    pub(crate) seq: u64,
    pub(crate) op: TextOp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Receipt {
    Applied(usize),
    /// This (client, seq) was already accepted at that revision.
    Duplicate(usize),
}

/// The sequencer: transforms each incoming operation against everything
/// accepted after its base revision, applies it and appends it to the log.
pub(crate) struct Server {
    pub(crate) initial: String,
    pub(crate) text: String,
    pub(crate) log: Vec<Entry>,
    /// Text at every revision (`history[r]`), for the client invariant.
    pub(crate) history: Vec<String>,
    pub(crate) accepted: HashMap<(usize, u64), usize>,
    pub(crate) duplicates: usize,
    /// Accepted operations that had to be transformed (base behind the server).
    pub(crate) transformed: usize,
}

impl Server {
    pub(crate) fn new(initial: String) -> Self {
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

    pub(crate) fn rev(&self) -> usize {
        self.log.len()
    }

    pub(crate) fn receive(&mut self, m: &Submit) -> SimResult<Receipt> {
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

    pub(crate) fn entry(&self, rev: usize) -> SimResult<Entry> {
        rev.checked_sub(1)
            .and_then(|i| self.log.get(i))
            .cloned()
            .ok_or_else(|| format!("no log entry for revision {rev}"))
    }
}
