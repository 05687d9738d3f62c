//! 7. No unsalted passage hash in the access history.

use super::*;

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
