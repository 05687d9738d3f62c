//! Changes: every accepted change gets the next room revision, is stored in
//! the operation log and broadcast (redacted) as an event. [`apply`] is the
//! one pure function that moves a room from one revision to the next; the
//! server, a restart replay and every client use it.

use serde::{Deserialize, Serialize};

use crate::access::{AccessPolicy, AccessRequest, BreakGlass, Decided, Ended, Fold, Promotion, Provenance, Purge};
use crate::annex::Annex;
use crate::boundary::BoundaryRule;
use crate::checks::{CheckKind, CheckOverride, CheckResult};
use crate::holds::{Hold, HoldClearance};
use crate::ids::{AccessRequestId, BreakGlassId, PromotionId};
use crate::ids::{ClientId, ObjectionId, SectionId, SuggestionId, UserId};
use crate::objection::{Objection, ObjectionStatus, Reply, StatusChange, status_move_allowed};
use crate::ot::TextOp;
use crate::release::{Cosignature, LastRelease, ReleasePolicy, ReleaseState};
use crate::room::{Member, RoomState, Section};
use crate::suggestion::{Amendment, Decision, Proposal, RegisterProposal, Suggestion, SuggestionStatus};

/// What changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    SectionAdded {
        section: SectionId,
        title: String,
        body: String,
        /// Insert after this section; `None` appends.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after: Option<SectionId>,
    },
    /// A text operation, already transformed to apply at this revision.
    /// Typed: validated once where it entered (see `crate::ot`), stored and
    /// sent as its wire array.
    SectionEdited {
        section: SectionId,
        op: TextOp,
    },
    ObjectionRaised {
        objection: Objection,
    },
    ReplyAdded {
        objection: ObjectionId,
        reply: Reply,
    },
    ObjectionStatusChanged {
        objection: ObjectionId,
        change: StatusChange,
    },
    AnnexAdded {
        annex: Annex,
    },
    MemberAdded {
        member: Member,
    },
    MemberRemoved {
        user: UserId,
    },
    ReleaseChanged {
        release: ReleaseState,
    },
    /// A hold was placed on the release (by an owner or a failing room
    /// check): the room is HELD while any hold is open.
    HoldPlaced {
        hold: Hold,
    },
    /// A hold was cleared (by an owner with a rationale, or by its check
    /// passing again); the record stays in the register. With no hold left
    /// open the room goes back to drafting.
    HoldCleared {
        hold: u32,
        clearance: HoldClearance,
    },
    /// An owner withdrew a release (its status becomes `withdrawn`).
    ReleaseWithdrawn {
        withdrawal: crate::release_status::Withdrawal,
    },
    /// The owner set the co-signatures a release needs.
    /// A downstream member's intake decision on a release of its lane.
    IntakeDecided {
        intake: crate::downstream::Intake,
    },
    ReleasePolicySet {
        policy: ReleasePolicy,
    },
    /// A member co-signed the current content hash.
    Cosigned {
        cosignature: Cosignature,
    },
    // --- Annex access governance (see `access` and `checks`) ---
    /// A member asked for access to an annex (state `requested`).
    AccessRequested {
        request: AccessRequest,
    },
    /// A later, overlapping request folded into a pending request or an
    /// active grant (timers never stack).
    AccessFolded {
        request: AccessRequestId,
        fold: Fold,
    },
    /// An owner (never the requester) approved, with the grant's expiry, or denied.
    AccessDecided {
        request: AccessRequestId,
        approved: bool,
        decided: Decided,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expires_at: Option<i64>,
    },
    /// The requester withdrew a pending request.
    AccessWithdrawn {
        request: AccessRequestId,
        at_ms: i64,
    },
    /// A grant ended: expired on the server's clock, revoked by an owner,
    /// or its holder left the room. Clients drop the annex content at once.
    GrantEnded {
        grant: AccessRequestId,
        ended: Ended,
    },
    /// A member on the break-glass list opened annexes for at most 30 minutes.
    BreakGlassInvoked {
        invocation: BreakGlass,
    },
    /// A break-glass ended; the room opened its blocking review objection.
    BreakGlassEnded {
        invocation: BreakGlassId,
        ended: Ended,
        review: Objection,
    },
    /// A member asked to promote an annex passage into a section.
    PromotionRequested {
        promotion: Promotion,
    },
    /// An owner decided a promotion: approved when `provenance` is present
    /// (the passage follows as a `section_edited` change), else denied.
    PromotionDecided {
        promotion: PromotionId,
        decided: Decided,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        provenance: Option<Provenance>,
    },
    /// The room's access policy (reasons, durations, break-glass list,
    /// auditors, retention).
    AccessPolicySet {
        policy: AccessPolicy,
    },
    /// The server evaluated the room checks; these fail now.
    ChecksEvaluated {
        checks: Vec<CheckResult>,
    },
    /// An owner overrode one failing check with a rationale.
    CheckOverridden {
        check_override: CheckOverride,
    },
    /// What an override covered changed: it no longer applies.
    CheckOverrideLapsed {
        check: CheckKind,
    },
    /// Retention purged the annex content (metadata and hashes remain).
    ContentPurged {
        purge: Purge,
    },
    // --- Suggestions (see `suggestion` and `boundary`) ---
    /// A member proposed a section edit or register change.
    SuggestionProposed {
        suggestion: Suggestion,
    },
    /// A suggestion was accepted, rejected (with a reason) or withdrawn by
    /// its proposer. An accepted edit follows as `section_edited`; an
    /// accepted register change as `objection_amended` or
    /// `objection_status_changed`.
    SuggestionDecided {
        suggestion: SuggestionId,
        decision: Decision,
    },
    /// The owner set which reviewers may accept and reject suggestions.
    SuggestionAcceptorsSet {
        acceptors: Vec<UserId>,
    },
    /// The owner set the room's boundary rules (`None`: the defaults).
    BoundaryRulesSet {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rules: Option<Vec<BoundaryRule>>,
    },
    /// An objection's text, kind or anchor changed (an accepted register suggestion).
    ObjectionAmended {
        objection: ObjectionId,
        amendment: Amendment,
    },
    /// A member's requests were refused for restricted detail of annexes
    /// they may not read more often than the probe budget allows: their
    /// free-text requests are refused unread until `until_ms`. Shown to the
    /// owners as an alert; carries no text of the refused requests.
    ProbeSuspected {
        user: UserId,
        name: String,
        until_ms: i64,
    },
    // --- Evidence lineage (see `source` and `evidence`) ---
    /// A source record was registered, or a new version of it (other
    /// content under a known id). Its text never leaves the server.
    SourceRecorded {
        source: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        annex: Option<String>,
        version: crate::source::SourceVersion,
    },
    /// Citations were bound to record versions, or their bindings ended.
    EvidenceRebound {
        updates: Vec<crate::evidence::BindingUpdate>,
    },
}

impl Change {
    /// The form that may leave the server (annex content stripped).
    pub fn redacted(&self) -> Change {
        match self {
            Change::AnnexAdded { annex } => Change::AnnexAdded { annex: annex.redacted() },
            Change::PromotionRequested { promotion } => Change::PromotionRequested { promotion: promotion.redacted() },
            Change::SourceRecorded { source, annex, version } => Change::SourceRecorded {
                source: source.clone(),
                annex: annex.clone(),
                version: crate::source::SourceVersion { text: None, salt: None, ..version.clone() },
            },
            other => other.clone(),
        }
    }

    /// Whether the change alters the packet, register or annex map (and so
    /// the content hash), as opposed to membership or release state.
    pub fn touches_content(&self) -> bool {
        !matches!(
            self,
            Change::MemberAdded { .. }
                | Change::MemberRemoved { .. }
                | Change::ReleaseChanged { .. }
                | Change::HoldPlaced { .. }
                | Change::HoldCleared { .. }
                | Change::ReleaseWithdrawn { .. }
                | Change::IntakeDecided { .. }
                | Change::ReleasePolicySet { .. }
                | Change::Cosigned { .. }
                | Change::AccessRequested { .. }
                | Change::AccessFolded { .. }
                | Change::AccessDecided { .. }
                | Change::AccessWithdrawn { .. }
                | Change::GrantEnded { .. }
                | Change::BreakGlassInvoked { .. }
                | Change::PromotionRequested { .. }
                | Change::PromotionDecided { .. }
                | Change::AccessPolicySet { .. }
                | Change::ChecksEvaluated { .. }
                | Change::CheckOverridden { .. }
                | Change::CheckOverrideLapsed { .. }
                | Change::ContentPurged { .. }
                | Change::SuggestionProposed { .. }
                | Change::SuggestionDecided { .. }
                | Change::SuggestionAcceptorsSet { .. }
                | Change::BoundaryRulesSet { .. }
                | Change::ProbeSuspected { .. }
                | Change::SourceRecorded { .. }
                | Change::EvidenceRebound { .. }
        )
    }

    /// Short name used in the audit log.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Change::SectionAdded { .. } => "section_added",
            Change::SectionEdited { .. } => "section_edited",
            Change::ObjectionRaised { .. } => "objection_raised",
            Change::ReplyAdded { .. } => "reply_added",
            Change::ObjectionStatusChanged { .. } => "objection_status_changed",
            Change::AnnexAdded { .. } => "annex_added",
            Change::MemberAdded { .. } => "member_added",
            Change::MemberRemoved { .. } => "member_removed",
            Change::ReleaseChanged { .. } => "release_changed",
            Change::HoldPlaced { .. } => "hold_placed",
            Change::HoldCleared { .. } => "hold_cleared",
            Change::ReleaseWithdrawn { .. } => "release_withdrawn",
            Change::IntakeDecided { .. } => "intake_decided",
            Change::ReleasePolicySet { .. } => "release_policy_set",
            Change::Cosigned { .. } => "cosigned",
            Change::AccessRequested { .. } => "access_requested",
            Change::AccessFolded { .. } => "access_folded",
            Change::AccessDecided { .. } => "access_decided",
            Change::AccessWithdrawn { .. } => "access_withdrawn",
            Change::GrantEnded { .. } => "grant_ended",
            Change::BreakGlassInvoked { .. } => "break_glass_invoked",
            Change::BreakGlassEnded { .. } => "break_glass_ended",
            Change::PromotionRequested { .. } => "promotion_requested",
            Change::PromotionDecided { .. } => "promotion_decided",
            Change::AccessPolicySet { .. } => "access_policy_set",
            Change::ChecksEvaluated { .. } => "checks_evaluated",
            Change::CheckOverridden { .. } => "check_overridden",
            Change::CheckOverrideLapsed { .. } => "check_override_lapsed",
            Change::ContentPurged { .. } => "content_purged",
            Change::SuggestionProposed { .. } => "suggestion_proposed",
            Change::SuggestionDecided { .. } => "suggestion_decided",
            Change::SuggestionAcceptorsSet { .. } => "suggestion_acceptors_set",
            Change::BoundaryRulesSet { .. } => "boundary_rules_set",
            Change::ObjectionAmended { .. } => "objection_amended",
            Change::ProbeSuspected { .. } => "probe_suspected",
            Change::SourceRecorded { .. } => "source_recorded",
            Change::EvidenceRebound { .. } => "evidence_rebound",
        }
    }
}

/// Who made a change from which client request (for idempotent resends).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientStamp {
    pub client: ClientId,
    pub seq: u64,
}

/// One accepted change with its revision, author and time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revision {
    pub revision: u64,
    pub author: UserId,
    pub at_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<ClientStamp>,
    pub change: Change,
}

impl Revision {
    pub fn redacted(&self) -> Revision {
        Revision { change: self.change.redacted(), ..self.clone() }
    }
}

/// Why a change cannot apply to a state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    #[error("revision {got} does not follow {current}")]
    OutOfOrder { current: u64, got: u64 },
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Op(#[from] crate::ot::OpError),
}

/// Applies `rev` to `state`. Validates first; on error `state` is unchanged.
pub fn apply(state: &mut RoomState, rev: &Revision) -> Result<(), ApplyError> {
    if rev.revision != state.revision + 1 {
        return Err(ApplyError::OutOfOrder { current: state.revision, got: rev.revision });
    }
    match &rev.change {
        Change::SectionAdded { section, title, body, after } => {
            if state.section(*section).is_some() {
                return Err(ApplyError::Conflict(format!("section {section} already exists")));
            }
            let at = match after {
                None => state.sections.len(),
                Some(a) => {
                    state
                        .sections
                        .iter()
                        .position(|s| s.id == *a)
                        .ok_or_else(|| ApplyError::NotFound(format!("section {a}")))?
                        + 1
                }
            };
            state.sections.insert(at, Section::new(*section, title.clone(), body.clone(), rev.revision));
        }
        Change::SectionEdited { section, op } => {
            let s = state.section_mut(*section).ok_or_else(|| ApplyError::NotFound(format!("section {section}")))?;
            let body = op.apply(&s.body)?;
            s.len = op.target_len();
            s.body = body;
            s.revision = rev.revision;
            // Open suggestions on the section follow the edit (or conflict).
            crate::suggestion::rebase_on_edit(&mut state.suggestions, *section, op, rev.revision);
        }
        Change::ObjectionRaised { objection } => {
            if state.objections.contains_key(&objection.id) {
                return Err(ApplyError::Conflict(format!("objection {} already exists", objection.id)));
            }
            if state.section(objection.anchor.section).is_none() {
                return Err(ApplyError::NotFound(format!("section {}", objection.anchor.section)));
            }
            state.objections.insert(objection.id, objection.clone());
        }
        Change::ReplyAdded { objection, reply } => {
            let o = state
                .objections
                .get_mut(objection)
                .ok_or_else(|| ApplyError::NotFound(format!("objection {objection}")))?;
            o.replies.push(reply.clone());
        }
        Change::ObjectionStatusChanged { objection, change } => {
            let o = state
                .objections
                .get_mut(objection)
                .ok_or_else(|| ApplyError::NotFound(format!("objection {objection}")))?;
            if !status_move_allowed(o.status, change.status) {
                return Err(refused_move(format!("objection {}", o.code()), o.status, change.status));
            }
            if change.status == ObjectionStatus::AcceptedResidual && blank(change.rationale.as_deref()) {
                return Err(ApplyError::Invalid("accepted-residual needs a rationale".into()));
            }
            o.status = change.status;
            o.rationale = change.rationale.clone();
            o.history.push(change.clone());
            // A reopen does not bring back the register suggestions the
            // close marked conflicting: their authors propose again.
            if change.status != ObjectionStatus::Open {
                crate::suggestion::objection_closed(&mut state.suggestions, *objection, rev.revision);
            }
        }
        Change::AnnexAdded { annex } => {
            if state.annexes.contains_key(&annex.id) {
                return Err(ApplyError::Conflict(format!("annex {} already exists", annex.id)));
            }
            state.annexes.insert(annex.id, annex.clone());
        }
        Change::MemberAdded { member } => {
            state.members.insert(member.user, member.clone());
        }
        Change::MemberRemoved { user } => {
            if state.members.remove(user).is_none() {
                return Err(ApplyError::NotFound(format!("member {user}")));
            }
        }
        Change::ReleaseChanged { release } => {
            if let ReleaseState::Released { revision, content_hash, lane, by, at_ms } = release {
                let holds_since = crate::holds::window_start(state, *revision);
                let trace_since = crate::trace::window_start(state, *revision);
                state.last_release = Some(LastRelease {
                    holds_since,
                    trace_since,
                    revision: *revision,
                    content_hash: content_hash.clone(),
                    lane: *lane,
                    by: *by,
                    at_ms: *at_ms,
                    release_revision: rev.revision,
                    superseded_at: None,
                });
            }
            state.release = release.clone();
        }
        Change::HoldPlaced { hold } => {
            if state.release.is_read_only() {
                return Err(ApplyError::Conflict(format!("the room is {}", state.release.name())));
            }
            if hold.number != crate::holds::next_number(state) {
                return Err(ApplyError::Invalid(format!(
                    "hold {} is out of order (next is {})",
                    hold.code(),
                    crate::holds::code(crate::holds::next_number(state))
                )));
            }
            let legacy = crate::holds::legacy_reasons(&state.release);
            state.holds.push(hold.clone());
            let reasons = [legacy, crate::holds::open_reasons(state)].concat();
            state.release = ReleaseState::Held { reasons, by: rev.author, at_ms: hold.at_ms };
        }
        Change::HoldCleared { hold, clearance } => {
            if state.release.is_read_only() {
                return Err(ApplyError::Conflict(format!("the room is {}", state.release.name())));
            }
            let Some(h) = state.holds.iter_mut().find(|h| h.number == *hold) else {
                return Err(ApplyError::NotFound(format!("hold {}", crate::holds::code(*hold))));
            };
            if h.cleared.is_some() {
                return Err(ApplyError::Conflict(format!("hold {} is already cleared", h.code())));
            }
            h.cleared = Some(clearance.clone());
            let legacy = crate::holds::legacy_reasons(&state.release);
            let reasons = [legacy, crate::holds::open_reasons(state)].concat();
            if let ReleaseState::Held { by, at_ms, .. } = &state.release {
                state.release = if reasons.is_empty() {
                    ReleaseState::Drafting
                } else {
                    ReleaseState::Held { reasons, by: *by, at_ms: *at_ms }
                };
            }
        }
        Change::ReleaseWithdrawn { withdrawal } => {
            if state.withdrawals.iter().any(|w| w.manifest_hash == withdrawal.manifest_hash) {
                return Err(ApplyError::Conflict(format!("release {} is already withdrawn", withdrawal.manifest_hash)));
            }
            state.withdrawals.push(withdrawal.clone());
        }
        Change::IntakeDecided { intake } => {
            if state.withdrawals.iter().any(|w| w.manifest_hash == intake.manifest_hash) {
                return Err(ApplyError::Conflict(format!(
                    "release {} was withdrawn: it takes no intake decision",
                    intake.manifest_hash
                )));
            }
            state.intakes.push(intake.clone());
        }
        Change::ReleasePolicySet { policy } => {
            state.release_policy = policy.clone().normalized();
        }
        Change::Cosigned { cosignature } => {
            // One co-signature per member and lane: the same scope twice for
            // the same content is a conflict; another audience for the same
            // lane replaces the earlier one; another lane is kept beside it.
            if state.cosignatures.iter().any(|c| {
                c.user == cosignature.user
                    && c.is_valid()
                    && c.content_hash == cosignature.content_hash
                    && c.lane == cosignature.lane
                    && c.audience == cosignature.audience
            }) {
                return Err(ApplyError::Conflict(format!(
                    "{} already co-signed this content for {} (rev {})",
                    cosignature.name,
                    cosignature.scope(),
                    cosignature.revision
                )));
            }
            // The member's earlier co-signature for this lane (valid or
            // voided) is replaced, and so is any legacy one (no lane).
            state
                .cosignatures
                .retain(|c| c.user != cosignature.user || (c.lane != cosignature.lane && c.lane.is_some()));
            let mut signed = cosignature.clone();
            signed.voided_at = None;
            state.cosignatures.push(signed);
        }
        Change::AccessRequested { .. }
        | Change::AccessFolded { .. }
        | Change::AccessDecided { .. }
        | Change::AccessWithdrawn { .. }
        | Change::GrantEnded { .. }
        | Change::BreakGlassInvoked { .. }
        | Change::BreakGlassEnded { .. }
        | Change::PromotionRequested { .. }
        | Change::PromotionDecided { .. }
        | Change::AccessPolicySet { .. }
        | Change::ChecksEvaluated { .. }
        | Change::CheckOverridden { .. }
        | Change::CheckOverrideLapsed { .. }
        | Change::ContentPurged { .. } => crate::access::apply(state, rev)?,
        Change::SuggestionProposed { .. }
        | Change::SuggestionDecided { .. }
        | Change::SuggestionAcceptorsSet { .. }
        | Change::BoundaryRulesSet { .. }
        | Change::ObjectionAmended { .. } => apply_suggestion_change(state, rev)?,
        // An alert in the room's history; no state of its own.
        Change::ProbeSuspected { .. } => {}
        Change::SourceRecorded { source, annex, version } => {
            let known = state.evidence.sources.get(source);
            let expected = known.map_or(0, |s| s.versions.len() as u32) + 1;
            if version.version != expected {
                return Err(ApplyError::Invalid(format!(
                    "version {} of record {source} is out of order (next is {expected})",
                    version.version
                )));
            }
            if known.is_some_and(|s| s.annex != *annex) {
                return Err(ApplyError::Conflict(format!("record {source} cannot change its restriction")));
            }
            let entry = state.evidence.sources.entry(source.clone()).or_insert_with(|| crate::source::Source {
                id: source.clone(),
                annex: annex.clone(),
                versions: Vec::new(),
            });
            entry.versions.push(version.clone());
            crate::evidence::mark_stale(state, source, rev.revision, rev.at_ms);
        }
        Change::EvidenceRebound { updates } => {
            crate::evidence::apply_updates(state, updates, rev.revision, rev.at_ms);
        }
    }
    state.revision = rev.revision;
    if rev.change.touches_content() {
        state.content_revision = rev.revision;
        // A content change voids every co-signature given before it and
        // makes the last release stale.
        for c in state.cosignatures.iter_mut().filter(|c| c.voided_at.is_none()) {
            c.voided_at = Some(rev.revision);
        }
        if let Some(last) = state.last_release.as_mut().filter(|l| l.superseded_at.is_none()) {
            last.superseded_at = Some(rev.revision);
        }
    }
    Ok(())
}

/// A status move the record's rules do not allow (`record` names it).
fn refused_move(record: String, from: impl std::fmt::Display, to: impl std::fmt::Display) -> ApplyError {
    ApplyError::Conflict(format!("{record} is {from} and cannot become {to}"))
}

/// Whether a text a status needs (a rationale, a reason) is missing or blank.
fn blank(text: Option<&str>) -> bool {
    text.is_none_or(crate::blank::is_blank)
}

/// Applies the suggestion changes (validated first; on error nothing changes).
fn apply_suggestion_change(state: &mut RoomState, rev: &Revision) -> Result<(), ApplyError> {
    match &rev.change {
        Change::SuggestionProposed { suggestion } => {
            if state.suggestions.suggestions.contains_key(&suggestion.id) {
                return Err(ApplyError::Conflict(format!("suggestion {} already exists", suggestion.id)));
            }
            if suggestion.status != SuggestionStatus::Open || suggestion.decision.is_some() {
                return Err(ApplyError::Invalid("a new suggestion must be open".into()));
            }
            match &suggestion.proposal {
                Proposal::Edit { section, op } => {
                    let s =
                        state.section(*section).ok_or_else(|| ApplyError::NotFound(format!("section {section}")))?;
                    if op.base_len() != s.len {
                        return Err(ApplyError::Invalid(format!(
                            "suggested operation expects {} characters but the section has {}",
                            op.base_len(),
                            s.len
                        )));
                    }
                    if op.is_noop() {
                        return Err(ApplyError::Invalid("the suggestion changes nothing".into()));
                    }
                }
                Proposal::Register { change } => {
                    for o in change.objections() {
                        let obj =
                            state.objections.get(&o).ok_or_else(|| ApplyError::NotFound(format!("objection {o}")))?;
                        if !obj.is_open() {
                            return Err(ApplyError::Conflict(format!("objection {} is {}", obj.code(), obj.status)));
                        }
                    }
                    if let RegisterProposal::MergeObjections { keep, duplicates } = change {
                        if duplicates.is_empty() || duplicates.contains(keep) {
                            return Err(ApplyError::Invalid(
                                "a merge names one objection to keep and other duplicates".into(),
                            ));
                        }
                        let mut seen = std::collections::BTreeSet::new();
                        if !duplicates.iter().all(|d| seen.insert(*d)) {
                            return Err(ApplyError::Invalid("a duplicate is named twice".into()));
                        }
                    }
                }
            }
            state.suggestions.suggestions.insert(suggestion.id, suggestion.clone());
        }
        Change::SuggestionDecided { suggestion, decision } => {
            let s = state
                .suggestions
                .suggestions
                .get_mut(suggestion)
                .ok_or_else(|| ApplyError::NotFound(format!("suggestion {suggestion}")))?;
            let allowed = match decision.status {
                SuggestionStatus::Accepted => s.status == SuggestionStatus::Open,
                SuggestionStatus::Rejected | SuggestionStatus::Withdrawn => {
                    matches!(s.status, SuggestionStatus::Open | SuggestionStatus::Conflicting)
                }
                SuggestionStatus::Open | SuggestionStatus::Conflicting => false,
            };
            if !allowed {
                return Err(refused_move(format!("suggestion {}", s.code()), s.status, decision.status));
            }
            if decision.status == SuggestionStatus::Rejected && blank(decision.reason.as_deref()) {
                return Err(ApplyError::Invalid("a rejection needs a reason".into()));
            }
            s.status = decision.status;
            s.decision = Some(decision.clone());
        }
        Change::SuggestionAcceptorsSet { acceptors } => {
            let mut list = acceptors.clone();
            list.sort();
            list.dedup();
            state.suggestions.acceptors = list;
        }
        Change::BoundaryRulesSet { rules } => {
            if let Some(r) = rules {
                crate::boundary::validate(r).map_err(|e| ApplyError::Invalid(e.to_string()))?;
            }
            state.suggestions.boundary_rules = rules.clone();
        }
        Change::ObjectionAmended { objection, amendment } => {
            let o = state
                .objections
                .get(objection)
                .ok_or_else(|| ApplyError::NotFound(format!("objection {objection}")))?;
            if !o.is_open() {
                return Err(ApplyError::Conflict(format!("objection {} is {}", o.code(), o.status)));
            }
            let section = o.anchor.section;
            if let Some(n) = amendment.statement {
                let body = state.section(section).map(|s| s.body.as_str()).unwrap_or_default();
                if n >= crate::statement::statements(body).len() {
                    return Err(ApplyError::Invalid("`statement` is not a paragraph index of the section".into()));
                }
            }
            if let Some(t) = &amendment.text
                && t.trim().is_empty()
            {
                return Err(ApplyError::Invalid("an objection's text must not be empty".into()));
            }
            let o = state
                .objections
                .get_mut(objection)
                .ok_or_else(|| ApplyError::NotFound(format!("objection {objection}")))?;
            if let Some(t) = &amendment.text {
                o.text = t.clone();
            }
            if let Some(k) = amendment.kind {
                o.kind = k;
            }
            if amendment.statement.is_some() {
                o.anchor.statement = amendment.statement;
            }
            if amendment.quote.is_some() {
                o.anchor.quote = amendment.quote.clone();
            }
        }
        _ => return Err(ApplyError::Invalid("not a suggestion change".into())),
    }
    Ok(())
}
