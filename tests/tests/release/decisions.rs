//! Release decisions: every role's decisions, refusals for each kind of blocker, staleness after a change, escalation.

use super::*;

#[tokio::test]
async fn every_decision_by_every_role() -> Result<()> {
    let server = TestServer::start().await?;
    let room = clean_room(&server).await?;
    let (mut owner, _) = member(&server, "owner", &room).await?;
    let privacy = server.member("reviewer/privacy").user.to_string();
    let decisions = [
        json!({"type": "hold", "room": room, "reason": "not mine to hold"}),
        json!({"type": "clear_hold", "room": room, "hold": 1, "rationale": "not mine to clear"}),
        json!({"type": "mark_ready", "room": room}),
        json!({"type": "release", "room": room, "lane": "privacy"}),
        json!({"type": "escalate", "room": room, "reason": "not mine to escalate"}),
        json!({"type": "set_release_policy", "room": room, "disciplines": ["privacy"]}),
    ];
    for role in ["reviewer/privacy", "reviewer/legal", "agent/chronology", "agent/trace-keeper", "observer"] {
        let (mut c, _) = member(&server, role, &room).await?;
        for d in &decisions {
            c.refused(d.clone(), "forbidden").await.with_context(|| format!("{role}: {d}"))?;
        }
        c.close().await;
    }
    // A downstream member (no join: it may not) decides nothing and co-signs nothing.
    let (_, token) = trustroom_server::admin::add_user(&server.store, "dana.privacy-intake").await?;
    let lane = trustroom_shared::role::Role::Downstream { lane: trustroom_shared::release::Lane::Privacy };
    trustroom_server::admin::add_member(&server.store, room.parse()?, "dana.privacy-intake", lane).await?;
    let mut downstream = WsClient::connect(&server.url, &token).await?;
    let cosign_req = json!({"type": "cosign", "room": room, "content_hash": "0".repeat(64), "lane": "privacy"});
    for d in decisions.iter().chain([&cosign_req]) {
        downstream.refused(d.clone(), "forbidden").await.with_context(|| format!("downstream: {d}"))?;
    }
    downstream.close().await;
    // Co-signing: agents never, owners sign by releasing, observers only when named.
    for role in ["agent/chronology", "owner", "observer"] {
        let (mut c, _) = member(&server, role, &room).await?;
        let answer = cosign(&mut c, &room, &server).await?;
        ensure!(error_code(&answer) == "forbidden", "{role} co-signed: {answer}");
        c.close().await;
    }
    let after = snapshot(&server, &room).await?;
    ensure!(after["state"]["release"]["state"] == "drafting", "nothing changed: {}", after["state"]["release"]);
    ensure!(after["state"]["cosignatures"].as_array().is_some_and(Vec::is_empty));
    let refusals = server
        .audit_chain(&room)
        .await?
        .into_iter()
        .filter(|e| e.kind == "refused" && e.detail["code"] == "forbidden")
        .count();
    assert_eq!(refusals, 6 * 6 + 1 + 3, "every refusal is audited");

    // The owner may make every decision.
    owner.ok(json!({"type": "hold", "room": room, "reason": "waiting for the trace keeper"})).await?;
    owner.ok(json!({"type": "clear_hold", "room": room, "hold": 1, "rationale": "The trace keeper answered."})).await?;
    owner
        .ok(json!({"type": "set_release_policy", "room": room, "members": [privacy], "disciplines": ["legal"]}))
        .await?;
    owner.ok(json!({"type": "set_release_policy", "room": room})).await?;
    owner.ok(json!({"type": "mark_ready", "room": room})).await?;
    let ack = owner.ok(json!({"type": "release", "room": room, "lane": "account-governance"})).await?;
    ensure!(
        ack["created"].as_str().is_some_and(|h| h.len() == 64),
        "the release answers with the manifest hash: {ack}"
    );
    owner.ok(json!({"type": "escalate", "room": room, "reason": "Direct handling by the incident commander."})).await?;
    let after = snapshot(&server, &room).await?;
    ensure!(after["state"]["release"]["state"] == "escalated");
    Ok(())
}

#[tokio::test]
async fn release_is_refused_with_each_kind_of_blocker() -> Result<()> {
    let server = TestServer::start().await?;
    let room = clean_room(&server).await?;
    let (mut owner, snap) = member(&server, "owner", &room).await?;
    let (mut privacy, _) = member(&server, "reviewer/privacy", &room).await?;
    let (sid, _) = section_of(&snap, "Summary")?;
    let release = json!({"type": "release", "room": room, "lane": "privacy"});

    // 1. An open blocking objection.
    let o1 = privacy
        .ok(json!({"type": "object", "room": room, "section": sid, "kind": "exposure-scope", "blocking": true, "text": "A third tenant is not ruled out."}))
        .await?;
    owner.ok(json!({"type": "mark_ready", "room": room})).await?;
    let m = refused_message(&mut owner, release.clone(), "conflict").await?;
    ensure!(m.contains("open blocking objection O-1"), "{m}");
    privacy
        .ok(json!({"type": "set_objection_status", "room": room, "objection": o1["created"], "status": "addressed"}))
        .await?;

    // 2–4. Packet statements: unlinked contested, no evidence, unknown annex.
    for (paragraph, expected) in [
        ("[contested: O-1] Only one other tenant was visible.", "links to no open objection"),
        ("The recording may have been seen by a third party.", "has no evidence and no contested label"),
        ("[restricted] Replay references are in [[annex:A9]].", "references annex A9, which does not exist"),
    ] {
        append(&server, &mut owner, &room, paragraph).await?;
        owner.ok(json!({"type": "mark_ready", "room": room})).await?;
        let m = refused_message(&mut owner, release.clone(), "conflict").await?;
        ensure!(m.contains(expected), "{paragraph:?}: {m}");
        set_body(&server, &mut owner, &room, "Summary", CLEAN).await?;
    }

    // 5. The co-sign policy.
    owner.ok(json!({"type": "set_release_policy", "room": room, "disciplines": ["privacy"]})).await?;
    owner.ok(json!({"type": "mark_ready", "room": room})).await?;
    let m = refused_message(&mut owner, release.clone(), "conflict").await?;
    ensure!(m.contains("co-signature from a privacy reviewer is missing"), "{m}");

    // A contested statement linked to an accepted-residual objection (with
    // its rationale) is not a blocker; it travels in the manifest.
    let o2 = privacy
        .ok(json!({"type": "object", "room": room, "section": sid, "kind": "wording", "text": "\"exposure\" or \"visibility\"?"}))
        .await?;
    owner
        .ok(json!({"type": "set_objection_status", "room": room, "objection": o2["created"], "status": "accepted-residual", "rationale": "The privacy lane settles the term."}))
        .await?;
    append(&server, &mut owner, &room, "[contested: O-2] The exposure lasted 11 minutes.").await?;
    ensure!(ok(&cosign(&mut privacy, &room, &server).await?).is_ok());
    owner.ok(json!({"type": "mark_ready", "room": room})).await?;
    let r = readiness(&mut owner, &room).await?;
    ensure!(r["blockers"].as_array().is_some_and(Vec::is_empty), "clear now: {}", r["blockers"]);
    ensure!(r["boundary_checked"] == true);
    owner.ok(release.clone()).await?;
    let history = owner.ok(json!({"type": "manifests", "room": room})).await?;
    let body = &history["manifests"][0]["manifest"]["body"];
    ensure!(body["accepted_residual"][0]["code"] == "O-2", "{body}");
    ensure!(body["accepted_residual"][0]["rationale"] == "The privacy lane settles the term.");
    ensure!(body["cosigners"][0]["name"] == "priya.natarajan", "{}", body["cosigners"]);

    // 6. Annex-restricted detail in the packet. Nobody can type it in (the
    //    ingress gate refuses it); it gets there when a pattern is declared
    //    after the text exists: held automatically, and the hold reason,
    //    the refusal and the readiness record never repeat it.
    let late = "acct-5150-ZQX";
    owner
        .refused(json!({"type": "object", "room": room, "section": sid, "kind": "other", "text": format!("Do not name {PATTERN} here.")}), "restricted")
        .await?;
    let before = snapshot(&server, &room).await?;
    append(&server, &mut owner, &room, &format!("[verified: TR-2201] The tenant is {late}.")).await?;
    declare_late_pattern(&server, &room, late).await?;
    let mut held = snapshot(&server, &room).await?;
    for _ in 0..50 {
        if held["state"]["release"]["state"] == "held" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        held = snapshot(&server, &room).await?;
    }
    ensure!(held["state"]["release"]["state"] == "held", "auto-hold: {}", held["state"]["release"]);
    let reason = held["state"]["release"]["reasons"][0].as_str().unwrap_or_default().to_string();
    ensure!(reason.contains("room check failed: annex A2 sensitive detail in section \"Summary\""), "{reason}");
    ensure!(held["state"]["release"]["by"] == json!(uuid::Uuid::nil()), "decided by the system");
    ensure!(held["state"]["last_release"]["superseded_at"].is_u64(), "the change superseded the release");
    // Its hold is in the register, and no owner marks ready past it.
    let ready = refused_message(&mut owner, json!({"type": "mark_ready", "room": room}), "conflict").await?;
    ensure!(ready.contains("the annex boundary check"), "{ready}");
    let packet = held["state"]["content_revision"].as_u64().unwrap_or(0);
    let m = refused_message(
        &mut owner,
        json!({"type": "release_packet", "room": room, "lane": "privacy", "packet_revision": packet}),
        "conflict",
    )
    .await?;
    ensure!(m.contains("annex A2 sensitive detail in \"Summary\"") && m.contains("open hold H-"), "{m}");
    let r = readiness(&mut owner, &room).await?;
    for text in [m.as_str(), ready.as_str(), reason.as_str(), &r.to_string()] {
        ensure!(!text.to_lowercase().contains(&late.to_lowercase()), "the pattern leaked: {text}");
    }
    // Removing the text is allowed (it takes restricted detail out).
    set_body(&server, &mut owner, &room, "Summary", &section_of(&before, "Summary")?.1).await?;
    Ok(())
}

#[tokio::test]
async fn release_is_refused_after_an_edit_since_ready() -> Result<()> {
    let server = TestServer::start().await?;
    let room = clean_room(&server).await?;
    let (mut owner, _) = member(&server, "owner", &room).await?;
    let (mut legal, _) = member(&server, "reviewer/legal", &room).await?;
    let ready = owner.ok(json!({"type": "mark_ready", "room": room})).await?;
    let edited = append(&server, &mut legal, &room, "[verified: SL-0104] The session ended at 09:28.").await?;
    ensure!(edited > revision(&ready));
    let m = refused_message(&mut owner, json!({"type": "release", "room": room, "lane": "privacy"}), "stale").await?;
    ensure!(m.contains(&format!("changed at rev {edited}")), "{m}");
    // The release-rules room check held the room automatically, with its reason.
    let r = readiness(&mut owner, &room).await?;
    ensure!(r["release"]["state"] == "HELD", "{}", r["release"]);
    ensure!(
        r["release"]["line"]
            .as_str()
            .is_some_and(|l| l.contains("release rules") && l.contains(&format!("rev {edited}"))),
        "{}",
        r["release"]
    );
    // Marking it ready again (after looking) allows the release.
    ready_and_release(&mut owner, &room, "privacy").await?;
    Ok(())
}

#[tokio::test]
async fn a_later_change_makes_the_release_stale_everywhere() -> Result<()> {
    let server = TestServer::start().await?;
    let room = clean_room(&server).await?;
    let (mut owner, _) = member(&server, "owner", &room).await?;
    let (mut sam, _) = member(&server, "reviewer/support-engineering", &room).await?;
    ready_and_release(&mut owner, &room, "product-security").await?;
    let released = snapshot(&server, &room).await?;
    let n = released["state"]["content_revision"].as_u64().context("content_revision")?;
    ensure!(released["state"]["release"]["revision"] == n, "the release binds the packet revision");
    ensure!(released["state"]["last_release"]["superseded_at"].is_null());
    let r = readiness(&mut sam, &room).await?;
    ensure!(r["release"]["line"] == format!("RELEASED rev {n} (product-security lane)"), "{}", r["release"]);

    let m = append(&server, &mut sam, &room, "[verified: SL-0093] A second refresh at 09:21.").await?;
    append(&server, &mut sam, &room, "[verified: SL-0095] A third refresh at 09:24.").await?;
    let after = snapshot(&server, &room).await?;
    ensure!(
        after["state"]["last_release"]["superseded_at"] == m,
        "the first change after the release: {}",
        after["state"]["last_release"]
    );
    let line = format!("RELEASED rev {n} — superseded at rev {m}");
    let r = readiness(&mut sam, &room).await?;
    ensure!(r["release"]["line"].as_str().is_some_and(|l| l.starts_with(&line)), "{}", r["release"]);
    // A new release is needed: the old one cannot simply be repeated.
    let msg = refused_message(&mut owner, json!({"type": "release", "room": room, "lane": "privacy"}), "stale").await?;
    ensure!(msg.contains("mark it ready again"), "{msg}");
    // Holding after a release is allowed; the stale release stays visible.
    owner.ok(json!({"type": "hold", "room": room, "reason": "new evidence"})).await?;
    let r = readiness(&mut sam, &room).await?;
    ensure!(r["release"]["line"] == format!("HELD: H-1: new evidence · last release: {line}"), "{}", r["release"]);
    owner
        .ok(json!({"type": "clear_hold", "room": room, "hold": 1, "rationale": "The evidence is in the packet."}))
        .await?;
    ready_and_release(&mut owner, &room, "privacy").await?;
    let history = owner.ok(json!({"type": "manifests", "room": room})).await?;
    ensure!(history["manifests"].as_array().map(Vec::len) == Some(2), "manifest history is kept");
    Ok(())
}

#[tokio::test]
async fn escalation_makes_the_room_read_only_for_everyone() -> Result<()> {
    let server = TestServer::start().await?;
    let room = clean_room(&server).await?;
    let (mut owner, snap) = member(&server, "owner", &room).await?;
    let (mut privacy, _) = member(&server, "reviewer/privacy", &room).await?;
    let (sid, body) = section_of(&snap, "Summary")?;
    let o = privacy
        .ok(json!({"type": "object", "room": room, "section": sid, "kind": "other", "text": "Before escalation."}))
        .await?;
    let ack = owner
        .ok(json!({"type": "escalate", "room": room, "reason": "A third tenant may be involved; direct handling."}))
        .await?;
    let rev = revision(&ack);
    let chars = body.chars().count();
    for (who, req) in [
        ("owner", json!({"type": "edit", "room": room, "section": sid, "base": rev, "op": [chars, " more"]})),
        ("owner", json!({"type": "add_section", "room": room, "title": "Late"})),
        ("owner", json!({"type": "hold", "room": room, "reason": "too late"})),
        ("owner", json!({"type": "mark_ready", "room": room})),
        ("owner", json!({"type": "release", "room": room, "lane": "privacy"})),
        ("owner", json!({"type": "escalate", "room": room, "reason": "again"})),
        ("owner", json!({"type": "set_release_policy", "room": room, "disciplines": ["legal"]})),
        (
            "reviewer/privacy",
            json!({"type": "edit", "room": room, "section": sid, "base": rev, "op": [chars, " more"]}),
        ),
        ("reviewer/privacy", json!({"type": "object", "room": room, "section": sid, "kind": "other", "text": "late"})),
        ("reviewer/privacy", json!({"type": "reply", "room": room, "objection": o["created"], "text": "late"})),
        (
            "reviewer/legal",
            json!({"type": "set_objection_status", "room": room, "objection": o["created"], "status": "addressed"}),
        ),
        ("agent/chronology", json!({"type": "object", "room": room, "section": sid, "kind": "other", "text": "late"})),
    ] {
        let (mut c, _) = member(&server, who, &room).await?;
        c.refused(req.clone(), "read_only").await.with_context(|| format!("{who}: {req}"))?;
        c.close().await;
    }
    let answer = cosign(&mut privacy, &room, &server).await?;
    ensure!(error_code(&answer) == "read_only", "{answer}");
    // Reading still works: readiness, export, manifests, annex views.
    let r = readiness(&mut privacy, &room).await?;
    ensure!(r["release"]["state"] == "ESCALATED", "{}", r["release"]);
    export(&mut privacy, &room, None, "json").await?;
    privacy.ok(json!({"type": "manifests", "room": room})).await?;
    let after = snapshot(&server, &room).await?;
    ensure!(trustroom_e2e::revision_of(&after) == rev, "nothing changed after the escalation");
    let chain = server.audit_chain(&room).await?;
    let escalation = chain
        .iter()
        .find(|e| e.kind == "change.release_changed" && e.detail["decision"] == "escalate")
        .context("no escalation entry")?;
    ensure!(escalation.detail["reason"] == "A third tenant may be involved; direct handling.");
    ensure!(
        escalation.detail["content_hash"].as_str().is_some_and(|h| h.len() == 64),
        "the handoff record names the packet"
    );
    Ok(())
}
