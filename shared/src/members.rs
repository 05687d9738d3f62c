//! Naming members for people: a member's display name, the short id shown
//! for someone no longer in the room, and finding a member by id or name.
//! One place for what the TUI, the CLI and the agents all print.

use crate::UserId;
use crate::room::{Member, RoomState};

/// Characters of an id shown where a name is missing.
pub const SHORT_ID_CHARS: usize = 8;

/// The first [`SHORT_ID_CHARS`] characters of an id, for display.
pub fn short_id(id: &str) -> String {
    id.chars().take(SHORT_ID_CHARS).collect()
}

/// The name of the room's own actor: the author of what the room does by
/// itself — automatic holds when a room check fails, expiries, the
/// blocking review objection a break-glass leaves behind — and of the
/// operator's administrative changes. On the wire it is the nil user id
/// ([`crate::access::SYSTEM`]); people see this name, never `00000000`.
pub const ROOM_ACTOR_NAME: &str = "the room";

/// Whether `user` is the room's own actor (the nil user id).
pub fn is_room_actor(user: UserId) -> bool {
    user == crate::access::SYSTEM
}

/// The member's name, the room's own actor's name, or the short id of
/// someone no longer in the room.
pub fn name_or_short_id(state: Option<&RoomState>, user: UserId) -> String {
    match state.and_then(|s| s.member(user)) {
        Some(m) => m.name.clone(),
        None if is_room_actor(user) => ROOM_ACTOR_NAME.into(),
        None => short_id(&user.to_string()),
    }
}

/// The member's name, the room's own actor's name, or `(former member
/// 1234abcd)` for someone no longer in the room (the CLI's documents name
/// them so).
pub fn name_or_former(state: &RoomState, user: UserId) -> String {
    match state.member(user) {
        Some(m) => m.name.clone(),
        None if is_room_actor(user) => ROOM_ACTOR_NAME.into(),
        None => format!("(former member {})", short_id(&user.to_string())),
    }
}

/// The members a reference names: the member with that user id, else every
/// member whose name is exactly the (trimmed) reference.
pub fn matching<'a>(state: &'a RoomState, reference: &str) -> Vec<&'a Member> {
    let reference = reference.trim();
    match reference.parse::<UserId>() {
        Ok(id) => state.members.get(&id).into_iter().collect(),
        Err(_) => state.members.values().filter(|m| m.name == reference).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RoomId;
    use crate::role::Role;
    use uuid::Uuid;

    fn room() -> (RoomState, UserId) {
        let mut s = RoomState::new(RoomId(Uuid::from_u128(1)), "R".into(), 0);
        let dana = UserId(Uuid::from_u128(0xabcdef12_3456_7890_abcd_ef1234567890));
        s.members.insert(dana, Member { user: dana, name: "Dana".into(), role: Role::Owner });
        (s, dana)
    }

    #[test]
    fn names_members_and_former_members() {
        let (s, dana) = room();
        let gone = UserId(Uuid::from_u128(0x12345678_0000_0000_0000_000000000000));
        assert_eq!(name_or_short_id(Some(&s), dana), "Dana");
        assert_eq!(name_or_short_id(Some(&s), gone), "12345678");
        assert_eq!(name_or_short_id(None, dana), "abcdef12");
        assert_eq!(name_or_former(&s, dana), "Dana");
        assert_eq!(name_or_former(&s, gone), "(former member 12345678)");
    }

    #[test]
    fn the_rooms_own_acts_are_named_not_shown_as_a_nil_id() {
        let (s, _) = room();
        let nil = crate::access::SYSTEM;
        assert_eq!(name_or_short_id(Some(&s), nil), ROOM_ACTOR_NAME);
        assert_eq!(name_or_short_id(None, nil), ROOM_ACTOR_NAME);
        assert_eq!(name_or_former(&s, nil), ROOM_ACTOR_NAME);
        // The break-glass review objection is authored by the room's actor:
        // every front end names it the same way.
        let bg = crate::access::BreakGlass {
            id: crate::ids::BreakGlassId::new(),
            number: 1,
            user: UserId::new(),
            annexes: Vec::new(),
            reason: "SEV-1 bridge".into(),
            at_ms: 0,
            ends_at: 60_000,
            ended: None,
            review: None,
        };
        let ended =
            crate::access::Ended { at_ms: 60_000, by: nil, cause: crate::access::EndCause::Expired, note: None };
        let review = crate::access::review_objection(&s, &bg, &ended, crate::ids::ObjectionId::new());
        assert_eq!(name_or_former(&s, review.author), "the room");
        assert!(!name_or_short_id(Some(&s), review.author).contains("00000000"));
    }

    #[test]
    fn matching_takes_an_id_or_an_exact_name() {
        let (s, dana) = room();
        assert_eq!(matching(&s, " Dana ").len(), 1);
        assert_eq!(matching(&s, &dana.to_string()).len(), 1);
        assert!(matching(&s, "dana").is_empty());
    }
}
