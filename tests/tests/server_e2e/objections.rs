//! 3. Objections, replies and status changes.

use super::*;

#[tokio::test]
async fn objections_replies_and_status_changes() -> Result<()> {
    let server = TestServer::start().await?;
    let room = server.room();
    let (mut owner, snap) = server.joined("owner").await?;
    let (mut privacy, _) = server.joined("reviewer/privacy").await?;
    let (mut legal, _) = server.joined("reviewer/legal").await?;
    let (mut agent, _) = server.joined("agent/chronology").await?;
    let (mut observer, _) = server.joined("observer").await?;
    let (scope, scope_body) = section(&snap, "Exposure scope")?;
    let rev0 = revision_of(&snap);

    // A reviewer raises a blocking objection anchored to a quote.
    let ack = privacy
        .ok(json!({"type": "object", "room": room, "section": scope, "kind": "exposure-scope", "blocking": true,
                   "text": "Account tiers are tenant data — say so.", "quote": "account tiers", "seq": 1}))
        .await?;
    let o6 = ack["created"].as_str().context("created id")?.to_string();
    assert_eq!(ack_revision(&ack)?, rev0 + 1);
    assert_eq!(ack["duplicate"], false);
    for c in [&mut owner, &mut observer, &mut privacy] {
        let ev = c.wait_for_revision(rev0 + 1).await?;
        let o = &ev["rev"]["change"]["objection"];
        ensure!(ev["rev"]["change"]["kind"] == "objection_raised");
        ensure!(o["id"] == o6.as_str() && o["number"] == 6 && o["blocking"] == true && o["status"] == "open");
        ensure!(o["anchor"]["quote"] == "account tiers" && o["anchor"]["section"] == scope.as_str());
        ensure!(o["author"] == server.member("reviewer/privacy").user.to_string().as_str());
    }

    // The owner replies; agents may object and reply too.
    let ack = owner.ok(json!({"type": "reply", "room": room, "objection": o6, "text": "Agreed — tiers are tenant data.", "seq": 1})).await?;
    assert_eq!(ack_revision(&ack)?, rev0 + 2);
    let reply_id = ack["created"].as_str().context("reply id")?.to_string();
    let ack =
        agent.ok(json!({"type": "reply", "room": room, "objection": o6, "text": "Linked SL-0091.", "seq": 1})).await?;
    assert_eq!(ack_revision(&ack)?, rev0 + 3);
    let ack = agent
        .ok(json!({"type": "object", "room": room, "section": scope, "kind": "evidence-sufficiency", "text": "Needs TL-0430.", "seq": 2}))
        .await?;
    let o7 = ack["created"].as_str().context("created id")?.to_string();
    let ack = legal
        .ok(json!({"type": "object", "room": room, "section": scope, "kind": "wording", "text": "Wording.", "seq": 1}))
        .await?;
    let o8 = ack["created"].as_str().context("created id")?.to_string();
    let rev = ack_revision(&ack)?;
    assert_eq!(rev, rev0 + 5);

    // Refusals: each leaves the revision unchanged.
    observer
        .refused(
            json!({"type": "object", "room": room, "section": scope, "kind": "other", "text": "x", "seq": 1}),
            "forbidden",
        )
        .await?;
    observer
        .refused(json!({"type": "reply", "room": room, "objection": o6, "text": "x", "seq": 2}), "forbidden")
        .await?;
    privacy
        .refused(
            json!({"type": "set_objection_status", "room": room, "objection": o6, "status": "accepted-residual", "rationale": "fine", "seq": 2}),
            "forbidden",
        )
        .await?;
    owner
        .refused(json!({"type": "set_objection_status", "room": room, "objection": o6, "status": "accepted-residual", "seq": 2}), "invalid")
        .await?;
    owner
        .refused(
            json!({"type": "set_objection_status", "room": room, "objection": o6, "status": "accepted-residual", "rationale": "   ", "seq": 3}),
            "invalid",
        )
        .await?;
    privacy
        .refused(
            json!({"type": "set_objection_status", "room": room, "objection": o8, "status": "withdrawn", "seq": 3}),
            "forbidden",
        )
        .await?;
    // o6 is open: "open" is no move (a reopen is for addressed objections).
    owner
        .refused(
            json!({"type": "set_objection_status", "room": room, "objection": o6, "status": "open", "seq": 4}),
            "conflict",
        )
        .await?;
    owner
        .refused(
            json!({"type": "reply", "room": room, "objection": ClientId::new(), "text": "x", "seq": 5}),
            "not_found",
        )
        .await?;
    privacy
        .refused(json!({"type": "object", "room": room, "section": scope, "kind": "wording", "text": "x", "quote": "not in the text at all", "seq": 4}), "invalid")
        .await?;
    privacy
        .refused(
            json!({"type": "object", "room": room, "section": scope, "kind": "nonsense", "text": "x", "seq": 5}),
            "invalid",
        )
        .await?;
    privacy
        .refused(
            json!({"type": "object", "room": room, "section": scope, "kind": "wording", "text": "  ", "seq": 6}),
            "invalid",
        )
        .await?;
    assert_eq!(server.stored_revision().await?, rev, "a refusal changed the room");

    // Accepted-residual by the owner with a rationale; then no further move.
    let ack = owner
        .ok(json!({"type": "set_objection_status", "room": room, "objection": o6, "status": "accepted-residual",
                   "rationale": "Downstream privacy review decides tier sensitivity.", "seq": 6}))
        .await?;
    assert_eq!(ack_revision(&ack)?, rev + 1);
    owner
        .refused(
            json!({"type": "set_objection_status", "room": room, "objection": o6, "status": "addressed", "seq": 7}),
            "conflict",
        )
        .await?;
    // Withdrawn by its author; addressed by another reviewer.
    legal
        .ok(json!({"type": "set_objection_status", "room": room, "objection": o8, "status": "withdrawn", "seq": 2}))
        .await?;
    let ack = privacy
        .ok(json!({"type": "set_objection_status", "room": room, "objection": o7, "status": "addressed", "seq": 7}))
        .await?;
    let last = ack_revision(&ack)?;
    assert_eq!(last, rev + 3);

    // The register as a fresh joiner sees it.
    let (_, snap) = server.joined("observer").await?;
    assert_eq!(revision_of(&snap), last);
    let objections = &snap["state"]["objections"];
    let o = &objections[&o6];
    assert_eq!(o["status"], "accepted-residual");
    assert_eq!(o["rationale"], "Downstream privacy review decides tier sensitivity.");
    assert_eq!(o["replies"].as_array().map(Vec::len), Some(2));
    assert_eq!(o["replies"][0]["id"], reply_id.as_str());
    assert_eq!(o["replies"][0]["author"], server.member("owner").user.to_string().as_str());
    assert_eq!(o["history"].as_array().map(Vec::len), Some(1));
    assert_eq!(o["history"][0]["by"], server.member("owner").user.to_string().as_str());
    assert_eq!(objections[&o7]["status"], "addressed");
    assert_eq!(objections[&o7]["author"], server.member("agent/chronology").user.to_string().as_str());
    assert_eq!(objections[&o8]["status"], "withdrawn");
    assert_eq!(objections.as_object().map(|m| m.len()), Some(8), "objections are never deleted");
    assert_eq!(section(&snap, "Exposure scope")?.1, scope_body, "objections do not change the text");

    // Every refusal is in the room's audit chain.
    let chain = server.audit_chain(&room).await?;
    let refused: Vec<(String, String)> = chain
        .iter()
        .filter(|e| e.kind == "refused")
        .map(|e| {
            (
                e.detail["request"].as_str().unwrap_or("").to_string(),
                e.detail["code"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    for (request, code, n) in [
        ("object", "forbidden", 1),
        ("reply", "forbidden", 1),
        ("set_objection_status", "forbidden", 2),
        ("set_objection_status", "invalid", 2),
        // (o6 is open → open, and accepted-residual → addressed)
        ("set_objection_status", "conflict", 2),
        ("reply", "not_found", 1),
        // (the unknown `kind` is refused while parsing, before any room sees it)
        ("object", "invalid", 2),
    ] {
        let found = refused.iter().filter(|(r, c)| r == request && c == code).count();
        assert_eq!(found, n, "audited refusals {request}/{code}: {refused:?}");
    }
    Ok(())
}
