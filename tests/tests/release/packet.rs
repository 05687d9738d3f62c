//! `release_packet`: mark ready and release the packet revision the owner
//! reviewed in one commit, or refuse with nothing changed (issue #16).
//! The stranded sequence replayed exactly; the answer naming the room
//! revision and the packet revision; the refusals over raw frames.

use super::*;

const HOLD: &str = "O-1 is open: waiting for privacy";
/// The held state's reason for it: the hold register's first hold.
const HELD: &str = "H-1: O-1 is open: waiting for privacy";

fn clear_h1(room: &str) -> Value {
    json!({"type": "clear_hold", "room": room, "hold": 1, "rationale": "O-1 was addressed; privacy agreed."})
}

/// The release state, its hold reasons, the room revision and the packet
/// revision, as a fresh observer sees them.
async fn release_state(server: &TestServer, room: &str) -> Result<(String, Value, u64, u64)> {
    let snap = snapshot(server, room).await?;
    let state = &snap["state"];
    Ok((
        state["release"]["state"].as_str().unwrap_or_default().to_string(),
        state["release"]["reasons"].clone(),
        revision(state),
        state["content_revision"].as_u64().unwrap_or(0),
    ))
}

/// Puts lena and sam on the break-glass list and has each open A1.
async fn two_break_glasses(server: &TestServer, owner: &mut WsClient, room: &str) -> Result<Vec<(WsClient, String)>> {
    let snap = snapshot(server, room).await?;
    let a1 = trustroom_e2e::annex_id(&snap, "A1")?;
    let list = [server.member("reviewer/support-trust").user, server.member("reviewer/support-engineering").user];
    owner.ok(json!({"type": "set_access_policy", "room": room, "break_glass": list})).await?;
    let mut open = Vec::new();
    for role in ["reviewer/support-trust", "reviewer/support-engineering"] {
        let (mut c, _) = member(server, role, room).await?;
        let bg = c
            .ok(json!({"type": "break_glass", "room": room, "annexes": [a1], "reason": "SEV-1 bridge: confirm the tenant", "duration_ms": 600_000}))
            .await?;
        let invocation = bg["invocation"].as_str().context("invocation")?.to_string();
        open.push((c, invocation));
    }
    Ok(open)
}

#[tokio::test]
async fn a_refused_release_from_held_leaves_the_room_held_with_its_reason_and_no_new_revision() -> Result<()> {
    let server = TestServer::start().await?;
    let room = clean_room(&server).await?;
    let (mut owner, snap) = member(&server, "owner", &room).await?;
    let (mut privacy, _) = member(&server, "reviewer/privacy", &room).await?;
    let (sid, _) = section_of(&snap, "Summary")?;

    // Hold; then every blocker is cleared.
    let o1 = privacy
        .ok(json!({"type": "object", "room": room, "section": sid, "kind": "exposure-scope", "blocking": true, "text": "A third tenant is not ruled out."}))
        .await?;
    owner.ok(json!({"type": "hold", "room": room, "reason": HOLD})).await?;
    privacy
        .ok(json!({"type": "set_objection_status", "room": room, "objection": o1["created"], "status": "addressed"}))
        .await?;
    let mut glass = two_break_glasses(&server, &mut owner, &room).await?;
    let r = readiness(&mut owner, &room).await?;
    ensure!(
        r["blockers"].as_array().is_some_and(|b| b.len() == 1 && b[0]["hold"] == "H-1"),
        "only the hold is left: {}",
        r["blockers"]
    );

    // The owner reviews the packet and presses release: the confirm prompt
    // shows this packet revision.
    let (state, reasons, _, reviewed) = release_state(&server, &room).await?;
    ensure!(state == "held" && reasons == json!([HELD]), "{state} {reasons}");

    // Meanwhile both break-glasses end and open their blocking reviews.
    for (c, invocation) in &mut glass {
        c.ok(json!({"type": "end_break_glass", "room": room, "invocation": invocation})).await?;
    }
    let (_, _, before, packet) = release_state(&server, &room).await?;
    ensure!(packet > reviewed, "the reviews changed the register: {packet} > {reviewed}");

    // The release of the reviewed packet revision: `stale`, naming what changed.
    let release = |n: u64| json!({"type": "release_packet", "room": room, "lane": "privacy", "packet_revision": n});
    let m = refused_message(&mut owner, release(reviewed), "stale").await?;
    ensure!(
        m.contains(&format!("you reviewed packet rev {reviewed}")) && m.contains(&format!("packet rev {packet}")),
        "{m}"
    );
    ensure!(m.contains("BG-1 ended, review objection O-2 opened (blocking)"), "{m}");
    ensure!(m.contains("BG-2 ended, review objection O-3 opened (blocking)"), "{m}");
    let (state, reasons, after, _) = release_state(&server, &room).await?;
    ensure!(state == "held" && reasons == json!([HELD]), "the hold and its reason stay: {state} {reasons}");
    ensure!(after == before, "no revision was added: {before} → {after}");

    // Even of the current packet revision: the blockers refuse it, and
    // again nothing changes.
    let m = refused_message(&mut owner, release(packet), "conflict").await?;
    ensure!(
        m.contains("blocked by 3 blocker(s)") && m.contains("open hold H-1") && m.contains("O-2") && m.contains("O-3"),
        "{m}"
    );
    let (state, reasons, after, _) = release_state(&server, &room).await?;
    ensure!(state == "held" && reasons == json!([HELD]), "{state} {reasons}");
    ensure!(after == before, "no revision was added: {before} → {after}");

    // The next change does not auto-hold "content changed after READY":
    // the room was never READY.
    append(&server, &mut owner, &room, "[verified: SL-0104] The session ended at 09:28.").await?;
    let (state, reasons, _, _) = release_state(&server, &room).await?;
    ensure!(state == "held" && reasons == json!([HELD]), "{state} {reasons}");
    let chain = server.audit_chain(&room).await?;
    ensure!(!chain.iter().any(|e| e.kind == "change.release_changed" && e.detail["decision"] == "ready"));
    let refused: Vec<_> =
        chain.iter().filter(|e| e.kind == "refused" && e.detail["request"] == "release_packet").collect();
    ensure!(refused.len() == 2, "both refusals are audited: {refused:?}");
    Ok(())
}

#[tokio::test]
async fn release_packet_marks_ready_and_releases_in_one_revision_naming_both_revisions() -> Result<()> {
    let server = TestServer::start().await?;
    let room = clean_room(&server).await?;
    let (mut owner, _) = member(&server, "owner", &room).await?;
    owner.ok(json!({"type": "hold", "room": room, "reason": HOLD})).await?;
    owner.ok(clear_h1(&room)).await?;
    let (_, _, before, packet) = release_state(&server, &room).await?;
    ensure!(packet < before, "the packet revision is not the room revision: {packet} vs {before}");

    let ack = owner
        .ok(json!({"type": "release_packet", "room": room, "lane": "privacy", "audience": "lane-and-leads", "packet_revision": packet}))
        .await?;
    ensure!(ack["revision"] == before + 1, "one revision: {ack}");
    ensure!(ack["packet_revision"] == packet && ack["from"] == "DRAFTING", "{ack}");
    ensure!(ack["lane"] == "privacy" && ack["audience"] == "lane-and-leads", "{ack}");
    ensure!(ack["created"] == ack["manifest_hash"] && ack["duplicate"] == false, "{ack}");
    let snap = snapshot(&server, &room).await?;
    let release = &snap["state"]["release"];
    ensure!(release["state"] == "released" && release["revision"] == packet, "{release}");
    ensure!(release["content_hash"] == ack["content_hash"] && snap["content_hash"] == ack["content_hash"]);
    ensure!(revision(&snap["state"]) == before + 1, "no revision besides the release");
    let history = owner.ok(json!({"type": "manifests", "room": room})).await?;
    let record = &history["manifests"][0];
    ensure!(record["manifest"]["body"]["revision"] == packet, "the manifest binds the packet revision");
    ensure!(record["event"]["release_revision"] == ack["revision"], "the event names the room revision");
    ensure!(record["manifest"]["manifest_hash"] == ack["manifest_hash"]);
    let chain = server.audit_chain(&room).await?;
    let entry = chain.iter().rev().find(|e| e.kind == "change.release_changed").context("audited")?;
    ensure!(entry.detail["from"] == "DRAFTING" && entry.detail["reviewed_revision"] == packet, "{}", entry.detail);

    // The two-step `release` answers the same way: both revisions, named.
    owner.ok(json!({"type": "hold", "room": room, "reason": "one more look"})).await?;
    owner.ok(json!({"type": "clear_hold", "room": room, "hold": 2, "rationale": "Looked again; fine."})).await?;
    let ack = ready_and_release(&mut owner, &room, "privacy").await?;
    let (_, _, now, packet_now) = release_state(&server, &room).await?;
    ensure!(ack["revision"] == now && ack["packet_revision"] == packet_now && ack["from"] == "READY", "{ack}");
    Ok(())
}

#[tokio::test]
async fn release_packet_refusals_over_raw_frames() -> Result<()> {
    let server = TestServer::start().await?;
    let room = clean_room(&server).await?;
    let (mut owner, _) = member(&server, "owner", &room).await?;
    owner.ok(json!({"type": "hold", "room": room, "reason": HOLD})).await?;
    let (_, _, before, packet) = release_state(&server, &room).await?;
    let release =
        |lane: &str, n: Value| json!({"type": "release_packet", "room": room, "lane": lane, "packet_revision": n});

    // A non-member: the same bytes as for a room that does not exist.
    let (_, token) = trustroom_server::admin::add_user(&server.store, "outsider").await?;
    let mut outsider = WsClient::connect(&server.url, &token).await?;
    let missing = uuid::Uuid::now_v7().to_string();
    let mut same = release("privacy", json!(packet));
    same["id"] = json!("same");
    let (existing, e) = outsider.request_text(same.clone()).await?;
    same["room"] = json!(missing);
    let (absent, _) = outsider.request_text(same).await?;
    ensure!(e["code"] == "not_found" && existing == absent, "{existing} vs {absent}");

    // Members without the capability, and agents.
    for role in ["reviewer/privacy", "reviewer/legal", "observer", "agent/chronology"] {
        let (mut c, _) = member(&server, role, &room).await?;
        c.refused(release("privacy", json!(packet)), "forbidden").await.with_context(|| role.to_string())?;
        c.close().await;
    }

    // Bad input: stable codes.
    owner.refused(json!({"type": "release_packet", "room": room, "lane": "privacy"}), "invalid").await?;
    owner.refused(release("privacy", json!("latest")), "invalid").await?;
    owner.refused(release("privacy", json!(-1)), "invalid").await?;
    owner.refused(release("everyone", json!(packet)), "invalid").await?;
    let m = refused_message(&mut owner, release("privacy", json!(packet + 100)), "invalid").await?;
    ensure!(m.contains("does not exist"), "{m}");
    // Boundary numbers: 2^63 and u64::MAX name no revision; 2^64 and a
    // float are not revisions at all.
    for n in [json!(1u64 << 63), json!(u64::MAX)] {
        let m = refused_message(&mut owner, release("privacy", n.clone()), "invalid").await?;
        ensure!(m.contains("does not exist"), "{n}: {m}");
    }
    let raw = format!(
        r#"{{"type":"release_packet","room":"{room}","lane":"privacy","packet_revision":18446744073709551616}}"#
    );
    let (_, e) = owner
        .request_text(
            serde_json::from_str::<Value>(&raw)
                .unwrap_or(json!({"type": "release_packet", "room": room, "lane": "privacy", "packet_revision": 1e30})),
        )
        .await?;
    ensure!(e["code"] == "invalid", "2^64: {e}");
    owner.refused(release("privacy", json!(1.5)), "invalid").await?;
    // Revision 0 is older than any packet: refused stale, the message bounded.
    let (_, e) = owner.request_text(release("privacy", json!(0))).await?;
    ensure!(matches!(e["code"].as_str(), Some("stale" | "invalid")) && e.to_string().len() < 8192, "0: {e}");
    let (state, reasons, after, _) = release_state(&server, &room).await?;
    ensure!(state == "held" && reasons == json!([HELD]) && after == before, "nothing changed: {state} {reasons}");
    let audited = server.refusals(&room, "release_packet", "forbidden").await?;
    ensure!(audited.len() == 4, "every refusal is audited: {}", audited.len());

    // An escalated room is read-only.
    owner.ok(json!({"type": "escalate", "room": room, "reason": "Direct handling by the incident commander."})).await?;
    owner.refused(release("privacy", json!(packet)), "read_only").await?;
    let (state, _, _, _) = release_state(&server, &room).await?;
    ensure!(state == "escalated", "{state}");
    Ok(())
}

/// After a restart the room is rebuilt from storage: a stale or blocked
/// `release_packet` is still refused with nothing changed (the hold and
/// its reason survive both the restart and the refusals), the release of
/// the current packet revision goes through, and releasing it again after
/// another restart gives the same signed manifest.
#[tokio::test]
async fn release_packet_after_a_restart_refuses_stale_and_blocked_then_releases_the_same_manifest() -> Result<()> {
    let mut server = TestServer::start().await?;
    let room = clean_room(&server).await?;
    let (mut owner, snap) = member(&server, "owner", &room).await?;
    let (mut privacy, _) = member(&server, "reviewer/privacy", &room).await?;
    let (sid, _) = section_of(&snap, "Summary")?;
    let o1 = privacy
        .ok(json!({"type": "object", "room": room, "section": sid, "kind": "exposure-scope", "blocking": true, "text": "A third tenant is not ruled out."}))
        .await?;
    owner.ok(json!({"type": "hold", "room": room, "reason": HOLD})).await?;
    let (_, _, _, reviewed) = release_state(&server, &room).await?;
    drop((owner, privacy));

    server.restart().await?;
    let (mut owner, _) = member(&server, "owner", &room).await?;
    let (mut privacy, _) = member(&server, "reviewer/privacy", &room).await?;
    let (state, reasons, before, packet) = release_state(&server, &room).await?;
    ensure!(state == "held" && reasons == json!([HELD]), "the hold survives the restart: {state} {reasons}");
    ensure!(packet == reviewed, "{packet} == {reviewed}");

    let release = |n: u64| json!({"type": "release_packet", "room": room, "lane": "privacy", "packet_revision": n});
    // Blocked by the open blocking objection: refused, nothing changes.
    let m = refused_message(&mut owner, release(packet), "conflict").await?;
    ensure!(m.contains("O-1"), "{m}");
    // Resolving it moves the packet on: the reviewed revision is stale.
    privacy
        .ok(json!({"type": "set_objection_status", "room": room, "objection": o1["created"], "status": "addressed"}))
        .await?;
    let m = refused_message(&mut owner, release(reviewed), "stale").await?;
    ensure!(m.contains(&format!("you reviewed packet rev {reviewed}")), "{m}");
    let (state, reasons, after, current) = release_state(&server, &room).await?;
    ensure!(state == "held" && reasons == json!([HELD]), "{state} {reasons}");
    ensure!(after == before + 1, "only the status change was added: {before} → {after}");

    // Still held: the hold is the owner's own, cleared with a rationale.
    let m = refused_message(&mut owner, release(current), "conflict").await?;
    ensure!(m.contains("blocked by 1 blocker(s): open hold H-1"), "{m}");
    owner.ok(clear_h1(&room)).await?;
    let after = after + 1;
    // The current packet revision releases, in one revision.
    let ack = owner.ok(release(current)).await?;
    ensure!(ack["packet_revision"] == current && ack["revision"] == after + 1, "{ack}");
    // Releasing the same packet revision to the same lane again, after a
    // restart, gives the same signed manifest (docs/release.md).
    drop(owner);
    server.restart().await?;
    let (state, _, last, _) = release_state(&server, &room).await?;
    ensure!(state == "released" && last == after + 1, "the release is kept: {state} rev {last}");
    let (mut owner, _) = member(&server, "owner", &room).await?;
    let again = owner.ok(release(current)).await?;
    ensure!(again["manifest_hash"] == ack["manifest_hash"] && again["from"] == "RELEASED", "{again} vs {ack}");
    Ok(())
}
