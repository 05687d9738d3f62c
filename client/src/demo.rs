//! `trustroom demo`: a server with the seeded demo room on a free loopback
//! port, plus the TUI as the owner (owned by the TUI work; placeholder).

/// Arguments of `trustroom demo`.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// Address to listen on (default: a free loopback port).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: String,
    /// Database URL (default: a fresh SQLite file in a temporary directory).
    #[arg(long)]
    pub db: Option<String>,
    /// Print the join commands and keep serving without opening the TUI.
    #[arg(long)]
    pub headless: bool,
}

pub async fn run(_args: DemoArgs) -> anyhow::Result<()> {
    anyhow::bail!("demo not built yet")
}
