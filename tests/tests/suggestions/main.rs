//! Suggestions over real websockets on a real server and SQLite file:
//! propose / accept / reject with attribution in the audit log, rebasing
//! and conflicts under concurrent edits, register suggestions, who may
//! decide, the agent guardrails (every forbidden action, refused and
//! audited), boundary-rule flags, the metrics, and hostile input with
//! stable codes and nothing stored.
// Test code: a failed expectation is the verdict (the lints bind product code).
#![allow(clippy::expect_used, clippy::panic)]

mod refusals;

use anyhow::{Context, Result, ensure};
use serde_json::{Value, json};
use trustroom_e2e::{
    DEMO_SENSITIVE, TestServer, WsClient, annex_id, assert_no_canary, objection_id, revision_of, section,
};
use trustroom_server::demo::CANARIES;
use trustroom_shared::ot::{OpLimits, TextOp, WireOp};

/// The wire operation turning `old` into `new`.
fn op(old: &str, new: &str) -> Value {
    serde_json::to_value(TextOp::from_texts(old, new).to_wire()).unwrap_or(Value::Null)
}

/// A fresh snapshot as `role` (new connection).
async fn snapshot(server: &TestServer, role: &str) -> Result<Value> {
    let (c, snap) = server.joined(role).await?;
    c.close().await;
    Ok(snap)
}

/// The suggestion with `id` in a snapshot.
fn suggestion<'a>(snap: &'a Value, id: &str) -> Result<&'a Value> {
    snap["state"]["suggestions"]["suggestions"].get(id).with_context(|| format!("no suggestion {id} in the snapshot"))
}

/// The section body after applying a suggestion's operation to it.
fn applied(body: &str, s: &Value) -> Result<String> {
    let wire: WireOp = serde_json::from_value(s["proposal"]["op"].clone())?;
    let op = TextOp::from_wire(&wire, OpLimits::default())?;
    Ok(op.apply(body)?)
}

fn suggest_req(room: &str, section: &str, base: u64, op: Value, why: &str) -> Value {
    json!({"type": "suggest", "room": room, "section": section, "base": base, "op": op, "rationale": why})
}

#[tokio::test]
async fn propose_accept_and_reject_with_attribution_in_the_audit_log() -> Result<()> {
    let server = TestServer::start().await?;
    let room = server.room();
    let (mut agent, snap) = server.joined("agent/chronology").await?;
    let (mut owner, _) = server.joined("owner").await?;
    let (mut observer, _) = server.joined("observer").await?;
    let (sec, body) = section(&snap, "Chronology")?;
    let base = revision_of(&snap);

    // The agent proposes a new chronology entry.
    let new = format!("{body}\n\n[verified: TL-0433] 10:20 Support trust opens the incident room.");
    let mut req = suggest_req(&room, &sec, base, op(&body, &new), "TL-0433 records the room opening.");
    req["evidence"] = json!(["TL-0433"]);
    let ack = agent.ok(req).await?;
    let id = ack["created"].as_str().context("created id")?.to_string();
    ensure!(ack["code"] == "S-1" && ack.get("flags").is_none(), "ack: {ack}");
    let proposed_rev = ack["revision"].as_u64().context("revision")?;
    // Every member sees it as an event; the section is unchanged.
    let ev = observer.wait_for_revision(proposed_rev).await?;
    ensure!(ev["rev"]["change"]["kind"] == "suggestion_proposed", "{ev}");
    ensure!(ev["rev"]["change"]["suggestion"]["proposer_role"]["agent_role"] == "chronology");
    let snap = snapshot(&server, "observer").await?;
    ensure!(section(&snap, "Chronology")?.1 == body, "a suggestion does not change the section");
    let s = suggestion(&snap, &id)?;
    ensure!(s["status"] == "open" && s["evidence"] == json!(["TL-0433"]) && s["number"] == 1, "{s}");
    ensure!(applied(&body, s)? == new, "the suggestion applies to the current text");

    // The owner accepts: a decision, then a normal section edit by the owner.
    let ack = owner
        .ok(json!({"type": "accept_suggestion", "room": room, "suggestion": id, "note": "matches TL-0433"}))
        .await?;
    let edit_rev = ack["revision"].as_u64().context("revision")?;
    ensure!(ack["decision_revision"].as_u64() == Some(edit_rev - 1), "{ack}");
    let ev = observer.wait_for_revision(edit_rev).await?;
    let (decided, edited) = if ev["rev"]["revision"] == edit_rev {
        (observer.pending().find(|v| v["rev"]["revision"] == edit_rev - 1).cloned(), ev.clone())
    } else {
        (Some(ev.clone()), observer.wait_for_revision(edit_rev).await?)
    };
    ensure!(decided.is_some_and(|d| d["rev"]["change"]["kind"] == "suggestion_decided"), "decision event");
    ensure!(edited["rev"]["change"]["kind"] == "section_edited", "{edited}");
    ensure!(edited["rev"]["author"] == server.member("owner").user.to_string().as_str(), "the acceptor applies it");
    let snap = snapshot(&server, "owner").await?;
    ensure!(section(&snap, "Chronology")?.1 == new, "accepted text is in the section");
    let s = suggestion(&snap, &id)?;
    ensure!(
        s["status"] == "accepted" && s["decision"]["by"] == server.member("owner").user.to_string().as_str(),
        "{s}"
    );

    // The audit log names proposer and acceptor on both entries.
    let chain = server.audit_chain(&room).await?;
    let agent_id = server.member("agent/chronology").user.to_string();
    let owner_id = server.member("owner").user.to_string();
    for kind in ["change.suggestion_decided", "change.section_edited"] {
        let e = chain
            .iter()
            .rev()
            .find(|e| e.kind == kind && e.detail["suggestion"] == id.as_str())
            .with_context(|| format!("no {kind} entry for the suggestion"))?;
        ensure!(
            e.detail["proposer"] == agent_id.as_str() && e.detail["acceptor"] == owner_id.as_str(),
            "{kind}: {:?}",
            e.detail
        );
        ensure!(e.actor == owner_id, "{kind} is the acceptor's action");
    }
    let proposed = chain.iter().find(|e| e.kind == "change.suggestion_proposed").context("proposed entry")?;
    ensure!(proposed.actor == agent_id && proposed.detail["code"] == "S-1");

    // A second suggestion, rejected with a reason.
    let snap = snapshot(&server, "agent/chronology").await?;
    let (sec, body) = section(&snap, "Chronology")?;
    let new2 = body.replace("10:05 Escalated", "10:04 Escalated");
    let ack = agent.ok(suggest_req(&room, &sec, revision_of(&snap), op(&body, &new2), "TL-0430 says 10:04.")).await?;
    let id2 = ack["created"].as_str().context("id")?.to_string();
    owner
        .refused(json!({"type": "reject_suggestion", "room": room, "suggestion": id2, "reason": "  "}), "invalid")
        .await?;
    owner.refused(json!({"type": "reject_suggestion", "room": room, "suggestion": id2}), "invalid").await?;
    owner.ok(json!({"type": "reject_suggestion", "room": room, "suggestion": id2, "reason": "TL-0430 is 10:05 in the source."})).await?;
    let snap = snapshot(&server, "owner").await?;
    ensure!(section(&snap, "Chronology")?.1 == new, "a rejected suggestion changes nothing");
    let s = suggestion(&snap, &id2)?;
    ensure!(s["status"] == "rejected" && s["decision"]["reason"] == "TL-0430 is 10:05 in the source.", "{s}");
    let chain = server.audit_chain(&room).await?;
    let e = chain.iter().rev().find(|e| e.kind == "change.suggestion_decided").context("rejection entry")?;
    ensure!(
        e.detail["rejecter"] == owner_id.as_str()
            && e.detail["proposer"] == agent_id.as_str()
            && e.detail["status"] == "rejected"
    );
    // Decided twice: conflict, nothing stored.
    let before = server.stored_revision().await?;
    owner.refused(json!({"type": "accept_suggestion", "room": room, "suggestion": id}), "conflict").await?;
    owner.refused(json!({"type": "accept_suggestion", "room": room, "suggestion": id2}), "conflict").await?;
    owner
        .refused(json!({"type": "reject_suggestion", "room": room, "suggestion": id, "reason": "late"}), "conflict")
        .await?;
    ensure!(server.stored_revision().await? == before, "refusals store nothing");
    Ok(())
}

#[tokio::test]
async fn suggestions_follow_concurrent_edits_and_conflict_when_their_target_is_deleted() -> Result<()> {
    let server = TestServer::start().await?;
    let room = server.room();
    let (mut agent, snap) = server.joined("agent/trace-keeper").await?;
    let (mut owner, _) = server.joined("owner").await?;
    let (sec, body) = section(&snap, "Exposure scope")?;
    let base = revision_of(&snap);
    let target = "may have been seen by a third party";
    let new = body.replace(target, "was not shown to anyone outside the session, per SL-0104,");
    let ack = agent.ok(suggest_req(&room, &sec, base, op(&body, &new), "SL-0104 shows no screen share.")).await?;
    let id = ack["created"].as_str().context("id")?.to_string();

    // A concurrent edit before the target (sent against the old base).
    let edit = TextOp::from_texts(&body, &body.replacen("# What was exposed", "# What was exposed (draft 2)", 1));
    owner.ok(json!({"type": "edit", "room": room, "section": sec, "base": base, "op": edit.to_wire()})).await?;
    let snap = snapshot(&server, "owner").await?;
    let body2 = section(&snap, "Exposure scope")?.1;
    let s = suggestion(&snap, &id)?;
    ensure!(s["status"] == "open" && s["revision"] == revision_of(&snap), "rebased to the current revision: {s}");
    ensure!(
        applied(&body2, s)? == new.replacen("# What was exposed", "# What was exposed (draft 2)", 1),
        "after rebasing it still makes the intended edit"
    );
    // A suggestion with a stale base is transformed like an edit.
    let other = body.replace("no payment data", "no payment or contact data");
    let ack = agent.ok(suggest_req(&room, &sec, base, op(&body, &other), "SL-0091 lists the columns.")).await?;
    let id_b = ack["created"].as_str().context("id")?.to_string();
    let snap = snapshot(&server, "owner").await?;
    ensure!(
        applied(&body2, suggestion(&snap, &id_b)?)? == body2.replace("no payment data", "no payment or contact data"),
        "a suggestion against an older base lands on the current text"
    );

    // The owner deletes the sentence the first suggestion rewrites.
    let body3 = body2.replace(&format!("The screen-share recording {target} on the customer's side."), "");
    let base3 = revision_of(&snap);
    owner.ok(json!({"type": "edit", "room": room, "section": sec, "base": base3, "op": op(&body2, &body3)})).await?;
    let snap = snapshot(&server, "owner").await?;
    let s = suggestion(&snap, &id)?;
    ensure!(s["status"] == "conflicting" && s["conflict"].as_str().is_some_and(|c| c.contains("deleted")), "{s}");
    ensure!(suggestion(&snap, &id_b)?["status"] == "open", "the other suggestion's target survived");
    let before = server.stored_revision().await?;
    owner.refused(json!({"type": "accept_suggestion", "room": room, "suggestion": id}), "conflict").await?;
    ensure!(server.stored_revision().await? == before);
    // Conflicting suggestions can be withdrawn by their proposer (not by others).
    owner.refused(json!({"type": "withdraw_suggestion", "room": room, "suggestion": id}), "forbidden").await?;
    agent.ok(json!({"type": "withdraw_suggestion", "room": room, "suggestion": id})).await?;
    // The surviving one still applies exactly when accepted.
    owner.ok(json!({"type": "accept_suggestion", "room": room, "suggestion": id_b})).await?;
    let snap = snapshot(&server, "owner").await?;
    ensure!(section(&snap, "Exposure scope")?.1 == body3.replace("no payment data", "no payment or contact data"));
    ensure!(suggestion(&snap, &id)?["status"] == "withdrawn");
    Ok(())
}

#[tokio::test]
async fn register_suggestions_merge_reword_set_kind_and_anchor() -> Result<()> {
    let server = TestServer::start().await?;
    let room = server.room();
    let (mut agent, snap) = server.joined("agent/objection-normaliser").await?;
    let (mut owner, _) = server.joined("owner").await?;
    let (mut privacy, _) = server.joined("reviewer/privacy").await?;
    let (sec, _) = section(&snap, "Exposure scope")?;
    // Two reviewers raise the same objection.
    let mut ids = Vec::new();
    for text in ["The tier column may count as exposure.", "Account tiers may count as exposure too."] {
        let a =
            privacy.ok(json!({"type": "object", "room": room, "section": sec, "kind": "other", "text": text})).await?;
        ids.push(a["created"].as_str().context("id")?.to_string());
    }
    let merge = json!({"type": "suggest_register", "room": room, "rationale": "Same anchor, same claim.",
        "change": {"action": "merge_objections", "keep": ids[0], "duplicates": [ids[1]]}});
    let m = agent.ok(merge).await?["created"].as_str().context("id")?.to_string();
    let kind = json!({"type": "suggest_register", "room": room, "rationale": "It is about what was exposed.",
        "change": {"action": "set_kind", "objection": ids[0], "kind": "exposure-scope"}});
    let k = agent.ok(kind).await?["created"].as_str().context("id")?.to_string();
    let reword = json!({"type": "suggest_register", "room": room, "rationale": "Clearer.",
        "change": {"action": "reword", "objection": ids[1], "text": "Tiers may be exposure."}});
    let r = agent.ok(reword).await?["created"].as_str().context("id")?.to_string();
    // Proposals about objections that do not exist or are closed.
    let bogus = json!({"type": "suggest_register", "room": room, "rationale": "x",
        "change": {"action": "reword", "objection": "0190f5d2-0000-7000-8000-000000000000", "text": "t"}});
    agent.refused(bogus, "not_found").await?;
    let same = json!({"type": "suggest_register", "room": room, "rationale": "x",
        "change": {"action": "merge_objections", "keep": ids[0], "duplicates": [ids[0]]}});
    agent.refused(same, "invalid").await?;

    owner.ok(json!({"type": "accept_suggestion", "room": room, "suggestion": m})).await?;
    owner.ok(json!({"type": "accept_suggestion", "room": room, "suggestion": k})).await?;
    let snap = snapshot(&server, "owner").await?;
    let kept = &snap["state"]["objections"][&ids[0]];
    let dup = &snap["state"]["objections"][&ids[1]];
    ensure!(kept["status"] == "open" && kept["kind"] == "exposure-scope", "{kept}");
    ensure!(
        dup["status"] == "withdrawn"
            && dup["rationale"].as_str().is_some_and(|r| r.contains("merged into") && r.contains("normaliser-agent")),
        "{dup}"
    );
    // The reword was about the merged duplicate: it is conflicting now.
    ensure!(suggestion(&snap, &r)?["status"] == "conflicting", "{}", suggestion(&snap, &r)?);
    owner.refused(json!({"type": "accept_suggestion", "room": room, "suggestion": r}), "conflict").await?;
    // Reword and anchor the kept objection, then accept both.
    let reword = json!({"type": "suggest_register", "room": room, "rationale": "Names the column.",
        "change": {"action": "reword", "objection": ids[0], "text": "The account-tier column may count as exposure."}});
    let r2 = agent.ok(reword).await?["created"].as_str().context("id")?.to_string();
    let bad_anchor = json!({"type": "suggest_register", "room": room, "rationale": "x",
        "change": {"action": "set_anchor", "objection": ids[0], "quote": "not in the section"}});
    agent.refused(bad_anchor, "invalid").await?;
    let anchor = json!({"type": "suggest_register", "room": room, "rationale": "It is about this statement.",
        "change": {"action": "set_anchor", "objection": ids[0], "statement": 1, "quote": "account tiers"}});
    let a = agent.ok(anchor).await?["created"].as_str().context("id")?.to_string();
    owner.ok(json!({"type": "accept_suggestion", "room": room, "suggestion": r2})).await?;
    owner.ok(json!({"type": "accept_suggestion", "room": room, "suggestion": a})).await?;
    let snap = snapshot(&server, "owner").await?;
    let kept = &snap["state"]["objections"][&ids[0]];
    ensure!(kept["text"] == "The account-tier column may count as exposure.", "{kept}");
    ensure!(kept["anchor"]["statement"] == 1 && kept["anchor"]["quote"] == "account tiers", "{kept}");
    let chain = server.audit_chain(&room).await?;
    let amended = chain.iter().find(|e| e.kind == "change.objection_amended").context("amended entry")?;
    ensure!(amended.detail["proposer"] == server.member("agent/objection-normaliser").user.to_string().as_str());
    ensure!(amended.detail["acceptor"] == server.member("owner").user.to_string().as_str());
    Ok(())
}

#[tokio::test]
async fn who_may_suggest_and_decide() -> Result<()> {
    let server = TestServer::start().await?;
    let room = server.room();
    let (mut observer, snap) = server.joined("observer").await?;
    let (mut legal, _) = server.joined("reviewer/legal").await?;
    let (mut owner, _) = server.joined("owner").await?;
    let (mut agent, _) = server.joined("agent/chronology").await?;
    let (sec, body) = section(&snap, "Summary")?;
    let base = revision_of(&snap);
    let o = op(&body, &format!("{body}\n\nA reviewer's addition."));

    observer.refused(suggest_req(&room, &sec, base, o.clone(), "why"), "forbidden").await?;
    ensure!(!server.refusals(&room, "suggest", "forbidden").await?.is_empty(), "refusal audited");
    let ack = legal.ok(suggest_req(&room, &sec, base, o.clone(), "A reviewer may suggest.")).await?;
    let id = ack["created"].as_str().context("id")?.to_string();
    // A reviewer the owner has not allowed may not decide.
    legal.refused(json!({"type": "accept_suggestion", "room": room, "suggestion": id}), "forbidden").await?;
    legal
        .refused(json!({"type": "reject_suggestion", "room": room, "suggestion": id, "reason": "r"}), "forbidden")
        .await?;
    agent.refused(json!({"type": "accept_suggestion", "room": room, "suggestion": id}), "forbidden").await?;
    observer.refused(json!({"type": "accept_suggestion", "room": room, "suggestion": id}), "forbidden").await?;
    ensure!(server.refusals(&room, "accept_suggestion", "forbidden").await?.len() == 3, "accept refusals audited");
    // Only the owner sets acceptors, and only reviewers can be acceptors.
    let legal_id = server.member("reviewer/legal").user.to_string();
    let agent_id = server.member("agent/chronology").user.to_string();
    legal
        .refused(json!({"type": "set_suggestion_acceptors", "room": room, "members": [legal_id]}), "forbidden")
        .await?;
    owner.refused(json!({"type": "set_suggestion_acceptors", "room": room, "members": [agent_id]}), "invalid").await?;
    owner.ok(json!({"type": "set_suggestion_acceptors", "room": room, "members": [legal_id]})).await?;
    let snap = snapshot(&server, "reviewer/legal").await?;
    ensure!(
        snap["me"]["capabilities"].as_array().is_some_and(|c| c.contains(&json!("decide_suggestion"))),
        "{}",
        snap["me"]
    );
    legal.ok(json!({"type": "accept_suggestion", "room": room, "suggestion": id})).await?;

    // Non-members: not_found, the same as for a room that does not exist.
    let (_, outsider_token) = trustroom_server::admin::add_user(&server.store, "outsider").await?;
    let mut outsider = WsClient::connect(&server.url, &outsider_token).await?;
    let a = outsider.refused(suggest_req(&room, &sec, base, o.clone(), "x"), "not_found").await?;
    let b =
        outsider.refused(suggest_req("0190f5d2-0000-7000-8000-000000000000", &sec, base, o, "x"), "not_found").await?;
    ensure!(a["message"] == b["message"], "{a} vs {b}");
    outsider.refused(json!({"type": "suggestions", "room": room}), "not_found").await?;
    outsider.refused(json!({"type": "stats", "room": room}), "not_found").await?;
    Ok(())
}

/// Every request an agent must never make, with a body valid enough that
/// only the guardrail can refuse it.
fn forbidden_for_agents(room: &str, snap: &Value, suggestion: &str) -> Result<Vec<(&'static str, Value)>> {
    let (sec, body) = section(snap, "Summary")?;
    let base = revision_of(snap);
    let a1 = annex_id(snap, "A1")?;
    let o1 = objection_id(snap, 1)?;
    let member = snap["state"]["members"].as_object().and_then(|m| m.keys().next().cloned()).context("a member")?;
    let hash = snap["content_hash"].as_str().context("content hash")?;
    let fake = "0190f5d2-0000-7000-8000-000000000001";
    Ok(vec![
        (
            "edit",
            json!({"type": "edit", "room": room, "section": sec, "base": base, "op": op(&body, &format!("{body}!"))}),
        ),
        ("add_section", json!({"type": "add_section", "room": room, "title": "Agent section"})),
        (
            "set_objection_status",
            json!({"type": "set_objection_status", "room": room, "objection": o1, "status": "addressed"}),
        ),
        ("hold", json!({"type": "hold", "room": room, "reason": "agent hold"})),
        ("mark_ready", json!({"type": "mark_ready", "room": room})),
        ("release", json!({"type": "release", "room": room, "lane": "privacy"})),
        ("escalate", json!({"type": "escalate", "room": room, "reason": "agent escalation"})),
        ("set_release_policy", json!({"type": "set_release_policy", "room": room})),
        ("cosign", json!({"type": "cosign", "room": room, "content_hash": hash, "lane": "privacy"})),
        ("approve_access", json!({"type": "approve_access", "room": room, "request": fake})),
        ("deny_access", json!({"type": "deny_access", "room": room, "request": fake})),
        ("revoke_grant", json!({"type": "revoke_grant", "room": room, "grant": fake})),
        ("break_glass", json!({"type": "break_glass", "room": room, "annexes": [a1], "reason": "agent emergency"})),
        (
            "request_promotion",
            json!({"type": "request_promotion", "room": room, "annex": a1, "section": sec, "passage": "x", "reason": "r"}),
        ),
        ("view_promotion", json!({"type": "view_promotion", "room": room, "promotion": fake})),
        ("approve_promotion", json!({"type": "approve_promotion", "room": room, "promotion": fake})),
        ("deny_promotion", json!({"type": "deny_promotion", "room": room, "promotion": fake})),
        (
            "override_check",
            json!({"type": "override_check", "room": room, "check": "annex_boundary", "rationale": "r"}),
        ),
        ("set_access_policy", json!({"type": "set_access_policy", "room": room, "break_glass": [member]})),
        ("access_history", json!({"type": "access_history", "room": room})),
        ("accept_suggestion", json!({"type": "accept_suggestion", "room": room, "suggestion": suggestion})),
        (
            "reject_suggestion",
            json!({"type": "reject_suggestion", "room": room, "suggestion": suggestion, "reason": "r"}),
        ),
        ("set_suggestion_acceptors", json!({"type": "set_suggestion_acceptors", "room": room, "members": []})),
        ("set_boundary_rules", json!({"type": "set_boundary_rules", "room": room})),
        ("view_annex", json!({"type": "view_annex", "room": room, "annex": a1})),
    ])
}

#[tokio::test]
async fn stats_count_suggestions_per_role_and_human_and_objections() -> Result<()> {
    let server = TestServer::start().await?;
    let room = server.room();
    let (mut agent, snap) = server.joined("agent/chronology").await?;
    let (mut owner, _) = server.joined("owner").await?;
    let (mut privacy, _) = server.joined("reviewer/privacy").await?;
    let (mut observer, _) = server.joined("observer").await?;
    let (sec, body) = section(&snap, "Chronology")?;
    let base = revision_of(&snap);
    let mut ids = Vec::new();
    for i in 0..3 {
        let new = format!("{body}\n\nentry {i}");
        ids.push(
            agent.ok(suggest_req(&room, &sec, base, op(&body, &new), "r")).await?["created"]
                .as_str()
                .context("id")?
                .to_string(),
        );
    }
    let p = privacy.ok(suggest_req(&room, &sec, base, op(&body, &body.replace("09:02", "09:03")), "r")).await?;
    owner.ok(json!({"type": "accept_suggestion", "room": room, "suggestion": ids[0]})).await?;
    owner.ok(json!({"type": "reject_suggestion", "room": room, "suggestion": ids[1], "reason": "no source"})).await?;
    owner.ok(json!({"type": "reject_suggestion", "room": room, "suggestion": p["created"], "reason": "no"})).await?;
    let stats = observer.ok(json!({"type": "stats", "room": room})).await?;
    ensure!(stats["suggestions"]["proposed"] == 4 && stats["suggestions"]["accepted"] == 1, "{stats}");
    ensure!(stats["suggestions"]["rejected"] == 2, "{stats}");
    let role = stats["by_role"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["role"] == "agent/chronology"))
        .context("agent row")?;
    ensure!(role["proposed"] == 3 && role["accepted"] == 1 && role["rejected"] == 1 && role["open"] == 1, "{role}");
    let human = stats["by_human"].as_array().context("humans")?;
    ensure!(human.len() == 1 && human[0]["name"] == "priya.natarajan" && human[0]["rejected"] == 1, "{human:?}");
    ensure!(stats["objections"]["opened"].as_u64().is_some_and(|n| n > 0), "{stats}");
    ensure!(
        stats["edits"].as_u64() >= Some(1) && stats["series"]["edits"].as_array().map(Vec::len) == Some(24),
        "{stats}"
    );
    ensure!(stats["access"]["annex_views"].is_u64(), "the stats request counts annex views: {stats}");
    Ok(())
}

#[tokio::test]
async fn suggestions_and_their_rebasing_survive_a_restart_replay() -> Result<()> {
    let mut server = TestServer::start().await?;
    let room = server.room();
    let (mut agent, snap) = server.joined("agent/chronology").await?;
    let (mut owner, _) = server.joined("owner").await?;
    let (sec, body) = section(&snap, "Summary")?;
    let base = revision_of(&snap);
    let new = body.replace("roughly 11 minutes", "11 minutes (09:17–09:28)");
    let id = agent.ok(suggest_req(&room, &sec, base, op(&body, &new), "SL-0091, SL-0104.")).await?["created"]
        .as_str()
        .context("id")?
        .to_string();
    let edit = op(&body, &format!("Preface.\n\n{body}"));
    owner.ok(json!({"type": "edit", "room": room, "section": sec, "base": base, "op": edit})).await?;
    let before = snapshot(&server, "owner").await?;
    agent.close().await;
    owner.close().await;
    server.crash_and_restart().await?;
    let after = snapshot(&server, "owner").await?;
    ensure!(
        suggestion(&after, &id)? == suggestion(&before, &id)?,
        "the replayed suggestion is the one the server held"
    );
    ensure!(suggestion(&after, &id)?["revision"] == revision_of(&after), "still rebased to the current text");
    let body2 = section(&after, "Summary")?.1;
    ensure!(applied(&body2, suggestion(&after, &id)?)? == format!("Preface.\n\n{new}"));
    Ok(())
}
