//! Evidence bindings of one room: after each batch the citations the
//! packet makes are bound to (or released from) registered record versions
//! (`trustroom_shared::evidence::updates`), and `confirm_evidence` lets an
//! editor re-confirm a stale citation against the record's newest version.

use std::collections::BTreeSet;

use serde_json::json;
use trustroom_shared::UserId;
use trustroom_shared::change::{Change, ClientStamp};
use trustroom_shared::evidence::{self, BindReason, BindingUpdate};
use trustroom_shared::ids::SectionId;
use trustroom_shared::protocol::ErrorCode;

use super::requests::{ack, conflict, invalid};
use super::{ADMIN_ACTOR, Answer, Batch, Room};

impl Room {
    /// `confirm_evidence`: the section's citation of `source` is checked
    /// against the record's newest version again.
    pub(super) fn confirm_evidence(
        &mut self,
        batch: &mut Batch,
        user: UserId,
        stamp: Option<ClientStamp>,
        section: SectionId,
        source: &str,
    ) -> Answer {
        if let Some(why) = trustroom_shared::source::invalid_id(source) {
            return Err(invalid(why));
        }
        let Some(sec) = self.state.section(section) else {
            return Err((ErrorCode::NotFound, format!("section {section} not found")));
        };
        let title = sec.title.clone();
        let Some(binding) = self.state.evidence.binding(section, source) else {
            let cited = evidence::citations(sec).into_iter().any(|(ids, _)| ids.iter().any(|i| i == source));
            return Err(if cited {
                (ErrorCode::NotFound, format!("no source record {source} is registered: `add_source` it first"))
            } else {
                (ErrorCode::NotFound, format!("section \"{title}\" does not cite {source}"))
            });
        };
        let Some(stale) = binding.stale.clone() else {
            return Err(conflict(format!(
                "\"{title}\" already cites {source} v{} (its newest version): nothing to re-confirm",
                binding.version
            )));
        };
        let update = BindingUpdate::Bind {
            section,
            source: source.to_string(),
            version: stale.version,
            digest: stale.digest.clone(),
            why: BindReason::Confirmed,
        };
        let detail = json!({
            "section": section,
            "source": source,
            "from_version": binding.version,
            "version": stale.version,
            "digest": stale.digest,
            "why": BindReason::Confirmed,
        });
        let rev = self.commit_change(batch, user, stamp, Change::EvidenceRebound { updates: vec![update] }, detail)?;
        Ok(ack(rev, None))
    }

    /// Binds new citations, maintains updated ones and ends dropped ones
    /// after the batch's changes (one `evidence_rebound`, by the room).
    pub(super) fn rebind_evidence(&mut self, batch: &mut Batch) {
        let ev = &self.state.evidence;
        if ev.sources.is_empty() && ev.bindings.is_empty() {
            return;
        }
        let mut touched = BTreeSet::new();
        let mut all = false;
        for r in &batch.commit.revisions {
            match &r.change {
                Change::SectionAdded { section, .. } | Change::SectionEdited { section, .. } => {
                    touched.insert(*section);
                }
                Change::SourceRecorded { .. } => all = true,
                _ => {}
            }
        }
        if touched.is_empty() && !all {
            return;
        }
        let updates = evidence::updates(&self.state, (!all).then_some(&touched));
        if updates.is_empty() {
            return;
        }
        let detail = json!({
            "automatic": true,
            "updates": updates.iter().map(|u| match u {
                BindingUpdate::Bind { section, source, version, why, .. } =>
                    json!({"bind": source, "section": section, "version": version, "why": why}),
                BindingUpdate::Unbind { section, source, why } =>
                    json!({"unbind": source, "section": section, "why": why}),
            }).collect::<Vec<_>>(),
        });
        if let Err((code, message)) =
            self.commit_change(batch, ADMIN_ACTOR, None, Change::EvidenceRebound { updates }, detail)
        {
            tracing::error!(room = %self.id, "cannot rebind evidence ({code}): {message}");
        }
    }
}
