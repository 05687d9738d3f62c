//! Attacks on the trust boundary over raw websocket frames, by a careless or
//! hostile member: each attack found against d809f05 is kept here as a test
//! that the defence now holds.
//!
//! The attacker is lena.fischer (`reviewer/support-trust`), on no annex's
//! need-to-know list, unless a test says otherwise.
// Test code: a failed expectation is the verdict (the lints bind product code).
#![allow(clippy::expect_used, clippy::panic)]

use anyhow::{Context, Result, bail, ensure};
use serde_json::{Value, json};
use trustroom_e2e::{T, TestServer, WsClient, chars, revision_of, section};
use trustroom_server::admin::{self, NewAnnex};

/// Annex A1's first pattern (lena may not read A1).
const P: &str = "acct-4471-NWF";
const ATTACKER: &str = "reviewer/support-trust";

fn msg(v: &Value) -> String {
    v["message"].as_str().unwrap_or_default().to_string()
}

/// Sends `req`, retrying while the connection's token bucket says `rate_limited`.
async fn ask(c: &mut WsClient, req: Value) -> Result<Value> {
    loop {
        let a = c.request(req.clone()).await?;
        if a["code"] == "rate_limited" {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            continue;
        }
        return Ok(a);
    }
}

// ---------------------------------------------------------------------------
// Was: `cosign.content_hash` is not free text, yet it is echoed in the
// `stale` refusal, which the egress filter then masks for the sender. The
// mask tells an unentitled member whether the guess is a pattern: an
// uncharged oracle. Now: a content hash must be 64 hex digits, refused
// without echo.
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cosign_content_hash_is_never_echoed_so_it_is_no_pattern_oracle() -> Result<()> {
    let server = TestServer::start().await?;
    let room = server.room();
    let (mut lena, _) = server.joined(ATTACKER).await?;

    // Guesses in `content_hash` are refused `invalid` without any echo:
    // the right guess and a wrong one get byte-identical answers.
    let mut answers = Vec::new();
    for n in [4470, 4471] {
        let guess = format!("acct-{n:04}-NWF");
        let a =
            ask(&mut lena, json!({"type": "cosign", "room": room, "content_hash": guess, "lane": "privacy"})).await?;
        ensure!(a["code"] == "invalid", "a malformed content hash is invalid: {a}");
        answers.push(msg(&a).clone());
    }
    ensure!(answers[0] == answers[1] && !answers[0].contains("acct"), "{answers:?}");
    // And nothing of the guess is stored in the audit chain.
    let chain = server.audit_chain(&room).await?;
    ensure!(!chain.iter().any(|e| e.detail.to_string().contains(P)), "the guess reached the audit chain");
    Ok(())
}

// ---------------------------------------------------------------------------
// Was: an object's `quote` must occur in the section. That containment
// check runs on the unmasked section text, so an unentitled member recovers
// text the egress filter masks for them (text that predates its pattern),
// one char at a time, with prefixes that are not patterns nor look-alikes:
// never charged to the probe budget. Now: a quote overlapping any pattern
// hit does not "occur".
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quote_reaching_into_masked_text_never_occurs_so_it_reads_nothing_back() -> Result<()> {
    const SECRET: &str = "acct-7310-QXZ";
    const LEAD: &str = "Relay account ";
    let server = TestServer::start().await?;
    let room = server.room();
    let (mut priya, snap0) = server.joined("reviewer/privacy").await?;
    let (scope, scope_body) = section(&snap0, "Exposure scope")?;
    priya
        .ok(json!({"type": "edit", "room": room, "section": scope, "base": revision_of(&snap0),
                   "op": [chars(&scope_body), format!("\n\n{LEAD}{SECRET} was used.")], "seq": 1}))
        .await?;
    // Declared later, readable by priya only.
    admin::add_annex(
        &server.store,
        server.seed.room,
        NewAnnex {
            title: "Relay accounts".into(),
            classification: "tenant-identifiers".into(),
            content: format!("{SECRET} (relay)\n"),
            sensitive: vec![SECRET.into()],
            allow: vec!["priya.natarajan".into()],
        },
    )
    .await?;
    priya.wait_for(|v| v["type"] == "event" && v["rev"]["change"]["kind"] == "annex_added", T).await?;

    let (mut lena, snap) = server.joined(ATTACKER).await?;
    let (_, seen) = section(&snap, "Exposure scope")?;
    ensure!(
        !seen.contains(SECRET) && seen.contains(&format!("{LEAD}{}", "█".repeat(13))),
        "lena's view is not masked: {seen:?}"
    );

    let alphabet: Vec<char> = "-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".chars().collect();
    let mut seq = 0u64;
    let mut probe = |quote: String| {
        seq += 1;
        json!({"type": "object", "room": room, "section": scope, "kind": "other", "text": "see quote",
               "quote": quote, "seq": seq})
    };
    // Every quote reaching into the masked text is "not found", the right
    // next character as much as a wrong one: nothing can be read back.
    for c in &alphabet {
        let a = ask(&mut lena, probe(format!("{LEAD}{c}"))).await?;
        ensure!(a["code"] == "invalid", "quote {LEAD}{c}: {a}");
    }
    // A quote of visible text still works.
    lena.ok(probe(LEAD.trim_end().to_string())).await?;
    Ok(())
}

// ---------------------------------------------------------------------------
// Was: look-alikes were charged only when they are in a request's own
// free text. Candidates planted with a junk char (`acct-0000x-NWF`: neither a
// hit nor a look-alike) and then joined by a delete-only edit are tested by
// the section check (`gate_section`): a wrong group is accepted free, a right
// one refused `restricted`. A delete-only edit carries no free text, so past
// the budget it is still matched: a hit answers `probe_limited`, a miss is
// accepted. Bisection of all 10 000 candidates succeeded. Now: look-alikes
// an edit creates are charged, and past the budget every edit is refused
// unread.
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_only_edits_cannot_bisect_an_annex_pattern() -> Result<()> {
    const N: usize = 10_000;
    const UNIT: usize = 15; // "acct-NNNNx-NWF "
    let server = TestServer::start().await?;
    let room = server.room();
    let (mut lena, _) = server.joined(ATTACKER).await?;

    let body: String = (0..N).map(|n| format!("acct-{n:04}x-NWF ")).collect();
    let added = lena
        .ok(json!({"type": "add_section", "room": room, "title": "Candidate scratch", "body": body, "seq": 1}))
        .await?;
    let sec = added["created"].as_str().context("section id")?.to_string();
    let mut base = added["revision"].as_u64().context("revision")?;

    let mut has_x = vec![true; N];
    let mut live: Vec<usize> = (0..N).collect(); // candidates that may still be it
    let (mut accepted, mut restricted, mut limited, mut seq) = (0, 0, 0, 1u64);
    while live.len() > 1 {
        // Test at most 4 000 candidates at once (op component limit).
        let take = (live.len() / 2).clamp(1, 4_000);
        let test: std::collections::BTreeSet<usize> = live[..take].iter().copied().collect();
        // Retain to each tested candidate's `x`, delete it, retain the rest.
        let mut op: Vec<Value> = Vec::new();
        let mut run = 0i64;
        for (i, x) in has_x.iter().enumerate() {
            let len = if *x { UNIT } else { UNIT - 1 } as i64;
            if test.contains(&i) {
                op.push(json!(run + 9));
                op.push(json!(-1));
                run = len - 10;
            } else {
                run += len;
            }
        }
        if run > 0 {
            op.push(json!(run));
        }
        seq += 1;
        let a =
            ask(&mut lena, json!({"type": "edit", "room": room, "section": sec, "base": base, "op": op, "seq": seq}))
                .await?;
        match (a["type"].as_str(), a["code"].as_str()) {
            (Some("ok"), _) => {
                accepted += 1;
                base = a["result"]["revision"].as_u64().context("revision")?;
                for i in &test {
                    has_x[*i] = false;
                }
                live.retain(|i| !test.contains(i));
            }
            (_, Some(code @ ("restricted" | "probe_limited"))) => {
                if code == "restricted" {
                    restricted += 1;
                } else {
                    limited += 1;
                }
                live.retain(|i| test.contains(i));
            }
            _ => bail!("unexpected answer: {a}"),
        }
    }
    let found = format!("acct-{:04}-NWF", live[0]);
    eprintln!("found {found}: {accepted} accepted (free), {restricted} restricted, {limited} probe_limited");
    // Look-alikes an edit creates are charged, and past the budget every
    // edit is refused unread: the bisection cannot finish.
    ensure!(
        found != P,
        "the bisection found the pattern ({accepted} accepted, {restricted} restricted, {limited} limited)"
    );
    ensure!(limited > 0, "the budget never stopped the attacker");
    let chain = server.audit_chain(&room).await?;
    ensure!(chain.iter().any(|e| e.kind == "probe.suspected"), "no probe alert");
    Ok(())
}

// ---------------------------------------------------------------------------
// Defence holds: odd `seq` values are refused at parse time on every
// seq-carrying kind tried, and a refused request sent in the same burst
// as other members' requests (one group commit) fails alone.
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_seq_values_are_invalid_and_a_refused_request_does_not_sink_its_batch() -> Result<()> {
    let server = TestServer::start().await?;
    let room = server.room();
    let (mut lena, snap) = server.joined(ATTACKER).await?;
    let (mut priya, _) = server.joined("reviewer/privacy").await?;
    let (mut daniel, _) = server.joined("reviewer/legal").await?;
    let (summary, _) = section(&snap, "Summary")?;
    let before = server.stored_revision().await?;
    for seq in [json!(-1), json!(1.5), json!("5"), json!(9_223_372_036_854_775_808u64), json!(null), json!(true)] {
        for req in [
            json!({"type": "object", "room": room, "section": summary, "kind": "other", "text": "t", "seq": seq}),
            json!({"type": "add_section", "room": room, "title": "T", "body": "b", "seq": seq}),
        ] {
            let a = lena.request(req.clone()).await?;
            // `null` is the same as no seq: it may be accepted or refused on content.
            if seq.is_null() {
                continue;
            }
            ensure!(a["code"] == "invalid", "seq {seq} on {req}: {a}");
        }
    }
    // Burst: two good requests and one gated one, same instant.
    let r1 = priya
        .send_request(json!({"type": "object", "room": room, "section": summary, "kind": "other",
                                       "text": "priya's point", "seq": 1}))
        .await?;
    let r2 = lena
        .send_request(json!({"type": "object", "room": room, "section": summary, "kind": "other",
                                      "text": format!("leak {P}"), "seq": 2}))
        .await?;
    let r3 = daniel
        .send_request(json!({"type": "object", "room": room, "section": summary, "kind": "other",
                                        "text": "daniel's point", "seq": 1}))
        .await?;
    let (_, a1) = priya.await_answer_text(&r1).await?;
    let (_, a2) = lena.await_answer_text(&r2).await?;
    let (_, a3) = daniel.await_answer_text(&r3).await?;
    ensure!(a1["type"] == "ok" && a3["type"] == "ok", "{a1} / {a3}");
    ensure!(a2["code"] == "restricted", "{a2}");
    ensure!(server.stored_revision().await? >= before + 2);
    Ok(())
}
