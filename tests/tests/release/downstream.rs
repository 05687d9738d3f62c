//! Downstream lanes talk back: a downstream member of one lane lists and
//! fetches only its lane's releases (the redacted bundle, never annex
//! content), records intake decisions, reports findings that open blocking
//! objections marked found downstream (seen by a joined owner at once), and
//! hears of its releases' supersession and withdrawal on its connection;
//! everything else of the room is forbidden to it. Decisions and findings
//! survive a restart; the measures show in `stats`.

use std::time::Duration;

use super::*;
use trustroom_shared::release::Lane;
use trustroom_shared::role::Role;

const T: Duration = Duration::from_secs(10);

/// Adds a downstream member of `lane` named `name` to `room`; its
/// connection and token.
async fn downstream_with_token(server: &TestServer, room: &str, name: &str, lane: Lane) -> Result<(WsClient, String)> {
    let (_, token) = trustroom_server::admin::add_user(&server.store, name).await?;
    trustroom_server::admin::add_member(&server.store, room.parse()?, name, Role::Downstream { lane }).await?;
    Ok((WsClient::connect(&server.url, &token).await?, token))
}

async fn downstream(server: &TestServer, room: &str, name: &str, lane: Lane) -> Result<WsClient> {
    Ok(downstream_with_token(server, room, name, lane).await?.0)
}

fn lane_releases(room: &str) -> Value {
    json!({"type": "lane_releases", "room": room})
}

fn fetch(room: &str, manifest: &str) -> Value {
    json!({"type": "lane_release", "room": room, "manifest": manifest})
}

fn intake(room: &str, manifest: &str, decision: &str, reason: Option<&str>) -> Value {
    let mut v = json!({"type": "intake", "room": room, "manifest": manifest, "decision": decision});
    if let Some(r) = reason {
        v["reason"] = json!(r);
    }
    v
}

fn finding(room: &str, manifest: &str, kind: &str, text: &str) -> Value {
    json!({"type": "report_finding", "room": room, "manifest": manifest, "kind": kind, "text": text})
}

fn created(ack: &Value) -> Result<String> {
    Ok(ack["created"].as_str().context("created")?.to_string())
}

#[tokio::test]
async fn a_downstream_member_reads_only_its_lanes_releases_and_never_annex_content() -> Result<()> {
    let server = TestServer::start().await?;
    let room = clean_room(&server).await?;
    let (mut owner, _) = member(&server, "owner", &room).await?;
    let privacy = created(&ready_and_release(&mut owner, &room, "privacy").await?)?;
    let governance = created(&owner.ok(json!({"type": "release", "room": room, "lane": "account-governance"})).await?)?;
    let mut lane = downstream(&server, &room, "dana.privacy-intake", Lane::Privacy).await?;

    let list = lane.ok(lane_releases(&room)).await?;
    ensure!(list["lane"] == "privacy", "{list}");
    let releases = list["releases"].as_array().context("releases")?;
    ensure!(releases.len() == 1 && releases[0]["manifest_hash"] == privacy.as_str(), "{list}");
    ensure!(releases[0]["status"] == "current" && releases[0]["intake"].is_null(), "{list}");
    ensure!(releases[0]["released_at_ms"].as_i64().is_some_and(|t| t > 0), "{list}");

    // The bundle of its release: the export of that release, redacted.
    let got = lane.ok(fetch(&room, &privacy)).await?;
    let text = got["export"]["text"].as_str().context("bundle text")?;
    ensure!(got["status"] == "current" && got["export"]["released"] == true, "{got}");
    ensure!(!text.contains(PATTERN) && !text.contains("Tenant shown"), "annex content in the lane bundle");
    ensure!(text.contains(&privacy), "the bundle carries its manifest");
    ensure!(verify_bundle(text, &public_key(&server).await?).verified, "the lane bundle verifies");
    trustroom_e2e::assert_no_canary(lane.captured(), &[PATTERN, "Tenant shown"], "downstream");

    // Another lane's release answers like a made-up hash.
    let other = lane.refused(fetch(&room, &governance), "not_found").await?;
    let made_up = lane.refused(fetch(&room, &"0".repeat(64)), "not_found").await?;
    ensure!(
        other["message"].as_str().map(|m| m.replace(&governance, "H"))
            == made_up["message"].as_str().map(|m| m.replace(&"0".repeat(64), "H")),
        "{other} vs {made_up}"
    );
    lane.refused(intake(&room, &governance, "accepted", None), "not_found").await?;
    lane.refused(finding(&room, &governance, "stale-chronology", "Old."), "not_found").await?;

    // Every read and refusal is audited.
    let chain = server.audit_chain(&room).await?;
    ensure!(chain.iter().any(|e| e.kind == "lane.releases"), "lane_releases audited");
    ensure!(chain.iter().any(|e| e.kind == "lane.release" && e.detail["manifest_hash"] == privacy.as_str()));
    ensure!(!server.refusals(&room, "lane_release", "not_found").await?.is_empty(), "refusals audited");
    Ok(())
}

#[tokio::test]
async fn a_downstream_member_may_not_join_or_do_anything_a_room_member_does() -> Result<()> {
    let server = TestServer::start().await?;
    let room = clean_room(&server).await?;
    let (mut owner, snap) = member(&server, "owner", &room).await?;
    let hash = created(&ready_and_release(&mut owner, &room, "privacy").await?)?;
    let (section, _) = section_of(&snap, "Summary")?;
    let mut lane = downstream(&server, &room, "dana.privacy-intake", Lane::Privacy).await?;
    for req in [
        json!({"type": "join", "room": room}),
        json!({"type": "readiness", "room": room}),
        json!({"type": "export", "room": room, "format": "json"}),
        json!({"type": "manifests", "room": room}),
        json!({"type": "release_status", "room": room}),
        json!({"type": "holds", "room": room}),
        json!({"type": "stats", "room": room}),
        json!({"type": "object", "room": room, "section": section, "kind": "other", "text": "x"}),
        json!({"type": "edit", "room": room, "section": section, "base": 0, "op": ["x"]}),
        json!({"type": "cursor", "room": room, "section": section, "pos": 0}),
        json!({"type": "withdraw_release", "room": room, "manifest": hash, "reason": "r"}),
    ] {
        lane.refused(req.clone(), "forbidden").await.with_context(|| req.to_string())?;
    }
    // No snapshot, event or presence ever reached it.
    owner.ok(json!({"type": "hold", "room": room, "reason": "Check the chronology."})).await?;
    lane.drain(Duration::from_millis(300)).await?;
    ensure!(
        lane.pending().all(|f| !matches!(f["type"].as_str(), Some("snapshot" | "event" | "presence"))),
        "room frames reached a downstream member: {}",
        lane.captured_text()
    );
    // Lane requests are the downstream members' own.
    owner.refused(lane_releases(&room), "forbidden").await?;
    let (mut reviewer, _) = member(&server, "reviewer/privacy", &room).await?;
    reviewer.refused(intake(&room, &hash, "accepted", None), "forbidden").await?;
    outsider_sees_no_room(&server, &[lane_releases(&room), fetch(&room, &hash)]).await?;
    Ok(())
}

#[tokio::test]
async fn intake_decisions_and_findings_are_recorded_pushed_and_survive_a_restart() -> Result<()> {
    decisions_and_findings(trustroom_e2e::Backend::Sqlite).await
}

#[tokio::test]
#[cfg_attr(not(any(pg_url, ci)), ignore = "needs TRUSTROOM_TEST_PG_URL (PostgreSQL)")]
async fn intake_decisions_and_findings_survive_a_restart_on_postgresql() -> Result<()> {
    decisions_and_findings(trustroom_e2e::Backend::Postgres).await
}

async fn decisions_and_findings(backend: trustroom_e2e::Backend) -> Result<()> {
    let mut server = TestServer::start_backend(backend, Default::default()).await?;
    let room = clean_room(&server).await?;
    let (mut owner, _) = member(&server, "owner", &room).await?;
    let first = created(&ready_and_release(&mut owner, &room, "privacy").await?)?;
    let (mut lane, token) = downstream_with_token(&server, &room, "dana.privacy-intake", Lane::Privacy).await?;
    lane.ok(lane_releases(&room)).await?;
    // A member of another lane watches its own (empty) lane.
    let mut other = downstream(&server, &room, "gil.governance-intake", Lane::AccountGovernance).await?;
    ensure!(other.ok(lane_releases(&room)).await?["releases"].as_array().is_some_and(Vec::is_empty));

    // Returned needs a reason; then accepted; the same decision twice is one.
    let e = lane.refused(intake(&room, &first, "returned", None), "invalid").await?;
    ensure!(e["message"].as_str().is_some_and(|m| m.contains("reason")), "{e}");
    lane.refused(intake(&room, &first, "returned", Some("\u{200b}\u{2060}")), "invalid").await?;
    lane.refused(intake(&room, &first, "maybe", None), "invalid").await?;
    lane.ok(intake(&room, &first, "returned", Some("The chronology stops at 09:20."))).await?;
    let accepted = lane.ok(intake(&room, &first, "accepted", None)).await?;
    let again = lane.ok(intake(&room, &first, "accepted", None)).await?;
    ensure!(again["duplicate"] == true && again["revision"] == accepted["revision"], "{again}");
    let list = lane.ok(lane_releases(&room)).await?;
    ensure!(list["releases"][0]["intake"] == "accepted", "{list}");

    // A finding opens a blocking objection found downstream, seen by the owner at once.
    let ack = lane
        .ok(finding(&room, &first, "stale-chronology", "The session log has entries after 09:20 the packet omits."))
        .await?;
    let objection = created(&ack)?;
    let ev = owner
        .wait_for(|v| v["type"] == "event" && v["rev"]["change"]["objection"]["id"] == objection.as_str(), T)
        .await?;
    let o = &ev["rev"]["change"]["objection"];
    ensure!(o["blocking"] == true && o["found_downstream"]["finding"] == "stale-chronology", "{o}");
    ensure!(o["found_downstream"]["manifest_hash"] == first.as_str() && o["found_downstream"]["lane"] == "privacy");
    let r = readiness(&mut owner, &room).await?;
    ensure!(r.to_string().contains(&objection) || r.to_string().contains("O-"), "the finding blocks: {r}");

    // A newer release supersedes it: pushed to the lane's connection.
    owner.ok(json!({"type": "set_objection_status", "room": room, "objection": objection, "status": "addressed", "rationale": "Chronology extended."})).await?;
    append(&server, &mut owner, &room, "[verified: SL-0104] The session ended at 09:28.").await?;
    let push = lane
        .wait_for(|v| v["type"] == "lane_status" && v["manifest_hash"] == first.as_str(), T)
        .await
        .context("supersession pushed")?;
    ensure!(push["status"] == "superseded" && push["lane"] == "privacy", "{push}");
    let second = created(&ready_and_release(&mut owner, &room, "privacy").await?)?;
    let push = lane.wait_for(|v| v["type"] == "lane_status" && v["manifest_hash"] == second.as_str(), T).await?;
    ensure!(push["status"] == "current", "{push}");

    // Withdrawn: pushed; an intake decision on it is refused.
    owner
        .ok(json!({"type": "withdraw_release", "room": room, "manifest": second, "reason": "Wrong tenant list."}))
        .await?;
    let push = lane
        .wait_for(
            |v| v["type"] == "lane_status" && v["manifest_hash"] == second.as_str() && v["status"] == "withdrawn",
            T,
        )
        .await?;
    ensure!(push["why"].as_str().is_some_and(|w| w.contains("Wrong tenant list.")), "{push}");
    lane.refused(intake(&room, &second, "accepted", None), "conflict").await?;
    // Nothing else of the room reached the lane.
    ensure!(
        lane.pending().all(|f| !matches!(f["type"].as_str(), Some("snapshot" | "event" | "presence"))),
        "{}",
        lane.captured_text()
    );

    // The other lane heard nothing of the privacy lane's releases.
    other.drain(Duration::from_millis(200)).await?;
    ensure!(other.pending().all(|f| f["type"] != "lane_status"), "{}", other.captured_text());
    let stats = owner.ok(json!({"type": "stats", "room": room})).await?;
    let d = &stats["handoff"]["downstream"];
    ensure!(d["findings"] == 1 && d["accepted_never_returned"] == 0, "{d}");
    ensure!(d["releases"][0]["found_later"]["stale-chronology"] == 1, "{d}");

    // Restart: decisions and findings are still there.
    drop((owner, lane, other));
    server.restart().await?;
    let (mut owner, snap) = member(&server, "owner", &room).await?;
    let o = snap["state"]["objections"][&objection].clone();
    ensure!(o["found_downstream"]["finding"] == "stale-chronology", "{}", snap["state"]["objections"]);
    let mut lane = WsClient::connect(&server.url, &token).await?;
    let list = lane.ok(lane_releases(&room)).await?;
    ensure!(list["releases"][0]["intake"] == "accepted" && list["releases"][0]["findings"] == 1, "{list}");
    ensure!(list["releases"][1]["status"] == "withdrawn", "{list}");
    ensure!(owner.ok(json!({"type": "stats", "room": room})).await? == stats, "same log, same measures");
    Ok(())
}

#[tokio::test]
async fn boundary_values_give_clear_stable_errors() -> Result<()> {
    let server = TestServer::start().await?;
    let room = clean_room(&server).await?;
    let (mut owner, _) = member(&server, "owner", &room).await?;
    let hash = created(&ready_and_release(&mut owner, &room, "privacy").await?)?;
    let mut lane = downstream(&server, &room, "dana.privacy-intake", Lane::Privacy).await?;
    let before = server.stored_revision().await?;
    for (manifest, code) in [
        ("", "invalid"),
        ("abc", "invalid"),
        (&"a".repeat(63)[..], "invalid"),
        (&"a".repeat(65)[..], "invalid"),
        (&"g".repeat(64)[..], "invalid"),
        (&"0".repeat(64)[..], "not_found"),
    ] {
        lane.refused(fetch(&room, manifest), code).await.with_context(|| manifest.to_string())?;
        lane.refused(finding(&room, manifest, "correction-needed", "x"), code).await?;
    }
    for (text, code) in [
        ("", "invalid"),
        ("   ", "invalid"),
        ("\u{200b}\u{2060}", "invalid"),
        (&"x".repeat(10_001)[..], "too_large"),
        (PATTERN, "restricted"),
    ] {
        lane.refused(finding(&room, &hash, "correction-needed", text), code).await.with_context(|| code)?;
    }
    lane.refused(finding(&room, &hash, "typo", "x"), "invalid").await?;
    lane.refused(intake(&room, &hash, "returned", Some(PATTERN)), "restricted").await?;
    lane.refused(intake(&room, &hash, "accepted", Some("fine")), "invalid").await?;
    ensure!(server.stored_revision().await? == before, "no refusal changed the room");
    // Non-NFC text is kept as sent (decomposed é), not refused.
    lane.ok(finding(&room, &hash, "correction-needed", "Cafe\u{301} tenant named wrongly.")).await?;
    Ok(())
}

/// Runs the real `trustroom` client as the user holding `token`.
async fn lane_cli(
    server: &TestServer,
    bin: &std::path::Path,
    token: &str,
    args: &[&str],
) -> Result<trustroom_e2e::Run> {
    let home = server.dir().join("lane-cli-home");
    std::fs::create_dir_all(&home)?;
    run_process(bin, args, &home, &[("TRUSTROOM_URL", server.url.as_str()), ("TRUSTROOM_TOKEN", token)]).await
}

#[tokio::test]
async fn the_command_line_drives_a_downstream_lane() -> Result<()> {
    let server = TestServer::start().await?;
    let room = clean_room(&server).await?;
    let bin = client_bin()?;
    let (mut owner, _) = member(&server, "owner", &room).await?;
    let hash = created(&ready_and_release(&mut owner, &room, "privacy").await?)?;
    let (lane, token) = downstream_with_token(&server, &room, "dana.privacy-intake", Lane::Privacy).await?;
    lane.close().await;

    let r = lane_cli(&server, &bin, &token, &["lane", "releases", &room]).await?;
    ensure!(r.success() && r.stdout.contains(&hash) && r.stdout.contains("CURRENT"), "{r:?}");
    let r = lane_cli(&server, &bin, &token, &["lane", "releases", &room, "--json"]).await?;
    let v: Value = serde_json::from_str(&r.stdout).with_context(|| r.stdout.clone())?;
    ensure!(v["releases"][0]["manifest_hash"] == hash.as_str(), "{v}");

    let out = server.dir().join("lane-bundle.json");
    let out_s = out.display().to_string();
    let r = lane_cli(&server, &bin, &token, &["lane", "fetch", &room, &hash, "--out", &out_s]).await?;
    ensure!(r.success(), "{r:?}");
    let bundle = std::fs::read_to_string(&out)?;
    ensure!(bundle.contains(&hash) && !bundle.contains(PATTERN), "the bundle, redacted");

    let r =
        lane_cli(&server, &bin, &token, &["lane", "intake", &room, &hash, "--return", "Chronology stops at 09:20."])
            .await?;
    ensure!(r.success() && r.stdout.contains("RETURNED"), "{r:?}");
    let r = lane_cli(&server, &bin, &token, &["lane", "intake", &room, &hash, "--accept"]).await?;
    ensure!(r.success() && r.stdout.contains("ACCEPTED"), "{r:?}");
    let r = lane_cli(&server, &bin, &token, &["lane", "intake", &room, &hash]).await?;
    ensure!(!r.success(), "--accept or --return is required: {r:?}");
    let r = lane_cli(
        &server,
        &bin,
        &token,
        &["lane", "finding", &room, &hash, "--kind", "correction-needed", "--text", "The tenant count is 2, not 3."],
    )
    .await?;
    ensure!(r.success(), "{r:?}");
    let r =
        lane_cli(&server, &bin, &token, &["lane", "finding", &room, &hash, "--kind", "typo", "--text", "x"]).await?;
    ensure!(!r.success() && r.stderr.contains("finding kind"), "{r:?}");
    let r = lane_cli(&server, &bin, &token, &["lane", "fetch", &room, &"0".repeat(64)]).await?;
    ensure!(!r.success() && r.stderr.contains("not_found"), "{r:?}");
    let r = lane_cli(&server, &bin, &token, &["show", &room]).await?;
    ensure!(!r.success() && r.stderr.contains("forbidden"), "a downstream member cannot join: {r:?}");

    // The owner sees the finding in the register and the measures in stats.
    let r = server.cli(&bin, "owner", &["show", &room]).await?;
    ensure!(r.success() && r.stdout.contains("found downstream (privacy, correction-needed)"), "{}", r.stdout);
    let r = server.cli(&bin, "owner", &["stats", &room]).await?;
    ensure!(r.success() && r.stdout.contains("DOWNSTREAM found later 1"), "{}", r.stdout);
    ensure!(r.stdout.contains("accepted never returned 0"), "{}", r.stdout);
    Ok(())
}
