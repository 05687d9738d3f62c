//! The seeded demo room: the cross-tenant support-session exposure packet,
//! with a member for every role — two owners, so that an owner's own
//! request has someone to decide it — labeled statements, objections of
//! several kinds and three restricted annexes. [`FLOWS`] says who to join
//! as to walk each flow.

use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use trustroom_shared::change::Change;
use trustroom_shared::ids::{ObjectionId, SectionId};
use trustroom_shared::objection::{Anchor, Objection, ObjectionKind, ObjectionStatus};
use trustroom_shared::role::Discipline;
use trustroom_shared::room::Member;
use trustroom_shared::{RoomId, UserId};

use crate::admin::{NewAnnex, RoomBuilder, add_user, build_annex};
use crate::clock::now_ms;
use crate::config::ServerConfig;
use crate::room::ADMIN_ACTOR;
use crate::storage::{self, Store};

/// A seeded member with their token.
#[derive(Debug, Clone, Serialize)]
pub struct DemoMember {
    pub name: String,
    pub role: String,
    pub user: UserId,
    pub token: String,
}

/// The room role a seed label stands for: the shared role labels, and
/// [`CO_OWNER`] (an owner with a label of its own, so `owner` names one member).
pub fn role_of(label: &str) -> Result<trustroom_shared::role::Role, trustroom_shared::role::ParseEnumError> {
    if label == CO_OWNER { Ok(trustroom_shared::role::Role::Owner) } else { label.parse() }
}

/// What `seed` created.
#[derive(Debug, Clone, Serialize)]
pub struct DemoSeed {
    pub room: RoomId,
    pub title: String,
    pub members: Vec<DemoMember>,
}

impl DemoSeed {
    /// The member with role label `role` (e.g. `owner`, `reviewer/privacy`).
    pub fn member(&self, role: &str) -> Option<&DemoMember> {
        self.members.iter().find(|m| m.role == role)
    }
}

/// Canary strings planted in each annex; tests assert they never reach a
/// client without access.
pub const CANARIES: [&str; 3] = ["CANARY-TENANT-7f3a91", "CANARY-REPLAY-c0ffee", "CANARY-PATH-5ee1d2"];

pub const DEMO_TITLE: &str = "SEV-1 cross-tenant support session exposure — account-impact packet";

/// Role label of the second owner (`owner` names the first: the demo's TUI).
pub const CO_OWNER: &str = "co-owner";

const PEOPLE: &[(&str, &str)] = &[
    ("morgan.hale", "owner"),
    // A named support escalation owner beside the senior support trust
    // manager: nobody decides their own annex or promotion request, so the
    // owner's own requests wait for her.
    ("ines.moreau", CO_OWNER),
    ("priya.natarajan", "reviewer/privacy"),
    ("daniel.okafor", "reviewer/legal"),
    ("sam.reyes", "reviewer/support-engineering"),
    ("lena.fischer", "reviewer/support-trust"),
    ("chronology-agent", "agent/chronology"),
    ("trace-keeper-agent", "agent/trace-keeper"),
    ("normaliser-agent", "agent/objection-normaliser"),
    ("ari.observer", "observer"),
];

/// Who to join as to walk each flow of the demo room, consistent with the
/// seed below (need-to-know lists, break-glass list, release policy):
/// `(flow, how)`. The demo prints it and shows it in the TUI's help.
pub const FLOWS: &[(&str, &str)] = &[
    (
        "annex access a reviewer asks for",
        "as lena.fischer (on no need-to-know list): a, Enter on A1, A with a reason; morgan.hale decides it in V",
    ),
    (
        "your own request waits for another owner",
        "as morgan.hale (on no list either): A on A1; nobody decides their own, so ines.moreau approves it in V",
    ),
    (
        "co-signatures before release",
        "as priya.natarajan (privacy) and daniel.okafor (legal): S; then morgan.hale releases with R",
    ),
    ("break-glass, seen by everyone", "as lena.fischer or sam.reyes: `break-glass ROOM A3 --reason … --for 30m`"),
    (
        "promoting an annex passage",
        "as priya.natarajan (reads A1): `promote ROOM A1 \"Affected accounts\" --passage … --reason …`; an owner decides in V",
    ),
    ("agent suggestions", "run chronology-agent; morgan.hale accepts or rejects them under u"),
    ("objections and replies", "as daniel.okafor or any reviewer: o on a section, then r for the register"),
    ("read-only", "as ari.observer: edit keys disabled, annexes gated"),
];

const SECTIONS: &[(&str, &str)] = &[
    (
        "Summary",
        "# Account-impact summary\n\n\
[verified: CASE-88412, SL-0091] On 2026-11-17 a support engineer's remote session for tenant Northwind Freight displayed a customer-list view belonging to a second tenant for roughly 11 minutes.\n\n\
[contested: O-1] Only one other tenant's data was visible during the session.\n\n\
[restricted] The identities of both tenants are held in [[annex:A1]].",
    ),
    (
        "Chronology",
        "# Chronology (UTC)\n\n\
[verified: TL-0412] 09:02 Case CASE-88412 opened by Northwind Freight: export job failing.\n\n\
[verified: SL-0088, TL-0415] 09:14 Support engineer starts a privileged remote session (session S-19) with elevated tenant-switch scope.\n\n\
[verified: SL-0091] 09:17 Session S-19 renders the customer-list view of a second tenant after a cached tenant context was reused.\n\n\
[verified: SL-0104, TL-0421] 09:28 Engineer notices the wrong tenant banner and ends the session.\n\n\
[verified: TL-0430] 10:05 Escalated to support trust as SEV-1; session replay preserved.",
    ),
    (
        "Exposure scope",
        "# What was exposed\n\n\
[contested: O-1, O-2] The exposed view contained customer names and account tiers but no payment data.\n\n\
[verified: SL-0091] The view was rendered read-only; no export or download action was recorded in the session log.\n\n\
The screen-share recording may have been seen by a third party on the customer's side.",
    ),
    (
        "Affected accounts",
        "# Affected accounts\n\n\
[restricted] Tenant identifiers and the affected-account mapping are in [[annex:A1]].\n\n\
[verified: TR-2201] Two tenants are in scope: the tenant whose data was shown, and the tenant whose engineer-facing session displayed it.",
    ),
    (
        "Privileged access path",
        "# How the session reached the other tenant\n\n\
[restricted] The privileged-support path and tooling references are in [[annex:A3]].\n\n\
[verified: SL-0088] The tenant-switch scope was granted by the standard break-fix workflow, not an emergency override.",
    ),
    (
        "Evidence and open questions",
        "# Evidence\n\n\
[verified: SL-0088, SL-0091, SL-0104] Session log lines cover the start, the exposure and the end of session S-19.\n\n\
[restricted] Session replay references are in [[annex:A2]].\n\n\
[residual] Legal and privacy disagree on whether \"exposure\" or \"visibility\" is the right term for the downstream packet.",
    ),
];

/// Creates the demo users and the demo room.
pub async fn seed(store: &Store) -> anyhow::Result<DemoSeed> {
    let mut members = Vec::new();
    for (name, role) in PEOPLE {
        let (user, token) = add_user(store, name).await?;
        members.push(DemoMember { name: name.to_string(), role: role.to_string(), user, token });
    }
    let by_role = |label: &str| members.iter().find(|m| m.role == label).map(|m| m.user).unwrap_or(ADMIN_ACTOR);
    let owner = by_role("owner");
    let privacy = by_role("reviewer/privacy");
    let legal = by_role("reviewer/legal");
    let engineering = by_role("reviewer/support-engineering");
    let trust = by_role("reviewer/support-trust");

    let mut b = RoomBuilder::new(DEMO_TITLE);
    for m in &members {
        b.change(
            ADMIN_ACTOR,
            Change::MemberAdded { member: Member { user: m.user, name: m.name.clone(), role: role_of(&m.role)? } },
        )?;
    }
    let mut section_ids = Vec::new();
    for (title, body) in SECTIONS {
        let id = SectionId::new();
        section_ids.push(id);
        b.change(
            owner,
            Change::SectionAdded { section: id, title: title.to_string(), body: body.to_string(), after: None },
        )?;
    }
    let objections: [(UserId, usize, ObjectionKind, bool, &str, ObjectionStatus); 5] = [
        (
            privacy,
            2,
            ObjectionKind::ExposureScope,
            true,
            "The session log does not rule out a third tenant: the cached tenant context was reused for 11 minutes and two list refreshes.",
            ObjectionStatus::Open,
        ),
        (
            legal,
            2,
            ObjectionKind::Wording,
            false,
            "\"no payment data\" is stated as fact but rests on the view definition, not on what was rendered. Say \"no payment fields are part of this view\".",
            ObjectionStatus::Open,
        ),
        (
            engineering,
            1,
            ObjectionKind::EvidenceSufficiency,
            true,
            "The 09:17 entry needs the render log line, not only the session-start line, before we call it verified.",
            ObjectionStatus::Open,
        ),
        (
            trust,
            3,
            ObjectionKind::Sensitivity,
            false,
            "The affected-accounts section should not name the tier of either tenant in the main packet.",
            ObjectionStatus::Open,
        ),
        (
            privacy,
            5,
            ObjectionKind::Other,
            false,
            "Legal and privacy disagree on exposure vs visibility wording.",
            ObjectionStatus::Open,
        ),
    ];
    let mut last_objection = None;
    for (author, section, kind, blocking, text, status) in objections {
        let id = ObjectionId::new();
        let objection = Objection {
            id,
            number: b.state.next_objection_number(),
            author,
            anchor: Anchor { section: section_ids[section], statement: None, quote: None },
            kind,
            blocking,
            text: text.to_string(),
            status,
            rationale: None,
            replies: Vec::new(),
            history: Vec::new(),
            at_ms: now_ms(),
            found_downstream: None,
        };
        b.change(author, Change::ObjectionRaised { objection })?;
        last_objection = Some(id);
    }
    if let Some(o) = last_objection {
        b.change(
            owner,
            Change::ObjectionStatusChanged {
                objection: o,
                change: trustroom_shared::objection::StatusChange {
                    status: ObjectionStatus::AcceptedResidual,
                    by: owner,
                    rationale: Some(
                        "Terminology is for the downstream privacy review to settle; both readings are recorded."
                            .into(),
                    ),
                    at_ms: now_ms(),
                },
            },
        )?;
    }
    let annexes = [
        NewAnnex {
            title: "Affected tenant identifiers".into(),
            classification: "tenant-identifiers".into(),
            content: format!(
                "Tenant shown: acct-4471-NWF (Northwind Freight, enterprise tier)\nTenant viewing: acct-9902-BLT (Bluefin Logistics)\nRegistry rows TR-2201, TR-2202\n{}",
                CANARIES[0]
            ),
            sensitive: vec!["acct-4471-NWF".into(), "acct-9902-BLT".into(), "Bluefin Logistics".into()],
            allow: vec!["priya.natarajan".into(), "daniel.okafor".into()],
        },
        NewAnnex {
            title: "Session replay references".into(),
            classification: "session-replay".into(),
            content: format!(
                "Replay store object rs://support-replays/2026/11/17/S-19.webm (frames 1420-2110)\nScreen-share relay id SSR-55810\n{}",
                CANARIES[1]
            ),
            sensitive: vec!["rs://support-replays".into(), "SSR-55810".into()],
            allow: vec!["sam.reyes".into(), "priya.natarajan".into()],
        },
        NewAnnex {
            title: "Privileged access path".into(),
            classification: "privileged-access-path".into(),
            content: format!(
                "Break-fix workflow BF-7 grants tenant-switch via console /ops/tenant-switch?scope=elevated\nCached context key tctx:v2:shared-pool\n{}",
                CANARIES[2]
            ),
            sensitive: vec!["/ops/tenant-switch".into(), "tctx:v2".into()],
            allow: vec!["sam.reyes".into()],
        },
    ];
    for new in annexes {
        let mut annex = build_annex(store, new).await?;
        annex.code = b.state.next_annex_code();
        b.change(ADMIN_ACTOR, Change::AnnexAdded { annex })?;
    }
    // Release needs a privacy and a legal co-signature besides the owner's.
    let policy = trustroom_shared::release::ReleasePolicy {
        members: Vec::new(),
        disciplines: vec![Discipline::Privacy, Discipline::Legal],
    };
    b.change(owner, Change::ReleasePolicySet { policy })?;
    // Who may invoke break-glass (docs/access.md): support trust and
    // support engineering.
    let access = trustroom_shared::access::AccessPolicy { break_glass: vec![trust, engineering], ..Default::default() };
    b.change(ADMIN_ACTOR, Change::AccessPolicySet { policy: access.normalized() })?;
    seed_sources(&mut b, trust)?;
    let state = b.create(store).await?;
    Ok(DemoSeed { room: state.id, title: state.title, members })
}

/// The source records the demo packet cites: the agents' source files,
/// the case record, and a tenant-registry row restricted to annex A1.
pub const SOURCE_FILES: [(&str, &str); 4] = [
    ("case-timeline", include_str!("../../client/demo/sources/case-timeline.jsonl")),
    ("remote-session-log", include_str!("../../client/demo/sources/remote-session-log.jsonl")),
    ("escalation-notes", include_str!("../../client/demo/sources/escalation-notes.jsonl")),
    ("case-records", include_str!("../demo/sources/case-records.jsonl")),
];

/// Registers the demo's source records (by the support trust manager) and
/// binds the packet's citations to them.
fn seed_sources(b: &mut RoomBuilder, by: trustroom_shared::UserId) -> anyhow::Result<()> {
    for (origin, text) in SOURCE_FILES {
        let records = trustroom_shared::source::parse_lines(origin, text)
            .map_err(|(line, message)| anyhow::anyhow!("demo source {origin}:{line}: {message}"))?;
        for record in records {
            let version = trustroom_shared::source::version_of(
                &b.state.evidence.sources,
                &record,
                &crate::auth::new_token(),
                by,
                b.state.revision + 1,
                b.state.created_ms,
            );
            b.change(by, Change::SourceRecorded { source: record.id.clone(), annex: record.annex.clone(), version })?;
        }
    }
    let updates = trustroom_shared::evidence::updates(&b.state, None);
    if !updates.is_empty() {
        b.change(ADMIN_ACTOR, Change::EvidenceRebound { updates })?;
    }
    Ok(())
}

/// A running demo server.
pub struct DemoServer {
    pub url: String,
    pub seed: DemoSeed,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl DemoServer {
    /// Stops the server gracefully and waits for it.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.await?
    }
}

/// Starts a server on `listen` with a fresh database at `db_url` holding
/// the demo room.
pub async fn start(listen: &str, db_url: &str) -> anyhow::Result<DemoServer> {
    let store = storage::open(db_url).await?;
    let seed = seed(&store).await?;
    let listener = TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(crate::serve::run(listener, store, ServerConfig::default(), async move {
        let _ = stopped.await;
    }));
    Ok(DemoServer { url: format!("ws://{addr}"), seed, stop: Some(stop), task })
}
