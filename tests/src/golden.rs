//! Golden files: a test's output compared with the file kept in
//! `tests/golden/`; `TRUSTROOM_BLESS=1` writes the output there instead.

use super::*;

/// Checks `actual` against the golden file at `path`, or (with
/// `TRUSTROOM_BLESS` set) writes it there. A difference fails with the
/// first line that differs.
pub fn check_golden(path: &Path, actual: &str) -> anyhow::Result<()> {
    let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
    if std::env::var_os("TRUSTROOM_BLESS").is_some() {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, actual)?;
        eprintln!("blessed {}", path.display());
        return Ok(());
    }
    let expected = std::fs::read_to_string(path)
        .with_context(|| format!("reading {} (run with TRUSTROOM_BLESS=1 to create it)", path.display()))?;
    if expected != actual {
        let line = expected.lines().zip(actual.lines()).position(|(a, b)| a != b).unwrap_or(0);
        bail!(
            "{name} differs from the golden file at line {}:\n  golden: {:?}\n  actual: {:?}\n(run with TRUSTROOM_BLESS=1 to accept)",
            line + 1,
            expected.lines().nth(line).unwrap_or(""),
            actual.lines().nth(line).unwrap_or("")
        );
    }
    Ok(())
}
