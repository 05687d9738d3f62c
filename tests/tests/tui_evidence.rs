//! Evidence in a real terminal: the owner's TUI (tmux, 140×45) on the demo
//! room marks a statement's stale evidence the moment a cited record gets
//! a new version (registered by another member over the wire), `e` lists
//! the statement's citations with their state, Enter opens the record's
//! text (audited), `c` re-confirms it and the stale-evidence hold clears
//! itself.
// Test code: a failed expectation is the verdict (the lints bind product code).
#![allow(clippy::expect_used, clippy::panic)]

use serde_json::json;
use trustroom_e2e::{TestServer, Tmux};

#[tokio::test]
async fn a_changed_record_shows_stale_in_the_tui_and_is_opened_and_reconfirmed_there() -> anyhow::Result<()> {
    let bin = trustroom_e2e::client_bin()?;
    let server = TestServer::start().await?;
    let room = server.room();
    let tmux = Tmux::new("evidence", 140, 45);
    let token = &server.member("owner").token;
    tmux.start(
        "owner",
        server.dir(),
        &format!("{} --url {} --token {token} connect {room}", bin.display(), server.url),
    )?;
    tmux.settle("owner", "● connected").await?;

    // The Summary cites SL-0091: fresh, and its text opens (audited).
    tmux.keys("owner", &["e"])?;
    tmux.settle("owner", "SL-0091        fresh · checked against v1").await?;
    tmux.keys("owner", &["j", "Enter"])?;
    tmux.settle("owner", "this view is in the room's audit log").await?;
    tmux.settle("owner", "Customer-list view rendered for a second tenant").await?;
    tmux.keys("owner", &["Escape"])?;

    // Another member registers a new version: stale at once, room HELD.
    let (mut lena, _) = server.joined("reviewer/support-trust").await?;
    lena.ok(json!({"type": "add_source", "room": room, "records": [{"id": "SL-0091", "time": "2026-11-17T09:17:03Z",
        "kind": "render", "actor": "session tooling", "origin": "remote-session-log",
        "text": "Customer-list view rendered for a second tenant until 09:28; no tenant-mismatch warning raised."}]}))
        .await?;
    tmux.settle("owner", "⚠ stale evidence: SL-0091 (e)").await?;
    tmux.settle("owner", "CHECK FAILING: stale evidence").await?;

    // e lists it as stale; c re-confirms; the hold clears itself.
    tmux.keys("owner", &["e"])?;
    tmux.settle("owner", "STALE EVIDENCE · cited v1, the record is v2").await?;
    tmux.keys("owner", &["j", "c"])?;
    tmux.settle("owner", "fresh · checked against v2").await?;
    let chain = server.audit_chain(&room).await?;
    anyhow::ensure!(chain.iter().any(|e| e.kind == "source.view" && e.detail["source"] == "SL-0091"));
    // Other sections still cite the old version: the room stays held until
    // each is maintained, and says so.
    tmux.keys("owner", &["Escape"])?;
    let screen = tmux.settle("owner", "stale evidence").await?;
    anyhow::ensure!(!screen.contains("§1/6 Summary ⚠"), "the Summary is maintained:\n{screen}");
    Ok(())
}
