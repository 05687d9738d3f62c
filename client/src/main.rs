//! `trustroom`: the Trustroom client. Scriptable commands (`cli`), the
//! terminal UI (`tui`, opened by `connect`), the headless agents (`agent`)
//! and the one-command demo, all on one session layer (`session`); the
//! names people type resolve to ids in `resolve` (the CLI and the agents).

mod agent;
mod cli;
mod config;
// `trustroom demo` runs a server in-process: only in builds with the
// `demo` feature (the default), which links the server crate.
#[cfg(feature = "demo")]
mod demo;
mod resolve;
mod session;
mod tui;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::args::Cli::parse();
    if cli::logs_to_stderr(&cli.command) {
        init_stderr_logging(cli.verbose);
    }
    // Before the runtime starts its threads: the local time zone's offset
    // can only be read safely while the process has one thread.
    tui::clock::init_local_offset();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return cli::exit::report(&anyhow::Error::new(e).context("cannot start the async runtime")),
    };
    let result = runtime.block_on(cli::run(cli));
    // Do not wait for the connection's I/O tasks: the command is done.
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => cli::exit::report(&e),
    }
}

/// Logs to stderr only when asked: `-v` (info), `-vv` (debug), `-vvv` (trace) or `RUST_LOG`.
fn init_stderr_logging(verbose: u8) {
    let filter = match (verbose, std::env::var("RUST_LOG")) {
        (0, Ok(spec)) if !spec.trim().is_empty() => spec,
        (0, _) => return,
        (1, _) => "trustroom=info,warn".into(),
        (2, _) => "trustroom=debug,info".into(),
        _ => "trace".into(),
    };
    let filter =
        tracing_subscriber::EnvFilter::try_new(&filter).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).try_init();
}
