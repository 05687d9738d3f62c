//! The access history, leaving the room, and the scriptable client.

use super::*;

#[tokio::test]
async fn the_access_history_is_for_auditors_and_its_export_is_audited() -> Result<()> {
    let (server, clock) = server_with_clock().await?;
    let room = server.room();
    let (mut owner, snap) = server.joined("owner").await?;
    let (mut lena, _) = server.joined("reviewer/support-trust").await?;
    let (mut priya, _) = server.joined("reviewer/privacy").await?;
    let a1 = annex_id(&snap, "A1")?;
    let id = request_id(&request(&mut lena, &room, &[&a1], HOUR).await?)?;
    owner.ok(json!({"type": "approve_access", "room": room, "request": id, "note": "for the scope section"})).await?;
    lena.ok(json!({"type": "view_annex", "room": room, "annex": a1})).await?;
    clock.advance(Duration::from_millis(HOUR));
    wait_change(&mut lena, "grant_ended", |_| true).await?;
    lena.refused(json!({"type": "view_annex", "room": room, "annex": a1}), "forbidden").await?;
    lena.ok(json!({"type": "break_glass", "room": room, "annexes": [a1], "reason": "SEV-1 bridge: confirm the tenant", "duration_ms": MINUTE})).await?;
    priya.refused(json!({"type": "access_history", "room": room}), "forbidden").await?;
    let h = owner.ok(json!({"type": "access_history", "room": room, "format": "csv"})).await?;
    let entries = h["entries"].as_array().context("entries")?;
    let kinds: Vec<&str> = entries.iter().filter_map(|e| e["kind"].as_str()).collect();
    for k in [
        "change.access_requested",
        "change.access_decided",
        "annex.view",
        "change.grant_ended",
        "refused",
        "change.break_glass_invoked",
    ] {
        ensure!(kinds.contains(&k), "history lacks {k}: {kinds:?}");
    }
    let decided = entries.iter().find(|e| e["kind"] == "change.access_decided").context("decision")?;
    ensure!(decided["detail"]["note"] == "for the scope section" && decided["detail"]["reason"] == REASON);
    ensure!(decided["actor_name"] == "morgan.hale");
    ensure!(!h.to_string().contains(canary_of("A1")));
    // The owner names an auditor.
    owner.ok(json!({"type": "set_access_policy", "room": room, "auditors": [priya.user]})).await?;
    let snap = priya.join(&room).await?;
    ensure!(snap["me"]["capabilities"].as_array().is_some_and(|c| c.iter().any(|x| x == "audit")));
    priya.ok(json!({"type": "access_history", "room": room})).await?;
    let chain = server.audit_chain(&room).await?;
    let exports: Vec<_> = chain.iter().filter(|e| e.kind == "access.history_exported").collect();
    ensure!(exports.len() == 2 && exports[0].detail["format"] == "csv");
    ensure!(trustroom_shared::audit::verify_chain(&chain).is_ok());
    Ok(())
}

#[tokio::test]
async fn leaving_the_room_ends_grants_and_break_glass() -> Result<()> {
    let (server, _clock) = server_with_clock().await?;
    let room = server.room();
    let (mut owner, snap) = server.joined("owner").await?;
    let (mut lena, _) = server.joined("reviewer/support-trust").await?;
    let (a1, a2) = (annex_id(&snap, "A1")?, annex_id(&snap, "A2")?);
    let id = request_id(&request(&mut lena, &room, &[&a1], HOUR).await?)?;
    owner.ok(json!({"type": "approve_access", "room": room, "request": id})).await?;
    let pending = request_id(&request(&mut lena, &room, &[&a2], HOUR).await?)?;
    lena.ok(json!({"type": "break_glass", "room": room, "annexes": [a2], "reason": "SEV-1 bridge: confirm the relay", "duration_ms": MINUTE}))
        .await?;
    admin::remove_member(&server.store, server.seed.room, "lena.fischer").await?;
    let ended = wait_change(&mut owner, "grant_ended", |c| c["grant"] == id.as_str()).await?;
    ensure!(ended["change"]["ended"]["cause"] == "member-left");
    wait_change(&mut owner, "access_withdrawn", |c| c["request"] == pending.as_str()).await?;
    let bg = wait_change(&mut owner, "break_glass_ended", |_| true).await?;
    ensure!(bg["change"]["ended"]["cause"] == "member-left");
    Ok(())
}

#[tokio::test]
async fn the_scriptable_client_requests_approves_lists_and_exports_history() -> Result<()> {
    let (server, _clock) = server_with_clock().await?;
    let room = server.room();
    let bin = trustroom_e2e::client_bin()?;
    let home = server.dir().join("home");
    std::fs::create_dir_all(&home)?;
    let run = |role: &'static str, args: Vec<String>| {
        let token = server.member(role).token.clone();
        let url = server.url.clone();
        let bin = bin.clone();
        let home = home.clone();
        async move {
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            trustroom_e2e::run_process(
                &bin,
                &refs,
                &home,
                &[("TRUSTROOM_URL", url.as_str()), ("TRUSTROOM_TOKEN", token.as_str())],
            )
            .await
        }
    };
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let r =
        run("reviewer/support-trust", s(&["access", "request", &room, "A1", "A2", "--reason", REASON, "--for", "2h"]))
            .await?;
    ensure!(r.success() && r.stdout.contains("R-1") && r.stdout.contains("R-2"), "{r:?}");
    let r = run("reviewer/support-trust", s(&["access", "request", &room, "A1", "--reason", "."])).await?;
    ensure!(r.code == Some(3) || r.stderr.contains("invalid"), "{r:?}");
    let r = run("owner", s(&["access", "approve", "R-1", "--room", &room, "--note", "ok"])).await?;
    ensure!(r.success() && r.stdout.contains("APPROVED"), "{r:?}");
    let r = run("owner", s(&["access", "deny", "R-2", "--room", &room])).await?;
    ensure!(r.success() && r.stdout.contains("DENIED"), "{r:?}");
    let r = run("observer", s(&["access", "list", &room])).await?;
    ensure!(
        r.success() && r.stdout.contains("R-1") && r.stdout.contains("approved") && r.stdout.contains("denied"),
        "{r:?}"
    );
    let r = run(
        "reviewer/support-trust",
        s(&["break-glass", &room, "A3", "--reason", "SEV-1 bridge: path check", "--for", "31m"]),
    )
    .await?;
    ensure!(!r.success() && r.stderr.contains("30 minutes"), "{r:?}");
    let r = run(
        "reviewer/support-trust",
        s(&["break-glass", &room, "A3", "--reason", "SEV-1 bridge: path check", "--for", "10m"]),
    )
    .await?;
    ensure!(r.success() && r.stdout.contains("BG-1"), "{r:?}");
    let r = run("observer", s(&["access", "list", &room])).await?;
    ensure!(r.stdout.contains("BREAK-GLASS ACTIVE"), "{r:?}");
    let r = run("owner", s(&["access", "revoke", "R-1", "--room", &room])).await?;
    ensure!(r.success() && r.stdout.contains("REVOKED"), "{r:?}");
    let r = run("owner", s(&["access", "history", &room, "--format", "csv"])).await?;
    ensure!(r.success() && r.stdout.starts_with(trustroom_shared::access_history::CSV_HEADER), "{r:?}");
    ensure!(r.stdout.lines().count() > 5 && !r.stdout.contains(canary_of("A1")));
    let r = run("owner", s(&["access", "history", &room, "--format", "jsonl"])).await?;
    ensure!(r.success() && r.stdout.lines().all(|l| serde_json::from_str::<Value>(l).is_ok()), "{r:?}");
    let r = run("reviewer/privacy", s(&["access", "history", &room])).await?;
    ensure!(r.code == Some(6) || r.stderr.contains("forbidden"), "{r:?}");
    let r = run("observer", s(&["check", "list", &room])).await?;
    ensure!(r.success() && r.stdout.contains("passing"), "{r:?}");
    Ok(())
}
