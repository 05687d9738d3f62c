//! Text from the command line, a file or stdin, with line endings
//! normalized to `\n` (the protocol's rule for all text).

use std::path::Path;

use anyhow::Context;
use std::io::Read;
use trustroom_shared::ot::normalize_newlines;

/// The `-` argument that means "read stdin".
pub const STDIN: &str = "-";

async fn read_stdin() -> anyhow::Result<String> {
    let read = tokio::task::spawn_blocking(|| {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).map(|_| text)
    });
    read.await.context("reading stdin")?.context("cannot read stdin")
}

/// A file's content (`-` reads stdin), CRLF normalized.
pub async fn file_text(path: &Path) -> anyhow::Result<String> {
    let raw = if path.as_os_str() == STDIN {
        read_stdin().await?
    } else {
        tokio::fs::read_to_string(path).await.with_context(|| format!("cannot read {}", path.display()))?
    };
    Ok(normalize_newlines(&raw))
}

/// A verbatim text argument (`-` reads stdin), CRLF normalized.
pub async fn verbatim(arg: &str) -> anyhow::Result<String> {
    if arg == STDIN { Ok(normalize_newlines(&read_stdin().await?)) } else { Ok(normalize_newlines(arg)) }
}

/// A message argument (objection, reply): like [`verbatim`] but without
/// the trailing newlines a pipe or heredoc adds.
pub async fn message(arg: &str) -> anyhow::Result<String> {
    Ok(trim_message(&verbatim(arg).await?))
}

pub fn trim_message(text: &str) -> String {
    text.trim_end_matches(['\n', ' ', '\t']).to_string()
}

/// The text to append. With `paragraph` it becomes its own paragraph: a
/// blank line before it (at least one newline even when the body already
/// ends with a blank line) and a newline after it, so that appends made
/// concurrently from the same base revision, which the server places one
/// after the other, still end up as separate paragraphs.
pub fn appended(body: &str, text: &str, paragraph: bool) -> String {
    if !paragraph {
        return text.to_string();
    }
    let text = text.trim_matches('\n');
    if body.is_empty() {
        return format!("{text}\n");
    }
    let trailing = body.chars().rev().take_while(|c| *c == '\n').count();
    let newlines = 2usize.saturating_sub(trailing).max(1);
    format!("{}{text}\n", "\n".repeat(newlines))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paragraph_separation() {
        assert_eq!(appended("a", "b", false), "b");
        assert_eq!(appended("a", "b", true), "\n\nb\n");
        assert_eq!(appended("a\n", "b\n", true), "\nb\n");
        assert_eq!(appended("a\n\n", "\nb", true), "\nb\n");
        assert_eq!(appended("", "b", true), "b\n");
    }

    #[test]
    fn concurrent_paragraph_appends_stay_separate_paragraphs() {
        // Two appends computed from the same body land one after the other.
        for body in ["a", "a\n", "a\n\n"] {
            let merged = format!("{body}{}{}", appended(body, "b", true), appended(body, "c", true));
            let paragraphs: Vec<String> =
                trustroom_shared::statement::statements(&merged).into_iter().map(|s| s.text).collect();
            assert_eq!(paragraphs, ["a", "b", "c"], "{merged:?}");
        }
    }

    #[test]
    fn messages_lose_trailing_newlines_only() {
        assert_eq!(trim_message("  two\nlines\n\n"), "  two\nlines");
    }
}
