//! 3. The egress filter.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn egress_masks_text_that_predates_its_pattern_for_unentitled_members_only() -> Result<()> {
    const NEW: &str = "Cobalt Harbor";
    // "Northwind Freight" is in the demo's Summary and Chronology already.
    const DEMO_TEXT: &str = "Northwind Freight";
    let hidden = [NEW, DEMO_TEXT];
    let server = TestServer::start().await?;
    let room = server.room();
    let (mut owner, snap0) = server.joined("owner").await?;
    let (mut priya, _) = server.joined("reviewer/privacy").await?;
    let (mut daniel, _) = server.joined("reviewer/legal").await?;
    let rev0 = revision_of(&snap0);
    let (scope, scope_body) = section(&snap0, "Exposure scope")?;
    let (chronology, chronology_body) = section(&snap0, "Chronology")?;
    ensure!(section(&snap0, "Summary")?.1.contains(DEMO_TEXT), "the demo Summary no longer names {DEMO_TEXT}");

    // Harmless today: nobody declared it yet.
    priya
        .ok(json!({"type": "edit", "room": room, "section": scope, "base": rev0,
                   "op": [chars(&scope_body), format!("\n\n{NEW} staff may have seen the shared screen.")], "seq": 1}))
        .await?;
    let obj = daniel
        .ok(json!({"type": "object", "room": room, "section": scope, "kind": "exposure-scope",
                   "text": format!("{NEW} is not named in the chronology."), "seq": 1}))
        .await?;
    let obj = str_of(&obj["created"], "objection id")?.to_string();
    let base = server.stored_revision().await?;
    priya
        .ok(json!({"type": "suggest", "room": room, "section": chronology, "base": base,
                   "op": [chars(&chronology_body), format!("\n\n[verified: TL-0433] 10:20 {NEW} confirmed the relay.")],
                   "rationale": format!("{NEW} confirmed it on the bridge."), "evidence": ["TL-0433"], "seq": 2}))
        .await?;
    owner
        .ok(json!({"type": "set_objection_status", "room": room, "objection": obj, "status": "accepted-residual",
                   "rationale": "Both readings are recorded for the downstream review.", "seq": 1}))
        .await?;

    // The operator declares both as restricted detail of a new annex A4,
    // readable by lena.fischer only.
    admin::add_annex(
        &server.store,
        server.seed.room,
        NewAnnex {
            title: "Third parties on the bridge".into(),
            classification: "third-parties".into(),
            content: format!("{NEW} (relay partner)\n{DEMO_TEXT} escalation contact\n"),
            sensitive: vec![NEW.into(), DEMO_TEXT.into()],
            allow: vec!["lena.fischer".into()],
        },
    )
    .await?;
    let added = owner.wait_for(|v| v["type"] == "event" && v["rev"]["change"]["kind"] == "annex_added", T).await?;
    ensure!(added["rev"]["change"]["annex"]["code"] == "A4");
    let owner_seen = owner.captured().len();

    // What one member sees now, through every path: a fresh join
    // (snapshot), a join with `since` (catch-up events), the suggestions,
    // readiness and export answers. `frames`: everything both connections received.
    struct Seen {
        frames: Vec<String>,
        snapshot: Value,
        catch_up: Vec<Value>,
        suggestions: Value,
        readiness: Value,
    }
    async fn look(server: &TestServer, role: &str, rev0: u64) -> Result<Seen> {
        let room = server.room();
        let mut c = server.client(role).await?;
        let snapshot = c.join(&room).await?;
        let mut catch = server.client(role).await?;
        catch.ok(json!({"type": "join", "room": room, "since": rev0})).await?;
        let catch_up: Vec<Value> = catch.take_pending().into_iter().filter(|v| v["type"] == "event").collect();
        ensure!(catch_up.len() >= 4, "{role}: expected the catch-up events since {rev0}, got {}", catch_up.len());
        let suggestions = c.ok(json!({"type": "suggestions", "room": room})).await?;
        let readiness = c.ok(json!({"type": "readiness", "room": room})).await?;
        for format in ["json", "markdown"] {
            c.ok(json!({"type": "export", "room": room, "format": format})).await?;
        }
        c.ok(json!({"type": "ping"})).await?;
        let mut frames = c.captured().to_vec();
        frames.extend(catch.captured().iter().cloned());
        Ok(Seen { frames, snapshot, catch_up, suggestions, readiness })
    }
    let obs = look(&server, "observer", rev0).await?;
    let dan = look(&server, "reviewer/legal", rev0).await?;
    let lena = look(&server, "reviewer/support-trust", rev0).await?;

    // Every deviation is collected, so one run shows them all.
    let mut problems: Vec<String> = Vec::new();
    let mut check = |ok: bool, msg: String| {
        if !ok {
            problems.push(msg);
        }
    };
    let body = |s: &Seen, title: &str| section(&s.snapshot, title).map(|(_, b)| b);
    let rationale = format!("{NEW} confirmed it on the bridge.");
    let suggestion_of = |s: &Seen| -> (Value, Value) {
        let answer = s.suggestions["suggestions"][0].clone();
        let in_state = s.snapshot["state"]["suggestions"]["suggestions"]
            .as_object()
            .and_then(|m| m.values().next().cloned())
            .unwrap_or(Value::Null);
        (answer, in_state)
    };

    // Entitled: plain text everywhere.
    check(
        body(&lena, "Summary")?.contains(DEMO_TEXT),
        format!("lena (A4): the Summary should show {DEMO_TEXT} plainly"),
    );
    check(body(&lena, "Exposure scope")?.contains(NEW), format!("lena (A4): the section should show {NEW} plainly"));
    check(
        lena.catch_up.iter().any(|e| e.to_string().contains(NEW)),
        format!("lena (A4): catch-up events should carry {NEW}"),
    );
    // (The readiness record and the export are one record for every member
    // and redact restricted detail for all: only checked for leaks below.)
    let (answer, in_state) = suggestion_of(&lena);
    for (what, sugg) in [("the suggestions answer", &answer), ("the snapshot's suggestions", &in_state)] {
        check(
            sugg["rationale"] == rationale.as_str(),
            format!("lena (A4, entitled): {what} should carry the rationale plainly, got {}", sugg["rationale"]),
        );
        check(
            sugg["proposal"]["op"].to_string().contains(NEW),
            format!(
                "lena (A4, entitled): {what} should carry the inserted text plainly, got {}",
                sugg["proposal"]["op"]
            ),
        );
    }

    // Not entitled: the same text with exactly those chars masked.
    let bar = "█".repeat(NEW.chars().count());
    for (s, who) in [(&obs, "ari.observer"), (&dan, "daniel.okafor")] {
        for title in ["Summary", "Chronology", "Exposure scope"] {
            let plain = body(&lena, title)?;
            let got = body(s, title)?;
            check(
                got == masked(&plain, &hidden),
                format!("{who}: section {title:?} is not masked char for char:\n got {got:?}\nplain {plain:?}"),
            );
        }
        check(
            s.snapshot["state"]["objections"].to_string().contains(&bar),
            format!("{who}: the objection text is not masked with █"),
        );
        check(
            Value::Array(s.catch_up.clone()).to_string().contains(&bar),
            format!("{who}: catch-up events are not masked with █"),
        );
        check(!s.readiness.to_string().contains(NEW), format!("{who}: the readiness answer carries {NEW}"));
        // Suggestions: the operation keeps its shape (same char counts), so
        // it still applies; the pattern's chars are hidden (checked below).
        let (answer, in_state) = suggestion_of(s);
        let (plain, _) = suggestion_of(&lena);
        for (what, sugg) in [("the suggestions answer", &answer), ("the snapshot's suggestions", &in_state)] {
            let shape = |op: &Value| -> Vec<i64> {
                op.as_array().map_or_else(Vec::new, |c| {
                    c.iter().map(|x| x.as_i64().unwrap_or_else(|| chars(x.as_str().unwrap_or_default()))).collect()
                })
            };
            let expected = shape(&json!([
                chars(&chronology_body),
                format!("\n\n[verified: TL-0433] 10:20 {NEW} confirmed the relay.")
            ]));
            check(
                shape(&sugg["proposal"]["op"]) == expected,
                format!(
                    "{who}: {what}: the masked operation lost its shape: {} (plain for lena: {})",
                    sugg["proposal"]["op"], plain["proposal"]["op"]
                ),
            );
        }
        if let Some(leak) = find_restricted(&s.frames, &hidden) {
            check(false, format!("LEAK: {who} received {leak}"));
        }
    }
    // A member already joined before the annex: every later frame filtered.
    owner.ok(json!({"type": "suggestions", "room": room})).await?;
    owner.ok(json!({"type": "readiness", "room": room})).await?;
    owner.ok(json!({"type": "export", "room": room, "format": "markdown"})).await?;
    if let Some(leak) = find_restricted(&owner.captured()[owner_seen..], &hidden) {
        check(false, format!("LEAK: morgan.hale (owner, joined before the annex) received {leak}"));
    }
    // Entitled to nothing new, priya and daniel never got A1-A3 detail either.
    for (c, who) in [(&mut priya, "priya.natarajan"), (&mut daniel, "daniel.okafor")] {
        c.ok(json!({"type": "ping"})).await?;
        if let Some(leak) = find_restricted(c.captured(), &hidden_patterns(who)) {
            check(false, format!("LEAK: {who} received {leak}"));
        }
    }
    ensure!(problems.is_empty(), "{} egress problem(s):\n- {}", problems.len(), problems.join("\n- "));
    Ok(())
}
