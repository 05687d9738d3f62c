//! The three headless agents, run as the real `trustroom agent` binary
//! against a real server on a fresh demo room, on the demo's source files
//! (`client/demo/sources/`):
//!
//! - what they propose and raise matches the golden files
//!   (`tests/golden/agents/*.json`, ids and times replaced by codes and
//!   names; `TRUSTROOM_BLESS=1` rewrites them);
//! - a second run makes no duplicates, also after a human accepted one
//!   suggestion and rejected another;
//! - the record the room's boundary rules flag is held back and then
//!   proposed alone, flagged out-of-bounds, once;
//! - a running agent reacts to a source file that changes;
//! - the agent client never tries anything it must not: every change an
//!   agent made is a suggestion or an objection, and the audit log holds
//!   no refusal of an agent.
// Test code: a failed expectation is the verdict (the lints bind product code).
#![allow(clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use serde_json::{Value, json};
use trustroom_e2e::{T, TestServer, check_golden, client_bin, isolated_command, run_process, section, workspace_root};
use trustroom_shared::change::Change;

const SOURCES: [&str; 3] = ["case-timeline.jsonl", "remote-session-log.jsonl", "escalation-notes.jsonl"];

/// The demo's source files, copied into `dir`.
fn copy_sources(dir: &Path) -> Result<Vec<PathBuf>> {
    let from = workspace_root().join("client/demo/sources");
    SOURCES
        .iter()
        .map(|name| {
            let to = dir.join(name);
            std::fs::copy(from.join(name), &to).with_context(|| format!("copying {name}"))?;
            Ok(to)
        })
        .collect()
}

/// The demo room plus an objection-normaliser agent (when the seed lacks
/// one) and a reviewer's near-duplicate of O-1 for it to find.
async fn setup() -> Result<(TestServer, tempfile::TempDir, Vec<PathBuf>)> {
    let server = TestServer::start().await?;
    if !server.seed.members.iter().any(|m| m.role == "agent/objection-normaliser") {
        bail!("the demo seed has no objection-normaliser agent");
    }
    let (mut trust, snap) = server.joined("reviewer/support-trust").await?;
    let (scope, _) = section(&snap, "Exposure scope")?;
    trust
        .ok(json!({"type": "object", "room": server.room(), "section": scope, "kind": "other",
            "text": "A third tenant is not ruled out by the session log: the cached tenant context was reused for 11 minutes and two list refreshes."}))
        .await?;
    let dir = tempfile::tempdir()?;
    let sources = copy_sources(dir.path())?;
    Ok((server, dir, sources))
}

/// Runs `trustroom agent ROLE --once` as the demo member `who`.
async fn run_agent(server: &TestServer, home: &Path, who: &str, role: &str, sources: &[PathBuf]) -> Result<String> {
    let token = server.seed.members.iter().find(|m| m.role == who).context("no such member")?.token.clone();
    let room = server.room();
    let mut args = vec!["agent", role, "--once", "--room", room.as_str(), "--url", server.url.as_str()];
    let paths: Vec<String> = sources.iter().map(|p| p.display().to_string()).collect();
    for p in &paths {
        args.push("--source");
        args.push(p);
    }
    let run = run_process(&client_bin()?, &args, home, &[("TRUSTROOM_TOKEN", token.as_str())]).await?;
    ensure!(run.success(), "trustroom agent {role} failed ({:?}):\n{}\n{}", run.code, run.stdout, run.stderr);
    Ok(run.stdout)
}

async fn run_all(server: &TestServer, home: &Path, sources: &[PathBuf]) -> Result<()> {
    run_agent(server, home, "agent/chronology", "chronology", sources).await?;
    run_agent(server, home, "agent/objection-normaliser", "objection-normaliser", sources).await?;
    run_agent(server, home, "agent/trace-keeper", "trace-keeper", sources).await?;
    Ok(())
}

/// The room as the owner sees it now.
async fn room_state(server: &TestServer) -> Result<Value> {
    let (mut owner, snap) = server.joined("owner").await?;
    owner.drain(Duration::from_millis(20)).await?;
    Ok(snap["state"].clone())
}

/// What each agent did, with ids replaced by codes, titles and names.
fn agent_work(state: &Value) -> Result<BTreeMap<String, Value>> {
    let role_of: BTreeMap<&str, String> = state["members"]
        .as_object()
        .context("members")?
        .values()
        .filter(|m| m["role"] == "agent")
        .filter_map(|m| Some((m["user"].as_str()?, m["agent_role"].as_str()?.to_string())))
        .collect();
    let title_of: BTreeMap<&str, &str> = state["sections"]
        .as_array()
        .context("sections")?
        .iter()
        .filter_map(|s| Some((s["id"].as_str()?, s["title"].as_str()?)))
        .collect();
    let objections = state["objections"].as_object().context("objections")?;
    let code_of: BTreeMap<&str, String> =
        objections.values().filter_map(|o| Some((o["id"].as_str()?, format!("O-{}", o["number"])))).collect();
    let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut suggestions: Vec<&Value> =
        state["suggestions"]["suggestions"].as_object().context("suggestions")?.values().collect();
    suggestions.sort_by_key(|s| s["number"].as_u64());
    for s in suggestions {
        let Some(role) = s["proposer"].as_str().and_then(|u| role_of.get(u)) else { continue };
        let mut proposal = s["proposal"].clone();
        if let Some(section) = proposal["section"].as_str() {
            proposal["section"] = json!(title_of.get(section).copied().unwrap_or("?"));
        }
        if let Some(change) = proposal.get_mut("change") {
            for key in ["keep", "objection"] {
                if let Some(id) = change[key].as_str() {
                    change[key] = json!(code_of.get(id).cloned().unwrap_or_default());
                }
            }
            if let Some(d) = change["duplicates"].as_array() {
                let codes: Vec<String> = d
                    .iter()
                    .filter_map(|v| v.as_str())
                    .map(|id| code_of.get(id).cloned().unwrap_or_default())
                    .collect();
                change["duplicates"] = json!(codes);
            }
        }
        out.entry(role.clone()).or_default().push(json!({
            "suggestion": format!("S-{}", s["number"]),
            "status": s["status"],
            "proposal": proposal,
            "rationale": s["rationale"],
            "evidence": s["evidence"],
            "flags": s.get("flags").cloned().unwrap_or_else(|| json!([])),
        }));
    }
    let mut raised: Vec<&Value> = objections.values().collect();
    raised.sort_by_key(|o| o["number"].as_u64());
    for o in raised {
        let Some(role) = o["author"].as_str().and_then(|u| role_of.get(u)) else { continue };
        let section = o["anchor"]["section"].as_str().and_then(|s| title_of.get(s)).copied().unwrap_or("?");
        out.entry(role.clone()).or_default().push(json!({
            "objection": format!("O-{}", o["number"]),
            "status": o["status"],
            "kind": o["kind"],
            "blocking": o["blocking"],
            "section": section,
            "statement": o["anchor"]["statement"],
            "quote": o["anchor"]["quote"],
            "text": o["text"],
        }));
    }
    Ok(out.into_iter().map(|(k, v)| (k, Value::Array(v))).collect())
}

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("golden/agents")
}

/// What agent `role` did, against `tests/golden/agents/ROLE.json`.
fn check_work(role: &str, actual: &Value) -> Result<()> {
    check_golden(&golden_dir().join(format!("{role}.json")), &format!("{}\n", serde_json::to_string_pretty(actual)?))
}

/// Counts of suggestions and objections per agent role.
fn counts(work: &BTreeMap<String, Value>) -> BTreeMap<String, usize> {
    work.iter().map(|(k, v)| (k.clone(), v.as_array().map_or(0, Vec::len))).collect()
}

/// Every change an agent made is a suggestion or an objection, and the
/// audit log holds no refusal of an agent.
async fn agents_stayed_in_their_lane(server: &TestServer) -> Result<()> {
    let agents: Vec<trustroom_shared::UserId> =
        server.seed.members.iter().filter(|m| m.role.starts_with("agent/")).map(|m| m.user).collect();
    for rev in server.stored_revisions().await? {
        if agents.contains(&rev.author) {
            ensure!(
                matches!(rev.change, Change::SuggestionProposed { .. } | Change::ObjectionRaised { .. }),
                "an agent made a {} change at rev {}",
                rev.change.kind_name(),
                rev.revision
            );
        }
    }
    let refusals: Vec<_> = server
        .audit_chain(&server.room())
        .await?
        .into_iter()
        .filter(|e| e.kind == "refused" && agents.iter().any(|a| e.actor == a.to_string()))
        .collect();
    ensure!(refusals.is_empty(), "agents were refused: {refusals:?}");
    Ok(())
}

#[tokio::test]
async fn agents_on_the_demo_sources_match_the_golden_files_and_never_duplicate() -> Result<()> {
    let (server, dir, sources) = setup().await?;
    run_all(&server, dir.path(), &sources).await?;
    let first = agent_work(&room_state(&server).await?)?;
    for role in ["chronology", "objection-normaliser", "trace-keeper"] {
        check_work(role, first.get(role).with_context(|| format!("the {role} agent did nothing"))?)?;
    }

    // Twice: nothing new.
    run_all(&server, dir.path(), &sources).await?;
    let second = agent_work(&room_state(&server).await?)?;
    assert_eq!(counts(&second), counts(&first), "a second run made duplicates");

    // A human accepts one chronology suggestion and rejects another; the
    // agent recognises both decisions and proposes nothing again.
    let (mut owner, snap) = server.joined("owner").await?;
    let chron = snap["state"]["members"]
        .as_object()
        .context("members")?
        .values()
        .find(|m| m["agent_role"] == "chronology")
        .and_then(|m| m["user"].as_str())
        .context("chronology agent")?
        .to_string();
    let mut mine: Vec<&Value> = snap["state"]["suggestions"]["suggestions"]
        .as_object()
        .context("suggestions")?
        .values()
        .filter(|s| s["proposer"] == chron.as_str() && s["status"] == "open")
        .collect();
    mine.sort_by_key(|s| s["number"].as_u64());
    ensure!(mine.len() >= 2, "expected at least two chronology suggestions");
    let room = server.room();
    owner.ok(json!({"type": "accept_suggestion", "room": room, "suggestion": mine[0]["id"]})).await?;
    owner
        .ok(json!({"type": "reject_suggestion", "room": room, "suggestion": mine[1]["id"],
            "reason": "SL-0089 is a tooling detail; the 09:17 entry already covers the cached context."}))
        .await?;
    run_all(&server, dir.path(), &sources).await?;
    let third = agent_work(&room_state(&server).await?)?;
    assert_eq!(counts(&third), counts(&first), "decided suggestions were proposed again");

    // The record the boundary rules flag (EN-0004 asks to email the
    // customers) was held back; once the agent has nothing else open on
    // the chronology it comes alone, flagged out-of-bounds.
    for s in &mine[2..] {
        owner.ok(json!({"type": "accept_suggestion", "room": room, "suggestion": s["id"]})).await?;
    }
    let out = run_agent(&server, dir.path(), "agent/chronology", "chronology", &sources).await?;
    assert!(out.contains("out of bounds"), "the agent reports the flag: {out}");
    let fourth = agent_work(&room_state(&server).await?)?;
    let chronology = fourth["chronology"].as_array().context("chronology work")?;
    let last = chronology.last().context("a new suggestion")?;
    assert_eq!(chronology.len(), first["chronology"].as_array().map_or(0, Vec::len) + 1, "exactly one new suggestion");
    assert_eq!(last["evidence"], json!(["EN-0004"]), "{last}");
    assert_eq!(last["flags"][0]["category"], "customer-communication", "{last}");
    assert_eq!(last["status"], "open");
    run_agent(&server, dir.path(), "agent/chronology", "chronology", &sources).await?;
    let fifth = agent_work(&room_state(&server).await?)?;
    assert_eq!(counts(&fifth), counts(&fourth), "the flagged suggestion was proposed twice");

    agents_stayed_in_their_lane(&server).await?;
    Ok(())
}

/// Starts `trustroom agent chronology` as the demo's chronology agent
/// against `url`, kept running and looking at its source files every
/// 0.1 s (killed when dropped).
fn start_chronology_agent(
    server: &TestServer,
    bin: &Path,
    home: &Path,
    url: &str,
    sources: &[PathBuf],
    stderr: Stdio,
) -> Result<tokio::process::Child> {
    let token = server.member("agent/chronology").token.clone();
    let room = server.room();
    let mut cmd = isolated_command(bin, home);
    cmd.args(["agent", "chronology", "--room", &room, "--url", url, "--poll", "0.1"])
        .env("TRUSTROOM_TOKEN", &token)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .kill_on_drop(true);
    for p in sources {
        cmd.arg("--source").arg(p);
    }
    cmd.spawn().context("starting the agent")
}

/// Whether `frame` is the event of a suggestion citing source record `id`.
fn proposed(frame: &Value, id: &str) -> bool {
    frame["type"] == "event"
        && frame["rev"]["change"]["kind"] == "suggestion_proposed"
        && frame["rev"]["change"]["suggestion"]["evidence"].as_array().is_some_and(|e| e.iter().any(|x| x == id))
}

/// Appends one JSON-lines record to a source file.
fn append_record(file: &Path, record: &str) -> Result<()> {
    let mut text = std::fs::read_to_string(file)?;
    text.push_str(record);
    text.push('\n');
    Ok(std::fs::write(file, text)?)
}

#[tokio::test]
async fn a_running_chronology_agent_follows_its_source_file() -> Result<()> {
    // Build (if needed) before any connection is open: a blocking build
    // would leave the connection's pings unanswered.
    let bin = client_bin()?;
    let (server, dir, sources) = setup().await?;
    let (mut owner, _) = server.joined("owner").await?;
    let mut child = start_chronology_agent(&server, &bin, dir.path(), &server.url, &sources, Stdio::null())?;
    owner.wait_for(|v| proposed(v, "TL-0413"), T).await.context("the running agent proposed nothing")?;

    // A new record appears in the session log: the agent proposes it.
    append_record(
        &sources[1],
        r#"{"id":"SL-0110","time":"2026-11-17T09:31:00Z","actor":"session tooling","kind":"session-audit","text":"Session tooling writes the S-19 access summary to the case."}"#,
    )?;
    let event = owner.wait_for(|v| proposed(v, "SL-0110"), T).await.context("the agent did not follow the file")?;
    let s = &event["rev"]["change"]["suggestion"];
    assert_eq!(s["evidence"], json!(["SL-0110"]), "only the new record: {s}");

    child.start_kill()?;
    let _ = tokio::time::timeout(T, child.wait()).await;
    agents_stayed_in_their_lane(&server).await?;
    Ok(())
}

/// A TCP relay in front of the server whose live connections can be cut.
struct Relay {
    url: String,
    conns: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Relay {
    async fn start(to: std::net::SocketAddr) -> Result<Relay> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("ws://{}", listener.local_addr()?);
        let conns: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>> = Default::default();
        let held = conns.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(to).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                if let Ok(mut list) = held.lock() {
                    list.push(task);
                }
            }
        });
        Ok(Relay { url, conns, accept })
    }

    /// Drops every live connection (both sockets close without a goodbye).
    fn cut(&self) -> usize {
        let Ok(mut list) = self.conns.lock() else { return 0 };
        let n = list.len();
        for t in list.drain(..) {
            t.abort();
        }
        n
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

#[tokio::test]
async fn a_running_agent_reconnects_after_the_connection_drops_and_makes_no_duplicates() -> Result<()> {
    let bin = client_bin()?;
    let (server, dir, sources) = setup().await?;
    let relay = Relay::start(server.addr).await?;
    let (mut owner, _) = server.joined("owner").await?;
    let mut child = start_chronology_agent(&server, &bin, dir.path(), &relay.url, &sources, Stdio::piped())?;
    // The last of its first five suggestions (the gap after 10:05).
    owner.wait_for(|v| proposed(v, "EN-0001"), T).await.context("the agent proposed nothing")?;
    let before = agent_work(&room_state(&server).await?)?;
    assert_eq!(counts(&before)["chronology"], 5, "{before:?}");

    // Cut the agent's connection; while it is away a record is added.
    ensure!(relay.cut() >= 1, "the agent had no connection through the relay");
    append_record(
        &sources[0],
        r#"{"id":"TL-0433","time":"2026-11-17T10:20:00Z","actor":"lena.fischer","kind":"case-update","text":"Support trust asks for the session replay to be held under legal hold."}"#,
    )?;
    owner.wait_for(|v| proposed(v, "TL-0433"), T * 2).await.context("the agent did not come back")?;
    let after = agent_work(&room_state(&server).await?)?;
    assert_eq!(
        counts(&after)["chronology"],
        counts(&before)["chronology"] + 1,
        "after reconnecting, only the new record is proposed"
    );
    child.start_kill()?;
    let out = tokio::time::timeout(T, child.wait_with_output()).await??;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("reconnecting in"), "the agent says it reconnects: {stderr}");
    agents_stayed_in_their_lane(&server).await?;
    Ok(())
}

#[tokio::test]
async fn an_agent_refuses_to_run_with_someone_elses_token() -> Result<()> {
    let server = TestServer::start().await?;
    let dir = tempfile::tempdir()?;
    let room = server.room();
    for who in ["owner", "reviewer/privacy", "agent/trace-keeper"] {
        let token = server.member(who).token.clone();
        let run = run_process(
            &client_bin()?,
            &["agent", "chronology", "--once", "--room", &room, "--url", &server.url],
            dir.path(),
            &[("TRUSTROOM_TOKEN", token.as_str())],
        )
        .await?;
        assert!(!run.success(), "{who} ran as the chronology agent");
        assert!(run.stderr.contains("not the chronology agent"), "{who}: {}", run.stderr);
    }
    Ok(())
}
