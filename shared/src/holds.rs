//! The hold register: every hold placed on a room's release, as an itemised
//! record (`H-n`) that is never deleted.
//!
//! A hold is placed by a member (the owner's `hold` with a reason) or by a
//! room check (annex boundary, access validity, release rules). Each hold is
//! cleared on its own: by an owner with a rationale, or by its check when
//! the check passes again. The room is HELD while any hold is open; when the
//! last one is cleared the room goes back to drafting, and the owner marks
//! it ready (or releases the reviewed packet) again.
//!
//! Pure rules live here; the server places and clears holds
//! (`server/src/room/holds.rs`).

use serde::{Deserialize, Serialize};

use crate::checks::CheckKind;
use crate::ids::UserId;
use crate::room::RoomState;

/// Who placed or cleared a hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum HoldActor {
    /// A member (an owner).
    Member { user: UserId },
    /// A room check: failing placed the hold, passing again cleared it.
    Check { check: CheckKind },
}

impl HoldActor {
    /// `morgan.hale`, `the annex boundary check`.
    pub fn describe(&self, state: &RoomState) -> String {
        match self {
            HoldActor::Member { user } => crate::members::name_or_former(state, *user),
            HoldActor::Check { check } => format!("the {} check", check.title()),
        }
    }
}

/// How a hold was cleared.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldClearance {
    pub by: HoldActor,
    pub rationale: String,
    pub at_ms: i64,
    /// The room revision of the clearing change.
    pub revision: u64,
}

/// One hold of the register.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    /// `H-<number>`, numbered from 1 in the order holds were placed.
    pub number: u32,
    pub reason: String,
    pub placed_by: HoldActor,
    pub at_ms: i64,
    /// The room revision of the placing change.
    pub revision: u64,
    /// The packet revision the room was at when the hold was placed.
    pub packet_revision: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cleared: Option<HoldClearance>,
}

impl Hold {
    /// `H-3`.
    pub fn code(&self) -> String {
        code(self.number)
    }

    pub fn is_open(&self) -> bool {
        self.cleared.is_none()
    }

    /// The check that placed it, if a check did.
    pub fn check(&self) -> Option<CheckKind> {
        match self.placed_by {
            HoldActor::Check { check } => Some(check),
            HoldActor::Member { .. } => None,
        }
    }

    /// `H-3 (morgan.hale: waiting for legal)`: code, who, reason.
    pub fn describe(&self, state: &RoomState) -> String {
        format!("{} ({}: {})", self.code(), self.placed_by.describe(state), self.reason)
    }
}

/// One line of the register for people (CLI, TUI, export):
/// `H-2 OPEN placed rev 14 (packet rev 12) 2026-12-04 11:02:03Z by the annex boundary check: …`,
/// and for a cleared hold `— cleared rev 19 … by morgan.hale: …`.
pub fn line(h: &Hold, state: &RoomState) -> String {
    let mut out = format!(
        "{} {} placed rev {} (packet rev {}) {} by {}: {}",
        h.code(),
        if h.is_open() { "OPEN" } else { "CLEARED" },
        h.revision,
        h.packet_revision,
        crate::export::utc(h.at_ms),
        h.placed_by.describe(state),
        one_line(&h.reason)
    );
    if let Some(c) = &h.cleared {
        out.push_str(&format!(
            " — cleared rev {} {} by {}: {}",
            c.revision,
            crate::export::utc(c.at_ms),
            c.by.describe(state),
            one_line(&c.rationale)
        ));
    }
    out
}

/// `text` on one line for a rendering that must not be forged: line breaks,
/// other control characters and bidirectional overrides become spaces, so
/// a reason cannot fake a line of a register, a Markdown list or a
/// verification report.
pub fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| {
            let bidi = matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
            if c.is_control() || bidi { ' ' } else { c }
        })
        .collect()
}

/// `H-<n>`.
pub fn code(number: u32) -> String {
    format!("H-{number}")
}

/// Parses `H-3`, `h-3` or `3` into a hold number (≥ 1).
pub fn parse_code(text: &str) -> Option<u32> {
    let t = text.trim();
    let digits = t.strip_prefix("H-").or_else(|| t.strip_prefix("h-")).unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u32>().ok().filter(|n| *n >= 1)
}

/// The open holds, oldest first.
pub fn open_holds(state: &RoomState) -> impl Iterator<Item = &Hold> {
    state.holds.iter().filter(|h| h.is_open())
}

/// Whether `h` is a review hold: placed by the release-rules check when the
/// packet changed after READY. The owner's review of the packet clears it —
/// `mark_ready`, or `release_packet` of the current packet revision — as
/// well as `clear_hold`. It is not a readiness blocker of its own: the
/// release precondition already refuses a stale release.
pub fn is_review_hold(h: &Hold) -> bool {
    h.check() == Some(CheckKind::ReleaseRules)
}

/// The open holds that block a release and marking ready: every open hold
/// but the review holds.
pub fn blocking_holds(state: &RoomState) -> impl Iterator<Item = &Hold> {
    open_holds(state).filter(|h| !is_review_hold(h))
}

/// The open hold a check placed, if any.
pub fn open_check_hold(state: &RoomState, check: CheckKind) -> Option<&Hold> {
    open_holds(state).find(|h| h.check() == Some(check))
}

/// The hold numbered `number`.
pub fn hold(state: &RoomState, number: u32) -> Option<&Hold> {
    state.holds.iter().find(|h| h.number == number)
}

/// The number the next hold gets.
pub fn next_number(state: &RoomState) -> u32 {
    state.holds.iter().map(|h| h.number).max().unwrap_or(0) + 1
}

/// The reasons the HELD state shows: one per open hold, `H-n: reason`.
pub fn open_reasons(state: &RoomState) -> Vec<String> {
    open_holds(state).map(|h| format!("{}: {}", h.code(), h.reason)).collect()
}

/// The reasons of a HELD state that no register record stands for: a room
/// held before holds were itemised (its `release_changed` carried the
/// reason). They are kept beside the register's until the owner marks the
/// room ready (the way such a hold always ended).
pub fn legacy_reasons(release: &crate::release::ReleaseState) -> Vec<String> {
    match release {
        crate::release::ReleaseState::Held { reasons, .. } => {
            reasons.iter().filter(|r| parse_code(r.split(':').next().unwrap_or("")).is_none()).cloned().collect()
        }
        _ => Vec::new(),
    }
}

/// Why an owner may not clear a hold now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClearRefusal {
    /// No hold has that number.
    NotFound(String),
    /// Already cleared (holds are cleared once and stay in the register).
    AlreadyCleared(String),
    /// A check placed it and the check still fails: fix what it found or
    /// override the check, and the hold clears itself.
    CheckStillFails(String),
}

/// Whether an owner may clear hold `number` by hand. A hold placed by the
/// annex-boundary, access-validity or stale-evidence check cannot be cleared while its
/// check still fails (and is not overridden): clearing it would hide a live
/// failure. The release-rules hold is the owner's review of the changed
/// packet, so an owner clears it with a rationale.
pub fn clear_refusal(state: &RoomState, number: u32) -> Option<ClearRefusal> {
    let Some(h) = hold(state, number) else {
        let open: Vec<String> = open_holds(state).map(Hold::code).collect();
        let known = if open.is_empty() {
            "the room has no open hold".to_string()
        } else {
            format!("open: {}", open.join(", "))
        };
        return Some(ClearRefusal::NotFound(format!("hold {} not found ({known})", code(number))));
    };
    if let Some(c) = &h.cleared {
        return Some(ClearRefusal::AlreadyCleared(format!(
            "hold {} was already cleared by {} at rev {}",
            h.code(),
            c.by.describe(state),
            c.revision
        )));
    }
    match h.check() {
        Some(check @ (CheckKind::AnnexBoundary | CheckKind::AccessValidity | CheckKind::StaleEvidence))
            if check_fails(state, check) =>
        {
            Some(ClearRefusal::CheckStillFails(format!(
                "hold {} was placed by the {} check, which still fails: fix what it found, or override the check \
                 with a rationale, and the hold clears itself",
                h.code(),
                check.title()
            )))
        }
        Some(
            CheckKind::AnnexBoundary | CheckKind::AccessValidity | CheckKind::ReleaseRules | CheckKind::StaleEvidence,
        )
        | None => None,
    }
}

/// Whether `check` fails (and is not overridden) in the room's published results.
pub fn check_fails(state: &RoomState, check: CheckKind) -> bool {
    check_fails_in(state, check, &state.access.checks)
}

/// Whether `check` fails (and is not overridden) in `results`. The
/// annex-boundary check also fails while an objection's text, quote,
/// rationale or thread carries an annex's sensitive detail (the register
/// half of the boundary, which blocks release as its own blocker).
pub fn check_fails_in(state: &RoomState, check: CheckKind, results: &[crate::checks::CheckResult]) -> bool {
    if results.iter().any(|c| c.check == check && !c.overridden) {
        return true;
    }
    check == CheckKind::AnnexBoundary
        && state.objections.values().any(|o| {
            crate::readiness::objection_texts(o)
                .into_iter()
                .any(|t| !crate::readiness::leaking_annexes(state, t).is_empty())
        })
}

/// Why a check's open hold clears itself now, if it does: the check passes
/// again (or its failure is covered by an owner's override).
pub fn self_clearing(state: &RoomState, results: &[crate::checks::CheckResult]) -> Vec<(u32, String)> {
    open_holds(state)
        .filter_map(|h| {
            let check = h.check()?;
            if check_fails_in(state, check, results) {
                return None;
            }
            let overridden = results.iter().any(|c| c.check == check && c.overridden);
            let why = if overridden {
                format!("an owner's override covers the failing {} check", check.title())
            } else {
                format!("the {} check passes again", check.title())
            };
            Some((h.number, why))
        })
        .collect()
}

/// One hold as the export and the manifest carry it: names instead of
/// ids, restricted detail redacted (both leave the room).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldEntry {
    /// `H-3`.
    pub hold: String,
    pub reason: String,
    /// `morgan.hale`, or `the annex boundary check`.
    pub placed_by: String,
    pub placed_at_ms: i64,
    /// The room revision of the placing change.
    pub revision: u64,
    pub packet_revision: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cleared: Option<ClearedEntry>,
}

/// How a hold of a [`HoldEntry`] was cleared.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClearedEntry {
    pub by: String,
    pub rationale: String,
    pub at_ms: i64,
    pub revision: u64,
}

/// `h` as the export carries it.
pub fn entry(state: &RoomState, h: &Hold) -> HoldEntry {
    let redact = |t: &str| crate::export::redact_sensitive(t, state.annexes.values()).0;
    HoldEntry {
        hold: h.code(),
        reason: redact(&h.reason),
        placed_by: h.placed_by.describe(state),
        placed_at_ms: h.at_ms,
        revision: h.revision,
        packet_revision: h.packet_revision,
        cleared: h.cleared.as_ref().map(|c| ClearedEntry {
            by: c.by.describe(state),
            rationale: redact(&c.rationale),
            at_ms: c.at_ms,
            revision: c.revision,
        }),
    }
}

/// The whole register as the export carries it, in the order placed.
pub fn entries(state: &RoomState) -> Vec<HoldEntry> {
    state.holds.iter().map(|h| entry(state, h)).collect()
}

/// The room revision after which the holds a release of packet revision
/// `packet` lists were cleared: the last release's, when it released an
/// earlier packet revision; its own window when it released this very
/// packet revision (releasing the same packet again lists the same holds,
/// and those cleared since); 0 before a first release.
pub fn window_start(state: &RoomState, packet: u64) -> u64 {
    match &state.last_release {
        Some(l) if l.revision == packet => l.holds_since,
        Some(l) => l.release_revision,
        None => 0,
    }
}

/// The holds cleared since the room's release of the packet revision
/// before (all cleared holds before a first release), in the order placed:
/// what a release manifest records. At a release no hold is open.
pub fn cleared_since_last_release(state: &RoomState) -> Vec<HoldEntry> {
    let since = window_start(state, state.content_revision);
    state
        .holds
        .iter()
        .filter(|h| h.cleared.as_ref().is_some_and(|c| c.revision > since))
        .map(|h| entry(state, h))
        .collect()
}

/// One line of a [`HoldEntry`] for people (Markdown export, manifest view).
pub fn entry_line(e: &HoldEntry) -> String {
    let mut out = format!(
        "{} {} — placed rev {} (packet rev {}) {} by {}: {}",
        e.hold,
        if e.cleared.is_some() { "cleared" } else { "OPEN" },
        e.revision,
        e.packet_revision,
        crate::export::utc(e.placed_at_ms),
        e.placed_by,
        one_line(&e.reason)
    );
    if let Some(c) = &e.cleared {
        out.push_str(&format!(
            "; cleared rev {} {} by {}: {}",
            c.revision,
            crate::export::utc(c.at_ms),
            c.by,
            one_line(&c.rationale)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(state: &mut RoomState, change: crate::change::Change) {
        let rev = crate::change::Revision {
            revision: state.revision + 1,
            author: UserId(uuid::Uuid::nil()),
            at_ms: 0,
            client: None,
            change,
        };
        crate::change::apply(state, &rev).expect("applies");
    }

    fn owner_hold(state: &RoomState, reason: &str) -> crate::change::Change {
        crate::change::Change::HoldPlaced {
            hold: Hold {
                number: next_number(state),
                reason: reason.into(),
                placed_by: HoldActor::Member { user: UserId(uuid::Uuid::nil()) },
                at_ms: 0,
                revision: state.revision + 1,
                packet_revision: 0,
                cleared: None,
            },
        }
    }

    #[test]
    fn a_hold_from_before_the_register_keeps_its_reason_beside_the_registers() {
        use crate::release::ReleaseState;
        let mut state = RoomState::new(crate::ids::RoomId(uuid::Uuid::nil()), "t".into(), 0);
        let by = UserId(uuid::Uuid::nil());
        apply(
            &mut state,
            crate::change::Change::ReleaseChanged {
                release: ReleaseState::Held { reasons: vec!["waiting for legal".into()], by, at_ms: 0 },
            },
        );
        let hold = owner_hold(&state, "privacy lead");
        apply(&mut state, hold);
        let ReleaseState::Held { reasons, .. } = &state.release else { panic!("held") };
        assert_eq!(reasons, &["waiting for legal".to_string(), "H-1: privacy lead".to_string()]);
        let clearance =
            HoldClearance { by: HoldActor::Member { user: by }, rationale: "ok".into(), at_ms: 0, revision: 3 };
        apply(&mut state, crate::change::Change::HoldCleared { hold: 1, clearance });
        let ReleaseState::Held { reasons, .. } = &state.release else { panic!("still held by the old reason") };
        assert_eq!(reasons, &["waiting for legal".to_string()]);
    }

    #[test]
    fn one_line_cannot_forge_a_line() {
        assert_eq!(one_line("ok\n- H-9 cleared\r\u{202e}x\u{2066}"), "ok - H-9 cleared  x ");
        assert_eq!(one_line("Mélanie — fine"), "Mélanie — fine");
    }

    #[test]
    fn codes_parse_back() {
        assert_eq!(parse_code("H-3"), Some(3));
        assert_eq!(parse_code(" h-12 "), Some(12));
        assert_eq!(parse_code("7"), Some(7));
        assert_eq!(code(7), "H-7");
        for bad in ["", "H-", "H-0", "0", "-1", "H--1", "H-1a", "H-99999999999", "H-\u{200b}1", "Ｈ-1", "H-１"] {
            assert_eq!(parse_code(bad), None, "{bad:?}");
        }
    }
}
