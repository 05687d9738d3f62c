//! Requests against one room: authorization, validation, and the change
//! each accepted request becomes.

use serde_json::{Value, json};
use trustroom_shared::UserId;
use trustroom_shared::annex::Annex;
use trustroom_shared::change::{Change, ClientStamp};
use trustroom_shared::ids::{ObjectionId, ReplyId, SectionId};
use trustroom_shared::objection::{
    Anchor, Objection, ObjectionStatus, Reply, StatusActor, StatusChange, StatusRefusal, status_change_refusal,
};
use trustroom_shared::ot::{OpLimits, TextOp, WireComponent, normalize_newlines, transform_server};
use trustroom_shared::protocol::{Ack, ErrorCode, Presence, Request, ServerFrame};
use trustroom_shared::role::Role;

use super::{Answer, Batch, Refusal, Room};
use crate::admin::AdminCommand;
use crate::clock::now_ms;
use crate::config::ServerConfig;
use crate::outbox::{ConnInfo, encode};

/// Validates a client's wire operation: the one place an incoming
/// operation is parsed (edits and suggestions). Newlines are normalized
/// first; the server's limits apply, capped at [`OpLimits::DECODE`] so
/// every stored operation decodes again; inserted text has no control
/// characters. Over a limit: `too_large`; malformed: `invalid`. From here
/// on the operation travels typed (history, changes, storage, fan-out).
pub(super) fn validated_op(wire: Vec<WireComponent>, config: &ServerConfig) -> Result<TextOp, Refusal> {
    let wire: Vec<WireComponent> = wire
        .into_iter()
        .map(|c| match c {
            WireComponent::Text(t) => WireComponent::Text(normalize_newlines(&t)),
            other @ WireComponent::Count(_) => other,
        })
        .collect();
    let limits =
        OpLimits { max_components: config.max_op_components, max_text_chars: config.max_section_chars }.capped();
    let op = TextOp::from_wire(&wire, limits).map_err(|e| match e {
        trustroom_shared::ot::OpError::TooLarge(m) => (ErrorCode::TooLarge, m),
        other => invalid(other.to_string()),
    })?;
    if op.components().iter().any(|c| matches!(c, trustroom_shared::ot::Component::Insert(s) if s.chars().any(|ch| ch.is_control() && ch != '\n' && ch != '\t'))) {
        return Err(invalid("inserted text contains control characters"));
    }
    Ok(op)
}

/// Who sent a request, as every handler needs it: the member's
/// connection, their role in the room (checked against the request table
/// before any handler runs) and the request's idempotency stamp.
#[derive(Clone, Copy)]
pub(super) struct Caller<'a> {
    pub conn: &'a ConnInfo,
    pub role: &'a Role,
    pub stamp: Option<ClientStamp>,
}

impl Caller<'_> {
    pub(super) fn user(&self) -> UserId {
        self.conn.user
    }
}

/// The answer to an applied change: its revision and what it created.
pub(super) fn ack(revision: u64, created: Option<String>) -> Value {
    to_value(&Ack { revision, duplicate: false, created })
}

/// A result as the `ok` answer's value.
pub(super) fn to_value<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

pub(super) fn invalid(msg: impl Into<String>) -> Refusal {
    (ErrorCode::Invalid, msg.into())
}

pub(super) fn forbidden(msg: impl Into<String>) -> Refusal {
    (ErrorCode::Forbidden, msg.into())
}

pub(super) fn conflict(msg: impl Into<String>) -> Refusal {
    (ErrorCode::Conflict, msg.into())
}

/// Checks a free text field: trimmed non-empty (when required) and within
/// the limit; returns it with normalized newlines.
pub(super) fn text_field(name: &str, value: &str, max: usize, required: bool) -> Result<String, Refusal> {
    let v = normalize_newlines(value);
    if required && trustroom_shared::blank::is_blank(&v) {
        return Err(invalid(format!("`{name}` must not be empty (or only invisible characters)")));
    }
    let n = v.chars().count();
    if n > max {
        return Err((ErrorCode::TooLarge, format!("`{name}` has {n} characters (limit {max})")));
    }
    if v.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(invalid(format!("`{name}` contains control characters")));
    }
    Ok(v)
}

/// The id a change created, as returned in its `Ack`.
fn created_id(change: &Change) -> Option<String> {
    match change {
        Change::SectionAdded { section, .. } => Some(section.to_string()),
        Change::ObjectionRaised { objection } => Some(objection.id.to_string()),
        Change::ReplyAdded { reply, .. } => Some(reply.id.to_string()),
        Change::SuggestionProposed { suggestion } => Some(suggestion.id.to_string()),
        _ => None,
    }
}

impl Room {
    /// The answer to a resend of an applied request: its first `Ack`.
    async fn duplicate_ack(&self, revision: u64) -> Value {
        let in_memory = self.history.iter().find(|r| r.revision == revision).map(|r| created_id(&r.change));
        let created = match in_memory {
            Some(c) => c,
            None => match self.store.revisions_between(self.id, revision - 1, revision).await {
                Ok(revs) => revs.first().and_then(|r| created_id(&r.change)),
                Err(_) => None,
            },
        };
        to_value(&Ack { revision, duplicate: true, created })
    }

    /// Handles one request from a connection. What the request needs comes
    /// from the request table (`trustroom_shared::requests`), in this order:
    /// membership (not found), agent guardrail and capability (forbidden),
    /// read-only room, resend of an applied request, the ingress gate for
    /// restricted detail (gate.rs), then the request's own rules.
    pub(super) async fn request(&mut self, conn: &ConnInfo, request: Request, batch: &mut Batch) -> Answer {
        let user = conn.user;
        let spec = request.spec();
        let what = spec.name;
        let Some(member) = self.state.member(user).cloned() else {
            return self.refuse(batch, user, what, crate::hub::room_not_found());
        };
        // Agents only ever propose: the table says which kinds they may send.
        if let Role::Agent { agent_role } = &member.role
            && !spec.agents
        {
            let msg = format!("agents only propose: an agent ({agent_role}) may not {}", what.replace('_', " "));
            return self.refuse(batch, user, what, (ErrorCode::Forbidden, msg));
        }
        let cap = request.capability();
        if !trustroom_shared::access::capabilities_of(&self.state, user, &member.role).contains(&cap) {
            let msg = format!("your role ({}) may not {}", member.role.label(), what.replace('_', " "));
            return self.refuse(batch, user, what, (ErrorCode::Forbidden, msg));
        }
        // An escalated room refuses every change first, resends included
        // (docs/protocol.md: read-only comes before the duplicate answer).
        if spec.mutates && !spec.read_only_ok && self.state.release.is_read_only() {
            return self.refuse(
                batch,
                user,
                what,
                (ErrorCode::ReadOnly, "the room is escalated to direct human handling and is read-only".into()),
            );
        }
        // Idempotent resend: the first answer again, nothing applied twice.
        // `conn.client` is bound to the authenticated user (connection.rs),
        // so nobody can answer for another user's seq.
        if let Some(seq) = request.seq() {
            if self.client_seqs.get(&conn.client).is_some_and(|max| seq <= *max) {
                match self.store.find_client_seq(self.id, conn.client, seq).await {
                    Ok(Some(revision)) => return Ok(self.duplicate_ack(revision).await),
                    Ok(None) => {}
                    Err(e) => return Err((ErrorCode::Unavailable, format!("cannot check for a resend: {e}"))),
                }
            }
            // Also a resend of something earlier in this same batch.
            if let Some(rev) =
                batch.commit.revisions.iter().find(|r| r.client == Some(ClientStamp { client: conn.client, seq }))
            {
                let created = created_id(&rev.change);
                return Ok(to_value(&Ack { revision: rev.revision, duplicate: true, created }));
            }
        }
        // The ingress gate: no free-text field may carry an annex's
        // restricted detail.
        if let Err(refusal) = self.gate(batch, user, &request) {
            return self.refuse(batch, user, what, refusal);
        }
        let stamp = request.seq().map(|seq| ClientStamp { client: conn.client, seq });
        let caller = Caller { conn, role: &member.role, stamp };
        let result = self.dispatch(caller, request, batch).await;
        match result {
            Ok(v) => {
                if spec.mutates {
                    self.hold_on_failing_checks(batch);
                }
                Ok(v)
            }
            Err(refusal) => self.refuse(batch, user, what, refusal),
        }
    }

    async fn dispatch(&mut self, caller: Caller<'_>, request: Request, batch: &mut Batch) -> Answer {
        let Caller { conn, role, stamp } = caller;
        let user = conn.user;
        let max_text = self.config.max_text_chars;
        match request {
            Request::AddSection { title, body, after, .. } => {
                let title = text_field("title", &title, 200, true)?;
                let body = normalize_newlines(&body);
                if body.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
                    return Err(invalid("`body` contains control characters"));
                }
                if body.chars().count() > self.config.max_section_chars {
                    return Err((
                        ErrorCode::TooLarge,
                        format!("section body over {} characters", self.config.max_section_chars),
                    ));
                }
                if self.state.sections.len() >= self.config.max_sections {
                    return Err((
                        ErrorCode::TooLarge,
                        format!("the room already has {} sections (limit)", self.config.max_sections),
                    ));
                }
                if self.state.sections.iter().any(|s| s.title == title) {
                    return Err((ErrorCode::Conflict, format!("a section titled {title:?} already exists")));
                }
                let id = SectionId::new();
                let detail = json!({"section": id, "title": title, "chars": body.chars().count()});
                let rev = self.commit_change(
                    batch,
                    user,
                    stamp,
                    Change::SectionAdded { section: id, title, body, after },
                    detail,
                )?;
                Ok(ack(rev, Some(id.to_string())))
            }
            Request::Edit { section, base, op, .. } => self.edit(batch, user, stamp, section, base, op).await,
            Request::Object { section, kind, blocking, text, statement, quote, .. } => {
                let text = text_field("text", &text, max_text, true)?;
                let quote = quote.map(|q| text_field("quote", &q, max_text, true)).transpose()?;
                if self.state.objections.len() >= self.config.max_objections {
                    return Err((ErrorCode::TooLarge, "the register is full (limit reached)".into()));
                }
                let Some(sec) = self.state.section(section) else {
                    return Err((ErrorCode::NotFound, format!("section {section} not found")));
                };
                if statement.is_some_and(|n| n >= trustroom_shared::statement::statements(&sec.body).len()) {
                    return Err(invalid("`statement` is not a paragraph index of the section"));
                }
                if let Some(q) = &quote
                    && (!sec.body.contains(q.as_str()) || !self.quote_occurs(&sec.body, q))
                {
                    return Err(invalid("`quote` does not occur in the section"));
                }
                let objection = Objection {
                    id: ObjectionId::new(),
                    number: self.state.next_objection_number(),
                    author: user,
                    anchor: Anchor { section, statement, quote },
                    kind,
                    blocking,
                    text,
                    status: ObjectionStatus::Open,
                    rationale: None,
                    replies: Vec::new(),
                    history: Vec::new(),
                    at_ms: now_ms(),
                    found_downstream: None,
                };
                let id = objection.id;
                let detail = json!({"objection": id, "code": objection.code(), "kind": kind, "blocking": blocking, "section": section});
                let rev = self.commit_change(batch, user, stamp, Change::ObjectionRaised { objection }, detail)?;
                Ok(ack(rev, Some(id.to_string())))
            }
            Request::Reply { objection, text, .. } => {
                let text = text_field("text", &text, max_text, true)?;
                if !self.state.objections.contains_key(&objection) {
                    return Err((ErrorCode::NotFound, format!("objection {objection} not found")));
                }
                let reply = Reply { id: ReplyId::new(), author: user, text, at_ms: now_ms() };
                let id = reply.id;
                let detail = json!({"objection": objection, "reply": id});
                let rev = self.commit_change(batch, user, stamp, Change::ReplyAdded { objection, reply }, detail)?;
                Ok(ack(rev, Some(id.to_string())))
            }
            Request::SetObjectionStatus { objection, status, rationale, .. } => {
                let rationale = rationale.map(|r| text_field("rationale", &r, max_text, false)).transpose()?;
                // A break-glass review: owners only, with a rationale (access.rs).
                if let Some(refusal) = self.review_resolution_refused(objection, status, rationale.as_deref(), role) {
                    return Err(refusal);
                }
                let Some(o) = self.state.objections.get(&objection) else {
                    return Err((ErrorCode::NotFound, format!("objection {objection} not found")));
                };
                // The lifecycle (withdrawn and accepted-residual are final), who
                // may withdraw or reopen, and when a rationale is needed
                // (objection.rs).
                let actor = StatusActor { user, owner: *role == Role::Owner };
                if let Some(refusal) = status_change_refusal(o, status, actor, rationale.as_deref()) {
                    return Err(match refusal {
                        StatusRefusal::Conflict(m) => (ErrorCode::Conflict, m),
                        StatusRefusal::Forbidden(m) => (ErrorCode::Forbidden, m),
                        StatusRefusal::Invalid(m) => (ErrorCode::Invalid, m),
                    });
                }
                let from = o.status;
                let change = StatusChange { status, by: user, rationale, at_ms: now_ms() };
                let detail =
                    json!({"objection": objection, "from": from, "status": status, "rationale": change.rationale});
                let rev = self.commit_change(
                    batch,
                    user,
                    stamp,
                    Change::ObjectionStatusChanged { objection, change },
                    detail,
                )?;
                Ok(ack(rev, None))
            }
            // Need-to-know, an active grant or an active break-glass (access.rs).
            Request::ViewAnnex { annex, .. } => self.view_annex(batch, user, annex),
            Request::Cursor { section, pos, anchor, .. } => {
                let Some(sec) = self.state.section(section) else {
                    return Err((ErrorCode::NotFound, format!("section {section} not found")));
                };
                if pos > sec.len || anchor.is_some_and(|a| a > sec.len) {
                    return Err(invalid("cursor position beyond the end of the section"));
                }
                let name = self.state.member(user).map(|m| m.name.clone()).unwrap_or_default();
                let presence =
                    Presence { user, name, client: conn.client, section, pos, anchor, revision: self.state.revision };
                self.presence.insert(conn.client, presence.clone());
                let frame = encode(&ServerFrame::Presence { room: self.id, presence });
                self.broadcast(&frame, Some(conn.conn_id));
                Ok(json!({}))
            }
            request @ (Request::Hold { .. }
            | Request::ClearHold { .. }
            | Request::WithdrawRelease { .. }
            | Request::MarkReady { .. }
            | Request::Release { .. }
            | Request::ReleasePacket { .. }
            | Request::Escalate { .. }) => self.decide(batch, user, request).await,
            // A downstream member's lane requests (downstream.rs).
            Request::LaneReleases { .. } => self.lane_releases(caller, batch).await,
            Request::LaneRelease { manifest, format, .. } => self.lane_release(caller, batch, &manifest, format).await,
            Request::Intake { manifest, decision, reason, .. } => {
                self.intake(caller, batch, &manifest, decision, reason).await
            }
            Request::ReportFinding { manifest, kind, text, blocking, .. } => {
                self.report_finding(caller, batch, &manifest, kind, &text, blocking).await
            }
            request @ (Request::Readiness { .. }
            | Request::Holds { .. }
            | Request::ReleaseStatus { .. }
            | Request::SetReleasePolicy { .. }
            | Request::Cosign { .. }
            | Request::Export { .. }
            | Request::Manifests { .. }) => self.release_request(caller, request, batch).await,
            request @ (Request::RequestAccess { .. }
            | Request::WithdrawAccess { .. }
            | Request::ApproveAccess { .. }
            | Request::DenyAccess { .. }
            | Request::RevokeGrant { .. }
            | Request::BreakGlass { .. }
            | Request::EndBreakGlass { .. }
            | Request::RequestPromotion { .. }
            | Request::ViewPromotion { .. }
            | Request::ApprovePromotion { .. }
            | Request::DenyPromotion { .. }
            | Request::OverrideCheck { .. }
            | Request::SetAccessPolicy { .. }
            | Request::AccessHistory { .. }) => self.access_request(caller, request, batch).await,
            request @ (Request::Suggest { .. }
            | Request::SuggestRegister { .. }
            | Request::AcceptSuggestion { .. }
            | Request::RejectSuggestion { .. }
            | Request::WithdrawSuggestion { .. }
            | Request::Suggestions { .. }
            | Request::SetSuggestionAcceptors { .. }
            | Request::SetBoundaryRules { .. }
            | Request::Stats { .. }) => self.suggestion_request(caller, request, batch).await,
            Request::AddSource { records, .. } => self.add_source(batch, user, stamp, records),
            Request::Sources { .. } => self.sources_result(),
            Request::ViewSource { source, version, .. } => self.view_source(batch, user, &source, version),
            Request::ConfirmEvidence { section, source, .. } => {
                self.confirm_evidence(batch, user, stamp, section, &source)
            }
            Request::Rooms | Request::Join { .. } | Request::Leave { .. } | Request::Ping => {
                Err(invalid("this request is not handled by a room"))
            }
        }
    }

    /// Validates a client's operation on `section` against room revision
    /// `base` and transforms it over every edit of the section accepted
    /// since, so it applies to the current text (edits and suggestions).
    pub(super) fn incoming_op(
        &self,
        section: SectionId,
        base: u64,
        wire: Vec<WireComponent>,
    ) -> Result<TextOp, Refusal> {
        if self.state.section(section).is_none() {
            return Err((ErrorCode::NotFound, format!("section {section} not found")));
        }
        if base > self.state.revision {
            return Err((
                ErrorCode::Stale,
                format!("base revision {base} is from the future (room is at {}); resync", self.state.revision),
            ));
        }
        let mut op = validated_op(wire, &self.config)?;
        let oldest_kept = self.history.front().map_or(self.state.revision + 1, |r| r.revision);
        // Transform against every edit of this section accepted after
        // `base`. The room keeps `history_window` revisions in memory (also
        // across restarts); an older base cannot be transformed safely.
        if base + 1 < oldest_kept {
            return Err((
                ErrorCode::Stale,
                format!(
                    "base revision {base} is older than the history this room keeps (from rev {oldest_kept}); resync"
                ),
            ));
        }
        // History is contiguous by revision: start at `base + 1` directly;
        // its edits hold their typed operations.
        let from = ((base + 1).saturating_sub(oldest_kept) as usize).min(self.history.len());
        for rev in self.history.range(from..) {
            let Change::SectionEdited { section: s, op: accepted } = &rev.change else { continue };
            if rev.revision <= base || *s != section {
                continue;
            }
            op = transform_server(&op, accepted).map_err(|_| {
                invalid(format!("operation length {} does not match the section at revision {base}", op.base_len()))
            })?;
        }
        let sec =
            self.state.section(section).ok_or_else(|| (ErrorCode::NotFound, format!("section {section} not found")))?;
        if op.base_len() != sec.len {
            return Err(invalid(format!(
                "operation expects {} characters but the section has {} at revision {}",
                op.base_len(),
                sec.len,
                self.state.revision
            )));
        }
        if op.target_len() > self.config.max_section_chars {
            return Err((
                ErrorCode::TooLarge,
                format!("section would exceed {} characters", self.config.max_section_chars),
            ));
        }
        Ok(op)
    }

    async fn edit(
        &mut self,
        batch: &mut Batch,
        user: UserId,
        stamp: Option<ClientStamp>,
        section: SectionId,
        base: u64,
        wire: Vec<WireComponent>,
    ) -> Answer {
        let op = self.incoming_op(section, base, wire)?;
        // Text can be assembled from pieces: check the section as it would be.
        self.gate_section(batch, user, section, &op)?;
        let (ins, del) = op.components().iter().fold((0usize, 0usize), |(i, d), c| match c {
            trustroom_shared::ot::Component::Insert(s) => (i + s.chars().count(), d),
            trustroom_shared::ot::Component::Delete(n) => (i, d + n),
            trustroom_shared::ot::Component::Retain(_) => (i, d),
        });
        let detail = json!({"section": section, "base": base, "inserted": ins, "deleted": del});
        let rev = self.commit_change(batch, user, stamp, Change::SectionEdited { section, op }, detail)?;
        Ok(ack(rev, None))
    }

    /// Applies an administrative command as a change.
    pub(super) fn admin(&mut self, command: AdminCommand, batch: &mut Batch) -> Result<String, String> {
        let admin = super::ADMIN_ACTOR;
        match command {
            AdminCommand::AddMember { member } => {
                let detail = json!({"user": member.user, "name": member.name, "role": member.role.label()});
                let name = member.name.clone();
                let role = member.role.label();
                self.commit_change(batch, admin, None, Change::MemberAdded { member }, detail).map_err(|e| e.1)?;
                Ok(format!("{name} is now {role} in room {}", self.id))
            }
            AdminCommand::RemoveMember { user } => {
                let name = self.state.member(user).map(|m| m.name.clone()).ok_or("not a member of this room")?;
                self.commit_change(
                    batch,
                    admin,
                    None,
                    Change::MemberRemoved { user },
                    json!({"user": user, "name": name}),
                )
                .map_err(|e| e.1)?;
                batch.removals.push((user, "you were removed from this room".into()));
                Ok(format!("{name} removed from room {}", self.id))
            }
            AdminCommand::RevokeUser { .. } => Err("user revocation is not a room command".into()),
            AdminCommand::AddAnnex { annex } => {
                let annex: Annex = *annex;
                let mut annex = annex;
                annex.code = self.state.next_annex_code();
                let code = annex.code.clone();
                let detail = json!({"annex": annex.id, "code": code, "title": annex.title, "classification": annex.classification, "content_hash": annex.content_hash, "need_to_know": annex.need_to_know});
                let id = annex.id;
                self.commit_change(batch, admin, None, Change::AnnexAdded { annex }, detail).map_err(|e| e.1)?;
                self.hold_on_failing_checks(batch);
                Ok(format!("annex {code} ({id}) added"))
            }
            AdminCommand::Audit { kind, detail } => {
                self.audit(batch, "admin", &kind, detail);
                Ok(format!("{kind} recorded in the audit log of room {}", self.id))
            }
            // Annex access governance (access.rs).
            AdminCommand::SetBreakGlass { users } => self.break_glass_admin(batch, users),
            AdminCommand::RunRetention { force } => self.retention_admin(batch, force),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> ServerConfig {
        ServerConfig { max_op_components: 3, max_section_chars: 10, ..ServerConfig::default() }
    }

    fn code(wire: Vec<WireComponent>) -> Result<TextOp, ErrorCode> {
        validated_op(wire, &config()).map_err(|(code, _)| code)
    }

    #[test]
    fn an_op_over_the_limits_is_refused_at_the_edge_as_too_large() {
        let many = vec![
            WireComponent::Count(1),
            WireComponent::Text("a".into()),
            WireComponent::Count(-1),
            WireComponent::Count(1),
        ];
        assert_eq!(code(many).err(), Some(ErrorCode::TooLarge));
        assert_eq!(code(vec![WireComponent::Text("x".repeat(11))]).err(), Some(ErrorCode::TooLarge));
        assert_eq!(code(vec![WireComponent::Count(i64::MIN)]).err(), Some(ErrorCode::TooLarge));
    }

    #[test]
    fn a_malformed_op_is_invalid_and_a_good_one_comes_out_typed() {
        assert_eq!(code(vec![WireComponent::Count(0)]).err(), Some(ErrorCode::Invalid));
        assert_eq!(code(vec![WireComponent::Text("\u{7}".into())]).err(), Some(ErrorCode::Invalid));
        // Newlines are normalized before lengths are counted.
        let op = code(vec![WireComponent::Count(2), WireComponent::Text("a\r\nb".into())]).expect("valid");
        assert_eq!((op.base_len(), op.target_len()), (2, 5));
    }
}
