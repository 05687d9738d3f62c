//! A fixture room built in code from the shared types, and helpers that
//! drive the TUI's `App` with synthetic keys and server frames.
#![allow(dead_code)]

use std::collections::BTreeMap;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use trustroom_shared::annex::Annex;
use trustroom_shared::change::{Change, ClientStamp, Revision};
use trustroom_shared::objection::{Anchor, Objection, ObjectionKind, ObjectionStatus, Reply};
use trustroom_shared::ot::TextOp;
use trustroom_shared::policy::capabilities;
use trustroom_shared::protocol::{Presence, ServerFrame};
use trustroom_shared::release::ReleaseState;
use trustroom_shared::role::{AgentRole, Discipline, Role};
use trustroom_shared::room::{Member, RoomState, Section};
use trustroom_shared::view::{MemberSelf, Snapshot};
use trustroom_shared::{AnnexId, ClientId, ObjectionId, ReplyId, RoomId, SectionId, UserId};
use uuid::Uuid;

use crate::session::connection::NetEvent;
use crate::session::room::ConnState;
use crate::tui::app::App;
use crate::tui::theme::Theme;
use crate::tui::ui;

pub fn uid(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

pub const ROOM: u128 = 0x100;
pub const OWNER: u128 = 0x201;
pub const PRIVACY: u128 = 0x202;
pub const LEGAL: u128 = 0x203;
pub const AGENT: u128 = 0x204;
pub const OBSERVER: u128 = 0x205;
pub const ANNEX_A1: u128 = 0x401;
pub const ANNEX_A2: u128 = 0x402;
pub const ANNEX_A3: u128 = 0x403;
pub const OTHER_CLIENT: u128 = 0x901;

pub fn section_id(i: usize) -> SectionId {
    SectionId(uid(0x300 + i as u128))
}

pub const SECTIONS: &[(&str, &str)] = &[
    (
        "Summary",
        "# What happened\n\n[verified: TL-0412, SL-0088] On 14 March a support engineer opened remote session S-19 for tenant Northwind at 09:14 UTC.\n\n[contested: O-1] Only one other tenant's data was visible during the session.\n\nThe exposure lasted under ten minutes.",
    ),
    (
        "Timeline",
        "[verified: TL-0412] 09:14 session S-19 opened.\n\n[verified: SL-0091] 09:17 engineer switched the tenant context.\n\n[verified: SL-0102] 09:23 session closed by the engineer.",
    ),
    (
        "Exposure scope",
        "[restricted] The affected tenant identifiers are listed in [[annex:A1]].\n\n[residual] Legal and privacy disagree on \"exposure\" versus \"visibility\".",
    ),
    ("Root cause", "[verified: TR-7] The support console cached the previous tenant's session token."),
    ("Remediation boundary", "[verified: CH-88] Remediation is tracked outside this room."),
];

fn member(n: u128, name: &str, role: Role) -> (UserId, Member) {
    let user = UserId(uid(n));
    (user, Member { user, name: name.into(), role })
}

fn objection(n: u32, author: u128, section: usize, kind: ObjectionKind, blocking: bool, text: &str) -> Objection {
    Objection {
        id: ObjectionId(uid(0x500 + u128::from(n))),
        number: n,
        author: UserId(uid(author)),
        anchor: Anchor { section: section_id(section), statement: None, quote: None },
        kind,
        blocking,
        text: text.into(),
        status: ObjectionStatus::Open,
        rationale: None,
        replies: Vec::new(),
        history: Vec::new(),
        at_ms: 1_700_000_000_000,
        found_downstream: None,
    }
}

fn annex(n: u128, code: &str, title: &str, class: &str, need: &[u128]) -> Annex {
    Annex {
        id: AnnexId(uid(n)),
        code: code.into(),
        title: title.into(),
        classification: class.into(),
        need_to_know: need.iter().map(|u| UserId(uid(*u))).collect(),
        sensitive: Vec::new(),
        sensitive_count: 2,
        content: None,
        salt: None,
        content_hash: "0".repeat(64),
        at_ms: 1_700_000_000_000,
    }
}

/// The fixture room (redacted, as a client receives it).
pub fn room_state() -> RoomState {
    let mut st = RoomState::new(RoomId(uid(ROOM)), "SEV-1 cross-tenant support session exposure".into(), 0);
    st.members = BTreeMap::from([
        member(OWNER, "morgan.hale", Role::Owner),
        member(PRIVACY, "priya.natarajan", Role::Reviewer { discipline: Discipline::Privacy }),
        member(LEGAL, "daniel.okafor", Role::Reviewer { discipline: Discipline::Legal }),
        member(AGENT, "chronology-agent", Role::Agent { agent_role: AgentRole::Chronology }),
        member(OBSERVER, "ari.observer", Role::Observer),
    ]);
    for (i, (title, body)) in SECTIONS.iter().enumerate() {
        st.sections.push(Section::new(section_id(i), (*title).into(), (*body).into(), 1));
    }
    let mut o1 = objection(
        1,
        PRIVACY,
        0,
        ObjectionKind::ExposureScope,
        true,
        "Session logs show two tenant contexts loaded; \"one other tenant\" is not established.",
    );
    o1.replies.push(Reply {
        id: ReplyId(uid(0x601)),
        author: UserId(uid(OWNER)),
        text: "Trace keeper is pulling SL-0091..0102 to settle it.".into(),
        at_ms: 1_700_000_100_000,
    });
    let mut o2 =
        objection(2, LEGAL, 0, ObjectionKind::Wording, false, "\"Exposure\" implies intent; prefer \"visibility\".");
    o2.anchor.quote = Some("The exposure lasted under ten minutes.".into());
    let o3 = objection(
        3,
        AGENT,
        1,
        ObjectionKind::EvidenceSufficiency,
        false,
        "SL-0102 timestamp is from the console clock.",
    );
    for o in [o1, o2, o3] {
        st.objections.insert(o.id, o);
    }
    for a in [
        annex(ANNEX_A1, "A1", "Full tenant identifiers", "tenant-identifiers", &[OWNER]),
        annex(ANNEX_A2, "A2", "Session replay references", "session-replay", &[OWNER, PRIVACY]),
        annex(ANNEX_A3, "A3", "Privileged access path notes", "privileged-access-path", &[OWNER]),
    ] {
        st.annexes.insert(a.id, a);
    }
    st.release = ReleaseState::Drafting;
    st.revision = 12;
    st
}

pub fn snapshot_for(user: u128, state: &RoomState) -> Snapshot {
    let user = UserId(uid(user));
    let m = state.members.get(&user).expect("fixture member");
    Snapshot {
        state: state.clone(),
        content_hash: "ab12cd34ef56".repeat(5),
        me: MemberSelf {
            user,
            name: m.name.clone(),
            role: m.role,
            capabilities: capabilities(&m.role),
            annex_access: state.annexes.values().filter(|a| a.allows(user)).map(|a| a.id).collect(),
        },
        applied_seq: None,
        presence: Vec::new(),
    }
}

pub const MY_CLIENT: u128 = 0x900;

/// An app joined to the fixture room as `user`.
pub fn app_as(user: u128) -> App {
    app_with(user, room_state())
}

pub fn app_with(user: u128, state: RoomState) -> App {
    let theme = Theme::new(false, true);
    let mut app = App::new(
        RoomId(uid(ROOM)).to_string(),
        vec!["trustroom connect --url ws://127.0.0.1:7000 --token <priya-token> <room>".into()],
        theme,
        ClientId(uid(MY_CLIENT)),
    );
    let name = state.members.get(&UserId(uid(user))).map(|m| m.name.clone()).unwrap_or_default();
    app.room.user = Some((UserId(uid(user)), name));
    take_snapshot(&mut app, snapshot_for(user, &state));
    app.room.conn = ConnState::Connected;
    app.room.outbox.queue.clear();
    app.room.outbox.pending.clear();
    app
}

/// The server's snapshot of the room arrives.
pub fn take_snapshot(app: &mut App, snapshot: Snapshot) {
    let room = app.room.id.expect("room");
    app.on_net(NetEvent::Frame(ServerFrame::Snapshot { room, snapshot: Box::new(snapshot) }));
}

pub fn render(app: &mut App, w: u16, h: u16) -> String {
    app.size = ratatui::layout::Rect::new(0, 0, w, h);
    app.refresh();
    let mut term = Terminal::new(TestBackend::new(w, h)).expect("test terminal");
    term.draw(|f| ui::draw(app, f)).expect("draw");
    term.backend().to_string()
}

pub fn key(app: &mut App, code: KeyCode) {
    app.on_key(KeyEvent::new(code, KeyModifiers::NONE));
}

pub fn ctrl(app: &mut App, c: char) {
    app.on_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL));
}

pub fn typ(app: &mut App, s: &str) {
    for c in s.chars() {
        let code = if c == '\n' { KeyCode::Enter } else { KeyCode::Char(c) };
        let mods = if c.is_ascii_uppercase() { KeyModifiers::SHIFT } else { KeyModifiers::NONE };
        app.on_key(KeyEvent::new(code, mods));
    }
}

/// A remote edit event on section `i` from another member.
pub fn remote_edit(app: &App, i: usize, from: &str, to: &str) -> Revision {
    let rev = app.room.replica.state.as_ref().map_or(0, |s| s.revision) + 1;
    Revision {
        revision: rev,
        author: UserId(uid(PRIVACY)),
        at_ms: 1_700_000_200_000,
        client: Some(ClientStamp { client: ClientId(uid(OTHER_CLIENT)), seq: rev }),
        change: Change::SectionEdited { section: section_id(i), op: TextOp::from_texts(from, to) },
    }
}

pub fn presence(user: u128, name: &str, client: u128, section: usize, pos: usize, rev: u64) -> Presence {
    Presence {
        user: UserId(uid(user)),
        name: name.into(),
        client: ClientId(uid(client)),
        section: section_id(section),
        pos,
        anchor: None,
        revision: rev,
    }
}

/// The packet the benchmarks type and draw in: 50 sections of 200 lines each,
/// in paragraphs of 4 lines (about 17,000 characters a section).
pub fn big_room() -> RoomState {
    let mut st = room_state();
    st.sections.clear();
    for s in 0..50 {
        let mut body = String::new();
        for l in 0..200 {
            if l % 4 == 0 {
                body.push('\n');
            }
            match l % 4 {
                0 => body.push_str(&format!(
                    "[verified: TL-{s:04}, SL-{l:04}] Line {l} of section {s}: the engineer opened the session and "
                )),
                1 => body.push_str(
                    "[contested: O-1] a second tenant's list view was rendered; see [[annex:A1]] for identifiers ",
                ),
                2 => body.push_str("Unlabelled claim about the timeline that still needs evidence before release. "),
                _ => body.push_str("# Heading line inside the section body"),
            }
            body.push('\n');
        }
        st.sections.push(Section::new(section_id(s), format!("Section {s}"), body, 1));
    }
    st
}

/// A clean room (nothing blocks release) at room rev 12, packet rev 12.
pub fn clean_room() -> RoomState {
    let mut st = room_state();
    st.objections.clear();
    st.sections[0].body = "[verified: TL-0412] Session S-19 opened at 09:14.".into();
    st.content_revision = 12;
    st
}

/// The clean room with one active break-glass (BG-1: priya reads A1 for
/// "customer call", at fixed times).
pub fn room_with_break_glass() -> RoomState {
    use trustroom_shared::access::BreakGlass;
    let mut st = clean_room();
    let bg = BreakGlass {
        id: trustroom_shared::ids::BreakGlassId(uid(0x801)),
        number: 1,
        user: UserId(uid(PRIVACY)),
        annexes: vec![AnnexId(uid(ANNEX_A1))],
        reason: "customer call".into(),
        at_ms: 1_700_000_000_000,
        ends_at: 1_700_001_800_000,
        ended: None,
        review: None,
    };
    st.access.break_glass = BTreeMap::from([(bg.id, bg)]);
    st
}

/// The clean room with one active grant (R-1: priya reads A1 until a fixed time).
pub fn room_with_grant() -> RoomState {
    use trustroom_shared::access::{AccessRequest, AccessScope, Decided, RequestStatus};
    let mut st = clean_room();
    let r = AccessRequest {
        id: trustroom_shared::ids::AccessRequestId(uid(0x701)),
        number: 1,
        requester: UserId(uid(PRIVACY)),
        annex: AnnexId(uid(ANNEX_A1)),
        scope: AccessScope::Read,
        reason: "checking the tenant list for the exposure scope".into(),
        duration_ms: 3_600_000,
        at_ms: 1_700_000_000_000,
        status: RequestStatus::Approved,
        decided: Some(Decided { by: UserId(uid(OWNER)), note: None, at_ms: 1_700_000_000_000 }),
        expires_at: Some(1_700_003_600_000),
        ended: None,
        folds: Vec::new(),
    };
    st.access.requests = BTreeMap::from([(r.id, r)]);
    st
}

/// The manifest history of the clean room released twice (to privacy,
/// then to account-governance), signed with a fixed key — the second manifest's body
/// altered after signing — and that key's hex.
pub fn manifests_fixture() -> (trustroom_shared::protocol::ManifestsResult, String) {
    use trustroom_shared::manifest::{ManifestRecord, manifest_body, public_key_hex, sign_event, sign_manifest};
    use trustroom_shared::release::{Audience, Lane};
    let st = clean_room();
    let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let hex = public_key_hex(&key);
    let owner = UserId(uid(OWNER));
    let record = |lane, at, rev| {
        let manifest = sign_manifest(manifest_body(&st, owner, lane, Audience::LaneReviewers, None, &hex), &key);
        let event = sign_event(&manifest.manifest_hash, at, rev, None, &key);
        ManifestRecord { manifest, event, trace: None }
    };
    let good = record(Lane::Privacy, 1_700_000_400_000, 13);
    let mut bad = record(Lane::AccountGovernance, 1_700_000_500_000, 14);
    bad.manifest.body.title.push_str(" (edited)");
    (trustroom_shared::protocol::ManifestsResult { public_key: hex.clone(), manifests: vec![good, bad] }, hex)
}
