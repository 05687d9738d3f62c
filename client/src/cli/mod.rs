//! The scriptable command line: parse, resolve settings, dispatch.
//!
//! - `args`: the commands and their help (clap derive)
//! - `commands`: what each command does, each on one connection of the
//!   session layer ([`crate::session::Session`]: timeouts, `seq`, join),
//!   naming rooms, sections, objections and annexes through
//!   [`crate::resolve`]
//! - `input`: text from arguments, files and stdin
//! - `output`: what gets printed
//! - `exit`: error messages and exit codes

pub mod access;
pub mod args;
pub mod commands;
pub mod exit;
pub mod input;
pub mod output;
pub mod source;
pub mod suggest;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use args::{AnnexCommand, Cli, Command, ConfigCommand, LaneCommand, ObjectionCommand, ReleaseAction, SectionCommand};
use commands::{Ctx, Decision};
use exit::UsageError;

use crate::config::{self, Layer, Layered};

/// The global options that decide where to connect and as whom.
struct Globals {
    url: Option<String>,
    token: Option<String>,
    config: Option<PathBuf>,
    profile: Option<String>,
    ca_file: Option<String>,
}

fn env_var(key: &str) -> Option<String> {
    std::env::var(key).ok()
}

/// Layers flags, environment and config file; also returns the config path shown in messages.
fn layered(g: &Globals) -> anyhow::Result<(Layered, String)> {
    let choice = config::choose_file(g.config.as_deref(), env_var);
    let path = choice.path.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "(no config directory)".into());
    let file = config::load(&choice)?;
    let profile_name = g.profile.clone().or_else(|| env_var(config::ENV_PROFILE)).filter(|p| !p.trim().is_empty());
    let profile = match &profile_name {
        Some(name) => Some(config::profile(file.as_ref(), name, &path)?),
        None => None,
    };
    let flags = Layer { url: g.url.clone(), token: g.token.clone(), ca_file: g.ca_file.clone() };
    let env = Layer::from_env(env_var);
    Ok((config::layer(&flags, &env, file.as_ref(), profile), path))
}

/// What `trustroom demo` answers in a build without the `demo` feature.
#[cfg(not(feature = "demo"))]
const NO_DEMO: &str = "this build of trustroom has no demo: it was built without the `demo` cargo feature \
    (`cargo build -p trustroom` includes it; `--no-default-features` leaves it out with the server crate); \
    start a server with `trustroom-server serve` and connect to it instead";

/// A flag's positive number of seconds (`flag` names it in the message).
fn seconds(flag: &str, secs: f64) -> anyhow::Result<Duration> {
    match Duration::try_from_secs_f64(secs) {
        Ok(d) if !d.is_zero() => Ok(d),
        _ => Err(UsageError(format!("{flag} must be a positive number of seconds, not {secs}")).into()),
    }
}

/// Whether the command writes logs to stderr when asked (the TUI and demo log elsewhere).
pub fn logs_to_stderr(command: &Command) -> bool {
    !matches!(command, Command::Connect { .. } | Command::Demo(_))
}

/// Runs one parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let Cli { url, token, config, profile, ca_file, timeout: secs, json, verbose: _, command } = cli;
    let globals = Globals { url, token, config, profile, ca_file };
    let ctx = || -> anyhow::Result<Ctx> {
        let (layered, path) = layered(&globals)?;
        Ok(Ctx { settings: layered.require(&path)?, timeout: seconds("--timeout", secs)?, json })
    };
    match command {
        Command::Config(c) => config_command(&globals, c),
        #[cfg(feature = "demo")]
        Command::Demo(args) => crate::demo::run(args).await,
        #[cfg(not(feature = "demo"))]
        Command::Demo(_) => Err(UsageError(NO_DEMO.into()).into()),
        Command::Agent(args) => {
            let Ctx { settings, timeout, json } = ctx()?;
            let poll = seconds("--poll", args.poll)?;
            crate::agent::run(crate::agent::Settings { connect: settings, timeout, json, poll }, args).await
        }
        Command::Connect { room } => {
            let settings = ctx()?.settings;
            if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
                return Err(UsageError(
                    "`trustroom connect` opens the terminal UI and needs an interactive terminal; \
                     scripts can use `show`, `watch` and the other commands"
                        .into(),
                )
                .into());
            }
            crate::tui::run(crate::tui::TuiOptions {
                url: settings.url,
                token: settings.token,
                trust: crate::session::Trust::with_ca_file(settings.ca_file),
                room,
                help_extra: vec![],
                serves_demo: false,
            })
            .await
        }
        Command::Rooms => commands::rooms(&ctx()?).await,
        Command::Show { room } => commands::show(&ctx()?, &room).await,
        Command::Readiness { room } => commands::readiness(&ctx()?, &room).await,
        Command::Section(SectionCommand::Add { room, title, file, after }) => {
            commands::section_add(&ctx()?, &room, &title, file.as_deref(), after.as_deref()).await
        }
        Command::Section(SectionCommand::Set { room, section, file }) => {
            commands::section_set(&ctx()?, &room, &section, &file).await
        }
        Command::Section(SectionCommand::Append { room, section, text, paragraph }) => {
            commands::section_append(&ctx()?, &room, &section, &text, paragraph).await
        }
        Command::Object(args) => commands::object(&ctx()?, &args).await,
        Command::Reply { room, objection, text } => commands::reply(&ctx()?, &room, &objection, &text).await,
        Command::Objection(ObjectionCommand::Status { room, objection, status, rationale }) => {
            commands::objection_status(&ctx()?, &room, &objection, status, rationale.as_deref()).await
        }
        Command::Annex(AnnexCommand::View { room, annex }) => commands::annex_view(&ctx()?, &room, &annex).await,
        Command::Lane(LaneCommand::Releases { room }) => commands::lane_releases(&ctx()?, &room).await,
        Command::Lane(LaneCommand::Fetch { room, manifest, out, format }) => {
            commands::lane_fetch(&ctx()?, &room, &manifest, format, out.as_deref()).await
        }
        Command::Lane(LaneCommand::Intake { room, manifest, accept: _, return_reason }) => {
            commands::lane_intake(&ctx()?, &room, &manifest, return_reason.as_deref()).await
        }
        Command::Lane(LaneCommand::Finding { room, manifest, kind, text }) => {
            commands::lane_finding(&ctx()?, &room, &manifest, kind, &text).await
        }
        Command::Hold { room, reason } => commands::decide(&ctx()?, &room, Decision::Hold(reason)).await,
        Command::ClearHold { room, hold, rationale } => commands::clear_hold(&ctx()?, &room, &hold, &rationale).await,
        Command::Holds { room } => commands::holds(&ctx()?, &room).await,
        Command::Ready { room } => commands::decide(&ctx()?, &room, Decision::Ready).await,
        Command::Release { action: Some(ReleaseAction::Status { room, out }), .. } => {
            commands::release_status(&ctx()?, &room, out.as_deref()).await
        }
        Command::Release { action: Some(ReleaseAction::Withdraw { room, manifest, reason }), .. } => {
            commands::withdraw_release(&ctx()?, &room, &manifest, &reason).await
        }
        Command::Release { action: None, room: Some(room), lane: Some(lane), audience, packet_revision } => {
            commands::decide(&ctx()?, &room, Decision::Release(lane.into(), audience.into(), packet_revision)).await
        }
        Command::Release { .. } => {
            Err(UsageError("`release` needs ROOM and --lane (or `release status|withdraw`)".into()).into())
        }
        Command::Escalate { room, reason } => commands::decide(&ctx()?, &room, Decision::Escalate(reason)).await,
        Command::Watch { room, since } => commands::watch(&ctx()?, &room, since).await,
        Command::Policy { room, require_member, require_discipline, clear } => {
            commands::policy(&ctx()?, &room, &require_member, &require_discipline, clear).await
        }
        Command::Cosign { room, lane, audience, hash } => {
            commands::cosign(&ctx()?, &room, lane.into(), audience.into(), hash.as_deref()).await
        }
        Command::Export { room, revision, format, out } => {
            commands::export(&ctx()?, &room, revision, format, out.as_deref()).await
        }
        Command::Manifests { room } => commands::manifests(&ctx()?, &room).await,
        Command::Suggest(args) => suggest::suggest(&ctx()?, &args).await,
        Command::Suggestions(args) => suggest::suggestions(&ctx()?, &args).await,
        Command::Accept(args) => suggest::accept(&ctx()?, &args).await,
        Command::Reject(args) => suggest::reject(&ctx()?, &args).await,
        Command::Stats(args) => suggest::stats(&ctx()?, &args).await,
        Command::Access(c) => access::access(&ctx()?, c).await,
        Command::BreakGlass(args) => access::break_glass(&ctx()?, args).await,
        Command::Promote(args) => access::promote(&ctx()?, args).await,
        Command::Promotion(c) => access::promotion(&ctx()?, c).await,
        Command::Check(c) => access::check(&ctx()?, c).await,
        Command::Source(c) => source::source(&ctx()?, c).await,
    }
}

fn config_command(globals: &Globals, command: ConfigCommand) -> anyhow::Result<()> {
    match command {
        ConfigCommand::Example => output::emit(config::EXAMPLE)?,
        ConfigCommand::Path => {
            let choice = config::choose_file(globals.config.as_deref(), env_var);
            let Some(path) = choice.path else {
                return Err(UsageError("no config directory on this system (no home directory?)".into()).into());
            };
            output::emit(&path.display().to_string())?;
            if !path.exists() {
                eprintln!("(the file does not exist yet; `trustroom config example > FILE` writes a starting point)");
            }
        }
        ConfigCommand::Show => {
            let (layered, path) = layered(globals)?;
            let mut out = format!("config file: {path}\n");
            match &layered.url {
                Some((url, source)) => out.push_str(&format!("url:   {url}  (from {source})\n")),
                None => out.push_str("url:   not set\n"),
            }
            match &layered.token {
                Some((token, source)) => out.push_str(&format!("token: {}  (from {source})\n", config::mask(token))),
                None => out.push_str("token: not set\n"),
            }
            match &layered.ca_file {
                Some((file, source)) => out.push_str(&format!("ca_file: {file}  (from {source})\n")),
                None => out.push_str("ca_file: not set (wss:// trusts the web roots)\n"),
            }
            output::emit(&out)?;
        }
    }
    Ok(())
}
