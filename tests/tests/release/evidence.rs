//! Evidence lineage end to end: source records registered with their
//! digest, citations bound to a record version, a changed record making
//! its citations stale (shown to every member, holding the room through
//! the stale-evidence check) until re-confirmed, updated or relabelled;
//! unknown citations block release; restricted records follow their
//! annex's rules; every refusal with its stable code; after a restart.

use super::*;

fn record(id: &str, text: &str) -> Value {
    json!({"id": id, "time": "2026-11-17T09:17:03Z", "kind": "render", "actor": "session tooling",
           "origin": "remote-session-log", "text": text})
}

fn add(room: &str, records: Vec<Value>) -> Value {
    json!({"type": "add_source", "room": room, "records": records})
}

async fn sources(c: &mut WsClient, room: &str) -> Result<Value> {
    c.ok(json!({"type": "sources", "room": room})).await
}

/// The state of `id`'s citation in section `title`.
fn citation<'a>(s: &'a Value, title: &str, id: &str) -> Result<&'a Value> {
    s["citations"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["title"] == title))
        .and_then(|c| c["cited"].as_array())
        .and_then(|a| a.iter().find(|c| c["source"] == id))
        .with_context(|| format!("{id} not cited in {title}: {s}"))
}

fn blockers(r: &Value) -> Vec<String> {
    r["blockers"].as_array().map(|a| a.iter().map(|b| b.to_string()).collect()).unwrap_or_default()
}

fn open_holds(snap: &Value) -> Vec<&Value> {
    snap["state"]["holds"].as_array().map(|a| a.iter().filter(|h| h["cleared"].is_null()).collect()).unwrap_or_default()
}

const SL: &str = "Customer-list view rendered for a second tenant; no tenant-mismatch warning raised.";

#[tokio::test]
async fn citations_bind_go_stale_hold_the_room_and_are_maintained() -> Result<()> {
    let mut server = TestServer::start().await?;
    let room = clean_room(&server).await?;
    let (mut owner, _) = member(&server, "owner", &room).await?;
    let (mut agent, _) = member(&server, "agent/chronology", &room).await?;
    let (mut legal, _) = member(&server, "reviewer/legal", &room).await?;

    // Registered by an agent: both ids the Summary cites.
    let case = json!({"id": "CASE-88412", "time": "2026-11-17T09:02Z", "kind": "case", "text": "Case opened."});
    let ack = agent.ok(add(&room, vec![case.clone(), record("SL-0091", SL)])).await?;
    let recs = ack["records"].as_array().context("records")?;
    ensure!(recs.len() == 2 && recs.iter().all(|r| r["outcome"] == "added" && r["version"] == 1), "{ack}");
    let digest = recs[1]["digest"].as_str().context("digest")?.to_string();
    ensure!(digest.len() == 64, "{digest}");
    // The same records again change nothing (same digest, non-NFC or spaced).
    let again = agent.ok(add(&room, vec![record("SL-0091", &format!("  {SL}  "))])).await?;
    ensure!(again["records"][0]["outcome"] == "unchanged" && again["records"][0]["digest"] == digest, "{again}");

    let s = sources(&mut legal, &room).await?;
    ensure!(citation(&s, "Summary", "SL-0091")?["status"]["status"] == "fresh", "{s}");
    ensure!(s["sources"].to_string().find(SL).is_none(), "no text in the register listing: {s}");
    let r = readiness(&mut owner, &room).await?;
    ensure!(blockers(&r).is_empty(), "{r}");

    // A new version: stale for everyone, the room held by the check.
    let v2 = agent.ok(add(&room, vec![record("SL-0091", &format!("{SL} Corrected at 09:17:05."))])).await?;
    ensure!(v2["records"][0]["outcome"] == "new_version" && v2["records"][0]["version"] == 2, "{v2}");
    let s = sources(&mut legal, &room).await?;
    let st = &citation(&s, "Summary", "SL-0091")?["status"];
    ensure!(st["status"] == "stale" && st["cited_version"] == 1 && st["version"] == 2, "{st}");
    let snap = snapshot(&server, &room).await?;
    ensure!(snap["state"]["release"]["state"] == "held", "{}", snap["state"]["release"]);
    let holds = open_holds(&snap);
    ensure!(holds.len() == 1 && holds[0]["placed_by"]["check"] == "stale_evidence", "{holds:?}");
    let r = readiness(&mut owner, &room).await?;
    ensure!(blockers(&r).iter().any(|b| b.contains("stale_evidence")), "{r}");
    // An owner cannot clear the hold by hand while the check fails.
    let e = owner
        .refused(json!({"type": "clear_hold", "room": room, "hold": 1, "rationale": "looks fine"}), "conflict")
        .await?;
    ensure!(e["message"].as_str().unwrap_or_default().contains("stale evidence"), "{e}");

    // Re-confirmed by an editor: fresh, the hold clears itself.
    let (sid, _) = section_of(&snap, "Summary")?;
    let confirm = json!({"type": "confirm_evidence", "room": room, "section": sid, "source": "SL-0091"});
    legal.ok(confirm.clone()).await?;
    legal.refused(confirm.clone(), "conflict").await?;
    agent.refused(confirm.clone(), "forbidden").await?;
    let snap = snapshot(&server, &room).await?;
    ensure!(open_holds(&snap).is_empty() && snap["state"]["release"]["state"] == "drafting", "{}", snap["state"]);
    let s = sources(&mut legal, &room).await?;
    ensure!(citation(&s, "Summary", "SL-0091")?["status"]["version"] == 2, "{s}");

    // Changed again, then maintained by updating the statement.
    agent.ok(add(&room, vec![record("SL-0091", &format!("{SL} v3."))])).await?;
    let new = CLEAN.replace("second tenant's customer list.", "second tenant's customer list at 09:17:05.");
    set_body(&server, &mut owner, &room, "Summary", &new).await?;
    let s = sources(&mut legal, &room).await?;
    let st = &citation(&s, "Summary", "SL-0091")?["status"];
    ensure!(st["status"] == "fresh" && st["version"] == 3, "{st}");

    // Changed again, then relabelled: the binding ends, the hold clears.
    agent.ok(add(&room, vec![record("SL-0091", &format!("{SL} v4."))])).await?;
    ensure!(snapshot(&server, &room).await?["state"]["release"]["state"] == "held");
    set_body(&server, &mut owner, &room, "Summary", &new.replace("CASE-88412, SL-0091", "CASE-88412")).await?;
    let snap = snapshot(&server, &room).await?;
    ensure!(open_holds(&snap).is_empty(), "{}", snap["state"]["holds"]);
    let bindings = snap["state"]["evidence"]["bindings"].as_array().context("bindings")?;
    ensure!(bindings.iter().all(|b| b["source"] != "SL-0091"), "{bindings:?}");

    // A citation of an unregistered id blocks release.
    append(&server, &mut owner, &room, "[verified: TL-404] Made up.").await?;
    let r = readiness(&mut owner, &room).await?;
    ensure!(blockers(&r).iter().any(|b| b.contains("unknown_evidence") && b.contains("TL-404")));

    // Every step is in the log and the audit chain, and survives a restart.
    let chain = server.audit_chain(&room).await?;
    ensure!(chain.iter().any(|e| e.kind == "change.source_recorded" && e.detail["version"] == 4));
    ensure!(chain.iter().any(|e| e.kind == "change.evidence_rebound" && e.detail["why"] == "confirmed"));
    server.restart().await?;
    let (mut legal, _) = member(&server, "reviewer/legal", &room).await?;
    let s = sources(&mut legal, &room).await?;
    let rec = s["sources"].as_array().and_then(|a| a.iter().find(|r| r["id"] == "SL-0091")).context("SL-0091")?;
    ensure!(rec["versions"].as_array().map(Vec::len) == Some(4), "{rec}");
    let text = legal.ok(json!({"type": "view_source", "room": room, "source": "SL-0091", "version": 1})).await?;
    ensure!(text["text"] == SL && text["digest"] == digest && text["versions"] == 4, "{text}");
    Ok(())
}

#[tokio::test]
async fn restricted_records_follow_their_annex() -> Result<()> {
    let server = TestServer::start().await?;
    let room = clean_room(&server).await?;
    let (mut privacy, _) = member(&server, "reviewer/privacy", &room).await?;
    let (mut owner, _) = member(&server, "owner", &room).await?;
    let (mut observer, _) = member(&server, "observer", &room).await?;
    let secret = format!("Registry row TR-1: {PATTERN} shown in session S-19.");
    let mut tr =
        json!({"id": "TR-1", "time": "2026-11-17T10:40Z", "kind": "registry-row", "text": secret, "annex": "A1"});

    // Not a reader of A1: forbidden, nothing stored.
    owner.refused(add(&room, vec![tr.clone()]), "forbidden").await?;
    // A reader registers it; its text never leaves in a snapshot or event.
    privacy.ok(add(&room, vec![tr.clone()])).await?;
    observer.drain(std::time::Duration::from_millis(300)).await?;
    let snap = snapshot(&server, &room).await?;
    ensure!(!snap.to_string().contains(PATTERN) && !snap.to_string().contains("Registry row"), "snapshot leaks");
    for c in [&observer, &owner] {
        ensure!(!c.captured_text().contains("Registry row"), "an event carried the text");
    }
    // Reading it: only readers of A1, audited with how.
    let e = observer.refused(json!({"type": "view_source", "room": room, "source": "TR-1"}), "forbidden").await?;
    ensure!(!e.to_string().contains(PATTERN), "{e}");
    owner.refused(json!({"type": "view_source", "room": room, "source": "TR-1"}), "forbidden").await?;
    let v = privacy.ok(json!({"type": "view_source", "room": room, "source": "TR-1"})).await?;
    ensure!(v["text"] == secret.as_str() && v["annex"] == "A1" && v["logged"] == true, "{v}");
    let chain = server.audit_chain(&room).await?;
    ensure!(chain.iter().any(|e| e.kind == "source.view" && e.detail["via"] == "need_to_know"));
    ensure!(!server.refusals(&room, "view_source", "forbidden").await?.is_empty());

    // The restriction is fixed; unrestricted records are free text to the gate.
    // (The gate refuses a declassified copy that still carries the detail;
    // one without it is refused for changing the restriction.)
    tr["annex"] = Value::Null;
    privacy.refused(add(&room, vec![tr.clone()]), "restricted").await?;
    tr["text"] = json!("Registry row TR-1, detail withheld.");
    privacy.refused(add(&room, vec![tr.clone()]), "conflict").await?;
    let leak = json!({"id": "TL-9", "time": "2026-11-17T10:40Z", "kind": "k", "text": format!("see {PATTERN}")});
    owner.refused(add(&room, vec![leak.clone()]), "restricted").await?;
    let mut zw = leak.clone();
    zw["text"] = json!(format!("see {}", PATTERN.chars().map(|c| format!("{c}\u{200b}")).collect::<String>()));
    owner.refused(add(&room, vec![zw]), "restricted").await?;
    // Upper-case and full-width (NFKC) variants, in the text and in a label.
    let full_width: String = PATTERN
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { char::from_u32(c as u32 + 0xFEE0).unwrap_or(c) } else { c })
        .collect();
    for variant in [PATTERN.to_uppercase(), full_width] {
        for field in ["text", "kind"] {
            let mut r = json!({"id": "TL-9", "time": "2026-11-17T10:40Z", "kind": "k", "text": "t"});
            r[field] = json!(format!("see {variant}"));
            // Refused as restricted, or unread once the probe budget is spent.
            let e = owner.request(add(&room, vec![r])).await?;
            ensure!(matches!(e["code"].as_str(), Some("restricted" | "probe_limited")), "{field}: {variant}: {e}");
        }
    }
    ensure!(!observer.captured_text().contains(PATTERN), "a refused record reached an observer");
    tr["annex"] = json!("A9");
    tr["id"] = json!("TR-2");
    privacy.refused(add(&room, vec![tr]), "invalid").await?;
    Ok(())
}

#[tokio::test]
async fn bad_source_requests_are_refused_with_stable_codes_and_store_nothing() -> Result<()> {
    let server = TestServer::start().await?;
    let room = clean_room(&server).await?;
    let (mut owner, _) = member(&server, "owner", &room).await?;
    let (mut observer, _) = member(&server, "observer", &room).await?;
    let before = server.stored_revision().await?;
    let ok = record("SL-1", "fine");
    let cases: Vec<(Value, &str)> = vec![
        (add(&room, vec![]), "invalid"),
        (add(&room, (0..501).map(|i| record(&format!("SL-{i}"), "x")).collect()), "too_large"),
        (add(&room, vec![ok.clone(), record("SL\u{200b}2", "x")]), "invalid"),
        (add(&room, vec![ok.clone(), record("SL 2", "x")]), "invalid"),
        (add(&room, vec![ok.clone(), record("annex:A1", "x")]), "invalid"),
        (add(&room, vec![ok.clone(), record("", "x")]), "invalid"),
        (add(&room, vec![ok.clone(), record(&"X".repeat(65), "x")]), "invalid"),
        (add(&room, vec![ok.clone(), record("SL-2", "")]), "invalid"),
        (add(&room, vec![ok.clone(), record("SL-2", &"y".repeat(2001))]), "invalid"),
        (add(&room, vec![ok.clone(), ok.clone()]), "invalid"),
        (add(&room, vec![json!({"id": "SL-3", "time": "2026-11-17 09:02", "kind": "k", "text": "t"})]), "invalid"),
        (add(&room, vec![json!({"id": "SL-3", "time": "2026-11-17T09:02Z", "text": "t"})]), "invalid"),
        (
            json!({"type": "view_source", "room": room, "source": "SL-1", "version": 9_223_372_036_854_775_808u64}),
            "invalid",
        ),
        (json!({"type": "view_source", "room": room, "source": "SL-404"}), "not_found"),
        (json!({"type": "view_source", "room": room, "source": "SL\u{200b}1"}), "invalid"),
        (
            json!({"type": "confirm_evidence", "room": room, "section": SectionId::new().to_string(), "source": "SL-1"}),
            "not_found",
        ),
    ];
    for (req, code) in &cases {
        owner.refused(req.clone(), code).await.with_context(|| format!("{req}"))?;
    }
    ensure!(server.stored_revision().await? == before, "a refused request stored something");
    // Members without the capability: forbidden; no member: not found.
    observer.refused(add(&room, vec![ok.clone()]), "forbidden").await?;
    outsider_sees_no_room(
        &server,
        &[
            add(&room, vec![ok.clone()]),
            json!({"type": "sources", "room": room}),
            json!({"type": "view_source", "room": room, "source": "SL-1"}),
        ],
    )
    .await?;
    // Version 0 and a version past the newest are not found.
    owner.ok(add(&room, vec![ok])).await?;
    for v in [0u64, 2, u64::from(u32::MAX)] {
        owner
            .refused(json!({"type": "view_source", "room": room, "source": "SL-1", "version": v}), "not_found")
            .await?;
    }
    // An escalated room registers nothing.
    owner.ok(json!({"type": "escalate", "room": room, "reason": "direct handling"})).await?;
    owner.refused(add(&room, vec![record("SL-5", "x")]), "read_only").await?;
    owner.ok(json!({"type": "sources", "room": room})).await?;
    Ok(())
}

#[tokio::test]
async fn the_release_binds_the_transformation_trace_and_the_export_carries_it() -> Result<()> {
    let server = TestServer::start().await?;
    let room = clean_room(&server).await?;
    let (mut owner, _) = member(&server, "owner", &room).await?;
    let (mut agent, _) = member(&server, "agent/chronology", &room).await?;
    let case = json!({"id": "CASE-88412", "time": "2026-11-17T09:02Z", "kind": "case", "text": "Case opened."});
    agent.ok(add(&room, vec![case, record("SL-0091", SL)])).await?;
    append(&server, &mut owner, &room, "[verified: SL-0091] The view was read-only.").await?;

    // Unreleased: the bundle's own trace, with the edit run and the evidence digests.
    let e = export(&mut owner, &room, None, "json").await?;
    let bundle: Value = serde_json::from_str(&text(&e))?;
    let summary = bundle["trace"]["sections"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["title"] == "Summary"))
        .context("Summary traced")?;
    let changes = summary["changes"].as_array().context("changes")?;
    ensure!(changes.iter().any(|c| c["change"] == "edits" && c["author"] == "morgan.hale"), "{summary}");
    let ev = summary["evidence"].as_array().context("evidence")?;
    ensure!(ev.iter().any(|r| r["id"] == "SL-0091" && r["digest"].as_str().map(str::len) == Some(64)), "{ev:?}");
    let again = export(&mut owner, &room, None, "json").await?;
    ensure!(text(&again) == text(&e), "same state, same bytes");
    let md = export(&mut owner, &room, None, "markdown").await?;
    ensure!(text(&md).contains("## Transformation trace") && text(&md).contains("evidence SL-0091 v1 sha256:"));

    // Released: the trace rides in the release record, bound by the manifest.
    ready_and_release(&mut owner, &room, "privacy").await?;
    let e = export(&mut owner, &room, None, "json").await?;
    let released = text(&e);
    let key = public_key(&server).await?;
    let v = verify_bundle(&released, &key);
    ensure!(v.verified, "{}", v.summary);
    let bundle: Value = serde_json::from_str(&released)?;
    ensure!(bundle["trace"].is_null() && !bundle["release"]["trace"].is_null(), "{}", bundle["release"]);
    let digest = bundle["release"]["manifest"]["body"]["trace_digest"].as_str().context("trace_digest")?;
    ensure!(
        digest
            == trustroom_shared::canonical::sha256_hex(&trustroom_shared::canonical::canonical_json(
                &bundle["release"]["trace"]
            ))
    );
    // Any change to the trace, or a trace outside the signatures, fails verification.
    let forged = released.replacen("morgan.hale", "ari.observer", 1);
    let mut tampered: Value = serde_json::from_str(&released)?;
    tampered["release"]["trace"]["since_packet_revision"] = json!(1);
    let mut extra: Value = serde_json::from_str(&released)?;
    extra["trace"] = extra["release"]["trace"].clone();
    let mut dropped: Value = serde_json::from_str(&released)?;
    if let Some(m) = dropped["release"].as_object_mut() {
        m.remove("trace");
    }
    for (what, text) in [
        ("a renamed author", forged),
        ("a moved window", tampered.to_string()),
        ("an unsigned copy", extra.to_string()),
        ("a dropped trace", dropped.to_string()),
    ] {
        ensure!(!verify_bundle(&text, &key).verified, "{what} still verifies");
    }
    Ok(())
}

#[tokio::test]
async fn a_restricted_record_cannot_carry_restricted_detail_in_the_fields_everyone_sees() -> Result<()> {
    let server = TestServer::start().await?;
    let room = clean_room(&server).await?;
    let (mut privacy, _) = member(&server, "reviewer/privacy", &room).await?;
    let (observer, _) = member(&server, "observer", &room).await?;
    let base =
        json!({"id": "TR-7", "time": "2026-11-17T10:40Z", "kind": "registry-row", "text": "fine", "annex": "A1"});
    for field in ["kind", "actor", "origin"] {
        let mut r = base.clone();
        r[field] = json!(format!("see {}", PATTERN.to_lowercase()));
        privacy.refused(add(&room, vec![r]), "restricted").await.with_context(|| field.to_string())?;
    }
    // The salt of a restricted record's digest reaches only its readers.
    privacy.ok(add(&room, vec![base])).await?;
    let v = privacy.ok(json!({"type": "view_source", "room": room, "source": "TR-7"})).await?;
    let salt = v["salt"].as_str().context("salt for a reader")?.to_string();
    let mut observer = observer;
    observer.drain(std::time::Duration::from_millis(300)).await?;
    ensure!(!observer.captured_text().contains(&salt), "the salt reached a non-reader");
    ensure!(!snapshot(&server, &room).await?.to_string().contains(&salt), "the salt is in a snapshot");
    Ok(())
}
