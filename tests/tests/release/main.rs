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
//! - `release_packet`: ready and release of the reviewed packet revision in
//!   one commit; a refusal (stale, blockers) changes nothing, a hold keeps
//!   its reason; the answer names the room and the packet revision
//! - exports: deterministic bytes, past revisions rebuilt exactly, member and
//!   operator exports identical, every export audited, golden files for the
//!   demo room (ids, hashes and times normalized — see `normalize`)
//! - manifest verification fails for any changed byte, a wrong key and a
//!   bundle of another revision
// Test code: a failed expectation is the verdict (the lints bind product code).
#![allow(clippy::expect_used, clippy::panic)]

mod audit_log;
mod cli;
mod cosign;
mod decisions;
mod downstream;
mod evidence;
mod exports;
mod holds;
mod packet;
mod status;

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{Context, Result, ensure};
use serde_json::{Value, json};
use trustroom_e2e::{TestServer, WsClient, client_bin, run_process, server_bin};
use trustroom_server::admin::{NewAnnex, RoomBuilder, build_annex};
use trustroom_server::room::ADMIN_ACTOR;
use trustroom_shared::change::Change;
use trustroom_shared::ids::SectionId;
use trustroom_shared::manifest::verify_bundle;
use trustroom_shared::ot::TextOp;
use trustroom_shared::room::Member;

const PATTERN: &str = "acct-4471-NWF";
const CLEAN: &str = "# Summary\n\n\
[verified: CASE-88412, SL-0091] A support session displayed a second tenant's customer list.\n\n\
[restricted] The tenants are identified in [[annex:A1]].";

/// A second room with the demo's members, one clean section and one annex:
/// nothing blocks its release. Written directly (no actor runs for it yet).
async fn clean_room(server: &TestServer) -> Result<String> {
    let mut b = RoomBuilder::new("Release workflow test room");
    for m in &server.seed.members {
        b.change(
            ADMIN_ACTOR,
            Change::MemberAdded {
                member: Member { user: m.user, name: m.name.clone(), role: trustroom_server::demo::role_of(&m.role)? },
            },
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

/// Declares `late` restricted after the text exists (an operator's
/// `annex add`): the annex-boundary check fails.
async fn declare_late_pattern(server: &TestServer, room: &str, late: &str) -> Result<()> {
    trustroom_server::admin::add_annex(
        &server.store,
        room.parse()?,
        NewAnnex {
            title: "Late tenant identifiers".into(),
            classification: "tenant-identifiers".into(),
            content: format!("Tenant shown: {late}"),
            sensitive: vec![late.into()],
            allow: vec!["priya.natarajan".into()],
        },
    )
    .await?;
    Ok(())
}

/// A user who is no member sends each request: the answer is the same
/// bytes as for a room that does not exist (`not_found`).
async fn outsider_sees_no_room(server: &TestServer, requests: &[Value]) -> Result<()> {
    let (_, token) = trustroom_server::admin::add_user(&server.store, "outsider").await?;
    let mut outsider = WsClient::connect(&server.url, &token).await?;
    for request in requests {
        let mut same = request.clone();
        same["id"] = json!("same");
        let (existing, e) = outsider.request_text(same.clone()).await?;
        same["room"] = json!(uuid::Uuid::now_v7().to_string());
        let (absent, _) = outsider.request_text(same).await?;
        ensure!(e["code"] == "not_found" && existing == absent, "{existing} vs {absent}");
    }
    Ok(())
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
