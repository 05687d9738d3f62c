//! Logs go to a file, never to the screen: the TUI owns the terminal.
//!
//! The file is `tui.log` in `$TRUSTROOM_LOG_DIR`, else the platform state
//! directory (`~/.local/state/trustroom` on Linux), else the cache
//! directory, else `$TMPDIR/trustroom`. The level comes from
//! `TRUSTROOM_LOG` (an env-filter), default `info`.

use std::path::PathBuf;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

/// Where the TUI writes its log.
pub fn log_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("TRUSTROOM_LOG_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(p) = directories::ProjectDirs::from("", "", "trustroom") {
        if let Some(state) = p.state_dir() {
            return state.to_path_buf();
        }
        return p.cache_dir().to_path_buf();
    }
    std::env::temp_dir().join("trustroom")
}

/// Installs a file logger. Returns the guard that flushes it on drop, and the
/// file's path; `None` when the directory cannot be created or a global
/// subscriber is already installed (then the caller's logger is used).
pub fn init() -> Option<(WorkerGuard, PathBuf)> {
    let dir = log_dir();
    std::fs::create_dir_all(&dir).ok()?;
    let appender = tracing_appender::rolling::never(&dir, "tui.log");
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let filter = EnvFilter::try_from_env("TRUSTROOM_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer).with_ansi(false).try_init().ok()?;
    Some((guard, dir.join("tui.log")))
}
