//! Release status that travels: each release's signed status (current →
//! superseded by a newer release, or by a change not yet released; or
//! withdrawn by an owner), the same bytes for the same state, verified
//! offline with the bundle (`manifest verify --status`, its own exit
//! codes), refusals for every wrong caller and value, after a restart.

use super::*;

async fn statuses(c: &mut WsClient, room: &str) -> Result<Value> {
    c.ok(json!({"type": "release_status", "room": room})).await
}

/// The status of the release with manifest `hash`.
fn status_of<'a>(r: &'a Value, hash: &str) -> Result<&'a Value> {
    r["statuses"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["body"]["manifest_hash"] == hash))
        .with_context(|| format!("no status of {hash}: {r}"))
}

fn withdraw(room: &str, manifest: &str, reason: &str) -> Value {
    json!({"type": "withdraw_release", "room": room, "manifest": manifest, "reason": reason})
}

#[tokio::test]
async fn a_release_is_current_then_superseded_then_withdrawn_and_each_status_is_signed() -> Result<()> {
    let mut server = TestServer::start().await?;
    let room = clean_room(&server).await?;
    let (mut owner, _) = member(&server, "owner", &room).await?;
    let (mut observer, _) = member(&server, "observer", &room).await?;
    let first = ready_and_release(&mut owner, &room, "privacy").await?;
    let first = first["created"].as_str().context("manifest hash")?.to_string();
    let key = public_key(&server).await?;

    // Current, signed, the same bytes twice; every member may read it.
    let a = statuses(&mut observer, &room).await?;
    let b = statuses(&mut observer, &room).await?;
    ensure!(a == b, "same state, same statuses");
    let s1 = status_of(&a, &first)?;
    ensure!(s1["body"]["status"] == "current" && a["public_key"] == key, "{a}");
    let doc = serde_json::to_string(s1)?;
    let (verdict, v) = trustroom_shared::release_status::verify_status(&doc, &key, &first);
    ensure!(verdict == trustroom_shared::release_status::StatusVerdict::Current && v.verified, "{}", v.summary);
    let (agent, _) = member(&server, "agent/chronology", &room).await?;
    let mut agent = agent;
    statuses(&mut agent, &room).await?;

    // A change after it: superseded, by nothing released yet.
    let changed = append(&server, &mut owner, &room, "[verified: SL-0104] The session ended at 09:28.").await?;
    let r = statuses(&mut observer, &room).await?;
    let s1 = &status_of(&r, &first)?["body"];
    ensure!(s1["status"] == "superseded" && s1["at_revision"] == changed && s1["by_manifest"].is_null(), "{s1}");

    // The next release supersedes it by name.
    let second = ready_and_release(&mut owner, &room, "privacy").await?;
    let second_hash = second["created"].as_str().context("manifest hash")?.to_string();
    let r = statuses(&mut observer, &room).await?;
    let s1 = &status_of(&r, &first)?["body"];
    ensure!(s1["status"] == "superseded" && s1["by_manifest"] == second_hash.as_str(), "{s1}");
    ensure!(s1["at_revision"] == second["revision"], "at the newer release's revision: {s1}");
    ensure!(status_of(&r, &second_hash)?["body"]["status"] == "current", "{r}");

    // The owner withdraws the second; the room is not RELEASED under it any more.
    owner.ok(withdraw(&room, &second_hash, "The tenant list in the annex map was wrong.")).await?;
    let r = statuses(&mut observer, &room).await?;
    let s2 = &status_of(&r, &second_hash)?["body"];
    ensure!(s2["status"] == "withdrawn" && s2["reason"] == "The tenant list in the annex map was wrong.", "{s2}");
    ensure!(s2["by"] == "morgan.hale", "{s2}");
    let snap = snapshot(&server, &room).await?;
    ensure!(snap["state"]["release"]["state"] == "drafting", "{}", snap["state"]["release"]);
    let chain = server.audit_chain(&room).await?;
    ensure!(
        chain
            .iter()
            .any(|e| e.detail["decision"] == "withdraw_release" && e.detail["manifest_hash"] == second_hash.as_str())
    );

    // The handoff measures: each release's fate, and why.
    let st = owner.ok(json!({"type": "stats", "room": room})).await?;
    let h = &st["handoff"];
    ensure!(h["superseded"] == 1 && h["withdrawn"] == 1, "{h}");
    ensure!(h["releases"][0]["fate"] == "superseded" && h["releases"][1]["fate"] == "withdrawn", "{h}");
    ensure!(h["releases"][1]["why"] == "The tenant list in the annex map was wrong.", "{h}");
    ensure!(st == owner.ok(json!({"type": "stats", "room": room})).await?, "same log, same figures");

    // Survives a restart, byte for byte.
    drop((owner, observer, agent));
    server.restart().await?;
    let (mut observer, _) = member(&server, "observer", &room).await?;
    let after = statuses(&mut observer, &room).await?;
    ensure!(after == r, "{after} vs {r}");
    Ok(())
}

#[tokio::test]
async fn withdrawing_is_refused_for_every_wrong_caller_and_value() -> Result<()> {
    let server = TestServer::start().await?;
    let room = clean_room(&server).await?;
    let (mut owner, _) = member(&server, "owner", &room).await?;
    let ack = ready_and_release(&mut owner, &room, "privacy").await?;
    let hash = ack["created"].as_str().context("hash")?.to_string();
    let before = server.stored_revision().await?;
    let good = withdraw(&room, &hash, "Wrong tenant list.");

    outsider_sees_no_room(&server, &[good.clone(), json!({"type": "release_status", "room": room})]).await?;
    for role in ["reviewer/privacy", "observer", "agent/chronology"] {
        let (mut c, _) = member(&server, role, &room).await?;
        c.refused(good.clone(), "forbidden").await.with_context(|| role.to_string())?;
        c.close().await;
    }
    for (manifest, code) in [
        ("", "invalid"),
        ("not-a-hash", "invalid"),
        (&"0".repeat(64)[..], "not_found"),
        (&"g".repeat(64)[..], "invalid"),
        (&"a".repeat(10_000)[..], "invalid"),
    ] {
        owner.refused(withdraw(&room, manifest, "Wrong tenant list."), code).await.with_context(|| manifest.len())?;
    }
    for reason in ["", "  ", "\u{200b}\u{2060}"] {
        owner.refused(withdraw(&room, &hash, reason), "invalid").await?;
    }
    let zero_width: String = PATTERN.chars().flat_map(|c| [c, '\u{2060}']).collect();
    for disguise in [PATTERN.to_string(), PATTERN.to_lowercase(), zero_width] {
        owner.refused(withdraw(&room, &hash, &format!("the tenant is {disguise}")), "restricted").await?;
    }
    owner.refused(withdraw(&room, &hash, &"x".repeat(10_001)), "too_large").await?;
    ensure!(server.stored_revision().await? == before, "no refusal stored anything");
    // Once; a second withdrawal is a conflict. Upper-case hashes name the same release.
    owner.ok(withdraw(&room, &hash.to_uppercase(), "Wrong tenant list.")).await?;
    let m = refused_message(&mut owner, good, "conflict").await?;
    ensure!(m.contains("already withdrawn"), "{m}");
    // An escalated room still lets an owner withdraw (the correction must reach downstream).
    let second = {
        owner.ok(json!({"type": "mark_ready", "room": room})).await?;
        owner.ok(json!({"type": "release", "room": room, "lane": "account-governance"})).await?
    };
    owner.ok(json!({"type": "escalate", "room": room, "reason": "Direct handling by the incident commander."})).await?;
    owner.ok(withdraw(&room, second["created"].as_str().unwrap_or_default(), "Escalated: do not act on it.")).await?;
    Ok(())
}

#[tokio::test]
async fn manifest_verify_reports_the_status_with_its_own_exit_code_offline() -> Result<()> {
    let server = TestServer::start().await?;
    let room = clean_room(&server).await?;
    let (mut owner, _) = member(&server, "owner", &room).await?;
    let first = ready_and_release(&mut owner, &room, "privacy").await?;
    let first_hash = first["created"].as_str().context("hash")?.to_string();
    let bundle = text(&export(&mut owner, &room, None, "json").await?);
    let dir = server.dir().join("handoff");
    std::fs::create_dir_all(&dir)?;
    let bundle_path = dir.join("bundle.json");
    std::fs::write(&bundle_path, &bundle)?;
    let key = public_key(&server).await?;
    let bin = client_bin()?;
    let sbin = server_bin()?;

    // The CLI writes the signed status documents.
    let out = dir.join("status-now");
    let r = server.cli(&bin, "observer", &["release", "status", &room, "--out", out.to_str().unwrap_or("")]).await?;
    ensure!(
        r.success() && r.stdout.contains(&format!("{first_hash} packet rev")) && r.stdout.contains("CURRENT"),
        "{r:?}"
    );
    let status_file = out.join(format!("status-{}.json", &first_hash[..16]));
    let home = server.dir().to_path_buf();
    let verify = |status: std::path::PathBuf| {
        let (sbin, home, bundle, key) = (sbin.clone(), home.clone(), bundle_path.display().to_string(), key.clone());
        async move {
            let status = status.display().to_string();
            let args =
                ["manifest", "verify", bundle.as_str(), "--public-key", key.as_str(), "--status", status.as_str()];
            run_process(&sbin, &args, &home, &[]).await
        }
    };
    let r = verify(status_file.clone()).await?;
    ensure!(r.code == Some(0) && r.stdout.contains("CURRENT as of room rev"), "{r:?}");

    // Superseded by a later release: exit 3, naming the newer manifest and revision.
    append(&server, &mut owner, &room, "[verified: SL-0104] The session ended at 09:28.").await?;
    let second = ready_and_release(&mut owner, &room, "privacy").await?;
    let out2 = dir.join("status-later");
    let r = server.cli(&bin, "observer", &["release", "status", &room, "--out", out2.to_str().unwrap_or("")]).await?;
    ensure!(r.success(), "{r:?}");
    let later = out2.join(format!("status-{}.json", &first_hash[..16]));
    let r = verify(later.clone()).await?;
    let second_hash = second["created"].as_str().unwrap_or_default();
    ensure!(
        r.code == Some(3) && r.stdout.contains(&format!("SUPERSEDED by {second_hash} at rev {}", second["revision"])),
        "{r:?}"
    );
    // Withdrawn: exit 4 (the CLI's withdraw, then a new status document).
    let r = server
        .cli(&bin, "owner", &["release", "withdraw", &room, &first_hash, "--reason", "Wrong tenant list."])
        .await?;
    ensure!(r.success() && r.stdout.contains("WITHDRAWN"), "{r:?}");
    let out3 = dir.join("status-withdrawn");
    server.cli(&bin, "observer", &["release", "status", &room, "--out", out3.to_str().unwrap_or("")]).await?;
    let r = verify(out3.join(format!("status-{}.json", &first_hash[..16]))).await?;
    ensure!(
        r.code == Some(4) && r.stdout.contains("WITHDRAWN by morgan.hale") && r.stdout.contains("Wrong tenant list."),
        "{r:?}"
    );

    // A tampered document, another release's document, a wrong key: exit 5 or 1.
    let doc = std::fs::read_to_string(&later)?;
    let tampered = dir.join("tampered.json");
    std::fs::write(&tampered, doc.replace("superseded", "current"))?;
    let r = verify(tampered.clone()).await?;
    ensure!(r.code == Some(5) && r.stdout.contains("STATUS NOT VERIFIED"), "{r:?}");
    let other = out2.join(format!("status-{}.json", &second_hash[..16]));
    let r = verify(other.clone()).await?;
    ensure!(r.code == Some(5) && r.stdout.contains("status release"), "{r:?}");
    let r = server.cli(&bin, "owner", &["release", "status", &room, "--json"]).await?;
    let v: Value = serde_json::from_str(&r.stdout).with_context(|| format!("{r:?}"))?;
    ensure!(v["statuses"].as_array().map(Vec::len) == Some(2), "{v}");
    Ok(())
}

#[tokio::test]
async fn a_withdrawn_release_is_not_made_again_and_withdrawing_another_keeps_the_room_released() -> Result<()> {
    let server = TestServer::start().await?;
    let room = clean_room(&server).await?;
    let (mut owner, _) = member(&server, "owner", &room).await?;
    let first = ready_and_release(&mut owner, &room, "privacy").await?;
    let first_hash = first["created"].as_str().context("hash")?.to_string();
    let wide =
        owner.ok(json!({"type": "release", "room": room, "lane": "privacy", "audience": "organisation"})).await?;
    ensure!(wide["created"] != first["created"], "another audience, another manifest");
    // Withdrawing the earlier release leaves the room released under the later one.
    owner.ok(withdraw(&room, &first_hash, "Sent to the wrong audience.")).await?;
    let snap = snapshot(&server, &room).await?;
    ensure!(snap["state"]["release"]["state"] == "released", "{}", snap["state"]["release"]);
    let r = statuses(&mut owner, &room).await?;
    ensure!(status_of(&r, wide["created"].as_str().unwrap_or_default())?["body"]["status"] == "current", "{r}");
    // The withdrawn one is not released again (same packet, lane, audience).
    let packet = snap["state"]["content_revision"].as_u64().unwrap_or(0);
    let before = server.stored_revision().await?;
    let m = refused_message(
        &mut owner,
        json!({"type": "release_packet", "room": room, "lane": "privacy", "packet_revision": packet}),
        "conflict",
    )
    .await?;
    ensure!(m.contains("was withdrawn") && m.contains("Sent to the wrong audience."), "{m}");
    ensure!(server.stored_revision().await? == before, "nothing stored");
    // A status document with a field added after signing does not verify.
    let key = public_key(&server).await?;
    let mut doc = status_of(&r, &first_hash)?.clone();
    doc["body"]["note"] = json!("added later");
    let (verdict, v) = trustroom_shared::release_status::verify_status(&doc.to_string(), &key, &first_hash);
    ensure!(verdict == trustroom_shared::release_status::StatusVerdict::Invalid, "{}", v.summary);
    Ok(())
}
