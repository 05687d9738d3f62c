//! Annex access governance end to end (real server, real websockets):
//! requests, approvals, expiry on the server's clock, revocation,
//! break-glass, promotions, room checks and overrides, the access history.
//! Time is a `ManualClock` the tests advance, except in the one test that
//! proves real-clock expiry with no traffic.

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

#[tokio::test]
async fn expiry_on_the_servers_clock_reaches_the_member_at_once_and_never_resurrects() -> Result<()> {
    let (server, clock) = server_with_clock().await?;
    let room = server.room();
    let (mut owner, snap) = server.joined("owner").await?;
    let (mut lena, _) = server.joined("reviewer/support-trust").await?;
    let a1 = annex_id(&snap, "A1")?;
    let id = request_id(&request(&mut lena, &room, &[&a1], 2 * HOUR).await?)?;
    owner.ok(json!({"type": "approve_access", "room": room, "request": id})).await?;
    let decided = wait_change(&mut lena, "access_decided", |c| c["request"] == id.as_str()).await?;
    let expires = decided["change"]["expires_at"].as_i64().context("expires_at")?;
    ensure!(expires == clock_now(&clock) + 2 * HOUR as i64, "two hours from the approval");
    lena.ok(json!({"type": "view_annex", "room": room, "annex": a1})).await?;

    clock.set(expires - 1);
    lena.ok(json!({"type": "view_annex", "room": room, "annex": a1})).await?;
    clock.set(expires);
    let ended = wait_change(&mut lena, "grant_ended", |c| c["grant"] == id.as_str()).await?;
    ensure!(ended["change"]["ended"]["cause"] == "expired" && ended["change"]["ended"]["at_ms"] == expires);
    lena.refused(json!({"type": "view_annex", "room": room, "annex": a1}), "forbidden").await?;
    // No resurrection: the ended grant cannot be approved or revoked again.
    owner.refused(json!({"type": "approve_access", "room": room, "request": id}), "conflict").await?;
    owner.refused(json!({"type": "revoke_grant", "room": room, "grant": id}), "conflict").await?;
    // A new request is a new record.
    let again = request(&mut lena, &room, &[&a1], HOUR).await?;
    ensure!(again["requests"][0]["outcome"] == "new" && request_id(&again)? != id);

    // Revocation reaches the member at once, too.
    owner.ok(json!({"type": "approve_access", "room": room, "request": request_id(&again)?})).await?;
    lena.ok(json!({"type": "view_annex", "room": room, "annex": a1})).await?;
    owner
        .ok(json!({"type": "revoke_grant", "room": room, "grant": request_id(&again)?, "note": "scope confirmed"}))
        .await?;
    let ended =
        wait_change(&mut lena, "grant_ended", |c| c["grant"] == request_id(&again).unwrap_or_default().as_str())
            .await?;
    ensure!(ended["change"]["ended"]["cause"] == "revoked" && ended["change"]["ended"]["note"] == "scope confirmed");
    lena.refused(json!({"type": "view_annex", "room": room, "annex": a1}), "forbidden").await?;
    // Records are permanent.
    let snap = server.joined("observer").await?.1;
    let requests = snap["state"]["access"]["requests"].as_object().context("requests")?;
    ensure!(requests.len() == 2);
    ensure!(requests.values().filter(|r| r["status"] == "expired").count() == 1);
    ensure!(requests.values().filter(|r| r["status"] == "revoked").count() == 1);
    Ok(())
}

fn clock_now(clock: &ManualClock) -> i64 {
    use trustroom_server::clock::Clock;
    clock.now_ms()
}

/// The one real-clock test: a 2 s grant ends within 1 s of its deadline
/// while nobody sends anything.
#[tokio::test]
async fn a_grant_expires_on_the_real_clock_with_no_traffic() -> Result<()> {
    let server = TestServer::start().await?;
    let room = server.room();
    let (mut owner, snap) = server.joined("owner").await?;
    let (mut lena, _) = server.joined("reviewer/support-trust").await?;
    let a1 = annex_id(&snap, "A1")?;
    let id = request_id(&request(&mut lena, &room, &[&a1], 2_000).await?)?;
    owner.ok(json!({"type": "approve_access", "room": room, "request": id})).await?;
    let decided = wait_change(&mut lena, "access_decided", |c| c["request"] == id.as_str()).await?;
    let expires = decided["change"]["expires_at"].as_i64().context("expires_at")?;
    let view = lena.ok(json!({"type": "view_annex", "room": room, "annex": a1})).await?;
    ensure!(view["content"].as_str().is_some_and(|t| t.contains(canary_of("A1"))));
    // Silence: only wait for the server's own event.
    let ev = lena
        .wait_for(|v| event_of(v, "grant_ended").is_some_and(|c| c["grant"] == id.as_str()), Duration::from_secs(5))
        .await?;
    let arrived = now_ms();
    ensure!(ev["rev"]["change"]["ended"]["cause"] == "expired");
    let late = arrived - expires;
    ensure!((0..1_000).contains(&late), "revoked {late} ms after the deadline");
    lena.refused(json!({"type": "view_annex", "room": room, "annex": a1}), "forbidden").await?;
    Ok(())
}

#[tokio::test]
async fn self_approval_is_impossible_and_an_owners_request_waits_for_another_owner() -> Result<()> {
    let (server, _clock) = server_with_clock().await?;
    let room = server.room();
    let (mut owner, snap) = server.joined("owner").await?;
    let a1 = annex_id(&snap, "A1")?;
    let id = request_id(&request(&mut owner, &room, &[&a1], HOUR).await?)?;
    let refused = owner.refused(json!({"type": "approve_access", "room": room, "request": id}), "forbidden").await?;
    ensure!(refused["message"].as_str().is_some_and(|m| m.contains("self-approval")), "{refused}");
    owner.refused(json!({"type": "deny_access", "room": room, "request": id}), "forbidden").await?;
    // Reviewers never decide.
    let (mut priya, _) = server.joined("reviewer/privacy").await?;
    priya.refused(json!({"type": "approve_access", "room": room, "request": id}), "forbidden").await?;
    owner.refused(json!({"type": "view_annex", "room": room, "annex": a1}), "forbidden").await?;
    let snap = server.joined("observer").await?.1;
    ensure!(snap["state"]["access"]["requests"][&id]["status"] == "requested", "stays pending");
    // A second owner decides it.
    let token = {
        let (_, token) = admin::add_user(&server.store, "second.owner").await?;
        admin::add_member(&server.store, server.seed.room, "second.owner", Role::Owner).await?;
        token
    };
    let mut second = WsClient::connect(&server.url, &token).await?;
    second.join(&room).await?;
    second.ok(json!({"type": "approve_access", "room": room, "request": id, "note": "four eyes"})).await?;
    owner.ok(json!({"type": "view_annex", "room": room, "annex": a1})).await?;
    let chain = server.audit_chain(&room).await?;
    let refusals = chain
        .iter()
        .filter(|e| e.kind == "refused" && e.detail["request"] == "approve_access" && e.detail["code"] == "forbidden")
        .count();
    ensure!(refusals == 2, "every refused approval is audited ({refusals})");
    Ok(())
}

#[tokio::test]
async fn overlapping_requests_fold_into_one_and_never_stack_timers() -> Result<()> {
    let (server, _clock) = server_with_clock().await?;
    let room = server.room();
    let (mut owner, snap) = server.joined("owner").await?;
    let (mut lena, _) = server.joined("reviewer/support-trust").await?;
    let (a1, a2, a3) = (annex_id(&snap, "A1")?, annex_id(&snap, "A2")?, annex_id(&snap, "A3")?);
    let first = request(&mut lena, &room, &[&a1, &a2], HOUR).await?;
    ensure!(first["requests"].as_array().map(Vec::len) == Some(2));
    let r1 = request_id(&first)?;
    let again = request(&mut lena, &room, &[&a1], 3 * HOUR).await?;
    ensure!(again["requests"][0]["outcome"] == "pending" && request_id(&again)? == r1, "{again}");
    owner.ok(json!({"type": "approve_access", "room": room, "request": r1})).await?;
    let snap = server.joined("observer").await?.1;
    let rec = &snap["state"]["access"]["requests"][&r1];
    ensure!(rec["duration_ms"] == 3 * HOUR, "the longer duration, never the sum: {rec}");
    let expires = rec["expires_at"].as_i64().context("expires")?;
    let onto_grant = request(&mut lena, &room, &[&a1], 10 * HOUR).await?;
    ensure!(onto_grant["requests"][0]["outcome"] == "grant" && onto_grant["requests"][0]["expires_at"] == expires);
    let snap = server.joined("observer").await?.1;
    let requests = snap["state"]["access"]["requests"].as_object().context("requests")?;
    ensure!(requests.values().filter(|r| r["annex"] == a1.as_str()).count() == 1, "one record for A1");
    ensure!(snap["state"]["access"]["requests"][&r1]["expires_at"] == expires, "the timer did not move");
    ensure!(snap["state"]["access"]["requests"][&r1]["folds"].as_array().map(Vec::len) == Some(2));
    // Someone already on the need-to-know list has nothing to ask for.
    let (mut sam, _) = server.joined("reviewer/support-engineering").await?;
    sam.refused(json!({"type": "request_access", "room": room, "annexes": [a3], "reason": REASON}), "conflict").await?;
    Ok(())
}

#[tokio::test]
async fn reasons_and_durations_follow_the_rooms_policy() -> Result<()> {
    let (server, _clock) = server_with_clock().await?;
    let room = server.room();
    let (mut owner, snap) = server.joined("owner").await?;
    let (mut lena, _) = server.joined("reviewer/support-trust").await?;
    let a1 = annex_id(&snap, "A1")?;
    for reason in [".", "", "   ", "need it", "!!!!!!!!!!!!!!"] {
        lena.refused(json!({"type": "request_access", "room": room, "annexes": [a1], "reason": reason}), "invalid")
            .await?;
    }
    let over = 24 * HOUR + 1;
    lena.refused(
        json!({"type": "request_access", "room": room, "annexes": [a1], "reason": REASON, "duration_ms": over}),
        "invalid",
    )
    .await?;
    // Default duration: 2 h.
    let r = lena
        .ok(json!({"type": "request_access", "room": room, "annexes": [a1], "reason": "verify the exposure scope"}))
        .await?;
    let snap2 = server.joined("observer").await?.1;
    ensure!(snap2["state"]["access"]["requests"][request_id(&r)?]["duration_ms"] == 2 * HOUR);
    // A case-id pattern.
    owner.ok(json!({"type": "set_access_policy", "room": room, "reason_pattern": "CASE-\\d{5}", "max_duration_ms": 4 * HOUR})).await?;
    let a2 = annex_id(&snap, "A2")?;
    lena.refused(
        json!({"type": "request_access", "room": room, "annexes": [a2], "reason": "verify the exposure scope"}),
        "invalid",
    )
    .await?;
    lena.ok(json!({"type": "request_access", "room": room, "annexes": [a2], "reason": REASON})).await?;
    lena.refused(
        json!({"type": "request_access", "room": room, "annexes": [a2], "reason": REASON, "duration_ms": 5 * HOUR}),
        "invalid",
    )
    .await?;
    // Only owners set the policy, and it must stay coherent.
    lena.refused(json!({"type": "set_access_policy", "room": room, "reason_min_chars": 1}), "forbidden").await?;
    owner.refused(json!({"type": "set_access_policy", "room": room, "reason_pattern": "("}), "invalid").await?;
    owner
        .refused(json!({"type": "set_access_policy", "room": room, "default_duration_ms": 5 * HOUR}), "invalid")
        .await?;
    Ok(())
}

#[tokio::test]
async fn break_glass_is_bounded_visible_separate_and_its_review_blocks_release() -> Result<()> {
    let (server, clock) = server_with_clock().await?;
    let room = server.room();
    let (mut owner, snap) = server.joined("owner").await?;
    let (mut observer, _) = server.joined("observer").await?;
    let (mut lena, _) = server.joined("reviewer/support-trust").await?;
    let (a1, a2) = (annex_id(&snap, "A1")?, annex_id(&snap, "A2")?);
    let bg = |minutes: u64| json!({"type": "break_glass", "room": room, "annexes": [a1], "reason": "SEV-1 bridge: confirm the tenant", "duration_ms": minutes * MINUTE});
    // Over 30 minutes: refused; not on the list: forbidden.
    lena.refused(bg(31), "invalid").await?;
    observer.refused(bg(10), "forbidden").await?;
    let result = lena.ok(bg(30)).await?;
    let invocation = result["invocation"].as_str().context("invocation")?.to_string();
    // Not renewable.
    lena.refused(bg(5), "conflict").await?;
    // Everyone sees who, why and until when.
    let ev = wait_change(&mut observer, "break_glass_invoked", |_| true).await?;
    let inv = &ev["change"]["invocation"];
    ensure!(inv["reason"] == "SEV-1 bridge: confirm the tenant" && inv["ends_at"] == result["ends_at"]);
    ensure!(inv["user"] == lena.user.as_str());
    let osnap = server.joined("observer").await?.1;
    ensure!(osnap["state"]["access"]["break_glass"][&invocation]["ended"].is_null());
    // Read access to the named annexes only; never a grant.
    lena.ok(json!({"type": "view_annex", "room": room, "annex": a1})).await?;
    lena.refused(json!({"type": "view_annex", "room": room, "annex": a2}), "forbidden").await?;
    ensure!(osnap["state"]["access"]["requests"].as_object().is_some_and(|r| r.is_empty()));
    // It ends on the server's clock, opening the blocking review objection.
    clock.advance(Duration::from_millis(30 * MINUTE));
    let ended = wait_change(&mut observer, "break_glass_ended", |c| c["invocation"] == invocation.as_str()).await?;
    let review = &ended["change"]["review"];
    ensure!(review["blocking"] == true && review["status"] == "open");
    ensure!(review["text"].as_str().is_some_and(|t| t.starts_with("Break-glass review")));
    let review_id = review["id"].as_str().context("review id")?.to_string();
    let code = format!("O-{}", review["number"]);
    lena.refused(json!({"type": "view_annex", "room": room, "annex": a1}), "forbidden").await?;
    // Release is blocked by it.
    let readiness = owner.ok(json!({"type": "readiness", "room": room})).await?;
    ensure!(readiness.to_string().contains(&review_id), "readiness lists the review: {readiness}");
    owner.ok(json!({"type": "mark_ready", "room": room})).await?;
    let refused = owner.refused(json!({"type": "release", "room": room, "lane": "privacy"}), "conflict").await?;
    ensure!(refused["message"].as_str().is_some_and(|m| m.contains(&code)), "{refused}");
    // Only an owner resolves it, addressed or accepted-residual with a rationale.
    let set = |status: &str, rationale: Option<&str>| json!({"type": "set_objection_status", "room": room, "objection": review_id, "status": status, "rationale": rationale});
    let (mut priya, _) = server.joined("reviewer/privacy").await?;
    priya.refused(set("addressed", Some("looked at it, fine")), "forbidden").await?;
    owner.refused(set("withdrawn", Some("not needed at all")), "invalid").await?;
    owner.refused(set("addressed", None), "invalid").await?;
    owner.ok(set("accepted-residual", Some("Break-glass use was justified by the SEV-1 bridge; reviewed."))).await?;
    let readiness = owner.ok(json!({"type": "readiness", "room": room})).await?;
    ensure!(!readiness["blockers"].to_string().contains(&review_id));
    // A new invocation is a new event (and a new review later).
    lena.ok(bg(5)).await?;
    // The audit log has its own kinds.
    let chain = server.audit_chain(&room).await?;
    ensure!(chain.iter().filter(|e| e.kind == "change.break_glass_invoked").count() == 2);
    ensure!(chain.iter().any(|e| e.kind == "change.break_glass_ended"));
    ensure!(
        chain
            .iter()
            .any(|e| e.kind == "annex.view" && e.detail["via"].as_str().is_some_and(|v| v.starts_with("break_glass:")))
    );
    assert_no_canary(observer.captured(), &trustroom_server::demo::CANARIES, "observer");
    Ok(())
}

#[tokio::test]
async fn a_promoted_passage_enters_the_packet_with_provenance_and_passes_the_boundary_check() -> Result<()> {
    let (server, _clock) = server_with_clock().await?;
    let room = server.room();
    let (mut owner, snap) = server.joined("owner").await?;
    let (mut observer, _) = server.joined("observer").await?;
    let (mut priya, _) = server.joined("reviewer/privacy").await?;
    let (mut lena, _) = server.joined("reviewer/support-trust").await?;
    let a1 = annex_id(&snap, "A1")?;
    let (summary, _) = section(&snap, "Summary")?;
    let passage = "Tenant viewing: acct-9902-BLT (Bluefin Logistics)";
    let promote = |passage: &str| {
        json!({"type": "request_promotion", "room": room, "annex": a1, "section": summary, "passage": passage,
               "reason": "CASE-88412: the downstream lane needs the viewing tenant named"})
    };
    lena.refused(promote(passage), "forbidden").await?;
    priya.refused(promote("not in the annex at all"), "invalid").await?;
    let p = priya.ok(promote(passage)).await?;
    let promotion = p["promotion"].as_str().context("promotion")?.to_string();
    let ev = wait_change(&mut observer, "promotion_requested", |_| true).await?;
    ensure!(
        ev["change"]["promotion"].get("passage").is_none() && ev["change"]["promotion"].get("passage_hash").is_none()
    );
    ensure!(!ev.to_string().contains("9902"), "a pending passage never reaches others");
    // The owner reads it to decide (audited), then approves.
    let shown = owner.ok(json!({"type": "view_promotion", "room": room, "promotion": promotion})).await?;
    ensure!(shown["passage"] == passage && shown["logged"] == true);
    lena.refused(json!({"type": "view_promotion", "room": room, "promotion": promotion}), "forbidden").await?;
    priya.refused(json!({"type": "approve_promotion", "room": room, "promotion": promotion}), "forbidden").await?;
    let approved =
        owner.ok(json!({"type": "approve_promotion", "room": room, "promotion": promotion, "note": "agreed"})).await?;
    ensure!(approved["status"] == "approved");
    let decided = wait_change(&mut observer, "promotion_decided", |_| true).await?;
    let prov = &decided["change"]["provenance"];
    ensure!(prov["annex"] == a1.as_str() && prov["annex_code"] == "A1" && prov["approver"] == owner.user.as_str());
    ensure!(prov["passage_hash"] == trustroom_shared::access::passage_hash(passage));
    let edit = wait_change(&mut observer, "section_edited", |c| c["section"] == summary.as_str()).await?;
    ensure!(edit["revision"] == approved["revision"] && prov["inserted_revision"] == approved["revision"]);
    let after = server.joined("observer").await?.1;
    let (_, body) = section(&after, "Summary")?;
    ensure!(body.ends_with(&format!("[verified: annex:A1] {passage}")), "{body}");
    // Not held, and no failing boundary check.
    ensure!(after["state"]["release"]["state"] != "held", "{}", after["state"]["release"]);
    ensure!(after["state"]["access"]["checks"] == json!([]), "{}", after["state"]["access"]["checks"]);
    // The same identifier outside the promoted passage is refused at the
    // ingress gate: only a promotion brings annex detail into the packet.
    let (cid, chrono) = section(&after, "Chronology")?;
    let refused = owner
        .refused(json!({"type": "edit", "room": room, "section": cid, "base": revision_of(&after), "op": [chars(&chrono), " acct-9902-BLT"]}), "restricted")
        .await?;
    ensure!(!refused.to_string().contains("9902") && !refused.to_string().contains("A1"), "{refused}");
    ensure!(server.stored_revision().await? == revision_of(&after), "nothing stored");
    // Denied promotions insert nothing.
    let p2 = priya.ok(promote("Registry rows TR-2201, TR-2202")).await?;
    owner
        .ok(json!({"type": "deny_promotion", "room": room, "promotion": p2["promotion"], "note": "keep in the annex"}))
        .await?;
    let last = server.joined("observer").await?.1;
    ensure!(!section(&last, "Summary")?.1.contains("TR-2202"));
    let chain = server.audit_chain(&room).await?;
    ensure!(chain.iter().filter(|e| e.kind == "change.promotion_decided").count() == 2);
    ensure!(chain.iter().any(|e| e.kind == "annex.view" && e.detail["via"] == "promotion_review"));
    ensure!(!chain.iter().any(|e| e.detail.to_string().contains("TR-2202")), "no passage in the audit log");
    Ok(())
}

#[tokio::test]
async fn failing_checks_hold_the_room_and_an_override_covers_one_check_until_its_text_changes() -> Result<()> {
    let (server, _clock) = server_with_clock().await?;
    let room = server.room();
    let (mut owner, snap) = server.joined("owner").await?;
    let (mut observer, _) = server.joined("observer").await?;
    let (sid, body) = section(&snap, "Exposure scope")?;
    let mut rev = revision_of(&snap);
    // Restricted detail cannot be typed into the packet (the ingress gate):
    // the check fails when a pattern is declared after the text exists.
    let ack = owner
        .ok(json!({"type": "edit", "room": room, "section": sid, "base": rev, "op": [chars(&body), "\n\nRelay SSR-99871 false positive."]}))
        .await?;
    rev = ack["revision"].as_u64().context("revision")?;
    admin::add_annex(
        &server.store,
        server.seed.room,
        admin::NewAnnex {
            title: "Relay identifiers".into(),
            classification: "relay-ids".into(),
            content: "Relay SSR-99871 carried the session.\n".into(),
            sensitive: vec!["SSR-99871".into()],
            allow: vec!["priya.natarajan".into()],
        },
    )
    .await?;
    let ev = wait_change(&mut observer, "checks_evaluated", |c| c["checks"].as_array().is_some_and(|a| !a.is_empty()))
        .await?;
    let check = &ev["change"]["checks"][0];
    ensure!(check["check"] == "annex_boundary" && check["violations"][0]["annex"] == "A4", "{check}");
    rev = server.stored_revision().await?.max(rev);
    ensure!(check["violations"][0]["section_title"] == "Exposure scope");
    let held = wait_change(&mut observer, "release_changed", |c| c["release"]["state"] == "held").await?;
    ensure!(held["change"]["release"]["reasons"][0].as_str().is_some_and(|r| r.contains("room check failed")));
    let r = owner.ok(json!({"type": "readiness", "room": room})).await?;
    ensure!(r["blockers"].as_array().is_some_and(|b| b.iter().any(|x| x["blocker"] == "annex_boundary")));
    // Override: owners only, with a rationale; one check.
    let (mut priya, _) = server.joined("reviewer/privacy").await?;
    let over = |rationale: &str| json!({"type": "override_check", "room": room, "check": "annex_boundary", "rationale": rationale});
    priya.refused(over("relay id is public on the status page"), "forbidden").await?;
    owner.refused(over("ok"), "invalid").await?;
    owner.refused(json!({"type": "override_check", "room": room, "check": "release_rules", "rationale": "nothing is failing here"}), "conflict").await?;
    owner.ok(over("relay id is public on the status page")).await?;
    wait_change(&mut observer, "check_overridden", |c| c["check_override"]["check"] == "annex_boundary").await?;
    let snap = server.joined("observer").await?.1;
    ensure!(snap["state"]["access"]["checks"][0]["overridden"] == true, "{}", snap["state"]["access"]["checks"]);
    let r = owner.ok(json!({"type": "readiness", "room": room})).await?;
    ensure!(!r["blockers"].as_array().is_some_and(|b| b.iter().any(|x| x["blocker"] == "annex_boundary")), "{r}");
    ensure!(r["overrides"][0]["rationale"] == "relay id is public on the status page");
    // The covered text changes: the override lapses.
    let now = server.joined("observer").await?.1;
    let (_, body) = section(&now, "Exposure scope")?;
    owner
        .ok(json!({"type": "edit", "room": room, "section": sid, "base": rev, "op": [chars(&body), " More."]}))
        .await?;
    wait_change(&mut observer, "check_override_lapsed", |c| c["check"] == "annex_boundary").await?;
    wait_change(&mut observer, "checks_evaluated", |c| c["checks"][0]["overridden"] == false).await?;
    let chain = server.audit_chain(&room).await?;
    ensure!(chain.iter().any(
        |e| e.kind == "change.check_overridden" && e.detail["rationale"] == "relay id is public on the status page"
    ));
    Ok(())
}

#[tokio::test]
async fn a_change_after_ready_fails_the_release_rules_check() -> Result<()> {
    let (server, _clock) = server_with_clock().await?;
    let room = server.room();
    let (mut owner, snap) = server.joined("owner").await?;
    let (mut observer, _) = server.joined("observer").await?;
    owner.ok(json!({"type": "mark_ready", "room": room})).await?;
    let (sid, body) = section(&snap, "Chronology")?;
    let after_ready = server.joined("observer").await?.1;
    owner
        .ok(json!({"type": "edit", "room": room, "section": sid, "base": revision_of(&after_ready), "op": [chars(&body), "\n\n[verified: TL-0431] 10:10 Late entry."]}))
        .await?;
    let ev =
        wait_change(&mut observer, "checks_evaluated", |c| c["checks"].to_string().contains("release_rules")).await?;
    ensure!(ev["change"]["checks"][0]["reason"].as_str().is_some_and(|r| r.contains("after READY")));
    let r = owner.ok(json!({"type": "readiness", "room": room})).await?;
    ensure!(
        r["blockers"]
            .as_array()
            .is_some_and(|b| b.iter().any(|x| x["blocker"] == "room_check" && x["check"] == "release_rules"))
    );
    owner.refused(json!({"type": "release", "room": room, "lane": "privacy"}), "stale").await?;
    owner.ok(json!({"type": "mark_ready", "room": room})).await?;
    wait_change(&mut observer, "checks_evaluated", |c| c["checks"] == json!([])).await?;
    Ok(())
}

#[tokio::test]
async fn the_access_history_is_for_auditors_and_its_export_is_audited() -> Result<()> {
    let (server, clock) = server_with_clock().await?;
    let room = server.room();
    let (mut owner, snap) = server.joined("owner").await?;
    let (mut lena, _) = server.joined("reviewer/support-trust").await?;
    let (mut priya, _) = server.joined("reviewer/privacy").await?;
    let a1 = annex_id(&snap, "A1")?;
    let id = request_id(&request(&mut lena, &room, &[&a1], HOUR).await?)?;
    owner.ok(json!({"type": "approve_access", "room": room, "request": id, "note": "for the scope section"})).await?;
    lena.ok(json!({"type": "view_annex", "room": room, "annex": a1})).await?;
    clock.advance(Duration::from_millis(HOUR));
    wait_change(&mut lena, "grant_ended", |_| true).await?;
    lena.refused(json!({"type": "view_annex", "room": room, "annex": a1}), "forbidden").await?;
    lena.ok(json!({"type": "break_glass", "room": room, "annexes": [a1], "reason": "SEV-1 bridge: confirm the tenant", "duration_ms": MINUTE})).await?;
    priya.refused(json!({"type": "access_history", "room": room}), "forbidden").await?;
    let h = owner.ok(json!({"type": "access_history", "room": room, "format": "csv"})).await?;
    let entries = h["entries"].as_array().context("entries")?;
    let kinds: Vec<&str> = entries.iter().filter_map(|e| e["kind"].as_str()).collect();
    for k in [
        "change.access_requested",
        "change.access_decided",
        "annex.view",
        "change.grant_ended",
        "refused",
        "change.break_glass_invoked",
    ] {
        ensure!(kinds.contains(&k), "history lacks {k}: {kinds:?}");
    }
    let decided = entries.iter().find(|e| e["kind"] == "change.access_decided").context("decision")?;
    ensure!(decided["detail"]["note"] == "for the scope section" && decided["detail"]["reason"] == REASON);
    ensure!(decided["actor_name"] == "morgan.hale");
    ensure!(!h.to_string().contains(canary_of("A1")));
    // The owner names an auditor.
    owner.ok(json!({"type": "set_access_policy", "room": room, "auditors": [priya.user]})).await?;
    let snap = priya.join(&room).await?;
    ensure!(snap["me"]["capabilities"].as_array().is_some_and(|c| c.iter().any(|x| x == "audit")));
    priya.ok(json!({"type": "access_history", "room": room})).await?;
    let chain = server.audit_chain(&room).await?;
    let exports: Vec<_> = chain.iter().filter(|e| e.kind == "access.history_exported").collect();
    ensure!(exports.len() == 2 && exports[0].detail["format"] == "csv");
    ensure!(trustroom_shared::audit::verify_chain(&chain).is_ok());
    Ok(())
}

#[tokio::test]
async fn leaving_the_room_ends_grants_and_break_glass() -> Result<()> {
    let (server, _clock) = server_with_clock().await?;
    let room = server.room();
    let (mut owner, snap) = server.joined("owner").await?;
    let (mut lena, _) = server.joined("reviewer/support-trust").await?;
    let (a1, a2) = (annex_id(&snap, "A1")?, annex_id(&snap, "A2")?);
    let id = request_id(&request(&mut lena, &room, &[&a1], HOUR).await?)?;
    owner.ok(json!({"type": "approve_access", "room": room, "request": id})).await?;
    let pending = request_id(&request(&mut lena, &room, &[&a2], HOUR).await?)?;
    lena.ok(json!({"type": "break_glass", "room": room, "annexes": [a2], "reason": "SEV-1 bridge: confirm the relay", "duration_ms": MINUTE}))
        .await?;
    admin::remove_member(&server.store, server.seed.room, "lena.fischer").await?;
    let ended = wait_change(&mut owner, "grant_ended", |c| c["grant"] == id.as_str()).await?;
    ensure!(ended["change"]["ended"]["cause"] == "member-left");
    wait_change(&mut owner, "access_withdrawn", |c| c["request"] == pending.as_str()).await?;
    let bg = wait_change(&mut owner, "break_glass_ended", |_| true).await?;
    ensure!(bg["change"]["ended"]["cause"] == "member-left");
    Ok(())
}

#[tokio::test]
async fn the_scriptable_client_requests_approves_lists_and_exports_history() -> Result<()> {
    let (server, _clock) = server_with_clock().await?;
    let room = server.room();
    let bin = trustroom_e2e::client_bin()?;
    let home = server.dir().join("home");
    std::fs::create_dir_all(&home)?;
    let run = |role: &'static str, args: Vec<String>| {
        let token = server.member(role).token.clone();
        let url = server.url.clone();
        let bin = bin.clone();
        let home = home.clone();
        async move {
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            trustroom_e2e::run_process(
                &bin,
                &refs,
                &home,
                &[("TRUSTROOM_URL", url.as_str()), ("TRUSTROOM_TOKEN", token.as_str())],
            )
            .await
        }
    };
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let r =
        run("reviewer/support-trust", s(&["access", "request", &room, "A1", "A2", "--reason", REASON, "--for", "2h"]))
            .await?;
    ensure!(r.success() && r.stdout.contains("R-1") && r.stdout.contains("R-2"), "{r:?}");
    let r = run("reviewer/support-trust", s(&["access", "request", &room, "A1", "--reason", "."])).await?;
    ensure!(r.code == Some(3) || r.stderr.contains("invalid"), "{r:?}");
    let r = run("owner", s(&["access", "approve", "R-1", "--room", &room, "--note", "ok"])).await?;
    ensure!(r.success() && r.stdout.contains("APPROVED"), "{r:?}");
    let r = run("owner", s(&["access", "deny", "R-2", "--room", &room])).await?;
    ensure!(r.success() && r.stdout.contains("DENIED"), "{r:?}");
    let r = run("observer", s(&["access", "list", &room])).await?;
    ensure!(
        r.success() && r.stdout.contains("R-1") && r.stdout.contains("approved") && r.stdout.contains("denied"),
        "{r:?}"
    );
    let r = run(
        "reviewer/support-trust",
        s(&["break-glass", &room, "A3", "--reason", "SEV-1 bridge: path check", "--for", "31m"]),
    )
    .await?;
    ensure!(!r.success() && r.stderr.contains("30 minutes"), "{r:?}");
    let r = run(
        "reviewer/support-trust",
        s(&["break-glass", &room, "A3", "--reason", "SEV-1 bridge: path check", "--for", "10m"]),
    )
    .await?;
    ensure!(r.success() && r.stdout.contains("BG-1"), "{r:?}");
    let r = run("observer", s(&["access", "list", &room])).await?;
    ensure!(r.stdout.contains("BREAK-GLASS ACTIVE"), "{r:?}");
    let r = run("owner", s(&["access", "revoke", "R-1", "--room", &room])).await?;
    ensure!(r.success() && r.stdout.contains("REVOKED"), "{r:?}");
    let r = run("owner", s(&["access", "history", &room, "--format", "csv"])).await?;
    ensure!(r.success() && r.stdout.starts_with(trustroom_shared::access_history::CSV_HEADER), "{r:?}");
    ensure!(r.stdout.lines().count() > 5 && !r.stdout.contains(canary_of("A1")));
    let r = run("owner", s(&["access", "history", &room, "--format", "jsonl"])).await?;
    ensure!(r.success() && r.stdout.lines().all(|l| serde_json::from_str::<Value>(l).is_ok()), "{r:?}");
    let r = run("reviewer/privacy", s(&["access", "history", &room])).await?;
    ensure!(r.code == Some(6) || r.stderr.contains("forbidden"), "{r:?}");
    let r = run("observer", s(&["check", "list", &room])).await?;
    ensure!(r.success() && r.stdout.contains("passing"), "{r:?}");
    Ok(())
}
