//! 4. not_found (non-members, missing rooms) vs forbidden (members).

use super::*;

#[tokio::test]
async fn non_members_get_not_found_identical_to_a_missing_room() -> Result<()> {
    let server = TestServer::start().await?;
    let room = server.room();
    let (_, outsider_token) = admin::add_user(&server.store, "outsider").await?;
    let outsider_id = server.store.user_by_name("outsider").await?.context("outsider")?.id.to_string();
    let (mut owner, snap) = server.joined("owner").await?;
    let (sid, body) = section(&snap, "Summary")?;
    let a1 = annex_id(&snap, "A1")?;
    let o1 = objection_id(&snap, 1)?;
    let rev = revision_of(&snap);
    let missing = uuid::Uuid::now_v7().to_string();
    let mut outsider = WsClient::connect(&server.url, &outsider_token).await?;

    let rooms = outsider.ok(json!({"type": "rooms"})).await?;
    assert_eq!(rooms["rooms"], json!([]), "an outsider lists no rooms");

    let requests = |r: &str| {
        vec![
            json!({"id": "same", "type": "join", "room": r}),
            json!({"id": "same", "type": "join", "room": r, "since": 1}),
            json!({"id": "same", "type": "edit", "room": r, "section": sid, "base": rev, "op": [chars(&body), "x"], "seq": 1}),
            json!({"id": "same", "type": "view_annex", "room": r, "annex": a1}),
            json!({"id": "same", "type": "object", "room": r, "section": sid, "kind": "wording", "text": "x", "seq": 2}),
            json!({"id": "same", "type": "reply", "room": r, "objection": o1, "text": "x", "seq": 3}),
            json!({"id": "same", "type": "hold", "room": r, "reason": "x"}),
            json!({"id": "same", "type": "cursor", "room": r, "section": sid, "pos": 0}),
            json!({"id": "same", "type": "leave", "room": r}),
        ]
    };
    for (existing, absent) in requests(&room).into_iter().zip(requests(&missing)) {
        let (a, fa) = outsider.request_text(existing.clone()).await?;
        let (b, _) = outsider.request_text(absent).await?;
        assert_eq!(fa["code"], "not_found", "{existing}: {a}");
        assert_eq!(a, b, "the answer for an existing room must be byte-identical to a missing room's");
    }
    // A member asking about a missing room gets the very same bytes.
    let (c, _) = owner.request_text(json!({"id": "same", "type": "join", "room": missing})).await?;
    let (d, _) = outsider.request_text(json!({"id": "same", "type": "join", "room": room})).await?;
    assert_eq!(c, d);

    assert_eq!(server.stored_revision().await?, rev, "refusals changed the room");
    assert_no_canary(outsider.captured(), &CANARIES, "outsider");
    assert_no_canary(outsider.captured(), &[server.seed.title.as_str(), "Northwind"], "outsider");

    // Audited: the room chain for the existing room, the server chain for the missing one.
    let chain = server.audit_chain(&room).await?;
    for request in ["join", "edit", "view_annex", "object", "reply", "hold", "cursor"] {
        ensure!(
            chain.iter().any(|e| e.kind == "refused"
                && e.actor == outsider_id
                && e.detail["request"] == request
                && e.detail["code"] == "not_found"),
            "no audited not_found for the outsider's {request}"
        );
    }
    let room_refusals = chain.iter().filter(|e| e.kind == "refused" && e.actor == outsider_id).count();
    assert_eq!(room_refusals, 9, "join ×3, edit, view_annex, object, reply, hold, cursor in the room's chain");
    // Missing rooms (and `leave` of a room never joined) are refused by the
    // connection and audited in the server chain.
    let server_chain = server.audit_chain(trustroom_server::hub::SERVER_CHAIN).await?;
    let outside = server_chain
        .iter()
        .filter(|e| e.kind == "refused" && e.actor == outsider_id && e.detail["code"] == "not_found")
        .count();
    assert_eq!(outside, 10, "8 missing-room requests + 2 leaves expected in the server chain: {server_chain:#?}");
    Ok(())
}

#[tokio::test]
async fn members_lacking_a_capability_get_forbidden_and_it_is_audited() -> Result<()> {
    let server = TestServer::start().await?;
    let room = server.room();
    let (_, snap) = server.joined("owner").await?;
    let (sid, body) = section(&snap, "Chronology")?;
    let rev = revision_of(&snap);
    let len = chars(&body);
    let o1 = objection_id(&snap, 1)?;

    let cases: Vec<(&str, Value)> = vec![
        ("observer", json!({"type": "edit", "room": room, "section": sid, "base": rev, "op": [len, "x"], "seq": 1})),
        ("observer", json!({"type": "add_section", "room": room, "title": "Observer's", "seq": 2})),
        (
            "observer",
            json!({"type": "set_objection_status", "room": room, "objection": o1, "status": "addressed", "seq": 3}),
        ),
        (
            "agent/chronology",
            json!({"type": "edit", "room": room, "section": sid, "base": rev, "op": [len, "x"], "seq": 1}),
        ),
        ("agent/chronology", json!({"type": "hold", "room": room, "reason": "agents never hold"})),
        ("agent/chronology", json!({"type": "mark_ready", "room": room})),
        ("agent/trace-keeper", json!({"type": "release", "room": room, "lane": "privacy"})),
        ("agent/trace-keeper", json!({"type": "escalate", "room": room, "reason": "agents never escalate"})),
        ("reviewer/privacy", json!({"type": "hold", "room": room, "reason": "reviewers cannot hold"})),
        ("reviewer/legal", json!({"type": "release", "room": room, "lane": "privacy"})),
        ("reviewer/support-trust", json!({"type": "mark_ready", "room": room})),
        (
            "reviewer/support-engineering",
            json!({"type": "set_objection_status", "room": room, "objection": o1, "status": "accepted-residual", "rationale": "r", "seq": 1}),
        ),
    ];
    let mut expected: HashMap<(String, &str), usize> = HashMap::new();
    for (role, req) in &cases {
        let (mut c, _) = server.joined(role).await?;
        let answer = c.refused(req.clone(), "forbidden").await?;
        let msg = answer["message"].as_str().unwrap_or("");
        assert_no_canary(c.captured(), &CANARIES, role);
        ensure!(!msg.is_empty(), "{role}: forbidden without a message");
        let kind = req["type"].as_str().unwrap_or("");
        *expected.entry((server.member(role).user.to_string(), kind)).or_default() += 1;
        c.close().await;
    }
    assert_eq!(server.stored_revision().await?, rev, "a forbidden request changed the room");
    let (_, after) = server.joined("observer").await?;
    assert_eq!(after["state"]["release"]["state"], "drafting");
    assert_eq!(section(&after, "Chronology")?.1, body);

    let chain = server.audit_chain(&room).await?;
    for ((actor, request), n) in expected {
        let found = chain
            .iter()
            .filter(|e| {
                e.kind == "refused"
                    && e.actor == actor
                    && e.detail["request"] == request
                    && e.detail["code"] == "forbidden"
            })
            .count();
        assert_eq!(found, n, "audited forbidden {request} by {actor}");
    }
    Ok(())
}
