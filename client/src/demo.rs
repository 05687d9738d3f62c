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

use std::path::{Path, PathBuf};

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

/// A fresh private temporary directory (short name, so the paths shown in
/// the TUI's help fit an 80-column screen), removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> anyhow::Result<Self> {
        let base = std::env::temp_dir();
        for attempt in 0..64u64 {
            let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
            let seed =
                (nanos as u64) ^ (u64::from(std::process::id()) << 24) ^ attempt.wrapping_mul(0x9e37_79b9_7f4a_7c15);
            let dir = base.join(format!("trustroom-demo-{}", base36(seed, 6)));
            let mut builder = std::fs::DirBuilder::new();
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            match builder.create(&dir) {
                Ok(()) => return Ok(Self(dir)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e).with_context(|| format!("cannot create {}", dir.display())),
            }
        }
        anyhow::bail!("cannot create a fresh directory in {}", base.display())
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The last `len` base-36 digits of `n`.
fn base36(mut n: u64, len: usize) -> String {
    let digits = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::with_capacity(len);
    for _ in 0..len {
        out.push(digits[(n % 36) as usize]);
        n /= 36;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// How to run this program again from any directory: `trustroom` when it
/// was found on the `PATH`, else its absolute path.
fn program() -> String {
    let argv0 = std::env::args().next().unwrap_or_else(|| "trustroom".into());
    if !argv0.contains('/') {
        return "trustroom".into();
    }
    std::path::absolute(&argv0).map_or(argv0, |p| p.display().to_string())
}

/// `s` as one shell word (single-quoted unless it is plainly safe).
fn sh_quote(s: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c);
    if !s.is_empty() && s.chars().all(safe) { s.to_string() } else { format!("'{}'", s.replace('\'', r"'\''")) }
}

/// One member's way in: the whole command, and the arguments the join
/// file runs by default for them (`ROOM` stands for the room).
struct Entry {
    name: String,
    role: String,
    token: String,
    /// The whole command, as printed.
    command: String,
    /// `connect ROOM`, or the agent with its sources.
    default_args: Vec<String>,
}

/// The join file: `sh FILE NAME` opens the room as NAME (an agent member
/// runs its agent); `sh FILE NAME COMMAND…` runs any `trustroom` command
/// as NAME, an argument `ROOM` standing for the room; `sh FILE` lists the
/// members. Its comments hold every whole command, to copy by hand.
fn join_script(title: &str, url: &str, room: &str, prog: &str, path: &Path, entries: &[Entry]) -> String {
    let file = sh_quote(&path.display().to_string());
    let mut s = String::from("#!/bin/sh\n");
    s.push_str(&format!("# Trustroom demo: \"{title}\"\n# room {room} on {url}\n#\n"));
    s.push_str(&format!("#   sh {file} NAME            opens the room as NAME (an agent member runs its agent)\n"));
    s.push_str(&format!("#   sh {file} NAME COMMAND…   runs a trustroom command as NAME; ROOM is this room\n"));
    s.push_str(&format!(
        "#   sh {file}                 lists the members\n#\n# The same, one whole command per member:\n"
    ));
    for e in entries {
        s.push_str(&format!("#\n# {} ({})\n#   {}\n", e.name, e.role, e.command));
    }
    s.push_str(&format!(
        "\nurl={}\nroom={}\nname=${{1:-}}\n[ $# -gt 0 ] && shift\ncase \"$name\" in\n",
        sh_quote(url),
        sh_quote(room)
    ));
    for e in entries {
        let args: Vec<String> = e.default_args.iter().map(|a| sh_quote(a)).collect();
        s.push_str(&format!(
            "  {}) token={}; [ $# -gt 0 ] || set -- {} ;;\n",
            sh_quote(&e.name),
            sh_quote(&e.token),
            args.join(" ")
        ));
    }
    s.push_str(&format!(
        "  *)\n    echo \"usage: sh {} NAME [COMMAND…]   (ROOM in COMMAND is this room)\"\n",
        file.replace('"', "\\\"")
    ));
    for e in entries {
        s.push_str(&format!("    echo {}\n", sh_quote(&format!("  {} ({})", e.name, e.role))));
    }
    s.push_str("    exit 2 ;;\nesac\n");
    s.push_str("for a in \"$@\"; do\n  shift\n  if [ \"$a\" = ROOM ]; then set -- \"$@\" \"$room\"; else set -- \"$@\" \"$a\"; fi\ndone\n");
    s.push_str(&format!("exec {} --url \"$url\" --token \"$token\" \"$@\"\n", sh_quote(prog)));
    s
}

/// Writes the join file, readable by this user only (it holds tokens).
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(text.as_bytes()).with_context(|| format!("cannot write {}", path.display()))
}

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let _log = crate::tui::logging::init();
    let tmp = TempDir::new()?;
    let db_url = match &args.db {
        Some(db) => db.clone(),
        None => format!("sqlite://{}?mode=rwc", tmp.0.join("demo.db").display()),
    };
    let source_paths = write_sources(&tmp.0.join("sources"))?;
    let server = trustroom_server::demo::start(&args.listen, &db_url)
        .await
        .with_context(|| format!("cannot start the demo server on {}", args.listen))?;
    let seed = server.seed.clone();
    let owner = seed.member("owner").cloned().context("the demo seed has no owner")?;
    let prog = program();
    let q_prog = sh_quote(&prog);
    let room = seed.room.to_string();
    let url = &server.url;
    let sources: Vec<String> = source_paths.iter().map(|p| p.display().to_string()).collect();
    // The owner first (the TUI this demo opens), then everyone else.
    let mut members: Vec<&trustroom_server::demo::DemoMember> = vec![&owner];
    members.extend(seed.members.iter().filter(|m| m.user != owner.user));
    let entries: Vec<Entry> = members
        .iter()
        .map(|m| {
            let (command, default_args) = match agent_role_of(&m.role) {
                Some(role) => {
                    // The normaliser works from the register alone.
                    let sources: &[String] = if role == "objection-normaliser" { &[] } else { &sources };
                    let flags: String = sources.iter().map(|p| format!(" --source {}", sh_quote(p))).collect();
                    let mut args: Vec<String> = vec!["agent".into(), role.into(), "--room".into(), "ROOM".into()];
                    args.extend(sources.iter().flat_map(|p| ["--source".to_string(), p.clone()]));
                    (format!("{q_prog} agent {role} --url {url} --token {} --room {room}{flags}", m.token), args)
                }
                None => (
                    format!("{q_prog} connect --url {url} --token {} {room}", m.token),
                    vec!["connect".into(), "ROOM".into()],
                ),
            };
            Entry { name: m.name.clone(), role: m.role.clone(), token: m.token.clone(), command, default_args }
        })
        .collect();
    let join_path = tmp.0.join("join.sh");
    write_private(&join_path, &join_script(&seed.title, url, &room, &prog, &join_path, &entries))?;
    let join = format!("sh {}", sh_quote(&join_path.display().to_string()));

    println!("Trustroom demo: \"{}\"", seed.title);
    println!("server: {url}   database: {db_url}");
    println!();
    println!("Join from other terminals as each member (every line below is one whole command):");
    for e in entries.iter().filter(|e| agent_role_of(&e.role).is_none()) {
        println!("  # {} ({})", e.name, e.role);
        println!("  {}", e.command);
    }
    println!();
    println!("Source records for the agents: {}", tmp.0.join("sources").display());
    println!("Run the headless agents (each keeps running and reacts to changes):");
    for e in entries.iter() {
        let Some(role) = agent_role_of(&e.role) else { continue };
        println!("  # {} runs the {role} agent:", e.name);
        println!("  {}", e.command);
    }
    println!();
    println!("Who to join as, to see each flow (ROOM is this room):");
    for (flow, how) in trustroom_server::demo::FLOWS {
        println!("  {flow}: {how}");
    }
    println!();
    println!("The same commands are in {}; it runs them too:", join_path.display());
    println!("  {join} NAME             opens the room as NAME (an agent member runs its agent)");
    println!("  {join} NAME COMMAND…    runs a trustroom command as NAME (ROOM is this room)");
    println!();
    if args.headless {
        println!("Serving until Ctrl-C.");
        wait_for_stop().await?;
        println!("Shutting down…");
        return server.shutdown().await;
    }
    println!("Opening the TUI as {} (owner)… (? in the TUI shows the join commands again)", owner.name);
    let opts = crate::tui::TuiOptions {
        url: server.url.clone(),
        token: owner.token.clone(),
        trust: crate::session::Trust::default(),
        room,
        help_extra: help_lines(&join, &join_path, &entries),
        serves_demo: true,
    };
    let result = crate::tui::run(opts).await;
    let stopped = server.shutdown().await;
    result?;
    stopped
}

/// The demo's part of the TUI's help (see `tui::pane::help` for the marks):
/// one short command per member, who to join as for each flow, the file.
fn help_lines(join: &str, path: &Path, entries: &[Entry]) -> Vec<String> {
    use crate::tui::pane::help::{COMMAND, HEADING};
    let mut out =
        vec![format!("{HEADING}Each command opens the room as that member (an agent member runs its agent):")];
    for e in entries {
        let you = if e.role == "owner" { ", you" } else { "" };
        out.push(format!("{COMMAND}{join} {}  # {}{you}", e.name, e.role));
    }
    out.push(format!(
        "After the name, any trustroom command runs as that member, ROOM standing for this room: \
         {join} lena.fischer break-glass ROOM A3 --reason \"…\" --for 30m"
    ));
    out.push(format!("{HEADING}Who to join as, to see each flow"));
    for (flow, how) in trustroom_server::demo::FLOWS {
        out.push(format!("{flow}: {how}"));
    }
    out.push(format!(
        "Every whole command (url, token, room) is in {}, and was printed in your terminal before this screen opened.",
        path.display()
    ));
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, role: &str, token: &str, args: &[&str]) -> Entry {
        Entry {
            name: name.into(),
            role: role.into(),
            token: token.into(),
            command: format!("trustroom connect --url ws://127.0.0.1:7000 --token {token} room-1"),
            default_args: args.iter().map(|a| a.to_string()).collect(),
        }
    }

    /// Runs the join file with `echo` for the program: what it would run.
    #[cfg(unix)]
    fn run(script: &Path, args: &[&str]) -> (Option<i32>, String) {
        let out = std::process::Command::new("sh").arg(script).args(args).output().expect("sh runs");
        (out.status.code(), String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    #[cfg(unix)]
    #[test]
    fn the_join_file_opens_the_room_as_a_member_runs_their_commands_and_lists_them() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("join.sh");
        let entries = [
            entry("morgan.hale", "owner", "tr_owner", &["connect", "ROOM"]),
            entry("lena.fischer", "reviewer/support-trust", "tr_lena", &["connect", "ROOM"]),
            entry(
                "chronology-agent",
                "agent/chronology",
                "tr_agent",
                &["agent", "chronology", "--room", "ROOM", "--source", "/tmp/a b.jsonl"],
            ),
        ];
        let script = join_script("SEV-1 \"packet\"", "ws://127.0.0.1:7000", "room-1", "echo", &path, &entries);
        write_private(&path, &script).expect("written");
        let url = "--url ws://127.0.0.1:7000";
        assert_eq!(run(&path, &["lena.fischer"]), (Some(0), format!("{url} --token tr_lena connect room-1")));
        assert_eq!(
            run(&path, &["chronology-agent"]),
            (Some(0), format!("{url} --token tr_agent agent chronology --room room-1 --source /tmp/a b.jsonl"))
        );
        assert_eq!(
            run(&path, &["lena.fischer", "break-glass", "ROOM", "A3", "--reason", "it's the bridge"]),
            (Some(0), format!("{url} --token tr_lena break-glass room-1 A3 --reason it's the bridge"))
        );
        let (code, list) = run(&path, &[]);
        assert_eq!(code, Some(2));
        assert!(list.contains("  lena.fischer (reviewer/support-trust)"), "{list}");
        // The whole commands are in its comments, one per member.
        assert!(script.contains("# lena.fischer (reviewer/support-trust)\n#   trustroom connect --url"), "{script}");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).expect("metadata").permissions().mode();
        assert_eq!(mode & 0o077, 0, "only its owner reads the tokens");
    }

    #[test]
    fn the_help_has_one_short_command_per_member_and_every_flow() {
        let entries = [
            entry("morgan.hale", "owner", "tr_owner", &["connect", "ROOM"]),
            entry("ines.moreau", "co-owner", "tr_ines", &["connect", "ROOM"]),
        ];
        let lines = help_lines("sh /tmp/trustroom-demo-abc123/join.sh", Path::new("/tmp/x/join.sh"), &entries);
        let commands: Vec<&String> = lines.iter().filter(|l| l.starts_with("$ ")).collect();
        assert_eq!(commands.len(), 2, "{lines:?}");
        assert!(commands[0].ends_with("join.sh morgan.hale  # owner, you"), "{commands:?}");
        assert!(commands.iter().all(|c| c.len() <= 76), "short enough for an 80-column screen: {commands:?}");
        for (flow, _) in trustroom_server::demo::FLOWS {
            assert!(lines.iter().any(|l| l.starts_with(flow)), "{flow} missing: {lines:?}");
        }
    }

    #[test]
    fn shell_words_are_quoted_only_when_needed() {
        assert_eq!(sh_quote("/usr/bin/trustroom"), "/usr/bin/trustroom");
        assert_eq!(sh_quote("a b"), "'a b'");
        assert_eq!(sh_quote("it's"), r"'it'\''s'");
        assert_eq!(sh_quote(""), "''");
    }
}
