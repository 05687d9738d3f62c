//! Release status of one room: `release_status` signs the status of every
//! release (current, superseded, withdrawn) as of now, and
//! `withdraw_release` records an owner's withdrawal. The rules are in
//! `trustroom_shared::release_status`.
//!
//! The capability check (`decide_release` for withdrawing, `read` for the
//! status) happens before this is reached (`requests.rs`).

use serde_json::json;
use trustroom_shared::UserId;
use trustroom_shared::change::Change;
use trustroom_shared::protocol::{ErrorCode, ReleaseStatusResult};
use trustroom_shared::release::ReleaseState;
use trustroom_shared::release_status::{Withdrawal, sign_status, statuses};

use super::requests::{ack, text_field, to_value};
use super::{Answer, Batch, Room};
use crate::clock::now_ms;
use crate::signing::server_key;

impl Room {
    /// `release_status`: every release's signed status, as of this revision.
    pub(super) async fn release_status(&self, batch: &Batch) -> Answer {
        let key = server_key(&self.store).await.map_err(|e| super::release::unavailable("read the signing key", e))?;
        let records = self.manifest_history(batch).await?;
        let public = key.public_hex();
        let signed =
            statuses(&self.state, &records, &public).into_iter().map(|b| sign_status(b, key.signing())).collect();
        Ok(to_value(&ReleaseStatusResult { public_key: public, revision: self.state.revision, statuses: signed }))
    }

    /// `withdraw_release`: the owner withdraws release `manifest` with a
    /// reason. When it is the release the room is in, the room goes back to
    /// drafting (a withdrawn release is not the room's release any more).
    pub(super) async fn withdraw_release(
        &mut self,
        batch: &mut Batch,
        user: UserId,
        manifest: &str,
        reason: &str,
    ) -> Answer {
        let reason = text_field("reason", reason, self.config.max_text_chars, true)?;
        let manifest = manifest.trim().to_lowercase();
        if manifest.len() != 64 || !manifest.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err((
                ErrorCode::Invalid,
                "`manifest` is a manifest hash: 64 hex characters, as `manifests` and `release status` print it".into(),
            ));
        }
        let records = self.manifest_history(batch).await?;
        let Some(record) = records.iter().find(|r| r.manifest.manifest_hash == manifest) else {
            return Err((ErrorCode::NotFound, format!("no release of this room has manifest {manifest}")));
        };
        if let Some(w) = self.state.withdrawals.iter().find(|w| w.manifest_hash == manifest) {
            return Err((
                ErrorCode::Conflict,
                format!("release {manifest} was already withdrawn at rev {}: {}", w.revision, w.reason),
            ));
        }
        let body = &record.manifest.body;
        let (packet, lane) = (body.revision, body.lane);
        // The room's own release: the latest release record, while RELEASED.
        let current = matches!(self.state.release, ReleaseState::Released { .. })
            && records.last().is_some_and(|r| r.manifest.manifest_hash == manifest);
        let withdrawal = Withdrawal {
            manifest_hash: manifest.clone(),
            reason: reason.clone(),
            by: user,
            at_ms: now_ms(),
            revision: self.state.revision + 1,
            release_revision: Some(record.event.release_revision),
        };
        let detail = json!({
            "decision": "withdraw_release",
            "manifest_hash": manifest,
            "packet_revision": packet,
            "lane": lane,
            "reason": reason,
        });
        let rev = self.commit_change(batch, user, None, Change::ReleaseWithdrawn { withdrawal }, detail)?;
        // The room's own release, withdrawn: back to drafting.
        if current {
            let detail = json!({"decision": "drafting", "why": "its release was withdrawn", "manifest_hash": manifest});
            self.commit_change(batch, user, None, Change::ReleaseChanged { release: ReleaseState::Drafting }, detail)?;
        }
        Ok(ack(rev, None))
    }
}
