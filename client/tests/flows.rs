//! Behaviour of the TUI's state machine driven by synthetic keys and
//! server frames: what is sent, how acks, remote edits, gaps, reconnects
//! and refusals are handled. No terminal, no network.
#![allow(dead_code, unused_imports)]
// Test code: a failed expectation is the verdict (the lints bind product code).
#![allow(clippy::expect_used, clippy::panic)]

mod common;
#[path = "../src/session/mod.rs"]
mod session;
#[path = "../src/tui/mod.rs"]
mod tui;

#[path = "flows/decisions.rs"]
mod decisions;
#[path = "flows/editing.rs"]
mod editing;
#[path = "flows/offline.rs"]
mod offline;
#[path = "flows/owner.rs"]
mod owner;
#[path = "flows/panes.rs"]
mod panes;
#[path = "flows/register.rs"]
mod register;

use common::*;
use crossterm::event::KeyCode;
use serde_json::json;
use session::connection::NetEvent;
use session::outbox::Pending;
use session::room::ConnState;
use trustroom_shared::change::{Change, ClientStamp, Revision};
use trustroom_shared::objection::ObjectionStatus;
use trustroom_shared::ot::{OpLimits, TextOp};
use trustroom_shared::protocol::{ErrorCode, Request, ServerFrame};
use trustroom_shared::release::{Audience, Cosignature, Lane, ReleasePolicy, ReleaseState};
use trustroom_shared::role::Discipline;
use trustroom_shared::{ClientId, UserId};
use tui::app::App;

fn edits(app: &App) -> Vec<(u64, u64, TextOp)> {
    app.room
        .outbox
        .queue
        .iter()
        .filter_map(|o| match &o.request {
            Request::Edit { base, op, seq, .. } => {
                Some((*base, seq.unwrap_or(0), TextOp::from_wire(op, OpLimits::default()).expect("valid op")))
            }
            _ => None,
        })
        .collect()
}

fn ev(app: &mut App, rev: Revision) {
    let room = app.room.id.expect("room");
    app.on_net(NetEvent::Frame(ServerFrame::Event { room, rev: Box::new(rev) }));
}

/// The event the server sends back for our own edit.
fn own_ack(app: &App, base_text: &str, op: &TextOp, seq: u64) -> Revision {
    let _ = base_text;
    Revision {
        revision: app.room.replica.state.as_ref().map_or(0, |s| s.revision) + 1,
        author: UserId(uid(OWNER)),
        at_ms: 0,
        client: Some(ClientStamp { client: ClientId(uid(MY_CLIENT)), seq }),
        change: Change::SectionEdited { section: section_id(0), op: op.clone() },
    }
}

/// The release decisions sent (mark ready, release, release_packet), in order.
fn decisions_sent(app: &App) -> Vec<Request> {
    app.room
        .outbox
        .queue
        .iter()
        .filter(|o| {
            matches!(o.request, Request::MarkReady { .. } | Request::Release { .. } | Request::ReleasePacket { .. })
        })
        .map(|o| o.request.clone())
        .collect()
}

/// A release decision was sent.
fn decided(app: &App) -> bool {
    app.room.outbox.queue.iter().any(|o| {
        matches!(o.request, Request::MarkReady { .. } | Request::Release { .. } | Request::ReleasePacket { .. })
    })
}

fn body(app: &App) -> String {
    app.room.docs.get(&section_id(0)).expect("doc").text.clone()
}

/// A clean room whose policy requires a privacy co-signature, signed for
/// the privacy lane up to `audience`.
fn cosigned_for_privacy(audience: Audience) -> trustroom_shared::room::RoomState {
    let mut st = room_state();
    st.objections.clear();
    st.sections[0].body = "[verified: TL-0412] Session S-19 opened at 09:14.".into();
    st.release_policy = ReleasePolicy { members: vec![], disciplines: vec![Discipline::Privacy] };
    st.cosignatures.push(Cosignature {
        user: UserId(uid(PRIVACY)),
        name: "priya.natarajan".into(),
        role: "reviewer/privacy".into(),
        discipline: Some(Discipline::Privacy),
        revision: st.content_revision,
        content_hash: "ab".repeat(32),
        lane: Some(Lane::Privacy),
        audience,
        at_ms: 0,
        voided_at: None,
    });
    st
}

/// The objection the app sent: (tag, seq, text).
fn objection_sent(app: &App) -> Option<(u64, u64, String)> {
    app.room.outbox.queue.iter().find_map(|o| match &o.request {
        Request::Object { text, seq, .. } => Some((o.tag, seq.expect("objections carry a seq"), text.clone())),
        _ => None,
    })
}

fn reconnect(app: &mut App) {
    app.on_net(NetEvent::Disconnected {
        reason: "connection lost".into(),
        retry_in: std::time::Duration::from_millis(300),
        attempt: 1,
    });
    app.on_net(NetEvent::Connected {
        user: UserId(uid(PRIVACY)),
        name: "privacy".into(),
        client: ClientId(uid(MY_CLIENT)),
    });
    let join = app.room.outbox.queue.iter().find(|o| matches!(o.request, Request::Join { .. })).expect("join").clone();
    app.room.outbox.queue.clear();
    app.on_net(NetEvent::Reply { tag: join.tag, result: Ok(json!({"revision": 12})) });
}
