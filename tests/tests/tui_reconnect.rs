//! A real TUI in a real terminal (tmux) reaching a real server through a
//! TCP proxy that this test breaks on purpose: the connection stalls
//! silently (nothing forwarded either way, no close — a dead NAT entry or a
//! frozen middlebox), is cut in the middle of a frame from the client, and
//! in the middle of a frame from the server. The user keeps typing and
//! raises an objection while it happens. Then the server restarts
//! gracefully, and crashes and restarts, while the user keeps typing.
//!
//! Checked on the server: every word typed and the objection are present
//! exactly once (the stalled connection's buffered frames are released
//! after the TUI has already re-sent them with the same `seq`, so the
//! server must deduplicate), and the TUI's screen shows the same text.
//! The stall is noticed by the client's liveness check
//! (`TRUSTROOM_LIVENESS_SECS`, shortened here), which the TUI log names.
// Test code: a failed expectation is the verdict (the lints bind product code).
#![allow(clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::Value;
use trustroom_e2e::proxy::{Fault, Proxy};
use trustroom_e2e::{TestServer, WsClient};

/// A private tmux server with one TUI session.
struct Tmux {
    socket: String,
    log_dir: PathBuf,
}

impl Tmux {
    fn start(dir: &Path, command: &str) -> anyhow::Result<Tmux> {
        let socket = format!("trustroom-tuirc-{}", std::process::id());
        let log_dir = dir.join("tui-log");
        std::fs::create_dir_all(&log_dir)?;
        let shell = format!(
            "env LANG=C.UTF-8 TERM=xterm-256color TRUSTROOM_LOG_DIR={} TRUSTROOM_LIVENESS_SECS=2 {command}; echo \"[exited: $?]\"; sleep 600",
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

    /// Types literal text (one character at a time would be slower; tmux
    /// delivers the string as keystrokes).
    fn text(&self, text: &str) -> anyhow::Result<()> {
        Command::new("tmux").args(["-L", &self.socket, "send-keys", "-t", "tui", "-l", "--", text]).status()?;
        Ok(())
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.log_dir.join("tui.log")).unwrap_or_default()
    }

    /// Leaves insert mode. Escape is sent on its own and waited for: a key
    /// right behind it in the same burst reads as Alt+key in a terminal.
    async fn escape(&self) -> anyhow::Result<()> {
        self.keys(&["Escape"])?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.screen().contains("-- INSERT --") {
            if Instant::now() > deadline {
                bail!("still in insert mode:\n{}", self.screen());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }

    async fn wait_for(&self, what: &str, timeout: Duration) -> anyhow::Result<()> {
        self.wait_until(&format!("{what:?} on the TUI screen"), |screen| screen.contains(what), timeout).await
    }

    /// Waits until the screen satisfies `ready` (described by `what`).
    async fn wait_until(&self, what: &str, ready: impl Fn(&str) -> bool, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if ready(&self.screen()) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("timed out waiting for {what}:\n{}\n--- log tail ---\n{}", self.screen(), tail(&self.log(), 30))
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux").args(["-L", &self.socket, "kill-server"]).status();
    }
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The room as the server has it now (a fresh connection's snapshot).
async fn server_state(server: &TestServer) -> anyhow::Result<Value> {
    let mut c = WsClient::connect(&server.url, &server.member("owner").token).await?;
    let snap = c.join(&server.seed.room.to_string()).await?;
    Ok(snap["state"].clone())
}

fn all_bodies(state: &Value) -> String {
    state["sections"]
        .as_array()
        .map_or(String::new(), |s| s.iter().filter_map(|s| s["body"].as_str()).collect::<Vec<_>>().join("\n"))
}

fn objection_texts(state: &Value) -> Vec<String> {
    let objections: Vec<&Value> = match &state["objections"] {
        Value::Array(a) => a.iter().collect(),
        Value::Object(m) => m.values().collect(),
        _ => Vec::new(),
    };
    objections.iter().filter_map(|o| o["text"].as_str().map(str::to_string)).collect()
}

/// Open websocket connections the server counts (its
/// `trustroom_connections` gauge; this test binary runs one server).
fn server_connections() -> Option<f64> {
    trustroom_server::metrics::METRICS
        .render()
        .lines()
        .find_map(|l| l.strip_prefix("trustroom_connections "))
        .and_then(|v| v.trim().parse().ok())
}

/// Waits until the server counts exactly `n` open connections.
async fn wait_for_connections(n: f64, timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    while server_connections() != Some(n) {
        if Instant::now() > deadline {
            bail!("the server still counts {:?} connections, not {n}", server_connections());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// Waits until the server holds `marker` in some section.
async fn wait_on_server(server: &TestServer, marker: &str, timeout: Duration) -> anyhow::Result<Value> {
    let deadline = Instant::now() + timeout;
    loop {
        let state = server_state(server).await?;
        if all_bodies(&state).contains(marker) || objection_texts(&state).iter().any(|t| t.contains(marker)) {
            return Ok(state);
        }
        if Instant::now() > deadline {
            bail!("the server never got {marker:?}");
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tui_survives_a_silent_stall_and_cuts_mid_frame_without_losing_or_doubling_a_word() -> anyhow::Result<()> {
    let bin = trustroom_e2e::client_bin()?;
    let server = TestServer::start().await?;
    let proxy = Proxy::start(server.addr).await?;
    let owner = server.member("owner").token.clone();
    let room = server.seed.room.to_string();
    let command = format!("{} --url {} --token {owner} connect {room}", bin.display(), proxy.url());
    let tui = Tmux::start(server.dir(), &command)?;
    let t = Duration::from_secs(20);
    tui.wait_for("● connected", t).await?;

    // Baseline: typing reaches the server.
    tui.keys(&["2", "i"])?;
    tui.text("TUIRC-ONE ")?;
    wait_on_server(&server, "TUIRC-ONE", t).await?;

    // 1. A silent stall: the socket stays open, nothing moves. The user
    // types and raises an objection into it.
    proxy.inject(Fault::Stall);
    tui.text("TUIRC-TWO ")?;
    tui.escape().await?;
    tui.keys(&["r"])?;
    tui.wait_for("Register", t).await?;
    tui.keys(&["n"])?;
    tui.wait_for("New objection", t).await?;
    tui.text("TUIRC-OBJECTION raised into a stalled connection")?;
    tui.keys(&["Enter"])?;
    // The liveness check notices (2 s here, 75 s by default), the TUI
    // reconnects through the proxy (new connections are not stalled),
    // rejoins and re-sends the edit and the objection with their seqs.
    wait_on_server(&server, "TUIRC-TWO", t).await?;
    wait_on_server(&server, "TUIRC-OBJECTION", t).await?;
    let log = tui.log();
    assert!(log.contains("nothing heard from the server"), "the liveness check fired:\n{}", tail(&log, 30));
    // Release the stalled connection: its buffered frames (the original
    // edit and objection) now reach the server, which must apply neither
    // again. The server handles a connection's frames in order and then
    // sees it end: wait until only the TUI's live connection is left.
    proxy.inject(Fault::None);
    wait_for_connections(1.0, t).await?;

    // 2. Cut in the middle of a frame from the client, while typing.
    // (Enter sent the objection and closed its dialog.)
    tui.wait_until("the objection dialog to close", |screen| !screen.contains("New objection"), t).await?;
    tui.keys(&["2"])?;
    tui.keys(&["i"])?;
    tui.wait_for("-- INSERT --", t).await?;
    proxy.inject(Fault::CutClientMidFrame);
    tui.text("TUIRC-THREE ")?;
    wait_on_server(&server, "TUIRC-THREE", t).await?;

    // 3. Cut in the middle of a frame from the server (an ack or event).
    proxy.inject(Fault::CutServerMidFrame);
    tui.text("TUIRC-FOUR ")?;
    wait_on_server(&server, "TUIRC-FOUR", t).await?;

    // 4. The server restarts (graceful: the TUI is told `closing`
    // `unavailable`), then crashes (killed, no goodbye) and comes back on
    // the same database; the user types through both.
    let mut server = server;
    server.restart().await?;
    proxy.retarget(server.addr);
    tui.text("TUIRC-FIVE ")?;
    wait_on_server(&server, "TUIRC-FIVE", t).await?;
    server.crash_and_restart().await?;
    proxy.retarget(server.addr);
    tui.text("TUIRC-SIX ")?;
    wait_on_server(&server, "TUIRC-SIX", t).await?;
    tui.escape().await?;
    // Nothing left to send or re-send: every edit is acknowledged.
    tui.wait_until(
        "the TUI connected with nothing unsent",
        |screen| screen.contains("● connected") && !screen.contains("sending…") && !screen.contains("unsent"),
        t,
    )
    .await?;

    let state = server_state(&server).await?;
    let bodies = all_bodies(&state);
    for marker in ["TUIRC-ONE", "TUIRC-TWO", "TUIRC-THREE", "TUIRC-FOUR", "TUIRC-FIVE", "TUIRC-SIX"] {
        assert_eq!(bodies.matches(marker).count(), 1, "{marker} exactly once on the server:\n{bodies}");
    }
    let objections = objection_texts(&state);
    let ours = objections.iter().filter(|t| t.contains("TUIRC-OBJECTION")).count();
    assert_eq!(ours, 1, "the objection exactly once: {objections:?}");
    // The words are in the order typed, in one section.
    let section = state["sections"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["body"].as_str().is_some_and(|b| b.contains("TUIRC-ONE"))))
        .and_then(|s| s["body"].as_str())
        .context("the typed section")?;
    assert!(
        section.contains("TUIRC-ONE TUIRC-TWO TUIRC-THREE TUIRC-FOUR TUIRC-FIVE TUIRC-SIX"),
        "typed in order: {section}"
    );
    // The TUI shows what the server has: each word once (the editor pane
    // wraps, so the words are checked one by one).
    tui.wait_for("TUIRC-SIX", t).await?;
    let screen = tui.screen();
    // The editor pane's rows (between its heavy borders), joined: the
    // editor wraps long lines at the pane's edge.
    let editor: String = screen.lines().filter_map(|l| l.split('┃').nth(1)).collect();
    assert!(
        editor.starts_with("TUIRC-ONE TUIRC-TWO TUIRC-THREE TUIRC-FOUR TUIRC-FIVE TUIRC-SIX "),
        "the TUI shows the server's text:\n{screen}"
    );
    for marker in ["TUIRC-ONE", "TUIRC-TWO", "TUIRC-THREE", "TUIRC-FOUR", "TUIRC-FIVE", "TUIRC-SIX"] {
        assert_eq!(editor.matches(marker).count(), 1, "{marker} once on the TUI screen:\n{screen}");
    }
    let log = tui.log();
    assert!(
        log.contains("re-sending unsent objection"),
        "the objection went through the re-send path:\n{}",
        tail(&log, 40)
    );
    Ok(())
}
