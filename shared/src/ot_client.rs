//! The client half of the OT model for one section (ot.js's `Client`):
//! at most one operation in flight; local edits typed meanwhile are
//! composed into a buffer; remote operations are transformed against both.
//!
//! Tie-breaking matches the server: an operation the server already
//! accepted wins ties against one still in flight ([`SectionSync::remote`]).
//! [`SectionSync::remote_with`] takes the tie as a parameter, for a client
//! and server that agreed on another rule (e.g. [`TieBreak::by_author`]).

use crate::ot::{OpError, TextOp, TieBreak};

/// Sync state of one section at one client.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum SectionSync {
    /// Nothing unacknowledged.
    #[default]
    Synced,
    /// One operation sent, not yet acknowledged.
    Awaiting { in_flight: TextOp },
    /// One in flight and more local edits waiting behind it.
    AwaitingWithBuffer { in_flight: TextOp, buffer: TextOp },
}

impl SectionSync {
    /// A local edit was applied to the local text. Returns the operation to
    /// send now, if the section was synced.
    pub fn local(&mut self, op: TextOp) -> Result<Option<TextOp>, OpError> {
        // `self` is only changed once nothing can fail any more, so an
        // operation that does not fit leaves the state (and the in-flight
        // operation) intact.
        match self {
            SectionSync::Synced => {
                *self = SectionSync::Awaiting { in_flight: op.clone() };
                Ok(Some(op))
            }
            SectionSync::Awaiting { in_flight } => {
                let in_flight = std::mem::take(in_flight);
                *self = SectionSync::AwaitingWithBuffer { in_flight, buffer: op };
                Ok(None)
            }
            SectionSync::AwaitingWithBuffer { buffer, .. } => {
                *buffer = buffer.compose(&op)?;
                Ok(None)
            }
        }
    }

    /// A remote operation (accepted by the server, from someone else)
    /// arrived. Returns it transformed to apply to the local text.
    pub fn remote(&mut self, op: &TextOp) -> Result<TextOp, OpError> {
        self.remote_with(op, TieBreak::First)
    }

    /// [`SectionSync::remote`] with the tie between the remote operation's
    /// inserts and ours at the same place decided by `tie` (`First`: the
    /// remote insert goes first). It must be the tie the server uses for
    /// this pair ([`crate::ot::transform_server_with`]), or the texts diverge.
    pub fn remote_with(&mut self, op: &TextOp, tie: TieBreak) -> Result<TextOp, OpError> {
        // As in `local`: on error the state is left unchanged.
        let (next, apply) = match &*self {
            SectionSync::Synced => (SectionSync::Synced, op.clone()),
            SectionSync::Awaiting { in_flight } => {
                let (remote2, in_flight2) = TextOp::transform_with(op, in_flight, tie)?;
                (SectionSync::Awaiting { in_flight: in_flight2 }, remote2)
            }
            SectionSync::AwaitingWithBuffer { in_flight, buffer } => {
                let (remote2, in_flight2) = TextOp::transform_with(op, in_flight, tie)?;
                let (remote3, buffer2) = TextOp::transform_with(&remote2, buffer, tie)?;
                (SectionSync::AwaitingWithBuffer { in_flight: in_flight2, buffer: buffer2 }, remote3)
            }
        };
        *self = next;
        Ok(apply)
    }

    /// The server acknowledged the in-flight operation. Returns the buffer
    /// to send next, if any.
    pub fn ack(&mut self) -> Option<TextOp> {
        match std::mem::take(self) {
            SectionSync::Synced | SectionSync::Awaiting { .. } => None,
            SectionSync::AwaitingWithBuffer { buffer, .. } => {
                *self = SectionSync::Awaiting { in_flight: buffer.clone() };
                Some(buffer)
            }
        }
    }

    /// The operation currently in flight (to re-send after a reconnect).
    pub fn in_flight(&self) -> Option<&TextOp> {
        match self {
            SectionSync::Synced => None,
            SectionSync::Awaiting { in_flight } | SectionSync::AwaitingWithBuffer { in_flight, .. } => Some(in_flight),
        }
    }

    /// True when something local is not yet acknowledged.
    pub fn has_pending(&self) -> bool {
        !matches!(self, SectionSync::Synced)
    }
}
