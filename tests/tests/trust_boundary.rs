//! The trust boundary, end to end, one test per guarantee:
//!
//! 1. the ingress gate refuses restricted detail in every free-text field
//!    (also assembled from pieces, also zero-width / full-width variants),
//!    stores nothing, and tells only entitled members which annex matched;
//! 2. the probe budget stops a member bisecting an annex's 4-digit pattern
//!    (and a stronger, group-testing attacker:
//!    `probe_budget_stops_group_testing_with_free_accepted_probes`);
//! 3. the egress filter masks text that was in the room before its pattern
//!    was declared, for members not entitled to the annex only;
//! 4. client ids are bound to the authenticated user;
//! 5. `seq` is capped at 2^63−1 at parse time, and the largest valid one
//!    survives a restart;
//! 6. an escalated room answers a resend `read_only`, not `duplicate`;
//! 7. the access history never carries an unsalted passage hash;
//! 8. agents and observers are refused every request the table denies them.
//!
//! Every member not entitled to an annex has each frame it received checked
//! with [`assert_no_restricted`] (plain, any case, normalised variants and
//! the SHA-256 of each pattern); the last test checks that recorder itself.

use std::collections::BTreeSet;

use anyhow::{Context, Result, ensure};
use serde_json::{Value, json};
use trustroom_e2e::{
    DEMO_PATTERNS, DEMO_SENSITIVE, T, TestServer, WsClient, annex_id, assert_no_restricted, chars, find_restricted,
    hidden_patterns, objection_id, revision_of, section, sha256_hex,
};
use trustroom_server::admin::{self, NewAnnex};
use trustroom_shared::ClientId;

/// Annex A1's first pattern, the one the tests try to smuggle and probe.
const P: &str = "acct-4471-NWF";

/// Most `acct-NNNN-NWF ` candidates (14 chars each) one text may carry
/// within `ServerConfig::default().max_text_chars` (10 000).
const PER_TEXT: usize = 714;

fn all_patterns() -> Vec<&'static str> {
    DEMO_SENSITIVE.to_vec()
}

fn str_of<'a>(v: &'a Value, what: &str) -> Result<&'a str> {
    v.as_str().with_context(|| format!("{what} is not a string: {v}"))
}

/// Sends `req`, which must be refused `restricted` with nothing stored.
/// `entitled`: the annex code the message must name (the sender may read
/// it), or `None` (it must name no annex and no pattern). Returns the message.
async fn gated(
    server: &TestServer,
    c: &mut WsClient,
    req: Value,
    field: &str,
    entitled: Option<&str>,
) -> Result<String> {
    let shown = req.to_string();
    let before = server.stored_revision().await?;
    let err = c.refused(req, "restricted").await.with_context(|| format!("field `{field}` of {shown}"))?;
    let msg = str_of(&err["message"], "message")?.to_string();
    ensure!(msg.contains(&format!("`{field}`")), "the refusal of {shown} does not name the field `{field}`: {msg:?}");
    match entitled {
        Some(code) => ensure!(
            msg.contains(&format!("annex {code}")),
            "an entitled member's refusal should name annex {code}: {msg:?} (request {shown})"
        ),
        None => {
            for code in ["A1", "A2", "A3", "A4"] {
                ensure!(!msg.contains(code), "a refusal to a member not entitled names annex {code}: {msg:?}");
            }
            assert_no_restricted(&[err.to_string()], &all_patterns(), "the refusal message to an unentitled member");
        }
    }
    let after = server.stored_revision().await?;
    ensure!(after == before, "a refused request stored something: revision {before} -> {after} ({shown})");
    Ok(msg)
}

/// The highest revision among the `event` frames `c` received.
fn last_event_revision(c: &WsClient) -> u64 {
    c.captured()
        .iter()
        .filter_map(|f| serde_json::from_str::<Value>(f).ok())
        .filter(|v| v["type"] == "event")
        .filter_map(|v| v["rev"]["revision"].as_u64())
        .max()
        .unwrap_or(0)
}

/// `text` with every occurrence of each of `patterns` replaced by '█', char for char.
fn masked(text: &str, patterns: &[&str]) -> String {
    let mut out = text.to_string();
    for p in patterns {
        out = out.replace(p, &"█".repeat(p.chars().count()));
    }
    out
}

// ---------------------------------------------------------------------------
// 1. The ingress gate
// ---------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------
// 2. The probe budget
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Probe {
    Restricted,
    Accepted,
    Limited,
}

fn candidates_text(cands: &[u32]) -> String {
    cands.iter().map(|n| format!("acct-{n:04}-NWF")).collect::<Vec<_>>().join(" ")
}

/// One probe: an objection packed with candidates.
async fn probe(c: &mut WsClient, room: &str, section: &str, cands: &[u32], seq: &mut u64) -> Result<Probe> {
    let text = candidates_text(cands);
    ensure!(chars(&text) <= 10_000, "probe text over max_text_chars");
    *seq += 1;
    let answer = c
        .request(
            json!({"type": "object", "room": room, "section": section, "kind": "other", "text": text, "seq": *seq}),
        )
        .await?;
    let got = match (answer["type"].as_str(), answer["code"].as_str()) {
        (Some("ok"), _) => Probe::Accepted,
        (Some("error"), Some("restricted")) => Probe::Restricted,
        (Some("error"), Some("probe_limited")) => Probe::Limited,
        _ => anyhow::bail!("unexpected answer to a probe: {answer}"),
    };
    if got != Probe::Accepted {
        let msg = answer["message"].as_str().unwrap_or_default();
        ensure!(
            !msg.contains("A1") && !msg.contains("4471"),
            "a probe refusal names the annex or the pattern: {msg:?}"
        );
    }
    Ok(got)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_budget_stops_bisection_of_an_annex_pattern() -> Result<()> {
    let server = TestServer::start().await?;
    let room = server.room();
    let (mut observer, snap) = server.joined("observer").await?;
    let (mut owner, _) = server.joined("owner").await?;
    // lena.fischer (support trust) is on no need-to-know list.
    let (mut lena, _) = server.joined("reviewer/support-trust").await?;
    let lena_id = server.member("reviewer/support-trust").user.to_string();
    let (chronology, body) = section(&snap, "Chronology")?;
    let o1 = objection_id(&snap, 1)?;

    // Bisection on refused/accepted, each half capped to what fits in one text.
    let mut s: Vec<u32> = (0..10_000).collect();
    let (mut seq, mut restricted, mut accepted, mut limited) = (0u64, 0usize, 0usize, false);
    while s.len() > 1 {
        let take = s.len().div_ceil(2).min(PER_TEXT);
        match probe(&mut lena, &room, &chronology, &s[..take], &mut seq).await? {
            Probe::Restricted => {
                restricted += 1;
                s.truncate(take);
            }
            Probe::Accepted => {
                accepted += 1;
                s.drain(..take);
            }
            Probe::Limited => {
                limited = true;
                break;
            }
        }
    }
    ensure!(
        s.len() > 1,
        "the bisection identified the pattern ({:?}) with {restricted} refusals and {accepted} accepted probes",
        candidates_text(&s)
    );
    ensure!(s.contains(&4471), "bug in the attack: the true pattern was eliminated");
    ensure!(limited, "the attack stopped without hitting the budget");
    // Every answer costs: refused guesses and accepted look-alikes alike.
    ensure!(
        restricted + accepted == 5,
        "expected exactly 5 answered probes before `probe_limited`, got {restricted} refused + {accepted} accepted"
    );
    eprintln!("bisection: {restricted} refusals, {accepted} accepted probes, {} candidates left", s.len());

    // Past the budget every free-text request is refused unread: also
    // innocent text, and also the true pattern (no answer differs).
    for text in ["The 09:17 entry needs the render log line.", P] {
        seq += 1;
        lena.refused(
            json!({"type": "object", "room": room, "section": chronology, "kind": "other", "text": text, "seq": seq}),
            "probe_limited",
        )
        .await?;
    }
    seq += 1;
    lena.refused(
        json!({"type": "reply", "room": room, "objection": o1, "text": "Agreed.", "seq": seq}),
        "probe_limited",
    )
    .await?;
    let base = server.stored_revision().await?;
    seq += 1;
    lena.refused(
        json!({"type": "edit", "room": room, "section": chronology, "base": base, "op": [chars(&body), " (checked)"], "seq": seq}),
        "probe_limited",
    )
    .await?;
    // Requests without free text still work.
    lena.ok(json!({"type": "cursor", "room": room, "section": chronology, "pos": 0})).await?;
    lena.ok(json!({"type": "readiness", "room": room})).await?;

    // The owners were alerted in the room and the audit log has it.
    for (c, who) in [(&mut observer, "observer"), (&mut owner, "owner")] {
        let ev = c
            .wait_for(|v| v["type"] == "event" && v["rev"]["change"]["kind"] == "probe_suspected", T)
            .await
            .with_context(|| format!("{who} got no probe_suspected event"))?;
        let change = &ev["rev"]["change"];
        ensure!(
            change["user"] == lena_id.as_str() && change["name"] == "lena.fischer",
            "probe_suspected names the wrong member: {change}"
        );
        let until = change["until_ms"].as_i64().context("until_ms")?;
        let now = trustroom_server::clock::now_ms();
        ensure!(
            until > now + 50 * 60_000 && until <= now + 61 * 60_000,
            "until_ms {until} is not about an hour from now ({now})"
        );
    }
    let chain = server.audit_chain(&room).await?;
    let suspected: Vec<_> = chain.iter().filter(|e| e.kind == "probe.suspected").collect();
    ensure!(suspected.len() == 1, "expected one probe.suspected audit entry, got {}", suspected.len());
    ensure!(
        suspected[0].detail["user"] == lena_id.as_str(),
        "probe.suspected names the wrong user: {:?}",
        suspected[0].detail
    );

    // An entitled member's careless pastes do not count: ten refusals
    // naming A1, then an innocent objection goes through.
    let (mut priya, _) = server.joined("reviewer/privacy").await?;
    for i in 0..10 {
        let ans = priya
            .refused(
                json!({"type": "object", "room": room, "section": chronology, "kind": "other",
                       "text": format!("Pasted from the annex ({i}): Tenant shown: {P}"), "seq": 100 + i}),
                "restricted",
            )
            .await?;
        ensure!(
            str_of(&ans["message"], "message")?.contains("annex A1"),
            "entitled paste refusal should name A1: {ans}"
        );
    }
    priya
        .ok(json!({"type": "object", "room": room, "section": chronology, "kind": "exposure-scope",
                   "text": "The exposure window needs the render log line.", "seq": 200}))
        .await
        .context("an entitled member was locked out by careless pastes")?;
    observer.ok(json!({"type": "ping"})).await?;
    let alerts = observer.captured().iter().filter(|f| f.contains("probe_suspected")).count();
    ensure!(alerts == 1, "expected exactly one probe_suspected alert (lena's), saw {alerts}");

    for (c, who) in [(&observer, "ari.observer"), (&owner, "morgan.hale"), (&lena, "lena.fischer (the prober)")] {
        assert_no_restricted(c.captured(), &all_patterns(), who);
    }
    Ok(())
}

/// Beyond plain bisection: the same member, exploiting that an ACCEPTED
/// probe costs nothing, tests small groups of candidates so that a refusal
/// is rare (group testing: 714-candidate groups, then ~27, then single
/// candidates; the last group of a round needs no probe at all). If the
/// budget only counts refusals, about three refusals name the pattern.
/// Every answered look-alike is charged, accepted or refused. (An
/// over-long text is no probe either: sizes are checked before the gate,
/// see `an_over_long_text_is_too_large_whether_or_not_it_holds_a_pattern`.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_budget_stops_group_testing_with_free_accepted_probes() -> Result<()> {
    let server = TestServer::start().await?;
    let room = server.room();
    let (mut observer, snap) = server.joined("observer").await?;
    let (mut lena, _) = server.joined("reviewer/support-trust").await?;
    let (chronology, _) = section(&snap, "Chronology")?;

    let mut s: Vec<u32> = (0..10_000).collect();
    let (mut seq, mut restricted, mut accepted, mut limited) = (0u64, 0usize, 0usize, false);
    'search: while s.len() > 1 {
        let group = if s.len() > PER_TEXT * 2 {
            PER_TEXT
        } else if s.len() > 30 {
            (s.len() as f64).sqrt().ceil() as usize
        } else {
            1
        };
        let groups: Vec<Vec<u32>> = s.chunks(group).map(<[u32]>::to_vec).collect();
        let last = groups.len() - 1;
        let mut next = None;
        for (i, g) in groups.iter().enumerate() {
            if i == last {
                // Every other group was accepted: this one holds it, for free.
                next = Some(g.clone());
                break;
            }
            match probe(&mut lena, &room, &chronology, g, &mut seq).await? {
                Probe::Accepted => accepted += 1,
                Probe::Restricted => {
                    restricted += 1;
                    next = Some(g.clone());
                    break;
                }
                Probe::Limited => {
                    limited = true;
                    break 'search;
                }
            }
        }
        s = next.context("no group left")?;
    }
    observer.ok(json!({"type": "ping"})).await?;
    let alerted = observer.captured().iter().any(|f| f.contains("probe_suspected"));
    ensure!(
        s.len() > 1,
        "PROBE BUDGET BYPASSED: an unentitled reviewer identified annex A1's pattern {:?} with only {restricted} \
         `restricted` refusals (budget 5) and {accepted} accepted probes (limited: {limited}, owners alerted: {alerted}). \
         Accepted probes cost nothing, so group testing needs about log_k(10000) refusals.",
        candidates_text(&s)
    );
    assert_no_restricted(observer.captured(), &all_patterns(), "ari.observer");
    Ok(())
}

// ---------------------------------------------------------------------------
// 3. The egress filter
// ---------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------
// 4. Identity-bound client ids
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_ids_are_bound_to_the_user_so_nobody_can_preempt_a_seq() -> Result<()> {
    let server = TestServer::start().await?;
    let room = server.room();
    let (mut observer, snap) = server.joined("observer").await?;
    let (sec, _) = section(&snap, "Exposure scope")?;
    let priya_tok = server.member("reviewer/privacy").token.clone();
    let lena_tok = server.member("reviewer/support-trust").token.clone();
    let priya_id = server.member("reviewer/privacy").user.to_string();

    let claimed = ClientId::new();
    let mut victim = WsClient::connect_as(&server.url, &priya_tok, Some(claimed)).await?;
    let bound = victim.client_id;
    ensure!(bound != claimed, "the welcome returned the claimed client id {claimed}: it is not bound to the user");
    victim.join(&room).await?;
    let object = |seq: u64, text: &str| json!({"type": "object", "room": room, "section": sec, "kind": "wording", "text": text, "seq": seq});
    let first = victim.ok(object(1, "Say 'visible' rather than 'displayed'.")).await?;
    ensure!(first["duplicate"] == false);

    // The attacker claims the victim's claimed id, then its bound id (seen
    // in every event), and spends the victim's next seq with each.
    let mut ids = Vec::new();
    for stolen in [claimed, bound] {
        let mut attacker = WsClient::connect_as(&server.url, &lena_tok, Some(stolen)).await?;
        ensure!(attacker.client_id != bound, "the attacker got the victim's bound client id {bound}");
        ensure!(attacker.client_id != stolen, "the attacker's claimed id {stolen} was not rebound");
        let ack = attacker.ok(object(2, "Pre-empting seq 2.")).await?;
        ensure!(ack["duplicate"] == false, "the attacker's own request was taken for a duplicate: {ack}");
        ids.push(attacker.client_id);
    }

    // The victim's next change is applied and broadcast normally.
    let text = "The exposure window is 09:17–09:28 UTC.";
    let ack = victim.ok(object(2, text)).await?;
    ensure!(ack["duplicate"] == false, "the victim's seq 2 came back as a duplicate: {ack}");
    ensure!(ack["created"].is_string(), "the victim's objection was not created: {ack}");
    let rev = ack["revision"].as_u64().context("revision")?;
    let ev = observer
        .wait_for(|v| v["type"] == "event" && v["rev"]["revision"] == rev, T)
        .await
        .context("the victim's change was not broadcast")?;
    ensure!(ev["rev"]["author"] == priya_id.as_str(), "wrong author: {ev}");
    ensure!(
        ev["rev"]["client"]["client"] == json!(bound) && ev["rev"]["client"]["seq"] == 2,
        "wrong client stamp: {ev}"
    );
    ensure!(ev["rev"]["change"]["objection"]["text"] == text, "wrong change: {ev}");
    // A real resend still deduplicates, also from a reconnect with the same claimed id.
    let again = victim.ok(object(2, text)).await?;
    ensure!(again["duplicate"] == true && again["revision"] == rev, "resend: {again}");
    let mut back = WsClient::connect_as(&server.url, &priya_tok, Some(claimed)).await?;
    ensure!(back.client_id == bound, "a reconnect with the same claimed id got another bound id");
    let again = back.ok(object(2, text)).await?;
    ensure!(again["duplicate"] == true && again["revision"] == rev, "resend after reconnect: {again}");
    ensure!(ids.iter().all(|i| *i != bound));

    observer.ok(json!({"type": "ping"})).await?;
    assert_no_restricted(observer.captured(), &all_patterns(), "ari.observer");
    Ok(())
}

// ---------------------------------------------------------------------------
// 5. The seq range
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seq_above_i64_max_is_invalid_and_the_maximum_survives_a_restart() -> Result<()> {
    const MAX: u64 = i64::MAX as u64;
    let mut server = TestServer::start().await?;
    let room = server.room();
    let (mut lena, snap) = server.joined("reviewer/support-trust").await?;
    let (mut priya, _) = server.joined("reviewer/privacy").await?;
    let (sec, _) = section(&snap, "Chronology")?;
    let lena_id = server.member("reviewer/support-trust").user.to_string();
    let object = |seq: Value, text: String| json!({"type": "object", "room": room, "section": sec, "kind": "other", "text": text, "seq": seq});

    // A hostile member pipelines bad seqs while another works: the bad ones
    // are refused at parse time, the good ones all land.
    let bad_seqs = [json!(MAX + 1), json!(u64::MAX), json!(MAX + 12_345), json!(-1)];
    let bad = async {
        let mut sent = Vec::new();
        for i in 0..40 {
            let seq = bad_seqs[i % bad_seqs.len()].clone();
            sent.push((lena.send_request(object(seq.clone(), format!("bad {i}"))).await?, seq));
        }
        for (id, seq) in sent {
            let (_, answer) = lena.await_answer_text(&id).await?;
            ensure!(answer["type"] == "error" && answer["code"] == "invalid", "seq {seq} should be invalid: {answer}");
            ensure!(answer["id"] == id.as_str(), "the refusal lost the request id: {answer}");
        }
        anyhow::Ok(())
    };
    let good = async {
        let mut sent = Vec::new();
        for i in 0..40u64 {
            sent.push(priya.send_request(object(json!(i + 1), format!("good {i}"))).await?);
        }
        for id in sent {
            let (_, answer) = priya.await_answer_text(&id).await?;
            ensure!(
                answer["type"] == "ok" && answer["result"]["duplicate"] == false,
                "a good request failed: {answer}"
            );
        }
        anyhow::Ok(())
    };
    tokio::try_join!(bad, good)?;
    let chain = server.audit_chain(&room).await?;
    let audited =
        chain.iter().filter(|e| e.actor == lena_id && e.kind == "refused" && e.detail["request"] == "object").count();
    ensure!(audited == 0, "{audited} bad-seq refusals reached the room (expected a parse-time refusal)");

    // 2^63−1 is valid, is deduplicated, and still is after a restart.
    let claimed = ClientId::new();
    let token = server.member("reviewer/legal").token.clone();
    let mut daniel = WsClient::connect_as(&server.url, &token, Some(claimed)).await?;
    let bound = daniel.client_id;
    let text = "Say 'no payment fields are part of this view'.".to_string();
    let first = daniel.ok(object(json!(MAX), text.clone())).await?;
    ensure!(first["duplicate"] == false, "{first}");
    let rev = first["revision"].as_u64().context("revision")?;
    let again = daniel.ok(object(json!(MAX), text.clone())).await?;
    ensure!(again["duplicate"] == true && again["revision"] == rev, "resend before the restart: {again}");
    drop(daniel);
    drop(lena);
    drop(priya);
    server.restart().await?;
    let mut daniel = WsClient::connect_as(&server.url, &token, Some(claimed)).await?;
    ensure!(daniel.client_id == bound, "the bound client id changed across a restart");
    let snap = daniel.join(&room).await?;
    let stored = server.stored_revision().await?;
    ensure!(snap["applied_seq"] == json!(MAX), "applied_seq after the restart: {}", snap["applied_seq"]);
    let after = daniel.ok(object(json!(MAX), text)).await?;
    ensure!(after["duplicate"] == true && after["revision"] == rev, "resend of seq 2^63−1 after the restart: {after}");
    ensure!(server.stored_revision().await? == stored, "the resend after the restart stored something");
    for seq in [json!(MAX + 1), json!(u64::MAX)] {
        daniel.refused(object(seq, "after restart".into()), "invalid").await?;
    }
    // Beyond u64 too (raw frame: not representable in a JSON value here).
    let raw = object(json!(0), "beyond u64".into()).to_string().replace("\"seq\":0", "\"seq\":18446744073709551616");
    let raw = raw.replacen('{', "{\"id\":\"big\",", 1);
    daniel.send_raw(&raw).await?;
    let (_, answer) = daniel.await_answer_text("big").await?;
    ensure!(answer["code"] == "invalid", "seq 2^64: {answer}");
    Ok(())
}

// ---------------------------------------------------------------------------
// 6. Read-only before duplicate
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escalated_room_answers_a_resend_read_only_not_duplicate() -> Result<()> {
    let server = TestServer::start().await?;
    let room = server.room();
    let (mut priya, snap) = server.joined("reviewer/privacy").await?;
    let (mut owner, _) = server.joined("owner").await?;
    let (sec, _) = section(&snap, "Summary")?;
    let req =
        json!({"type": "object", "room": room, "section": sec, "kind": "wording", "text": "Say 'visible'.", "seq": 7});
    let first = priya.ok(req.clone()).await?;
    ensure!(first["duplicate"] == false);
    let dup = priya.ok(req.clone()).await?;
    ensure!(dup["duplicate"] == true, "sanity: a resend before escalation is a duplicate: {dup}");
    owner
        .ok(json!({"type": "escalate", "room": room, "reason": "Exposure may include a third tenant; direct handling."}))
        .await?;
    let before = server.stored_revision().await?;
    let answer = priya.request(req).await?;
    ensure!(
        answer["type"] == "error" && answer["code"] == "read_only",
        "a resend of an applied seq in an escalated room must be read_only, got {answer}"
    );
    priya
        .refused(
            json!({"type": "object", "room": room, "section": sec, "kind": "wording", "text": "New.", "seq": 8}),
            "read_only",
        )
        .await?;
    ensure!(server.stored_revision().await? == before, "something was stored in the escalated room");
    // Reads still work.
    priya.join(&room).await?;
    Ok(())
}

// ---------------------------------------------------------------------------
// 7. No unsalted passage hash in the access history
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_history_never_carries_an_unsalted_passage_hash() -> Result<()> {
    const PASSAGE: &str = "Tenant viewing: acct-9902-BLT (Bluefin Logistics)";
    const PASSAGE_2: &str = "Tenant shown: acct-4471-NWF (Northwind Freight, enterprise tier)";
    let server = TestServer::start().await?;
    let room = server.room();
    let roles = [
        "owner",
        "reviewer/privacy",
        "reviewer/legal",
        "reviewer/support-engineering",
        "reviewer/support-trust",
        "agent/chronology",
        "observer",
    ];
    let mut clients = Vec::new();
    let mut snap = Value::Null;
    for role in roles {
        let (c, s) = server.joined(role).await?;
        snap = s;
        clients.push((role, c));
    }
    let a1 = annex_id(&snap, "A1")?;
    let (affected, _) = section(&snap, "Affected accounts")?;
    let lena_id = server.member("reviewer/support-trust").user.to_string();
    let idx = |role: &str| roles.iter().position(|r| *r == role).unwrap_or(0);

    // The owner names lena (no annex access) an auditor.
    clients[idx("owner")].1.ok(json!({"type": "set_access_policy", "room": room, "auditors": [lena_id]})).await?;
    let p1 = clients[idx("reviewer/privacy")]
        .1
        .ok(json!({"type": "request_promotion", "room": room, "annex": a1, "section": affected, "passage": PASSAGE,
                   "reason": "CASE-88412: name the viewing tenant", "seq": 1}))
        .await?;
    let p1 = str_of(&p1["promotion"], "promotion")?.to_string();

    let mut histories = Vec::new();
    for role in ["owner", "reviewer/support-trust"] {
        histories
            .push(clients[idx(role)].1.ok(json!({"type": "access_history", "room": room, "format": "json"})).await?);
    }
    // Deny it, request another: decided and pending ones alike.
    clients[idx("owner")]
        .1
        .ok(json!({"type": "deny_promotion", "room": room, "promotion": p1, "note": "Keep it in the annex."}))
        .await?;
    clients[idx("reviewer/privacy")]
        .1
        .ok(json!({"type": "request_promotion", "room": room, "annex": a1, "section": affected, "passage": PASSAGE_2,
                   "reason": "CASE-88412: name the shown tenant", "seq": 2}))
        .await?;
    for role in ["owner", "reviewer/support-trust"] {
        histories.push(clients[idx(role)].1.ok(json!({"type": "access_history", "room": room})).await?);
    }

    // The history records the promotion with a salted seal only.
    let mut seals = BTreeSet::new();
    for h in &histories {
        let entries = h["entries"].as_array().context("history entries")?;
        for e in entries.iter().filter(|e| e["detail"]["promotion"].is_string()) {
            ensure!(e["detail"].get("passage_hash").is_none(), "a history entry carries passage_hash: {e}");
            if let Some(seal) = e["detail"]["passage_seal"].as_str() {
                seals.insert(seal.to_string());
            }
        }
    }
    ensure!(!seals.is_empty(), "no promotion entry with a passage_seal in the access history");
    for passage in [PASSAGE, PASSAGE_2] {
        let unsalted = sha256_hex(passage);
        ensure!(!seals.contains(&unsalted), "passage_seal is the unsalted SHA-256 of the passage");
    }

    for (role, c) in &mut clients {
        c.ok(json!({"type": "ping"})).await?;
        let who = server.member(role).name.clone();
        // Nobody gets the passage or its hash (nobody called view_promotion).
        assert_no_restricted(c.captured(), &[PASSAGE, PASSAGE_2], &who);
        for passage in [PASSAGE, PASSAGE_2] {
            let h = sha256_hex(passage);
            ensure!(
                !c.captured().iter().any(|f| f.contains(&h)),
                "{who} received the unsalted SHA-256 of a pending passage"
            );
        }
        assert_no_restricted(c.captured(), &hidden_patterns(&who), &who);
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// 8. Agents and observers
// ---------------------------------------------------------------------------

/// Real ids the sample requests point at.
struct Ids {
    room: String,
    section: String,
    section_len: i64,
    base: u64,
    objection: String,
    annex: String,
    request: String,
    invocation: String,
    promotion: String,
    suggestion: String,
    content_hash: String,
    reviewer: String,
}

/// A well-formed request of kind `kind` about real records.
fn request_of(kind: &str, ids: &Ids) -> Value {
    let room = ids.room.as_str();
    let mut v = match kind {
        "rooms" | "ping" => json!({}),
        "join" | "leave" | "mark_ready" | "readiness" | "manifests" | "suggestions" | "stats" | "export"
        | "access_history" => {
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
        "release" => json!({"room": room, "lane": "privacy"}),
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
        other => panic!("no sample request for {other:?}: add one to request_of (every request kind must be tried)"),
    };
    v["type"] = json!(kind);
    v
}

/// What agents may send (docs/protocol.md §19, docs/agents.md): read,
/// object, reply, propose; never edit, decide, govern or release.
const AGENT_ALLOWED: [&str; 18] = [
    "rooms",
    "join",
    "leave",
    "object",
    "reply",
    "view_annex",
    "cursor",
    "readiness",
    "export",
    "manifests",
    "request_access",
    "withdraw_access",
    "suggest",
    "suggest_register",
    "withdraw_suggestion",
    "suggestions",
    "stats",
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

// ---------------------------------------------------------------------------
// The frame recorder itself
// ---------------------------------------------------------------------------

/// `assert_no_restricted` must catch every form it promises (else the
/// leak checks above would prove nothing) and must not flag masked text.
#[test]
fn frame_recorder_catches_case_invisible_fullwidth_escaped_and_hashed_forms() {
    let leaks = [
        json!({"text": "tenant acct-4471-nwf"}).to_string(),
        json!({"text": "ACCT-4471-NWF"}).to_string(),
        json!({"text": "acct\u{200B}-4471-N\u{2060}WF"}).to_string(),
        json!({"text": "ａｃｃｔ－４４７１－ＮＷＦ"}).to_string(),
        json!({"text": "acct-\u{1D7D2}\u{1D7D2}\u{1D7D5}\u{1D7CF}-NWF"}).to_string(),
        r#"{"text":"acct\u200b-4471-NWF"}"#.to_string(),
        json!({"text": "bluefin\u{00A0}\u{2003}LOGISTICS"}).to_string(),
        json!({"seal": sha256_hex(P)}).to_string(),
        format!("not json but {P}"),
    ];
    for frame in &leaks {
        assert!(find_restricted(std::slice::from_ref(frame), &all_patterns()).is_some(), "missed a leak in {frame}");
    }
    let clean = [
        json!({"text": masked("Tenant acct-4471-NWF (Bluefin Logistics)", &all_patterns())}).to_string(),
        json!({"text": "acct-4471~-NWF and acct-4472-NWF and acct 4471 NWF"}).to_string(),
        json!({"seal": sha256_hex("something else")}).to_string(),
    ];
    for frame in &clean {
        assert!(find_restricted(std::slice::from_ref(frame), &all_patterns()).is_none(), "false positive in {frame}");
    }
}

/// Sizes are checked before the gate: "too large" says nothing about
/// whether the text held a pattern.
#[tokio::test]
async fn an_over_long_text_is_too_large_whether_or_not_it_holds_a_pattern() -> Result<()> {
    let server = TestServer::start().await?;
    let room = server.room();
    let (mut lena, snap) = server.joined("reviewer/support-trust").await?;
    let (chronology, _) = section(&snap, "Chronology")?;
    let filler = "x".repeat(70_000);
    for text in [format!("{filler} {P}"), format!("{filler} acct-0000-NWF")] {
        lena.refused(
            json!({"type": "object", "room": room, "section": chronology, "kind": "other", "text": text}),
            "too_large",
        )
        .await?;
    }
    // Nothing was charged: innocent text still goes through.
    lena.ok(json!({"type": "object", "room": room, "section": chronology, "kind": "other", "text": "The 09:17 entry needs a source."}))
        .await?;
    Ok(())
}

/// A small deterministic generator (xorshift64*), so a failing sequence
/// can be replayed from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }
}

/// Property: over random sequences of requests from random members —
/// free text that is innocent, holds a declared pattern, or a disguised
/// variant of one (case, zero-width, full-width, NBSP) — (a) every request
/// whose text holds a pattern is refused and stores nothing, and (b) no
/// member receives, in any frame, a pattern of an annex they may not read,
/// in any normalised variant or as its SHA-256.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_request_sequences_never_store_or_leak_restricted_detail() -> Result<()> {
    let patterns: Vec<&str> = DEMO_PATTERNS.iter().flat_map(|(_, p)| p.iter().copied()).collect();
    for seed in [0x5eed_0001u64, 0x5eed_0002, 0x5eed_0003] {
        let server = TestServer::start().await?;
        let room = server.room();
        let mut clients = Vec::new();
        let mut snap0 = Value::Null;
        // Every demo member (owner, reviewers, agents, observer).
        for m in server.seed.members.clone() {
            let (c, snap) = server.joined(&m.role).await?;
            snap0 = snap;
            clients.push((m.name, c));
        }
        let (chronology, _) = section(&snap0, "Chronology")?;
        let o1 = objection_id(&snap0, 1)?;
        let mut rng = Rng(seed);
        for step in 0..60 {
            let who = (rng.next() % clients.len() as u64) as usize;
            let pattern = *rng.pick(&patterns);
            let disguised = match rng.next() % 6 {
                0 => pattern.to_string(),
                1 => pattern.to_uppercase(),
                2 => pattern.chars().flat_map(|c| [c, '\u{200B}']).collect(),
                3 => pattern
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { char::from_u32(c as u32 + 0xFEE0).unwrap_or(c) } else { c })
                    .collect(),
                4 => pattern.replace(' ', "\u{00A0}"),
                _ => String::new(),
            };
            let text = if disguised.is_empty() {
                format!("Step {step}: the 09:17 entry needs its source line.")
            } else {
                format!("Step {step}: see {disguised} for the tenant.")
            };
            let restricted = !disguised.is_empty();
            let base = server.stored_revision().await?;
            let req = match rng.next() % 5 {
                0 => json!({"type": "object", "room": room, "section": chronology, "kind": "other", "text": text}),
                1 => json!({"type": "reply", "room": room, "objection": o1, "text": text}),
                2 => json!({"type": "hold", "room": room, "reason": text}),
                3 => {
                    json!({"type": "request_access", "room": room, "annexes": [annex_id(&snap0, "A1")?], "reason": text})
                }
                _ => {
                    json!({"type": "suggest", "room": room, "section": chronology, "base": base, "op": [0, text.clone()], "rationale": "from the log"})
                }
            };
            let before = server.stored_revision().await?;
            let answer = clients[who].1.request(req.clone()).await?;
            if restricted {
                ensure!(
                    answer["type"] == "error"
                        && (answer["code"] == "restricted"
                            || answer["code"] == "probe_limited"
                            || answer["code"] == "forbidden"),
                    "seed {seed:#x} step {step}: {} sent restricted text and got {answer}",
                    clients[who].0
                );
                let after = server.stored_revision().await?;
                // A refusal stores nothing but, at most, the probe alert.
                ensure!(
                    after == before || after == before + 1,
                    "seed {seed:#x} step {step}: refused request stored {before}->{after}"
                );
            }
        }
        for (name, c) in &mut clients {
            c.drain(std::time::Duration::from_millis(200)).await?;
            let hidden = hidden_patterns(name);
            assert_no_restricted(c.captured(), &hidden, &format!("{name} (seed {seed:#x})"));
        }
        // The annexes themselves are stored (with their content) in their
        // `annex_added` revisions; nothing else may hold a pattern.
        let stored: Vec<_> =
            server.stored_revisions().await?.into_iter().filter(|r| r.change.kind_name() != "annex_added").collect();
        let log = serde_json::to_string(&stored)?;
        for p in &patterns {
            ensure!(!log.to_lowercase().contains(&p.to_lowercase()), "seed {seed:#x}: {p} stored in the revision log");
        }
    }
    Ok(())
}
