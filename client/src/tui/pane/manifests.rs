//! The manifests view (key `W`): every release of the room, oldest first,
//! each with its manifest summary and the verification of its signatures,
//! done here, offline, with the shared `verify_record`. The public key is
//! the one the server sent with the history: the client holds no copy of
//! its own, so a match proves the manifests are consistent with that key,
//! not that the key is your organisation's — the view says so.

use crossterm::event::{KeyCode, KeyEvent};
use trustroom_shared::manifest::{Verification, verify_record};
use trustroom_shared::protocol::{ManifestsResult, ReleaseStatusResult};
use trustroom_shared::release_status::{StatusVerdict, verify_status};

use super::{Component, Ctx, Outcome};

pub struct ManifestsView {
    pub result: ManifestsResult,
    /// One per manifest, in order.
    pub verifications: Vec<Verification>,
    /// Each release's signed status (current, superseded, withdrawn),
    /// verified here against the same key, by manifest hash; empty until
    /// the `release_status` answer arrives.
    pub statuses: Vec<(String, StatusVerdict, String)>,
    pub scroll: u16,
}

impl ManifestsView {
    /// Verifies every manifest of `result` against the key it came with.
    pub fn new(result: ManifestsResult) -> Self {
        let verifications = result.manifests.iter().map(|m| verify_record(m, &result.public_key)).collect();
        ManifestsView { result, verifications, statuses: Vec::new(), scroll: 0 }
    }

    /// Verifies the signed statuses of `r` against the manifests' key.
    pub fn set_statuses(&mut self, r: &ReleaseStatusResult) {
        self.statuses = r
            .statuses
            .iter()
            .map(|s| {
                let hash = s.body.manifest_hash.clone();
                let text = serde_json::to_string(s).unwrap_or_default();
                let (verdict, v) = verify_status(&text, &self.result.public_key, &hash);
                (hash, verdict, v.summary)
            })
            .collect();
    }

    /// The verified status line of the release with manifest `hash`.
    pub fn status_of(&self, hash: &str) -> Option<(&StatusVerdict, &str)> {
        self.statuses.iter().find(|(h, _, _)| h == hash).map(|(_, v, s)| (v, s.as_str()))
    }
}

impl Component for ManifestsView {
    fn event(&mut self, key: KeyEvent, _ctx: &Ctx<'_>) -> Outcome {
        match key.code {
            KeyCode::Char('j') | KeyCode::Down => self.scroll = self.scroll.saturating_add(1),
            KeyCode::Char('k') | KeyCode::Up => self.scroll = self.scroll.saturating_sub(1),
            KeyCode::PageDown => self.scroll = self.scroll.saturating_add(10),
            KeyCode::PageUp => self.scroll = self.scroll.saturating_sub(10),
            KeyCode::Char('q') | KeyCode::Enter => return Outcome::close(),
            _ => {}
        }
        Outcome::used()
    }
}
