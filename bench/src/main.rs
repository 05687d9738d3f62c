//! `trustroom-bench`: Trustroom's load generator (see README § Performance).
//!
//! - default mode, fan-out: N websocket clients over R rooms on a real
//!   server (a child process, real SQLite file, every op durable before
//!   ack), open loop, latency intended send → receipt at every other
//!   client, then SIGKILL and a read-back that no acknowledged op is lost;
//! - `--cold-open N`: open a room with N revisions of history in a fresh
//!   server process, time join → snapshot, and its memory;
//! - `--idle N`: server memory per idle (joined) connection;
//! - `stall --cold-rooms N`: latency of requests to warm rooms while N
//!   cold rooms open at once (stall.rs).
//!
//! The server is pinned to `--server-cpus` and this generator to
//! `--gen-cpus` with taskset when available. Prints JSON on stdout
//! (and to `--out`), progress on stderr.

mod cold;
mod fanout;
mod history;
mod idle;
mod server;
mod stall;
mod wire;

use clap::{Parser, Subcommand};

#[derive(Subcommand, Debug, Clone)]
enum Mode {
    /// Requests to warm rooms while many cold rooms open at once.
    Stall(stall::Stall),
}

#[derive(Parser, Debug, Clone)]
#[command(about = "Trustroom fan-out benchmark (open loop, durable acks)")]
struct Args {
    #[command(subcommand)]
    mode: Option<Mode>,
    /// Clients in total (spread over the rooms round-robin).
    #[arg(long, default_value_t = 20)]
    clients: usize,
    /// Operations per second per client.
    #[arg(long, default_value_t = 10.0)]
    rate: f64,
    /// Measured seconds (after warm-up).
    #[arg(long, default_value_t = 20)]
    secs: u64,
    /// Warm-up seconds (not measured).
    #[arg(long, default_value_t = 2)]
    warmup: u64,
    /// Seconds the clients keep reading after the last op is sent.
    #[arg(long, default_value_t = 3)]
    drain: u64,
    /// Rooms; clients are spread over them round-robin.
    #[arg(long, default_value_t = 1)]
    rooms: usize,
    /// Seconds per sample window (RSS, fds, latency percentiles).
    #[arg(long, default_value_t = 10)]
    sample_secs: u64,
    /// Revisions each room keeps in memory (the server's `history_window`).
    #[arg(long)]
    history_window: Option<usize>,
    /// Database URL for the server child (e.g. `postgres://postgres@127.0.0.1:5432/bench`,
    /// an EMPTY database: the child seeds demo users and rooms). Default: a fresh SQLite file.
    #[arg(long)]
    db: Option<String>,
    /// Cold-open mode: write a room with this many revisions, then time a
    /// fresh server's first join → snapshot and the room's memory.
    #[arg(long, value_name = "REVISIONS")]
    cold_open: Option<u64>,
    /// Cold-open mode: how many fresh server processes open the room.
    #[arg(long, default_value_t = 3)]
    opens: usize,
    /// Idle mode: open this many joined, idle connections and report the
    /// server's memory per connection.
    #[arg(long, value_name = "CONNECTIONS")]
    idle: Option<usize>,
    /// CPUs for the server (taskset list); "none" disables pinning.
    #[arg(long, default_value = "0", global = true)]
    server_cpus: String,
    /// CPUs for this generator (taskset list); "none" disables pinning.
    #[arg(long, default_value = "1", global = true)]
    gen_cpus: String,
    /// Tokio worker threads of the generator.
    #[arg(long, default_value_t = 1)]
    gen_threads: usize,
    /// Also write the JSON report to this file.
    #[arg(long, global = true)]
    out: Option<std::path::PathBuf>,
    /// Internal: run as the server child process with this database path.
    #[arg(long, hide = true)]
    serve_child: Option<String>,
    /// Internal: the server child serves the database as it is.
    #[arg(long, hide = true)]
    no_seed: bool,
}

fn cpus(list: &str) -> Option<String> {
    (list != "none" && !list.is_empty()).then(|| list.to_string())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(db) = &args.serve_child {
        let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
        return rt.block_on(server::serve_child(db, args.rooms, !args.no_seed, args.history_window));
    }
    // Pin this process before the runtime starts its threads (they inherit).
    let gen_cpus = cpus(&args.gen_cpus);
    if let Some(list) = &gen_cpus
        && server::taskset_available()
    {
        let _ = std::process::Command::new("taskset")
            .args(["-p", "-c", list, &std::process::id().to_string()])
            .stdout(std::process::Stdio::null())
            .status();
    }
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(args.gen_threads.max(1)).enable_all().build()?;
    let report = rt.block_on(async {
        let server_cpus = cpus(&args.server_cpus);
        if let Some(Mode::Stall(stall)) = &args.mode {
            stall::run(stall, server_cpus.as_deref()).await
        } else if let Some(revisions) = args.cold_open {
            cold::run(revisions, args.opens, server_cpus.as_deref()).await
        } else if let Some(n) = args.idle {
            idle::run(n, server_cpus.as_deref()).await
        } else {
            let load = fanout::Load {
                clients: args.clients,
                rooms: args.rooms.max(1),
                rate: args.rate,
                secs: args.secs,
                warmup: args.warmup,
                drain: args.drain,
                sample_secs: args.sample_secs,
                history_window: args.history_window,
                db: args.db.clone(),
                server_cpus,
                gen_cpus: gen_cpus.clone(),
            };
            fanout::run(&load).await
        }
    })?;
    let text = serde_json::to_string_pretty(&report)?;
    println!("{text}");
    if let Some(path) = &args.out {
        std::fs::write(path, format!("{text}\n"))?;
    }
    Ok(())
}
