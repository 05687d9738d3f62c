//! Reconnection through network faults. Editors reach the server through
//! a TCP proxy this test controls, which cuts connections in the middle of
//! a frame (either direction), resets them, or stalls them past the
//! server's idle timeout. The editors reconnect with backoff and jitter,
//! join with `since`, and re-send what was not acknowledged with the same
//! `seq`. Checked: no duplicate text, no lost text (every acknowledged op
//! exactly once), convergence, contiguous revisions, the audit chain.
//!
//! Also: a member demoted to observer while disconnected re-sends its
//! pending edit and gets a clear `forbidden`; nothing is applied.
// Test code: a failed expectation is the verdict (the lints bind product code).
#![allow(clippy::expect_used, clippy::panic)]

mod reliability;

use std::time::{Duration, Instant};

use reliability::{Editor, Mix, add_section, check_contiguous, check_exactly_once, control};
use serde_json::json;
use trustroom_e2e::proxy::{Fault, Proxy};
use trustroom_e2e::{Rng, TestServer, WsClient, section};
use trustroom_server::config::ServerConfig;
use trustroom_shared::role::Role;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn editors_survive_cuts_mid_frame_resets_and_stalls() -> anyhow::Result<()> {
    let seed: u64 = std::env::var("RECONNECT_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64)
    });
    println!("reconnect seed {seed} (RECONNECT_SEED={seed} replays the same schedule)");
    let mut rng = Rng::new(seed);
    let config = ServerConfig {
        ping_interval: Duration::from_millis(200),
        idle_timeout: Duration::from_millis(800),
        requests_per_second: 10_000.0,
        request_burst: 10_000,
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(config).await?;
    let room = server.seed.room;
    let owner = server.member("owner").token.clone();
    let section = add_section(&server.url, &owner, room, "Through the proxy").await?;
    let proxy = Proxy::start(server.addr).await?;

    let (ctl, steering) = control(&proxy.url());
    let deadline = Instant::now() + Duration::from_secs(45);
    let editors: Vec<(String, String)> = server
        .seed
        .members
        .iter()
        .filter(|m| m.role == "owner" || m.role.starts_with("reviewer"))
        .take(3)
        .map(|m| (m.name.clone(), m.token.clone()))
        .collect();
    let mut tasks = Vec::new();
    for (i, (name, token)) in editors.iter().enumerate() {
        let editor =
            Editor::new(name, token, room, section, Mix { object: 10, reply: 10, away: 20 }, seed ^ (i as u64 + 11));
        tasks.push(tokio::spawn(editor.run(ctl.clone(), deadline)));
    }

    let mut counts = std::collections::BTreeMap::new();
    for _ in 0..16 {
        tokio::time::sleep(Duration::from_millis(150 + rng.below(250) as u64)).await;
        let fault = match rng.below(4) {
            0 => Fault::CutClientMidFrame,
            1 => Fault::CutServerMidFrame,
            2 => Fault::Reset,
            _ => Fault::Stall,
        };
        *counts.entry(format!("{fault:?}")).or_insert(0) += 1;
        proxy.inject(fault);
        if fault == Fault::Stall {
            // Longer than the idle timeout: the server gives up on the
            // silent connections; the editors learn it when traffic resumes.
            tokio::time::sleep(Duration::from_millis(1_200)).await;
            proxy.inject(Fault::None);
        }
    }
    println!("faults injected: {counts:?}");
    proxy.inject(Fault::None);
    let (reports, final_state) = steering.finish(tasks, &owner, room).await?;
    let errors: Vec<&String> = reports.iter().flat_map(|r| &r.errors).collect();
    anyhow::ensure!(errors.is_empty(), "editors hit errors: {errors:#?}");
    let (edits, objections, replies) = check_exactly_once(&final_state, section, &reports)?;
    for r in &reports {
        anyhow::ensure!(r.state.as_ref() == Some(&final_state), "{} did not converge", r.name);
        println!(
            "{}: connects {} resent {} duplicates {} snapshots {} catch-up events {}",
            r.name, r.connects, r.resent, r.duplicates, r.snapshots, r.catchups
        );
    }
    let reconnects: u32 = reports.iter().map(|r| r.connects.saturating_sub(1)).sum();
    anyhow::ensure!(reconnects >= 10, "the faults caused only {reconnects} reconnects");
    let pool = server.raw_pool().await?;
    let revisions = check_contiguous(&pool, room).await?;
    anyhow::ensure!(revisions == final_state.revision);
    let chain = trustroom_server::audit::verify(&server.store, &room.to_string()).await?;
    anyhow::ensure!(chain.first_break.is_none(), "audit chain broken: {:?}", chain.first_break);
    println!(
        "{reconnects} reconnects; exactly once: {edits} edits, {objections} objections, {replies} replies; \
         {revisions} contiguous revisions; audit chain of {} entries verifies",
        chain.entries
    );
    Ok(())
}

#[tokio::test]
async fn a_member_demoted_while_disconnected_gets_a_clear_refusal_for_its_pending_edit() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let room = server.room();
    let reviewer = server.member("reviewer/privacy").clone();
    let client = trustroom_shared::ClientId::new();
    let mut c = WsClient::connect_as(&server.url, &reviewer.token, Some(client)).await?;
    let snap = c.join(&room).await?;
    let (sec, body) = section(&snap, "Summary")?;
    let rev = snap["state"]["revision"].as_u64().unwrap_or(0);
    let len = body.chars().count();
    // The connection drops before the edit leaves; meanwhile the owner
    // demotes the reviewer to observer.
    c.close().await;
    trustroom_server::admin::remove_member(&server.store, server.seed.room, &reviewer.name).await?;
    trustroom_server::admin::add_member(&server.store, server.seed.room, &reviewer.name, Role::Observer).await?;

    // Reconnect with the same client id, catch up, re-send the pending edit.
    let mut c = WsClient::connect_as(&server.url, &reviewer.token, Some(client)).await?;
    let joined = c.ok(json!({"type": "join", "room": room, "since": rev})).await?;
    let now = joined["revision"].as_u64().unwrap_or(0);
    anyhow::ensure!(now >= rev + 2, "the catch-up should carry the membership change ({rev} -> {now})");
    let refusal = c
        .refused(json!({"type": "edit", "room": room, "section": sec, "base": rev, "op": [len, " (pending text)"], "seq": 1}), "forbidden")
        .await?;
    let message = refusal["message"].as_str().unwrap_or_default();
    println!("pending edit after demotion: {refusal}");
    anyhow::ensure!(message.contains("observer") && message.contains("edit"), "unclear message: {message}");
    // Nothing applied; the room says why in the membership event.
    let after = server.stored_revision().await?;
    anyhow::ensure!(after == now, "something was stored: {now} -> {after}");
    let body_now = server
        .stored_revisions()
        .await?
        .iter()
        .filter_map(|r| match &r.change {
            trustroom_shared::change::Change::SectionEdited { op, .. } => Some(format!("{op:?}")),
            _ => None,
        })
        .any(|op| op.contains("pending text"));
    anyhow::ensure!(!body_now, "the refused text was stored");
    Ok(())
}
