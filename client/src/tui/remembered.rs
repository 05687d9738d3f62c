//! What the TUI remembers between sessions, per server and user: whether
//! the disagreement register is shown (the user's `r`, which wins over the
//! width rule).
//!
//! One small JSON file, `remembered.json` in the TUI's state directory (the
//! log directory, `logging.rs`), keyed by `user @ server`. It is written
//! atomically (a temporary file renamed over it), so a crash never leaves
//! half a file; a file that cannot be read or parsed is ignored with a log
//! line, and the next choice replaces it.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The file's content.
#[derive(Debug, Default, Serialize, Deserialize)]
struct RememberedFile {
    /// `user @ server` → whether the register is shown.
    #[serde(default)]
    register_shown: BTreeMap<String, bool>,
}

/// The remembered choices of the users of one server.
#[derive(Clone, Debug)]
pub struct Remembered {
    path: PathBuf,
    server: String,
}

/// `remembered.json` in the TUI's state directory.
pub fn default_path() -> PathBuf {
    super::logging::log_dir().join("remembered.json")
}

impl Remembered {
    /// Choices kept in `path` for users of `server` (its URL).
    pub fn new(path: PathBuf, server: String) -> Remembered {
        Remembered { path, server }
    }

    fn key(&self, user: &str) -> String {
        format!("{user} @ {}", self.server)
    }

    /// Whether `user` last showed (`true`) or hid the register; `None` when
    /// they never chose (or the file is missing or unreadable).
    pub fn register_shown(&self, user: &str) -> Option<bool> {
        read(&self.path).register_shown.get(&self.key(user)).copied()
    }

    /// Remembers `user`'s choice. A failure is logged: the choice still
    /// holds for this session.
    pub fn set_register_shown(&self, user: &str, shown: bool) {
        let mut file = read(&self.path);
        file.register_shown.insert(self.key(user), shown);
        let result = serde_json::to_string_pretty(&file)
            .map_err(io::Error::other)
            .and_then(|text| write_atomically(&self.path, &text));
        if let Err(e) = result {
            tracing::warn!("cannot remember the register choice in {}: {e}", self.path.display());
        }
    }
}

fn read(path: &Path) -> RememberedFile {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return RememberedFile::default(),
        Err(e) => {
            tracing::warn!("ignoring {}: cannot read it ({e})", path.display());
            return RememberedFile::default();
        }
    };
    serde_json::from_str(&text).unwrap_or_else(|e| {
        tracing::warn!("ignoring {}: not a file of remembered choices ({e})", path.display());
        RememberedFile::default()
    })
}

/// Writes `text` to a temporary file beside `path`, then renames it over
/// `path`.
fn write_atomically(path: &Path, text: &str) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".{}.tmp", std::process::id()));
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> tempfile::TempDir {
        tempfile::tempdir().expect("temp dir")
    }

    #[test]
    fn a_choice_is_kept_per_user_and_server() {
        let d = dir();
        let path = d.path().join("state").join("remembered.json");
        let a = Remembered::new(path.clone(), "ws://a:7000".into());
        let b = Remembered::new(path.clone(), "ws://b:7000".into());
        assert_eq!(a.register_shown("priya"), None);
        a.set_register_shown("priya", false);
        b.set_register_shown("priya", true);
        a.set_register_shown("daniel", true);
        assert_eq!(a.register_shown("priya"), Some(false));
        assert_eq!(b.register_shown("priya"), Some(true));
        assert_eq!(a.register_shown("daniel"), Some(true));
        assert_eq!(b.register_shown("daniel"), None);
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(path.parent().expect("dir"))
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec!["remembered.json".to_string()]);
    }

    #[test]
    fn a_corrupt_file_is_ignored_and_replaced() {
        let d = dir();
        let path = d.path().join("remembered.json");
        std::fs::write(&path, "{\"register_shown\": [not json").expect("write");
        let r = Remembered::new(path.clone(), "ws://a".into());
        assert_eq!(r.register_shown("priya"), None);
        r.set_register_shown("priya", true);
        assert_eq!(r.register_shown("priya"), Some(true));
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(text.contains("priya @ ws://a"), "{text}");
    }
}
