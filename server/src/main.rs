//! `trustroom-server`: serve rooms and administer users, rooms, members,
//! annexes and the audit log.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use trustroom_server::config::ServerConfig;
use trustroom_server::storage::{self, Store};
use trustroom_server::{admin, audit, demo, serve};
use trustroom_shared::role::{AgentRole, Discipline, Role};

#[derive(Parser)]
#[command(name = "trustroom-server", version, about = "Trustroom room server and administration")]
struct Cli {
    /// Database URL: an SQLite path or `sqlite://PATH` (default: trustroom.db in the platform data directory).
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
        /// Largest accepted frame in bytes.
        #[arg(long, default_value_t = 1 << 20)]
        max_frame_bytes: usize,
        /// Seconds allowed for the handshake.
        #[arg(long, default_value_t = 10)]
        handshake_timeout: u64,
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
    /// Serve with a freshly seeded demo room and write every member's token to a file.
    Demo {
        #[arg(long, default_value = "127.0.0.1:7447")]
        listen: SocketAddr,
        /// Where to write `{"room","url","members":[{"name","role","user","token"}]}`.
        #[arg(long)]
        tokens_out: PathBuf,
    },
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
        /// owner | reviewer | agent | observer
        #[arg(long)]
        role: String,
        /// For reviewers: support-trust | privacy | legal | support-engineering
        #[arg(long)]
        discipline: Option<Discipline>,
        /// For agents: chronology | objection-normaliser | trace-keeper
        #[arg(long)]
        agent_role: Option<AgentRole>,
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
}

fn default_db() -> anyhow::Result<String> {
    let dirs = directories::ProjectDirs::from("dev", "trustroom", "trustroom")
        .ok_or_else(|| anyhow::anyhow!("no home directory; pass --db"))?;
    std::fs::create_dir_all(dirs.data_dir()).with_context(|| format!("creating {}", dirs.data_dir().display()))?;
    Ok(dirs.data_dir().join("trustroom.db").display().to_string())
}

fn parse_role(role: &str, discipline: Option<Discipline>, agent_role: Option<AgentRole>) -> anyhow::Result<Role> {
    Ok(match role {
        "owner" => Role::Owner,
        "observer" => Role::Observer,
        "reviewer" => Role::Reviewer {
            discipline: discipline.ok_or_else(|| anyhow::anyhow!("a reviewer needs --discipline"))?,
        },
        "agent" => Role::Agent { agent_role: agent_role.ok_or_else(|| anyhow::anyhow!("an agent needs --agent-role"))? },
        other => anyhow::bail!("unknown role {other:?} (owner, reviewer, agent, observer)"),
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
    let store = open_store(&cli.db).await?;
    let mut out = std::io::stdout().lock();
    match cli.command {
        Command::Serve { listen, tls_cert, tls_key, max_frame_bytes, handshake_timeout } => {
            drop(out);
            let config = ServerConfig {
                max_frame_bytes,
                hard_frame_bytes: max_frame_bytes.saturating_mul(4),
                handshake_timeout: std::time::Duration::from_secs(handshake_timeout),
                ..ServerConfig::default()
            };
            let tls = match (tls_cert, tls_key) {
                (Some(c), Some(k)) => Some(serve::tls_acceptor(&c, &k)?),
                _ => None,
            };
            let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("binding {listen}"))?;
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
            MemberCmd::Add { room, user, role, discipline, agent_role } => {
                let role = parse_role(&role, discipline, agent_role)?;
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
        Command::Demo { listen, tokens_out } => {
            drop(out);
            let seed = demo::seed(&store).await?;
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
