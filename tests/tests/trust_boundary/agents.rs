//! 8. Agents and observers.

use super::*;

/// Real ids the sample requests point at.
pub(crate) struct Ids {
    pub(crate) room: String,
    pub(crate) section: String,
    pub(crate) section_len: i64,
    pub(crate) base: u64,
    pub(crate) objection: String,
    pub(crate) annex: String,
    pub(crate) request: String,
    pub(crate) invocation: String,
    pub(crate) promotion: String,
    pub(crate) suggestion: String,
    pub(crate) content_hash: String,
    pub(crate) reviewer: String,
}

/// A well-formed request of kind `kind` about real records.
pub(crate) fn request_of(kind: &str, ids: &Ids) -> Value {
    let room = ids.room.as_str();
    let mut v = match kind {
        "rooms" | "ping" => json!({}),
        "join" | "leave" | "mark_ready" | "readiness" | "manifests" | "suggestions" | "stats" | "export"
        | "access_history" | "holds" | "release_status" => {
            json!({"room": room})
        }
        "add_section" => {
            json!({"room": room, "title": "Side notes", "body": "Nothing restricted here."})
        }
        "edit" => {
            json!({"room": room, "section": ids.section, "base": ids.base, "op": [ids.section_len, " (note)"], "seq": 900})
        }
        "object" => {
            json!({"room": room, "section": ids.section, "kind": "wording", "text": "Say 'visible'.", "seq": 901})
        }
        "reply" => json!({"room": room, "objection": ids.objection, "text": "Agreed.", "seq": 902}),
        "set_objection_status" => {
            json!({"room": room, "objection": ids.objection, "status": "addressed", "seq": 903})
        }
        "view_annex" => json!({"room": room, "annex": ids.annex}),
        "cursor" => json!({"room": room, "section": ids.section, "pos": 0}),
        "hold" => json!({"room": room, "reason": "Waiting for the render log line."}),
        "withdraw_release" => json!({"room": room, "manifest": "0".repeat(64), "reason": "Wrong tenant list."}),
        "lane_releases" => json!({"room": room}),
        "lane_release" => json!({"room": room, "manifest": "0".repeat(64)}),
        "intake" => json!({"room": room, "manifest": "0".repeat(64), "decision": "accepted", "seq": 914}),
        "report_finding" => json!({"room": room, "manifest": "0".repeat(64), "kind": "stale-chronology",
                                   "text": "The session log has later entries.", "seq": 915}),
        "clear_hold" => json!({"room": room, "hold": 1, "rationale": "Legal signed off on the wording."}),
        "release" => json!({"room": room, "lane": "privacy"}),
        "release_packet" => json!({"room": room, "lane": "privacy", "packet_revision": 1}),
        "escalate" => json!({"room": room, "reason": "Direct handling by the incident commander."}),
        "set_release_policy" => json!({"room": room, "disciplines": ["privacy"], "seq": 904}),
        "cosign" => {
            json!({"room": room, "content_hash": ids.content_hash, "lane": "privacy", "seq": 905})
        }
        "request_access" => {
            json!({"room": room, "annexes": [ids.annex], "reason": "CASE-88412: verify the exposure scope", "seq": 906})
        }
        "withdraw_access" => json!({"room": room, "request": ids.request}),
        "approve_access" | "deny_access" => {
            json!({"room": room, "request": ids.request, "note": "For the scope section."})
        }
        "revoke_grant" => json!({"room": room, "grant": ids.request, "note": "No longer needed."}),
        "break_glass" => {
            json!({"room": room, "annexes": [ids.annex], "reason": "SEV-1 bridge: confirm the tenant", "seq": 907})
        }
        "end_break_glass" => json!({"room": room, "invocation": ids.invocation}),
        "request_promotion" => json!({"room": room, "annex": ids.annex, "section": ids.section,
                                      "passage": "Registry rows TR-2201, TR-2202", "reason": "CASE-88412: cite the registry rows", "seq": 908}),
        "view_promotion" => json!({"room": room, "promotion": ids.promotion}),
        "approve_promotion" | "deny_promotion" => {
            json!({"room": room, "promotion": ids.promotion, "note": "Checked."})
        }
        "override_check" => {
            json!({"room": room, "check": "annex_boundary", "rationale": "The relay id is public on the status page."})
        }
        "set_access_policy" => json!({"room": room, "reason_min_chars": 12}),
        "suggest" => {
            json!({"room": room, "section": ids.section, "base": ids.base, "op": [ids.section_len, " (suggested)"],
                            "rationale": "Clarifies the scope.", "seq": 909})
        }
        "suggest_register" => {
            json!({"room": room, "change": {"action": "reword", "objection": ids.objection, "text": "Reworded objection."},
                                     "rationale": "Clearer wording.", "seq": 910})
        }
        "accept_suggestion" => {
            json!({"room": room, "suggestion": ids.suggestion, "note": "Fine.", "seq": 911})
        }
        "reject_suggestion" => {
            json!({"room": room, "suggestion": ids.suggestion, "reason": "Not needed.", "seq": 912})
        }
        "withdraw_suggestion" => json!({"room": room, "suggestion": ids.suggestion, "seq": 913}),
        "set_suggestion_acceptors" => json!({"room": room, "members": [ids.reviewer]}),
        "set_boundary_rules" => json!({"room": room, "rules": null}),
        "add_source" => json!({"room": room, "records": [{"id": "EN-0099", "time": "2026-11-17T12:00Z",
                                "kind": "comment", "text": "A later escalation note."}], "seq": 914}),
        "sources" => json!({"room": room}),
        "view_source" => json!({"room": room, "source": "SL-0091"}),
        "confirm_evidence" => json!({"room": room, "section": ids.section, "source": "SL-0091", "seq": 915}),
        other => panic!("no sample request for {other:?}: add one to request_of (every request kind must be tried)"),
    };
    v["type"] = json!(kind);
    v
}

/// What agents may send (docs/protocol.md §19, docs/agents.md): read,
/// object, reply, propose; never edit, decide, govern or release.
pub(crate) const AGENT_ALLOWED: [&str; 23] = [
    "rooms",
    "join",
    "leave",
    "object",
    "reply",
    "view_annex",
    "cursor",
    "readiness",
    "holds",
    "release_status",
    "export",
    "manifests",
    "request_access",
    "withdraw_access",
    "suggest",
    "suggest_register",
    "withdraw_suggestion",
    "suggestions",
    "stats",
    "add_source",
    "sources",
    "view_source",
    "ping",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_and_observers_are_refused_every_request_the_table_denies_them() -> Result<()> {
    use trustroom_shared::requests::TABLE;
    let server = TestServer::start().await?;
    let room = server.room();
    let (mut observer, snap) = server.joined("observer").await?;
    let (mut agent, _) = server.joined("agent/chronology").await?;
    let (mut priya, _) = server.joined("reviewer/privacy").await?;
    let (mut lena, _) = server.joined("reviewer/support-trust").await?;
    let (summary, body) = section(&snap, "Summary")?;
    let (a1, a2, a3) = (annex_id(&snap, "A1")?, annex_id(&snap, "A2")?, annex_id(&snap, "A3")?);

    // Real records of other members for the attempts to point at.
    let base = server.stored_revision().await?;
    let sug = priya
        .ok(json!({"type": "suggest", "room": room, "section": summary, "base": base, "op": [chars(&body), " (SL-0091)"],
                   "rationale": "Cites the render log.", "seq": 1}))
        .await?;
    let req = priya
        .ok(json!({"type": "request_access", "room": room, "annexes": [a3], "reason": "CASE-88412: check the access path"}))
        .await?;
    let prom = priya
        .ok(json!({"type": "request_promotion", "room": room, "annex": a1, "section": summary,
                   "passage": "Registry rows TR-2201, TR-2202", "reason": "CASE-88412: cite the registry rows"}))
        .await?;
    let bg = lena
        .ok(json!({"type": "break_glass", "room": room, "annexes": [a2], "reason": "SEV-1 bridge: confirm the replay"}))
        .await?;
    let (_, now) = server.joined("owner").await?;
    let ids = Ids {
        room: room.clone(),
        section: summary.clone(),
        section_len: chars(&body),
        base: server.stored_revision().await?,
        objection: objection_id(&snap, 1)?,
        annex: a1.clone(),
        request: str_of(&req["requests"][0]["request"], "request")?.to_string(),
        invocation: str_of(&bg["invocation"], "invocation")?.to_string(),
        promotion: str_of(&prom["promotion"], "promotion")?.to_string(),
        suggestion: str_of(&sug["created"], "suggestion")?.to_string(),
        content_hash: str_of(&now["content_hash"], "content_hash")?.to_string(),
        reviewer: server.member("reviewer/privacy").user.to_string(),
    };
    // Every kind in the table has a sample (a new kind fails here first).
    for spec in TABLE {
        let _ = request_of(spec.name, &ids);
    }

    // The table must deny agents exactly what the documents say.
    let table_denied: BTreeSet<&str> = TABLE.iter().filter(|s| !s.agents).map(|s| s.name).collect();
    let documented_denied: BTreeSet<&str> =
        TABLE.iter().map(|s| s.name).filter(|n| !AGENT_ALLOWED.contains(n)).collect();
    ensure!(
        table_denied == documented_denied,
        "the request table and the documented agent rules disagree: table denies {table_denied:?}, docs deny {documented_denied:?}"
    );

    let before = server.stored_revision().await?;
    let mut failures = Vec::new();
    for name in &table_denied {
        let answer = agent.request(request_of(name, &ids)).await?;
        if !(answer["type"] == "error" && answer["code"] == "forbidden") {
            failures.push(format!("agent {name}: {answer}"));
        }
    }
    for spec in TABLE.iter().filter(|s| s.mutates && !matches!(s.name, "request_access" | "withdraw_access")) {
        let answer = observer.request(request_of(spec.name, &ids)).await?;
        if !(answer["type"] == "error" && answer["code"] == "forbidden") {
            failures.push(format!("observer {}: {answer}", spec.name));
        }
    }
    ensure!(failures.is_empty(), "not refused `forbidden`:\n{}", failures.join("\n"));
    ensure!(server.stored_revision().await? == before, "a refused request stored something");

    // The two an observer may send: ask for access, and withdraw it.
    let own = observer.ok(request_of("request_access", &ids)).await.context("observer request_access")?;
    let own_ids = Ids { request: str_of(&own["requests"][0]["request"], "request")?.to_string(), ..ids };
    observer.ok(request_of("withdraw_access", &own_ids)).await.context("observer withdraw_access (own request)")?;
    // And agents still do what they are for.
    agent.ok(request_of("object", &own_ids)).await.context("agent object")?;

    observer.ok(json!({"type": "ping"})).await?;
    agent.ok(json!({"type": "ping"})).await?;
    assert_no_restricted(observer.captured(), &hidden_patterns("ari.observer"), "ari.observer");
    assert_no_restricted(agent.captured(), &hidden_patterns("chronology-agent"), "chronology-agent");
    ensure!(DEMO_PATTERNS.len() == 3);
    Ok(())
}

/// What a downstream member may send: its lane requests, and the
/// connection-level ones (`rooms`, `leave`, `ping`). Everything a room
/// member does, joining first, is refused `forbidden`.
pub(crate) const DOWNSTREAM_ALLOWED: [&str; 7] =
    ["rooms", "leave", "ping", "lane_releases", "lane_release", "intake", "report_finding"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downstream_members_are_refused_every_room_request_and_see_no_room_content() -> Result<()> {
    use trustroom_shared::release::Lane;
    use trustroom_shared::requests::TABLE;
    let server = TestServer::start().await?;
    let room = server.room();
    let (_, token) = admin::add_user(&server.store, "dana.privacy-intake").await?;
    admin::add_member(
        &server.store,
        room.parse()?,
        "dana.privacy-intake",
        trustroom_shared::role::Role::Downstream { lane: Lane::Privacy },
    )
    .await?;
    let (mut owner, snap) = server.joined("owner").await?;
    let (summary, body) = section(&snap, "Summary")?;
    let ids = Ids {
        room: room.clone(),
        section: summary.clone(),
        section_len: chars(&body),
        base: server.stored_revision().await?,
        objection: objection_id(&snap, 1)?,
        annex: annex_id(&snap, "A1")?,
        request: uuid::Uuid::now_v7().to_string(),
        invocation: uuid::Uuid::now_v7().to_string(),
        promotion: uuid::Uuid::now_v7().to_string(),
        suggestion: uuid::Uuid::now_v7().to_string(),
        content_hash: str_of(&snap["content_hash"], "content_hash")?.to_string(),
        reviewer: server.member("reviewer/privacy").user.to_string(),
    };
    let mut lane = WsClient::connect(&server.url, &token).await?;
    let before = server.stored_revision().await?;
    let mut failures = Vec::new();
    for spec in TABLE.iter().filter(|s| !DOWNSTREAM_ALLOWED.contains(&s.name)) {
        let answer = lane.request(request_of(spec.name, &ids)).await?;
        if !(answer["type"] == "error" && answer["code"] == "forbidden") {
            failures.push(format!("downstream {}: {answer}", spec.name));
        }
    }
    // The lane requests are its own: nobody else's.
    for spec in TABLE.iter().filter(|s| s.capability == trustroom_shared::policy::Capability::Intake) {
        let answer = owner.request(request_of(spec.name, &ids)).await?;
        if !(answer["type"] == "error" && answer["code"] == "forbidden") {
            failures.push(format!("owner {}: {answer}", spec.name));
        }
    }
    ensure!(failures.is_empty(), "not refused `forbidden`:\n{}", failures.join("\n"));
    ensure!(server.stored_revision().await? == before, "a refused request stored something");
    // Its own requests reach the room (no release yet: an empty lane, and
    // a made-up release is not found).
    let list = lane.ok(request_of("lane_releases", &ids)).await?;
    ensure!(list["releases"].as_array().is_some_and(Vec::is_empty), "{list}");
    lane.refused(request_of("lane_release", &ids), "not_found").await?;
    // The room goes on; nothing of it reaches the downstream member.
    owner.ok(json!({"type": "hold", "room": room, "reason": "Waiting for the render log line."})).await?;
    lane.ok(json!({"type": "ping"})).await?;
    ensure!(
        lane.captured().iter().all(|f| !f.contains("\"snapshot\"") && !f.contains("\"event\"")),
        "room frames reached a downstream member"
    );
    let every: Vec<&str> = DEMO_PATTERNS.iter().flat_map(|(_, p)| p.iter().copied()).collect();
    assert_no_restricted(lane.captured(), &every, "dana.privacy-intake");
    let refusals = server.refusals(&room, "join", "forbidden").await?;
    ensure!(!refusals.is_empty(), "the refused join is audited");
    Ok(())
}
