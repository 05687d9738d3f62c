//! A private tmux server for real-terminal tests: one session per TUI, at a
//! size the test picks; keys and literal text are sent with `send-keys`,
//! screens read with `capture-pane`, and every wait polls the screen with a
//! deadline (no fixed sleeps). The server is killed when the value drops.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// How long [`Tmux::wait_for`] polls before it fails.
const WAIT: Duration = Duration::from_secs(20);

pub struct Tmux {
    socket: String,
    width: u16,
    height: u16,
    /// Each session's TUI log directory, for the log's tail on a timeout.
    logs: Mutex<HashMap<String, PathBuf>>,
}

impl Tmux {
    /// A tmux server of its own (`name` keeps parallel tests apart), whose
    /// sessions are `width`×`height`.
    pub fn new(name: &str, width: u16, height: u16) -> Self {
        Self {
            socket: format!("trustroom-{name}-{}", std::process::id()),
            width,
            height,
            logs: Mutex::new(HashMap::new()),
        }
    }

    /// Runs `command` in a new session, in `dir`; its TUI log goes to
    /// `dir/SESSION-log`. When the command ends the session stays, showing
    /// `[exited: CODE]`.
    pub fn start(&self, session: &str, dir: &Path, command: &str) -> anyhow::Result<()> {
        let log = dir.join(format!("{session}-log"));
        self.logs.lock().unwrap_or_else(|e| e.into_inner()).insert(session.to_string(), log.clone());
        let shell = format!(
            "env LANG=C.UTF-8 TERM=xterm-256color TRUSTROOM_LOG_DIR='{}' {command}; echo \"[exited: $?]\"; sleep 600",
            log.display()
        );
        let (w, h) = (self.width.to_string(), self.height.to_string());
        let status = Command::new("tmux")
            .args(["-L", &self.socket, "new-session", "-d", "-s", session, "-x", &w, "-y", &h])
            // In the test's own directory: what a TUI writes (an export)
            // never lands in the checkout.
            .arg("-c")
            .arg(dir)
            .arg(&shell)
            .status()
            .context("tmux is required for this test")?;
        if !status.success() {
            bail!("tmux new-session failed: {status}");
        }
        Ok(())
    }

    /// What the session's screen shows now.
    pub fn screen(&self, session: &str) -> String {
        Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p", "-t", session])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    /// Sends tmux key names (`Enter`, `Escape`, `C-c`, `q`…).
    pub fn keys(&self, session: &str, keys: &[&str]) -> anyhow::Result<()> {
        let mut args = vec!["-L", &self.socket, "send-keys", "-t", session];
        args.extend_from_slice(keys);
        Command::new("tmux").args(&args).status()?;
        Ok(())
    }

    /// Types `text` literally.
    pub fn text(&self, session: &str, text: &str) -> anyhow::Result<()> {
        Command::new("tmux").args(["-L", &self.socket, "send-keys", "-t", session, "-l", "--", text]).status()?;
        Ok(())
    }

    /// Polls the screen until it shows `what`; the screen that showed it.
    pub fn wait_for(&self, session: &str, what: &str) -> anyhow::Result<String> {
        let deadline = Instant::now() + WAIT;
        loop {
            let screen = self.screen(session);
            if screen.contains(what) {
                return Ok(screen);
            }
            if Instant::now() > deadline {
                bail!(self.timed_out(session, what, &screen));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// [`Tmux::wait_for`] for async tests, whose server runs in the same
    /// process: it sleeps on the runtime instead of blocking its thread.
    pub async fn settle(&self, session: &str, what: &str) -> anyhow::Result<String> {
        let deadline = Instant::now() + WAIT;
        loop {
            let screen = self.screen(session);
            if screen.contains(what) {
                return Ok(screen);
            }
            if Instant::now() > deadline {
                bail!(self.timed_out(session, what, &screen));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The timeout's message: the screen and the last lines of the TUI log.
    fn timed_out(&self, session: &str, what: &str, screen: &str) -> String {
        let dir = self.logs.lock().unwrap_or_else(|e| e.into_inner()).get(session).cloned();
        let log = dir.and_then(|d| std::fs::read_to_string(d.join("tui.log")).ok()).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(20).collect::<Vec<_>>().into_iter().rev().collect();
        format!(
            "timed out waiting for {what:?} on the {session} screen:\n{screen}\n--- log tail ---\n{}",
            tail.join("\n")
        )
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux").args(["-L", &self.socket, "kill-server"]).status();
    }
}
