//! The terminal UI: the room as split panes with live co-editing.
//!
//! Shape (after gitui and helix): the session layer's connection task
//! (`crate::session::connection`) owns the connection, and its room
//! (`crate::session::room`) the replica, the sections' text and the
//! requests; the UI loop is one `select!` over terminal events (crossterm's
//! `EventStream`), network events and a tick. [`app::App`] composes the
//! room and the panes (`pane/`): each pane takes keys in `event(&mut
//! self)` and answers with commands the app carries out (`actions`), the
//! room's effects reach the panes through `effects`, and drawing (`ui/`,
//! `draw(&self)`) only reads — and only happens when something changed, so
//! an idle TUI uses no CPU.

pub mod action;
pub mod actions;
pub mod announce;
pub mod app;
pub mod clock;
pub mod diffing;
pub mod diffview;
pub mod effects;
pub mod forms;
pub mod highlight;
pub mod keyedit;
pub mod keys;
pub mod layout;
pub mod logging;
pub mod pane;
pub mod remembered;
pub mod suggest;
pub mod terminal;
pub mod text;
pub mod theme;
pub mod ui;

use std::time::Duration;

use crossterm::event::EventStream;
use futures_util::StreamExt;
use ratatui::layout::Rect;
use tokio::sync::mpsc;
use trustroom_shared::ClientId;

use app::App;

use crate::session::Trust;
use crate::session::connection::{self, NetCommand, NetConfig, NetEvent};
use crate::session::outbox::Outgoing;
use crate::session::room::ConnState;

/// Options for opening the TUI on one room.
#[derive(Debug, Clone)]
pub struct TuiOptions {
    pub url: String,
    pub token: String,
    /// Certificate authorities trusted for `wss://`.
    pub trust: Trust,
    /// Room id or exact title.
    pub room: String,
    /// Extra lines shown in the help overlay (the demo puts the join commands here).
    pub help_extra: Vec<String>,
    /// The TUI runs the demo's server in its process (`trustroom demo`):
    /// quitting stops it for everyone, so `q` asks first while others are connected.
    pub serves_demo: bool,
}

/// How often the loop wakes without input (expiring notices, sending our
/// cursor, the reconnect countdown). Nothing is redrawn unless it changed.
const TICK: Duration = Duration::from_millis(200);

/// Runs the TUI until the user quits. Restores the terminal on every exit path.
pub async fn run(opts: TuiOptions) -> anyhow::Result<()> {
    let log = logging::init();
    let client = ClientId::new();
    tracing::info!("trustroom TUI starting: {} room {} client {client}", opts.url, opts.room);
    let (cmd_tx, cmd_rx) = mpsc::channel::<NetCommand>(256);
    let (evt_tx, evt_rx) = mpsc::channel::<NetEvent>(1024);
    let cfg = NetConfig { url: opts.url.clone(), token: opts.token.clone(), client, trust: opts.trust.clone() };
    let net = tokio::spawn(connection::run(cfg, cmd_rx, evt_tx));
    let mut app = App::new(opts.room.clone(), opts.help_extra.clone(), theme::Theme::from_env(), client);
    app.help.log_path = log.as_ref().map(|(_, p)| p.clone());
    app.remembered = Some(remembered::Remembered::new(remembered::default_path(), opts.url.clone()));
    app.serves_demo = opts.serves_demo;

    let mut term = terminal::init()?;
    let _guard = terminal::RestoreGuard;
    if let Ok(size) = term.size() {
        app.size = Rect::new(0, 0, size.width, size.height);
    }
    let result = event_loop(&mut term, &mut app, cmd_tx, evt_rx).await;
    drop(_guard);
    terminal::restore()?;
    net.abort();
    save_last_looked(&app);
    tracing::info!("trustroom TUI stopped");
    result?;
    match app.exit_error {
        Some(e) => Err(anyhow::anyhow!(e)),
        None => Ok(()),
    }
}

async fn event_loop(
    term: &mut terminal::Tui,
    app: &mut App,
    cmd_tx: mpsc::Sender<NetCommand>,
    mut evt_rx: mpsc::Receiver<NetEvent>,
) -> anyhow::Result<()> {
    let mut input = EventStream::new();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut last_notice_shown = None;
    loop {
        flush_outbox(app, &cmd_tx);
        if app.quit {
            return Ok(());
        }
        if app.dirty {
            app.refresh();
            term.draw(|f| ui::draw(app, f))?;
            app.dirty = false;
        }
        tokio::select! {
            ev = input.next() => match ev {
                Some(Ok(ev)) => app.on_terminal_event(ev),
                Some(Err(e)) => return Err(e.into()),
                None => return Ok(()),
            },
            ev = evt_rx.recv() => match ev {
                Some(ev) => {
                    app.on_net(ev);
                    // Apply everything already queued before drawing once.
                    while let Ok(more) = evt_rx.try_recv() {
                        app.on_net(more);
                    }
                }
                None => {
                    if app.exit_error.is_none() {
                        app.exit_error = Some("the network task stopped".into());
                    }
                    return Ok(());
                }
            },
            _ = tick.tick() => {
                app.tick(std::time::Instant::now());
                // Redraw only for things that change with time.
                let now = std::time::Instant::now();
                let notice = app.status.current_notice(now).map(|n| n.at);
                if notice != last_notice_shown {
                    last_notice_shown = notice;
                    app.dirty = true;
                }
                if matches!(app.room.conn, ConnState::Disconnected { .. }) || !app.room.break_glass().is_empty() {
                    app.dirty = true;
                }
            }
        }
    }
}

fn flush_outbox(app: &mut App, cmd_tx: &mpsc::Sender<NetCommand>) {
    if app.reconnect_requested {
        app.reconnect_requested = false;
        let _ = cmd_tx.try_send(NetCommand::ReconnectNow);
    }
    let mut keep = Vec::new();
    for out in app.room.outbox.queue.drain(..) {
        match cmd_tx.try_send(NetCommand::Send { tag: out.tag, request: out.request }) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(NetCommand::Send { tag, request })) => {
                keep.push(Outgoing { tag, request });
            }
            Err(_) => {}
        }
    }
    app.room.outbox.queue = keep;
}

fn save_last_looked(app: &App) {
    if let (Some(room), Some(user), Some(state)) = (app.room.id, app.room.my_user(), &app.room.replica.state) {
        crate::session::history::save_last_looked(room, user, &app.room.history.to_last_looked(state));
    }
}
