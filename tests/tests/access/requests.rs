//! Requests: no self-approval, overlapping requests fold, the room's policy, break-glass.

use super::*;

#[tokio::test]
async fn self_approval_is_impossible_and_an_owners_request_waits_for_another_owner() -> Result<()> {
    let (server, _clock) = server_with_clock().await?;
    let room = server.room();
    let (mut owner, snap) = server.joined("owner").await?;
    let a1 = annex_id(&snap, "A1")?;
    let id = request_id(&request(&mut owner, &room, &[&a1], HOUR).await?)?;
    let refused = owner.refused(json!({"type": "approve_access", "room": room, "request": id}), "forbidden").await?;
    ensure!(refused["message"].as_str().is_some_and(|m| m.contains("self-approval")), "{refused}");
    owner.refused(json!({"type": "deny_access", "room": room, "request": id}), "forbidden").await?;
    // Reviewers never decide.
    let (mut priya, _) = server.joined("reviewer/privacy").await?;
    priya.refused(json!({"type": "approve_access", "room": room, "request": id}), "forbidden").await?;
    owner.refused(json!({"type": "view_annex", "room": room, "annex": a1}), "forbidden").await?;
    let snap = server.joined("observer").await?.1;
    ensure!(snap["state"]["access"]["requests"][&id]["status"] == "requested", "stays pending");
    // A second owner decides it.
    let token = {
        let (_, token) = admin::add_user(&server.store, "second.owner").await?;
        admin::add_member(&server.store, server.seed.room, "second.owner", Role::Owner).await?;
        token
    };
    let mut second = WsClient::connect(&server.url, &token).await?;
    second.join(&room).await?;
    second.ok(json!({"type": "approve_access", "room": room, "request": id, "note": "four eyes"})).await?;
    owner.ok(json!({"type": "view_annex", "room": room, "annex": a1})).await?;
    let chain = server.audit_chain(&room).await?;
    let refusals = chain
        .iter()
        .filter(|e| e.kind == "refused" && e.detail["request"] == "approve_access" && e.detail["code"] == "forbidden")
        .count();
    ensure!(refusals == 2, "every refused approval is audited ({refusals})");
    Ok(())
}

#[tokio::test]
async fn overlapping_requests_fold_into_one_and_never_stack_timers() -> Result<()> {
    let (server, _clock) = server_with_clock().await?;
    let room = server.room();
    let (mut owner, snap) = server.joined("owner").await?;
    let (mut lena, _) = server.joined("reviewer/support-trust").await?;
    let (a1, a2, a3) = (annex_id(&snap, "A1")?, annex_id(&snap, "A2")?, annex_id(&snap, "A3")?);
    let first = request(&mut lena, &room, &[&a1, &a2], HOUR).await?;
    ensure!(first["requests"].as_array().map(Vec::len) == Some(2));
    let r1 = request_id(&first)?;
    let again = request(&mut lena, &room, &[&a1], 3 * HOUR).await?;
    ensure!(again["requests"][0]["outcome"] == "pending" && request_id(&again)? == r1, "{again}");
    owner.ok(json!({"type": "approve_access", "room": room, "request": r1})).await?;
    let snap = server.joined("observer").await?.1;
    let rec = &snap["state"]["access"]["requests"][&r1];
    ensure!(rec["duration_ms"] == 3 * HOUR, "the longer duration, never the sum: {rec}");
    let expires = rec["expires_at"].as_i64().context("expires")?;
    let onto_grant = request(&mut lena, &room, &[&a1], 10 * HOUR).await?;
    ensure!(onto_grant["requests"][0]["outcome"] == "grant" && onto_grant["requests"][0]["expires_at"] == expires);
    let snap = server.joined("observer").await?.1;
    let requests = snap["state"]["access"]["requests"].as_object().context("requests")?;
    ensure!(requests.values().filter(|r| r["annex"] == a1.as_str()).count() == 1, "one record for A1");
    ensure!(snap["state"]["access"]["requests"][&r1]["expires_at"] == expires, "the timer did not move");
    ensure!(snap["state"]["access"]["requests"][&r1]["folds"].as_array().map(Vec::len) == Some(2));
    // Someone already on the need-to-know list has nothing to ask for.
    let (mut sam, _) = server.joined("reviewer/support-engineering").await?;
    sam.refused(json!({"type": "request_access", "room": room, "annexes": [a3], "reason": REASON}), "conflict").await?;
    Ok(())
}

#[tokio::test]
async fn reasons_and_durations_follow_the_rooms_policy() -> Result<()> {
    let (server, _clock) = server_with_clock().await?;
    let room = server.room();
    let (mut owner, snap) = server.joined("owner").await?;
    let (mut lena, _) = server.joined("reviewer/support-trust").await?;
    let a1 = annex_id(&snap, "A1")?;
    for reason in [".", "", "   ", "need it", "!!!!!!!!!!!!!!"] {
        lena.refused(json!({"type": "request_access", "room": room, "annexes": [a1], "reason": reason}), "invalid")
            .await?;
    }
    let over = 24 * HOUR + 1;
    lena.refused(
        json!({"type": "request_access", "room": room, "annexes": [a1], "reason": REASON, "duration_ms": over}),
        "invalid",
    )
    .await?;
    // Default duration: 2 h.
    let r = lena
        .ok(json!({"type": "request_access", "room": room, "annexes": [a1], "reason": "verify the exposure scope"}))
        .await?;
    let snap2 = server.joined("observer").await?.1;
    ensure!(snap2["state"]["access"]["requests"][request_id(&r)?]["duration_ms"] == 2 * HOUR);
    // A case-id pattern.
    owner.ok(json!({"type": "set_access_policy", "room": room, "reason_pattern": "CASE-\\d{5}", "max_duration_ms": 4 * HOUR})).await?;
    let a2 = annex_id(&snap, "A2")?;
    lena.refused(
        json!({"type": "request_access", "room": room, "annexes": [a2], "reason": "verify the exposure scope"}),
        "invalid",
    )
    .await?;
    lena.ok(json!({"type": "request_access", "room": room, "annexes": [a2], "reason": REASON})).await?;
    lena.refused(
        json!({"type": "request_access", "room": room, "annexes": [a2], "reason": REASON, "duration_ms": 5 * HOUR}),
        "invalid",
    )
    .await?;
    // Only owners set the policy, and it must stay coherent.
    lena.refused(json!({"type": "set_access_policy", "room": room, "reason_min_chars": 1}), "forbidden").await?;
    owner.refused(json!({"type": "set_access_policy", "room": room, "reason_pattern": "("}), "invalid").await?;
    owner
        .refused(json!({"type": "set_access_policy", "room": room, "default_duration_ms": 5 * HOUR}), "invalid")
        .await?;
    Ok(())
}

#[tokio::test]
async fn break_glass_is_bounded_visible_separate_and_its_review_blocks_release() -> Result<()> {
    let (server, clock) = server_with_clock().await?;
    let room = server.room();
    let (mut owner, snap) = server.joined("owner").await?;
    let (mut observer, _) = server.joined("observer").await?;
    let (mut lena, _) = server.joined("reviewer/support-trust").await?;
    let (a1, a2) = (annex_id(&snap, "A1")?, annex_id(&snap, "A2")?);
    let bg = |minutes: u64| json!({"type": "break_glass", "room": room, "annexes": [a1], "reason": "SEV-1 bridge: confirm the tenant", "duration_ms": minutes * MINUTE});
    // Over 30 minutes: refused; not on the list: forbidden.
    lena.refused(bg(31), "invalid").await?;
    observer.refused(bg(10), "forbidden").await?;
    let result = lena.ok(bg(30)).await?;
    let invocation = result["invocation"].as_str().context("invocation")?.to_string();
    // Not renewable.
    lena.refused(bg(5), "conflict").await?;
    // Everyone sees who, why and until when.
    let ev = wait_change(&mut observer, "break_glass_invoked", |_| true).await?;
    let inv = &ev["change"]["invocation"];
    ensure!(inv["reason"] == "SEV-1 bridge: confirm the tenant" && inv["ends_at"] == result["ends_at"]);
    ensure!(inv["user"] == lena.user.as_str());
    let osnap = server.joined("observer").await?.1;
    ensure!(osnap["state"]["access"]["break_glass"][&invocation]["ended"].is_null());
    // Read access to the named annexes only; never a grant.
    lena.ok(json!({"type": "view_annex", "room": room, "annex": a1})).await?;
    lena.refused(json!({"type": "view_annex", "room": room, "annex": a2}), "forbidden").await?;
    ensure!(osnap["state"]["access"]["requests"].as_object().is_some_and(|r| r.is_empty()));
    // It ends on the server's clock, opening the blocking review objection.
    clock.advance(Duration::from_millis(30 * MINUTE));
    let ended = wait_change(&mut observer, "break_glass_ended", |c| c["invocation"] == invocation.as_str()).await?;
    let review = &ended["change"]["review"];
    ensure!(review["blocking"] == true && review["status"] == "open");
    ensure!(review["text"].as_str().is_some_and(|t| t.starts_with("Break-glass review")));
    let review_id = review["id"].as_str().context("review id")?.to_string();
    let code = format!("O-{}", review["number"]);
    lena.refused(json!({"type": "view_annex", "room": room, "annex": a1}), "forbidden").await?;
    // Release is blocked by it.
    let readiness = owner.ok(json!({"type": "readiness", "room": room})).await?;
    ensure!(readiness.to_string().contains(&review_id), "readiness lists the review: {readiness}");
    owner.ok(json!({"type": "mark_ready", "room": room})).await?;
    let refused = owner.refused(json!({"type": "release", "room": room, "lane": "privacy"}), "conflict").await?;
    ensure!(refused["message"].as_str().is_some_and(|m| m.contains(&code)), "{refused}");
    // Only an owner resolves it, addressed or accepted-residual with a rationale.
    let set = |status: &str, rationale: Option<&str>| json!({"type": "set_objection_status", "room": room, "objection": review_id, "status": status, "rationale": rationale});
    let (mut priya, _) = server.joined("reviewer/privacy").await?;
    priya.refused(set("addressed", Some("looked at it, fine")), "forbidden").await?;
    owner.refused(set("withdrawn", Some("not needed at all")), "invalid").await?;
    owner.refused(set("addressed", None), "invalid").await?;
    owner.ok(set("accepted-residual", Some("Break-glass use was justified by the SEV-1 bridge; reviewed."))).await?;
    let readiness = owner.ok(json!({"type": "readiness", "room": room})).await?;
    ensure!(!readiness["blockers"].to_string().contains(&review_id));
    // A new invocation is a new event (and a new review later).
    lena.ok(bg(5)).await?;
    // The audit log has its own kinds.
    let chain = server.audit_chain(&room).await?;
    ensure!(chain.iter().filter(|e| e.kind == "change.break_glass_invoked").count() == 2);
    ensure!(chain.iter().any(|e| e.kind == "change.break_glass_ended"));
    ensure!(
        chain
            .iter()
            .any(|e| e.kind == "annex.view" && e.detail["via"].as_str().is_some_and(|v| v.starts_with("break_glass:")))
    );
    assert_no_canary(observer.captured(), &trustroom_server::demo::CANARIES, "observer");
    Ok(())
}
