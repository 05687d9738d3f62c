//! A real TUI in a real terminal (tmux) against a real server: a reviewer
//! asks for a gated annex with a reason that is too short and sees the
//! server's `error[invalid]` in the dialog, words intact (no "kept in"
//! file line); fixes it, picks a duration, and sees the request pending on
//! the gated pane; the owner approves from the CLI and the reviewer's pane
//! turns to granted at once, then shows the content on Enter. The message
//! history (`N`) holds the refusal.
// Test code: a failed expectation is the verdict (the lints bind product code).
#![allow(clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use trustroom_e2e::TestServer;

/// A private tmux server with one TUI session, 120×40.
struct Tmux {
    socket: String,
    log_dir: PathBuf,
}

impl Tmux {
    fn start(dir: &Path, command: &str) -> anyhow::Result<Tmux> {
        let socket = format!("trustroom-notices-{}", std::process::id());
        let log_dir = dir.join("tui-log");
        std::fs::create_dir_all(&log_dir)?;
        let shell = format!(
            "env LANG=C.UTF-8 TERM=xterm-256color TRUSTROOM_LOG_DIR={} {command}; echo \"[exited: $?]\"; sleep 600",
            log_dir.display()
        );
        let status = Command::new("tmux")
            .args(["-L", &socket, "new-session", "-d", "-s", "tui", "-x", "120", "-y", "40", &shell])
            .status()
            .context("tmux is required for this test")?;
        if !status.success() {
            bail!("tmux new-session failed: {status}");
        }
        Ok(Tmux { socket, log_dir })
    }

    fn screen(&self) -> String {
        Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p", "-t", "tui"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    fn keys(&self, keys: &[&str]) -> anyhow::Result<()> {
        let mut args = vec!["-L", &self.socket, "send-keys", "-t", "tui"];
        args.extend_from_slice(keys);
        Command::new("tmux").args(&args).status()?;
        Ok(())
    }

    fn text(&self, text: &str) -> anyhow::Result<()> {
        Command::new("tmux").args(["-L", &self.socket, "send-keys", "-t", "tui", "-l", "--", text]).status()?;
        Ok(())
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.log_dir.join("tui.log")).unwrap_or_default()
    }

    /// Polls the screen until it shows `what` (no fixed sleeps).
    async fn wait_for(&self, what: &str) -> anyhow::Result<String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let screen = self.screen();
            if screen.contains(what) {
                return Ok(screen);
            }
            if Instant::now() > deadline {
                let log = self.log();
                let tail: Vec<&str> = log.lines().rev().take(20).collect();
                bail!(
                    "timed out waiting for {what:?} on the TUI screen:\n{screen}\n--- log tail ---\n{}",
                    tail.join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux").args(["-L", &self.socket, "kill-server"]).status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_access_request_shows_its_error_then_a_fixed_one_is_pending_and_its_approval_shows_live()
-> anyhow::Result<()> {
    let bin = trustroom_e2e::client_bin()?;
    let server = TestServer::start().await?;
    let room = server.room();
    // priya.natarajan (privacy reviewer) is not on A3's need-to-know list.
    let reviewer = server.member("reviewer/privacy").token.clone();
    let command = format!("{} --url {} --token {reviewer} connect {room}", bin.display(), server.url);
    let tui = Tmux::start(server.dir(), &command)?;
    tui.wait_for("● connected").await?;

    // The annex map, A3 (the third by code), gated.
    tui.keys(&["a"])?;
    tui.wait_for("Annex map").await?;
    tui.keys(&["j"])?;
    tui.keys(&["j"])?;
    tui.keys(&["Enter"])?;
    tui.wait_for("RESTRICTED").await?;
    let screen = tui.wait_for("A3").await?;
    assert!(!screen.contains(trustroom_e2e::canary_of("A3")), "never the content:\n{screen}");

    // A reason too short: the server refuses it, and says so in the dialog.
    tui.keys(&["A"])?;
    tui.wait_for("why you need this annex").await?;
    tui.text("pls")?;
    tui.keys(&["Enter"])?;
    let screen = tui.wait_for("error[invalid]").await?;
    assert!(screen.contains("a reason of at least 10"), "the server's message:\n{screen}");
    assert!(screen.contains("Request access to A3") && screen.contains("pls"), "the dialog, words intact:\n{screen}");
    assert!(!screen.contains("kept in") && !screen.contains("unsent"), "not a network failure:\n{screen}");

    // Fixed in place, four hours chosen (the default is the room's 2h).
    tui.text(" CASE-4471 confirm the privileged access path")?;
    tui.keys(&["Tab"])?;
    tui.wait_for("Enter ask for 4h").await?;
    tui.keys(&["Enter"])?;
    let screen = tui.wait_for("PENDING").await?;
    assert!(screen.contains("R-1 · 4h"), "the duration chosen:\n{screen}");
    assert!(screen.contains("morgan.hale"), "who decides:\n{screen}");

    // The owner approves from the CLI: the reviewer's pane changes live.
    let run = server
        .cli(&bin, "owner", &["access", "approve", "R-1", "--room", &room, "--note", "for the path check"])
        .await?;
    assert!(run.success(), "approve: {run:?}");
    let screen = tui.wait_for("ACCESS GRANTED").await?;
    assert!(screen.contains("APPROVED by morgan.hale"), "who decided:\n{screen}");
    tui.keys(&["Enter"])?;
    tui.wait_for(trustroom_e2e::canary_of("A3")).await?;
    tui.wait_for("This view is logged").await?;

    // The message history still holds the refusal.
    tui.keys(&["N"])?;
    let screen = tui.wait_for("Messages").await?;
    assert!(screen.contains("refused") && screen.contains("error[invalid]"), "{screen}");
    assert!(screen.contains("access requested (R-1 for A3)"), "who decides, where it shows:\n{screen}");
    tui.keys(&["Escape"])?;
    tui.keys(&["q"])?;
    tui.wait_for("[exited: 0]").await?;
    Ok(())
}
