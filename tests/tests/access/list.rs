//! `trustroom access list` names who ended a grant (issue #16): the owner
//! who revoked it, not the one who approved it; nobody for a grant whose
//! time ran out. And the break-glass review objection is raised by a name
//! everyone sees (`the room`), never a nil id.

use super::*;

/// Runs the `trustroom` binary with `token` against the test server.
async fn cli(server: &TestServer, token: &str, args: &[&str]) -> Result<trustroom_e2e::Run> {
    let home = server.dir().join("list-home");
    std::fs::create_dir_all(&home)?;
    trustroom_e2e::run_process(
        &trustroom_e2e::client_bin()?,
        args,
        &home,
        &[("TRUSTROOM_URL", server.url.as_str()), ("TRUSTROOM_TOKEN", token)],
    )
    .await
}

/// The `access list` line of request `code`.
fn line_of<'a>(list: &'a str, code: &str) -> Result<&'a str> {
    list.lines()
        .find(|l| l.trim_start().starts_with(&format!("{code} ")))
        .with_context(|| format!("no {code} in {list}"))
}

#[tokio::test]
async fn access_list_names_who_revoked_and_nobody_for_an_expiry() -> Result<()> {
    let (server, clock) = server_with_clock().await?;
    let room = server.room();
    // A second owner, who revokes what morgan.hale approved.
    let (_, rosa_token) = admin::add_user(&server.store, "rosa.owner").await?;
    admin::add_member(&server.store, server.seed.room, "rosa.owner", Role::Owner).await?;
    let (mut morgan, snap) = server.joined("owner").await?;
    let mut rosa = WsClient::connect(&server.url, &rosa_token).await?;
    rosa.join(&room).await?;
    let (mut lena, _) = server.joined("reviewer/support-trust").await?;
    let a1 = annex_id(&snap, "A1")?;
    let a2 = annex_id(&snap, "A2")?;

    let revoked = request(&mut lena, &room, &[&a1], 2 * HOUR).await?;
    let expiring = request(&mut lena, &room, &[&a2], HOUR).await?;
    let code = |r: &Value| r["requests"][0]["code"].as_str().unwrap_or_default().to_string();
    let (revoked_code, expiring_code) = (code(&revoked), code(&expiring));
    for r in [&revoked, &expiring] {
        morgan.ok(json!({"type": "approve_access", "room": room, "request": request_id(r)?})).await?;
    }
    rosa.ok(json!({"type": "revoke_grant", "room": room, "grant": request_id(&revoked)?, "note": "done"})).await?;
    clock.advance(Duration::from_millis(HOUR + 1_000));
    wait_change(&mut morgan, "grant_ended", |c| c["ended"]["cause"] == "expired").await?;

    let r = cli(&server, &server.member("observer").token, &["access", "list", &room]).await?;
    ensure!(r.success(), "{r:?}");
    let line = line_of(&r.stdout, &revoked_code)?;
    ensure!(line.contains("revoked ") && line.contains("(by rosa.owner; approved by morgan.hale)"), "{line}");
    ensure!(!line.contains("revoked by morgan.hale"), "{line}");
    let line = line_of(&r.stdout, &expiring_code)?;
    ensure!(line.contains("expired ") && line.contains("(its time ran out; approved by morgan.hale)"), "{line}");
    ensure!(!line.contains("expired by"), "{line}");

    // The access history agrees on who ended each grant.
    let history = morgan.ok(json!({"type": "access_history", "room": room, "format": "jsonl"})).await?;
    let entries = history["entries"].as_array().cloned().unwrap_or_default();
    let ended: Vec<&Value> = entries.iter().filter(|e| e["kind"] == "change.grant_ended").collect();
    ensure!(ended.iter().any(|e| e["actor_name"] == "rosa.owner" && e["detail"]["cause"] == "revoked"), "{ended:?}");
    ensure!(ended.iter().any(|e| e["actor"] == "admin" && e["detail"]["cause"] == "expired"), "{ended:?}");
    Ok(())
}

#[tokio::test]
async fn the_break_glass_review_is_raised_by_the_room_not_a_nil_id() -> Result<()> {
    let server = TestServer::start().await?;
    let room = server.room();
    let (mut owner, snap) = server.joined("owner").await?;
    let (mut lena, _) = server.joined("reviewer/support-trust").await?;
    let a1 = annex_id(&snap, "A1")?;
    owner.ok(json!({"type": "set_access_policy", "room": room, "break_glass": [lena.user]})).await?;
    let bg = lena
        .ok(json!({"type": "break_glass", "room": room, "annexes": [a1], "reason": "SEV-1 bridge: confirm the tenant", "duration_ms": 10 * MINUTE}))
        .await?;
    lena.ok(json!({"type": "end_break_glass", "room": room, "invocation": bg["invocation"]})).await?;
    let ended = wait_change(&mut owner, "break_glass_ended", |_| true).await?;
    let review = &ended["change"]["review"];
    ensure!(review["author"] == uuid::Uuid::nil().to_string(), "the wire keeps the nil id: {review}");
    let code = format!("O-{}", review["number"]);

    let r = cli(&server, &server.member("observer").token, &["show", &room]).await?;
    ensure!(r.success(), "{r:?}");
    let line = r.stdout.lines().find(|l| l.trim_start().starts_with(&format!("{code} "))).context("review listed")?;
    ensure!(line.contains("by the room"), "{line}");
    ensure!(!r.stdout.contains("00000000"), "no nil id shown: {}", r.stdout);
    Ok(())
}
