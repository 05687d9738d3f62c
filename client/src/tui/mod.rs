//! The terminal UI (owned by the TUI work; placeholder signature).

/// Options for opening the TUI on one room.
#[derive(Debug, Clone)]
pub struct TuiOptions {
    pub url: String,
    pub token: String,
    /// Room id or exact title.
    pub room: String,
    /// Extra lines shown in the help overlay (the demo puts the join commands here).
    pub help_extra: Vec<String>,
}

/// Runs the TUI until the user quits. Restores the terminal on every exit path.
pub async fn run(_opts: TuiOptions) -> anyhow::Result<()> {
    anyhow::bail!("the terminal UI is not built yet")
}
