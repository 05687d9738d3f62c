//! The audit chain is tamper-evident: after real activity it verifies; a
//! row altered, deleted or reordered directly in the SQLite file is named as
//! the first broken entry, by the library and by `trustroom-server audit verify`.
// Test code: a failed expectation is the verdict (the lints bind product code).
#![allow(clippy::expect_used, clippy::panic)]

use anyhow::{Context, Result, ensure};
use serde_json::json;
use trustroom_e2e::{TestServer, annex_id, chars, raw_pool, run_process, section, server_bin};
use trustroom_server::audit;
use trustroom_server::storage;
use trustroom_shared::audit::{AuditEntry, ChainBreak, entry_hash};

/// Edits, an objection and a reply, an annex view and a few refusals.
async fn activity(server: &TestServer) -> Result<()> {
    let room = server.room();
    let (mut owner, snap) = server.joined("owner").await?;
    let (mut privacy, _) = server.joined("reviewer/privacy").await?;
    let (mut observer, _) = server.joined("observer").await?;
    let (sid, body) = section(&snap, "Summary")?;
    let mut rev = trustroom_e2e::revision_of(&snap);
    let mut len = chars(&body);
    for i in 0..4 {
        let text = format!("\nowner note {i} — ✓");
        let ack = owner
            .ok(json!({"type": "edit", "room": room, "section": sid, "base": rev, "op": [len, text], "seq": i + 1}))
            .await?;
        rev = ack["revision"].as_u64().context("ack revision")?;
        len += chars(&text);
    }
    let ack = privacy
        .ok(json!({"type": "object", "room": room, "section": sid, "kind": "wording", "text": "Say 'visible' instead.", "seq": 1}))
        .await?;
    let objection = ack["created"].as_str().context("created objection")?.to_string();
    owner
        .ok(json!({"type": "reply", "room": room, "objection": objection, "text": "Agreed, will change.", "seq": 10}))
        .await?;
    privacy.ok(json!({"type": "view_annex", "room": room, "annex": annex_id(&snap, "A1")?})).await?;
    observer
        .refused(json!({"type": "edit", "room": room, "section": sid, "base": rev, "op": [len], "seq": 1}), "forbidden")
        .await?;
    observer.refused(json!({"type": "view_annex", "room": room, "annex": annex_id(&snap, "A3")?}), "forbidden").await?;
    observer.refused(json!({"type": "hold", "room": room, "reason": "no"}), "forbidden").await?;
    Ok(())
}

async fn verify_file(path: &std::path::Path, chain: &str) -> Result<audit::Verification> {
    let store = storage::open(&format!("sqlite://{}", path.display())).await?;
    audit::verify(&store, chain).await
}

#[tokio::test]
async fn altered_deleted_and_reordered_rows_are_named() -> Result<()> {
    let mut server = TestServer::start().await?;
    activity(&server).await?;
    let room = server.room();

    let good = audit::verify(&server.store, &room).await?;
    ensure!(good.first_break.is_none(), "fresh chain must verify: {:?}", good.first_break);
    let entries = server.audit_chain(&room).await?;
    ensure!(entries.len() == good.entries && entries.len() >= 30, "expected a long chain, got {}", entries.len());
    for kind in
        ["change.section_edited", "change.objection_raised", "change.reply_added", "annex.view", "refused", "room.join"]
    {
        ensure!(entries.iter().any(|e| e.kind == kind), "the chain has no {kind} entry");
    }
    server.stop().await?;

    let n = entries.len() as u64;
    let k = n / 2; // a row in the middle, neither first nor last
    ensure!(k > 1 && k < n);

    // (a) alter one row's detail
    let altered = server.copy_db("altered.db").await?;
    let pool = raw_pool(&altered).await?;
    let done = sqlx::query("UPDATE audit SET detail = ? WHERE chain = ? AND seq = ?")
        .bind(json!({"tampered": true}).to_string())
        .bind(&room)
        .bind(k as i64)
        .execute(&pool)
        .await?;
    ensure!(done.rows_affected() == 1);
    pool.close().await;
    let v = verify_file(&altered, &room).await?;
    assert_eq!(v.first_break, Some(ChainBreak::Content { seq: k }), "altered row {k}");

    // (a') alter one row and recompute its own hash: the next link breaks
    let rehashed = server.copy_db("rehashed.db").await?;
    let pool = raw_pool(&rehashed).await?;
    let mut e: AuditEntry = entries[(k - 1) as usize].clone();
    e.actor = "someone-else".into();
    e.hash = entry_hash(&e);
    sqlx::query("UPDATE audit SET actor = ?, hash = ? WHERE chain = ? AND seq = ?")
        .bind(&e.actor)
        .bind(&e.hash)
        .bind(&room)
        .bind(k as i64)
        .execute(&pool)
        .await?;
    pool.close().await;
    let v = verify_file(&rehashed, &room).await?;
    assert_eq!(v.first_break, Some(ChainBreak::Link { seq: k + 1 }), "re-hashed row {k}");

    // (b) delete one row
    let deleted = server.copy_db("deleted.db").await?;
    let pool = raw_pool(&deleted).await?;
    sqlx::query("DELETE FROM audit WHERE chain = ? AND seq = ?").bind(&room).bind(k as i64).execute(&pool).await?;
    pool.close().await;
    let v = verify_file(&deleted, &room).await?;
    assert_eq!(
        v.first_break,
        Some(ChainBreak::Sequence { position: k as usize, expected: k, found: k + 1 }),
        "deleted row {k}"
    );
    assert_eq!(v.entries as u64, n - 1);

    // (c) reorder: delete row k and insert it again, so it comes last in rowid order
    let reordered = server.copy_db("reordered.db").await?;
    let pool = raw_pool(&reordered).await?;
    trustroom_e2e::move_audit_row_last(&pool, &room, k as i64).await?;
    let last: String = sqlx::query_scalar("SELECT seq FROM audit WHERE chain = ? ORDER BY rowid DESC LIMIT 1")
        .bind(&room)
        .fetch_one(&pool)
        .await
        .map(|s: i64| s.to_string())?;
    ensure!(last == k.to_string(), "the re-inserted row must be last in rowid order, last is {last}");
    pool.close().await;
    let v = verify_file(&reordered, &room).await?;
    assert_eq!(
        v.first_break,
        Some(ChainBreak::Sequence { position: k as usize, expected: k, found: k + 1 }),
        "reordered row {k}"
    );
    assert_eq!(v.entries as u64, n, "reordering keeps every row");

    // The original file is untouched and still verifies.
    let v = verify_file(&server.db_path, &room).await?;
    ensure!(v.first_break.is_none(), "the original chain must still verify: {:?}", v.first_break);

    // The real binary: exit 0 on the good chain, 1 and BROKEN on a tampered one.
    let bin = server_bin()?;
    let home = server.dir().join("home");
    std::fs::create_dir_all(&home)?;
    let db = server.db_path.display().to_string();
    let ok = run_process(&bin, &["--db", &db, "audit", "verify", "--room", &room], &home, &[]).await?;
    assert_eq!(ok.code, Some(0), "verify on the good chain: {ok:?}");
    ensure!(ok.stdout.starts_with("ok:"), "expected `ok: N entries`: {ok:?}");
    ensure!(ok.stdout.contains(&format!("{n} entries")), "expected {n} entries: {ok:?}");
    for (file, needle) in [
        (&altered, format!("entry seq {k}: content does not match")),
        (&deleted, format!("position {k} has seq {}", k + 1)),
        (&reordered, format!("position {k} has seq {}", k + 1)),
        (&rehashed, format!("entry seq {}: prev_hash", k + 1)),
    ] {
        let f = file.display().to_string();
        let bad = run_process(&bin, &["--db", &f, "audit", "verify", "--room", &room], &home, &[]).await?;
        assert_eq!(bad.code, Some(1), "verify on {f}: {bad:?}");
        ensure!(bad.stdout.contains("BROKEN"), "expected BROKEN on {f}: {bad:?}");
        ensure!(bad.stdout.contains(&needle), "expected {needle:?} on {f}: {bad:?}");
    }
    // By room title as well as by id.
    let by_title = run_process(
        &bin,
        &["--db", &altered.display().to_string(), "audit", "verify", "--room", &server.seed.title],
        &home,
        &[],
    )
    .await?;
    assert_eq!(by_title.code, Some(1), "verify by title: {by_title:?}");
    Ok(())
}

#[tokio::test]
async fn server_chain_records_refusals_for_missing_rooms_and_verifies() -> Result<()> {
    let mut server = TestServer::start().await?;
    let mut c = server.client("reviewer/legal").await?;
    let missing = uuid::Uuid::now_v7().to_string();
    c.refused(json!({"type": "join", "room": missing}), "not_found").await?;
    c.refused(json!({"type": "view_annex", "room": missing, "annex": uuid::Uuid::now_v7()}), "not_found").await?;
    let chain = server.audit_chain(trustroom_server::hub::SERVER_CHAIN).await?;
    ensure!(chain.len() >= 2, "two refusals expected in the server chain: {chain:?}");
    ensure!(chain.iter().all(|e| e.kind == "refused"));
    let user = server.member("reviewer/legal").user.to_string();
    ensure!(chain.iter().filter(|e| e.actor == user && e.detail["code"] == "not_found").count() == 2, "{chain:#?}");
    let v = audit::verify(&server.store, trustroom_server::hub::SERVER_CHAIN).await?;
    ensure!(v.first_break.is_none());
    server.stop().await?;

    let copy = server.copy_db("server-chain.db").await?;
    let pool = raw_pool(&copy).await?;
    sqlx::query("UPDATE audit SET actor = 'nobody' WHERE chain = 'server' AND seq = 1").execute(&pool).await?;
    pool.close().await;
    let v = verify_file(&copy, "server").await?;
    assert_eq!(v.first_break, Some(ChainBreak::Content { seq: 1 }));
    Ok(())
}

#[tokio::test]

async fn a_refusal_for_a_missing_room_names_the_room() -> Result<()> {
    let server = TestServer::start().await?;
    let mut c = server.client("observer").await?;
    let missing = uuid::Uuid::now_v7().to_string();
    c.refused(json!({"type": "join", "room": missing}), "not_found").await?;
    let chain = server.audit_chain(trustroom_server::hub::SERVER_CHAIN).await?;
    let entry = chain.last().context("no server-chain entry")?;
    ensure!(entry.kind == "refused" && entry.actor == server.member("observer").user.to_string());
    ensure!(
        entry.detail.to_string().contains(&missing),
        "the audit entry does not say which room was asked for: {}",
        entry.detail
    );
    Ok(())
}
