//! What the agents' unit tests build rooms from: a room with sections, an
//! open objection, source records. Ids are fixed so failures read the same
//! on every run.

use trustroom_shared::ids::{ObjectionId, RoomId, SectionId, UserId};
use trustroom_shared::objection::{Anchor, Objection, ObjectionKind, ObjectionStatus};
use trustroom_shared::room::{RoomState, Section};
use uuid::Uuid;

use super::sources::{Sources, parse};

/// The id of the `i`th section (0-based) of a [`room`].
pub fn section_id(i: usize) -> SectionId {
    SectionId(Uuid::from_u128(10 + i as u128))
}

/// A room at revision 0 with `sections` as `(title, body)`, in order.
pub fn room(sections: &[(&str, &str)]) -> RoomState {
    let mut state = RoomState::new(RoomId(Uuid::from_u128(1)), "R".into(), 0);
    for (i, (title, body)) in sections.iter().enumerate() {
        state.sections.push(Section::new(section_id(i), title.to_string(), body.to_string(), 1));
    }
    state
}

/// Adds open objection `O-n` by `author`; returns its id.
pub fn objection(
    state: &mut RoomState,
    n: u32,
    author: UserId,
    anchor: Anchor,
    kind: ObjectionKind,
    text: &str,
) -> ObjectionId {
    let id = ObjectionId(Uuid::from_u128(0x500 + u128::from(n)));
    let objection = Objection {
        id,
        number: n,
        author,
        anchor,
        kind,
        blocking: false,
        text: text.into(),
        status: ObjectionStatus::Open,
        rationale: None,
        replies: vec![],
        history: vec![],
        at_ms: 0,
        found_downstream: None,
    };
    state.objections.insert(id, objection);
    id
}

/// Source records from one file named `file`, one JSON line each.
pub fn sources(file: &str, lines: &[&str]) -> Sources {
    let records = parse(file, &lines.join("\n")).expect("the test's records parse");
    Sources::merge(vec![(file.into(), records)]).expect("the test's records merge")
}
