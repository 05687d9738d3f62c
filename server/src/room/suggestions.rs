//! Suggestions against one room: proposing (with boundary-rule flags),
//! accepting (applied as normal changes naming proposer and acceptor),
//! rejecting with a reason, withdrawing, the acceptor list, the boundary
//! rules, and the room's metrics. See `docs/suggestions.md`.

use serde_json::{Value, json};
use trustroom_shared::UserId;
use trustroom_shared::boundary::{self, RuleError};
use trustroom_shared::change::{Change, ClientStamp};
use trustroom_shared::ids::{ObjectionId, SectionId, SuggestionId};
use trustroom_shared::objection::{ObjectionStatus, StatusChange};
use trustroom_shared::ot::{Component, TextOp};
use trustroom_shared::protocol::{AcceptAck, ErrorCode, Request, SuggestAck, SuggestionsResult};
use trustroom_shared::role::Role;
use trustroom_shared::suggestion::{
    self as sg, Amendment, Decision, Proposal, RegisterProposal, Suggestion, SuggestionStatus,
};

use super::requests::{Caller, forbidden, invalid, text_field, to_value};
use super::{Answer, Batch, Refusal, Room};

/// Checks evidence references: at most [`sg::MAX_EVIDENCE`], each a short
/// token without whitespace or control characters.
fn evidence_refs(evidence: Vec<String>) -> Result<Vec<String>, Refusal> {
    if evidence.len() > sg::MAX_EVIDENCE {
        return Err((
            ErrorCode::TooLarge,
            format!("{} evidence references (limit {})", evidence.len(), sg::MAX_EVIDENCE),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(evidence.len());
    for e in evidence {
        let e = e.trim().to_string();
        if e.is_empty() || e.chars().count() > sg::MAX_EVIDENCE_CHARS {
            return Err(invalid(format!("an evidence reference must have 1..={} characters", sg::MAX_EVIDENCE_CHARS)));
        }
        if e.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid("an evidence reference is one token (no spaces or control characters)"));
        }
        if !out.contains(&e) {
            out.push(e);
        }
    }
    Ok(out)
}

/// Counts inserted and deleted chars of an operation.
fn ins_del(op: &TextOp) -> (usize, usize) {
    op.components().iter().fold((0, 0), |(i, d), c| match c {
        Component::Insert(s) => (i + s.chars().count(), d),
        Component::Delete(n) => (i, d + n),
        Component::Retain(_) => (i, d),
    })
}

impl Room {
    fn member_name(&self, user: UserId) -> String {
        self.state.member(user).map_or_else(|| user.to_string(), |m| m.name.clone())
    }

    fn suggestion(&self, id: SuggestionId) -> Result<&Suggestion, Refusal> {
        self.state
            .suggestions
            .suggestions
            .get(&id)
            .ok_or_else(|| (ErrorCode::NotFound, format!("suggestion {id} not found")))
    }

    fn may_decide(&self, user: UserId, role: &Role, what: &str) -> Result<(), Refusal> {
        sg::may_decide(&self.state.suggestions, user, role).map_err(|r| match r {
            sg::DecideRefusal::Role => forbidden(format!("your role ({}) may not {what} suggestions", role.label())),
            sg::DecideRefusal::NotAllowed => {
                forbidden(format!("only owners, and reviewers an owner allowed, may {what} suggestions"))
            }
        })
    }

    pub(super) async fn suggestion_request(
        &mut self,
        caller: Caller<'_>,
        request: Request,
        batch: &mut Batch,
    ) -> Answer {
        let Caller { role, stamp, .. } = caller;
        let user = caller.user();
        match request {
            Request::Suggest { section, base, op, rationale, evidence, .. } => {
                let rationale = text_field("rationale", &rationale, sg::MAX_RATIONALE_CHARS, true)?;
                let evidence = evidence_refs(evidence)?;
                self.suggestion_room_left()?;
                let op = self.incoming_op(section, base, op)?;
                if op.is_noop() {
                    return Err(invalid("the suggestion changes nothing"));
                }
                // Restricted detail was refused by the ingress gate (gate.rs).
                let (ins, del) = ins_del(&op);
                let proposal = Proposal::Edit { section, op };
                let detail = json!({"section": section, "base": base, "inserted": ins, "deleted": del});
                self.propose(batch, user, role, stamp, proposal, rationale, evidence, detail)
            }
            Request::SuggestRegister { change, rationale, evidence, .. } => {
                let rationale = text_field("rationale", &rationale, sg::MAX_RATIONALE_CHARS, true)?;
                let evidence = evidence_refs(evidence)?;
                self.suggestion_room_left()?;
                let change = self.valid_register_proposal(change)?;
                let detail = json!({"action": change.action(), "objections": change.objections()});
                self.propose(batch, user, role, stamp, Proposal::Register { change }, rationale, evidence, detail)
            }
            Request::AcceptSuggestion { suggestion, note, .. } => {
                let note = note.map(|n| text_field("note", &n, sg::MAX_RATIONALE_CHARS, false)).transpose()?;
                self.accept(batch, user, role, stamp, suggestion, note)
            }
            Request::RejectSuggestion { suggestion, reason, .. } => {
                let reason = text_field("reason", &reason, sg::MAX_RATIONALE_CHARS, true)?;
                let s = self.suggestion(suggestion)?;
                self.may_decide(user, role, "reject")?;
                if !matches!(s.status, SuggestionStatus::Open | SuggestionStatus::Conflicting) {
                    return Err((ErrorCode::Conflict, format!("suggestion {} is already {}", s.code(), s.status)));
                }
                let detail = json!({
                    "suggestion": suggestion, "code": s.code(), "status": SuggestionStatus::Rejected,
                    "proposer": s.proposer, "proposer_name": self.member_name(s.proposer),
                    "rejecter": user, "rejecter_name": self.member_name(user), "reason": reason,
                    "flags": s.flags.iter().map(|f| f.rule.clone()).collect::<Vec<_>>(),
                });
                let decision =
                    Decision { status: SuggestionStatus::Rejected, by: user, reason: Some(reason), at_ms: self.now() };
                let rev =
                    self.commit_change(batch, user, stamp, Change::SuggestionDecided { suggestion, decision }, detail)?;
                Ok(super::requests::ack(rev, None))
            }
            Request::WithdrawSuggestion { suggestion, .. } => {
                let s = self.suggestion(suggestion)?;
                if s.proposer != user {
                    return Err(forbidden("only the proposer may withdraw a suggestion"));
                }
                if !matches!(s.status, SuggestionStatus::Open | SuggestionStatus::Conflicting) {
                    return Err((ErrorCode::Conflict, format!("suggestion {} is already {}", s.code(), s.status)));
                }
                let detail = json!({"suggestion": suggestion, "code": s.code(), "status": SuggestionStatus::Withdrawn});
                let decision =
                    Decision { status: SuggestionStatus::Withdrawn, by: user, reason: None, at_ms: self.now() };
                let rev =
                    self.commit_change(batch, user, stamp, Change::SuggestionDecided { suggestion, decision }, detail)?;
                Ok(super::requests::ack(rev, None))
            }
            Request::Suggestions { .. } => {
                let st = &self.state.suggestions;
                // Filtered per recipient on the way out (egress.rs).
                let mut suggestions: Vec<Suggestion> = st.suggestions.values().cloned().collect();
                suggestions.sort_by_key(|s| s.number);
                Ok(to_value(&SuggestionsResult {
                    suggestions,
                    acceptors: st.acceptors.clone(),
                    rules: st.rules(),
                    default_rules: st.boundary_rules.is_none(),
                }))
            }
            Request::SetSuggestionAcceptors { members, .. } => {
                if *role != Role::Owner {
                    return Err(forbidden("only an owner may choose who decides suggestions"));
                }
                if members.len() > 256 {
                    return Err((ErrorCode::TooLarge, "too many acceptors".into()));
                }
                for m in &members {
                    match self.state.member(*m).map(|x| x.role) {
                        None => return Err(invalid(format!("{m} is not a member of this room"))),
                        Some(Role::Reviewer { .. }) => {}
                        Some(Role::Owner) => {
                            return Err(invalid("owners always decide suggestions; list reviewers only"));
                        }
                        Some(other) => {
                            return Err(invalid(format!(
                                "a {} never decides suggestions; list reviewers only",
                                other.label()
                            )));
                        }
                    }
                }
                let names: Vec<String> = members.iter().map(|m| self.member_name(*m)).collect();
                let detail = json!({"acceptors": members, "names": names});
                let rev = self.commit_change(
                    batch,
                    user,
                    None,
                    Change::SuggestionAcceptorsSet { acceptors: members },
                    detail,
                )?;
                Ok(super::requests::ack(rev, None))
            }
            Request::SetBoundaryRules { rules, .. } => {
                if *role != Role::Owner {
                    return Err(forbidden("only an owner may set the room's boundary rules"));
                }
                if let Some(r) = &rules {
                    boundary::validate(r).map_err(|e| match e {
                        RuleError::TooMany(_) => (ErrorCode::TooLarge, e.to_string()),
                        RuleError::Bad(..) => invalid(e.to_string()),
                    })?;
                }
                let detail = json!({
                    "defaults": rules.is_none(),
                    "rules": rules.as_ref().map(|r| r.iter().map(|x| x.id.clone()).collect::<Vec<_>>()),
                });
                let rev = self.commit_change(batch, user, None, Change::BoundaryRulesSet { rules }, detail)?;
                Ok(super::requests::ack(rev, None))
            }
            Request::Stats { .. } => self.stats(batch).await,
            _ => Err(invalid("not a suggestion request")),
        }
    }

    /// Refuses a new suggestion when the room holds the most it may.
    fn suggestion_room_left(&self) -> Result<(), Refusal> {
        if self.state.suggestions.suggestions.len() >= self.config.max_objections {
            return Err((ErrorCode::TooLarge, "the room holds the most suggestions it may (limit reached)".into()));
        }
        Ok(())
    }

    /// Validates a register proposal against the current register.
    fn valid_register_proposal(&self, change: RegisterProposal) -> Result<RegisterProposal, Refusal> {
        let max_text = self.config.max_text_chars;
        if let RegisterProposal::MergeObjections { keep, duplicates } = &change {
            if duplicates.is_empty() {
                return Err(invalid("a merge names at least one duplicate"));
            }
            if duplicates.len() > sg::MAX_MERGE {
                return Err((ErrorCode::TooLarge, format!("at most {} duplicates per merge", sg::MAX_MERGE)));
            }
            let mut seen = std::collections::BTreeSet::new();
            if duplicates.contains(keep) || !duplicates.iter().all(|d| seen.insert(*d)) {
                return Err(invalid("a merge names each objection once, the kept one not among the duplicates"));
            }
        }
        for id in change.objections() {
            let Some(o) = self.state.objections.get(&id) else {
                return Err((ErrorCode::NotFound, format!("objection {id} not found")));
            };
            if !o.is_open() {
                return Err((ErrorCode::Conflict, format!("objection {} is {}", o.code(), o.status)));
            }
        }
        Ok(match change {
            RegisterProposal::Reword { objection, text } => {
                let text = text_field("text", &text, max_text, true)?;
                if self.state.objections.get(&objection).is_some_and(|o| o.text == text) {
                    return Err(invalid("the new text is the same as the objection's"));
                }
                RegisterProposal::Reword { objection, text }
            }
            RegisterProposal::SetKind { objection, kind } => {
                if self.state.objections.get(&objection).is_some_and(|o| o.kind == kind) {
                    return Err(invalid(format!("the objection's kind is already {kind}")));
                }
                RegisterProposal::SetKind { objection, kind }
            }
            RegisterProposal::SetAnchor { objection, statement, quote } => {
                if statement.is_none() && quote.is_none() {
                    return Err(invalid("an anchor names a `statement`, a `quote`, or both"));
                }
                let quote = quote.map(|q| text_field("quote", &q, max_text, true)).transpose()?;
                self.check_anchor(objection, statement, quote.as_deref())?;
                RegisterProposal::SetAnchor { objection, statement, quote }
            }
            merge @ RegisterProposal::MergeObjections { .. } => merge,
        })
    }

    /// Whether `statement` and `quote` fit the objection's section now.
    fn check_anchor(
        &self,
        objection: ObjectionId,
        statement: Option<usize>,
        quote: Option<&str>,
    ) -> Result<(), Refusal> {
        let section: Option<SectionId> = self.state.objections.get(&objection).map(|o| o.anchor.section);
        let body = section.and_then(|s| self.state.section(s)).map(|s| s.body.as_str()).unwrap_or_default();
        if statement.is_some_and(|n| n >= trustroom_shared::statement::statements(body).len()) {
            return Err(invalid("`statement` is not a paragraph index of the objection's section"));
        }
        if quote.is_some_and(|q| !body.contains(q) || !self.quote_occurs(body, q)) {
            return Err(invalid("`quote` does not occur in the objection's section"));
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn propose(
        &mut self,
        batch: &mut Batch,
        user: UserId,
        role: &Role,
        stamp: Option<ClientStamp>,
        proposal: Proposal,
        rationale: String,
        evidence: Vec<String>,
        mut detail: Value,
    ) -> Answer {
        let mut suggestion = Suggestion {
            id: SuggestionId::new(),
            number: self.state.suggestions.next_number(),
            proposer: user,
            proposer_role: *role,
            proposal,
            rationale,
            evidence,
            status: SuggestionStatus::Open,
            flags: Vec::new(),
            proposed_revision: self.state.revision,
            revision: self.state.revision,
            conflict: None,
            decision: None,
            at_ms: self.now(),
        };
        suggestion.flags =
            boundary::evaluate(&self.state.suggestions.rules(), &suggestion.inserted_text(), &suggestion.rationale);
        let id = suggestion.id;
        let code = suggestion.code();
        let flags = suggestion.flags.clone();
        detail["suggestion"] = json!(id);
        detail["code"] = json!(code);
        detail["proposer_role"] = json!(role.label());
        detail["evidence"] = json!(suggestion.evidence);
        detail["flags"] = json!(flags.iter().map(|f| f.rule.clone()).collect::<Vec<_>>());
        let rev = self.commit_change(batch, user, stamp, Change::SuggestionProposed { suggestion }, detail)?;
        Ok(to_value(&SuggestAck {
            revision: rev,
            duplicate: false,
            created: Some(id.to_string()),
            code: Some(code),
            flags,
        }))
    }

    /// Accepts a suggestion: the decision, then the change itself as a
    /// normal change by the acceptor whose audit entry names both.
    /// Everything is validated before the first change is queued, so the
    /// pair is applied whole or not at all.
    fn accept(
        &mut self,
        batch: &mut Batch,
        user: UserId,
        role: &Role,
        stamp: Option<ClientStamp>,
        id: SuggestionId,
        note: Option<String>,
    ) -> Answer {
        let s = self.suggestion(id)?.clone();
        self.may_decide(user, role, "accept")?;
        if s.status != SuggestionStatus::Open {
            let why = s.conflict.as_deref().map(|c| format!(" ({c})")).unwrap_or_default();
            return Err((ErrorCode::Conflict, format!("suggestion {} is {}{why}", s.code(), s.status)));
        }
        let proposer_name = self.member_name(s.proposer);
        let acceptor_name = self.member_name(user);
        let attribution = json!({
            "suggestion": id, "code": s.code(),
            "proposer": s.proposer, "proposer_name": proposer_name, "proposer_role": s.proposer_role.label(),
            "acceptor": user, "acceptor_name": acceptor_name,
        });
        // Validate the follow-up changes first.
        let mut gate_section = None;
        let follow: Vec<(Change, Value)> = match &s.proposal {
            Proposal::Edit { section, op } => {
                let text_op = op;
                let sec = self
                    .state
                    .section(*section)
                    .ok_or_else(|| (ErrorCode::NotFound, format!("section {section} not found")))?;
                if text_op.base_len() != sec.len {
                    return Err((
                        ErrorCode::Conflict,
                        format!("suggestion {} no longer fits the section; reject it", s.code()),
                    ));
                }
                if text_op.target_len() > self.config.max_section_chars {
                    return Err((
                        ErrorCode::TooLarge,
                        format!("section would exceed {} characters", self.config.max_section_chars),
                    ));
                }
                gate_section = Some((*section, text_op.clone()));
                let (ins, del) = ins_del(text_op);
                let mut detail = attribution.clone();
                detail["section"] = json!(section);
                detail["inserted"] = json!(ins);
                detail["deleted"] = json!(del);
                detail["via"] = json!("suggestion");
                vec![(Change::SectionEdited { section: *section, op: op.clone() }, detail)]
            }
            Proposal::Register { change } => {
                for o in change.objections() {
                    let obj = self
                        .state
                        .objections
                        .get(&o)
                        .ok_or_else(|| (ErrorCode::NotFound, format!("objection {o} not found")))?;
                    if !obj.is_open() {
                        return Err((ErrorCode::Conflict, format!("objection {} is {}", obj.code(), obj.status)));
                    }
                }
                let now = self.now();
                let amend = |amendment: Amendment, objection| {
                    let mut detail = attribution.clone();
                    detail["objection"] = json!(objection);
                    detail["amendment"] = json!(amendment);
                    (Change::ObjectionAmended { objection, amendment }, detail)
                };
                match change {
                    RegisterProposal::MergeObjections { keep, duplicates } => {
                        let keep_code = self.state.objections.get(keep).map(|o| o.code()).unwrap_or_default();
                        duplicates
                            .iter()
                            .map(|d| {
                                let rationale = format!(
                                    "merged into {keep_code} ({}, proposed by {proposer_name}, accepted by {acceptor_name})",
                                    s.code()
                                );
                                let change = StatusChange { status: ObjectionStatus::Withdrawn, by: user, rationale: Some(rationale), at_ms: now };
                                let mut detail = attribution.clone();
                                detail["objection"] = json!(d);
                                detail["status"] = json!(ObjectionStatus::Withdrawn);
                                detail["merged_into"] = json!(keep);
                                (Change::ObjectionStatusChanged { objection: *d, change }, detail)
                            })
                            .collect()
                    }
                    RegisterProposal::Reword { objection, text } => {
                        vec![amend(
                            Amendment { text: Some(text.clone()), suggestion: Some(id), ..Amendment::default() },
                            *objection,
                        )]
                    }
                    RegisterProposal::SetKind { objection, kind } => {
                        vec![amend(
                            Amendment { kind: Some(*kind), suggestion: Some(id), ..Amendment::default() },
                            *objection,
                        )]
                    }
                    RegisterProposal::SetAnchor { objection, statement, quote } => {
                        self.check_anchor(*objection, *statement, quote.as_deref()).map_err(|(_, m)| {
                            (ErrorCode::Conflict, format!("{m}; the section changed since the suggestion"))
                        })?;
                        vec![amend(
                            Amendment {
                                statement: *statement,
                                quote: quote.clone(),
                                suggestion: Some(id),
                                ..Amendment::default()
                            },
                            *objection,
                        )]
                    }
                }
            }
        };
        // The edit must not assemble restricted detail with the section's
        // current text (the ingress gate, gate.rs).
        if let Some((section, op)) = gate_section {
            self.gate_section(batch, user, section, &op)?;
        }
        let mut detail = attribution.clone();
        detail["status"] = json!(SuggestionStatus::Accepted);
        detail["note"] = json!(note);
        let decision = Decision { status: SuggestionStatus::Accepted, by: user, reason: note, at_ms: self.now() };
        let decided =
            self.commit_change(batch, user, stamp, Change::SuggestionDecided { suggestion: id, decision }, detail)?;
        let mut last = decided;
        for (change, detail) in follow {
            match self.commit_change(batch, user, None, change, detail) {
                Ok(rev) => last = rev,
                Err((code, message)) => {
                    // Validated above; reaching this is a bug. The decision
                    // is already queued: report it loudly.
                    tracing::error!(room = %self.id, suggestion = %id, "accepted suggestion could not be applied ({code}): {message}");
                    return Err((
                        ErrorCode::Internal,
                        format!("the accepted suggestion could not be applied: {message}"),
                    ));
                }
            }
        }
        Ok(to_value(&AcceptAck { revision: last, duplicate: false, decision_revision: Some(decided) }))
    }

    /// The room's metrics from its full revision log, with the annex views
    /// counted from its audit log.
    async fn stats(&mut self, batch: &Batch) -> Answer {
        let mut log = self
            .store
            .revisions_between(self.id, 0, self.state.revision)
            .await
            .map_err(|e| (ErrorCode::Unavailable, format!("cannot read the revision log right now: {e}")))?;
        let stored = log.last().map_or(0, |r| r.revision);
        log.extend(batch.commit.revisions.iter().filter(|r| r.revision > stored).cloned());
        let chain = self.audit_chain_through(batch).await?;
        let views = chain.iter().filter(|e| e.kind == "annex.view").count() as u64;
        let stats = trustroom_shared::stats::compute(&self.state, &log, Some(views));
        Ok(to_value(&stats))
    }
}
