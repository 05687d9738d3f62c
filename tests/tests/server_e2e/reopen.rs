//! 7. The register's one-way moves, reopening, and the rationale for
//!    resolving another member's blocking objection (docs/register.md).
//!
//! The demo room: O-1 blocking by priya (privacy), O-2 by daniel (legal),
//! O-3 blocking by the support engineer, O-4 by support trust, O-5
//! accepted-residual.

use super::*;

fn status(room: &str, objection: &str, status: &str, rationale: Option<&str>) -> Value {
    let mut req = json!({"type": "set_objection_status", "room": room, "objection": objection, "status": status});
    if let Some(r) = rationale {
        req["rationale"] = json!(r);
    }
    req
}

fn objection_status(snap: &Value, id: &str) -> String {
    snap["state"]["objections"][id]["status"].as_str().unwrap_or_default().to_string()
}

/// The codes of the open blocking objections the server's readiness names.
async fn blocking_codes(c: &mut WsClient, room: &str) -> Result<Vec<String>> {
    let r = c.ok(json!({"type": "readiness", "room": room})).await?;
    let blockers = r["blockers"].as_array().with_context(|| format!("no blockers in {r}"))?;
    Ok(blockers
        .iter()
        .filter(|b| b["blocker"] == "open_blocking_objection")
        .filter_map(|b| b["code"].as_str().map(String::from))
        .collect())
}

#[tokio::test]
async fn resolving_another_members_blocking_objection_needs_a_rationale() -> Result<()> {
    let server = TestServer::start().await?;
    let room = server.room();
    let (mut owner, snap) = server.joined("owner").await?;
    let (mut legal, _) = server.joined("reviewer/legal").await?;
    let (mut privacy, _) = server.joined("reviewer/privacy").await?;
    let (o1, o3) = (objection_id(&snap, 1)?, objection_id(&snap, 3)?);
    let rev = revision_of(&snap);

    for (who, req) in [
        ("legal", status(&room, &o1, "addressed", None)),
        ("legal", status(&room, &o1, "addressed", Some("   "))),
        ("privacy", status(&room, &o3, "addressed", None)),
        ("owner", status(&room, &o3, "withdrawn", None)),
        ("owner", status(&room, &o1, "addressed", Some(" \n "))),
        // Invisible characters are no rationale either.
        ("legal", status(&room, &o1, "addressed", Some("\u{200B}\u{200D}"))),
        ("owner", status(&room, &o3, "addressed", Some("\u{FEFF} \u{2060}\u{E0041}"))),
    ] {
        let c = match who {
            "legal" => &mut legal,
            "privacy" => &mut privacy,
            _ => &mut owner,
        };
        let e = c.refused(req.clone(), "invalid").await.with_context(|| format!("{who}: {req}"))?;
        let m = e["message"].as_str().unwrap_or_default();
        ensure!(m.contains("blocking objection another member raised") && m.contains("rationale"), "{who}: {m}");
    }
    assert_eq!(server.stored_revision().await?, rev, "a refused status change was stored");
    let refused = server.refusals(&room, "set_objection_status", "invalid").await?;
    assert_eq!(refused.len(), 7, "every refusal is audited");

    // With a rationale it goes through; the author needs none for their own.
    legal.ok(status(&room, &o1, "addressed", Some("SL-0093 shows one tenant context only."))).await?;
    let (_, snap) = server.joined("observer").await?;
    assert_eq!(objection_status(&snap, &o1), "addressed");
    assert_eq!(snap["state"]["objections"][&o1]["rationale"], "SL-0093 shows one tenant context only.");
    let (mut engineering, _) = server.joined("reviewer/support-engineering").await?;
    engineering.ok(status(&room, &o3, "addressed", None)).await?;
    // A non-blocking objection of someone else's needs none either.
    let o2 = objection_id(&snap, 2)?;
    privacy.ok(status(&room, &o2, "addressed", None)).await?;
    Ok(())
}

#[tokio::test]
async fn reopening_is_for_the_author_or_an_owner_and_final_states_stay_final() -> Result<()> {
    let server = TestServer::start().await?;
    let room = server.room();
    let (mut owner, snap) = server.joined("owner").await?;
    let (mut legal, _) = server.joined("reviewer/legal").await?;
    let (mut privacy, _) = server.joined("reviewer/privacy").await?;
    let (mut observer, _) = server.joined("observer").await?;
    let (o1, o2, o5) = (objection_id(&snap, 1)?, objection_id(&snap, 2)?, objection_id(&snap, 5)?);

    // An open objection is not reopened: no move.
    let e = privacy.refused(status(&room, &o1, "open", None), "conflict").await?;
    ensure!(e["message"].as_str().unwrap_or_default().contains("O-1 is already open"), "{e}");

    legal.ok(status(&room, &o1, "addressed", Some("SL-0093 settles the scope."))).await?;
    let rev = server.stored_revision().await?;
    // Another reviewer (the one who marked it addressed) may not reopen it.
    let e = legal.refused(status(&room, &o1, "open", None), "forbidden").await?;
    ensure!(e["message"].as_str().unwrap_or_default().contains("only the author of O-1 or an owner"), "{e}");
    // An observer lacks the capability.
    observer.refused(status(&room, &o1, "open", None), "forbidden").await?;
    assert_eq!(server.stored_revision().await?, rev, "a refused reopen was stored");

    // The author reopens it, and the reopen is audited with where it came from.
    let ack = privacy.ok(status(&room, &o1, "open", None)).await?;
    let reopened_at = ack["revision"].as_u64().context("revision")?;
    assert_eq!(reopened_at, rev + 1);
    let chain = server.audit_chain(&room).await?;
    let privacy_id = server.member("reviewer/privacy").user.to_string();
    ensure!(
        chain.iter().any(|e| e.kind == "change.objection_status_changed"
            && e.actor == privacy_id
            && e.detail["objection"] == o1.as_str()
            && e.detail["from"] == "addressed"
            && e.detail["status"] == "open"),
        "the reopen is not audited"
    );
    let forbidden = server.refusals(&room, "set_objection_status", "forbidden").await?;
    ensure!(forbidden.len() >= 2, "the refused reopens are audited: {}", forbidden.len());

    // An owner may reopen someone else's addressed objection too.
    legal.ok(status(&room, &o1, "addressed", Some("Second look: settled."))).await?;
    owner.ok(status(&room, &o1, "open", None)).await?;
    let (_, snap) = server.joined("observer").await?;
    let o = &snap["state"]["objections"][&o1];
    assert_eq!(o["status"], "open");
    let moves: Vec<&str> =
        o["history"].as_array().context("history")?.iter().filter_map(|h| h["status"].as_str()).collect();
    assert_eq!(moves, ["addressed", "open", "addressed", "open"]);

    // withdrawn and accepted-residual are final, for the author and owners alike.
    legal.ok(status(&room, &o2, "withdrawn", None)).await?;
    let rev = server.stored_revision().await?;
    for (who, id, code) in [("legal", &o2, "O-2"), ("owner", &o2, "O-2"), ("owner", &o5, "O-5")] {
        let c = if who == "legal" { &mut legal } else { &mut owner };
        let e = c.refused(status(&room, id, "open", None), "conflict").await?;
        ensure!(e["message"].as_str().unwrap_or_default().contains(&format!("{code} is")), "{e}");
        ensure!(e["message"].as_str().unwrap_or_default().contains("final"), "{e}");
    }
    owner.refused(status(&room, &o5, "addressed", Some("changed my mind")), "conflict").await?;
    assert_eq!(server.stored_revision().await?, rev, "a final status moved");

    // A non-member gets not_found, the same bytes as for a room that does not exist.
    let (_, outsider_token) = admin::add_user(&server.store, "outsider").await?;
    let mut outsider = WsClient::connect(&server.url, &outsider_token).await?;
    let missing = uuid::Uuid::now_v7().to_string();
    let mut reopen = status(&room, &o1, "open", None);
    reopen["id"] = json!("same");
    let mut absent = status(&missing, &o1, "open", None);
    absent["id"] = json!("same");
    let (a, fa) = outsider.request_text(reopen).await?;
    let (b, _) = outsider.request_text(absent).await?;
    assert_eq!(fa["code"], "not_found", "{a}");
    assert_eq!(a, b, "an outsider's reopen must answer like a missing room");
    assert_eq!(server.stored_revision().await?, rev);
    Ok(())
}

#[tokio::test]
async fn a_reopen_after_a_restart_blocks_readiness_again() -> Result<()> {
    // Built before any connection is open.
    let bin = trustroom_e2e::client_bin()?;
    let mut server = TestServer::start().await?;
    let room = server.room();
    let (mut legal, snap) = server.joined("reviewer/legal").await?;
    let o1 = objection_id(&snap, 1)?;
    legal.ok(status(&room, &o1, "addressed", Some("SL-0093 settles the scope."))).await?;
    let (mut owner, _) = server.joined("owner").await?;
    let blocking = blocking_codes(&mut owner, &room).await?;
    ensure!(!blocking.contains(&"O-1".to_string()), "O-1 still blocks once addressed: {blocking:?}");
    drop((legal, owner));

    server.restart().await?;
    let (mut privacy, snap) = server.joined("reviewer/privacy").await?;
    assert_eq!(objection_status(&snap, &o1), "addressed", "the status survives the restart");
    privacy.ok(status(&room, &o1, "open", None)).await?;
    let (mut owner, _) = server.joined("owner").await?;
    let blocking = blocking_codes(&mut owner, &room).await?;
    ensure!(blocking.contains(&"O-1".to_string()), "a reopened blocking objection blocks again: {blocking:?}");
    drop((privacy, owner));

    // Replayed from storage after another restart: still open, still blocking.
    server.restart().await?;
    let (mut owner, snap) = server.joined("owner").await?;
    assert_eq!(objection_status(&snap, &o1), "open");
    let blocking = blocking_codes(&mut owner, &room).await?;
    ensure!(blocking.contains(&"O-1".to_string()), "{blocking:?}");

    // The CLI reopens too (`objection status … open`), and refuses a final one with its code.
    let r = server.cli(&bin, "reviewer/legal", &["objection", "status", &room, "O-1", "addressed"]).await?;
    ensure!(r.code == Some(7) && r.stderr.contains("error[invalid]"), "no rationale: {r:?}");
    let r = server
        .cli(&bin, "reviewer/legal", &["objection", "status", &room, "O-1", "addressed", "--rationale", "settled"])
        .await?;
    ensure!(r.success(), "{r:?}");
    let r = server.cli(&bin, "reviewer/privacy", &["objection", "status", &room, "O-1", "open"]).await?;
    ensure!(r.success() && r.stdout.starts_with("ok rev"), "{r:?}");
    let r = server.cli(&bin, "owner", &["objection", "status", &room, "O-5", "open"]).await?;
    ensure!(r.code == Some(8) && r.stderr.contains("error[conflict]") && r.stderr.contains("final"), "{r:?}");
    Ok(())
}

/// A required reason made only of invisible characters (zero-width space,
/// BOM, word joiner, tags) is refused like an empty one, and nothing is
/// stored: hold, escalate and accepted-residual.
#[tokio::test]
async fn reasons_of_invisible_characters_only_are_refused_as_empty() -> Result<()> {
    let server = TestServer::start().await?;
    let room = server.room();
    let (mut owner, snap) = server.joined("owner").await?;
    let o2 = objection_id(&snap, 2)?;
    let rev = revision_of(&snap);
    for invisible in ["\u{200B}", "\u{FEFF}\u{2060} \u{200D}", "\u{E0041}\u{FE0F}"] {
        owner.refused(json!({"type": "hold", "room": room, "reason": invisible}), "invalid").await?;
        owner.refused(json!({"type": "escalate", "room": room, "reason": invisible}), "invalid").await?;
        owner.refused(status(&room, &o2, "accepted-residual", Some(invisible)), "invalid").await?;
    }
    assert_eq!(server.stored_revision().await?, rev, "nothing was stored");
    // A visible word among them is a reason.
    owner.ok(json!({"type": "hold", "room": room, "reason": "\u{200B}waiting for legal"})).await?;
    Ok(())
}
