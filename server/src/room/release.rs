//! Release decisions: hold, mark ready, release, escalate (owner only;
//! the capability check happens before this is reached).

use serde_json::json;
use trustroom_shared::UserId;
use trustroom_shared::canonical::content_hash;
use trustroom_shared::change::Change;
use trustroom_shared::protocol::{ErrorCode, Request};
use trustroom_shared::readiness::readiness;
use trustroom_shared::release::ReleaseState;

use super::requests::{ack, text_field};
use super::{Answer, Batch, Room};
use crate::clock::now_ms;

impl Room {
    /// Applies one release decision.
    pub(super) fn decide(&mut self, batch: &mut Batch, user: UserId, request: Request) -> Answer {
        let max_text = self.config.max_text_chars;
        match request {
            Request::Hold { reason, .. } => {
                let reason = text_field("reason", &reason, max_text, true)?;
                let release = ReleaseState::Held { reasons: vec![reason.clone()], by: user, at_ms: now_ms() };
                let rev = self.commit_change(batch, user, None, Change::ReleaseChanged { release }, json!({"decision": "hold", "reason": reason}))?;
                Ok(ack(rev, None))
            }
            Request::MarkReady { .. } => {
                let reviewed = self.state.revision;
                let release = ReleaseState::Ready { revision: reviewed, by: user, at_ms: now_ms() };
                let rev = self.commit_change(batch, user, None, Change::ReleaseChanged { release }, json!({"decision": "ready", "reviewed_revision": reviewed}))?;
                Ok(ack(rev, None))
            }
            Request::Release { lane, .. } => {
                let ReleaseState::Ready { revision: reviewed, .. } = self.state.release else {
                    return Err((ErrorCode::Conflict, format!("the room is {}; mark it ready first", self.state.release.name())));
                };
                if self.state.content_revision > reviewed {
                    return Err((
                        ErrorCode::Stale,
                        format!(
                            "the room changed at rev {} after it was marked ready at rev {reviewed}; review it again",
                            self.state.content_revision
                        ),
                    ));
                }
                let record = readiness(&self.state);
                if !record.is_clear() {
                    let list: Vec<String> = record.blockers.iter().map(|b| b.describe()).collect();
                    return Err((ErrorCode::Conflict, format!("release blocked by {} blocker(s): {}", list.len(), list.join("; "))));
                }
                let release = ReleaseState::Released {
                    revision: self.state.revision,
                    content_hash: content_hash(&self.state),
                    lane,
                    by: user,
                    at_ms: now_ms(),
                };
                let detail = json!({"decision": "release", "lane": lane, "revision": self.state.revision, "content_hash": content_hash(&self.state)});
                let rev = self.commit_change(batch, user, None, Change::ReleaseChanged { release }, detail)?;
                Ok(ack(rev, None))
            }
            Request::Escalate { reason, .. } => {
                let reason = text_field("reason", &reason, max_text, true)?;
                let release = ReleaseState::Escalated { reason: reason.clone(), by: user, at_ms: now_ms() };
                let rev = self.commit_change(batch, user, None, Change::ReleaseChanged { release }, json!({"decision": "escalate", "reason": reason}))?;
                Ok(ack(rev, None))
            }
            _ => Err((ErrorCode::Invalid, "not a release decision".into())),
        }
    }
}
