//! `trustroom agent ROLE --room ROOM`: a headless, rule-based agent.
//!
//! Three roles (docs/agents.md): `chronology` keeps the chronology section
//! in step with the source records as suggestions; `objection-normaliser`
//! proposes merging duplicate objections and setting missing kinds and
//! anchors; `trace-keeper` raises evidence-sufficiency objections about
//! unsupported statements and dangling evidence references.
//!
//! - `sources`: reading the JSON-lines source files
//! - `chronology`, `normaliser`, `trace_keeper`: each role's rules (pure)
//! - `plan`: what the agent does next, from the room state (pure)
//! - `wire`: an action as a protocol request
//! - `runtime`: the connection, reacting to changes, reconnecting

pub mod chronology;
#[cfg(test)]
mod fixtures;
pub mod normaliser;
pub mod plan;
pub mod runtime;
pub mod sources;
pub mod trace_keeper;
pub mod wire;

use std::path::PathBuf;
use std::time::Duration;

use clap::ValueEnum;
use trustroom_shared::role::AgentRole;

use crate::config::ConnectSettings;

/// What an agent runs with, resolved from flags, environment and config
/// file by the command line.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where to connect and as whom.
    pub connect: ConnectSettings,
    /// Longest wait for each answer.
    pub timeout: Duration,
    /// One JSON object per line instead of text.
    pub json: bool,
    /// Time between checks of the source files (`--poll`).
    pub poll: Duration,
}

/// The agent roles, as the command line names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    Chronology,
    ObjectionNormaliser,
    TraceKeeper,
}

impl From<RoleArg> for AgentRole {
    fn from(r: RoleArg) -> Self {
        match r {
            RoleArg::Chronology => AgentRole::Chronology,
            RoleArg::ObjectionNormaliser => AgentRole::ObjectionNormaliser,
            RoleArg::TraceKeeper => AgentRole::TraceKeeper,
        }
    }
}

/// Arguments of `trustroom agent`.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = "Runs with an agent member's token (--token or TRUSTROOM_TOKEN) whose agent role is \
    ROLE, stays connected and reacts to every change; reconnects with backoff when the connection drops. \
    Agents only suggest and object: a human accepts or rejects. Each line printed is one thing the agent did. \
    See docs/agents.md.")]
pub struct AgentArgs {
    /// chronology, objection-normaliser or trace-keeper
    #[arg(value_enum)]
    pub role: RoleArg,
    /// Room id or exact title
    #[arg(long)]
    pub room: String,
    /// A source file of JSON lines (id, time, actor, kind, text); repeatable.
    /// Re-read when it changes.
    #[arg(long = "source", value_name = "FILE.jsonl")]
    pub sources: Vec<PathBuf>,
    /// The section the chronology agent keeps (id or exact title; default:
    /// the first section titled "Chronology…")
    #[arg(long, value_name = "SECTION")]
    pub section: Option<String>,
    /// Act once on the room as it is, wait for the answers and exit
    #[arg(long)]
    pub once: bool,
    /// Seconds between checks of the source files for changes
    #[arg(long, value_name = "SECS", default_value_t = 1.0)]
    pub poll: f64,
}

pub use runtime::run;
