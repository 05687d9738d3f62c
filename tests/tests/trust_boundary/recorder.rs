//! The frame recorder itself, and random request sequences.

use super::*;

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
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
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
        let stored: Vec<_> = server
            .stored_revisions()
            .await?
            .into_iter()
            .filter(|r| r.change.kind_name() != "annex_added")
            .filter(|r| !matches!(&r.change, trustroom_shared::change::Change::SourceRecorded { annex: Some(_), .. }))
            .collect();
        let log = serde_json::to_string(&stored)?;
        for p in &patterns {
            ensure!(!log.to_lowercase().contains(&p.to_lowercase()), "seed {seed:#x}: {p} stored in the revision log");
        }
    }
    Ok(())
}
