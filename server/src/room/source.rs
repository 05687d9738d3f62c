//! The source register of one room: `add_source` registers records (a new
//! id, or a new version of a known id), `sources` lists them without text
//! with each citation's state, `view_source` returns one record's text to a
//! member entitled to it (audited). The rules are in
//! `trustroom_shared::source`; restricted records follow their annex's
//! access rules (`trustroom_shared::access::access_via`).
//!
//! The capability check and the read-only check of escalated rooms happen
//! before this is reached (`requests.rs`); the ingress gate has checked the
//! unrestricted records' fields for restricted annex detail.

use serde_json::json;
use trustroom_shared::UserId;
use trustroom_shared::access as acc;
use trustroom_shared::change::{Change, ClientStamp};
use trustroom_shared::evidence::cited_records;
use trustroom_shared::protocol::{AddSourceAck, ErrorCode, RecordAck, SectionCitations, SourceContent, SourcesResult};
use trustroom_shared::source::{
    self as src, MAX_RECORDS_PER_REQUEST, MAX_RECORDS_PER_ROOM, Registered, SourceRecord, classify, version_of,
};

use super::requests::{conflict, forbidden, invalid, to_value};
use super::{Answer, Batch, Refusal, Room};

impl Room {
    /// `add_source`: every record is checked before anything is stored; a
    /// refused record refuses the request (nothing stored half-way).
    pub(super) fn add_source(
        &mut self,
        batch: &mut Batch,
        user: UserId,
        stamp: Option<ClientStamp>,
        records: Vec<SourceRecord>,
    ) -> Answer {
        if records.is_empty() {
            return Err(invalid("`records` is empty: send at least one source record"));
        }
        if records.len() > MAX_RECORDS_PER_REQUEST {
            return Err((
                ErrorCode::TooLarge,
                format!(
                    "{} records in one request (limit {MAX_RECORDS_PER_REQUEST}): send them in parts",
                    records.len()
                ),
            ));
        }
        let mut outcomes = Vec::with_capacity(records.len());
        let mut seen = std::collections::BTreeSet::new();
        let mut new_ids = 0usize;
        let now = self.now();
        for r in &records {
            if let Some(why) = r.invalid() {
                return Err(invalid(why));
            }
            if !seen.insert(r.id.as_str()) {
                return Err(invalid(format!("record {} appears twice in the request", r.id)));
            }
            if let Some(code) = &r.annex {
                self.may_read_annex_code(user, code, now)?;
            }
            let outcome = classify(&self.state.evidence.sources, r).map_err(conflict)?;
            new_ids += usize::from(outcome == Registered::Added);
            outcomes.push(outcome);
        }
        if self.state.evidence.sources.len() + new_ids > MAX_RECORDS_PER_ROOM {
            return Err((
                ErrorCode::TooLarge,
                format!("the room's source register is full ({MAX_RECORDS_PER_ROOM} records)"),
            ));
        }
        let mut acks = Vec::with_capacity(records.len());
        let mut stamp = stamp;
        for (record, outcome) in records.into_iter().zip(outcomes) {
            let record = record.canonical();
            if outcome == Registered::Unchanged {
                let current = self.state.evidence.sources.get(&record.id).and_then(|s| s.current());
                acks.push(RecordAck {
                    id: record.id.clone(),
                    outcome,
                    version: current.map_or(0, |v| v.version),
                    digest: current.map_or_else(String::new, |v| v.digest.clone()),
                });
                continue;
            }
            let salt = crate::auth::new_token();
            let version = version_of(&self.state.evidence.sources, &record, &salt, user, self.state.revision + 1, now);
            let detail = json!({
                "source": record.id,
                "version": version.version,
                "digest": version.digest,
                "outcome": outcome,
                "kind": version.kind,
                "restricted": record.annex,
                "text_chars": version.text_chars,
            });
            acks.push(RecordAck {
                id: record.id.clone(),
                outcome,
                version: version.version,
                digest: version.digest.clone(),
            });
            // The request's seq goes on its first change (one stamp per revision).
            let change = Change::SourceRecorded { source: record.id.clone(), annex: record.annex.clone(), version };
            self.commit_change(batch, user, stamp.take(), change, detail)?;
        }
        Ok(to_value(&AddSourceAck { revision: self.state.revision, duplicate: false, records: acks }))
    }

    /// `sources`: the register without text, and every section's citations.
    pub(super) fn sources_result(&self) -> Answer {
        let state = &self.state;
        let citations = state
            .sections
            .iter()
            .map(|s| SectionCitations {
                section: s.id,
                title: trustroom_shared::export::redact_sensitive(&s.title, state.annexes.values()).0,
                cited: cited_records(state, s),
            })
            .filter(|c| !c.cited.is_empty())
            .collect();
        Ok(to_value(&SourcesResult {
            revision: state.revision,
            sources: state.evidence.sources.values().map(src::Source::redacted).collect(),
            citations,
        }))
    }

    /// `view_source`: one version's text; a restricted record only for a
    /// member who may read its annex now. Audited with how.
    pub(super) fn view_source(&mut self, batch: &mut Batch, user: UserId, id: &str, version: Option<u32>) -> Answer {
        let now = self.now();
        if let Some(why) = src::invalid_id(id) {
            return Err(invalid(why));
        }
        let Some(record) = self.state.evidence.sources.get(id) else {
            return Err((ErrorCode::NotFound, format!("no source record {id} is registered in this room")));
        };
        let versions = record.versions.len() as u32;
        let v = match version {
            Some(n) => record.version(n).ok_or_else(|| {
                (ErrorCode::NotFound, format!("record {id} has no version {n} (versions 1–{versions})"))
            })?,
            None => record.current().ok_or_else(|| (ErrorCode::NotFound, format!("record {id} has no version")))?,
        };
        let annex = record.annex.clone();
        let via = match &annex {
            Some(code) => Some(self.may_read_annex_code(user, code, now)?),
            None => None,
        };
        let Some(text) = v.text.clone() else {
            return Err(conflict(format!(
                "the text of record {id} was purged with annex {}'s content under the room's retention policy; \
                 its digest remains",
                annex.as_deref().unwrap_or("?")
            )));
        };
        let content = SourceContent {
            id: id.to_string(),
            version: v.version,
            versions,
            digest: v.digest.clone(),
            salt: v.salt.clone(),
            time: v.time.clone(),
            kind: v.kind.clone(),
            actor: v.actor.clone(),
            origin: v.origin.clone(),
            annex: annex.clone(),
            text,
            logged: true,
        };
        let mut detail = json!({"source": id, "version": v.version, "digest": v.digest});
        if let (Some(code), Some(via)) = (&annex, &via) {
            detail["annex_code"] = json!(code);
            detail["via"] = json!(via.describe());
        }
        self.audit_at_now(batch, &user.to_string(), "source.view", detail);
        Ok(to_value(&content))
    }

    /// How `user` may read the annex with `code` now, or the refusal.
    fn may_read_annex_code(&self, user: UserId, code: &str, now: i64) -> Result<acc::Via, Refusal> {
        let Some(annex) = self.state.annex_by_code(code) else {
            return Err(invalid(format!(
                "the room has no annex {code:?}: a restricted record names an annex of the room"
            )));
        };
        acc::access_via(&self.state, user, annex.id, Some(now)).ok_or_else(|| {
            forbidden(format!(
                "records restricted to annex {} ({}) follow its rules: you are not on its need-to-know list and hold \
                 no active grant or break-glass for it; `request_access` with a reason",
                annex.code, annex.classification
            ))
        })
    }
}
