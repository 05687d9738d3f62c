//! The owner's dialogs at 80×24 and 140×45: the release prompt armed and
//! disarmed (what changed), a refused release, the grants to revoke, the
//! break-glass form and its end, the export result and the manifests with
//! their offline verification.

use std::collections::BTreeMap;

use crossterm::event::KeyCode;
use serde_json::json;
use trustroom_shared::access::BreakGlass;
use trustroom_shared::change::{Change, ClientStamp, Revision};
use trustroom_shared::ids::BreakGlassId;
use trustroom_shared::protocol::{ErrorCode, ExportResult, Request, ServerFrame};
use trustroom_shared::{AnnexId, ClientId, UserId};

use super::common::*;
use super::session::RequestError;
use super::session::connection::NetEvent;
use super::tui::app::App;

const SIZES: [(u16, u16); 2] = [(80, 24), (140, 45)];

fn snap(app: &mut App, name: &str) {
    for (w, h) in SIZES {
        let screen = render(app, w, h);
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), screen);
    }
}

fn tag_of(app: &App, pred: impl Fn(&Request) -> bool) -> u64 {
    app.room.outbox.queue.iter().find(|o| pred(&o.request)).expect("request sent").tag
}

#[test]
fn release_prompt_armed() {
    let mut app = app_with(OWNER, clean_room());
    key(&mut app, KeyCode::Char('R'));
    key(&mut app, KeyCode::Enter);
    snap(&mut app, "release_armed");
}

#[test]
fn release_prompt_disarmed_by_a_remote_edit() {
    let mut app = app_with(OWNER, clean_room());
    key(&mut app, KeyCode::Char('R'));
    key(&mut app, KeyCode::Enter);
    let rev = Revision {
        revision: 13,
        author: UserId(uid(PRIVACY)),
        at_ms: 1_700_000_200_000,
        client: Some(ClientStamp { client: ClientId(uid(OTHER_CLIENT)), seq: 13 }),
        change: Change::SectionEdited {
            section: section_id(0),
            op: trustroom_shared::ot::TextOp::from_texts(
                "[verified: TL-0412] Session S-19 opened at 09:14.",
                "[verified: TL-0412] Session S-19 opened at 09:14. A second tenant may have been visible.",
            ),
        },
    };
    let room = app.room.id.expect("room");
    app.on_net(NetEvent::Frame(ServerFrame::Event { room, rev: Box::new(rev) }));
    snap(&mut app, "release_disarmed");
}

#[test]
fn release_refused_stale() {
    let mut app = app_with(OWNER, clean_room());
    key(&mut app, KeyCode::Char('R'));
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Char('y'));
    let tag = tag_of(&app, |r| matches!(r, Request::ReleasePacket { .. }));
    app.on_net(NetEvent::Reply {
        tag,
        result: Err(RequestError::Server {
            code: ErrorCode::Stale,
            message: "the packet changed since packet rev 12 (changed: rev 13: section \"Summary\" edited)".into(),
        }),
    });
    snap(&mut app, "release_refused");
}

#[test]
fn grants_list_and_confirm() {
    let mut app = app_with(OWNER, room_with_grant());
    key(&mut app, KeyCode::Char('G'));
    snap(&mut app, "grants_list");
    key(&mut app, KeyCode::Enter);
    super::common::typ(&mut app, "scope settled");
    key(&mut app, KeyCode::Enter);
    snap(&mut app, "grants_confirm");
}

#[test]
fn break_glass_set_and_end() {
    let mut st = clean_room();
    st.access.policy.break_glass = vec![UserId(uid(OWNER))];
    let mut app = app_with(OWNER, st.clone());
    key(&mut app, KeyCode::Char('B'));
    key(&mut app, KeyCode::Char(' '));
    key(&mut app, KeyCode::Tab);
    typ(&mut app, "customer call in 5 minutes");
    snap(&mut app, "break_glass_set");
    let st = room_with_break_glass();
    let mut app = app_with(OWNER, st);
    key(&mut app, KeyCode::Char('B'));
    key(&mut app, KeyCode::Enter);
    snap(&mut app, "break_glass_end");
}

#[test]
fn export_result() {
    // A relative directory, so the path in the snapshot is the same everywhere.
    let dir = std::path::PathBuf::from("../target/fitting-export");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("export dir");
    let mut app = app_with(OWNER, clean_room());
    app.export_dir = dir.clone();
    key(&mut app, KeyCode::Char('X'));
    let tag = tag_of(&app, |r| matches!(r, Request::Export { .. }));
    let result = ExportResult {
        format: Default::default(),
        revision: 12,
        packet_revision: 12,
        content_hash: "ab".repeat(32),
        exact: true,
        released: false,
        text: "{\"format\":\"x\"}".into(),
    };
    app.on_net(NetEvent::Reply { tag, result: Ok(serde_json::to_value(&result).expect("json")) });
    snap(&mut app, "export");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn manifests_verified() {
    let mut app = app_with(OWNER, clean_room());
    key(&mut app, KeyCode::Char('W'));
    let tag = tag_of(&app, |r| matches!(r, Request::Manifests { .. }));
    let (result, _) = manifests_fixture();
    app.on_net(NetEvent::Reply { tag, result: Ok(json!(result)) });
    snap(&mut app, "manifests");
}
