//! The CLI and the TUI follow redirects and survive failover.

use super::*;

/// The real client follows `moved`: `trustroom` pointed at a node that does
/// not own the room reconnects to the owner and its change lands there.
/// Admin commands queued for the room are applied by its owner only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(any(pg_url, ci)), ignore = "needs TRUSTROOM_TEST_PG_URL (PostgreSQL)")]
async fn the_cli_follows_redirects_and_admin_commands_reach_the_owner() -> Result<()> {
    let (db, store, seed) = demo_db().await?;
    // Built before the nodes start: a build must not starve their renewals.
    let client = client_bin()?;
    let home = tempfile::tempdir()?;
    let n0 = Node::start(db.url(), home.path(), "n0", LEASE_SECS).await?;
    let n1 = Node::start(db.url(), home.path(), "n1", LEASE_SECS).await?;
    let room = seed.room.to_string();
    let owner = seed.member("owner").context("owner")?.token.clone();
    let (mut watcher, snap, _) = join_anywhere(&[&n0.url], &owner, ClientId::new(), &room, None).await?;
    let title = titles(&snap).into_iter().next().context("a section")?;

    let run = run_process(
        &client,
        &["--url", &n1.url, "--timeout", "20", "section", "append", &room, &title, " Appended via n1."],
        home.path(),
        &[("TRUSTROOM_TOKEN", owner.as_str())],
    )
    .await?;
    ensure!(run.success(), "trustroom through a non-owner node: {run:?}");
    let event = watcher.wait_for(|v| v["type"] == "event" && v.to_string().contains("Appended via n1."), T).await?;
    ensure!(event["rev"]["change"]["kind"] == "section_edited", "{event}");

    // An admin command for the room, queued while both nodes run: only n0
    // (the owner) applies it, once; its watcher on n0 sees the change.
    let (_, _) = admin::add_user(&store, "late.joiner").await?;
    let result = admin::add_member(&store, seed.room, "late.joiner", trustroom_shared::role::Role::Observer).await?;
    ensure!(!result.is_empty());
    let added = watcher.wait_for(|v| v["type"] == "event" && v["rev"]["change"]["kind"] == "member_added", T).await?;
    ensure!(added["rev"]["change"]["member"]["name"] == "late.joiner", "{added}");
    ensure!(n1.log_text().lines().all(|l| !l.contains("sequencing the room here")), "n1 must not take the room");
    check_stored(&store, &seed).await?;
    let revs = store.revisions_between(seed.room, 0, i64::MAX as u64).await?;
    let adds =
        revs.iter().filter(|r| serde_json::to_string(&r.change).is_ok_and(|c| c.contains("late.joiner"))).count();
    ensure!(adds == 1, "the member was added {adds} times");
    drop((n0, n1));
    drop(db);
    Ok(())
}

/// A private tmux server, killed on drop (also when the test fails).
pub(crate) struct Tmux {
    pub(crate) socket: String,
}

impl Tmux {
    pub(crate) fn screen(&self, session: &str) -> String {
        std::process::Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p", "-t", session])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    pub(crate) async fn wait_for(&self, session: &str, text: &str, what: &str) -> Result<()> {
        let deadline = Instant::now() + T;
        loop {
            let screen = self.screen(session);
            if screen.contains(text) {
                return Ok(());
            }
            ensure!(Instant::now() < deadline, "{what}: {text:?} not on the screen within {T:?}:\n{screen}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = std::process::Command::new("tmux").args(["-L", &self.socket, "kill-server"]).output();
    }
}

/// The terminal UI, pointed at a node that does not own the room, follows
/// the redirect and shows the owner's live changes; when the owner is
/// killed it reconnects through its configured URL and goes on with the
/// node that took the room over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(any(pg_url, ci)), ignore = "needs TRUSTROOM_TEST_PG_URL (PostgreSQL)")]
async fn the_tui_follows_the_redirect_and_survives_failover() -> Result<()> {
    let (db, _store, seed) = demo_db().await?;
    std::process::Command::new("tmux").arg("-V").output().context("this test drives the TUI in tmux")?;
    let bin = client_bin()?;
    let home = tempfile::tempdir()?;
    let mut n0 = Node::start(db.url(), home.path(), "n0", LEASE_SECS).await?;
    let n1 = Node::start(db.url(), home.path(), "n1", LEASE_SECS).await?;
    let room = seed.room.to_string();
    let owner = seed.member("owner").context("owner")?.token.clone();
    let privacy = seed.member("reviewer/privacy").context("privacy")?.token.clone();
    let owner_id = ClientId::new();
    let (mut writer, _, _) = join_anywhere(&[&n0.url], &owner, owner_id, &room, None).await?;

    let tmux = Tmux { socket: format!("trustroom-cluster-{}", uuid::Uuid::now_v7().simple()) };
    let log_dir = home.path().join("tui-log");
    let command = format!(
        "env LANG=C.UTF-8 TERM=xterm-256color HOME={home} TRUSTROOM_LOG_DIR={log} TRUSTROOM_TOKEN={privacy} {bin} --url {url} connect {room}; sleep 600",
        home = home.path().display(),
        log = log_dir.display(),
        bin = bin.display(),
        url = n1.url,
    );
    let status = std::process::Command::new("tmux")
        .args(["-L", &tmux.socket, "new-session", "-d", "-s", "tui", "-x", "120", "-y", "40", &command])
        .status()?;
    ensure!(status.success(), "tmux new-session failed");
    tmux.wait_for("tui", "● connected", "the TUI did not join through n1").await?;

    writer.ok(add_section(&room, "CLUSTER-TUI-ONE", 1)).await?;
    tmux.wait_for("tui", "CLUSTER-TUI-ONE", "the owner's change did not reach the redirected TUI").await?;

    n0.kill().await?;
    let (mut writer, _, at) = join_anywhere(&[&n1.url], &owner, owner_id, &room, None).await?;
    ensure!(at == n1.url, "n1 should have taken the room over, got {at}");
    writer.ok(add_section(&room, "CLUSTER-TUI-TWO", 2)).await?;
    tmux.wait_for("tui", "CLUSTER-TUI-TWO", "the TUI did not follow the room to n1 after the owner died").await?;
    tmux.wait_for("tui", "● connected", "the TUI is not connected after failover").await?;
    drop(tmux);
    drop((n0, n1));
    drop(db);
    Ok(())
}
