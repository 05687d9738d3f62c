//! Name resolution: the names people type (a room title, a section title,
//! `O-3`, `A1`) on the command line, for the CLI's commands and the agents'
//! `--room`, turned into ids. Ids always work; titles must match exactly
//! and only once. Unknown and ambiguous names are `not_found`, with a
//! message that says what exists.

use trustroom_shared::annex::Annex;
use trustroom_shared::ids::{AnnexId, ObjectionId, RoomId, SectionId};
use trustroom_shared::objection::Objection;
use trustroom_shared::protocol::RoomSummary;
use trustroom_shared::room::{Member, RoomState, Section};

use crate::session::{LocalError, Session};

/// Most candidates listed in an error message.
const LISTED: usize = 12;

/// A room as named on the command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RoomName {
    Id(RoomId),
    Title(String),
}

impl RoomName {
    pub fn parse(arg: &str) -> RoomName {
        match arg.trim().parse::<RoomId>() {
            Ok(id) => RoomName::Id(id),
            Err(_) => RoomName::Title(arg.to_string()),
        }
    }
}

/// Picks the one candidate matching, or explains why there is none.
fn one<'a, T>(
    (what, whats): (&str, &str),
    name: &str,
    matches: Vec<&'a T>,
    id_of: impl Fn(&T) -> String,
    known: impl FnOnce() -> Vec<String>,
    hint: &str,
) -> Result<&'a T, LocalError> {
    match matches.as_slice() {
        [only] => Ok(only),
        [] => {
            let known = known();
            let listed = if known.is_empty() {
                format!("there are no {whats}")
            } else {
                let mut shown: Vec<String> = known.iter().take(LISTED).cloned().collect();
                if known.len() > LISTED {
                    shown.push(format!("… {} more", known.len() - LISTED));
                }
                format!("{whats}: {}", shown.join(", "))
            };
            Err(LocalError::not_found(format!("no {what} {name:?} ({listed}){hint}")))
        }
        many => {
            let ids: Vec<String> = many.iter().map(|t| id_of(t)).collect();
            Err(LocalError::not_found(format!(
                "{what} name {name:?} is ambiguous: {} {whats} match ({}); use the id",
                many.len(),
                ids.join(", ")
            )))
        }
    }
}

/// A room among `rooms` (the answer of `rooms`) by id or exact title.
pub fn room<'a>(rooms: &'a [RoomSummary], name: &str) -> Result<&'a RoomSummary, LocalError> {
    let by_id: Vec<&RoomSummary> = rooms.iter().filter(|r| r.id.to_string() == name.trim()).collect();
    let matches = if by_id.is_empty() { rooms.iter().filter(|r| r.title == name).collect() } else { by_id };
    one(
        ("room", "rooms"),
        name,
        matches,
        |r| r.id.to_string(),
        || rooms.iter().map(|r| format!("{:?}", r.title)).collect(),
        "; `trustroom rooms` lists yours",
    )
}

/// A room id from an id or exact title (asking the server for the
/// member's rooms only for a title).
pub async fn room_id(session: &mut Session, name: &str) -> anyhow::Result<RoomId> {
    match RoomName::parse(name) {
        RoomName::Id(id) => Ok(id),
        RoomName::Title(_) => {
            let rooms = session.rooms().await?;
            Ok(room(&rooms, name)?.id)
        }
    }
}

/// A section by id or exact title.
pub fn section<'a>(state: &'a RoomState, name: &str) -> Result<&'a Section, LocalError> {
    let matches: Vec<&Section> = match name.trim().parse::<SectionId>() {
        Ok(id) => state.sections.iter().filter(|s| s.id == id).collect(),
        Err(_) => state.sections.iter().filter(|s| s.title == name).collect(),
    };
    one(
        ("section", "sections"),
        name,
        matches,
        |s| s.id.to_string(),
        || state.sections.iter().map(|s| format!("{:?}", s.title)).collect(),
        "",
    )
}

/// Parses `O-3`, `o-3`, `O3` or `3` into an objection number.
pub fn objection_number(name: &str) -> Option<u32> {
    let t = name.trim();
    let digits = t.strip_prefix(['O', 'o']).map(|r| r.strip_prefix('-').unwrap_or(r)).unwrap_or(t);
    digits.parse().ok().filter(|n| *n > 0)
}

/// An objection by id or `O-N`.
pub fn objection<'a>(state: &'a RoomState, name: &str) -> Result<&'a Objection, LocalError> {
    let matches: Vec<&Objection> = if let Ok(id) = name.trim().parse::<ObjectionId>() {
        state.objections.get(&id).into_iter().collect()
    } else if let Some(n) = objection_number(name) {
        state.objections.values().filter(|o| o.number == n).collect()
    } else {
        Vec::new()
    };
    let mut numbers: Vec<u32> = state.objections.values().map(|o| o.number).collect();
    numbers.sort_unstable();
    one(
        ("objection", "objections"),
        name,
        matches,
        |o| o.id.to_string(),
        || numbers.iter().map(|n| format!("O-{n}")).collect(),
        "",
    )
}

/// An annex by id, code (`A1`, any case) or exact title.
pub fn annex<'a>(state: &'a RoomState, name: &str) -> Result<&'a Annex, LocalError> {
    let t = name.trim();
    let matches: Vec<&Annex> = if let Ok(id) = t.parse::<AnnexId>() {
        state.annexes.get(&id).into_iter().collect()
    } else {
        let by_code: Vec<&Annex> = state.annexes.values().filter(|a| a.code.eq_ignore_ascii_case(t)).collect();
        if by_code.is_empty() { state.annexes.values().filter(|a| a.title == name).collect() } else { by_code }
    };
    one(
        ("annex", "annexes"),
        name,
        matches,
        |a| a.id.to_string(),
        || state.annexes.values().map(|a| format!("{} {:?}", a.code, a.title)).collect(),
        "",
    )
}

/// A member by user id or exact name.
pub fn member<'a>(state: &'a RoomState, name: &str) -> Result<&'a Member, LocalError> {
    let matches = trustroom_shared::members::matching(state, name);
    one(
        ("member", "members"),
        name,
        matches,
        |m| m.user.to_string(),
        || state.members.values().map(|m| m.name.clone()).collect(),
        "",
    )
}

/// Converts a 1-based statement number (as `show` prints it) to the
/// 0-based paragraph index the protocol uses, checking it exists.
pub fn statement_index(section: &Section, number: usize) -> Result<usize, LocalError> {
    let count = trustroom_shared::statement::statements(&section.body).len();
    if number == 0 || number > count {
        return Err(LocalError::invalid(format!(
            "section {:?} has {count} statement(s); --statement takes 1..={count}",
            section.title
        )));
    }
    Ok(number - 1)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use trustroom_shared::ids::UserId;
    use trustroom_shared::objection::{Anchor, ObjectionKind, ObjectionStatus};
    use trustroom_shared::protocol::ErrorCode;

    pub(crate) fn objection_in(section: SectionId, number: u32, author: UserId) -> Objection {
        Objection {
            id: ObjectionId::new(),
            number,
            author,
            anchor: Anchor { section, statement: Some(0), quote: None },
            kind: ObjectionKind::Wording,
            blocking: number == 1,
            text: format!("objection {number}"),
            status: ObjectionStatus::Open,
            rationale: None,
            replies: Vec::new(),
            history: Vec::new(),
            at_ms: 0,
            found_downstream: None,
        }
    }

    pub(crate) fn annex_with(code: &str, title: &str, reader: UserId) -> Annex {
        Annex {
            id: AnnexId::new(),
            code: code.into(),
            title: title.into(),
            classification: "tenant-identifiers".into(),
            need_to_know: vec![reader],
            sensitive: Vec::new(),
            sensitive_count: 1,
            content: None,
            salt: None,
            content_hash: "00".into(),
            at_ms: 0,
        }
    }

    pub(crate) fn state() -> RoomState {
        let mut st = RoomState::new(RoomId::new(), "Incident 117".into(), 0);
        let author = UserId::new();
        for title in ["Summary", "Timeline", "Timeline"] {
            st.sections.push(Section::new(SectionId::new(), title.into(), "[verified: TL-1] One.\n\nTwo.".into(), 1));
        }
        let s0 = st.sections[0].id;
        for n in [1, 2, 3] {
            let o = objection_in(s0, n, author);
            st.objections.insert(o.id, o);
        }
        for (code, title) in [("A1", "Tenant identifiers"), ("A2", "Session replay")] {
            let a = annex_with(code, title, author);
            st.annexes.insert(a.id, a);
        }
        st
    }

    #[test]
    fn rooms_by_id_or_exact_title() {
        let rooms = vec![
            RoomSummary { id: RoomId::new(), title: "Incident 117".into(), role: "owner".into() },
            RoomSummary { id: RoomId::new(), title: "Twin".into(), role: "observer".into() },
            RoomSummary { id: RoomId::new(), title: "Twin".into(), role: "observer".into() },
        ];
        assert_eq!(room(&rooms, "Incident 117").expect("by title").id, rooms[0].id);
        assert_eq!(room(&rooms, &rooms[1].id.to_string()).expect("by id").id, rooms[1].id);
        let err = room(&rooms, "incident 117").expect_err("titles are exact");
        assert_eq!(err.code, ErrorCode::NotFound);
        assert!(err.message.contains("\"Incident 117\""), "{}", err.message);
        let err = room(&rooms, "Twin").expect_err("ambiguous");
        assert_eq!(err.code, ErrorCode::NotFound);
        assert!(err.message.contains("ambiguous") && err.message.contains(&rooms[2].id.to_string()));
        assert!(matches!(RoomName::parse(&rooms[0].id.to_string()), RoomName::Id(_)));
        assert_eq!(RoomName::parse("Twin"), RoomName::Title("Twin".into()));
    }

    #[test]
    fn sections_by_id_or_unique_title() {
        let st = state();
        assert_eq!(section(&st, "Summary").expect("unique").id, st.sections[0].id);
        assert_eq!(section(&st, &st.sections[2].id.to_string()).expect("by id").id, st.sections[2].id);
        let err = section(&st, "Timeline").expect_err("two sections share it");
        assert!(err.message.contains("ambiguous"), "{}", err.message);
        let err = section(&st, "Nope").expect_err("unknown");
        assert!(err.message.contains("\"Summary\""), "{}", err.message);
        assert_eq!(err.code, ErrorCode::NotFound);
    }

    #[test]
    fn objections_by_code_number_or_id() {
        let st = state();
        let o2 = st.objections.values().find(|o| o.number == 2).expect("O-2 exists");
        for name in ["O-2", "o-2", "O2", "2"] {
            assert_eq!(objection(&st, name).expect(name).id, o2.id);
        }
        assert_eq!(objection(&st, &o2.id.to_string()).expect("by id").id, o2.id);
        let err = objection(&st, "O-9").expect_err("unknown");
        assert!(err.message.contains("O-1, O-2, O-3"), "{}", err.message);
        assert!(objection(&st, "O-0").is_err());
        assert!(objection(&st, "Summary").is_err());
        assert_eq!(objection_number("O-"), None);
    }

    #[test]
    fn annexes_by_code_title_or_id() {
        let st = state();
        let a1 = st.annexes.values().find(|a| a.code == "A1").expect("A1 exists");
        assert_eq!(annex(&st, "A1").expect("code").id, a1.id);
        assert_eq!(annex(&st, "a1").expect("code any case").id, a1.id);
        assert_eq!(annex(&st, "Tenant identifiers").expect("title").id, a1.id);
        assert_eq!(annex(&st, &a1.id.to_string()).expect("id").id, a1.id);
        let err = annex(&st, "A7").expect_err("unknown");
        assert!(err.message.contains("annexes: A1 \"Tenant identifiers\", A2 \"Session replay\""), "{}", err.message);
    }

    #[test]
    fn statement_numbers_are_one_based_and_checked() {
        let st = state();
        let s = &st.sections[0];
        assert_eq!(statement_index(s, 1).expect("first"), 0);
        assert_eq!(statement_index(s, 2).expect("second"), 1);
        assert_eq!(statement_index(s, 0).expect_err("zero").code, ErrorCode::Invalid);
        assert!(statement_index(s, 3).is_err());
    }
}
