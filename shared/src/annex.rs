//! The annex map: restricted annexes with classification, need-to-know list
//! and the identifiers/patterns that must never appear outside them.

use serde::{Deserialize, Serialize};

use crate::ids::{AnnexId, UserId};

/// A restricted annex. The server holds it whole; everything that leaves the
/// server is [`Annex::redacted`]: content and sensitive patterns removed.
/// Content reaches a member only through the audited `view_annex` request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Annex {
    pub id: AnnexId,
    /// Short per-room code (`A1`, `A2`…) used in `[[annex:A1]]`.
    pub code: String,
    pub title: String,
    /// Classification, e.g. `tenant-identifiers`, `session-replay`, `privileged-access-path`.
    pub classification: String,
    /// Users on the need-to-know list.
    pub need_to_know: Vec<UserId>,
    /// Identifiers or patterns that must not appear outside the annex
    /// (empty in a redacted copy).
    #[serde(default)]
    pub sensitive: Vec<String>,
    /// How many sensitive patterns the annex declares.
    pub sensitive_count: usize,
    /// The content; `None` in a redacted copy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Random per-annex salt (hex), kept on the server: without it the
    /// content hash cannot be used to confirm a guessed identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salt: Option<String>,
    /// SHA-256 of salt + content (hex), so changes are visible without content.
    pub content_hash: String,
    pub at_ms: i64,
}

impl Annex {
    /// Whether `user` is on the need-to-know list.
    pub fn allows(&self, user: UserId) -> bool {
        self.need_to_know.contains(&user)
    }

    /// The copy that may leave the server: no content, no patterns.
    pub fn redacted(&self) -> Annex {
        Annex { content: None, sensitive: Vec::new(), salt: None, ..self.clone() }
    }

    /// The salted content hash for `content` with `salt` (hex).
    pub fn salted_hash(salt: &str, content: &str) -> String {
        crate::canonical::sha256_hex(format!("{salt}\n{content}").as_bytes())
    }

    /// The sensitive patterns found in `text` (case-insensitive substring match).
    pub fn leaks_in<'a>(&'a self, text: &str) -> Vec<&'a str> {
        let lower = text.to_lowercase();
        self.sensitive
            .iter()
            .filter(|p| !p.is_empty() && lower.contains(&p.to_lowercase()))
            .map(String::as_str)
            .collect()
    }
}
