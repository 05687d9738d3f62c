//! The real binaries as processes: `trustroom-server` administers users,
//! rooms, members and annexes while `trustroom-server serve` runs, and the
//! scriptable `trustroom` client works the room, with the documented exit
//! codes and `error[code]` messages.
// Test code: a failed expectation is the verdict (the lints bind product code).
#![allow(clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Context, Result, bail, ensure};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use trustroom_e2e::{Run, T, client_bin, free_port, isolated_command, run_process, server_bin};

const CANARY: &str = "CANARY-CLI-9d8e7f";

struct Env {
    server: PathBuf,
    client: PathBuf,
    db: String,
    home: PathBuf,
    url: String,
}

impl Env {
    async fn admin(&self, args: &[&str]) -> Result<Run> {
        let mut full = vec!["--db", self.db.as_str()];
        full.extend_from_slice(args);
        run_process(&self.server, &full, &self.home, &[]).await
    }

    async fn admin_ok(&self, args: &[&str]) -> Result<String> {
        let run = self.admin(args).await?;
        ensure!(run.success(), "trustroom-server {args:?} failed: {run:?}");
        Ok(run.stdout)
    }

    /// `trustroom --url URL ARGS…` with the token in `TRUSTROOM_TOKEN`.
    async fn client(&self, token: &str, args: &[&str]) -> Result<Run> {
        let mut full = vec!["--url", self.url.as_str(), "--timeout", "20"];
        full.extend_from_slice(args);
        run_process(&self.client, &full, &self.home, &[("TRUSTROOM_TOKEN", token)]).await
    }

    async fn client_ok(&self, token: &str, args: &[&str]) -> Result<String> {
        let run = self.client(token, args).await?;
        ensure!(run.success(), "trustroom {args:?} failed: {run:?}");
        Ok(run.stdout)
    }

    /// Runs a client command that must fail with exit `code` and `error[label]`.
    async fn client_fails(&self, token: &str, args: &[&str], code: i32, label: &str) -> Result<Run> {
        let run = self.client(token, args).await?;
        ensure!(run.code == Some(code), "trustroom {args:?}: expected exit {code}, got {run:?}");
        ensure!(
            run.stderr.contains(&format!("error[{label}]")),
            "trustroom {args:?}: expected error[{label}]: {run:?}"
        );
        Ok(run)
    }
}

/// `user add NAME` prints `token tr_…`; returns the token.
async fn add_user(env: &Env, name: &str) -> Result<String> {
    let out = env.admin_ok(&["user", "add", name]).await?;
    out.lines()
        .find_map(|l| l.strip_prefix("token "))
        .map(|t| t.trim().to_string())
        .with_context(|| format!("no token line in {out:?}"))
}

/// A `trustroom-server serve` process; stopped with SIGTERM.
struct ServeProcess {
    child: tokio::process::Child,
    log: tokio::task::JoinHandle<Vec<String>>,
}

async fn serve(bin: &Path, db: &str, home: &Path, port: u16) -> Result<ServeProcess> {
    let listen = format!("127.0.0.1:{port}");
    let mut cmd = isolated_command(bin, home);
    cmd.args(["--db", db, "serve", "--listen", &listen])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().context("spawning trustroom-server serve")?;
    let stderr = child.stderr.take().context("no stderr")?;
    let mut lines = BufReader::new(stderr).lines();
    let mut seen = Vec::new();
    let ready = tokio::time::timeout(T, async {
        while let Some(line) = lines.next_line().await? {
            let hit = line.contains("listening");
            seen.push(line);
            if hit {
                return anyhow::Ok(true);
            }
        }
        anyhow::Ok(false)
    })
    .await;
    match ready {
        Ok(Ok(true)) => {}
        other => bail!("the server did not report listening ({other:?}): {seen:?}"),
    }
    let log = tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            seen.push(line);
        }
        seen
    });
    Ok(ServeProcess { child, log })
}

impl ServeProcess {
    async fn stop(mut self) -> Result<Vec<String>> {
        let pid = self.child.id().context("server already exited")?;
        let term = tokio::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status().await?;
        ensure!(term.success(), "kill -TERM failed");
        let status =
            tokio::time::timeout(T * 3, self.child.wait()).await.context("the server did not exit on SIGTERM")??;
        let log = tokio::time::timeout(T, self.log).await.context("stderr reader hung")??;
        ensure!(status.success(), "the server exited with {status}: {log:?}");
        Ok(log)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn administer_and_work_a_room_with_the_real_binaries() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home)?;
    let db = dir.path().join("cli.db").display().to_string();
    let server = server_bin()?;
    let client = client_bin()?;
    let port = free_port()?;
    let env = Env {
        server: server.clone(),
        client,
        db: db.clone(),
        home: home.clone(),
        url: format!("ws://127.0.0.1:{port}"),
    };

    let alice = add_user(&env, "alice").await?;
    let proc = serve(&server, &db, &home, port).await?;

    // Administration while the server runs.
    let bob = add_user(&env, "bob").await?;
    let carol = add_user(&env, "carol").await?;
    let mallory = add_user(&env, "mallory").await?;
    let dup = env.admin(&["user", "add", "bob"]).await?;
    ensure!(!dup.success(), "a second user named bob must be refused: {dup:?}");
    let users = env.admin_ok(&["user", "list"]).await?;
    for name in ["alice", "bob", "carol", "mallory"] {
        ensure!(users.lines().any(|l| l.contains(name) && l.contains("active")), "user list lacks {name}: {users}");
    }
    ensure!(!users.contains(&alice) && !users.contains(&bob), "user list prints tokens");

    let room =
        env.admin_ok(&["room", "create", "--title", "CLI incident room", "--owner", "alice"]).await?.trim().to_string();
    ensure!(uuid::Uuid::parse_str(&room).is_ok(), "room create prints the id: {room:?}");
    let rooms = env.admin_ok(&["room", "list"]).await?;
    ensure!(rooms.contains(&room) && rooms.contains("CLI incident room"), "room list: {rooms}");
    let out = env
        .admin_ok(&["member", "add", "CLI incident room", "bob", "--role", "reviewer", "--discipline", "privacy"])
        .await?;
    ensure!(out.contains("bob") && out.contains("reviewer/privacy"), "member add: {out}");
    env.admin_ok(&["member", "add", &room, "carol", "--role", "observer"]).await?;
    let bad = env.admin(&["member", "add", &room, "carol", "--role", "reviewer"]).await?;
    ensure!(
        !bad.success() && bad.stderr.contains("discipline"),
        "a reviewer without discipline must be refused: {bad:?}"
    );
    let annex_file = dir.path().join("annex.txt");
    std::fs::write(&annex_file, format!("Tenant acct-77-SECRET\n{CANARY}\n"))?;
    let out = env
        .admin_ok(&[
            "annex",
            "add",
            &room,
            "--title",
            "Tenant identifiers",
            "--classification",
            "tenant-identifiers",
            "--file",
            &annex_file.display().to_string(),
            "--sensitive",
            "acct-77-SECRET",
            "--allow",
            "bob",
        ])
        .await?;
    ensure!(out.contains("A1"), "annex add: {out}");

    // The client, as each member.
    let listed = env.client_ok(&alice, &["rooms"]).await?;
    ensure!(
        listed.contains(&room) && listed.contains("owner") && listed.contains("CLI incident room"),
        "rooms: {listed}"
    );
    let listed = env.client_ok(&bob, &["rooms"]).await?;
    ensure!(listed.contains("reviewer/privacy"), "rooms as bob: {listed}");
    let listed = env.client_ok(&mallory, &["rooms"]).await?;
    ensure!(!listed.contains(&room), "mallory is no member: {listed}");

    let body_file = dir.path().join("body.md");
    std::fs::write(
        &body_file,
        "[verified: TL-1] The session ran 11 minutes.\r\n\r\n[contested: O-1] One tenant was shown.\r\n",
    )?;
    let out = env
        .client_ok(&alice, &["section", "add", &room, "Findings", "--file", &body_file.display().to_string()])
        .await?;
    ensure!(out.starts_with("ok rev") && out.contains("section"), "section add: {out}");
    let out = env
        .client_ok(&bob, &["section", "append", "CLI incident room", "Findings", " Privacy adds ✓ ünïcode."])
        .await?;
    ensure!(out.starts_with("ok rev"), "section append: {out}");
    let out = env
        .client_ok(
            &bob,
            &[
                "object",
                &room,
                "Findings",
                "--kind",
                "exposure-scope",
                "--blocking",
                "A third tenant is not ruled out.",
            ],
        )
        .await?;
    ensure!(out.contains("objection") && out.contains("O-1"), "object: {out}");
    let out = env.client_ok(&alice, &["reply", &room, "O-1", "Checking the session log."]).await?;
    ensure!(out.contains("reply"), "reply: {out}");
    env.client_fails(&alice, &["objection", "status", &room, "O-1", "accepted-residual"], 2, "usage").await?;
    env.client_fails(
        &bob,
        &["objection", "status", &room, "O-1", "accepted-residual", "--rationale", "r"],
        6,
        "forbidden",
    )
    .await?;
    env.client_ok(
        &alice,
        &[
            "objection",
            "status",
            &room,
            "O-1",
            "accepted-residual",
            "--rationale",
            "Downstream privacy review decides.",
        ],
    )
    .await?;

    // Annexes: content for the need-to-know list only.
    let viewed = env.client(&bob, &["annex", "view", &room, "A1"]).await?;
    ensure!(viewed.success() && viewed.stdout.contains(CANARY), "bob may read A1: {viewed:?}");
    ensure!(viewed.stderr.contains("audit log"), "the view is announced as logged: {viewed:?}");
    let json_view = env.client_ok(&bob, &["annex", "view", &room, "Tenant identifiers", "--json"]).await?;
    let v: Value = serde_json::from_str(json_view.trim())?;
    ensure!(v["logged"] == true && v["code"] == "A1");
    let denied = env.client_fails(&carol, &["annex", "view", &room, "A1"], 6, "forbidden").await?;
    ensure!(!denied.stdout.contains(CANARY) && !denied.stderr.contains(CANARY));
    env.client_fails(&alice, &["annex", "view", &room, "A1"], 6, "forbidden").await?;
    env.client_fails(&carol, &["section", "append", &room, "Findings", "observer text"], 6, "forbidden").await?;
    env.client_fails(&mallory, &["show", &room], 5, "not_found").await?;
    env.client_fails(&mallory, &["show", "CLI incident room"], 5, "not_found").await?;
    env.client_fails(&mallory, &["annex", "view", &room, "A1"], 5, "not_found").await?;
    env.client_fails("tr_not_a_token", &["rooms"], 4, "unauthenticated").await?;

    // What each member sees.
    for (who, token) in [("carol", &carol), ("bob", &bob), ("alice", &alice)] {
        let shown = env.client_ok(token, &["show", &room, "--json"]).await?;
        ensure!(
            !shown.contains(CANARY) && !shown.contains("acct-77-SECRET"),
            "{who}: show --json leaks the annex: {shown}"
        );
        let text = env.client_ok(token, &["show", &room]).await?;
        ensure!(!text.contains(CANARY) && text.contains("Findings"), "{who}: show: {text}");
    }
    let shown: Value = serde_json::from_str(&env.client_ok(&alice, &["show", &room, "--json"]).await?)?;
    let state = &shown["state"];
    let findings =
        state["sections"].as_array().and_then(|s| s.iter().find(|s| s["title"] == "Findings")).context("Findings")?;
    assert_eq!(
        findings["body"],
        "[verified: TL-1] The session ran 11 minutes.\n\n[contested: O-1] One tenant was shown.\n Privacy adds ✓ ünïcode.",
        "CRLF normalized, append verbatim"
    );
    let objection = state["objections"].as_object().and_then(|o| o.values().next()).context("O-1")?;
    assert_eq!(objection["status"], "accepted-residual");
    assert_eq!(objection["blocking"], true);
    assert_eq!(objection["replies"].as_array().map(Vec::len), Some(1));
    let annex = state["annexes"].as_object().and_then(|a| a.values().next()).context("A1")?;
    ensure!(annex.get("content").is_none() && annex["title"] == "Tenant identifiers");
    assert_eq!(shown["me"]["role"], "owner");
    assert_eq!(state["members"].as_object().map(|m| m.len()), Some(3));

    // The audit log, verified and exported while the server runs.
    let verified = env.admin(&["audit", "verify", "--room", &room]).await?;
    ensure!(verified.success() && verified.stdout.starts_with("ok:"), "audit verify: {verified:?}");
    let export = env.admin_ok(&["audit", "export", "--room", "CLI incident room"]).await?;
    let entries: Vec<Value> = export.lines().map(serde_json::from_str).collect::<Result<_, _>>()?;
    let kinds: Vec<&str> = entries.iter().filter_map(|e| e["kind"].as_str()).collect();
    for kind in [
        "room.created",
        "change.member_added",
        "change.annex_added",
        "change.section_added",
        "change.section_edited",
        "change.objection_raised",
        "change.reply_added",
        "change.objection_status_changed",
        "annex.view",
        "refused",
    ] {
        ensure!(kinds.contains(&kind), "audit export lacks {kind}: {kinds:?}");
    }
    ensure!(!export.contains(CANARY), "the audit log must not copy annex content");

    // Removal while the server runs cuts bob off at once.
    let out = env.admin_ok(&["member", "remove", &room, "bob"]).await?;
    ensure!(out.contains("removed"), "member remove: {out}");
    env.client_fails(&bob, &["show", &room], 5, "not_found").await?;
    env.client_fails(&bob, &["annex", "view", &room, "A1"], 5, "not_found").await?;
    let out = env.admin_ok(&["user", "revoke", "carol"]).await?;
    ensure!(!out.is_empty());
    env.client_fails(&carol, &["rooms"], 4, "unauthenticated").await?;

    let log = proc.stop().await?;
    ensure!(log.iter().any(|l| l.contains("listening")), "server log: {log:?}");
    // Offline administration still works once the server is gone.
    let verified = env.admin(&["audit", "verify", "--room", &room]).await?;
    ensure!(verified.success(), "audit verify after shutdown: {verified:?}");
    Ok(())
}

/// `suggest`, `suggestions`, `accept`, `reject` and `stats` as real
/// `trustroom` processes against a real server (the demo room).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suggestions_from_the_command_line() -> Result<()> {
    let server = trustroom_e2e::TestServer::start().await?;
    let room = server.room();
    let bin = client_bin()?;
    // The agent proposes the chronology with one more entry.
    let (c, snap) = server.joined("agent/chronology").await?;
    c.close().await;
    let (_, body) = trustroom_e2e::section(&snap, "Chronology")?;
    let file = server.dir().join("chronology.md");
    std::fs::write(&file, format!("{body}\n\n[verified: TL-0433] 10:20 Support trust opens the incident room.\n"))?;
    let f = file.display().to_string();
    let r = server
        .cli(
            &bin,
            "agent/chronology",
            &["suggest", &room, "Chronology", "--file", &f, "--why", "TL-0433 records it.", "--evidence", "TL-0433"],
        )
        .await?;
    ensure!(r.success() && r.stdout.contains("suggestion S-1"), "{r:?}");
    // An out-of-bounds one is flagged on the spot.
    let drift = server.dir().join("drift.md");
    std::fs::write(&drift, format!("{body}\n\nDear customer, we are writing to inform you of an incident.\n"))?;
    let d = drift.display().to_string();
    let r = server
        .cli(&bin, "agent/chronology", &["suggest", &room, "Chronology", "--file", &d, "--why", "Draft notice."])
        .await?;
    ensure!(
        r.success() && r.stdout.contains("S-2") && r.stdout.contains("OUT OF BOUNDS [customer-communication]"),
        "{r:?}"
    );
    // Unchanged text: nothing to suggest (usage-level error, nothing sent).
    let same = server.dir().join("same.md");
    std::fs::write(&same, &body)?;
    let r = server
        .cli(
            &bin,
            "agent/chronology",
            &["suggest", &room, "Chronology", "--file", &same.display().to_string(), "--why", "x"],
        )
        .await?;
    ensure!(r.code == Some(7) && r.stderr.contains("nothing to suggest"), "{r:?}");
    // Observers may not suggest.
    let r = server.cli(&bin, "observer", &["suggest", &room, "Chronology", "--file", &f, "--why", "x"]).await?;
    ensure!(r.code == Some(6) && r.stderr.contains("error[forbidden]"), "{r:?}");

    let r = server.cli(&bin, "observer", &["suggestions", &room]).await?;
    ensure!(r.success() && r.stdout.contains("S-1 OPEN by chronology-agent (agent/chronology)"), "{r:?}");
    ensure!(r.stdout.contains("+ [verified: TL-0433] 10:20") && r.stdout.contains("evidence: TL-0433"), "{r:?}");
    ensure!(r.stdout.contains("OUT OF BOUNDS [customer-communication]"), "{r:?}");
    let r = server.cli(&bin, "observer", &["suggestions", &room, "--json"]).await?;
    let v: Value = serde_json::from_str(r.stdout.trim())?;
    ensure!(v["suggestions"].as_array().map(Vec::len) == Some(2) && v["default_rules"] == true, "{v}");

    // Agents and unlisted reviewers may not decide; the owner does.
    let r = server.cli(&bin, "agent/chronology", &["accept", &room, "S-1"]).await?;
    ensure!(r.code == Some(6) && r.stderr.contains("error[forbidden]"), "{r:?}");
    let r = server.cli(&bin, "reviewer/privacy", &["reject", &room, "S-1", "--reason", "no"]).await?;
    ensure!(r.code == Some(6), "{r:?}");
    let r = server.cli(&bin, "owner", &["accept", &room, "S-9"]).await?;
    ensure!(r.code == Some(5) && r.stderr.contains("S-1, S-2"), "unknown suggestion lists the open ones: {r:?}");
    let r = server.cli(&bin, "owner", &["accept", &room, "S-1", "--note", "Matches TL-0433."]).await?;
    ensure!(r.success() && r.stdout.contains("accepted S-1"), "{r:?}");
    let r = server.cli(&bin, "owner", &["accept", &room, "S-1"]).await?;
    ensure!(r.code == Some(8) && r.stderr.contains("error[conflict]"), "double accept: {r:?}");
    let r = server
        .cli(&bin, "owner", &["reject", &room, "S-2", "--reason", "Customer communication is out of bounds."])
        .await?;
    ensure!(r.success() && r.stdout.contains("rejected S-2"), "{r:?}");
    let r = server.cli(&bin, "owner", &["show", &room]).await?;
    ensure!(r.stdout.contains("10:20 Support trust opens the incident room."), "accepted text is in the packet: {r:?}");
    let r = server.cli(&bin, "owner", &["suggestions", &room, "--all"]).await?;
    ensure!(
        r.stdout.contains("accepted by morgan.hale") && r.stdout.contains("rejected by morgan.hale: Customer"),
        "{r:?}"
    );

    let r = server.cli(&bin, "observer", &["stats", &room]).await?;
    ensure!(r.success() && r.stdout.contains("role agent/chronology") && r.stdout.contains("edits"), "{r:?}");
    let r = server.cli(&bin, "observer", &["stats", &room, "--json"]).await?;
    let v: Value = serde_json::from_str(r.stdout.trim())?;
    ensure!(
        v["suggestions"]["accepted"] == 1 && v["suggestions"]["rejected"] == 1 && v["suggestions"]["flagged"] == 1,
        "{v}"
    );
    Ok(())
}
