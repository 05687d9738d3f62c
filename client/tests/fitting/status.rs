//! The status bar on narrow terminals: who you are (name and role), the
//! room's release state and the connection are always there.

use trustroom_shared::UserId;
use trustroom_shared::checks::{CheckKind, CheckResult};
use trustroom_shared::release::{Lane, LastRelease, ReleaseState};
use trustroom_shared::room::RoomState;

use super::common::*;
use super::last_row;
use super::session::room::ConnState;

/// Released at rev 9, superseded at rev 12: the longest release label.
fn superseded_release() -> RoomState {
    let mut st = room_state();
    let owner = UserId(uid(OWNER));
    let lane = Lane::Privacy;
    st.release = ReleaseState::Released { revision: 9, content_hash: "h".into(), lane, by: owner, at_ms: 0 };
    st.last_release = Some(LastRelease {
        revision: 9,
        content_hash: "h".into(),
        lane,
        by: owner,
        at_ms: 0,
        release_revision: 10,
        superseded_at: Some(12),
        holds_since: 0,
        trace_since: 0,
    });
    st
}

/// The same, with a failing room check as well.
fn superseded_and_failing() -> RoomState {
    let mut st = superseded_release();
    st.access.checks.push(CheckResult {
        check: CheckKind::AnnexBoundary,
        reason: "1 annex-restricted detail(s) in the packet".into(),
        violations: Vec::new(),
        covered: "c".into(),
        overridden: false,
        ready_revision: None,
    });
    st
}

fn essentials(bar: &str, name: &str, role: &str, state: &str, conn: &str) {
    for part in [name, role, state, conn] {
        assert!(bar.contains(part), "the status bar lacks {part:?}: {bar:?}");
    }
}

#[test]
fn at_80x24_a_long_release_label_leaves_name_role_state_and_connection() {
    let mut app = app_with(PRIVACY, superseded_release());
    let screen = render(&mut app, 80, 24);
    let bar = last_row(&screen);
    essentials(bar, "priya.natarajan", "(reviewer", "RELEASED rev 9", "connected");
    assert!(bar.contains("2 blockers"), "readiness stays: {bar:?}");
    insta::assert_snapshot!("reviewer_80x24", screen);

    let mut app = app_with(OWNER, superseded_and_failing());
    let screen = render(&mut app, 80, 24);
    let bar = last_row(&screen);
    essentials(bar, "morgan.hale", "(owner)", "RELEASED", "connected");
    assert!(bar.contains("CHECK FAILING"), "a failing check stays: {bar:?}");
    insta::assert_snapshot!("owner_with_a_failing_check_80x24", screen);
}

#[test]
fn every_width_from_60_keeps_the_essentials_and_nothing_overlaps() {
    for (user, name, role) in [(PRIVACY, "priya.natarajan", "(reviewer"), (OWNER, "morgan.hale", "(owner)")] {
        for st in [room_state(), superseded_release(), superseded_and_failing()] {
            for w in 60..=160u16 {
                let mut app = app_with(user, st.clone());
                let screen = render(&mut app, w, 24);
                let bar = last_row(&screen);
                let state = st.release.name();
                if w >= 80 {
                    // Everything essential, in full.
                    essentials(bar, name, role, state, "connected");
                } else {
                    // Shortened, never dropped: the name's start, the role,
                    // the state, the connection's symbol.
                    essentials(bar, &name[..5], role, state, "* ");
                }
                assert!(bar.contains("blocker"), "{w}: {bar:?}");
                // Wide enough: the revision and the room's title too.
                if w >= 140 && st.last_release.is_none() {
                    assert!(bar.contains("rev 12") && bar.contains("SEV-1"), "{w}: {bar:?}");
                }
            }
        }
    }
}

#[test]
fn offline_shows_on_a_narrow_bar() {
    let mut app = app_with(PRIVACY, superseded_release());
    app.room.conn = ConnState::Disconnected {
        reason: "connection reset".into(),
        retry_at: std::time::Instant::now() + std::time::Duration::from_secs(3),
        attempt: 2,
    };
    let screen = render(&mut app, 80, 24);
    essentials(last_row(&screen), "priya.natarajan", "(reviewer", "RELEASED", "OFFLINE");
    for w in [60u16, 66] {
        let screen = render(&mut app, w, 24);
        essentials(last_row(&screen), "priya", "(reviewer)", "RELEASED", "OFFLINE");
    }
}
