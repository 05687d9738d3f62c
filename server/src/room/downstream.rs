//! Downstream lanes talking back: the lane requests of a downstream member
//! (`lane_releases`, `lane_release`, `intake`, `report_finding`) and the
//! `lane_status` push to the connections that sent one. The rules are in
//! `trustroom_shared::downstream`.
//!
//! The capability check (`intake`, which only downstream members have)
//! happens before this is reached (`requests.rs`). A release of another
//! lane answers exactly like a manifest hash no release has: `not_found`.

use std::collections::BTreeMap;

use serde_json::json;
use trustroom_shared::change::Change;
use trustroom_shared::downstream::{
    FindingKind, FoundDownstream, Intake, IntakeDecision, IntakeRefusal, current_intake, intake_refusal, lane_releases,
    manifest_hash,
};
use trustroom_shared::export::ExportFormat;
use trustroom_shared::ids::{ObjectionId, SectionId};
use trustroom_shared::manifest::ManifestRecord;
use trustroom_shared::objection::{Anchor, Objection, ObjectionStatus};
use trustroom_shared::protocol::{Ack, ErrorCode, LaneReleaseResult, LaneReleasesResult, ServerFrame};
use trustroom_shared::release::Lane;
use trustroom_shared::release_status::{StatusBody, statuses};

use super::release::{export_detail, unavailable};
use super::requests::{Caller, ack, conflict, forbidden, invalid, text_field, to_value};
use super::{Answer, Batch, Refusal, Room};
use crate::outbox::ConnInfo;

/// A connection of a downstream member that sent a lane request: it gets
/// `lane_status` frames for its lane, and nothing else of the room.
pub(super) struct LaneWatcher {
    conn: ConnInfo,
    lane: Lane,
    /// The status last told (manifest hash → `current`/`superseded`/`withdrawn`).
    told: BTreeMap<String, String>,
}

/// One release of a lane with its status.
struct LaneRelease {
    record: ManifestRecord,
    status: StatusBody,
}

impl LaneWatcher {
    pub(super) fn user(&self) -> trustroom_shared::UserId {
        self.conn.user
    }
}

fn lane_of(caller: &Caller<'_>) -> Result<Lane, Refusal> {
    trustroom_shared::downstream::lane_of(caller.role)
        .ok_or_else(|| forbidden("only downstream members of a lane send lane requests"))
}

fn told(statuses: &[StatusBody], lane: Lane) -> BTreeMap<String, String> {
    statuses.iter().filter(|s| s.lane == lane).map(|s| (s.manifest_hash.clone(), s.status.name().to_string())).collect()
}

impl Room {
    /// Every release's record and status (first release event of each
    /// manifest), as of now.
    async fn release_statuses(&self, batch: &Batch) -> Result<(Vec<ManifestRecord>, Vec<StatusBody>), Refusal> {
        let records = self.manifest_history(batch).await?;
        let all = statuses(&self.state, &records, "");
        Ok((records, all))
    }

    /// The release `manifest` of `lane`, and every release's status:
    /// `invalid` for a malformed hash, `not_found` for another lane's
    /// release and for no release at all (the same words).
    async fn lane_release_of(
        &self,
        batch: &Batch,
        lane: Lane,
        manifest: &str,
    ) -> Result<(LaneRelease, Vec<StatusBody>), Refusal> {
        let hash = manifest_hash(manifest).map_err(invalid)?;
        let (records, all) = self.release_statuses(batch).await?;
        let not_found = || (ErrorCode::NotFound, format!("no release of the {lane} lane has manifest {hash}"));
        let status = all.iter().find(|s| s.lane == lane && s.manifest_hash == hash).cloned().ok_or_else(not_found)?;
        let record = records
            .into_iter()
            .filter(|r| r.manifest.manifest_hash == hash)
            .min_by_key(|r| r.event.release_revision)
            .ok_or_else(not_found)?;
        Ok((LaneRelease { record, status }, all))
    }

    /// Subscribes `conn` to `lane_status` pushes of `lane` (once; what it
    /// was told stays as it was, so no change is skipped).
    fn watch_lane(&mut self, conn: &ConnInfo, lane: Lane, all: &[StatusBody]) {
        self.lane_watchers.entry(conn.conn_id).or_insert_with(|| LaneWatcher {
            conn: conn.clone(),
            lane,
            told: told(all, lane),
        });
    }

    /// `lane_releases`: the releases of the member's lane with their status
    /// and the member's own intake decision.
    pub(super) async fn lane_releases(&mut self, caller: Caller<'_>, batch: &mut Batch) -> Answer {
        let lane = lane_of(&caller)?;
        let user = caller.user();
        let (records, all) = self.release_statuses(batch).await?;
        self.watch_lane(caller.conn, lane, &all);
        let released_at = |hash: &str| {
            records
                .iter()
                .filter(|r| r.manifest.manifest_hash == hash)
                .map(|r| r.event.released_at_ms)
                .min()
                .unwrap_or_default()
        };
        let releases = lane_releases(&self.state, &all, released_at, user, lane);
        let detail = json!({"lane": lane, "releases": releases.len()});
        self.audit(batch, &user.to_string(), "lane.releases", detail);
        Ok(to_value(&LaneReleasesResult { lane, revision: self.state.revision, releases }))
    }

    /// `lane_release`: the redacted export bundle of one release of the
    /// member's lane, as `export` renders it for that release.
    pub(super) async fn lane_release(
        &mut self,
        caller: Caller<'_>,
        batch: &mut Batch,
        manifest: &str,
        format: Option<ExportFormat>,
    ) -> Answer {
        let lane = lane_of(&caller)?;
        let user = caller.user();
        let (release, all) = self.lane_release_of(batch, lane, manifest).await?;
        self.watch_lane(caller.conn, lane, &all);
        let state = self.state_at_revision(batch, Some(release.record.event.release_revision)).await?;
        let format = format.unwrap_or(ExportFormat::Json);
        let export = self.rendered(batch, &state, Some(release.record.clone()), format).await?;
        let mut detail = export_detail(&export);
        detail["manifest_hash"] = json!(release.status.manifest_hash);
        detail["lane"] = json!(lane);
        self.audit(batch, &user.to_string(), "lane.release", detail);
        Ok(to_value(&LaneReleaseResult {
            manifest_hash: release.status.manifest_hash,
            lane,
            status: release.status.status.name().to_string(),
            export,
        }))
    }

    /// `intake`: the member's decision on one release of its lane. The
    /// same decision again answers the first one (`duplicate`).
    pub(super) async fn intake(
        &mut self,
        caller: Caller<'_>,
        batch: &mut Batch,
        manifest: &str,
        decision: IntakeDecision,
        reason: Option<String>,
    ) -> Answer {
        let lane = lane_of(&caller)?;
        let user = caller.user();
        let reason = reason.map(|r| text_field("reason", &r, self.config.max_text_chars, false)).transpose()?;
        let (release, all) = self.lane_release_of(batch, lane, manifest).await?;
        self.watch_lane(caller.conn, lane, &all);
        if let Some((kind, msg)) = intake_refusal(decision, reason.as_deref(), &release.status.status) {
            return Err(match kind {
                IntakeRefusal::Invalid => invalid(msg),
                IntakeRefusal::Conflict => conflict(msg),
            });
        }
        let hash = release.status.manifest_hash.clone();
        if let Some(now) = current_intake(&self.state, user, &hash)
            && now.decision == decision
            && now.reason == reason
        {
            return Ok(to_value(&Ack { revision: now.revision, duplicate: true, created: None }));
        }
        let intake = Intake {
            manifest_hash: hash.clone(),
            release_revision: release.status.release_revision,
            lane,
            by: user,
            decision,
            reason: reason.clone(),
            at_ms: self.now(),
            revision: self.state.revision + 1,
        };
        let before = current_intake(&self.state, user, &hash).map(|i| i.decision);
        let detail = json!({
            "manifest_hash": hash,
            "lane": lane,
            "packet_revision": release.status.packet_revision,
            "decision": decision,
            "reason": reason,
            "before": before,
        });
        let rev = self.commit_change(batch, user, caller.stamp, Change::IntakeDecided { intake }, detail)?;
        Ok(ack(rev, None))
    }

    /// `report_finding`: a finding on one release of the member's lane
    /// opens an objection marked found downstream, anchored to the
    /// packet's first section (it is about the packet as released).
    pub(super) async fn report_finding(
        &mut self,
        caller: Caller<'_>,
        batch: &mut Batch,
        manifest: &str,
        kind: FindingKind,
        text: &str,
        blocking: bool,
    ) -> Answer {
        let lane = lane_of(&caller)?;
        let user = caller.user();
        let text = text_field("text", text, self.config.max_text_chars, true)?;
        let (release, all) = self.lane_release_of(batch, lane, manifest).await?;
        self.watch_lane(caller.conn, lane, &all);
        if self.state.objections.len() >= self.config.max_objections {
            return Err((ErrorCode::TooLarge, "the register is full (limit reached)".into()));
        }
        let section = self.state.sections.first().map_or(SectionId(uuid::Uuid::nil()), |s| s.id);
        let found = FoundDownstream {
            manifest_hash: release.status.manifest_hash.clone(),
            release_revision: release.status.release_revision,
            lane,
            finding: kind,
        };
        let objection = Objection {
            id: ObjectionId::new(),
            number: self.state.next_objection_number(),
            author: user,
            anchor: Anchor { section, statement: None, quote: None },
            kind: kind.objection_kind(),
            blocking,
            text,
            status: ObjectionStatus::Open,
            rationale: None,
            replies: Vec::new(),
            history: Vec::new(),
            at_ms: self.now(),
            found_downstream: Some(found),
        };
        let id = objection.id;
        let detail = json!({
            "objection": id,
            "code": objection.code(),
            "kind": objection.kind,
            "blocking": blocking,
            "found_downstream": {
                "manifest_hash": release.status.manifest_hash,
                "lane": lane,
                "finding": kind,
                "packet_revision": release.status.packet_revision,
            },
        });
        let rev = self.commit_change(batch, user, caller.stamp, Change::ObjectionRaised { objection }, detail)?;
        Ok(ack(rev, Some(id.to_string())))
    }

    /// After a committed batch: tells each lane watcher of every release of
    /// its lane whose status changed (or that is new) since it was last told.
    pub(super) async fn push_lane_status(&mut self) {
        self.lane_watchers.retain(|_, w| !w.conn.out.is_closed());
        if self.lane_watchers.is_empty() {
            return;
        }
        let records = match self.store.manifests(self.id).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(room = %self.id, "cannot read the manifest history for lane pushes: {}", unavailable("read", e).1);
                return;
            }
        };
        let all = statuses(&self.state, &records, "");
        let mut stalled = Vec::new();
        let ids: Vec<u64> = self.lane_watchers.keys().copied().collect();
        for id in ids {
            let Some(w) = self.lane_watchers.get(&id) else { continue };
            let (lane, user) = (w.lane, w.conn.user);
            let changed: Vec<&StatusBody> = all
                .iter()
                .filter(|s| s.lane == lane && w.told.get(&s.manifest_hash).map(String::as_str) != Some(s.status.name()))
                .collect();
            let mut frames = Vec::new();
            for s in &changed {
                let frame = ServerFrame::LaneStatus {
                    room: self.id,
                    lane,
                    manifest_hash: s.manifest_hash.clone(),
                    packet_revision: s.packet_revision,
                    status: s.status.name().to_string(),
                    why: trustroom_shared::downstream::status_why(&s.status),
                    revision: self.state.revision,
                };
                frames.push(self.egress_frame(user, &frame));
            }
            let Some(w) = self.lane_watchers.get_mut(&id) else { continue };
            for frame in frames {
                if !w.conn.out.try_frame(frame) {
                    stalled.push(id);
                    break;
                }
            }
            w.told = told(&all, lane);
        }
        for id in stalled {
            if let Some(w) = self.lane_watchers.remove(&id) {
                w.conn.out.close_now(ErrorCode::TooLarge, "you fell too far behind; reconnect");
            }
        }
    }

    /// A lane watcher's connection left (or its member was removed).
    pub(super) fn unwatch_lane(&mut self, conn_id: u64) {
        self.lane_watchers.remove(&conn_id);
    }
}
