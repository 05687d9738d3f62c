//! The agent's connection loop: join, plan, send, react.
//!
//! One task, one `select!` over pushed frames (events kept in the session
//! layer's [`Replica`], so the agent sees exactly what the server has),
//! a debounce timer (a burst of changes is planned once), a poll of the
//! source files' modification times, and Ctrl-C. A lost connection is
//! retried with the session layer's backoff ([`crate::session::backoff`]);
//! each reconnect starts from a fresh snapshot, so nothing is missed.
//!
//! Idempotence comes from [`plan`](super::plan::plan): it recognises the
//! agent's own work in the room. Between sending a request and seeing its
//! event, the action's key is remembered so it is not sent twice.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use anyhow::{Context, bail};
use serde_json::json;
use tokio::time::Instant;
use trustroom_shared::protocol::{ErrorCode, ServerFrame, SuggestAck};
use trustroom_shared::role::{AgentRole, Role};
use trustroom_shared::{RoomId, UserId};

use super::plan::{Action, PlanOptions, plan};
use super::sources::Sources;
use super::wire;
use super::{AgentArgs, Settings};
use crate::resolve;
use crate::session::backoff::Backoff;
use crate::session::replica::{Fit, Replica};
use crate::session::{ConnectError, LocalError, RequestError, Session};

/// Quiet time after a change before planning (coalesces bursts).
const DEBOUNCE: Duration = Duration::from_millis(250);

/// Why the agent stopped for good (no point reconnecting).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Fatal(String);

/// Modification time and length of each source file.
type Stamps = Vec<Option<(SystemTime, u64)>>;

fn stamps(paths: &[PathBuf]) -> Stamps {
    paths.iter().map(|p| std::fs::metadata(p).ok().and_then(|m| m.modified().ok().map(|t| (t, m.len())))).collect()
}

/// The agent's memory across reconnects.
struct Agent {
    role: AgentRole,
    args: AgentArgs,
    settings: Settings,
    opts: PlanOptions,
    sources: Sources,
    stamps: Stamps,
    /// Keys of actions sent, with the revision from which the room shows them
    /// (`u64::MAX` while unanswered).
    sent: HashMap<String, u64>,
    /// Number of actions that failed in this run.
    failures: usize,
}

/// Runs the agent until Ctrl-C (or after one pass with `--once`).
pub async fn run(settings: Settings, args: AgentArgs) -> anyhow::Result<()> {
    let role: AgentRole = args.role.into();
    let sources = Sources::load(&args.sources).context("reading the source files")?;
    let mut agent = Agent {
        role,
        opts: PlanOptions { chronology_section: args.section.clone() },
        stamps: stamps(&args.sources),
        sources,
        args,
        settings,
        sent: HashMap::new(),
        failures: 0,
    };
    if role != AgentRole::ObjectionNormaliser && agent.sources.is_empty() {
        eprintln!("{role}: no source records (--source FILE.jsonl); working from the room alone");
    }
    let mut backoff = Backoff::default();
    loop {
        let started = Instant::now();
        let result = tokio::select! {
            r = agent.session() => r,
            _ = stop_signal() => return Ok(()),
        };
        match result {
            Ok(()) => {
                return if agent.failures > 0 && agent.args.once {
                    Err(anyhow::anyhow!("{} action(s) refused", agent.failures))
                } else {
                    Ok(())
                };
            }
            Err(e) if e.downcast_ref::<Fatal>().is_some() || agent.args.once || !retryable(&e) => return Err(e),
            Err(e) => {
                // A session that lasted counts as a success: start the waits again.
                if started.elapsed() > crate::session::backoff::MAX {
                    backoff.reset();
                }
                let wait = backoff.next_delay();
                eprintln!("{role}: connection lost ({e:#}); reconnecting in {:.1}s", wait.as_secs_f32());
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop_signal() => return Ok(()),
                }
            }
        }
    }
}

/// Whether an error is worth reconnecting for (not a refusal of who we are).
fn retryable(e: &anyhow::Error) -> bool {
    let code = e.chain().find_map(|c| {
        c.downcast_ref::<RequestError>()
            .and_then(RequestError::code)
            .or_else(|| c.downcast_ref::<LocalError>().map(|l| l.code))
            .or_else(|| match c.downcast_ref::<ConnectError>() {
                Some(ConnectError::Refused { code, .. }) => Some(*code),
                _ => None,
            })
    });
    let untrusted = e.chain().any(|c| {
        matches!(c.downcast_ref::<ConnectError>(), Some(ConnectError::Untrusted { .. } | ConnectError::Trust(_)))
    });
    !untrusted
        && !matches!(
            code,
            Some(
                ErrorCode::Unauthenticated | ErrorCode::UnsupportedVersion | ErrorCode::NotFound | ErrorCode::Forbidden
            )
        )
}

async fn stop_signal() {
    #[cfg(unix)]
    {
        if let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

impl Agent {
    /// One connection: join, act, react until the connection ends.
    async fn session(&mut self) -> anyhow::Result<()> {
        let connect = &self.settings.connect;
        let mut session = Session::open(&connect.url, &connect.token, connect.trust(), self.settings.timeout).await?;
        let room = resolve::room_id(&mut session, &self.args.room).await?;
        let snapshot = session.join(room).await?;
        let me = snapshot.me.user;
        match snapshot.me.role {
            Role::Agent { agent_role } if agent_role == self.role => {}
            other => {
                return Err(Fatal(format!(
                    "this token is {} ({}) in the room, not the {} agent; run each agent with its own agent member's token",
                    snapshot.me.name,
                    other.label(),
                    self.role
                ))
                .into());
            }
        }
        tracing::info!(role = %self.role, room = %room, "joined as {}", snapshot.me.name);
        let mut replica = Replica::from_snapshot(snapshot.state);
        self.sent.clear();
        let joined_on = session.reconnects();
        self.act(&mut session, room, me, &replica).await?;
        if self.args.once {
            return Ok(());
        }
        let mut ticker = tokio::time::interval(self.settings.poll);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut due: Option<Instant> = None;
        loop {
            let debounce = async {
                match due {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                frame = session.pushed.recv() => {
                    let Some(frame) = frame else { bail!("the server closed the connection") };
                    if self.on_frame(room, &mut replica, frame)? {
                        due = Some(Instant::now() + DEBOUNCE);
                    }
                }
                _ = debounce => {
                    due = None;
                    self.act(&mut session, room, me, &replica).await?;
                }
                _ = ticker.tick() => {
                    if self.reload_sources_if_changed() {
                        due = Some(Instant::now());
                    }
                }
            }
            if session.reconnects() != joined_on {
                // A request moved to another node: this connection never
                // joined the room, so start again from a fresh snapshot.
                bail!("the connection moved to another server node");
            }
        }
    }

    /// Applies a pushed frame; true when the room changed.
    /// A gap or an event that does not apply ends the session: the
    /// reconnect starts from a fresh snapshot.
    fn on_frame(&mut self, room: RoomId, replica: &mut Replica, frame: ServerFrame) -> anyhow::Result<bool> {
        match frame {
            ServerFrame::Event { room: r, rev } if r == room => {
                if matches!(replica.fit(&rev), Fit::Known) {
                    return Ok(false);
                }
                replica.apply(&rev).with_context(|| format!("applying revision {} (resyncing)", rev.revision))?;
                Ok(true)
            }
            ServerFrame::Snapshot { room: r, snapshot } if r == room => {
                replica.replace(snapshot.state);
                Ok(true)
            }
            ServerFrame::Closing { code, reason } => bail!("the server is closing the connection ({code}): {reason}"),
            _ => Ok(false),
        }
    }

    /// Re-reads the source files when one changed; true when they did.
    fn reload_sources_if_changed(&mut self) -> bool {
        let now = stamps(&self.args.sources);
        if now == self.stamps {
            return false;
        }
        self.stamps = now;
        match Sources::load(&self.args.sources) {
            Ok(s) => {
                let changed = s != self.sources;
                if changed {
                    eprintln!("{}: source files changed: {} records", self.role, s.records.len());
                    self.sources = s;
                }
                changed
            }
            Err(e) => {
                eprintln!("{}: keeping the previous source records: {e}", self.role);
                false
            }
        }
    }

    /// Plans on the current state and sends what is new, one request at a time.
    async fn act(&mut self, session: &mut Session, room: RoomId, me: UserId, replica: &Replica) -> anyhow::Result<()> {
        let Some(state) = replica.state.as_ref() else { return Ok(()) };
        let revision = state.revision;
        self.sent.retain(|_, shown_at| *shown_at > revision);
        let actions = plan(self.role, state, me, &self.sources, &self.opts);
        for action in actions {
            let key = action.key();
            if self.sent.contains_key(&key) {
                continue;
            }
            let seq = session.seq().unwrap_or(0);
            let request = wire::request(room, &action, state.revision, seq);
            self.sent.insert(key.clone(), u64::MAX);
            match session.call(request).await {
                Ok(value) => {
                    // `suggest*` answers carry the suggestion's code and
                    // boundary flags; `object` a plain ack (same fields).
                    let ack: Option<SuggestAck> = serde_json::from_value(value).ok();
                    let rev = ack.as_ref().map_or(revision + 1, |a| a.revision);
                    self.sent.insert(key, rev);
                    self.report(&action, Ok(ack));
                }
                Err(e) => {
                    let refused = e.chain().find_map(|c| c.downcast_ref::<RequestError>()).and_then(RequestError::code);
                    let Some(code) = refused else { return Err(e) };
                    self.failures += 1;
                    // Try again after the room changes.
                    self.sent.insert(key, revision + 1);
                    self.report(&action, Err(format!("error[{code}]: {e:#}")));
                    if code == ErrorCode::Stale {
                        break;
                    }
                }
            }
        }
        Ok(())
    }

    /// One line per action on stdout (JSON with --json).
    fn report(&self, action: &Action, outcome: Result<Option<SuggestAck>, String>) {
        let (what, target) = describe(action);
        let line = if self.settings.json {
            let mut v = json!({"agent": self.role.to_string(), "action": what, "about": target});
            match &outcome {
                Ok(ack) => {
                    v["revision"] = json!(ack.as_ref().map(|a| a.revision));
                    v["created"] = json!(ack.as_ref().and_then(|a| a.created.clone()));
                    v["code"] = json!(ack.as_ref().and_then(|a| a.code.clone()));
                    v["flags"] = json!(ack.as_ref().map(|a| a.flags.clone()).unwrap_or_default());
                }
                Err(e) => v["error"] = json!(e),
            }
            v.to_string()
        } else {
            match &outcome {
                Ok(ack) => {
                    let code = ack.as_ref().and_then(|a| a.code.clone()).map(|c| format!("{c} ")).unwrap_or_default();
                    let flags: Vec<String> = ack
                        .iter()
                        .flat_map(|a| a.flags.iter())
                        .map(|f| format!(" [out of bounds: {} — \"{}\"]", f.category.label(), f.matched))
                        .collect();
                    format!(
                        "{}: {code}{what} {target} (rev {}){}",
                        self.role,
                        ack.as_ref().map_or_else(|| "?".into(), |a| a.revision.to_string()),
                        flags.concat()
                    )
                }
                Err(e) => format!("{}: {what} {target} refused: {e}", self.role),
            }
        };
        match outcome {
            Ok(_) => println!("{line}"),
            Err(_) => eprintln!("{line}"),
        }
    }
}

/// `(verb, what it is about)` for messages.
fn describe(action: &Action) -> (&'static str, String) {
    match action {
        Action::SuggestEdit { evidence, .. } => ("suggested", format!("chronology entries {}", evidence.join(", "))),
        Action::SuggestRegister { change, evidence, .. } => {
            ("suggested", format!("{} {}", change.action(), evidence.join(", ")))
        }
        Action::Object { quote, .. } => {
            ("objected", format!("evidence-sufficiency on \"{}\"", quote.as_deref().unwrap_or("")))
        }
    }
}
