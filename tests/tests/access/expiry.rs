//! Grants expire on the server's clock, and on the real clock with no traffic.

use super::*;

#[tokio::test]
async fn expiry_on_the_servers_clock_reaches_the_member_at_once_and_never_resurrects() -> Result<()> {
    let (server, clock) = server_with_clock().await?;
    let room = server.room();
    let (mut owner, snap) = server.joined("owner").await?;
    let (mut lena, _) = server.joined("reviewer/support-trust").await?;
    let a1 = annex_id(&snap, "A1")?;
    let id = request_id(&request(&mut lena, &room, &[&a1], 2 * HOUR).await?)?;
    owner.ok(json!({"type": "approve_access", "room": room, "request": id})).await?;
    let decided = wait_change(&mut lena, "access_decided", |c| c["request"] == id.as_str()).await?;
    let expires = decided["change"]["expires_at"].as_i64().context("expires_at")?;
    ensure!(expires == clock_now(&clock) + 2 * HOUR as i64, "two hours from the approval");
    lena.ok(json!({"type": "view_annex", "room": room, "annex": a1})).await?;

    clock.set(expires - 1);
    lena.ok(json!({"type": "view_annex", "room": room, "annex": a1})).await?;
    clock.set(expires);
    let ended = wait_change(&mut lena, "grant_ended", |c| c["grant"] == id.as_str()).await?;
    ensure!(ended["change"]["ended"]["cause"] == "expired" && ended["change"]["ended"]["at_ms"] == expires);
    lena.refused(json!({"type": "view_annex", "room": room, "annex": a1}), "forbidden").await?;
    // No resurrection: the ended grant cannot be approved or revoked again.
    owner.refused(json!({"type": "approve_access", "room": room, "request": id}), "conflict").await?;
    owner.refused(json!({"type": "revoke_grant", "room": room, "grant": id}), "conflict").await?;
    // A new request is a new record.
    let again = request(&mut lena, &room, &[&a1], HOUR).await?;
    ensure!(again["requests"][0]["outcome"] == "new" && request_id(&again)? != id);

    // Revocation reaches the member at once, too.
    owner.ok(json!({"type": "approve_access", "room": room, "request": request_id(&again)?})).await?;
    lena.ok(json!({"type": "view_annex", "room": room, "annex": a1})).await?;
    owner
        .ok(json!({"type": "revoke_grant", "room": room, "grant": request_id(&again)?, "note": "scope confirmed"}))
        .await?;
    let ended =
        wait_change(&mut lena, "grant_ended", |c| c["grant"] == request_id(&again).unwrap_or_default().as_str())
            .await?;
    ensure!(ended["change"]["ended"]["cause"] == "revoked" && ended["change"]["ended"]["note"] == "scope confirmed");
    lena.refused(json!({"type": "view_annex", "room": room, "annex": a1}), "forbidden").await?;
    // Records are permanent.
    let snap = server.joined("observer").await?.1;
    let requests = snap["state"]["access"]["requests"].as_object().context("requests")?;
    ensure!(requests.len() == 2);
    ensure!(requests.values().filter(|r| r["status"] == "expired").count() == 1);
    ensure!(requests.values().filter(|r| r["status"] == "revoked").count() == 1);
    Ok(())
}

pub(crate) fn clock_now(clock: &ManualClock) -> i64 {
    use trustroom_server::clock::Clock;
    clock.now_ms()
}

/// The one real-clock test: a 2 s grant ends within 1 s of its deadline
/// while nobody sends anything.
#[tokio::test]
async fn a_grant_expires_on_the_real_clock_with_no_traffic() -> Result<()> {
    let server = TestServer::start().await?;
    let room = server.room();
    let (mut owner, snap) = server.joined("owner").await?;
    let (mut lena, _) = server.joined("reviewer/support-trust").await?;
    let a1 = annex_id(&snap, "A1")?;
    let id = request_id(&request(&mut lena, &room, &[&a1], 2_000).await?)?;
    owner.ok(json!({"type": "approve_access", "room": room, "request": id})).await?;
    let decided = wait_change(&mut lena, "access_decided", |c| c["request"] == id.as_str()).await?;
    let expires = decided["change"]["expires_at"].as_i64().context("expires_at")?;
    let view = lena.ok(json!({"type": "view_annex", "room": room, "annex": a1})).await?;
    ensure!(view["content"].as_str().is_some_and(|t| t.contains(canary_of("A1"))));
    // Silence: only wait for the server's own event.
    let ev = lena
        .wait_for(|v| event_of(v, "grant_ended").is_some_and(|c| c["grant"] == id.as_str()), Duration::from_secs(5))
        .await?;
    let arrived = now_ms();
    ensure!(ev["rev"]["change"]["ended"]["cause"] == "expired");
    let late = arrived - expires;
    ensure!((0..1_000).contains(&late), "revoked {late} ms after the deadline");
    lena.refused(json!({"type": "view_annex", "room": room, "annex": a1}), "forbidden").await?;
    Ok(())
}
