//! What agents and hostile requests are refused, and the boundary rules.

use super::*;

#[tokio::test]
async fn agents_are_refused_every_forbidden_action_and_each_refusal_is_audited() -> Result<()> {
    let server = TestServer::start().await?;
    let room = server.room();
    let (mut owner, snap) = server.joined("owner").await?;
    let (sec, body) = section(&snap, "Summary")?;
    let ack = owner
        .ok(suggest_req(&room, &sec, revision_of(&snap), op(&body, &format!("{body}\n\nOwner idea.")), "why"))
        .await?;
    let sid = ack["created"].as_str().context("id")?.to_string();
    for role in ["agent/chronology", "agent/trace-keeper", "agent/objection-normaliser"] {
        let (mut agent, snap) = server.joined(role).await?;
        let before = server.stored_revision().await?;
        for (name, req) in forbidden_for_agents(&room, &snap, &sid)? {
            let answer = agent.request(req.clone()).await?;
            ensure!(answer["type"] == "error" && answer["code"] == "forbidden", "{role} {name}: {answer}");
            ensure!(
                server
                    .refusals(&room, name, "forbidden")
                    .await?
                    .iter()
                    .any(|e| e.actor == server.member(role).user.to_string()),
                "{role} {name}: refusal not audited"
            );
        }
        // Membership changes have no request at all over the websocket.
        agent.refused(json!({"type": "add_member", "room": room, "user": "x"}), "unknown_type").await?;
        ensure!(server.stored_revision().await? == before, "{role}: nothing stored");
        agent.drain(std::time::Duration::from_millis(50)).await?;
        let canaries: Vec<&str> = CANARIES.iter().copied().chain(DEMO_SENSITIVE).collect();
        assert_no_canary(agent.captured(), &canaries, role);
    }
    // Annex content: only when granted like anyone else.
    let (mut agent, snap) = server.joined("agent/chronology").await?;
    let a2 = annex_id(&snap, "A2")?;
    let req = agent
        .ok(json!({"type": "request_access", "room": room, "annexes": [a2], "reason": "Link replay refs for SL-0091 entries."}))
        .await?;
    let request_id = req["requests"][0]["id"].as_str().or_else(|| req["created"].as_str()).map(String::from);
    let request_id = match request_id {
        Some(r) => r,
        None => {
            let snap = snapshot(&server, "owner").await?;
            snap["state"]["access"]["requests"]
                .as_object()
                .and_then(|m| m.keys().next().cloned())
                .context("request id")?
        }
    };
    owner.ok(json!({"type": "approve_access", "room": room, "request": request_id})).await?;
    let content = agent.ok(json!({"type": "view_annex", "room": room, "annex": a2})).await?;
    ensure!(content["code"] == "A2" && content["logged"] == true, "granted agent reads A2: {content}");
    // Agents may still propose.
    let (sec, body) = section(&snap, "Chronology")?;
    agent
        .ok(suggest_req(&room, &sec, revision_of(&snap), op(&body, &format!("{body}\n\nx")), "agents propose"))
        .await?;
    Ok(())
}

#[tokio::test]
async fn boundary_rules_flag_out_of_bounds_suggestions_and_are_configurable() -> Result<()> {
    let server = TestServer::start().await?;
    let room = server.room();
    let (mut agent, snap) = server.joined("agent/chronology").await?;
    let (mut owner, _) = server.joined("owner").await?;
    let (mut legal, _) = server.joined("reviewer/legal").await?;
    let (sec, body) = section(&snap, "Summary")?;
    let base = revision_of(&snap);
    let drift =
        format!("{body}\n\nWe recommend to notify the regulator within 72 hours and email the affected customers.");
    let ack = agent.ok(suggest_req(&room, &sec, base, op(&body, &drift), "Escalation notes suggest it.")).await?;
    let flags = ack["flags"].as_array().context("flags")?;
    let rules: Vec<&str> = flags.iter().filter_map(|f| f["rule"].as_str()).collect();
    ensure!(rules.contains(&"disclosure-authority") && rules.contains(&"customer-communication"), "{ack}");
    let id = ack["created"].as_str().context("id")?.to_string();
    let snap2 = snapshot(&server, "owner").await?;
    ensure!(suggestion(&snap2, &id)?["flags"].as_array().map(Vec::len) == Some(flags.len()), "flags stored");
    // A normal suggestion passes.
    let normal = format!("{body}\n\n[verified: TL-0430] The downstream privacy review decides on notification.");
    let ack = agent.ok(suggest_req(&room, &sec, base, op(&body, &normal), "TL-0430.")).await?;
    ensure!(ack.get("flags").is_none(), "normal text is not flagged: {ack}");
    // The rationale is evaluated too.
    let ack = agent
        .ok(suggest_req(
            &room,
            &sec,
            base,
            op(&body, &format!("{body}\n\nok")),
            "so we can revoke the engineer's access",
        ))
        .await?;
    ensure!(ack["flags"][0]["field"] == "rationale" && ack["flags"][0]["category"] == "privilege-change", "{ack}");

    // The owner replaces the rules; others may not; bad rules are refused.
    let rules = json!([{"id": "no-tiers", "category": "other", "phrases": ["account tier"], "patterns": ["\\bgold\\s+plan\\b"]}]);
    legal.refused(json!({"type": "set_boundary_rules", "room": room, "rules": rules}), "forbidden").await?;
    owner.refused(json!({"type": "set_boundary_rules", "room": room, "rules": [{"id": "x", "category": "other", "patterns": ["(unclosed"]}]}), "invalid").await?;
    owner.ok(json!({"type": "set_boundary_rules", "room": room, "rules": rules})).await?;
    let listed = agent.ok(json!({"type": "suggestions", "room": room})).await?;
    ensure!(listed["default_rules"] == false && listed["rules"][0]["id"] == "no-tiers", "{listed}");
    let ack =
        agent.ok(suggest_req(&room, &sec, base, op(&body, &format!("{body}\n\nThe Gold  Plan tenant.")), "r")).await?;
    ensure!(ack["flags"][0]["rule"] == "no-tiers", "{ack}");
    let ack = agent.ok(suggest_req(&room, &sec, base, op(&body, &drift), "r")).await?;
    ensure!(ack.get("flags").is_none(), "the defaults no longer apply: {ack}");
    owner.ok(json!({"type": "set_boundary_rules", "room": room})).await?;
    let listed = agent.ok(json!({"type": "suggestions", "room": room})).await?;
    ensure!(listed["default_rules"] == true, "defaults restored");
    // Flagged suggestions are still decided by a human.
    owner.ok(json!({"type": "reject_suggestion", "room": room, "suggestion": id, "reason": "Out of bounds: disclosure is decided downstream."})).await?;
    Ok(())
}

#[tokio::test]
async fn hostile_suggestion_requests_get_stable_codes_and_store_nothing() -> Result<()> {
    let server = TestServer::start().await?;
    let room = server.room();
    let (mut agent, snap) = server.joined("agent/chronology").await?;
    let (mut owner, _) = server.joined("owner").await?;
    let (sec, body) = section(&snap, "Summary")?;
    let base = revision_of(&snap);
    let good = op(&body, &format!("{body}\n\nAdded."));
    let before = server.stored_revision().await?;
    let fake = "0190f5d2-0000-7000-8000-000000000002";
    let cases: Vec<(Value, &str)> = vec![
        (suggest_req(&room, fake, base, good.clone(), "why"), "not_found"),
        (suggest_req(&room, &sec, base + 50, good.clone(), "why"), "stale"),
        (suggest_req(&room, &sec, base, json!([3, "x"]), "why"), "invalid"),
        (suggest_req(&room, &sec, base, json!([0]), "why"), "invalid"),
        (suggest_req(&room, &sec, base, json!([body.chars().count()]), "why"), "invalid"),
        (suggest_req(&room, &sec, base, good.clone(), ""), "invalid"),
        (suggest_req(&room, &sec, base, good.clone(), &"r".repeat(4001)), "too_large"),
        (suggest_req(&room, &sec, base, good.clone(), "bad\u{0007}bell"), "invalid"),
        (
            json!({"type": "suggest", "room": room, "section": sec, "base": base, "op": good, "rationale": "r", "evidence": ["a b"]}),
            "invalid",
        ),
        (
            json!({"type": "suggest", "room": room, "section": sec, "base": base, "op": good, "rationale": "r", "evidence": vec!["E"; 33]}),
            "too_large",
        ),
        (json!({"type": "suggest", "room": room, "section": sec, "base": base, "op": good}), "invalid"),
        (
            json!({"type": "suggest_register", "room": room, "rationale": "r", "change": {"action": "explode"}}),
            "invalid",
        ),
    ];
    for (req, code) in &cases {
        agent.refused(req.clone(), code).await.with_context(|| format!("case {req}"))?;
    }
    owner.refused(json!({"type": "accept_suggestion", "room": room, "suggestion": fake}), "not_found").await?;
    owner
        .refused(json!({"type": "reject_suggestion", "room": room, "suggestion": fake, "reason": "r"}), "not_found")
        .await?;
    owner.refused(json!({"type": "accept_suggestion", "room": room, "suggestion": "not-a-uuid"}), "invalid").await?;
    // Restricted annex detail never rides in a suggestion (every member would see it).
    let leak = format!("{body}\n\nThe tenant is {}.", DEMO_SENSITIVE[0]);
    let refused = agent.refused(suggest_req(&room, &sec, base, op(&body, &leak), "why"), "restricted").await?;
    ensure!(!refused.to_string().contains(DEMO_SENSITIVE[0]), "the refusal does not echo the detail");
    agent
        .refused(suggest_req(&room, &sec, base, good.clone(), &format!("see {}", DEMO_SENSITIVE[2])), "restricted")
        .await?;
    ensure!(server.stored_revision().await? == before, "nothing stored for hostile input");
    let chain = server.audit_chain(&room).await?;
    ensure!(
        !chain.iter().any(|e| e.detail.to_string().contains(DEMO_SENSITIVE[0])),
        "the audit log holds no restricted detail"
    );

    // Idempotent resend, then double accept.
    let mut req = suggest_req(&room, &sec, base, good, "why");
    req["seq"] = json!(1);
    let first = agent.ok(req.clone()).await?;
    let again = agent.ok(req).await?;
    ensure!(
        again["duplicate"] == true && again["created"] == first["created"] && again["revision"] == first["revision"],
        "{again}"
    );
    let id = first["created"].as_str().context("id")?;
    owner.ok(json!({"type": "accept_suggestion", "room": room, "suggestion": id})).await?;
    let after = server.stored_revision().await?;
    owner.refused(json!({"type": "accept_suggestion", "room": room, "suggestion": id}), "conflict").await?;
    ensure!(server.stored_revision().await? == after, "a double accept stores nothing");
    Ok(())
}
