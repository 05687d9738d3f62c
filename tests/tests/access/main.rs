//! Annex access governance end to end (real server, real websockets):
//! requests, approvals, expiry on the server's clock, revocation,
//! break-glass, promotions, room checks and overrides, the access history.
//! Time is a `ManualClock` the tests advance, except in the one test that
//! proves real-clock expiry with no traffic.
// Test code: a failed expectation is the verdict (the lints bind product code).
#![allow(clippy::expect_used, clippy::panic)]

mod checks;
mod expiry;
mod history;
mod list;
mod requests;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use serde_json::{Value, json};
use trustroom_e2e::{T, TestServer, WsClient, annex_id, assert_no_canary, canary_of, chars, revision_of, section};
use trustroom_server::admin;
use trustroom_server::clock::{ManualClock, now_ms};
use trustroom_server::config::ServerConfig;
use trustroom_shared::role::{Discipline, Role};

const HOUR: u64 = 3_600_000;
const MINUTE: u64 = 60_000;
const REASON: &str = "CASE-88412: verify the exposure scope";

async fn server_with_clock() -> Result<(TestServer, Arc<ManualClock>)> {
    let clock = ManualClock::starting_now();
    let config = ServerConfig { clock: clock.clone().into(), ..ServerConfig::default() };
    Ok((TestServer::start_with(config).await?, clock))
}

fn event_of<'a>(v: &'a Value, kind: &str) -> Option<&'a Value> {
    (v["type"] == "event" && v["rev"]["change"]["kind"] == kind).then(|| &v["rev"]["change"])
}

async fn wait_change(c: &mut WsClient, kind: &str, pred: impl Fn(&Value) -> bool) -> Result<Value> {
    let v = c
        .wait_for(|v| event_of(v, kind).is_some_and(&pred), T)
        .await
        .with_context(|| format!("waiting for a {kind} event"))?;
    Ok(v["rev"].clone())
}

async fn request(c: &mut WsClient, room: &str, annexes: &[&str], duration_ms: u64) -> Result<Value> {
    c.ok(json!({"type": "request_access", "room": room, "annexes": annexes, "reason": REASON, "duration_ms": duration_ms}))
        .await
}

fn request_id(result: &Value) -> Result<String> {
    Ok(result["requests"][0]["request"].as_str().context("request id")?.to_string())
}

/// Adds a reviewer (support trust) to the demo room; returns the token.
async fn add_reviewer(server: &TestServer, name: &str) -> Result<String> {
    let (_, token) = admin::add_user(&server.store, name).await?;
    admin::add_member(&server.store, server.seed.room, name, Role::Reviewer { discipline: Discipline::SupportTrust })
        .await?;
    Ok(token)
}

/// Frames that answer this client's own successful `view_annex`.
fn is_view_answer(frame: &str) -> bool {
    serde_json::from_str::<Value>(frame).is_ok_and(|v| v["type"] == "ok" && v["result"]["logged"] == true)
}

const STATES: [&str; 8] = ["none", "pending", "approved", "denied", "expired", "revoked", "bg-active", "bg-ended"];

/// What DESIGN.md says each state gives: `view_annex` → content or
/// forbidden; events → metadata only (never content); export → the
/// redacted bundle (never content); the access history → forbidden
/// (no audit capability). Non-members get not_found for all of it.
fn may_view(state: &str) -> bool {
    matches!(state, "approved" | "bg-active")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_access_state_gives_the_right_answer_for_view_events_and_export() -> Result<()> {
    let (server, clock) = server_with_clock().await?;
    let room = server.room();
    let (mut owner, snap) = server.joined("owner").await?;
    let a1 = annex_id(&snap, "A1")?;
    let canary = canary_of("A1");

    // One member per state, all connected and joined before anything
    // happens, so every frame they receive is captured.
    let mut clients: HashMap<&str, WsClient> = HashMap::new();
    let mut users: HashMap<&str, String> = HashMap::new();
    for s in STATES {
        let token = add_reviewer(&server, &format!("m-{s}")).await?;
        let mut c = WsClient::connect(&server.url, &token).await?;
        c.join(&room).await?;
        users.insert(s, c.user.clone());
        clients.insert(s, c);
    }
    let (_, stranger_token) = admin::add_user(&server.store, "stranger").await?;
    let mut stranger = WsClient::connect(&server.url, &stranger_token).await?;
    owner
        .ok(json!({"type": "set_access_policy", "room": room, "break_glass": [users["bg-active"], users["bg-ended"]]}))
        .await?;

    let mut ids: HashMap<&str, String> = HashMap::new();
    for (s, hours) in [("pending", 2), ("approved", 24), ("denied", 2), ("expired", 1), ("revoked", 2)] {
        let c = clients.get_mut(s).context("client")?;
        ids.insert(s, request_id(&request(c, &room, &[&a1], hours * HOUR).await?)?);
    }
    for s in ["approved", "expired", "revoked"] {
        owner
            .ok(json!({"type": "approve_access", "room": room, "request": ids[s], "note": "ok for the review"}))
            .await?;
    }
    owner
        .ok(json!({"type": "deny_access", "room": room, "request": ids["denied"], "note": "not needed for your part"}))
        .await?;
    owner.ok(json!({"type": "revoke_grant", "room": room, "grant": ids["revoked"], "note": "done"})).await?;
    let c = clients.get_mut("bg-ended").context("client")?;
    c.ok(json!({"type": "break_glass", "room": room, "annexes": [a1], "reason": "SEV-1 bridge: tenant lookup", "duration_ms": 10 * MINUTE}))
        .await?;
    // An hour passes on the server's clock: the 1 h grant expires and the
    // 10 min break-glass ends, with no request from anyone.
    clock.advance(Duration::from_millis(HOUR + 1_000));
    wait_change(&mut owner, "grant_ended", |c| {
        c["grant"] == ids["expired"].as_str() && c["ended"]["cause"] == "expired"
    })
    .await?;
    wait_change(&mut owner, "break_glass_ended", |c| c["ended"]["cause"] == "expired").await?;
    let c = clients.get_mut("bg-active").context("client")?;
    c.ok(json!({"type": "break_glass", "room": room, "annexes": [a1], "reason": "SEV-1 bridge: tenant lookup", "duration_ms": 30 * MINUTE}))
        .await?;

    // View.
    for s in STATES {
        let c = clients.get_mut(s).context("client")?;
        let answer = c.request(json!({"type": "view_annex", "room": room, "annex": a1})).await?;
        if may_view(s) {
            ensure!(answer["type"] == "ok", "{s}: {answer}");
            ensure!(answer["result"]["content"].as_str().is_some_and(|t| t.contains(canary)), "{s}: no content");
        } else {
            ensure!(answer["type"] == "error" && answer["code"] == "forbidden", "{s}: {answer}");
        }
    }
    stranger.refused(json!({"type": "view_annex", "room": room, "annex": a1}), "not_found").await?;

    // Events: each member saw its own record's events, as metadata.
    let own_events: [(&str, &str, &str); 6] = [
        ("pending", "access_requested", "request"),
        ("approved", "access_decided", "request"),
        ("denied", "access_decided", "request"),
        ("expired", "grant_ended", "grant"),
        ("revoked", "grant_ended", "grant"),
        ("bg-ended", "break_glass_ended", "invocation"),
    ];
    for (s, kind, field) in own_events {
        let c = clients.get_mut(s).context("client")?;
        let id = ids.get(s).cloned().unwrap_or_default();
        wait_change(c, kind, |ch| field == "invocation" || ch[field] == id.as_str() || ch[field]["id"] == id.as_str())
            .await?;
    }
    let c = clients.get_mut("bg-active").context("client")?;
    wait_change(c, "break_glass_invoked", |ch| ch["invocation"]["user"] == users["bg-active"].as_str()).await?;

    // Export: the bundle for every member, never with content; the access
    // history needs the audit capability.
    for s in STATES {
        let c = clients.get_mut(s).context("client")?;
        let export = c.ok(json!({"type": "export", "room": room, "format": "json"})).await?;
        ensure!(!export.to_string().contains(canary), "{s}: export carries annex content");
        c.refused(json!({"type": "access_history", "room": room}), "forbidden").await?;
    }
    stranger.refused(json!({"type": "export", "room": room, "format": "json"}), "not_found").await?;
    stranger.refused(json!({"type": "access_history", "room": room}), "not_found").await?;
    let history = owner.ok(json!({"type": "access_history", "room": room, "format": "jsonl"})).await?;
    ensure!(!history.to_string().contains(canary));

    // Leak check over every frame each member received: the canary only
    // ever in the answer to their own audited view.
    for s in STATES {
        let c = clients.get_mut(s).context("client")?;
        c.ok(json!({"type": "ping"})).await?;
        let frames: Vec<String> = c.captured().iter().filter(|f| !is_view_answer(f)).cloned().collect();
        assert_no_canary(&frames, &trustroom_server::demo::CANARIES, &format!("member in state {s}"));
        if !may_view(s) {
            assert_no_canary(c.captured(), &trustroom_server::demo::CANARIES, &format!("member in state {s}"));
        }
    }
    assert_no_canary(stranger.captured(), &trustroom_server::demo::CANARIES, "stranger");

    // The snapshot agrees: `me.annex_access` lists A1 only while access lasts.
    for s in STATES {
        let c = clients.get_mut(s).context("client")?;
        c.ok(json!({"type": "leave", "room": room})).await?;
        let snap = c.join(&room).await?;
        let listed = snap["me"]["annex_access"].as_array().is_some_and(|a| a.iter().any(|x| x == a1.as_str()));
        ensure!(listed == may_view(s), "{s}: annex_access {}", snap["me"]["annex_access"]);
        let grants = &snap["state"]["access"]["requests"];
        ensure!(!grants.to_string().contains(canary));
    }
    Ok(())
}
