//! Export (key `X`): the room's bundle, byte for byte as the server
//! encoded it, written to a new file named by room and revision
//! (`trustroom-<room>-rev<N>.json`) in the directory the TUI was started
//! from — never over an existing file — and a dialog that says where, with
//! the file's SHA-256 and the content hash.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use trustroom_shared::canonical::sha256_hex;
use trustroom_shared::protocol::ExportResult;

/// What the export dialog shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exported {
    pub path: PathBuf,
    /// SHA-256 of the file's bytes (what `sha256sum` prints).
    pub file_hash: String,
    pub revision: u64,
    pub packet_revision: u64,
    pub content_hash: String,
    pub released: bool,
    pub exact: bool,
}

/// Writes the bundle of `result` into `dir` as a new file named by `room`
/// and the revision; a second export of the same revision gets `-2`, `-3`….
pub fn save_bundle(dir: &Path, room: &str, result: &ExportResult) -> std::io::Result<Exported> {
    let room: String = room.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').take(8).collect();
    let mut n = 1u32;
    loop {
        let name = if n == 1 {
            format!("trustroom-{room}-rev{}.json", result.revision)
        } else {
            format!("trustroom-{room}-rev{}-{n}.json", result.revision)
        };
        let path = dir.join(name);
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(mut f) => {
                f.write_all(result.text.as_bytes())?;
                f.sync_all()?;
                return Ok(Exported {
                    path,
                    file_hash: sha256_hex(result.text.as_bytes()),
                    revision: result.revision,
                    packet_revision: result.packet_revision,
                    content_hash: result.content_hash.clone(),
                    released: result.released,
                    exact: result.exact,
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 1000 => n += 1,
            Err(e) => return Err(e),
        }
    }
}

/// Where exports go: the directory the TUI was started from, else its
/// state directory.
pub fn export_dir() -> PathBuf {
    std::env::current_dir().unwrap_or_else(|_| crate::tui::logging::log_dir())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_export_of_the_same_revision_never_overwrites_the_first() {
        let dir = std::env::temp_dir().join(format!("trustroom-export-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let r = ExportResult {
            format: Default::default(),
            revision: 14,
            packet_revision: 12,
            content_hash: "ab".repeat(32),
            exact: true,
            released: false,
            text: "{\"a\":1}".into(),
        };
        let a = save_bundle(&dir, "0000abcd-ffff", &r).expect("first");
        let b = save_bundle(&dir, "0000abcd-ffff", &r).expect("second");
        assert_eq!(a.path.file_name().and_then(|n| n.to_str()), Some("trustroom-0000abcd-rev14.json"));
        assert_eq!(b.path.file_name().and_then(|n| n.to_str()), Some("trustroom-0000abcd-rev14-2.json"));
        assert_eq!(std::fs::read_to_string(&a.path).expect("read"), "{\"a\":1}");
        assert_eq!(a.file_hash, sha256_hex(b"{\"a\":1}"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
