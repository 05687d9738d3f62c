//! The audit log as a Merkle tree: a release event carries a signed
//! checkpoint of the room's log and the inclusion proof of the release's own
//! entry, verified offline with the bundle; `audit prove-consistency` shows
//! the log only grew since that checkpoint, and fails for a log whose
//! earlier entries were altered, dropped or reordered in the SQLite file.

use trustroom_e2e::raw_pool;
use trustroom_shared::manifest::{ManifestRecord, sign_event_in_log, verify_record};

use super::*;

#[tokio::test]
async fn the_release_is_proven_in_the_log_and_the_log_only_grows() -> Result<()> {
    let mut server = TestServer::start().await?;
    let room = clean_room(&server).await?;
    let (mut owner, _) = member(&server, "owner", &room).await?;
    ready_and_release(&mut owner, &room, "privacy").await?;
    let bundle = text(&export(&mut owner, &room, None, "json").await?);
    let key = public_key(&server).await?;

    // Offline: the checkpoint and the inclusion proof verify with the bundle.
    let v = verify_bundle(&bundle, &key);
    ensure!(v.verified, "{}", v.summary);
    for name in ["audit checkpoint", "audit inclusion"] {
        ensure!(v.checks.iter().any(|c| c.name == name && c.ok), "{name}: {:?}", v.checks);
    }
    let b: Value = serde_json::from_str(&bundle)?;
    let cp = &b["release"]["event"]["checkpoint"]["checkpoint"];
    ensure!(cp["origin"] == format!("trustroom/{room}"), "{cp}");
    let chain = server.audit_chain(&room).await?;
    let release_entry = chain.iter().rev().find(|e| e.kind == "change.release_changed").context("release entry")?;
    ensure!(cp["size"] == release_entry.seq, "the checkpoint ends at the release's own entry: {cp}");

    // A wrong proof, even signed by the server key, does not verify.
    let history = owner.ok(json!({"type": "manifests", "room": room})).await?;
    let record: ManifestRecord = serde_json::from_value(history["manifests"][0].clone())?;
    let signing = trustroom_server::signing::server_key(&server.store).await?;
    let mut inc = record.event.inclusion.clone().context("inclusion")?;
    if let Some(first) = inc.proof.first_mut() {
        *first = "00".repeat(32);
    } else {
        inc.index += 1;
    }
    let cp = record.event.checkpoint.clone().context("checkpoint")?;
    let forged =
        ManifestRecord { event: sign_event_in_log(record.event.clone(), cp, inc, signing.signing()), ..record.clone() };
    let v = verify_record(&forged, &key);
    ensure!(!v.verified && v.summary.contains("audit inclusion"), "{}", v.summary);
    ensure!(verify_record(&record, &key).verified);

    // More activity: the log grows, and the old checkpoint is consistent with it.
    append(&server, &mut owner, &room, "[verified: SL-0104] The session ended at 09:28.").await?;
    owner.ok(json!({"type": "hold", "room": room, "reason": "the log grows"})).await?;
    drop(owner);
    server.stop().await?;
    let dir = server.dir().join("audit-log");
    std::fs::create_dir_all(&dir)?;
    let bundle_file = dir.join("bundle.json");
    std::fs::write(&bundle_file, &bundle)?;
    let bin = server_bin()?;
    let prove = |db: String| {
        let (bin, home, room, bundle) = (bin.clone(), dir.clone(), room.clone(), bundle_file.display().to_string());
        async move {
            let args = [
                "--db",
                db.as_str(),
                "audit",
                "prove-consistency",
                "--room",
                room.as_str(),
                "--bundle",
                bundle.as_str(),
            ];
            run_process(&bin, &args, &home, &[]).await
        }
    };
    let good = server.copy_db("good.db").await?;
    let r = prove(good.display().to_string()).await?;
    ensure!(r.code == Some(0) && r.stdout.starts_with("consistent:"), "{r:?}");

    // Tampered copies: a row before the checkpoint altered, dropped, reordered.
    let k = release_entry.seq / 2;
    ensure!(k > 1);
    let altered = server.copy_db("altered.db").await?;
    let pool = raw_pool(&altered).await?;
    sqlx::query("UPDATE audit SET detail = ? WHERE chain = ? AND seq = ?")
        .bind(json!({"tampered": true}).to_string())
        .bind(&room)
        .bind(k as i64)
        .execute(&pool)
        .await?;
    pool.close().await;
    let dropped = server.copy_db("dropped.db").await?;
    let pool = raw_pool(&dropped).await?;
    sqlx::query("DELETE FROM audit WHERE chain = ? AND seq = ?").bind(&room).bind(k as i64).execute(&pool).await?;
    pool.close().await;
    let reordered = server.copy_db("reordered.db").await?;
    let pool = raw_pool(&reordered).await?;
    trustroom_e2e::move_audit_row_last(&pool, &room, k as i64).await?;
    pool.close().await;
    for (file, what) in [(altered, "altered"), (dropped, "dropped"), (reordered, "reordered")] {
        let r = prove(file.display().to_string()).await?;
        ensure!(r.code == Some(1) && r.stdout.contains("NOT CONSISTENT"), "{what}: {r:?}");
    }
    Ok(())
}
