//! Retention: after release or escalation plus the room's retention period,
//! annex content (and promotion passages) is purged from memory and from
//! the database file itself, while metadata, hashes, the audit chain and
//! release manifests remain and still verify. Time is a `ManualClock`.
// Test code: a failed expectation is the verdict (the lints bind product code).
#![allow(clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use serde_json::{Value, json};
use trustroom_e2e::{DEMO_SENSITIVE, T, TestServer, WsClient, annex_id, raw_pool, section};
use trustroom_server::admin::{self, NewAnnex};
use trustroom_server::clock::ManualClock;
use trustroom_server::config::ServerConfig;
use trustroom_server::demo::CANARIES;

const DAY: Duration = Duration::from_secs(86_400);
const PASSAGE: &str = "Replay store object rs://support-replays/2026/11/17/S-19.webm (frames 1420-2110)";

async fn server_with_clock(snapshot_every: u64) -> Result<(TestServer, Arc<ManualClock>)> {
    let clock = ManualClock::starting_now();
    let config = ServerConfig { clock: clock.clone().into(), snapshot_every, ..ServerConfig::default() };
    Ok((TestServer::start_with(config).await?, clock))
}

/// Every byte of the database file and its WAL (after a checkpoint).
async fn file_bytes(db: &Path) -> Result<Vec<u8>> {
    let pool = raw_pool(db).await?;
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&pool).await?;
    pool.close().await;
    let mut bytes = std::fs::read(db).with_context(|| format!("reading {}", db.display()))?;
    let wal = db.with_file_name(format!("{}-wal", db.file_name().and_then(|n| n.to_str()).unwrap_or("t.db")));
    if wal.exists() {
        bytes.extend(std::fs::read(&wal)?);
    }
    Ok(bytes)
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

async fn export(owner: &mut WsClient, room: &str, revision: u64) -> Result<Value> {
    owner.ok(json!({"type": "export", "room": room, "revision": revision, "format": "json"})).await
}

async fn wait_kind(c: &mut WsClient, kind: &str) -> Result<Value> {
    c.wait_for(|v| v["type"] == "event" && v["rev"]["change"]["kind"] == kind, T)
        .await
        .with_context(|| format!("waiting for {kind}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escalated_room_content_is_purged_from_the_database_file_and_the_audit_chain_verifies() -> Result<()> {
    let (mut server, clock) = server_with_clock(5).await?;
    let room = server.room();
    let (mut owner, snap) = server.joined("owner").await?;
    let (mut sam, _) = server.joined("reviewer/support-engineering").await?;
    let a2 = annex_id(&snap, "A2")?;
    let (summary, _) = section(&snap, "Summary")?;
    let before: Vec<(String, Value)> = snap["state"]["annexes"]
        .as_object()
        .context("annexes")?
        .iter()
        .map(|(id, a)| (id.clone(), a["content_hash"].clone()))
        .collect();
    // A pending promotion: its passage lives in the server's records too.
    sam.ok(json!({"type": "request_promotion", "room": room, "annex": a2, "section": summary, "passage": PASSAGE,
                  "reason": "CASE-88412: name the replay for the downstream lane"}))
        .await?;
    // Enough changes for a stored snapshot (snapshot_every = 5).
    for i in 0..6 {
        owner.ok(json!({"type": "hold", "room": room, "reason": format!("waiting for evidence {i}")})).await?;
    }
    owner
        .ok(json!({"type": "escalate", "room": room, "reason": "the packet cannot stay coherent; direct handling"}))
        .await?;
    let pool = server.raw_pool().await?;
    let snapshots: i64 =
        sqlx::query_scalar("SELECT count(*) FROM snapshots WHERE room_id = ?").bind(&room).fetch_one(&pool).await?;
    ensure!(snapshots > 0, "the test needs a stored snapshot");
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM revisions WHERE body LIKE ?")
        .bind(format!("%{}%", CANARIES[0]))
        .fetch_one(&pool)
        .await?;
    ensure!(stored > 0, "before the purge the database holds the content");
    pool.close().await;

    // 29 days: nothing happens. 30 days: the room purges by itself.
    clock.advance(DAY * 29);
    sam.ok(json!({"type": "view_annex", "room": room, "annex": a2})).await?;
    clock.advance(DAY + Duration::from_secs(1));
    let ev = wait_kind(&mut owner, "content_purged").await?;
    ensure!(ev["rev"]["change"]["purge"]["annexes"].as_array().map(Vec::len) == Some(3));
    ensure!(ev["rev"]["change"]["purge"]["passages"] == 1);
    let refused = sam.refused(json!({"type": "view_annex", "room": room, "annex": a2}), "conflict").await?;
    ensure!(refused["message"].as_str().is_some_and(|m| m.contains("purged")));
    let history = owner.ok(json!({"type": "access_history", "room": room})).await?;
    ensure!(history["entries"].as_array().is_some_and(|e| e.iter().any(|x| x["kind"] == "change.content_purged")));

    server.stop().await?;
    let bytes = file_bytes(&server.db_path).await?;
    for needle in CANARIES.iter().chain(DEMO_SENSITIVE.iter()).chain(["SSR-55810", "S-19.webm", "Bluefin"].iter()) {
        ensure!(!contains(&bytes, needle), "{needle:?} is still in the database file");
    }
    // Metadata, hashes and the audit chain remain.
    let chain = server.audit_chain(&room).await?;
    trustroom_shared::audit::verify_chain(&chain).map_err(|b| anyhow::anyhow!("audit chain broken: {b}"))?;
    ensure!(chain.iter().any(|e| e.kind == "change.content_purged"));
    ensure!(chain.iter().any(|e| e.kind == "retention.storage_scrubbed"));
    server.restart().await?;
    let (_, after) = server.joined("observer").await?;
    for (id, hash) in before {
        let a = &after["state"]["annexes"][&id];
        ensure!(a["content_hash"] == hash && a["title"].is_string() && a["sensitive_count"].as_u64() > Some(0));
    }
    ensure!(after["state"]["access"]["purged"]["at_ms"].is_i64());
    ensure!(after["state"]["release"]["state"] == "escalated");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_released_manifest_still_verifies_after_the_purge_and_retention_runs_on_demand() -> Result<()> {
    let (mut server, clock) = server_with_clock(500).await?;
    let canary = "CANARY-RETENTION-8d2b77";
    let room_id = admin::create_room(&server.store, "Retention room", "morgan.hale").await?;
    admin::add_member(
        &server.store,
        room_id,
        "priya.natarajan",
        trustroom_shared::role::Role::Reviewer { discipline: trustroom_shared::role::Discipline::Privacy },
    )
    .await?;
    admin::add_annex(
        &server.store,
        room_id,
        NewAnnex {
            title: "Affected tenants".into(),
            classification: "tenant-identifiers".into(),
            content: format!("Tenant acct-5555-RET\n{canary}\n"),
            sensitive: vec!["acct-5555-RET".into()],
            allow: vec!["priya.natarajan".into()],
        },
    )
    .await?;
    let room = room_id.to_string();
    let mut owner = server.client("owner").await?;
    owner.join(&room).await?;
    owner.ok(json!({"type": "add_section", "room": room, "title": "Summary", "body": "[verified: TL-1] One tenant was shown.\n\n[restricted] See [[annex:A1]]."}))
        .await?;
    owner.ok(json!({"type": "mark_ready", "room": room})).await?;
    let released = owner.ok(json!({"type": "release", "room": room, "lane": "privacy"})).await?;
    let manifests = owner.ok(json!({"type": "manifests", "room": room})).await?;
    let key = manifests["public_key"].as_str().context("public key")?.to_string();
    let rev = manifests["manifests"][0]["manifest"]["body"]["revision"].as_u64().context("released revision")?;
    let bundle = export(&mut owner, &room, rev).await?;
    let text = bundle["text"].as_str().context("bundle text")?.to_string();
    ensure!(trustroom_shared::manifest::verify_bundle(&text, &key).verified, "verifies before the purge");
    ensure!(released["revision"].as_u64().is_some());

    // The room is closed (restart) when its retention ends; the on-demand
    // run reaches it.
    server.restart().await?;
    clock.advance(DAY * 31);
    let bin = trustroom_e2e::server_bin()?;
    let home = server.dir().join("home");
    std::fs::create_dir_all(&home)?;
    let run =
        trustroom_e2e::run_process(&bin, &["--db", &server.db_url, "retention", "run", "--room", &room], &home, &[])
            .await?;
    ensure!(run.success() && run.stdout.contains("purged"), "{run:?}");
    let mut owner = server.client("owner").await?;
    let snap = owner.join(&room).await?;
    ensure!(
        snap["state"]["access"]["purged"]["annexes"].as_array().map(Vec::len) == Some(1),
        "{}",
        snap["state"]["access"]
    );
    let bundle = export(&mut owner, &room, rev).await?;
    let text = bundle["text"].as_str().context("bundle text")?.to_string();
    let verification = trustroom_shared::manifest::verify_bundle(&text, &key);
    ensure!(verification.verified, "the released manifest still verifies: {}", verification.summary);
    ensure!(!text.contains(canary));
    server.stop().await?;
    let bytes = file_bytes(&server.db_path).await?;
    ensure!(!contains(&bytes, canary) && !contains(&bytes, "acct-5555-RET"), "content still in the database file");
    let chain = server.audit_chain(&room).await?;
    trustroom_shared::audit::verify_chain(&chain).map_err(|b| anyhow::anyhow!("audit chain broken: {b}"))?;
    Ok(())
}

/// Text that predates its pattern (masked for unentitled members while the
/// pattern is declared) must not outlive the pattern: the purge masks it
/// for everyone, in memory and in every stored revision and snapshot, so
/// the database file no longer holds it and the room still replays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_purge_scrubs_text_that_predates_its_pattern_from_storage() -> Result<()> {
    const LATE: &str = "acct-6620-KRV";
    let (mut server, clock) = server_with_clock(3).await?;
    let room = server.room();
    let (mut owner, snap) = server.joined("owner").await?;
    let (summary, body) = section(&snap, "Summary")?;
    let n = body.chars().count();
    let rev = snap["state"]["revision"].as_u64().context("revision")?;
    owner
        .ok(json!({"type": "edit", "room": room, "section": summary, "base": rev, "op": [n, format!(" Relay {LATE} carried it.")]}))
        .await?;
    admin::add_annex(
        &server.store,
        server.seed.room,
        NewAnnex {
            title: "Late relay accounts".into(),
            classification: "tenant-identifiers".into(),
            content: format!("Relay account {LATE}\n"),
            sensitive: vec![LATE.into()],
            allow: vec!["priya.natarajan".into()],
        },
    )
    .await?;
    for i in 0..4 {
        owner.ok(json!({"type": "hold", "room": room, "reason": format!("waiting for evidence {i}")})).await?;
    }
    owner.ok(json!({"type": "escalate", "room": room, "reason": "direct handling"})).await?;
    clock.advance(DAY * 31);
    wait_kind(&mut owner, "content_purged").await?;
    server.stop().await?;
    let bytes = file_bytes(&server.db_path).await?;
    ensure!(!contains(&bytes, LATE), "{LATE} is still in the database file");
    server.restart().await?;
    let (_, after) = server.joined("reviewer/privacy").await?;
    let (_, text) = section(&after, "Summary")?;
    ensure!(!text.contains(LATE) && text.contains(&format!("Relay {} carried it.", "█".repeat(LATE.len()))), "{text}");
    ensure!(text.chars().count() == n + format!(" Relay {LATE} carried it.").chars().count(), "lengths kept");
    Ok(())
}
