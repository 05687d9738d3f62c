//! The release workflow of one room: the four owner decisions (hold, mark
//! ready, release, escalate), the co-sign policy and co-signatures, the
//! signed manifest, the server's readiness record, the manifest history,
//! exports, and the automatic hold when a room check fails.
//!
//! The capability check (`decide_release` for the owner decisions and the
//! policy) and the read-only check of escalated rooms happen before this
//! is reached (`requests.rs`). The state machine is documented in
//! `docs/release.md`.

use serde_json::{Value, json};
use trustroom_shared::UserId;
use trustroom_shared::canonical::content_hash;
use trustroom_shared::change::Change;
use trustroom_shared::export::ExportFormat;
use trustroom_shared::manifest::{
    AuditAnchor, ManifestRecord, manifest_body, sign_event, sign_event_in_log, sign_manifest,
};
use trustroom_shared::merkle;
use trustroom_shared::protocol::{ErrorCode, ExportResult, ManifestsResult, ReleaseAck, Request};
use trustroom_shared::readiness::{Blocker, leaking_annexes, objection_texts, readiness, release_blockers};
use trustroom_shared::release::{
    Audience, Cosignature, Lane, ReleasePolicy, ReleaseRefusal, ReleaseState, content_changes_since, cosign_refusal,
    release_precondition, reviewed_release_precondition,
};
use trustroom_shared::role::Role;
use trustroom_shared::room::RoomState;

use super::requests::{Caller, ack, text_field, to_value};
use super::{Answer, Batch, Refusal, Room};
use crate::clock::now_ms;
use crate::export::{manifest_for, render, state_at};
use crate::signing::server_key;

/// Most members a release policy may name.
const MAX_POLICY_MEMBERS: usize = 50;

pub(super) fn unavailable(what: &str, e: impl std::fmt::Display) -> Refusal {
    (ErrorCode::Unavailable, format!("cannot {what} right now: {e}"))
}

impl Room {
    /// Applies one owner decision: hold, mark ready, release, escalate.
    pub(super) async fn decide(&mut self, batch: &mut Batch, user: UserId, request: Request) -> Answer {
        let max_text = self.config.max_text_chars;
        match request {
            Request::Hold { reason, .. } => self.place_hold(batch, user, &reason),
            Request::ClearHold { hold, rationale, .. } => self.clear_hold(batch, user, hold, &rationale),
            Request::WithdrawRelease { manifest, reason, .. } => {
                self.withdraw_release(batch, user, &manifest, &reason).await
            }
            Request::MarkReady { .. } => {
                let open: Vec<String> =
                    trustroom_shared::holds::blocking_holds(&self.state).map(|h| h.describe(&self.state)).collect();
                if !open.is_empty() {
                    return Err((
                        ErrorCode::Conflict,
                        format!(
                            "the room is HELD by {}: clear each hold with a rationale (`clear_hold`) first",
                            open.join("; ")
                        ),
                    ));
                }
                let reviewed = self.state.content_revision;
                self.clear_review_holds(batch, user, reviewed, "marked")?;
                let release = ReleaseState::Ready { revision: reviewed, by: user, at_ms: now_ms() };
                let detail = json!({
                    "decision": "ready",
                    "reviewed_revision": reviewed,
                    "content_hash": content_hash(&self.state),
                });
                let rev = self.commit_change(batch, user, None, Change::ReleaseChanged { release }, detail)?;
                Ok(ack(rev, None))
            }
            Request::Release { lane, audience, .. } => self.release(batch, user, lane, audience, None).await,
            Request::ReleasePacket { lane, audience, packet_revision, .. } => {
                self.release(batch, user, lane, audience, Some(packet_revision)).await
            }
            Request::Escalate { reason, .. } => {
                let reason = text_field("reason", &reason, max_text, true)?;
                // The handoff record: why, and what the room still had open.
                let open: Vec<String> = readiness(&self.state).blockers.iter().map(|b| b.describe()).collect();
                let release = ReleaseState::Escalated { reason: reason.clone(), by: user, at_ms: now_ms() };
                let detail = json!({
                    "decision": "escalate",
                    "reason": reason,
                    "from": self.state.release.name(),
                    "packet_revision": self.state.content_revision,
                    "content_hash": content_hash(&self.state),
                    "open_blockers": open,
                });
                let rev = self.commit_change(batch, user, None, Change::ReleaseChanged { release }, detail)?;
                Ok(ack(rev, None))
            }
            _ => Err((ErrorCode::Invalid, "not a release decision".into())),
        }
    }

    /// `release`, and `release_packet` when `reviewed` names the packet
    /// revision the owner reviewed: every check runs before anything
    /// changes, so a refusal leaves the room exactly as it was (a hold and
    /// its reasons stay, no revision is added). On success one
    /// `release_changed` change moves the room to `released` — from `held`
    /// or `drafting` too with `release_packet`, which is the owner's review
    /// of that packet revision and the release in one commit.
    async fn release(
        &mut self,
        batch: &mut Batch,
        user: UserId,
        lane: Lane,
        audience: Audience,
        reviewed: Option<u64>,
    ) -> Answer {
        let packet = self.state.content_revision;
        let precondition = match reviewed {
            None => release_precondition(&self.state.release, packet),
            Some(n) => reviewed_release_precondition(&self.state.release, packet, n),
        };
        match precondition {
            Ok(()) => {}
            Err(ReleaseRefusal::NotReady(m)) => return Err((ErrorCode::Conflict, m)),
            Err(ReleaseRefusal::NoSuchRevision(m)) => return Err((ErrorCode::Invalid, m)),
            Err(ReleaseRefusal::Stale(m)) => {
                let since = reviewed.or(match self.state.release {
                    ReleaseState::Ready { revision, .. } | ReleaseState::Released { revision, .. } => Some(revision),
                    _ => None,
                });
                let changed = since.map_or_else(Vec::new, |n| content_changes_since(&self.state, &self.history, n));
                let m = if changed.is_empty() { m } else { format!("{m} (changed: {})", changed.join("; ")) };
                return Err((ErrorCode::Stale, m));
            }
        }
        // The co-signatures must cover this very lane and audience
        // (a co-signature for a wider audience covers a narrower one).
        let mut blockers = release_blockers(&self.state, lane, audience);
        if reviewed.is_some() {
            // `release_packet` is the owner's review of this packet
            // revision: the release-rules check (changed after READY) is
            // answered by it.
            blockers.retain(|b| {
                !matches!(b, Blocker::RoomCheck { check: trustroom_shared::checks::CheckKind::ReleaseRules, .. })
            });
        }
        if !blockers.is_empty() {
            let list: Vec<String> = blockers.iter().map(|b| b.describe()).collect();
            return Err((
                ErrorCode::Conflict,
                format!(
                    "release to the {lane} lane (audience {audience}) blocked by {} blocker(s): {}",
                    list.len(),
                    list.join("; ")
                ),
            ));
        }
        // A withdrawn release is not made again: the same packet revision,
        // lane and audience would give the same (withdrawn) manifest.
        let history = self.manifest_history(batch).await?;
        if let Some(w) = history.iter().find_map(|r| {
            let b = &r.manifest.body;
            (b.revision == packet && b.lane == lane && b.audience == Some(audience))
                .then(|| self.state.withdrawals.iter().find(|w| w.manifest_hash == r.manifest.manifest_hash))
                .flatten()
        }) {
            return Err((
                ErrorCode::Conflict,
                format!(
                    "the release of packet rev {packet} to the {lane} lane (audience {audience}) was withdrawn at rev {} \
                     ({}): change the packet and release the new revision",
                    w.revision, w.reason
                ),
            ));
        }
        let key = server_key(&self.store).await.map_err(|e| unavailable("read the signing key", e))?;
        let anchor = self.audit_anchor(batch, packet).await?;
        let from = self.state.release.name();
        // The owner's review of this packet revision clears the review
        // holds, in the register and in the manifest's cleared holds.
        if reviewed.is_some() {
            self.clear_review_holds(batch, user, packet, "released")?;
        }
        let trace = self.transformation_trace(batch, packet).await?;
        let mut body = manifest_body(&self.state, user, lane, audience, anchor, &key.public_hex());
        body.trace_digest = Some(trustroom_shared::trace::trace_digest(&trace));
        let manifest = sign_manifest(body, key.signing());
        let hash = manifest.body.content_hash.clone();
        let at_ms = now_ms();
        let head = batch
            .commit
            .audit
            .last()
            .map(|e| AuditAnchor { seq: e.seq, hash: e.hash.clone() })
            .or_else(|| self.audit_head.as_ref().map(|(seq, hash)| AuditAnchor { seq: *seq, hash: hash.clone() }));
        let release = ReleaseState::Released { revision: packet, content_hash: hash.clone(), lane, by: user, at_ms };
        let mut detail = json!({
            "decision": "release",
            "from": from,
            "lane": lane,
            "audience": audience,
            "revision": packet,
            "content_hash": hash,
            "manifest_hash": manifest.manifest_hash,
            "cosigners": manifest.body.cosigners.iter().map(|c| c.name.clone()).collect::<Vec<_>>(),
        });
        if let Some(n) = reviewed {
            detail["reviewed_revision"] = json!(n);
        }
        let manifest_hash = manifest.manifest_hash.clone();
        let rev = self.commit_change(batch, user, None, Change::ReleaseChanged { release }, detail)?;
        let event = sign_event(&manifest_hash, at_ms, rev, head, key.signing());
        let event = match self.log_proof(batch, rev, key.signing()).await? {
            Some((checkpoint, inclusion)) => sign_event_in_log(event, checkpoint, inclusion, key.signing()),
            None => event,
        };
        batch.commit.manifests.push(ManifestRecord { manifest, event, trace: Some(trace) });
        Ok(to_value(&ReleaseAck {
            revision: rev,
            duplicate: false,
            created: Some(manifest_hash.clone()),
            packet_revision: packet,
            content_hash: hash,
            manifest_hash,
            lane,
            audience,
            from: from.to_string(),
        }))
    }

    /// The room's audit log as a Merkle tree up to and including the audit
    /// entry of the release at room revision `rev` (in this batch): the
    /// signed checkpoint and the inclusion proof of that entry.
    async fn log_proof(
        &self,
        batch: &Batch,
        rev: u64,
        key: &ed25519_dalek::SigningKey,
    ) -> Result<Option<(merkle::SignedCheckpoint, merkle::Inclusion)>, Refusal> {
        let Some(pos) =
            batch.commit.audit.iter().rposition(|e| e.revision == rev && e.kind == "change.release_changed")
        else {
            return Ok(None);
        };
        let mut log =
            self.store.audit_chain(&self.id.to_string()).await.map_err(|e| unavailable("read the audit log", e))?;
        log.extend(batch.commit.audit[..=pos].iter().cloned());
        let leaves = merkle::leaves(&log);
        let index = leaves.len() - 1;
        let checkpoint = merkle::Checkpoint::new(merkle::origin(&self.id.to_string()), &leaves);
        let inclusion = merkle::Inclusion {
            index: index as u64,
            proof: merkle::hashes_to_hex(&merkle::inclusion_proof(index, &leaves)),
            entry: log[index].clone(),
        };
        Ok(Some((merkle::sign_checkpoint(checkpoint, key), inclusion)))
    }

    /// The audit entry that recorded the change producing packet revision
    /// `packet` (in this batch or stored).
    async fn audit_anchor(&self, batch: &Batch, packet: u64) -> Result<Option<AuditAnchor>, Refusal> {
        if packet == 0 {
            return Ok(None);
        }
        if let Some(e) = batch.commit.audit.iter().rev().find(|e| e.revision == packet && e.kind.starts_with("change."))
        {
            return Ok(Some(AuditAnchor { seq: e.seq, hash: e.hash.clone() }));
        }
        let stored = self
            .store
            .audit_change_entry(&self.id.to_string(), packet)
            .await
            .map_err(|e| unavailable("read the audit log", e))?;
        Ok(stored.map(|e| AuditAnchor { seq: e.seq, hash: e.hash }))
    }

    /// The release workflow's other requests: readiness, policy, co-sign,
    /// export, manifest history.
    pub(super) async fn release_request(&mut self, caller: Caller<'_>, request: Request, batch: &mut Batch) -> Answer {
        let Caller { role, stamp, .. } = caller;
        let user = caller.user();
        match request {
            Request::Readiness { .. } => Ok(to_value(&readiness(&self.state))),
            Request::Holds { .. } => self.holds_result(),
            Request::ReleaseStatus { .. } => self.release_status(batch).await,
            Request::SetReleasePolicy { members, disciplines, .. } => {
                if members.len() > MAX_POLICY_MEMBERS {
                    return Err((ErrorCode::TooLarge, format!("a policy names at most {MAX_POLICY_MEMBERS} members")));
                }
                for m in &members {
                    match self.state.member(*m).map(|m| m.role) {
                        None => return Err((ErrorCode::Invalid, format!("user {m} is not a member of this room"))),
                        Some(Role::Agent { .. }) => {
                            return Err((
                                ErrorCode::Invalid,
                                "agents never sign: a policy cannot require an agent".into(),
                            ));
                        }
                        Some(Role::Owner) => {
                            return Err((
                                ErrorCode::Invalid,
                                "owners sign by releasing: a policy cannot require an owner".into(),
                            ));
                        }
                        Some(_) => {}
                    }
                }
                let policy = ReleasePolicy { members, disciplines }.normalized();
                let names: Vec<String> =
                    policy.members.iter().filter_map(|u| self.state.member(*u).map(|m| m.name.clone())).collect();
                let detail = json!({"members": names, "disciplines": policy.disciplines});
                let rev = self.commit_change(batch, user, stamp, Change::ReleasePolicySet { policy }, detail)?;
                Ok(ack(rev, None))
            }
            Request::Cosign { content_hash: signed, lane, audience, .. } => {
                if let Some(why) = cosign_refusal(&self.state.release_policy, user, role) {
                    return Err((ErrorCode::Forbidden, why.into()));
                }
                let discipline = match role {
                    Role::Reviewer { discipline } => Some(*discipline),
                    Role::Agent { .. } | Role::Owner | Role::Observer | Role::Downstream { .. } => None,
                };
                // A content hash is 64 hex digits; anything else is refused
                // without being echoed (it could carry a guess or a paste).
                let signed = signed.trim().to_ascii_lowercase();
                if signed.len() != 64 || !signed.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err((ErrorCode::Invalid, "`content_hash` must be 64 hexadecimal digits (SHA-256)".into()));
                }
                let current = content_hash(&self.state);
                if signed != current {
                    return Err((
                        ErrorCode::Stale,
                        format!(
                            "you signed content {}, but the room's content is {} (packet rev {}); review it again",
                            short(&signed),
                            short(&current),
                            self.state.content_revision
                        ),
                    ));
                }
                let name = self.state.member(user).map(|m| m.name.clone()).unwrap_or_default();
                let cosignature = Cosignature {
                    user,
                    name,
                    role: role.label(),
                    discipline,
                    revision: self.state.content_revision,
                    content_hash: current.clone(),
                    lane: Some(lane),
                    audience,
                    at_ms: now_ms(),
                    voided_at: None,
                };
                let detail = json!({
                    "revision": self.state.content_revision,
                    "content_hash": current,
                    "lane": lane,
                    "audience": audience,
                });
                let rev = self.commit_change(batch, user, stamp, Change::Cosigned { cosignature }, detail)?;
                Ok(ack(rev, None))
            }
            Request::Manifests { .. } => {
                let key = server_key(&self.store).await.map_err(|e| unavailable("read the signing key", e))?;
                let manifests = self.manifest_history(batch).await?;
                Ok(to_value(&ManifestsResult { public_key: key.public_hex(), manifests }))
            }
            Request::Export { revision, format, .. } => {
                let state = self.state_at_revision(batch, revision).await?;
                let manifests = self.manifest_history(batch).await?;
                let release = manifest_for(&manifests, &state);
                let result = self.rendered(batch, &state, release, format).await?;
                let detail = export_detail(&result);
                self.audit(batch, &user.to_string(), "export", detail);
                Ok(to_value(&result))
            }
            _ => Err((ErrorCode::Invalid, "not a release request".into())),
        }
    }

    /// The room's state at room revision `revision` (the current one when
    /// `None`), rebuilt from storage for an older one (this batch is
    /// committed first: storage lags memory by it).
    pub(super) async fn state_at_revision(
        &mut self,
        batch: &mut Batch,
        revision: Option<u64>,
    ) -> Result<RoomState, Refusal> {
        match revision {
            None => Ok(self.state.clone()),
            Some(n) if n == self.state.revision => Ok(self.state.clone()),
            Some(n) if n > self.state.revision => Err((
                ErrorCode::NotFound,
                format!("revision {n} does not exist yet (the room is at rev {})", self.state.revision),
            )),
            Some(n) => {
                if !batch.commit.revisions.is_empty() {
                    let pending = std::mem::take(batch);
                    self.flush(pending).await;
                }
                state_at(&self.store, self.id, Some(n))
                    .await
                    .map_err(|e| unavailable("rebuild that revision", format!("{e:#}")))
            }
        }
    }

    /// The export bundle of `state` with the manifest of `release` (the
    /// one `export` renders; `lane_release` renders a release's bundle).
    pub(super) async fn rendered(
        &self,
        batch: &Batch,
        state: &RoomState,
        release: Option<ManifestRecord>,
        format: ExportFormat,
    ) -> Result<ExportResult, Refusal> {
        let mut log = crate::export::log_upto(&self.store, self.id, state.revision)
            .await
            .map_err(|e| unavailable("read the revision log", format!("{e:#}")))?;
        // Revisions of this batch are in memory only until it commits.
        let stored = log.last().map_or(0, |r| r.revision);
        log.extend(
            batch.commit.revisions.iter().filter(|r| r.revision > stored && r.revision <= state.revision).cloned(),
        );
        Ok(render(state, release, format, &log))
    }

    pub(super) async fn manifest_history(&self, batch: &Batch) -> Result<Vec<ManifestRecord>, Refusal> {
        let mut manifests =
            self.store.manifests(self.id).await.map_err(|e| unavailable("read the manifest history", e))?;
        manifests.extend(batch.commit.manifests.iter().cloned());
        Ok(manifests)
    }

    /// After an accepted content change: when it puts an annex's sensitive
    /// detail into the packet or register, the release is held at once with
    /// the failing check as the reason (unless already held or escalated).
    pub(super) fn hold_on_failing_checks(&mut self, batch: &mut Batch) {
        let Some(rev) = batch.commit.revisions.last() else { return };
        if !rev.change.touches_content() || self.state.release.is_read_only() {
            return;
        }
        let Some((annex, place)) = boundary_failure(&self.state, &rev.change) else { return };
        let reason = format!("room check failed: annex {annex} sensitive detail in {place}");
        self.hold_for_check(batch, trustroom_shared::checks::CheckKind::AnnexBoundary, reason);
    }
}

/// The annex code and place of a sensitive pattern a change brought into
/// the packet or register, if any. Place names never contain the pattern.
fn boundary_failure(state: &RoomState, change: &Change) -> Option<(String, String)> {
    // The annex-boundary room check (trustroom_shared::checks): passages
    // promoted with an owner's approval are exempt, and an active override
    // covering exactly the current violations holds nothing.
    let promoted = trustroom_shared::access::promoted_passages(state);
    let in_section = |id| {
        let s = state.section(id)?;
        let v = trustroom_shared::checks::section_boundary(state, s, &promoted).into_iter().next()?;
        if trustroom_shared::checks::active_override(state, trustroom_shared::checks::CheckKind::AnnexBoundary)
            .is_some()
            && !trustroom_shared::checks::boundary_blocking(state).iter().any(|b| b.section == Some(s.id))
        {
            return None;
        }
        let title = trustroom_shared::export::redact_sensitive(&s.title, state.annexes.values()).0;
        Some((v.annex.unwrap_or_default(), format!("section \"{title}\"")))
    };
    let in_objection = |id| {
        let o = state.objections.get(id)?;
        let a = objection_texts(o).into_iter().flat_map(|t| leaking_annexes(state, t)).next()?;
        Some((a.code.clone(), format!("objection {}", o.code())))
    };
    match change {
        Change::SectionAdded { section, .. } | Change::SectionEdited { section, .. } => in_section(*section),
        Change::ObjectionRaised { objection } => in_objection(&objection.id),
        Change::ReplyAdded { objection, .. } | Change::ObjectionStatusChanged { objection, .. } => {
            in_objection(objection)
        }
        Change::AnnexAdded { .. } => {
            // A new annex's patterns may already be in the packet or register.
            state
                .sections
                .iter()
                .find_map(|s| in_section(s.id))
                .or_else(|| state.objections.keys().find_map(in_objection))
        }
        _ => None,
    }
}

fn short(hash: &str) -> String {
    hash.chars().take(16).collect()
}

pub(super) fn export_detail(r: &ExportResult) -> Value {
    json!({
        "format": r.format,
        "revision": r.revision,
        "packet_revision": r.packet_revision,
        "content_hash": r.content_hash,
        "exact": r.exact,
        "released": r.released,
        "bytes": r.text.len(),
        "sha256": trustroom_shared::canonical::sha256_hex(r.text.as_bytes()),
    })
}

impl Room {
    /// The transformation trace of packet revision `packet`: the revisions
    /// since the release of the packet revision before, from storage and
    /// this batch.
    async fn transformation_trace(
        &self,
        batch: &Batch,
        packet: u64,
    ) -> Result<trustroom_shared::trace::Trace, super::Refusal> {
        let since = trustroom_shared::trace::window_start(&self.state, packet);
        let mut log = self
            .store
            .revisions_between(self.id, since, packet)
            .await
            .map_err(|e| unavailable("read the revision log for the transformation trace", e))?;
        let stored = log.last().map_or(since, |r| r.revision);
        log.extend(batch.commit.revisions.iter().filter(|r| r.revision > stored && r.revision <= packet).cloned());
        Ok(trustroom_shared::trace::trace(&self.state, &log))
    }
}
