//! `trustroom demo`: one command, nothing else to start. Runs a server with
//! the seeded demo room on a free loopback port and a fresh SQLite file,
//! prints the exact commands that join the room from other terminals as
//! every other member, then opens the TUI as the owner. When the TUI quits
//! the server shuts down cleanly. `--headless` prints the commands and
//! serves until Ctrl-C.
//!
//! The demo's source records (case timeline, remote-session log,
//! escalation notes; `client/demo/sources/`) are compiled in and written to
//! a temporary directory, and the commands that run the headless agents on
//! them are printed too.

use std::path::PathBuf;

use anyhow::Context;

use crate::cli::args::DemoArgs;

/// The demo's source files: `(file name, JSON lines)`, consistent with the
/// seeded room (its chronology cites some of these records; the agents
/// propose the rest).
pub const SOURCE_FILES: [(&str, &str); 3] = [
    ("case-timeline.jsonl", include_str!("../demo/sources/case-timeline.jsonl")),
    ("remote-session-log.jsonl", include_str!("../demo/sources/remote-session-log.jsonl")),
    ("escalation-notes.jsonl", include_str!("../demo/sources/escalation-notes.jsonl")),
];

/// Writes the demo's source files into `dir`; returns their paths.
pub fn write_sources(dir: &std::path::Path) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut out = Vec::new();
    for (name, text) in SOURCE_FILES {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        out.push(path);
    }
    Ok(out)
}

/// The agent role a demo member runs, from its role label (`agent/chronology`).
fn agent_role_of(label: &str) -> Option<&str> {
    label.strip_prefix("agent/")
}

/// A fresh temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> anyhow::Result<Self> {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let dir = std::env::temp_dir().join(format!("trustroom-demo-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(Self(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// How to run this program again, as the user invoked it.
fn program() -> String {
    let argv0 = std::env::args().next().unwrap_or_else(|| "trustroom".into());
    if argv0.contains('/') { argv0 } else { "trustroom".into() }
}

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let _log = crate::tui::logging::init();
    let (db_url, _tmp) = match &args.db {
        Some(db) => (db.clone(), None),
        None => {
            let tmp = TempDir::new()?;
            (format!("sqlite://{}?mode=rwc", tmp.0.join("demo.db").display()), Some(tmp))
        }
    };
    let sources_dir = TempDir::new()?;
    let source_paths = write_sources(&sources_dir.0.join("sources"))?;
    let server = trustroom_server::demo::start(&args.listen, &db_url)
        .await
        .with_context(|| format!("cannot start the demo server on {}", args.listen))?;
    let seed = server.seed.clone();
    let owner = seed.members.iter().find(|m| m.role == "owner").cloned().context("the demo seed has no owner")?;
    let prog = program();
    let room = seed.room.to_string();
    let mut help_extra = Vec::new();
    println!("Trustroom demo: \"{}\"", seed.title);
    println!("server: {}   database: {db_url}", server.url);
    println!();
    println!("Join from other terminals as each member:");
    for m in seed.members.iter().filter(|m| m.role != "owner") {
        let cmd = format!("{prog} connect --url {} --token {} {room}", server.url, m.token);
        println!("  # {} ({})", m.name, m.role);
        println!("  {cmd}");
        help_extra.push(format!("{} ({}):", m.name, m.role));
        help_extra.push(cmd);
    }
    println!();
    println!("Source records for the agents: {}", sources_dir.0.join("sources").display());
    println!("Run the headless agents (each keeps running and reacts to changes):");
    let sources: String = source_paths.iter().map(|p| format!(" --source {}", p.display())).collect();
    for m in seed.members.iter() {
        let Some(role) = agent_role_of(&m.role) else { continue };
        // The normaliser works from the register alone.
        let sources = if role == "objection-normaliser" { "" } else { sources.as_str() };
        let cmd = format!("{prog} agent {role} --url {} --token {} --room {room}{sources}", server.url, m.token);
        println!("  # {} runs the {role} agent:", m.name);
        println!("  {cmd}");
        help_extra.push(format!("{} runs the {role} agent:", m.name));
        help_extra.push(cmd);
    }
    println!();
    let owner_cmd = format!("{prog} connect --url {} --token {} {room}", server.url, owner.token);
    if args.headless {
        println!("  # {} (owner)", owner.name);
        println!("  {owner_cmd}");
        println!();
        println!("Serving until Ctrl-C.");
        wait_for_stop().await?;
        println!("Shutting down…");
        return server.shutdown().await;
    }
    println!("Opening the TUI as {} (owner)…", owner.name);
    let opts = crate::tui::TuiOptions {
        url: server.url.clone(),
        token: owner.token.clone(),
        trust: crate::session::Trust::default(),
        room,
        help_extra,
    };
    let result = crate::tui::run(opts).await;
    let stopped = server.shutdown().await;
    result?;
    stopped
}

/// Ctrl-C, or SIGTERM on Unix.
async fn wait_for_stop() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("cannot listen for SIGTERM")?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r.context("cannot wait for Ctrl-C"),
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await.context("cannot wait for Ctrl-C")
    }
}
