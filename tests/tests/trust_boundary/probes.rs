//! 2. The probe budget.

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Probe {
    Restricted,
    Accepted,
    Limited,
}

pub(crate) fn candidates_text(cands: &[u32]) -> String {
    cands.iter().map(|n| format!("acct-{n:04}-NWF")).collect::<Vec<_>>().join(" ")
}

/// One probe: an objection packed with candidates.
pub(crate) async fn probe(c: &mut WsClient, room: &str, section: &str, cands: &[u32], seq: &mut u64) -> Result<Probe> {
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
