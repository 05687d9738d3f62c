//! 5. Idempotent resends and the three drop points; 6. bad bases and wrong lengths.

use super::*;

#[tokio::test]
async fn a_resend_returns_the_first_ack_and_applies_once() -> Result<()> {
    let server = TestServer::start().await?;
    let room = server.room();
    let client_id = ClientId::new();
    let owner_token = server.member("owner").token.clone();
    let mut owner = WsClient::connect_as(&server.url, &owner_token, Some(client_id)).await?;
    let snap = owner.join(&room).await?;
    let (sid, body) = section(&snap, "Summary")?;
    let rev = revision_of(&snap);
    let edit = insert_at(&room, &sid, rev, chars(&body), 0, "«once» ", 7);

    let first = owner.ok(edit.clone()).await?;
    assert_eq!(first["duplicate"], false);
    assert_eq!(ack_revision(&first)?, rev + 1);
    let second = owner.ok(edit.clone()).await?;
    assert_eq!(second["duplicate"], true, "the resend must be recognised");
    assert_eq!(second["revision"], first["revision"]);
    assert_eq!(server.stored_revision().await?, rev + 1, "the resend was applied again");

    // After a reconnect with the same client id: still a duplicate, and the
    // snapshot says which seq was applied.
    owner.close().await;
    let mut again = WsClient::connect_as(&server.url, &owner_token, Some(client_id)).await?;
    let snap = again.join(&room).await?;
    assert_eq!(snap["applied_seq"], 7);
    let third = again.ok(edit.clone()).await?;
    assert_eq!(third["duplicate"], true);
    assert_eq!(third["revision"], first["revision"]);
    let (_, text) = section(&snap, "Summary")?;
    assert_eq!(text, format!("«once» {body}"), "text changed exactly once");
    assert_eq!(text.matches("«once»").count(), 1);

    // The same seq from a different client id is a different request.
    let mut other = WsClient::connect(&server.url, &owner_token).await?;
    other.join(&room).await?;
    let snap_rev = revision_of(&snap);
    let edit2 = insert_at(&room, &sid, snap_rev, chars(&text), 0, "«other» ", 7);
    let fourth = other.ok(edit2).await?;
    assert_eq!(fourth["duplicate"], false);
    assert_eq!(ack_revision(&fourth)?, snap_rev + 1);
    Ok(())
}

#[tokio::test]
async fn a_resent_objection_returns_the_first_ack_with_its_created_id() -> Result<()> {
    let server = TestServer::start().await?;
    let room = server.room();
    let (mut privacy, snap) = server.joined("reviewer/privacy").await?;
    let (sid, _) = section(&snap, "Summary")?;
    let req = json!({"type": "object", "room": room, "section": sid, "kind": "wording", "text": "Once.", "seq": 3});
    let first = privacy.ok(req.clone()).await?;
    let second = privacy.ok(req).await?;
    assert_eq!(second["duplicate"], true);
    assert_eq!(second["revision"], first["revision"]);
    let (_, after) = server.joined("observer").await?;
    assert_eq!(after["state"]["objections"].as_object().map(|m| m.len()), Some(6), "the objection was raised twice");
    assert_eq!(second["created"], first["created"], "a resend must return the first ack, created id included");
    Ok(())
}

#[tokio::test]
async fn the_three_drop_points_give_the_same_text_as_no_drop() -> Result<()> {
    let server = TestServer::start().await?;
    let room = server.room();
    let owner_token = server.member("owner").token.clone();
    let (mut owner, _) = server.joined("owner").await?;
    let (mut watcher, _) = server.joined("observer").await?;
    let base_body = "Base — ünïcode 😀 text\nsecond line ✓";
    let mut ids = Vec::new();
    for title in ["Drop: none", "Drop: before receipt", "Drop: after commit", "Drop: after ack"] {
        let ack = owner.ok(json!({"type": "add_section", "room": room, "title": title, "body": base_body})).await?;
        ids.push(ack["created"].as_str().context("section id")?.to_string());
    }
    let len = chars(base_body);
    // Insert after "Base — " and delete "ünïcode".
    let op = json!([7, "«inserted ☃»", -7, len - 14]);
    let wire: WireOp = serde_json::from_value(op.clone())?;
    let expected = TextOp::from_wire(&wire, Default::default())?.apply(base_body)?;
    let edit = |section: &str, base: u64, seq: u64| json!({"type": "edit", "room": room, "section": section, "base": base, "op": op, "seq": seq});

    // No drop.
    let snap = owner.join(&room).await?;
    let base = revision_of(&snap);
    owner.ok(edit(&ids[0], base, 1)).await?;

    // Before the server receives: the connection dies with nothing sent; resend on a new one.
    let c_before = ClientId::new();
    let lost = WsClient::connect_as(&server.url, &owner_token, Some(c_before)).await?;
    drop(lost);
    let mut fresh = WsClient::connect_as(&server.url, &owner_token, Some(c_before)).await?;
    let snap = fresh.join(&room).await?;
    ensure!(snap["applied_seq"].is_null(), "nothing was applied for this client yet");
    let ack = fresh.ok(edit(&ids[1], revision_of(&snap), 1)).await?;
    assert_eq!(ack["duplicate"], false);

    // After commit, before the ack: send, disconnect without reading; reconnect, resend.
    let c_commit = ClientId::new();
    let mut doomed = WsClient::connect_as(&server.url, &owner_token, Some(c_commit)).await?;
    let snap = doomed.join(&room).await?;
    let base = revision_of(&snap);
    doomed.send_request(edit(&ids[2], base, 1)).await?;
    drop(doomed);
    let committed = watcher
        // Events carry the id the server bound the claimed one to.
        .wait_for(
            |v| {
                v["type"] == "event"
                    && v["rev"]["client"]["client"] == json!(ClientId::bound(server.member("owner").user, c_commit))
            },
            T,
        )
        .await
        .context("the edit sent before the disconnect was not committed")?;
    let mut back = WsClient::connect_as(&server.url, &owner_token, Some(c_commit)).await?;
    let snap = back.join(&room).await?;
    assert_eq!(snap["applied_seq"], 1, "the snapshot tells the client its seq 1 landed");
    let ack = back.ok(edit(&ids[2], base, 1)).await?;
    assert_eq!(ack["duplicate"], true, "resend after commit must be a duplicate");
    assert_eq!(ack["revision"], committed["rev"]["revision"]);

    // After the ack: the answer was read, then the connection died; a resend is harmless.
    let c_ack = ClientId::new();
    let mut acked = WsClient::connect_as(&server.url, &owner_token, Some(c_ack)).await?;
    let snap = acked.join(&room).await?;
    let base = revision_of(&snap);
    let first = acked.ok(edit(&ids[3], base, 1)).await?;
    drop(acked);
    let mut back = WsClient::connect_as(&server.url, &owner_token, Some(c_ack)).await?;
    back.join(&room).await?;
    let ack = back.ok(edit(&ids[3], base, 1)).await?;
    assert_eq!(ack["duplicate"], true);
    assert_eq!(ack["revision"], first["revision"]);

    let (_, snap) = server.joined("observer").await?;
    for title in ["Drop: none", "Drop: before receipt", "Drop: after commit", "Drop: after ack"] {
        assert_eq!(section(&snap, title)?.1, expected, "{title}");
    }
    let edits = server.stored_revisions().await?.iter().filter(|r| r.change.kind_name() == "section_edited").count();
    assert_eq!(edits, 4, "exactly one stored edit per section");
    Ok(())
}

#[tokio::test]
async fn stale_future_and_wrong_length_edits_are_invalid_and_store_nothing() -> Result<()> {
    let server = TestServer::start().await?;
    let room = server.room();
    let (mut owner, snap) = server.joined("owner").await?;
    let (mut legal, _) = server.joined("reviewer/legal").await?;
    let (sid, body) = section(&snap, "Affected accounts")?;
    let r0 = revision_of(&snap);
    let len0 = chars(&body);

    // The legal reviewer's edit lands first.
    let ack = legal.ok(insert_at(&room, &sid, r0, len0, 0, "Draft: ", 1)).await?;
    let r1 = ack_revision(&ack)?;
    let len1 = len0 + chars("Draft: ");
    let stored = server.stored_revisions().await?.len();
    let audited = server.audit_chain(&room).await?.len();

    let bad = [
        // From the future: a revision the server never had (`stale`, as the
        // ErrorCode docs define it; the message tells the client to resync).
        (insert_at(&room, &sid, r1 + 1, len1, 0, "x", 1), "stale"),
        (insert_at(&room, &sid, r1 + 1000, len1, 0, "x", 2), "stale"),
        // Stale base with the current length: the op does not fit the section at r0.
        (insert_at(&room, &sid, r0, len1, len1, "x", 3), "invalid"),
        // Wrong lengths at the current revision.
        (json!({"type": "edit", "room": room, "section": sid, "base": r1, "op": [len1 + 3, "x"], "seq": 4}), "invalid"),
        (json!({"type": "edit", "room": room, "section": sid, "base": r1, "op": [len1 - 1, "x"], "seq": 5}), "invalid"),
        (json!({"type": "edit", "room": room, "section": sid, "base": r1, "op": [-(len1 + 1)], "seq": 6}), "invalid"),
        (json!({"type": "edit", "room": room, "section": sid, "base": r1, "op": [], "seq": 7}), "invalid"),
        (json!({"type": "edit", "room": room, "section": sid, "base": r1, "op": [0, "x", len1], "seq": 8}), "invalid"),
        (json!({"type": "edit", "room": room, "section": sid, "base": r1, "op": ["", len1], "seq": 9}), "invalid"),
    ];
    for (req, code) in &bad {
        owner.refused(req.clone(), code).await?;
    }
    assert_eq!(server.stored_revisions().await?.len(), stored, "a refused edit was stored");
    let chain = server.audit_chain(&room).await?;
    let new_refusals = chain[audited..].iter().filter(|e| e.kind == "refused" && e.detail["request"] == "edit").count();
    assert_eq!(new_refusals, bad.len(), "every refused edit is audited");

    // A stale base whose op fits the section at that base is transformed and accepted.
    let ack = owner.ok(insert_at(&room, &sid, r0, len0, len0, " (end)", 10)).await?;
    assert_eq!(ack_revision(&ack)?, r1 + 1);
    let (_, after) = server.joined("observer").await?;
    assert_eq!(section(&after, "Affected accounts")?.1, format!("Draft: {body} (end)"));
    Ok(())
}
