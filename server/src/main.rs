//! `trustroom-server`: serve rooms and administer users, rooms, members,
//! annexes and the audit log.

mod manifest_verify;

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use trustroom_server::config::ServerConfig;
use trustroom_server::storage::{self, Store};
use trustroom_server::{admin, audit, demo, export, serve, signing};
use trustroom_shared::export::ExportFormat;
use trustroom_shared::release::Lane;
use trustroom_shared::role::{AgentRole, Discipline, Role};

#[derive(Parser)]
#[command(name = "trustroom-server", version, about = "Trustroom room server and administration")]
struct Cli {
    /// Database URL: an SQLite path or `sqlite://PATH` (default: trustroom.db in the platform data
    /// directory), or `postgres://USER@HOST:PORT/DB` for PostgreSQL (several nodes may share it).
    #[arg(long, global = true, env = "TRUSTROOM_DB")]
    db: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve rooms over websockets until SIGINT/SIGTERM (then drain and exit).
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:7447", env = "TRUSTROOM_LISTEN")]
        listen: SocketAddr,
        /// PEM certificate chain for TLS (wss); needs --tls-key.
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// PEM private key for TLS.
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Serve Prometheus metrics (`GET /metrics`, plain HTTP) on this address; off by default.
        #[arg(long, env = "TRUSTROOM_METRICS_LISTEN")]
        metrics_listen: Option<SocketAddr>,
        #[command(flatten)]
        limits: LimitArgs,
        /// Several nodes on one PostgreSQL database (docs/cluster.md).
        #[command(flatten)]
        cluster: trustroom_server::cluster::ClusterArgs,
    },
    /// Users and their tokens.
    User {
        #[command(subcommand)]
        command: UserCmd,
    },
    /// Rooms.
    Room {
        #[command(subcommand)]
        command: RoomCmd,
    },
    /// Room membership (takes effect in live rooms at once).
    Member {
        #[command(subcommand)]
        command: MemberCmd,
    },
    /// Restricted annexes.
    Annex {
        #[command(subcommand)]
        command: AnnexCmd,
    },
    /// The tamper-evident audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCmd,
    },
    /// The server's Ed25519 key that signs release manifests.
    Key {
        #[command(subcommand)]
        command: KeyCmd,
    },
    /// Export a room's bundle (packet, register, annex map, readiness, manifest); audited.
    #[command(
        after_help = "The same room state always gives the same bytes. Annex content is never         included; restricted detail is replaced by `[redacted: annex CODE · classification]` markers."
    )]
    Export {
        /// Room id or exact title.
        #[arg(long)]
        room: String,
        /// Room revision to export (default: the newest); rebuilt from storage.
        #[arg(long, value_name = "N")]
        revision: Option<u64>,
        /// json (verifiable) or markdown (for people).
        #[arg(long, default_value = "json", value_name = "json|markdown")]
        format: ExportFormat,
        /// Write to this file instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Release manifests: history and offline verification of exported bundles.
    Manifest {
        #[command(subcommand)]
        command: ManifestCmd,
    },
    /// Retention: purge annex content whose retention period ended (docs/access.md).
    Retention {
        #[command(subcommand)]
        command: trustroom_server::retention::RetentionCmd,
    },
    /// The break-glass list of a room (docs/access.md).
    BreakGlass {
        #[command(subcommand)]
        command: trustroom_server::retention::BreakGlassCmd,
    },
    /// Apply the database's migrations (SQLite or PostgreSQL) and exit without serving.
    Migrate,
    /// Serve with a freshly seeded demo room and write every member's token to a file.
    Demo {
        #[arg(long, default_value = "127.0.0.1:7447")]
        listen: SocketAddr,
        /// Where to write `{"room","url","members":[{"name","role","user","token"}]}`.
        #[arg(long)]
        tokens_out: PathBuf,
    },
}

/// Limits of `serve` (defaults: `ServerConfig::default()`); each refusal
/// has a stable error code (docs/protocol.md §2).
#[derive(clap::Args)]
struct LimitArgs {
    /// Largest accepted frame in bytes (`too_large`; 4× this closes the connection).
    #[arg(long, default_value_t = ServerConfig::default().max_frame_bytes)]
    max_frame_bytes: usize,
    /// Seconds allowed for the websocket upgrade and `hello` (`closing` `timeout`).
    #[arg(long, default_value_t = ServerConfig::default().handshake_timeout.as_secs())]
    handshake_timeout: u64,
    /// Longest section body, in characters (`too_large`).
    #[arg(long, default_value_t = ServerConfig::default().max_section_chars)]
    max_section_chars: usize,
    /// Most sections per room (`too_large`).
    #[arg(long, default_value_t = ServerConfig::default().max_sections)]
    max_sections: usize,
    /// Most objections per room (`too_large`).
    #[arg(long, default_value_t = ServerConfig::default().max_objections)]
    max_objections: usize,
    /// Open connections per user (`closing` `rate_limited`).
    #[arg(long, default_value_t = ServerConfig::default().max_connections_per_user)]
    max_connections_per_user: usize,
    /// Open connections per IP address (`closing` `rate_limited`).
    #[arg(long, default_value_t = ServerConfig::default().max_connections_per_ip)]
    max_connections_per_ip: usize,
    /// Sustained requests per second per connection (`error` `rate_limited`).
    #[arg(long, default_value_t = ServerConfig::default().requests_per_second)]
    requests_per_second: f64,
    /// Burst of requests per connection above the sustained rate.
    #[arg(long, default_value_t = ServerConfig::default().request_burst)]
    request_burst: u32,
    /// Seconds between websocket Pings the server sends.
    #[arg(long, default_value_t = ServerConfig::default().ping_interval.as_secs())]
    ping_interval: u64,
    /// Seconds without any frame or Pong before `closing` `timeout`.
    #[arg(long, default_value_t = ServerConfig::default().idle_timeout.as_secs())]
    idle_timeout: u64,
    /// Frames queued per connection before a client that does not read is disconnected.
    #[arg(long, default_value_t = ServerConfig::default().outbox_frames)]
    outbox_frames: usize,
    /// Kernel send buffer per connection in bytes (0: the kernel's auto-tuning).
    #[arg(long, default_value_t = ServerConfig::default().send_buffer_bytes)]
    send_buffer_bytes: usize,
    /// Revisions each open room keeps in memory to transform late edits and
    /// catch returning clients up (a client further behind gets a snapshot).
    #[arg(long, default_value_t = ServerConfig::default().history_window)]
    history_window: usize,
}

impl LimitArgs {
    fn config(&self) -> ServerConfig {
        use std::time::Duration;
        ServerConfig {
            max_frame_bytes: self.max_frame_bytes,
            hard_frame_bytes: self.max_frame_bytes.saturating_mul(4),
            handshake_timeout: Duration::from_secs(self.handshake_timeout),
            max_section_chars: self.max_section_chars,
            max_sections: self.max_sections,
            max_objections: self.max_objections,
            max_connections_per_user: self.max_connections_per_user.max(1),
            max_connections_per_ip: self.max_connections_per_ip.max(1),
            requests_per_second: self.requests_per_second,
            request_burst: self.request_burst.max(1),
            ping_interval: Duration::from_secs(self.ping_interval.max(1)),
            idle_timeout: Duration::from_secs(self.idle_timeout.max(1)),
            outbox_frames: self.outbox_frames.max(16),
            send_buffer_bytes: self.send_buffer_bytes,
            history_window: self.history_window.max(1),
            ..ServerConfig::default()
        }
    }
}

#[derive(Subcommand)]
enum UserCmd {
    /// Create a user; prints the token once (only its hash is stored).
    Add { name: String },
    /// List users.
    List,
    /// Revoke a user's token; their open connections are closed.
    Revoke { name: String },
}

#[derive(Subcommand)]
enum RoomCmd {
    /// Create a room owned by an existing user.
    Create {
        #[arg(long)]
        title: String,
        #[arg(long)]
        owner: String,
    },
    /// List rooms.
    List,
}

#[derive(Subcommand)]
enum MemberCmd {
    /// Add USER to ROOM (id or exact title) with a role.
    Add {
        room: String,
        user: String,
        /// owner | reviewer | agent | observer | downstream
        #[arg(long)]
        role: String,
        /// For reviewers: support-trust | privacy | legal | support-engineering
        #[arg(long)]
        discipline: Option<Discipline>,
        /// For agents: chronology | objection-normaliser | trace-keeper
        #[arg(long)]
        agent_role: Option<AgentRole>,
        /// For downstream members: privacy | product-security | account-governance (the one
        /// lane whose releases they read, take in and report findings on; they never join the room)
        #[arg(long)]
        lane: Option<Lane>,
    },
    /// Remove USER from ROOM; their connections to the room are cut off.
    Remove { room: String, user: String },
}

#[derive(Subcommand)]
enum AnnexCmd {
    /// Add an annex with its content from a file.
    Add {
        room: String,
        #[arg(long)]
        title: String,
        #[arg(long)]
        classification: String,
        #[arg(long)]
        file: PathBuf,
        /// An identifier or pattern that must never appear outside the annex (repeatable).
        #[arg(long = "sensitive")]
        sensitive: Vec<String>,
        /// A user on the need-to-know list (repeatable).
        #[arg(long = "allow")]
        allow: Vec<String>,
    },
}

#[derive(Subcommand)]
enum KeyCmd {
    /// Print the public key (hex); generates the key pair when the database has none yet.
    Show,
}

#[derive(Subcommand)]
enum ManifestCmd {
    /// Verify an exported JSON bundle: exit 0 only when it is exactly the released packet revision.
    #[command(
        after_help = "Recomputes the content hash and every digest from the bundle, checks the         Ed25519 signatures of the manifest and of the release event, and checks that the bytes are         the exporter's exact encoding. Without --public-key the key is read from the database."
    )]
    Verify {
        /// The exported JSON bundle (`-` reads stdin).
        bundle: PathBuf,
        /// The server's public key (hex), e.g. from `trustroom-server key show` on the server.
        #[arg(long, value_name = "HEX")]
        public_key: Option<String>,
        /// A signed release status document (`trustroom release status ROOM --out DIR`): also
        /// report whether the release is current, superseded or withdrawn (exit 0, 3, 4; 5 when the
        /// document does not verify or is of another release).
        #[arg(long, value_name = "STATUS.json")]
        status: Option<PathBuf>,
        /// Print the checks as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List a room's releases, oldest first.
    List {
        #[arg(long)]
        room: String,
    },
}

#[derive(Subcommand)]
enum AuditCmd {
    /// Verify a room's chain; names the first broken entry.
    Verify {
        #[arg(long)]
        room: String,
    },
    /// Print a room's chain as JSON lines.
    Export {
        #[arg(long)]
        room: String,
    },
    /// Print a signed checkpoint (size, Merkle root) of a room's log now.
    Checkpoint {
        #[arg(long)]
        room: String,
    },
    /// Prove that a room's log only grew since an old signed checkpoint (a release bundle's, or a
    /// `checkpoint` file); exits 1 when entries before it were altered, dropped or reordered.
    #[command(group(clap::ArgGroup::new("old").required(true).args(["bundle", "checkpoint"])))]
    ProveConsistency {
        #[arg(long)]
        room: String,
        /// A release bundle whose release event carries the old checkpoint.
        #[arg(long, value_name = "BUNDLE.json")]
        bundle: Option<PathBuf>,
        /// A checkpoint file (`audit checkpoint` output).
        #[arg(long, value_name = "CHECKPOINT.json")]
        checkpoint: Option<PathBuf>,
        /// Print the old and new checkpoints and the proof as JSON.
        #[arg(long)]
        json: bool,
    },
}

fn default_db() -> anyhow::Result<String> {
    let dirs = directories::ProjectDirs::from("dev", "trustroom", "trustroom")
        .ok_or_else(|| anyhow::anyhow!("no home directory; pass --db"))?;
    std::fs::create_dir_all(dirs.data_dir()).with_context(|| format!("creating {}", dirs.data_dir().display()))?;
    Ok(dirs.data_dir().join("trustroom.db").display().to_string())
}

fn parse_role(
    role: &str,
    discipline: Option<Discipline>,
    agent_role: Option<AgentRole>,
    lane: Option<Lane>,
) -> anyhow::Result<Role> {
    Ok(match role {
        "owner" => Role::Owner,
        "observer" => Role::Observer,
        "reviewer" => {
            Role::Reviewer { discipline: discipline.ok_or_else(|| anyhow::anyhow!("a reviewer needs --discipline"))? }
        }
        "agent" => {
            Role::Agent { agent_role: agent_role.ok_or_else(|| anyhow::anyhow!("an agent needs --agent-role"))? }
        }
        "downstream" => {
            Role::Downstream { lane: lane.ok_or_else(|| anyhow::anyhow!("a downstream member needs --lane"))? }
        }
        other => anyhow::bail!("unknown role {other:?} (owner, reviewer, agent, observer, downstream)"),
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

async fn open_store(db: &Option<String>) -> anyhow::Result<Store> {
    let url = match db {
        Some(u) => u.clone(),
        None => default_db()?,
    };
    storage::open(&url).await.with_context(|| format!("opening the database {url}"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "trustroom_server=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    // Offline verification with a given key needs no database.
    if let Command::Manifest { command: ManifestCmd::Verify { bundle, public_key: Some(key), status, json } } =
        &cli.command
    {
        return manifest_verify::verify(bundle, key, status.as_deref(), *json);
    }
    if let Command::Migrate = cli.command {
        let url = match &cli.db {
            Some(u) => u.clone(),
            None => default_db()?,
        };
        let applied = storage::migrate(&url).await.with_context(|| format!("migrating the database {url}"))?;
        let mut out = std::io::stdout().lock();
        for (version, description) in applied {
            writeln!(out, "applied {version:04} {description}")?;
        }
        return Ok(());
    }
    let store = open_store(&cli.db).await?;
    let mut out = std::io::stdout().lock();
    match cli.command {
        Command::Serve { listen, tls_cert, tls_key, metrics_listen, limits, cluster } => {
            drop(out);
            let mut config = limits.config();
            cluster.apply(&mut config)?;
            let key = signing::server_key(&store).await.context("reading or creating the signing key")?;
            tracing::info!(fingerprint = %key.fingerprint(), "manifest signing key ready (see `trustroom-server key show`)");
            let tls = match (tls_cert, tls_key) {
                (Some(c), Some(k)) => Some(serve::tls_acceptor(&c, &k)?),
                _ => None,
            };
            let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("binding {listen}"))?;
            let _metrics = match metrics_listen {
                Some(addr) => {
                    let l = tokio::net::TcpListener::bind(addr)
                        .await
                        .with_context(|| format!("binding {addr} for metrics"))?;
                    eprintln!("trustroom-server metrics on http://{}/metrics", l.local_addr()?);
                    Some(AbortOnDrop(tokio::spawn(trustroom_server::metrics::serve(l))))
                }
                None => None,
            };
            let scheme = if tls.is_some() { "wss" } else { "ws" };
            tracing::info!("serving on {scheme}://{}", listener.local_addr()?);
            eprintln!("trustroom-server listening on {scheme}://{}", listener.local_addr()?);
            serve::run_with_tls(listener, store, config, tls, shutdown_signal()).await?;
        }
        Command::User { command } => match command {
            UserCmd::Add { name } => {
                let (id, token) = admin::add_user(&store, &name).await?;
                writeln!(out, "user {name} ({id})\ntoken {token}\n(the token is shown once; only its hash is stored)")?;
            }
            UserCmd::List => {
                for u in store.list_users().await? {
                    let state = if u.revoked_ms.is_some() { "revoked" } else { "active" };
                    writeln!(out, "{}\t{}\t{state}", u.id, u.name)?;
                }
            }
            UserCmd::Revoke { name } => writeln!(out, "{}", admin::revoke_user(&store, &name).await?)?,
        },
        Command::Room { command } => match command {
            RoomCmd::Create { title, owner } => {
                let id = admin::create_room(&store, &title, &owner).await?;
                writeln!(out, "{id}")?;
            }
            RoomCmd::List => {
                for r in store.list_rooms().await? {
                    writeln!(out, "{}\t{}", r.id, r.title)?;
                }
            }
        },
        Command::Member { command } => match command {
            MemberCmd::Add { room, user, role, discipline, agent_role, lane } => {
                let role = parse_role(&role, discipline, agent_role, lane)?;
                let room = admin::resolve_room(&store, &room).await?;
                writeln!(out, "{}", admin::add_member(&store, room, &user, role).await?)?;
            }
            MemberCmd::Remove { room, user } => {
                let room = admin::resolve_room(&store, &room).await?;
                writeln!(out, "{}", admin::remove_member(&store, room, &user).await?)?;
            }
        },
        Command::Annex { command } => match command {
            AnnexCmd::Add { room, title, classification, file, sensitive, allow } => {
                let room = admin::resolve_room(&store, &room).await?;
                let content = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
                let new = admin::NewAnnex { title, classification, content, sensitive, allow };
                writeln!(out, "{}", admin::add_annex(&store, room, new).await?)?;
            }
        },
        Command::Audit { command } => match command {
            AuditCmd::Verify { room } => {
                let chain = if room == trustroom_server::hub::SERVER_CHAIN {
                    room
                } else {
                    admin::resolve_room(&store, &room).await?.to_string()
                };
                let v = audit::verify(&store, &chain).await?;
                match v.first_break {
                    None => writeln!(out, "ok: {} entries, head {}", v.entries, v.head.unwrap_or_default())?,
                    Some(b) => {
                        writeln!(out, "BROKEN: {b}")?;
                        std::process::exit(1);
                    }
                }
            }
            AuditCmd::Checkpoint { room } => {
                let room = admin::resolve_room(&store, &room).await?.to_string();
                writeln!(out, "{}", serde_json::to_string_pretty(&audit::checkpoint(&store, &room).await?)?)?;
            }
            AuditCmd::ProveConsistency { room, bundle, checkpoint, json } => {
                let room = admin::resolve_room(&store, &room).await?.to_string();
                let old = match (bundle, checkpoint) {
                    (Some(b), _) => audit::bundle_checkpoint(
                        &std::fs::read_to_string(&b).with_context(|| format!("reading {}", b.display()))?,
                    )?,
                    (None, Some(c)) => serde_json::from_str(
                        &std::fs::read_to_string(&c).with_context(|| format!("reading {}", c.display()))?,
                    )
                    .context("the checkpoint file does not parse")?,
                    (None, None) => anyhow::bail!("pass --bundle or --checkpoint"),
                };
                let c = audit::prove_consistency(&store, &room, old).await?;
                if json {
                    writeln!(out, "{}", serde_json::to_string_pretty(&c)?)?;
                } else if c.consistent {
                    writeln!(
                        out,
                        "consistent: the log of {} entries (root {}) extends the checkpoint of {} entries (root {}); \
                         proof of {} hashes",
                        c.new.checkpoint.size,
                        c.new.checkpoint.root,
                        c.old.checkpoint.size,
                        c.old.checkpoint.root,
                        c.proof.len()
                    )?;
                } else {
                    writeln!(out, "NOT CONSISTENT: {}", c.problem.clone().unwrap_or_default())?;
                }
                if !c.consistent {
                    out.flush()?;
                    std::process::exit(1);
                }
            }
            AuditCmd::Export { room } => {
                let chain = if room == trustroom_server::hub::SERVER_CHAIN {
                    room
                } else {
                    admin::resolve_room(&store, &room).await?.to_string()
                };
                for e in audit::export(&store, &chain).await? {
                    writeln!(out, "{}", serde_json::to_string(&e)?)?;
                }
            }
        },
        Command::Key { command: KeyCmd::Show } => {
            let key = signing::server_key(&store).await?;
            writeln!(out, "{}", key.public_hex())?;
            eprintln!(
                "ed25519 manifest signing key, fingerprint {}, created at {} ms",
                key.fingerprint(),
                key.created_ms
            );
        }
        Command::Export { room, revision, format, out: file } => {
            let room = admin::resolve_room(&store, &room).await?;
            let result = export::operator_export(&store, room, revision, format).await?;
            match file {
                Some(path) => {
                    std::fs::write(&path, result.text.as_bytes())
                        .with_context(|| format!("writing {}", path.display()))?;
                    eprintln!(
                        "exported room {room} rev {} (packet rev {}, {}{}) to {}",
                        result.revision,
                        result.packet_revision,
                        if result.released { "released" } else { "not released" },
                        if result.exact { "" } else { ", restricted detail redacted" },
                        path.display()
                    );
                }
                None => out.write_all(result.text.as_bytes())?,
            }
        }
        Command::Manifest { command: ManifestCmd::Verify { bundle, public_key, status, json } } => {
            drop(out);
            let key = match public_key {
                Some(k) => k,
                None => signing::existing_key(&store)
                    .await?
                    .ok_or_else(|| anyhow::anyhow!("this database has no signing key; pass --public-key HEX"))?
                    .public_hex(),
            };
            return manifest_verify::verify(&bundle, &key, status.as_deref(), json);
        }
        Command::Manifest { command: ManifestCmd::List { room } } => {
            let room = admin::resolve_room(&store, &room).await?;
            for m in store.manifests(room).await? {
                let b = &m.manifest.body;
                let co: Vec<&str> = b.cosigners.iter().map(|c| c.name.as_str()).collect();
                writeln!(
                    out,
                    "rev {}\tpacket rev {}\t{}{}\t{}\t{}\tby {}\tco-signed by {}\tmanifest {}",
                    m.event.release_revision,
                    b.revision,
                    b.lane,
                    b.audience.map(|a| format!(" · {a}")).unwrap_or_default(),
                    trustroom_shared::export::utc(m.event.released_at_ms),
                    &b.content_hash[..16.min(b.content_hash.len())],
                    b.signer.name,
                    if co.is_empty() { "nobody".to_string() } else { co.join(", ") },
                    m.manifest.manifest_hash
                )?;
            }
        }
        Command::Retention { command } => {
            for line in trustroom_server::retention::retention_command(&store, command).await? {
                writeln!(out, "{line}")?;
            }
        }
        Command::BreakGlass { command } => {
            writeln!(out, "{}", trustroom_server::retention::break_glass_command(&store, command).await?)?;
        }
        // Handled before the store is opened.
        Command::Migrate => {}
        Command::Demo { listen, tokens_out } => {
            drop(out);
            let seed = demo::seed(&store).await?;
            signing::server_key(&store).await.context("reading or creating the signing key")?;
            let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("binding {listen}"))?;
            let url = format!("ws://{}", listener.local_addr()?);
            let doc = serde_json::json!({"room": seed.room, "title": seed.title, "url": url, "members": seed.members});
            let tmp = tokens_out.with_extension("tmp");
            std::fs::write(&tmp, serde_json::to_vec_pretty(&doc)?)?;
            std::fs::rename(&tmp, &tokens_out)?;
            eprintln!("demo room {} on {url}; tokens in {}", seed.room, tokens_out.display());
            serve::run(listener, store, ServerConfig::default(), shutdown_signal()).await?;
        }
    }
    Ok(())
}

/// Stops a background task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
