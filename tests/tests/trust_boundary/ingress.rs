//! 1. The ingress gate.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingress_gate_refuses_restricted_detail_in_every_free_text_field() -> Result<()> {
    let server = TestServer::start().await?;
    let room = server.room();
    let (mut observer, snap) = server.joined("observer").await?;
    let (mut owner, _) = server.joined("owner").await?;
    let (mut priya, _) = server.joined("reviewer/privacy").await?;
    let (mut sam, _) = server.joined("reviewer/support-engineering").await?;
    let (mut lena, _) = server.joined("reviewer/support-trust").await?;
    let (mut agent, _) = server.joined("agent/chronology").await?;
    let (summary, summary_body) = section(&snap, "Summary")?;
    let (affected, _) = section(&snap, "Affected accounts")?;
    let mut summary_len = chars(&summary_body);
    let (a1, a2, a3) = (annex_id(&snap, "A1")?, annex_id(&snap, "A2")?, annex_id(&snap, "A3")?);
    let o1 = objection_id(&snap, 1)?;

    // Clean records for the owner's decisions to carry notes about.
    let base = server.stored_revision().await?;
    let sug = priya
        .ok(json!({"type": "suggest", "room": room, "section": summary, "base": base,
                   "op": [summary_len, "\n\nThe render log line SL-0091 is cited."],
                   "rationale": "Cites the render log line.", "seq": 1}))
        .await?;
    let sug = str_of(&sug["created"], "suggestion id")?.to_string();
    let access = priya
        .ok(json!({"type": "request_access", "room": room, "annexes": [a3],
                   "reason": "CASE-88412: check the privileged access path"}))
        .await?;
    let access = str_of(&access["requests"][0]["request"], "access request id")?.to_string();
    const PROMOTED: &str = "Tenant viewing: acct-9902-BLT (Bluefin Logistics)";
    let prom_a = priya
        .ok(json!({"type": "request_promotion", "room": room, "annex": a1, "section": affected,
                   "passage": PROMOTED, "reason": "CASE-88412: name the viewing tenant"}))
        .await?;
    let prom_a = str_of(&prom_a["promotion"], "promotion id")?.to_string();
    let prom_b = priya
        .ok(json!({"type": "request_promotion", "room": room, "annex": a1, "section": affected,
                   "passage": "Registry rows TR-2201, TR-2202", "reason": "CASE-88412: cite the registry rows"}))
        .await?;
    let prom_b = str_of(&prom_b["promotion"], "promotion id")?.to_string();

    // --- priya may read A1: every field, every variant; the message names A1.
    let variants = [
        P.to_string(),
        "ACCT-4471-nwf".to_string(),
        "acct\u{200B}-4471-NWF".to_string(),
        "ａｃｃｔ－４４７１－ＮＷＦ".to_string(),
        "acct-\u{1D7D2}\u{1D7D2}\u{1D7D5}\u{1D7CF}-NWF".to_string(),
        "a\u{00AD}cct-44\u{2060}71-N\u{FEFF}WF".to_string(),
        "a\u{200D}c\u{200C}c\u{200B}t\u{FE0F}－4471-ｎｗｆ".to_string(),
    ];
    for v in &variants {
        gated(&server, &mut priya,
              json!({"type": "object", "room": room, "section": summary, "kind": "other", "text": format!("Tenant {v} saw the list."), "seq": 50}),
              "text", Some("A1")).await?;
    }
    let base = server.stored_revision().await?;
    let priya_cases: Vec<(Value, &str)> = vec![
        (
            json!({"type": "add_section", "room": room, "title": format!("Notes on {P}"), "body": "Clean body.", "seq": 51}),
            "title",
        ),
        (
            json!({"type": "add_section", "room": room, "title": "Tenant notes", "body": "Viewer: Bluefin \u{00A0} Logistics.", "seq": 52}),
            "body",
        ),
        (
            json!({"type": "edit", "room": room, "section": summary, "base": base, "op": [summary_len, format!(" ({P})")], "seq": 53}),
            "op",
        ),
        (
            json!({"type": "object", "room": room, "section": summary, "kind": "wording", "text": "Quote check.", "quote": P, "seq": 54}),
            "quote",
        ),
        (
            json!({"type": "reply", "room": room, "objection": o1, "text": format!("The third tenant is not {P}."), "seq": 55}),
            "text",
        ),
        (
            json!({"type": "set_objection_status", "room": room, "objection": o1, "status": "addressed", "rationale": format!("Scope limited to {P}."), "seq": 56}),
            "rationale",
        ),
        (
            json!({"type": "request_access", "room": room, "annexes": [a3], "reason": format!("CASE-88412: path used for {P}"), "seq": 57}),
            "reason",
        ),
        (
            json!({"type": "request_promotion", "room": room, "annex": a1, "section": affected, "passage": "Registry rows TR-2201, TR-2202", "reason": format!("CASE-88412: rows of {P}"), "seq": 58}),
            "reason",
        ),
        (
            json!({"type": "suggest", "room": room, "section": summary, "base": base, "op": [summary_len, format!(" Tenant {P}.")], "rationale": "Names the tenant.", "seq": 59}),
            "op",
        ),
        (
            json!({"type": "suggest", "room": room, "section": summary, "base": base, "op": [summary_len, " Clean."], "rationale": format!("Tenant is {P}."), "seq": 60}),
            "rationale",
        ),
        (
            json!({"type": "suggest", "room": room, "section": summary, "base": base, "op": [summary_len, " Clean."], "rationale": "Evidence attached.", "evidence": ["SL-0091", P], "seq": 61}),
            "evidence",
        ),
        (
            json!({"type": "suggest_register", "room": room, "change": {"action": "reword", "objection": o1, "text": format!("A third tenant besides {P} may be exposed.")}, "rationale": "Sharper.", "seq": 62}),
            "change",
        ),
    ];
    for (req, field) in priya_cases {
        gated(&server, &mut priya, req, field, Some("A1")).await?;
    }

    // --- sam may read A2 (and is on the break-glass list).
    gated(&server, &mut sam,
          json!({"type": "break_glass", "room": room, "annexes": [a2], "reason": "SEV-1 bridge: confirm relay SSR-55810"}),
          "reason", Some("A2")).await?;

    // --- the agent may read nothing: two refusals, nothing named.
    gated(&server, &mut agent,
          json!({"type": "object", "room": room, "section": summary, "kind": "evidence-sufficiency", "text": "The cache key TCTX:V2 explains the reuse.", "seq": 1}),
          "text", None).await?;
    let base = server.stored_revision().await?;
    gated(&server, &mut agent,
          json!({"type": "suggest", "room": room, "section": summary, "base": base, "op": [summary_len, " Console: /ops/tenant-switch."], "rationale": "Names the console.", "seq": 2}),
          "op", None).await?;

    // --- the owner may read no annex: four refusals (under the budget of 5), nothing named.
    gated(
        &server,
        &mut owner,
        json!({"type": "hold", "room": room, "reason": format!("Wait: {P} not yet confirmed")}),
        "reason",
        None,
    )
    .await?;
    gated(&server, &mut owner,
          json!({"type": "override_check", "room": room, "check": "annex_boundary", "rationale": format!("{P} is public on the status page")}),
          "rationale", None).await?;
    gated(&server, &mut owner,
          json!({"type": "set_boundary_rules", "room": room, "rules": [{"id": "tenant-id", "category": "other", "phrases": [P], "patterns": []}]}),
          "rules", None).await?;
    gated(&server, &mut owner,
          json!({"type": "reject_suggestion", "room": room, "suggestion": sug, "reason": format!("Do not mention {P} here."), "seq": 1}),
          "reason", None).await?;

    // The owner puts themself on the break-glass list and reads A1: now
    // entitled, the refusals name A1 (and no longer count as probes).
    let me = server.member("owner").user.to_string();
    let lena_id = server.member("reviewer/support-trust").user.to_string();
    let sam_id = server.member("reviewer/support-engineering").user.to_string();
    owner.ok(json!({"type": "set_access_policy", "room": room, "break_glass": [lena_id, sam_id, me]})).await?;
    owner
        .ok(json!({"type": "break_glass", "room": room, "annexes": [a1], "reason": "SEV-1 bridge: confirm the tenant mapping"}))
        .await
        .context("the owner could not break glass on A1")?;
    let owner_cases: Vec<(Value, &str)> = vec![
        (json!({"type": "approve_access", "room": room, "request": access, "note": format!("Only for {P}")}), "note"),
        (json!({"type": "deny_access", "room": room, "request": access, "note": format!("Not for {P}")}), "note"),
        (json!({"type": "approve_promotion", "room": room, "promotion": prom_a, "note": format!("ok: {P}")}), "note"),
        (json!({"type": "deny_promotion", "room": room, "promotion": prom_b, "note": format!("no: {P}")}), "note"),
        (
            json!({"type": "accept_suggestion", "room": room, "suggestion": sug, "note": format!("Fine for {P}."), "seq": 2}),
            "note",
        ),
        (
            json!({"type": "set_objection_status", "room": room, "objection": o1, "status": "accepted-residual", "rationale": format!("Residual: {P}"), "seq": 3}),
            "rationale",
        ),
    ];
    for (req, field) in owner_cases {
        gated(&server, &mut owner, req, field, Some("A1")).await?;
    }

    // --- lena may read no A1: the pattern assembled from pieces, and
    // evasive spellings. Four refusals, so still under the budget.
    let base = server.stored_revision().await?;
    lena.ok(json!({"type": "edit", "room": room, "section": summary, "base": base, "op": [summary_len, " acct-4471"], "seq": 1})).await?;
    summary_len += chars(" acct-4471");
    let base = server.stored_revision().await?;
    gated(
        &server,
        &mut lena,
        json!({"type": "edit", "room": room, "section": summary, "base": base, "op": [summary_len, "-NWF"], "seq": 2}),
        "op",
        None,
    )
    .await
    .context("appending -NWF next to acct-4471")?;
    lena.ok(
        json!({"type": "edit", "room": room, "section": summary, "base": base, "op": [summary_len, "~-NWF"], "seq": 3}),
    )
    .await?;
    let base = server.stored_revision().await?;
    // Delete the `~` between the halves.
    gated(
        &server,
        &mut lena,
        json!({"type": "edit", "room": room, "section": summary, "base": base, "op": [summary_len, -1, 4], "seq": 4}),
        "op",
        None,
    )
    .await
    .context("deleting the text between the two halves")?;
    gated(&server, &mut lena,
          json!({"type": "object", "room": room, "section": summary, "kind": "sensitivity", "text": "Tenant ａｃｃｔ\u{200B}－４４７１－ＮＷＦ is named.", "seq": 5}),
          "text", None).await?;
    gated(&server, &mut lena,
          json!({"type": "reply", "room": room, "objection": o1, "text": "The viewer was bluefin\u{00A0}\u{2003} LOGISTICS.", "seq": 6}),
          "text", None).await?;
    // Four refusals are not a lock-out.
    lena.ok(json!({"type": "reply", "room": room, "objection": o1, "text": "Agreed, the render log line is needed.", "seq": 7}))
        .await
        .context("an unentitled member under the budget must still be able to post innocent text")?;

    // Nothing restricted was stored: not in the revision log (annex
    // records and sealed promotion requests aside, which never leave the
    // server), not in what an entitled member sees.
    let stored: Vec<String> = server
        .stored_revisions()
        .await?
        .iter()
        .filter(|r| !matches!(r.change.kind_name(), "annex_added" | "promotion_requested"))
        // A restricted source record is annex material, kept like the annex.
        .filter(|r| !matches!(&r.change, trustroom_shared::change::Change::SourceRecorded { annex: Some(_), .. }))
        .map(serde_json::to_string)
        .collect::<std::result::Result<_, _>>()?;
    assert_no_restricted(&stored, &all_patterns(), "the stored revision log");
    let (_, entitled_view) = server.joined("reviewer/privacy").await?;
    assert_no_restricted(
        &[entitled_view.to_string()],
        &all_patterns(),
        "priya's fresh snapshot (A1 entitled, unmasked)",
    );

    // No event reached anyone for a refused request: the observer's last
    // event is the stored revision, and no frame carries a pattern.
    for c in [&mut observer, &mut owner, &mut priya, &mut sam, &mut lena, &mut agent] {
        c.ok(json!({"type": "ping"})).await?;
        c.drain(std::time::Duration::from_millis(100)).await?;
    }
    let stored_rev = server.stored_revision().await?;
    ensure!(
        last_event_revision(&observer) == stored_rev,
        "observer's last event {} vs stored {stored_rev}",
        last_event_revision(&observer)
    );
    for (c, who) in [
        (&observer, "ari.observer"),
        (&owner, "morgan.hale (owner)"),
        (&lena, "lena.fischer"),
        (&agent, "chronology-agent"),
        (&sam, "sam.reyes"),
        (&priya, "priya.natarajan"),
    ] {
        assert_no_restricted(c.captured(), &all_patterns(), who);
    }

    // A promotion is still the one way annex text enters the packet.
    let seen = observer.captured().len();
    let approved = owner
        .ok(json!({"type": "approve_promotion", "room": room, "promotion": prom_a, "note": "Approved for the affected-accounts section."}))
        .await
        .context("approving a promotion of annex text")?;
    let inserted = approved["revision"].as_u64().context("promotion revision")?;
    priya.wait_for_revision(inserted).await?;
    let (_, after) = server.joined("reviewer/privacy").await?;
    let (_, body) = section(&after, "Affected accounts")?;
    ensure!(body.contains(PROMOTED), "the approved passage is not in the section: {body:?}");
    observer.ok(json!({"type": "ping"})).await?;
    let rest: Vec<&str> = all_patterns().into_iter().filter(|p| !PROMOTED.contains(p)).collect();
    assert_no_restricted(&observer.captured()[seen..], &rest, "ari.observer after the promotion");

    // The escalation reason is gated too (last: an accepted escalation
    // would make the room read-only).
    gated(
        &server,
        &mut owner,
        json!({"type": "escalate", "room": room, "reason": format!("Tenant {P} exposed")}),
        "reason",
        Some("A1"),
    )
    .await?;
    ensure!(server.stored_revision().await? == inserted, "a refused escalation stored something");
    Ok(())
}
