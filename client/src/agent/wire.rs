//! An agent action as a protocol request. Only three request types can
//! come out of here: `suggest`, `suggest_register` and `object` — an agent
//! client never sends anything else that changes the room.

use trustroom_shared::RoomId;
use trustroom_shared::protocol::Request;

use super::plan::Action;

/// The request for `action` in `room`, with idempotency `seq`.
pub fn request(room: RoomId, action: &Action, base: u64, seq: u64) -> Request {
    match action {
        Action::SuggestEdit { section, op, rationale, evidence } => Request::Suggest {
            room,
            section: *section,
            base,
            op: op.to_wire(),
            rationale: rationale.clone(),
            evidence: evidence.clone(),
            seq: Some(seq),
        },
        Action::SuggestRegister { change, rationale, evidence } => Request::SuggestRegister {
            room,
            change: change.clone(),
            rationale: rationale.clone(),
            evidence: evidence.clone(),
            seq: Some(seq),
        },
        Action::Object { section, statement, quote, kind, text } => Request::Object {
            room,
            section: *section,
            kind: *kind,
            blocking: false,
            text: text.clone(),
            statement: *statement,
            quote: quote.clone(),
            seq: Some(seq),
        },
    }
}

/// The wire `type` of every request an agent may send (tests check the
/// client never sends anything else).
#[cfg(test)]
pub const AGENT_REQUEST_TYPES: [&str; 3] = ["suggest", "suggest_register", "object"];
