//! The release workflow end to end: a real server in-process, real
//! websocket clients (and, for the command lines, the real binaries).
//!
//! - every decision × role; the legal state transitions
//! - release refused with each kind of blocker, and after an edit since ready
//! - staleness after a release, visible in snapshots, `readiness` and `show`
//! - co-sign policy: met, unmet, voided by a change, refused for agents,
//!   owners and unnamed observers, never twice for the same content
//! - co-signatures bind the lane and the audience: a release to another
//!   lane or a wider audience than signed is refused; the manifest names
//!   the scope and the co-signatures it relied on
//! - escalation makes the room read-only for everyone
//! - exports: deterministic bytes, past revisions rebuilt exactly, member and
//!   operator exports identical, every export audited, golden files for the
//!   demo room (ids, hashes and times normalized — see `normalize`)
//! - manifest verification fails for any changed byte, a wrong key and a
//!   bundle of another revision

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{Context, Result, bail, ensure};
use serde_json::{Value, json};
use trustroom_e2e::{TestServer, WsClient, client_bin, run_process, server_bin};
use trustroom_server::admin::{NewAnnex, RoomBuilder, build_annex};
use trustroom_server::room::ADMIN_ACTOR;
use trustroom_shared::change::Change;
use trustroom_shared::ids::SectionId;
use trustroom_shared::manifest::verify_bundle;
use trustroom_shared::ot::TextOp;
use trustroom_shared::role::{AgentRole, Discipline, Role};
use trustroom_shared::room::Member;

const PATTERN: &str = "acct-4471-NWF";
const CLEAN: &str = "# Summary\n\n\
[verified: CASE-88412, SL-0091] A support session displayed a second tenant's customer list.\n\n\
[restricted] The tenants are identified in [[annex:A1]].";

fn role_of(label: &str) -> Role {
    match label {
        "owner" => Role::Owner,
        "reviewer/privacy" => Role::Reviewer { discipline: Discipline::Privacy },
        "reviewer/legal" => Role::Reviewer { discipline: Discipline::Legal },
        "reviewer/support-engineering" => Role::Reviewer { discipline: Discipline::SupportEngineering },
        "reviewer/support-trust" => Role::Reviewer { discipline: Discipline::SupportTrust },
        "agent/chronology" => Role::Agent { agent_role: AgentRole::Chronology },
        "agent/trace-keeper" => Role::Agent { agent_role: AgentRole::TraceKeeper },
        _ => Role::Observer,
    }
}

/// A second room with the demo's members, one clean section and one annex:
/// nothing blocks its release. Written directly (no actor runs for it yet).
async fn clean_room(server: &TestServer) -> Result<String> {
    let mut b = RoomBuilder::new("Release workflow test room");
    for m in &server.seed.members {
        b.change(
            ADMIN_ACTOR,
            Change::MemberAdded { member: Member { user: m.user, name: m.name.clone(), role: role_of(&m.role) } },
        )?;
    }
    let owner = server.member("owner").user;
    b.change(
        owner,
        Change::SectionAdded { section: SectionId::new(), title: "Summary".into(), body: CLEAN.into(), after: None },
    )?;
    let mut annex = build_annex(
        &server.store,
        NewAnnex {
            title: "Affected tenant identifiers".into(),
            classification: "tenant-identifiers".into(),
            content: format!("Tenant shown: {PATTERN}"),
            sensitive: vec![PATTERN.into()],
            allow: vec!["priya.natarajan".into()],
        },
    )
    .await?;
    annex.code = b.state.next_annex_code();
    b.change(ADMIN_ACTOR, Change::AnnexAdded { annex })?;
    Ok(b.create(&server.store).await?.id.to_string())
}

/// Connects as `role` (a demo role label) and joins `room`.
async fn member(server: &TestServer, role: &str, room: &str) -> Result<(WsClient, Value)> {
    let mut c = server.client(role).await?;
    let snap = c.join(room).await?;
    Ok((c, snap))
}

/// The room's snapshot as a fresh observer connection sees it.
async fn snapshot(server: &TestServer, room: &str) -> Result<Value> {
    let (c, snap) = member(server, "observer", room).await?;
    c.close().await;
    Ok(snap)
}

fn section_of(snap: &Value, title: &str) -> Result<(String, String)> {
    trustroom_e2e::section(snap, title)
}

fn revision(v: &Value) -> u64 {
    v["revision"].as_u64().unwrap_or(0)
}

/// Makes section `title`'s body `new` (one edit at the current revision).
async fn set_body(server: &TestServer, c: &mut WsClient, room: &str, title: &str, new: &str) -> Result<u64> {
    let snap = snapshot(server, room).await?;
    let (sid, old) = section_of(&snap, title)?;
    let op = TextOp::from_texts(&old, new).to_wire();
    let ack = c
        .ok(json!({"type": "edit", "room": room, "section": sid, "base": trustroom_e2e::revision_of(&snap), "op": op}))
        .await?;
    Ok(revision(&ack))
}

async fn append(server: &TestServer, c: &mut WsClient, room: &str, paragraph: &str) -> Result<u64> {
    let snap = snapshot(server, room).await?;
    let (_, old) = section_of(&snap, "Summary")?;
    set_body(server, c, room, "Summary", &format!("{old}\n\n{paragraph}")).await
}

async fn readiness(c: &mut WsClient, room: &str) -> Result<Value> {
    c.ok(json!({"type": "readiness", "room": room})).await
}

async fn refused_message(c: &mut WsClient, req: Value, code: &str) -> Result<String> {
    let e = c.refused(req, code).await?;
    Ok(e["message"].as_str().unwrap_or_default().to_string())
}

async fn ready_and_release(c: &mut WsClient, room: &str, lane: &str) -> Result<Value> {
    c.ok(json!({"type": "mark_ready", "room": room})).await?;
    c.ok(json!({"type": "release", "room": room, "lane": lane})).await
}

async fn export(c: &mut WsClient, room: &str, revision: Option<u64>, format: &str) -> Result<Value> {
    let mut req = json!({"type": "export", "room": room, "format": format});
    if let Some(n) = revision {
        req["revision"] = json!(n);
    }
    c.ok(req).await
}

fn text(v: &Value) -> String {
    v["text"].as_str().unwrap_or_default().to_string()
}

/// Co-signs the current content for the privacy lane (default audience).
async fn cosign(c: &mut WsClient, room: &str, server: &TestServer) -> Result<Value> {
    cosign_for(c, room, server, "privacy", None).await
}

/// Co-signs the current content for `lane` and, when given, `audience`.
async fn cosign_for(
    c: &mut WsClient,
    room: &str,
    server: &TestServer,
    lane: &str,
    audience: Option<&str>,
) -> Result<Value> {
    let hash = snapshot(server, room).await?["content_hash"].as_str().unwrap_or_default().to_string();
    let mut req = json!({"type": "cosign", "room": room, "content_hash": hash, "lane": lane});
    if let Some(a) = audience {
        req["audience"] = json!(a);
    }
    c.request(req).await
}

/// The `cosign.covers` entry of a readiness record for `lane` and `audience`.
fn cover<'a>(r: &'a Value, lane: &str, audience: &str) -> Result<&'a Value> {
    r["cosign"]["covers"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["lane"] == lane && c["audience"] == audience))
        .with_context(|| format!("no cover for {lane} · {audience}: {}", r["cosign"]))
}

fn ok(v: &Value) -> Result<&Value> {
    ensure!(v["type"] == "ok", "expected ok, got {v}");
    Ok(&v["result"])
}

fn error_code(v: &Value) -> &str {
    v["code"].as_str().unwrap_or("ok")
}

async fn public_key(server: &TestServer) -> Result<String> {
    Ok(trustroom_server::signing::server_key(&server.store).await?.public_hex())
}

// ---------------------------------------------------------------------------

#[tokio::test]
async fn every_decision_by_every_role() -> Result<()> {
    let server = TestServer::start().await?;
    let room = clean_room(&server).await?;
    let (mut owner, _) = member(&server, "owner", &room).await?;
    let privacy = server.member("reviewer/privacy").user.to_string();
    let decisions = [
        json!({"type": "hold", "room": room, "reason": "not mine to hold"}),
        json!({"type": "mark_ready", "room": room}),
        json!({"type": "release", "room": room, "lane": "privacy"}),
        json!({"type": "escalate", "room": room, "reason": "not mine to escalate"}),
        json!({"type": "set_release_policy", "room": room, "disciplines": ["privacy"]}),
    ];
    for role in ["reviewer/privacy", "reviewer/legal", "agent/chronology", "agent/trace-keeper", "observer"] {
        let (mut c, _) = member(&server, role, &room).await?;
        for d in &decisions {
            c.refused(d.clone(), "forbidden").await.with_context(|| format!("{role}: {d}"))?;
        }
        c.close().await;
    }
    // Co-signing: agents never, owners sign by releasing, observers only when named.
    for role in ["agent/chronology", "owner", "observer"] {
        let (mut c, _) = member(&server, role, &room).await?;
        let answer = cosign(&mut c, &room, &server).await?;
        ensure!(error_code(&answer) == "forbidden", "{role} co-signed: {answer}");
        c.close().await;
    }
    let after = snapshot(&server, &room).await?;
    ensure!(after["state"]["release"]["state"] == "drafting", "nothing changed: {}", after["state"]["release"]);
    ensure!(after["state"]["cosignatures"].as_array().is_some_and(Vec::is_empty));
    let refusals = server
        .audit_chain(&room)
        .await?
        .into_iter()
        .filter(|e| e.kind == "refused" && e.detail["code"] == "forbidden")
        .count();
    assert_eq!(refusals, 5 * 5 + 3, "every refusal is audited");

    // The owner may make every decision.
    owner.ok(json!({"type": "hold", "room": room, "reason": "waiting for the trace keeper"})).await?;
    owner
        .ok(json!({"type": "set_release_policy", "room": room, "members": [privacy], "disciplines": ["legal"]}))
        .await?;
    owner.ok(json!({"type": "set_release_policy", "room": room})).await?;
    owner.ok(json!({"type": "mark_ready", "room": room})).await?;
    let ack = owner.ok(json!({"type": "release", "room": room, "lane": "account-governance"})).await?;
    ensure!(
        ack["created"].as_str().is_some_and(|h| h.len() == 64),
        "the release answers with the manifest hash: {ack}"
    );
    owner.ok(json!({"type": "escalate", "room": room, "reason": "Direct handling by the incident commander."})).await?;
    let after = snapshot(&server, &room).await?;
    ensure!(after["state"]["release"]["state"] == "escalated");
    Ok(())
}

#[tokio::test]
async fn release_is_refused_with_each_kind_of_blocker() -> Result<()> {
    let server = TestServer::start().await?;
    let room = clean_room(&server).await?;
    let (mut owner, snap) = member(&server, "owner", &room).await?;
    let (mut privacy, _) = member(&server, "reviewer/privacy", &room).await?;
    let (sid, _) = section_of(&snap, "Summary")?;
    let release = json!({"type": "release", "room": room, "lane": "privacy"});

    // 1. An open blocking objection.
    let o1 = privacy
        .ok(json!({"type": "object", "room": room, "section": sid, "kind": "exposure-scope", "blocking": true, "text": "A third tenant is not ruled out."}))
        .await?;
    owner.ok(json!({"type": "mark_ready", "room": room})).await?;
    let m = refused_message(&mut owner, release.clone(), "conflict").await?;
    ensure!(m.contains("open blocking objection O-1"), "{m}");
    privacy
        .ok(json!({"type": "set_objection_status", "room": room, "objection": o1["created"], "status": "addressed"}))
        .await?;

    // 2–4. Packet statements: unlinked contested, no evidence, unknown annex.
    for (paragraph, expected) in [
        ("[contested: O-1] Only one other tenant was visible.", "links to no open objection"),
        ("The recording may have been seen by a third party.", "has no evidence and no contested label"),
        ("[restricted] Replay references are in [[annex:A9]].", "references annex A9, which does not exist"),
    ] {
        append(&server, &mut owner, &room, paragraph).await?;
        owner.ok(json!({"type": "mark_ready", "room": room})).await?;
        let m = refused_message(&mut owner, release.clone(), "conflict").await?;
        ensure!(m.contains(expected), "{paragraph:?}: {m}");
        set_body(&server, &mut owner, &room, "Summary", CLEAN).await?;
    }

    // 5. The co-sign policy.
    owner.ok(json!({"type": "set_release_policy", "room": room, "disciplines": ["privacy"]})).await?;
    owner.ok(json!({"type": "mark_ready", "room": room})).await?;
    let m = refused_message(&mut owner, release.clone(), "conflict").await?;
    ensure!(m.contains("co-signature from a privacy reviewer is missing"), "{m}");

    // A contested statement linked to an accepted-residual objection (with
    // its rationale) is not a blocker; it travels in the manifest.
    let o2 = privacy
        .ok(json!({"type": "object", "room": room, "section": sid, "kind": "wording", "text": "\"exposure\" or \"visibility\"?"}))
        .await?;
    owner
        .ok(json!({"type": "set_objection_status", "room": room, "objection": o2["created"], "status": "accepted-residual", "rationale": "The privacy lane settles the term."}))
        .await?;
    append(&server, &mut owner, &room, "[contested: O-2] The exposure lasted 11 minutes.").await?;
    ensure!(ok(&cosign(&mut privacy, &room, &server).await?).is_ok());
    owner.ok(json!({"type": "mark_ready", "room": room})).await?;
    let r = readiness(&mut owner, &room).await?;
    ensure!(r["blockers"].as_array().is_some_and(Vec::is_empty), "clear now: {}", r["blockers"]);
    ensure!(r["boundary_checked"] == true);
    owner.ok(release.clone()).await?;
    let history = owner.ok(json!({"type": "manifests", "room": room})).await?;
    let body = &history["manifests"][0]["manifest"]["body"];
    ensure!(body["accepted_residual"][0]["code"] == "O-2", "{body}");
    ensure!(body["accepted_residual"][0]["rationale"] == "The privacy lane settles the term.");
    ensure!(body["cosigners"][0]["name"] == "priya.natarajan", "{}", body["cosigners"]);

    // 6. Annex-restricted detail in the packet. Nobody can type it in (the
    //    ingress gate refuses it); it gets there when a pattern is declared
    //    after the text exists: held automatically, and the hold reason,
    //    the refusal and the readiness record never repeat it.
    let late = "acct-5150-ZQX";
    owner
        .refused(json!({"type": "object", "room": room, "section": sid, "kind": "other", "text": format!("Do not name {PATTERN} here.")}), "restricted")
        .await?;
    let before = snapshot(&server, &room).await?;
    append(&server, &mut owner, &room, &format!("[verified: TR-2201] The tenant is {late}.")).await?;
    let room_id: trustroom_shared::RoomId = room.parse()?;
    trustroom_server::admin::add_annex(
        &server.store,
        room_id,
        NewAnnex {
            title: "Late tenant identifiers".into(),
            classification: "tenant-identifiers".into(),
            content: format!("Tenant shown: {late}"),
            sensitive: vec![late.into()],
            allow: vec!["priya.natarajan".into()],
        },
    )
    .await?;
    let mut held = snapshot(&server, &room).await?;
    for _ in 0..50 {
        if held["state"]["release"]["state"] == "held" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        held = snapshot(&server, &room).await?;
    }
    ensure!(held["state"]["release"]["state"] == "held", "auto-hold: {}", held["state"]["release"]);
    let reason = held["state"]["release"]["reasons"][0].as_str().unwrap_or_default().to_string();
    ensure!(reason.contains("room check failed: annex A2"), "{reason}");
    ensure!(held["state"]["release"]["by"] == json!(uuid::Uuid::nil()), "decided by the system");
    ensure!(held["state"]["last_release"]["superseded_at"].is_u64(), "the change superseded the release");
    owner.ok(json!({"type": "mark_ready", "room": room})).await?;
    let m = refused_message(&mut owner, release.clone(), "conflict").await?;
    ensure!(m.contains("annex A2 sensitive detail in \"Summary\""), "{m}");
    let r = readiness(&mut owner, &room).await?;
    for text in [m.as_str(), reason.as_str(), &r.to_string()] {
        ensure!(!text.to_lowercase().contains(&late.to_lowercase()), "the pattern leaked: {text}");
    }
    // Removing the text is allowed (it takes restricted detail out).
    set_body(&server, &mut owner, &room, "Summary", &section_of(&before, "Summary")?.1).await?;
    Ok(())
}

#[tokio::test]
async fn release_is_refused_after_an_edit_since_ready() -> Result<()> {
    let server = TestServer::start().await?;
    let room = clean_room(&server).await?;
    let (mut owner, _) = member(&server, "owner", &room).await?;
    let (mut legal, _) = member(&server, "reviewer/legal", &room).await?;
    let ready = owner.ok(json!({"type": "mark_ready", "room": room})).await?;
    let edited = append(&server, &mut legal, &room, "[verified: SL-0104] The session ended at 09:28.").await?;
    ensure!(edited > revision(&ready));
    let m = refused_message(&mut owner, json!({"type": "release", "room": room, "lane": "privacy"}), "stale").await?;
    ensure!(m.contains(&format!("changed at rev {edited}")), "{m}");
    // The release-rules room check held the room automatically, with its reason.
    let r = readiness(&mut owner, &room).await?;
    ensure!(r["release"]["state"] == "HELD", "{}", r["release"]);
    ensure!(
        r["release"]["line"]
            .as_str()
            .is_some_and(|l| l.contains("release rules") && l.contains(&format!("rev {edited}"))),
        "{}",
        r["release"]
    );
    // Marking it ready again (after looking) allows the release.
    ready_and_release(&mut owner, &room, "privacy").await?;
    Ok(())
}

#[tokio::test]
async fn a_later_change_makes_the_release_stale_everywhere() -> Result<()> {
    let server = TestServer::start().await?;
    let room = clean_room(&server).await?;
    let (mut owner, _) = member(&server, "owner", &room).await?;
    let (mut sam, _) = member(&server, "reviewer/support-engineering", &room).await?;
    ready_and_release(&mut owner, &room, "product-security").await?;
    let released = snapshot(&server, &room).await?;
    let n = released["state"]["content_revision"].as_u64().context("content_revision")?;
    ensure!(released["state"]["release"]["revision"] == n, "the release binds the packet revision");
    ensure!(released["state"]["last_release"]["superseded_at"].is_null());
    let r = readiness(&mut sam, &room).await?;
    ensure!(r["release"]["line"] == format!("RELEASED rev {n} (product-security lane)"), "{}", r["release"]);

    let m = append(&server, &mut sam, &room, "[verified: SL-0093] A second refresh at 09:21.").await?;
    append(&server, &mut sam, &room, "[verified: SL-0095] A third refresh at 09:24.").await?;
    let after = snapshot(&server, &room).await?;
    ensure!(
        after["state"]["last_release"]["superseded_at"] == m,
        "the first change after the release: {}",
        after["state"]["last_release"]
    );
    let line = format!("RELEASED rev {n} — superseded at rev {m}");
    let r = readiness(&mut sam, &room).await?;
    ensure!(r["release"]["line"].as_str().is_some_and(|l| l.starts_with(&line)), "{}", r["release"]);
    // A new release is needed: the old one cannot simply be repeated.
    let msg = refused_message(&mut owner, json!({"type": "release", "room": room, "lane": "privacy"}), "stale").await?;
    ensure!(msg.contains("mark it ready again"), "{msg}");
    // Holding after a release is allowed; the stale release stays visible.
    owner.ok(json!({"type": "hold", "room": room, "reason": "new evidence"})).await?;
    let r = readiness(&mut sam, &room).await?;
    ensure!(r["release"]["line"] == format!("HELD: new evidence · last release: {line}"), "{}", r["release"]);
    ready_and_release(&mut owner, &room, "privacy").await?;
    let history = owner.ok(json!({"type": "manifests", "room": room})).await?;
    ensure!(history["manifests"].as_array().map(Vec::len) == Some(2), "manifest history is kept");
    Ok(())
}

#[tokio::test]
async fn cosign_policy_met_unmet_voided_and_refused() -> Result<()> {
    let server = TestServer::start().await?;
    let room = clean_room(&server).await?;
    let (mut owner, _) = member(&server, "owner", &room).await?;
    let (mut privacy, _) = member(&server, "reviewer/privacy", &room).await?;
    let (mut legal, _) = member(&server, "reviewer/legal", &room).await?;
    let (mut sam, _) = member(&server, "reviewer/support-engineering", &room).await?;
    let (mut agent, _) = member(&server, "agent/trace-keeper", &room).await?;
    let (mut observer, _) = member(&server, "observer", &room).await?;
    let sam_id = server.member("reviewer/support-engineering").user.to_string();
    let agent_id = server.member("agent/trace-keeper").user.to_string();
    let owner_id = server.member("owner").user.to_string();
    let release = json!({"type": "release", "room": room, "lane": "privacy"});

    // A policy cannot require agents or owners.
    owner.refused(json!({"type": "set_release_policy", "room": room, "members": [agent_id]}), "invalid").await?;
    owner.refused(json!({"type": "set_release_policy", "room": room, "members": [owner_id]}), "invalid").await?;
    owner
        .ok(json!({"type": "set_release_policy", "room": room, "members": [sam_id], "disciplines": ["legal", "privacy", "legal"]}))
        .await?;
    let r = readiness(&mut owner, &room).await?;
    ensure!(r["cosign"]["policy"]["disciplines"] == json!(["privacy", "legal"]), "{}", r["cosign"]["policy"]);
    ensure!(r["cosign"]["met"] == false);
    owner.ok(json!({"type": "mark_ready", "room": room})).await?;
    let m = refused_message(&mut owner, release.clone(), "conflict").await?;
    for need in
        ["co-signature from sam.reyes", "co-signature from a privacy reviewer", "co-signature from a legal reviewer"]
    {
        ensure!(m.contains(need), "{need}: {m}");
    }

    // Refusals: agents never sign; an unnamed observer neither; a wrong hash is stale.
    ensure!(error_code(&cosign(&mut agent, &room, &server).await?) == "forbidden");
    ensure!(error_code(&cosign(&mut observer, &room, &server).await?) == "forbidden");
    privacy
        .refused(json!({"type": "cosign", "room": room, "content_hash": "0".repeat(64), "lane": "privacy"}), "stale")
        .await?;
    // Privacy signs; not twice for the same content.
    ok(&cosign(&mut privacy, &room, &server).await?)?;
    let again = cosign(&mut privacy, &room, &server).await?;
    ensure!(error_code(&again) == "conflict", "double co-sign: {again}");
    ok(&cosign(&mut legal, &room, &server).await?)?;
    let r = readiness(&mut owner, &room).await?;
    ensure!(r["cosign"]["met"] == false, "sam is still missing");
    let m = refused_message(&mut owner, release.clone(), "conflict").await?;
    ensure!(m.contains("co-signature from sam.reyes") && !m.contains("privacy reviewer"), "{m}");
    ok(&cosign(&mut sam, &room, &server).await?)?;
    let r = readiness(&mut owner, &room).await?;
    ensure!(r["cosign"]["met"] == true, "{}", r["cosign"]);
    let signed_at = r["content_revision"].as_u64().context("content_revision")?;

    // A change voids every co-signature; the record says who signs again and what changed.
    let edit = append(&server, &mut owner, &room, "[verified: TL-0430] Escalated to support trust at 10:05.").await?;
    let r = readiness(&mut owner, &room).await?;
    ensure!(r["cosign"]["met"] == false);
    let again = r["cosign"]["must_sign_again"].as_array().context("must_sign_again")?;
    ensure!(again.len() == 3, "{again:?}");
    for a in again {
        ensure!(a["signed_revision"] == signed_at && a["voided_at"] == edit, "{a}");
        ensure!(a["changed"] == json!(["section \"Summary\""]), "{a}");
    }
    let snap = snapshot(&server, &room).await?;
    ensure!(snap["state"]["cosignatures"].as_array().is_some_and(|c| c.iter().all(|s| s["voided_at"] == edit)));
    owner.ok(json!({"type": "mark_ready", "room": room})).await?;
    let m = refused_message(&mut owner, release.clone(), "conflict").await?;
    ensure!(m.contains("voided by a later change: sam.reyes (signed rev"), "{m}");

    // Everyone signs again; the release names all three.
    for c in [&mut privacy, &mut legal, &mut sam] {
        ok(&cosign(c, &room, &server).await?)?;
    }
    owner.ok(release.clone()).await?;
    let history = owner.ok(json!({"type": "manifests", "room": room})).await?;
    let names: Vec<&str> = history["manifests"][0]["manifest"]["body"]["cosigners"]
        .as_array()
        .map(|a| a.iter().filter_map(|c| c["name"].as_str()).collect())
        .unwrap_or_default();
    ensure!(names == ["daniel.okafor", "priya.natarajan", "sam.reyes"], "{names:?}");
    Ok(())
}

/// Finding 8: a co-signature binds the revision, the content hash, the lane
/// and the audience. Privacy and legal co-sign for the privacy lane; the
/// owner may release to the privacy lane, but not the same revision to
/// product-security, nor to a wider audience than signed, until co-signatures
/// for exactly that scope exist.
#[tokio::test]
async fn cosignatures_bind_the_lane_and_the_audience() -> Result<()> {
    let server = TestServer::start().await?;
    let key = public_key(&server).await?;
    let room = clean_room(&server).await?;
    let (mut owner, _) = member(&server, "owner", &room).await?;
    let (mut privacy, _) = member(&server, "reviewer/privacy", &room).await?;
    let (mut legal, _) = member(&server, "reviewer/legal", &room).await?;
    owner.ok(json!({"type": "set_release_policy", "room": room, "disciplines": ["privacy", "legal"]})).await?;
    let release = |lane: &str, audience: Option<&str>| {
        let mut req = json!({"type": "release", "room": room, "lane": lane});
        if let Some(a) = audience {
            req["audience"] = json!(a);
        }
        req
    };

    // A co-signature names its lane; audiences are the documented ones.
    let hash = snapshot(&server, &room).await?["content_hash"].as_str().unwrap_or_default().to_string();
    let m =
        refused_message(&mut privacy, json!({"type": "cosign", "room": room, "content_hash": hash}), "invalid").await?;
    ensure!(m.contains("lane"), "a co-sign without a lane: {m}");
    privacy
        .refused(
            json!({"type": "cosign", "room": room, "content_hash": hash, "lane": "privacy", "audience": "everyone"}),
            "invalid",
        )
        .await?;
    owner.refused(release("privacy", Some("everyone")), "invalid").await?;

    // Privacy and legal co-sign for the privacy lane (default audience: lane-reviewers).
    ok(&cosign_for(&mut privacy, &room, &server, "privacy", None).await?)?;
    ok(&cosign_for(&mut legal, &room, &server, "privacy", None).await?)?;
    let again = cosign_for(&mut legal, &room, &server, "privacy", Some("lane-reviewers")).await?;
    ensure!(error_code(&again) == "conflict", "the same scope twice: {again}");
    let r = readiness(&mut owner, &room).await?;
    ensure!(r["cosign"]["met"] == true && r["blockers"].as_array().is_some_and(Vec::is_empty), "{}", r["cosign"]);
    ensure!(
        r["cosign"]["covers"].as_array().map(Vec::len) == Some(9),
        "every lane × audience: {}",
        r["cosign"]["covers"]
    );
    let c = cover(&r, "privacy", "lane-reviewers")?;
    ensure!(c["met"] == true && c["signers"] == json!(["daniel.okafor", "priya.natarajan"]), "{c}");
    for (lane, audience) in
        [("privacy", "lane-and-leads"), ("privacy", "organisation"), ("product-security", "lane-reviewers")]
    {
        let c = cover(&r, lane, audience)?;
        ensure!(c["met"] == false, "{lane} · {audience}: {c}");
    }
    ensure!(
        cover(&r, "product-security", "lane-reviewers")?["missing"]
            == json!(["co-signature from a privacy reviewer", "co-signature from a legal reviewer"]),
        "{}",
        r["cosign"]["covers"]
    );
    let snap = snapshot(&server, &room).await?;
    for s in snap["state"]["cosignatures"].as_array().context("cosignatures")? {
        ensure!(
            s["lane"] == "privacy" && s["audience"] == "lane-reviewers" && s["content_hash"] == hash.as_str(),
            "{s}"
        );
    }

    // The owner releases to the privacy lane.
    owner.ok(json!({"type": "mark_ready", "room": room})).await?;
    let first = owner.ok(release("privacy", None)).await?;
    ensure!(first["created"].as_str().is_some_and(|h| h.len() == 64), "{first}");

    // The same revision to product-security: refused, naming the lane and what is missing.
    let m = refused_message(&mut owner, release("product-security", None), "conflict").await?;
    ensure!(m.contains("release to the product-security lane (audience lane-reviewers)"), "{m}");
    for need in ["privacy", "legal"] {
        ensure!(
            m.contains(&format!(
                "co-signature from a {need} reviewer is missing for the product-security lane (audience lane-reviewers or wider)"
            )),
            "{need}: {m}"
        );
    }
    // A wider audience than signed: refused too.
    let m = refused_message(&mut owner, release("privacy", Some("organisation")), "conflict").await?;
    ensure!(m.contains("missing for the privacy lane (audience organisation or wider)"), "{m}");
    let m = refused_message(&mut owner, release("privacy", Some("lane-and-leads")), "conflict").await?;
    ensure!(m.contains("(audience lane-and-leads or wider)"), "{m}");

    // New co-signatures for product-security: privacy up to lane-and-leads,
    // legal up to organisation. The privacy-lane ones are kept beside them.
    ok(&cosign_for(&mut privacy, &room, &server, "product-security", Some("lane-and-leads")).await?)?;
    let m = refused_message(&mut owner, release("product-security", None), "conflict").await?;
    ensure!(
        m.contains("legal reviewer is missing for the product-security lane") && !m.contains("privacy reviewer"),
        "{m}"
    );
    ok(&cosign_for(&mut legal, &room, &server, "product-security", Some("organisation")).await?)?;
    let snap = snapshot(&server, &room).await?;
    let valid =
        snap["state"]["cosignatures"].as_array().map_or(0, |a| a.iter().filter(|s| s["voided_at"].is_null()).count());
    ensure!(valid == 4, "one co-signature per member and lane: {}", snap["state"]["cosignatures"]);
    let second = owner.ok(release("product-security", Some("lane-and-leads"))).await?;
    // Narrower than signed is covered; wider than the narrowest signer is not.
    owner.ok(release("product-security", None)).await?;
    let m = refused_message(&mut owner, release("product-security", Some("organisation")), "conflict").await?;
    ensure!(
        m.contains("co-signature from a privacy reviewer is missing for the product-security lane (audience organisation or wider)")
            && !m.contains("legal reviewer"),
        "{m}"
    );
    // The privacy lane still has its co-signatures.
    let repeat = owner.ok(release("privacy", None)).await?;
    ensure!(repeat["created"] == first["created"], "same revision, lane and audience: same manifest");

    // The manifests carry the scope and the co-signatures they relied on.
    let history = owner.ok(json!({"type": "manifests", "room": room})).await?;
    let records = history["manifests"].as_array().context("manifests")?;
    ensure!(records.len() == 4, "{}", records.len());
    let body = &records[0]["manifest"]["body"];
    ensure!(body["lane"] == "privacy" && body["audience"] == "lane-reviewers", "{body}");
    let revision_signed = body["revision"].clone();
    let cosigners = body["cosigners"].as_array().context("cosigners")?;
    ensure!(cosigners.len() == 2, "{cosigners:?}");
    for (c, name, role) in
        [(&cosigners[0], "daniel.okafor", "reviewer/legal"), (&cosigners[1], "priya.natarajan", "reviewer/privacy")]
    {
        ensure!(c["name"] == name && c["role"] == role, "{c}");
        ensure!(c["lane"] == "privacy" && c["audience"] == "lane-reviewers", "{c}");
        ensure!(c["revision"] == revision_signed && c["content_hash"] == body["content_hash"], "{c}");
    }
    let body = &records[1]["manifest"]["body"];
    ensure!(records[1]["manifest"]["manifest_hash"] == second["created"]);
    ensure!(body["lane"] == "product-security" && body["audience"] == "lane-and-leads", "{body}");
    let scopes: Vec<(String, String, String)> = body["cosigners"]
        .as_array()
        .context("cosigners")?
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap_or_default().into(),
                c["lane"].as_str().unwrap_or_default().into(),
                c["audience"].as_str().unwrap_or_default().into(),
            )
        })
        .collect();
    ensure!(
        scopes
            == [
                ("daniel.okafor".to_string(), "product-security".to_string(), "organisation".to_string()),
                ("priya.natarajan".to_string(), "product-security".to_string(), "lane-and-leads".to_string()),
            ],
        "{scopes:?}"
    );
    ensure!(records[2]["manifest"]["body"]["audience"] == "lane-reviewers");
    ensure!(
        records[3]["manifest"] == records[0]["manifest"],
        "deterministic: the same state and scope give the same manifest"
    );

    // The audit log records the scope of each co-signature and release.
    let chain = server.audit_chain(&room).await?;
    let cosigned: Vec<_> = chain.iter().filter(|e| e.kind == "change.cosigned").collect();
    ensure!(cosigned.len() == 4, "{}", cosigned.len());
    ensure!(
        cosigned[2].detail["lane"] == "product-security" && cosigned[2].detail["audience"] == "lane-and-leads",
        "{}",
        cosigned[2].detail
    );
    ensure!(
        chain.iter().any(|e| e.kind == "change.release_changed"
            && e.detail["lane"] == "product-security"
            && e.detail["audience"] == "lane-and-leads"),
        "the release entry names lane and audience"
    );

    // The exported bundle of the packet revision verifies and names its scope.
    let bundle = export(&mut owner, &room, None, "json").await?;
    let v = verify_bundle(&text(&bundle), &key);
    ensure!(v.verified, "{v:?}");
    let md = text(&export(&mut owner, &room, None, "markdown").await?);
    ensure!(md.contains("for audience lane-reviewers") && md.contains("for privacy · lane-reviewers"), "{md}");

    // New content voids every co-signature, for every lane.
    append(&server, &mut owner, &room, "[verified: SL-0104] The session ended at 09:28.").await?;
    owner.ok(json!({"type": "mark_ready", "room": room})).await?;
    for lane in ["privacy", "product-security"] {
        let m = refused_message(&mut owner, release(lane, None), "conflict").await?;
        ensure!(
            m.contains(&format!("voided by a later change: priya.natarajan (signed rev {revision_signed} for {lane}")),
            "{m}"
        );
    }
    let r = readiness(&mut owner, &room).await?;
    ensure!(
        r["cosign"]["met"] == false && r["cosign"]["must_sign_again"].as_array().map(Vec::len) == Some(4),
        "{}",
        r["cosign"]
    );
    ok(&cosign_for(&mut privacy, &room, &server, "product-security", None).await?)?;
    ok(&cosign_for(&mut legal, &room, &server, "product-security", None).await?)?;
    refused_message(&mut owner, release("privacy", None), "conflict").await?;
    owner.ok(release("product-security", None)).await?;
    Ok(())
}

#[tokio::test]
async fn escalation_makes_the_room_read_only_for_everyone() -> Result<()> {
    let server = TestServer::start().await?;
    let room = clean_room(&server).await?;
    let (mut owner, snap) = member(&server, "owner", &room).await?;
    let (mut privacy, _) = member(&server, "reviewer/privacy", &room).await?;
    let (sid, body) = section_of(&snap, "Summary")?;
    let o = privacy
        .ok(json!({"type": "object", "room": room, "section": sid, "kind": "other", "text": "Before escalation."}))
        .await?;
    let ack = owner
        .ok(json!({"type": "escalate", "room": room, "reason": "A third tenant may be involved; direct handling."}))
        .await?;
    let rev = revision(&ack);
    let chars = body.chars().count();
    for (who, req) in [
        ("owner", json!({"type": "edit", "room": room, "section": sid, "base": rev, "op": [chars, " more"]})),
        ("owner", json!({"type": "add_section", "room": room, "title": "Late"})),
        ("owner", json!({"type": "hold", "room": room, "reason": "too late"})),
        ("owner", json!({"type": "mark_ready", "room": room})),
        ("owner", json!({"type": "release", "room": room, "lane": "privacy"})),
        ("owner", json!({"type": "escalate", "room": room, "reason": "again"})),
        ("owner", json!({"type": "set_release_policy", "room": room, "disciplines": ["legal"]})),
        (
            "reviewer/privacy",
            json!({"type": "edit", "room": room, "section": sid, "base": rev, "op": [chars, " more"]}),
        ),
        ("reviewer/privacy", json!({"type": "object", "room": room, "section": sid, "kind": "other", "text": "late"})),
        ("reviewer/privacy", json!({"type": "reply", "room": room, "objection": o["created"], "text": "late"})),
        (
            "reviewer/legal",
            json!({"type": "set_objection_status", "room": room, "objection": o["created"], "status": "addressed"}),
        ),
        ("agent/chronology", json!({"type": "object", "room": room, "section": sid, "kind": "other", "text": "late"})),
    ] {
        let (mut c, _) = member(&server, who, &room).await?;
        c.refused(req.clone(), "read_only").await.with_context(|| format!("{who}: {req}"))?;
        c.close().await;
    }
    let answer = cosign(&mut privacy, &room, &server).await?;
    ensure!(error_code(&answer) == "read_only", "{answer}");
    // Reading still works: readiness, export, manifests, annex views.
    let r = readiness(&mut privacy, &room).await?;
    ensure!(r["release"]["state"] == "ESCALATED", "{}", r["release"]);
    export(&mut privacy, &room, None, "json").await?;
    privacy.ok(json!({"type": "manifests", "room": room})).await?;
    let after = snapshot(&server, &room).await?;
    ensure!(trustroom_e2e::revision_of(&after) == rev, "nothing changed after the escalation");
    let chain = server.audit_chain(&room).await?;
    let escalation = chain
        .iter()
        .find(|e| e.kind == "change.release_changed" && e.detail["decision"] == "escalate")
        .context("no escalation entry")?;
    ensure!(escalation.detail["reason"] == "A third tenant may be involved; direct handling.");
    ensure!(
        escalation.detail["content_hash"].as_str().is_some_and(|h| h.len() == 64),
        "the handoff record names the packet"
    );
    Ok(())
}

#[tokio::test]
async fn releasing_the_same_revision_twice_gives_the_same_manifest() -> Result<()> {
    let server = TestServer::start().await?;
    let room = clean_room(&server).await?;
    let (mut owner, _) = member(&server, "owner", &room).await?;
    // Drafting and held rooms are not released.
    let m =
        refused_message(&mut owner, json!({"type": "release", "room": room, "lane": "privacy"}), "conflict").await?;
    ensure!(m.contains("the room is DRAFTING; mark it ready first"), "{m}");
    owner.ok(json!({"type": "hold", "room": room, "reason": "waiting"})).await?;
    let m =
        refused_message(&mut owner, json!({"type": "release", "room": room, "lane": "privacy"}), "conflict").await?;
    ensure!(m.contains("HELD"), "{m}");
    let first = ready_and_release(&mut owner, &room, "privacy").await?;
    // Again, straight from RELEASED (nothing changed), and after a hold + ready.
    let second = owner.ok(json!({"type": "release", "room": room, "lane": "privacy"})).await?;
    owner.ok(json!({"type": "hold", "room": room, "reason": "pause"})).await?;
    let third = ready_and_release(&mut owner, &room, "privacy").await?;
    ensure!(first["created"] == second["created"] && second["created"] == third["created"], "same manifest hash");
    let other_lane = owner.ok(json!({"type": "release", "room": room, "lane": "account-governance"})).await?;
    ensure!(other_lane["created"] != first["created"], "the lane is part of the manifest");
    let history = owner.ok(json!({"type": "manifests", "room": room})).await?;
    let records = history["manifests"].as_array().context("manifests")?;
    ensure!(records.len() == 4, "every release is kept: {}", records.len());
    ensure!(
        records[0]["manifest"] == records[1]["manifest"] && records[1]["manifest"] == records[2]["manifest"],
        "identical signed manifests"
    );
    ensure!(records[0]["event"] != records[1]["event"], "the release events differ (time, room revision)");
    let key = public_key(&server).await?;
    ensure!(history["public_key"] == key);
    ensure!(records[0]["manifest"]["body"]["public_key"] == key);
    // The audit anchor is the entry that recorded the released packet revision.
    let packet = records[0]["manifest"]["body"]["revision"].as_u64().context("revision")?;
    let chain = server.audit_chain(&room).await?;
    let anchor = &records[0]["manifest"]["body"]["audit_anchor"];
    let entry = chain.iter().find(|e| e.seq == anchor["seq"].as_u64().unwrap_or(0)).context("anchor entry")?;
    ensure!(
        entry.hash == anchor["hash"].as_str().unwrap_or_default()
            && entry.revision == packet
            && entry.kind.starts_with("change.")
    );
    // Manifests are stored with the release (durable across a restart).
    drop(owner);
    let mut server = server;
    server.restart().await?;
    let (mut owner, _) = member(&server, "owner", &room).await?;
    let after = owner.ok(json!({"type": "manifests", "room": room})).await?;
    ensure!(after["manifests"] == history["manifests"], "manifest history survives a restart");
    ensure!(after["public_key"] == key, "the signing key survives a restart");
    Ok(())
}

#[tokio::test]
async fn exports_are_deterministic_audited_and_rebuild_past_revisions() -> Result<()> {
    let server = TestServer::start().await?;
    let room = server.room();
    let (mut owner, _) = server.joined("owner").await?;
    let (mut agent, _) = server.joined("agent/chronology").await?;
    let a = export(&mut owner, &room, None, "json").await?;
    let b = export(&mut owner, &room, None, "json").await?;
    ensure!(text(&a) == text(&b), "same state, same bytes");
    ensure!(
        text(&export(&mut agent, &room, None, "json").await?) == text(&a),
        "every member gets the same filtered bundle"
    );
    let md = export(&mut owner, &room, None, "markdown").await?;
    ensure!(text(&md) == text(&export(&mut owner, &room, None, "markdown").await?));
    ensure!(a["exact"] == true && a["released"] == false, "{a:?}");
    let at = revision(&a);

    // Nothing restricted: no annex content, no sensitive pattern; references are markers.
    for t in [text(&a), text(&md)] {
        trustroom_e2e::assert_no_canary(std::slice::from_ref(&t), &trustroom_server::demo::CANARIES, "export");
        for p in trustroom_e2e::DEMO_SENSITIVE {
            ensure!(!t.contains(p), "sensitive pattern {p} in an export");
        }
        ensure!(t.contains("[redacted: annex A3 · privileged-access-path]"), "annex references become markers");
    }

    // Later changes; then the old revision is rebuilt exactly from storage.
    let (mut privacy, snap) = server.joined("reviewer/privacy").await?;
    let (sid, _) = section_of(&snap, "Summary")?;
    privacy
        .ok(json!({"type": "object", "room": room, "section": sid, "kind": "wording", "text": "Later objection."}))
        .await?;
    append_demo(&server, &mut owner).await?;
    let now = export(&mut owner, &room, None, "json").await?;
    ensure!(text(&now) != text(&a));
    let past = export(&mut owner, &room, Some(at), "json").await?;
    ensure!(text(&past) == text(&a), "export --revision {at} rebuilds the same bytes");
    let past_md = export(&mut owner, &room, Some(at), "markdown").await?;
    ensure!(text(&past_md) == text(&md));
    owner.refused(json!({"type": "export", "room": room, "revision": 10_000}), "not_found").await?;

    // The operator's export is the same bundle.
    let op = trustroom_server::export::operator_export(
        &server.store,
        server.seed.room,
        Some(at),
        trustroom_shared::export::ExportFormat::Json,
    )
    .await?;
    ensure!(op.text == text(&a), "operator and member exports are identical");

    // Every export is audited, with the digest of what was handed out.
    let chain = server.audit_chain(&room).await?;
    let exports: Vec<_> = chain.iter().filter(|e| e.kind == "export").collect();
    ensure!(exports.len() == 9, "9 exports, {} audited", exports.len());
    ensure!(exports.iter().any(|e| e.actor == "admin" && e.detail["by"] == "operator"));
    let digest = trustroom_shared::canonical::sha256_hex(text(&a).as_bytes());
    ensure!(exports.iter().filter(|e| e.detail["sha256"] == digest.as_str()).count() >= 4);
    Ok(())
}

async fn append_demo(server: &TestServer, owner: &mut WsClient) -> Result<()> {
    let snap = server.joined("observer").await?.1;
    let (sid, body) = section_of(&snap, "Chronology")?;
    owner
        .ok(json!({"type": "edit", "room": server.room(), "section": sid, "base": trustroom_e2e::revision_of(&snap), "op": [body.chars().count(), "\n\n[verified: TL-0433] 10:40 Customer notified."]}))
        .await?;
    Ok(())
}

// ---------------------------------------------------------------------------
// Golden files
// ---------------------------------------------------------------------------

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("golden")
}

fn is_hex(b: u8) -> bool {
    b.is_ascii_digit() || (b'a'..=b'f').contains(&b)
}

/// Replaces what differs between two seedings of the demo room — UUIDs,
/// SHA-256 hashes, signatures, 16-digit hash prefixes, millisecond times
/// and UTC timestamps — by numbered placeholders in order of first
/// appearance, so equal values stay visibly equal.
fn normalize(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut counters: HashMap<&str, usize> = HashMap::new();
    let mut out = String::with_capacity(text.len());
    let mut name = |kind: &'static str, token: &str, seen: &mut HashMap<String, String>| -> String {
        seen.entry(format!("{kind}:{token}"))
            .or_insert_with(|| {
                let n = counters.entry(kind).or_insert(0);
                *n += 1;
                format!("<{kind}-{n}>")
            })
            .clone()
    };
    let uuid_at = |i: usize| -> bool {
        let groups = [8, 4, 4, 4, 12];
        let mut p = i;
        for (g, len) in groups.iter().enumerate() {
            if p + len > bytes.len() || !bytes[p..p + len].iter().all(|b| is_hex(*b)) {
                return false;
            }
            p += len;
            if g < 4 {
                if bytes.get(p) != Some(&b'-') {
                    return false;
                }
                p += 1;
            }
        }
        bytes.get(p).is_none_or(|b| !is_hex(*b))
    };
    let time_at = |i: usize| -> bool {
        // YYYY-MM-DD HH:MM:SSZ
        let pat = b"dddd-dd-dd dd:dd:ddZ";
        i + pat.len() <= bytes.len()
            && pat.iter().zip(&bytes[i..]).all(|(p, b)| if *p == b'd' { b.is_ascii_digit() } else { p == b })
    };
    let mut i = 0;
    while i < bytes.len() {
        let boundary = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric());
        if boundary && uuid_at(i) {
            out.push_str(&name("id", &text[i..i + 36], &mut seen));
            i += 36;
            continue;
        }
        if boundary && time_at(i) {
            out.push_str("<time>");
            i += 20;
            continue;
        }
        if boundary && is_hex(bytes[i]) {
            let mut j = i;
            while j < bytes.len() && is_hex(bytes[j]) {
                j += 1;
            }
            let run = &text[i..j];
            let ends = j == bytes.len() || !bytes[j].is_ascii_alphanumeric();
            let all_digits = run.bytes().all(|b| b.is_ascii_digit());
            let kind = match run.len() {
                128 if ends => Some("sig"),
                64 if ends => Some("hash"),
                16 if ends && !all_digits => Some("hex16"),
                12..=14 if ends && all_digits => Some("ms"),
                _ => None,
            };
            if let Some(kind) = kind {
                if kind == "ms" {
                    out.push_str("<ms>");
                } else {
                    out.push_str(&name(kind, run, &mut seen));
                }
                i = j;
                continue;
            }
            out.push_str(run);
            i = j;
            continue;
        }
        let ch = text[i..].chars().next().unwrap_or(' ');
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

fn check_golden(name: &str, actual: &str) -> Result<()> {
    let path = golden_dir().join(name);
    let normalized = normalize(actual);
    if std::env::var_os("TRUSTROOM_BLESS").is_some() {
        std::fs::create_dir_all(golden_dir())?;
        std::fs::write(&path, &normalized)?;
        eprintln!("blessed {}", path.display());
        return Ok(());
    }
    let expected = std::fs::read_to_string(&path)
        .with_context(|| format!("reading {} (run with TRUSTROOM_BLESS=1 to create it)", path.display()))?;
    if expected != normalized {
        let line = expected.lines().zip(normalized.lines()).position(|(a, b)| a != b).unwrap_or(0);
        bail!(
            "{name} differs from the golden file at line {}:\n  golden: {:?}\n  actual: {:?}\n(run with TRUSTROOM_BLESS=1 to accept)",
            line + 1,
            expected.lines().nth(line).unwrap_or(""),
            normalized.lines().nth(line).unwrap_or("")
        );
    }
    Ok(())
}

#[test]
fn normalize_keeps_equal_values_equal() {
    let a = "01a20be1-12f0-70e3-9c01-bee3c1c1f587 x 01a20be1-12f0-70e3-9c01-bee3c1c1f587 y 01a20be1-12f0-70e3-9c01-bee3c1c1f588";
    assert_eq!(normalize(a), "<id-1> x <id-1> y <id-2>");
    let h = "a".repeat(64);
    assert_eq!(
        normalize(&format!("\"{h}\" 1795495633975 2026-11-24 04:47:13Z rev 12")),
        "\"<hash-1>\" <ms> <time> rev 12"
    );
}

#[tokio::test]
async fn golden_exports_of_the_demo_room() -> Result<()> {
    let server = TestServer::start().await?;
    let room = server.room();
    let (mut owner, _) = server.joined("owner").await?;
    check_golden("demo_export.json", &text(&export(&mut owner, &room, None, "json").await?))?;
    check_golden("demo_export.md", &text(&export(&mut owner, &room, None, "markdown").await?))?;
    Ok(())
}

// ---------------------------------------------------------------------------
// Manifest verification
// ---------------------------------------------------------------------------

/// A clean room released with a co-signer; returns (room, bundle text at the release).
async fn released_bundle(server: &TestServer) -> Result<(String, String, u64)> {
    let room = clean_room(server).await?;
    let (mut owner, _) = member(server, "owner", &room).await?;
    let (mut legal, _) = member(server, "reviewer/legal", &room).await?;
    owner.ok(json!({"type": "set_release_policy", "room": room, "disciplines": ["legal"]})).await?;
    ok(&cosign(&mut legal, &room, server).await?)?;
    let ack = ready_and_release(&mut owner, &room, "privacy").await?;
    let bundle = export(&mut owner, &room, None, "json").await?;
    ensure!(bundle["released"] == true, "{bundle}");
    Ok((room, text(&bundle), revision(&ack)))
}

#[tokio::test]
async fn manifest_verification_fails_for_any_change_a_wrong_key_or_another_revision() -> Result<()> {
    let server = TestServer::start().await?;
    let key = public_key(&server).await?;
    let (room, bundle, released_at) = released_bundle(&server).await?;
    let v = verify_bundle(&bundle, &key);
    ensure!(v.verified, "{v:?}");
    ensure!(v.summary.contains("co-signed by daniel.okafor"), "{}", v.summary);

    // Any changed byte: every byte of the release record and the packet
    // content, and a stride through the rest.
    let start = bundle.find("\"release\"").unwrap_or(0);
    let content = bundle.find("\"content\"").unwrap_or(0);
    let bytes = bundle.as_bytes();
    let mut tried = 0;
    for i in 0..bytes.len() {
        let dense = i >= start || (i >= content && i < content + 3000);
        if !dense && i % 7 != 0 {
            continue;
        }
        let mut changed = bytes.to_vec();
        changed[i] = match changed[i] {
            b'0' => b'1',
            b' ' => b'\t',
            b'\n' => b' ',
            other => other ^ 0x01,
        };
        let Ok(s) = String::from_utf8(changed) else { continue };
        tried += 1;
        ensure!(!verify_bundle(&s, &key).verified, "changing byte {i} ({:?}) still verifies", bytes[i] as char);
    }
    ensure!(tried > 2000, "only {tried} changes tried");
    // A wrong key.
    // RFC 8032's first test key: a valid Ed25519 key that is not the server's.
    let other = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a".to_string();
    let v = verify_bundle(&bundle, &other);
    ensure!(!v.verified && v.summary.contains("key"), "{}", v.summary);

    // Another revision: after a change the bundle carries no manifest;
    // splicing the old release record into it fails on the content hash.
    let (mut owner, _) = member(&server, "owner", &room).await?;
    append(&server, &mut owner, &room, "[verified: SL-0104] The session ended at 09:28.").await?;
    let later = text(&export(&mut owner, &room, None, "json").await?);
    let v = verify_bundle(&later, &key);
    ensure!(!v.verified && v.summary.contains("not released"), "{}", v.summary);
    let mut spliced: Value = serde_json::from_str(&later)?;
    let original: Value = serde_json::from_str(&bundle)?;
    spliced["release"] = original["release"].clone();
    let spliced = trustroom_shared::export::json_text(&spliced);
    let v = verify_bundle(&spliced, &key);
    ensure!(!v.verified && v.summary.contains("content hash"), "{}", v.summary);
    // The released revision, rebuilt later from storage, still verifies.
    let past = text(&export(&mut owner, &room, Some(released_at), "json").await?);
    ensure!(past == bundle, "the released revision exports to the same bytes");

    // The operator's command line: exit 0 only for the released bundle.
    let bin = server_bin()?;
    let dir = server.dir().to_path_buf();
    let good = dir.join("released.json");
    let bad = dir.join("later.json");
    std::fs::write(&good, &bundle)?;
    std::fs::write(&bad, &spliced)?;
    let home = dir.join("home");
    let db = server.db_url.clone();
    let run =
        run_process(&bin, &["--db", &db, "manifest", "verify", good.to_str().unwrap_or_default()], &home, &[]).await?;
    ensure!(run.success() && run.stdout.contains("VERIFIED — exactly packet revision"), "{run:?}");
    let run =
        run_process(&bin, &["manifest", "verify", "--public-key", &key, bad.to_str().unwrap_or_default()], &home, &[])
            .await?;
    ensure!(run.code == Some(1) && run.stdout.contains("NOT VERIFIED"), "{run:?}");
    let run = run_process(
        &bin,
        &["manifest", "verify", "--public-key", &other, good.to_str().unwrap_or_default()],
        &home,
        &[],
    )
    .await?;
    ensure!(run.code == Some(1), "{run:?}");
    let run = run_process(&bin, &["--db", &db, "key", "show"], &home, &[]).await?;
    ensure!(run.success() && run.stdout.trim() == key, "{run:?}");
    Ok(())
}

// ---------------------------------------------------------------------------
// The scriptable client
// ---------------------------------------------------------------------------

#[tokio::test]
async fn the_command_line_drives_the_release_workflow() -> Result<()> {
    let server = TestServer::start().await?;
    let room = clean_room(&server).await?;
    let bin = client_bin()?;
    let home = server.dir().join("cli-home");
    let url = server.url.clone();
    let as_ = |role: &str| server.member(role).token.clone();
    let run = |role: &str, args: &[&str]| {
        let token = as_(role);
        let url = url.clone();
        let home = home.clone();
        let bin = bin.clone();
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        async move {
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            run_process(&bin, &refs, &home, &[("TRUSTROOM_URL", url.as_str()), ("TRUSTROOM_TOKEN", token.as_str())])
                .await
        }
    };
    let r = run("owner", &["policy", &room, "--require-discipline", "privacy", "--require-member", "daniel.okafor"])
        .await?;
    ensure!(r.success() && r.stdout.contains("POLICY set"), "{r:?}");
    let r = run("observer", &["policy", &room]).await?;
    ensure!(r.stdout.contains("co-signatures required from daniel.okafor, a privacy reviewer"), "{r:?}");
    let r = run("owner", &["ready", &room]).await?;
    ensure!(r.success(), "{r:?}");
    let r = run("owner", &["release", &room, "--lane", "privacy"]).await?;
    ensure!(r.code == Some(8) && r.stderr.contains("error[conflict]") && r.stderr.contains("co-signature"), "{r:?}");
    let r = run("agent/chronology", &["cosign", &room, "--lane", "privacy"]).await?;
    ensure!(r.code == Some(6) && r.stderr.contains("error[forbidden]") && r.stderr.contains("agent"), "{r:?}");
    let r = run("reviewer/privacy", &["cosign", &room]).await?;
    ensure!(!r.success() && r.stderr.contains("--lane"), "a co-signature names its lane: {r:?}");
    let r = run("reviewer/privacy", &["cosign", &room, "--lane", "privacy", "--hash", "00000000"]).await?;
    ensure!(r.code == Some(8) && r.stderr.contains("error[stale]"), "{r:?}");
    for role in ["reviewer/privacy", "reviewer/legal"] {
        let r = run(role, &["cosign", &room, "--lane", "privacy"]).await?;
        ensure!(
            r.success()
                && r.stdout.contains("CO-SIGNED content")
                && r.stdout.contains("for lane privacy · audience lane-reviewers"),
            "{role}: {r:?}"
        );
    }
    let r = run("owner", &["readiness", &room]).await?;
    ensure!(r.success() && r.stdout.contains("CLEAR") && r.stdout.contains("Co-signatures (met)"), "{r:?}");
    ensure!(
        r.stdout.contains("privacy: covered up to audience lane-reviewers (signed by daniel.okafor, priya.natarajan)"),
        "{r:?}"
    );
    ensure!(r.stdout.contains("product-security: NOT covered — missing"), "{r:?}");
    let r = run("owner", &["release", &room, "--lane", "product-security"]).await?;
    ensure!(
        r.code == Some(8) && r.stderr.contains("error[conflict]") && r.stderr.contains("product-security lane"),
        "{r:?}"
    );
    let r = run("owner", &["release", &room, "--lane", "privacy", "--audience", "organisation"]).await?;
    ensure!(r.code == Some(8) && r.stderr.contains("audience organisation"), "{r:?}");
    let r = run("owner", &["release", &room, "--lane", "privacy"]).await?;
    ensure!(r.success() && r.stdout.contains("RELEASED manifest "), "{r:?}");
    let r = run("reviewer/legal", &["section", "append", &room, "Summary", "-p", "[verified: SL-0104] Ended 09:28."])
        .await?;
    ensure!(r.success(), "{r:?}");
    let snap = snapshot(&server, &room).await?;
    let n = snap["state"]["last_release"]["revision"].as_u64().context("last release")?;
    let m = snap["state"]["last_release"]["superseded_at"].as_u64().context("superseded")?;
    let stale = format!("RELEASED rev {n} — superseded at rev {m}");
    let r = run("observer", &["show", &room]).await?;
    ensure!(
        r.success() && r.stdout.contains(&stale),
        "show: {}",
        r.stdout.lines().take(6).collect::<Vec<_>>().join("\n")
    );
    let r = run("observer", &["readiness", &room]).await?;
    ensure!(r.stdout.contains(&stale) && r.stdout.contains("must sign again"), "{r:?}");
    let r = run("observer", &["readiness", &room, "--json"]).await?;
    let v: Value = serde_json::from_str(&r.stdout).with_context(|| r.stdout.clone())?;
    ensure!(v["release"]["last_release"]["superseded_at"] == m);
    let out = server.dir().join("bundle.json");
    let released = server.dir().join("released.md");
    let out_s = out.to_str().unwrap_or_default().to_string();
    let r = run("observer", &["export", &room, "--format", "json", "--out", &out_s]).await?;
    ensure!(r.success() && r.stdout.contains("not released"), "{r:?}");
    let r = run(
        "observer",
        &[
            "export",
            &room,
            "--revision",
            &n.to_string(),
            "--format",
            "markdown",
            "--out",
            released.to_str().unwrap_or_default(),
        ],
    )
    .await?;
    ensure!(r.success() && r.stdout.contains("released, with manifest"), "{r:?}");
    let md = std::fs::read_to_string(&released)?;
    ensure!(md.contains("## Release manifest") && md.contains("Co-signers: daniel.okafor"), "{md}");
    let r = run("observer", &["export", &room, "--format", "json"]).await?;
    ensure!(r.stdout == std::fs::read_to_string(&out)?, "stdout and --out give the same bytes");
    let r = run("observer", &["manifests", &room]).await?;
    ensure!(r.success() && r.stdout.contains(&format!("packet rev {n}  privacy · lane-reviewers")), "{r:?}");
    ensure!(r.stdout.contains("co-signed by daniel.okafor, priya.natarajan"), "{r:?}");
    Ok(())
}
