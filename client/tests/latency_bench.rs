//! Remote-edit latency: from a keystroke in one TUI to the frame that shows
//! it in another, over a real server on loopback (in-process demo server,
//! SQLite file, real websockets, the TUI's own network task and drawing on
//! TestBackend). A measurement, not a test:
//!
//! ```text
//! cargo test -p trustroom --release --test latency_bench -- --ignored --nocapture
//! ```
#![allow(dead_code, unused_imports)]
// Test code: a failed expectation is the verdict (the lints bind product code).
#![allow(clippy::expect_used, clippy::panic)]

#[path = "../src/session/mod.rs"]
mod session;
#[path = "../src/tui/mod.rs"]
mod tui;

use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use session::connection::{self as net, NetCommand, NetConfig, NetEvent};
use session::room::ConnState;
use tokio::sync::mpsc;
use trustroom_shared::ClientId;
use tui::app::App;

struct Side {
    app: App,
    cmd: mpsc::Sender<NetCommand>,
    evt: mpsc::Receiver<NetEvent>,
}

impl Side {
    fn start(url: &str, token: &str, room: &str) -> Side {
        let client = ClientId::new();
        let (cmd, cmd_rx) = mpsc::channel(256);
        let (evt_tx, evt) = mpsc::channel(1024);
        tokio::spawn(net::run(
            NetConfig { url: url.into(), token: token.into(), client, trust: session::Trust::default() },
            cmd_rx,
            evt_tx,
        ));
        let app = App::new(room.into(), Vec::new(), tui::theme::Theme::new(true, false), client);
        Side { app, cmd, evt }
    }

    fn flush(&mut self) {
        for o in self.app.room.outbox.queue.drain(..) {
            let _ = self.cmd.try_send(NetCommand::Send { tag: o.tag, request: o.request });
        }
    }

    /// Handles events until `done` holds (or the deadline passes).
    async fn until(&mut self, done: impl Fn(&App) -> bool) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done(&self.app) {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.evt.recv()).await {
                Ok(Some(ev)) => {
                    self.app.on_net(ev);
                    while let Ok(more) = self.evt.try_recv() {
                        self.app.on_net(more);
                    }
                    self.flush();
                }
                _ => return false,
            }
        }
        true
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run with --ignored --nocapture (use --release)"]
async fn remote_edit_reaches_the_other_screen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}?mode=rwc", dir.path().join("bench.db").display());
    let server = trustroom_server::demo::start("127.0.0.1:0", &db).await.expect("demo server");
    let token = |role: &str| server.seed.members.iter().find(|m| m.role == role).expect("member").token.clone();
    let room = server.seed.room.to_string();
    let mut a = Side::start(&server.url, &token("owner"), &room);
    let mut b = Side::start(&server.url, &token("reviewer/privacy"), &room);
    for s in [&mut a, &mut b] {
        assert!(
            s.until(|app| app.room.conn == ConnState::Connected && app.room.replica.state.is_some()).await,
            "joined"
        );
    }
    let mut term = Terminal::new(TestBackend::new(120, 40)).expect("terminal");
    let section = a.app.ctx().current_section_id().expect("a section");
    a.app.on_key(KeyEvent::new(KeyCode::Char('i'), KeyModifiers::NONE));
    let n = 300;
    let mut lat = Vec::with_capacity(n);
    for i in 0..n {
        let before = b.app.room.docs.get(&section).map_or(0, |d| d.text.len());
        let t0 = Instant::now();
        a.app.on_key(KeyEvent::new(KeyCode::Char('x'), KeyModifiers::NONE));
        a.flush();
        let arrived = b.until(|app| app.room.docs.get(&section).is_some_and(|d| d.text.len() > before)).await;
        assert!(arrived, "edit {i} did not arrive");
        b.app.refresh();
        term.draw(|f| tui::ui::draw(&b.app, f)).expect("draw");
        lat.push(t0.elapsed());
        // Our own ack, so the next keystroke goes out at once.
        assert!(a.until(|app| !app.room.docs.get(&section).is_some_and(|d| d.has_pending())).await, "ack {i}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    lat.sort();
    let pct = |p: usize| lat[(lat.len() * p / 100).min(lat.len() - 1)];
    println!(
        "remote edit → other TUI's frame over loopback ({n} edits): p50 {:?}  p99 {:?}  max {:?}",
        pct(50),
        pct(99),
        lat[lat.len() - 1]
    );
    drop(a);
    drop(b);
    server.shutdown().await.expect("shutdown");
}
