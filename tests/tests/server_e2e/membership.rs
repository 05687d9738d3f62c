//! 7. Membership changes while the server runs; 8. catch-up, presence, release decisions, revoked tokens.

use super::*;

#[tokio::test]
async fn member_add_and_remove_take_effect_at_once() -> Result<()> {
    let server = TestServer::start().await?;
    let room = server.room();
    let (mut owner, snap) = server.joined("owner").await?;
    let (sid, body) = section(&snap, "Summary")?;
    let a1 = annex_id(&snap, "A1")?;
    let (newcomer_id, token) = admin::add_user(&server.store, "new.reviewer").await?;
    let mut newcomer = WsClient::connect(&server.url, &token).await?;
    newcomer.refused(json!({"type": "join", "room": room}), "not_found").await?;

    admin::add_member(
        &server.store,
        server.seed.room,
        "new.reviewer",
        Role::Reviewer { discipline: Discipline::Legal },
    )
    .await?;
    let ev = owner.wait_for(|v| v["type"] == "event" && v["rev"]["change"]["kind"] == "member_added", T).await?;
    assert_eq!(ev["rev"]["change"]["member"]["user"], newcomer_id.to_string().as_str());
    // Let in at once, on the connection that was refused a moment ago.
    let snap = newcomer.join(&room).await?;
    assert_eq!(snap["me"]["role"], "reviewer");
    assert_eq!(snap["me"]["discipline"], "legal");
    assert_eq!(snap["me"]["annex_access"], json!([]));
    let rooms = newcomer.ok(json!({"type": "rooms"})).await?;
    assert_eq!(rooms["rooms"][0]["id"], room.as_str());
    let rev = revision_of(&snap);
    let (_, body_now) = section(&snap, "Summary")?;
    assert_eq!(body_now, body);
    newcomer.ok(insert_at(&room, &sid, rev, chars(&body), 0, "New: ", 1)).await?;
    newcomer.refused(json!({"type": "view_annex", "room": room, "annex": a1}), "forbidden").await?;

    admin::remove_member(&server.store, server.seed.room, "new.reviewer").await?;
    let removed = newcomer.wait_for(|v| v["type"] == "removed", T).await?;
    assert_eq!(removed["room"], room.as_str());
    owner.wait_for(|v| v["type"] == "event" && v["rev"]["change"]["kind"] == "member_removed", T).await?;
    let before = server.stored_revision().await?;
    for req in [
        json!({"type": "join", "room": room}),
        insert_at(&room, &sid, before, chars(&body) + 5, 0, "Again: ", 2),
        json!({"type": "view_annex", "room": room, "annex": a1}),
        json!({"type": "object", "room": room, "section": sid, "kind": "wording", "text": "x", "seq": 3}),
    ] {
        newcomer.refused(req, "not_found").await?;
    }
    let rooms = newcomer.ok(json!({"type": "rooms"})).await?;
    assert_eq!(rooms["rooms"], json!([]));
    assert_eq!(server.stored_revision().await?, before, "a removed member changed the room");
    // No event after the removal reaches the removed member.
    owner.ok(insert_at(&room, &sid, before, chars(&body) + 5, 0, "Owner: ", 5)).await?;
    // The event went out before the owner's ack; a ping answered after that
    // would queue behind it if the removed member were still subscribed.
    newcomer.ok(json!({"type": "ping"})).await?;
    ensure!(
        !newcomer.pending().any(|v| v["type"] == "event" && v["rev"]["revision"].as_u64() > Some(before)),
        "a removed member still receives events"
    );

    let chain = server.audit_chain(&room).await?;
    ensure!(chain.iter().any(|e| e.kind == "change.member_added" && e.actor == "admin"));
    ensure!(chain.iter().any(|e| e.kind == "change.member_removed" && e.actor == "admin"));
    Ok(())
}

#[tokio::test]
async fn rejoin_with_since_replays_exactly_the_missed_events_redacted() -> Result<()> {
    let server = TestServer::start().await?;
    let room = server.room();
    let (mut owner, snap) = server.joined("owner").await?;
    let (sid, body) = section(&snap, "Summary")?;
    let (observer, seen) = server.joined("observer").await?;
    let since = revision_of(&seen);
    observer.close().await;

    let mut len = chars(&body);
    for i in 0..3 {
        let text = format!(" missed {i} ✓");
        let rev = since + i;
        owner
            .ok(json!({"type": "edit", "room": room, "section": sid, "base": rev, "op": [len, text], "seq": i + 1}))
            .await?;
        len += chars(&text);
    }
    admin::add_annex(
        &server.store,
        server.seed.room,
        admin::NewAnnex {
            title: "Missed annex".into(),
            classification: "impact-tallies".into(),
            content: "CANARY-MISSED-0a1b2c".into(),
            sensitive: vec!["CANARY-MISSED".into()],
            allow: vec!["sam.reyes".into()],
        },
    )
    .await?;
    let now = server.stored_revision().await?;
    assert_eq!(now, since + 4);

    let mut back = server.client("observer").await?;
    let answer = back.ok(json!({"type": "join", "room": room, "since": since})).await?;
    assert_eq!(answer["revision"], now);
    let replayed = back.take_pending();
    ensure!(replayed.iter().all(|v| v["type"] == "event"), "catch-up must not send a snapshot: {replayed:?}");
    let revs: Vec<u64> = replayed.iter().filter_map(|v| v["rev"]["revision"].as_u64()).collect();
    assert_eq!(revs, (since + 1..=now).collect::<Vec<_>>(), "exactly the missed revisions, in order");
    let annex = &replayed[3]["rev"]["change"]["annex"];
    ensure!(annex.get("content").is_none() && annex["sensitive"] == json!([]), "catch-up event not redacted: {annex}");
    assert_no_canary(back.captured(), &["CANARY-MISSED"], "observer catching up");

    // Applying the replayed events to the old snapshot gives the current state.
    let mut state: RoomState = serde_json::from_value(seen["state"].clone())?;
    for v in &replayed {
        let rev: trustroom_shared::change::Revision = serde_json::from_value(v["rev"].clone())?;
        apply(&mut state, &rev).map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let (_, fresh) = server.joined("observer").await?;
    assert_eq!(serde_json::to_value(&state)?, fresh["state"], "snapshot + catch-up events != fresh snapshot");
    Ok(())
}

#[tokio::test]
async fn cursors_are_broadcast_to_others_and_not_stored() -> Result<()> {
    let server = TestServer::start().await?;
    let room = server.room();
    let (mut owner, snap) = server.joined("owner").await?;
    let (mut observer, _) = server.joined("observer").await?;
    let (sid, body) = section(&snap, "Summary")?;
    let rev = revision_of(&snap);
    observer.ok(json!({"type": "cursor", "room": room, "section": sid, "pos": 3, "anchor": 7})).await?;
    let p = owner.wait_for(|v| v["type"] == "presence", T).await?;
    let presence = &p["presence"];
    ensure!(
        presence["name"] == "ari.observer"
            && presence["pos"] == 3
            && presence["anchor"] == 7
            && presence["section"] == sid.as_str()
    );
    ensure!(presence["client"] == json!(observer.client_id));
    observer
        .refused(json!({"type": "cursor", "room": room, "section": sid, "pos": chars(&body) + 1}), "invalid")
        .await?;
    // A joiner sees current cursors in its snapshot.
    let (_, snap) = server.joined("reviewer/legal").await?;
    ensure!(
        snap["presence"].as_array().is_some_and(|p| p.iter().any(|c| c["name"] == "ari.observer")),
        "snapshot presence"
    );
    observer.ok(json!({"type": "leave", "room": room})).await?;
    let gone = owner.wait_for(|v| v["type"] == "presence_gone", T).await?;
    ensure!(gone["client"] == json!(observer.client_id));
    ensure!(!observer.pending().any(|v| v["type"] == "presence"), "no echo of one's own cursor");
    assert_eq!(server.stored_revision().await?, rev, "cursors are not revisions");
    Ok(())
}

#[tokio::test]
async fn release_decisions_and_escalation_make_the_room_read_only() -> Result<()> {
    let server = TestServer::start().await?;
    let room = server.room();
    let (mut owner, snap) = server.joined("owner").await?;
    let (mut sam, _) = server.joined("reviewer/support-engineering").await?;
    let (sid, body) = section(&snap, "Summary")?;
    let rev = revision_of(&snap);

    owner.refused(json!({"type": "release", "room": room, "lane": "privacy"}), "conflict").await?;
    let ack = owner.ok(json!({"type": "mark_ready", "room": room})).await?;
    assert_eq!(ack_revision(&ack)?, rev + 1);
    // Two blocking objections are open: release is refused with the reason.
    let refused = owner.refused(json!({"type": "release", "room": room, "lane": "privacy"}), "conflict").await?;
    ensure!(refused["message"].as_str().is_some_and(|m| m.contains("blocker")), "{refused}");
    let ack = owner
        .ok(json!({"type": "escalate", "room": room, "reason": "Third tenant may be involved; direct handling."}))
        .await?;
    let escalated = ack_revision(&ack)?;
    assert_eq!(escalated, rev + 2);

    owner.refused(json!({"type": "edit", "room": room, "section": sid, "base": escalated, "op": [chars(&body), "x"], "seq": 1}), "read_only").await?;
    sam.refused(
        json!({"type": "object", "room": room, "section": sid, "kind": "other", "text": "late", "seq": 1}),
        "read_only",
    )
    .await?;
    owner.refused(json!({"type": "hold", "room": room, "reason": "too late"}), "read_only").await?;
    // Reading still works, annex reads included (audited).
    let a3 = annex_id(&snap, "A3")?;
    let content = sam.ok(json!({"type": "view_annex", "room": room, "annex": a3})).await?;
    ensure!(content["content"].as_str().is_some_and(|c| c.contains(CANARIES[2])));
    let (_, after) = server.joined("observer").await?;
    assert_eq!(revision_of(&after), escalated);
    assert_eq!(after["state"]["release"]["state"], "escalated");
    assert_eq!(section(&after, "Summary")?.1, body);
    let chain = server.audit_chain(&room).await?;
    assert_eq!(chain.iter().filter(|e| e.kind == "refused" && e.detail["code"] == "read_only").count(), 3);
    Ok(())
}

#[tokio::test]
async fn revoking_a_token_closes_open_connections_at_once() -> Result<()> {
    let server = TestServer::start().await?;
    let (mut observer, _) = server.joined("observer").await?;
    let token = server.member("observer").token.clone();
    admin::revoke_user(&server.store, "ari.observer").await?;
    let closing = observer.wait_for(|v| v["type"] == "closing", T).await?;
    assert_eq!(closing["code"], "unauthenticated");
    let refused = WsClient::connect(&server.url, &token).await;
    let err = refused.err().context("a revoked token must not connect")?;
    ensure!(err.to_string().contains("unauthenticated"), "{err:#}");
    Ok(())
}
