//! The hold register over real websockets: itemised holds (`H-n`), each
//! cleared on its own with a rationale, never deleted; the room HELD while
//! any is open; holds placed and cleared by room checks; review holds
//! cleared by the owner's review; refusals for every wrong caller and
//! value; the register after a restart, in an escalated room, in the
//! export and in the manifest.

use super::*;

async fn holds(c: &mut WsClient, room: &str) -> Result<Value> {
    c.ok(json!({"type": "holds", "room": room})).await
}

fn clear(room: &str, hold: Value, rationale: &str) -> Value {
    json!({"type": "clear_hold", "room": room, "hold": hold, "rationale": rationale})
}

/// `(release state name, reasons)` of a fresh snapshot.
async fn held_by(server: &TestServer, room: &str) -> Result<(String, Vec<String>)> {
    let snap = snapshot(server, room).await?;
    let release = &snap["state"]["release"];
    let reasons = release["reasons"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default();
    Ok((release["state"].as_str().unwrap_or_default().to_string(), reasons))
}

async fn wait_state(server: &TestServer, room: &str, pred: impl Fn(&Value) -> bool) -> Result<Value> {
    for _ in 0..100 {
        let snap = snapshot(server, room).await?;
        if pred(&snap) {
            return Ok(snap);
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    anyhow::bail!("the room never reached the expected state: {}", snapshot(server, room).await?["state"]["release"])
}

/// A clean room marked ready, then changed by the legal reviewer: the
/// release-rules check holds it (a review hold, H-1).
async fn review_held() -> Result<(TestServer, String, WsClient, WsClient, Value)> {
    let server = TestServer::start().await?;
    let room = clean_room(&server).await?;
    let (mut owner, _) = member(&server, "owner", &room).await?;
    let (mut legal, _) = member(&server, "reviewer/legal", &room).await?;
    owner.ok(json!({"type": "mark_ready", "room": room})).await?;
    append(&server, &mut legal, &room, "[verified: SL-0104] The session ended at 09:28.").await?;
    let snap = wait_state(&server, &room, |s| s["state"]["release"]["state"] == "held").await?;
    Ok((server, room, owner, legal, snap))
}

#[tokio::test]
async fn holds_are_itemised_cleared_one_by_one_and_never_deleted() -> Result<()> {
    let server = TestServer::start().await?;
    let room = clean_room(&server).await?;
    let (mut owner, _) = member(&server, "owner", &room).await?;
    let h1 = owner.ok(json!({"type": "hold", "room": room, "reason": "waiting for legal"})).await?;
    let h2 = owner.ok(json!({"type": "hold", "room": room, "reason": "waiting for the privacy lead"})).await?;
    ensure!(h1["created"] == "H-1" && h2["created"] == "H-2", "{h1} {h2}");
    // A second hold adds a record; it does not replace the first reason.
    let (state, reasons) = held_by(&server, &room).await?;
    ensure!(state == "held", "{state}");
    ensure!(reasons == ["H-1: waiting for legal", "H-2: waiting for the privacy lead"], "{reasons:?}");

    // Everyone reads the register (agents and observers too).
    for role in ["observer", "agent/chronology", "reviewer/legal"] {
        let (mut c, _) = member(&server, role, &room).await?;
        let r = holds(&mut c, &room).await?;
        ensure!(r["holds"].as_array().map(Vec::len) == Some(2) && r["release"] == "HELD", "{role}: {r}");
        ensure!(r["holds"][0]["placed_by"]["by"] == "member", "{r}");
        c.close().await;
    }
    // Readiness lists each open hold as a blocker, first.
    let r = readiness(&mut owner, &room).await?;
    ensure!(r["blockers"][0]["blocker"] == "open_hold" && r["blockers"][0]["hold"] == "H-1", "{}", r["blockers"]);
    ensure!(r["blockers"][1]["hold"] == "H-2", "{}", r["blockers"]);

    // Neither mark_ready nor release_packet gets past an open hold, and a
    // refusal changes nothing.
    let before = server.stored_revision().await?;
    let m = refused_message(&mut owner, json!({"type": "mark_ready", "room": room}), "conflict").await?;
    ensure!(m.contains("H-1") && m.contains("H-2") && m.contains("clear_hold"), "{m}");
    let packet = snapshot(&server, &room).await?["state"]["content_revision"].as_u64().unwrap_or(0);
    let m = refused_message(
        &mut owner,
        json!({"type": "release_packet", "room": room, "lane": "privacy", "packet_revision": packet}),
        "conflict",
    )
    .await?;
    ensure!(m.contains("open hold H-1") && m.contains("open hold H-2"), "{m}");
    ensure!(server.stored_revision().await? == before, "a refusal stores nothing");

    // Clearing one leaves the room HELD by the other.
    owner.ok(clear(&room, json!(1), "Legal signed off on the wording at 10:40.")).await?;
    let (state, reasons) = held_by(&server, &room).await?;
    ensure!(state == "held" && reasons == ["H-2: waiting for the privacy lead"], "{state} {reasons:?}");
    let m = refused_message(&mut owner, clear(&room, json!(1), "again"), "conflict").await?;
    ensure!(m.contains("H-1 was already cleared"), "{m}");
    let m = refused_message(&mut owner, clear(&room, json!(9), "no such hold"), "not_found").await?;
    ensure!(m.contains("H-9") && m.contains("open: H-2"), "{m}");
    // The last one: back to drafting.
    owner.ok(clear(&room, json!(2), "The privacy lead reviewed the scope section.")).await?;
    let (state, reasons) = held_by(&server, &room).await?;
    ensure!(state == "drafting" && reasons.is_empty(), "{state} {reasons:?}");

    // Never deleted: both records, with who cleared them and why.
    let r = holds(&mut owner, &room).await?;
    let list = r["holds"].as_array().context("holds")?;
    ensure!(list.len() == 2, "{r}");
    ensure!(list[0]["cleared"]["rationale"] == "Legal signed off on the wording at 10:40.", "{r}");
    ensure!(list[1]["cleared"]["by"]["by"] == "member", "{r}");

    // Released: the manifest lists the holds cleared since the release before.
    owner.ok(json!({"type": "mark_ready", "room": room})).await?;
    owner.ok(json!({"type": "release", "room": room, "lane": "privacy"})).await?;
    // The packet moves on; a hold placed and cleared before its release.
    append(&server, &mut owner, &room, "[verified: TR-2201] Two tenants only.").await?;
    owner.ok(json!({"type": "hold", "room": room, "reason": "a third tenant is being checked"})).await?;
    owner.ok(clear(&room, json!(3), "The registry shows two tenants only.")).await?;
    let packet = snapshot(&server, &room).await?["state"]["content_revision"].as_u64().unwrap_or(0);
    owner
        .ok(json!({"type": "release_packet", "room": room, "lane": "account-governance", "packet_revision": packet}))
        .await?;
    let history = owner.ok(json!({"type": "manifests", "room": room})).await?;
    let first = &history["manifests"][0]["manifest"]["body"]["holds_cleared"];
    let second = &history["manifests"][1]["manifest"]["body"]["holds_cleared"];
    ensure!(first.as_array().map(Vec::len) == Some(2) && first[0]["hold"] == "H-1", "{first}");
    ensure!(first[0]["cleared"]["by"] == "morgan.hale", "names, not ids: {first}");
    ensure!(second.as_array().map(Vec::len) == Some(1) && second[0]["hold"] == "H-3", "{second}");
    ensure!(second[0]["cleared"]["rationale"] == "The registry shows two tenants only.", "{second}");
    // The manifest with its holds verifies offline.
    let bundle = export(&mut owner, &room, None, "json").await?;
    let v = verify_bundle(&text(&bundle), &public_key(&server).await?);
    ensure!(v.verified, "{}", v.summary);

    // Time held, per kind of hold (the stats view, `trustroom stats`, the export).
    let st = owner.ok(json!({"type": "stats", "room": room})).await?;
    let held = &st["handoff"]["held"];
    ensure!(held[0]["kind"] == "owner" && held[0]["holds"] == 3 && held[0]["open"] == 0, "{held}");
    ensure!(held[0]["total_ms"].as_i64().is_some_and(|ms| ms >= 0), "{held}");

    // Every placing and clearing is audited, with the hold's code.
    let chain = server.audit_chain(&room).await?;
    let decisions: Vec<(String, String)> = chain
        .iter()
        .filter(|e| e.detail["hold"].is_string())
        .map(|e| (e.detail["decision"].as_str().unwrap_or("").into(), e.detail["hold"].as_str().unwrap_or("").into()))
        .collect();
    let want: Vec<(String, String)> = [
        ("hold", "H-1"),
        ("hold", "H-2"),
        ("clear_hold", "H-1"),
        ("clear_hold", "H-2"),
        ("hold", "H-3"),
        ("clear_hold", "H-3"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    ensure!(decisions == want, "{decisions:?}");
    Ok(())
}

#[tokio::test]
async fn the_export_carries_the_register() -> Result<()> {
    let server = TestServer::start().await?;
    let room = clean_room(&server).await?;
    let (mut owner, _) = member(&server, "owner", &room).await?;
    owner.ok(json!({"type": "hold", "room": room, "reason": "waiting for legal"})).await?;
    owner.ok(json!({"type": "hold", "room": room, "reason": "waiting for the trace keeper"})).await?;
    owner.ok(clear(&room, json!(2), "The trace keeper confirmed the 09:17 line.")).await?;
    let json_a = text(&export(&mut owner, &room, None, "json").await?);
    let json_b = text(&export(&mut owner, &room, None, "json").await?);
    ensure!(json_a == json_b, "same state, same bytes");
    let bundle: Value = serde_json::from_str(&json_a)?;
    let list = bundle["holds"].as_array().context("the bundle's holds")?;
    ensure!(list.len() == 2 && list[0]["hold"] == "H-1" && list[0]["cleared"].is_null(), "{}", bundle["holds"]);
    ensure!(list[1]["cleared"]["rationale"] == "The trace keeper confirmed the 09:17 line.", "{}", bundle["holds"]);
    let md = text(&export(&mut owner, &room, None, "markdown").await?);
    ensure!(md.contains("## Hold register") && md.contains("2 hold(s), 1 open"), "{md}");
    ensure!(md.contains("H-1 OPEN") && md.contains("H-2 cleared"), "{md}");
    // The core (what a manifest binds) does not move with holds.
    let core_before = bundle["core"].clone();
    owner.ok(clear(&room, json!(1), "Legal signed off.")).await?;
    let after: Value = serde_json::from_str(&text(&export(&mut owner, &room, None, "json").await?))?;
    ensure!(after["core"] == core_before, "holds are not part of the packet revision");
    Ok(())
}

#[tokio::test]
async fn clearing_is_refused_for_every_wrong_caller_and_value() -> Result<()> {
    let server = TestServer::start().await?;
    let room = clean_room(&server).await?;
    let (mut owner, _) = member(&server, "owner", &room).await?;
    owner.ok(json!({"type": "hold", "room": room, "reason": "waiting for legal"})).await?;
    let before = server.stored_revision().await?;
    let good = clear(&room, json!(1), "Legal signed off.");

    // A non-member: the same bytes as for a room that does not exist.
    outsider_sees_no_room(&server, &[good.clone(), json!({"type": "holds", "room": room})]).await?;
    // Members without decide_release, and agents.
    for role in ["reviewer/privacy", "reviewer/legal", "observer", "agent/chronology", "agent/trace-keeper"] {
        let (mut c, _) = member(&server, role, &room).await?;
        c.refused(good.clone(), "forbidden").await.with_context(|| role.to_string())?;
        c.close().await;
    }
    // Bad numbers and rationales: stable codes.
    for (hold, code) in [
        (json!(0), "invalid"),
        (json!(-1), "invalid"),
        (json!(1u64 << 32), "invalid"),
        (json!(1u64 << 63), "invalid"),
        (json!(u64::MAX), "invalid"),
        (json!("H-1"), "invalid"),
        (json!(1.5), "invalid"),
        (json!(u32::MAX), "not_found"),
    ] {
        owner.refused(clear(&room, hold.clone(), "Legal signed off."), code).await.with_context(|| hold.to_string())?;
    }
    for rationale in ["", "   ", "\u{200b}\u{2060}\u{feff}", "\n\t"] {
        let m = refused_message(&mut owner, clear(&room, json!(1), rationale), "invalid").await?;
        ensure!(m.contains("rationale"), "{rationale:?}: {m}");
    }
    owner.refused(json!({"type": "clear_hold", "room": room, "hold": 1}), "invalid").await?;
    let huge = "x".repeat(10_001);
    owner.refused(clear(&room, json!(1), &huge), "too_large").await?;
    // Restricted detail in a rationale is refused by the ingress gate.
    owner.refused(clear(&room, json!(1), &format!("the tenant is {PATTERN}")), "restricted").await?;
    ensure!(server.stored_revision().await? == before, "no refusal stored anything");
    let (state, _) = held_by(&server, &room).await?;
    ensure!(state == "held", "still held: {state}");

    // A non-NFC rationale is kept as typed (it is text, not a name).
    let decomposed = "Legal signed off (Me\u{301}lanie).";
    owner.ok(clear(&room, json!(1), decomposed)).await?;
    let r = holds(&mut owner, &room).await?;
    ensure!(r["holds"][0]["cleared"]["rationale"] == decomposed, "{r}");

    // Restricted detail in a rationale or reason is refused by the ingress
    // gate in every disguise (upper-case, zero-width padding, full-width
    // forms) — `probe_limited` once the member's probe budget is spent —
    // and the observer watching the room receives none of it.
    let (mut observer, _) = member(&server, "observer", &room).await?;
    let zero_width: String = PATTERN.chars().flat_map(|c| [c, '\u{200b}']).collect();
    let full_width: String = PATTERN
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { char::from_u32(c as u32 + 0xFEE0).unwrap_or(c) } else { c })
        .collect();
    for disguise in [PATTERN.to_string(), PATTERN.to_uppercase(), zero_width, full_width] {
        for req in [
            clear(&room, json!(1), &format!("the tenant is {disguise}")),
            json!({"type": "hold", "room": room, "reason": format!("wait for {disguise}")}),
        ] {
            let answer = owner.request(req).await?;
            ensure!(matches!(error_code(&answer), "restricted" | "probe_limited"), "{disguise:?}: {answer}");
        }
    }
    observer.drain(std::time::Duration::from_millis(200)).await?;
    trustroom_e2e::assert_no_canary(observer.captured(), &[PATTERN, &PATTERN.to_uppercase()], "the observer");
    let r = holds(&mut observer, &room).await?;
    ensure!(r["holds"].as_array().map(Vec::len) == Some(1), "nothing was placed: {r}");
    Ok(())
}

#[tokio::test]
async fn a_failing_check_places_its_own_hold_and_clears_it_when_it_passes() -> Result<()> {
    let server = TestServer::start().await?;
    let room = clean_room(&server).await?;
    let (mut owner, snap) = member(&server, "owner", &room).await?;
    let (_, clean_body) = section_of(&snap, "Summary")?;
    // Text that a later annex declares restricted.
    let late = "acct-5150-ZQX";
    append(&server, &mut owner, &room, &format!("[verified: TR-2201] The tenant is {late}.")).await?;
    declare_late_pattern(&server, &room, late).await?;
    wait_state(&server, &room, |s| s["state"]["release"]["state"] == "held").await?;
    let r = holds(&mut owner, &room).await?;
    let h = &r["holds"][0];
    ensure!(h["placed_by"] == json!({"by": "check", "check": "annex_boundary"}), "{r}");
    ensure!(h["reason"].as_str().is_some_and(|t| t.contains("annex A2") && !t.contains(late)), "{r}");
    // One open hold per check, however often it fails.
    append(&server, &mut owner, &room, "[verified: SL-0091] Another line.").await?;
    ensure!(holds(&mut owner, &room).await?["holds"].as_array().map(Vec::len) == Some(1));

    // The owner cannot clear it by hand while the check still fails.
    let m = refused_message(&mut owner, clear(&room, json!(1), "Looks fine to me."), "conflict").await?;
    ensure!(m.contains("still fails"), "{m}");
    owner.ok(json!({"type": "hold", "room": room, "reason": "my own review of the annex map"})).await?;

    // Taking the text out: the check passes and its hold clears itself; the
    // owner's own hold keeps the room HELD.
    set_body(&server, &mut owner, &room, "Summary", &clean_body).await?;
    let snap =
        wait_state(&server, &room, |s| s["state"]["release"]["reasons"].as_array().is_some_and(|a| a.len() == 1))
            .await?;
    ensure!(
        snap["state"]["release"]["reasons"][0] == "H-2: my own review of the annex map",
        "{}",
        snap["state"]["release"]
    );
    let r = holds(&mut owner, &room).await?;
    ensure!(r["holds"][0]["cleared"]["by"] == json!({"by": "check", "check": "annex_boundary"}), "{r}");
    ensure!(r["holds"][0]["cleared"]["rationale"].as_str().is_some_and(|t| t.contains("passes again")), "{r}");
    owner.ok(clear(&room, json!(2), "The annex map is right.")).await?;
    ensure!(held_by(&server, &room).await?.0 == "drafting");
    Ok(())
}

#[tokio::test]
async fn the_owners_review_clears_the_release_rules_hold() -> Result<()> {
    let (server, room, mut owner, mut legal, snap) = review_held().await?;
    ensure!(
        snap["state"]["release"]["reasons"][0]
            .as_str()
            .is_some_and(|r| r.starts_with("H-1: room check failed: release rules")),
        "{}",
        snap["state"]["release"]
    );
    // It is a review hold: not a blocker of its own; the owner's review
    // (mark_ready) clears it, in the register, with the owner's name.
    let r = readiness(&mut owner, &room).await?;
    ensure!(!r["blockers"].to_string().contains("open_hold"), "{}", r["blockers"]);
    owner.ok(json!({"type": "mark_ready", "room": room})).await?;
    let r = holds(&mut owner, &room).await?;
    ensure!(r["release"] == "READY", "{r}");
    ensure!(r["holds"][0]["cleared"]["by"]["by"] == "member", "{r}");
    ensure!(r["holds"][0]["cleared"]["rationale"].as_str().is_some_and(|t| t.contains("reviewed packet rev")), "{r}");
    owner.ok(json!({"type": "release", "room": room, "lane": "privacy"})).await?;

    // Again, and this time release_packet is the review.
    append(&server, &mut legal, &room, "[verified: SL-0105] The fix shipped at 11:02.").await?;
    // (released → a change supersedes; marking ready then changing holds again)
    owner.ok(json!({"type": "mark_ready", "room": room})).await?;
    append(&server, &mut legal, &room, "[verified: SL-0106] Verified at 11:30.").await?;
    let snap = wait_state(&server, &room, |s| s["state"]["release"]["state"] == "held").await?;
    let packet = snap["state"]["content_revision"].as_u64().unwrap_or(0);
    let ack =
        owner.ok(json!({"type": "release_packet", "room": room, "lane": "privacy", "packet_revision": packet})).await?;
    ensure!(ack["from"] == "HELD", "{ack}");
    let r = holds(&mut owner, &room).await?;
    ensure!(r["release"] == "RELEASED" && r["holds"][1]["cleared"].is_object(), "{r}");
    let history = owner.ok(json!({"type": "manifests", "room": room})).await?;
    ensure!(history["manifests"][1]["manifest"]["body"]["holds_cleared"][0]["hold"] == "H-2", "{history}");
    Ok(())
}

#[tokio::test]
async fn the_register_survives_a_restart_and_escalation_freezes_it() -> Result<()> {
    let mut server = TestServer::start().await?;
    let room = clean_room(&server).await?;
    let (mut owner, _) = member(&server, "owner", &room).await?;
    owner.ok(json!({"type": "hold", "room": room, "reason": "waiting for legal"})).await?;
    owner.ok(json!({"type": "hold", "room": room, "reason": "waiting for the privacy lead"})).await?;
    owner.ok(clear(&room, json!(1), "Legal signed off.")).await?;
    let before = holds(&mut owner, &room).await?;
    owner.close().await;
    server.restart().await?;
    let (mut owner, _) = member(&server, "owner", &room).await?;
    let after = holds(&mut owner, &room).await?;
    ensure!(before == after, "{before} vs {after}");
    let h3 = owner.ok(json!({"type": "hold", "room": room, "reason": "numbering continues"})).await?;
    ensure!(h3["created"] == "H-3", "{h3}");

    owner.ok(json!({"type": "escalate", "room": room, "reason": "Direct handling by the incident commander."})).await?;
    owner.refused(clear(&room, json!(2), "Too late."), "read_only").await?;
    owner.refused(json!({"type": "hold", "room": room, "reason": "too late"}), "read_only").await?;
    let (mut observer, _) = member(&server, "observer", &room).await?;
    let r = holds(&mut observer, &room).await?;
    ensure!(r["release"] == "ESCALATED" && r["holds"].as_array().map(Vec::len) == Some(3), "{r}");
    Ok(())
}

#[tokio::test]
async fn escalation_freezes_a_check_hold_open() -> Result<()> {
    let (_server, room, mut owner, _legal, _) = review_held().await?;
    owner.ok(json!({"type": "escalate", "room": room, "reason": "Direct handling by the incident commander."})).await?;
    // The release-rules check stops failing in an escalated room: its hold
    // must not be recorded as cleared by it passing.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let r = holds(&mut owner, &room).await?;
    ensure!(r["release"] == "ESCALATED" && r["holds"][0]["cleared"].is_null(), "{r}");
    Ok(())
}
