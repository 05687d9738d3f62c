//! The readiness record: a pure function of the room state that says what
//! still blocks release, what residual disagreement was accepted, which
//! annexes are held back, who must co-sign and where the packet goes next.
//!
//! The annex-boundary checks need the annexes' sensitive patterns, which
//! only the server holds: a client computing the record from its redacted
//! snapshot gets `boundary_checked: false` and no boundary blockers; the
//! server's record (the `readiness` request) has them.

use serde::{Deserialize, Serialize};

use crate::annex::Annex;
use crate::canonical::content_hash;
use crate::export::redact_sensitive;
use crate::ids::{AnnexId, ObjectionId, SectionId, UserId};
use crate::objection::{Objection, ObjectionStatus};
use crate::release::{Audience, Cosignature, Lane, LastRelease, ReleasePolicy, ReleaseState};
use crate::role::{Discipline, Role};
use crate::room::RoomState;
use crate::statement::{StatementLabel, statements};

/// One thing that blocks release.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "blocker", rename_all = "snake_case")]
pub enum Blocker {
    /// An open blocking objection.
    OpenBlockingObjection { objection: ObjectionId, code: String, text: String },
    /// A contested statement that links to no open or accepted-residual objection.
    UnlinkedContested { section: SectionId, section_title: String, statement: usize },
    /// A material statement with neither evidence nor a contested label.
    UnsupportedStatement { section: SectionId, section_title: String, statement: usize, excerpt: String },
    /// An annex's sensitive identifier appears in the main packet.
    AnnexBoundary { section: SectionId, section_title: String, annex: String, position: usize },
    /// An annex's sensitive identifier appears in the register (an
    /// objection's text, quote, rationale or thread).
    AnnexBoundaryInRegister { objection: ObjectionId, code: String, annex: String },
    /// A statement references an annex code the room does not have.
    UnknownAnnexReference { section: SectionId, section_title: String, statement: usize, annex: String },
    /// The release policy requires a co-signature that is not there (or
    /// was voided by a later change). In the readiness record: missing for
    /// every lane (`lane` absent); in the refusal of a release: missing for
    /// the release's lane and audience.
    CosignatureMissing {
        requirement: String,
        /// Members whose earlier co-signature a change voided, with the
        /// packet revision and scope they signed
        /// (`priya.natarajan (signed rev 30 for privacy · lane-reviewers)`).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        voided: Vec<String>,
        /// The lane of the release the co-signature is missing for.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        lane: Option<Lane>,
        /// The audience of that release (a co-signature for it or a wider
        /// one would do).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        audience: Option<Audience>,
    },
    /// A room check fails and no override covers it (see `checks`).
    RoomCheck { check: crate::checks::CheckKind, reason: String },
}

impl Blocker {
    /// One line for people. Never contains a sensitive pattern.
    pub fn describe(&self) -> String {
        match self {
            Blocker::OpenBlockingObjection { code, text, .. } => format!("open blocking objection {code}: {text}"),
            Blocker::UnlinkedContested { section_title, statement, .. } => {
                format!("contested statement {} in \"{section_title}\" links to no open objection", statement + 1)
            }
            Blocker::UnsupportedStatement { section_title, statement, excerpt, .. } => format!(
                "statement {} in \"{section_title}\" has no evidence and no contested label: {excerpt}",
                statement + 1
            ),
            Blocker::AnnexBoundary { section_title, annex, position, .. } => {
                format!("annex {annex} sensitive detail in \"{section_title}\" at char {position}")
            }
            Blocker::AnnexBoundaryInRegister { code, annex, .. } => {
                format!("annex {annex} sensitive detail in objection {code} (text, quote, rationale or thread)")
            }
            Blocker::UnknownAnnexReference { section_title, statement, annex, .. } => format!(
                "statement {} in \"{section_title}\" references annex {annex}, which does not exist",
                statement + 1
            ),
            Blocker::RoomCheck { check, reason } => format!("room check {} failing: {reason}", check.title()),
            Blocker::CosignatureMissing { requirement, voided, lane, audience } => {
                let scope = match lane {
                    Some(lane) => format!(" for the {lane} lane (audience {} or wider)", audience.unwrap_or_default()),
                    None => String::new(),
                };
                if voided.is_empty() {
                    format!("{requirement} is missing{scope}")
                } else {
                    format!("{requirement} is missing{scope} (voided by a later change: {})", voided.join(", "))
                }
            }
        }
    }

    /// Whether this blocker comes from the co-sign policy (not the content).
    pub fn is_cosign(&self) -> bool {
        matches!(self, Blocker::CosignatureMissing { .. })
    }
}

/// An accepted residual disagreement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Residual {
    pub objection: ObjectionId,
    pub code: String,
    pub text: String,
    pub rationale: String,
}

/// An annex held back from release.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldAnnex {
    #[serde(default = "nil_annex")]
    pub id: AnnexId,
    pub code: String,
    pub title: String,
    pub classification: String,
}

fn nil_annex() -> AnnexId {
    AnnexId(uuid::Uuid::nil())
}

/// What one co-signature requirement asks for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "need", rename_all = "snake_case")]
pub enum Need {
    /// This member must co-sign.
    Member { user: UserId, name: String },
    /// One reviewer of this discipline must co-sign.
    Discipline { discipline: Discipline },
}

impl Need {
    /// `co-signature from priya.natarajan` / `co-signature from a privacy reviewer`.
    pub fn describe(&self) -> String {
        match self {
            Need::Member { name, .. } => format!("co-signature from {name}"),
            Need::Discipline { discipline } => format!("co-signature from a {discipline} reviewer"),
        }
    }
}

/// One requirement of the release policy and who meets it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CosignRequirement {
    #[serde(flatten)]
    pub need: Need,
    /// The name of the member whose valid co-signature meets it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub met_by: Option<String>,
}

/// A member whose co-signature a later change voided.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignAgain {
    pub user: UserId,
    pub name: String,
    /// The packet revision they signed.
    pub signed_revision: u64,
    /// The lane they signed for (`None`: a legacy co-signature without one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lane: Option<Lane>,
    /// The audience they signed for.
    #[serde(default)]
    pub audience: Audience,
    /// The revision of the change that voided it.
    pub voided_at: u64,
    /// What changed since they signed: section titles, or
    /// `the register or annex map` when no section did.
    pub changed: Vec<String>,
}

/// Whether the current co-signatures allow a release to one lane for one
/// audience.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaneCover {
    pub lane: Lane,
    pub audience: Audience,
    /// True when every requirement of the policy is met by a valid
    /// co-signature for this lane and this audience or a wider one.
    pub met: bool,
    /// The requirements that are not (`co-signature from a legal reviewer`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
    /// Who holds a valid co-signature covering this lane and audience, by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signers: Vec<String>,
}

/// The co-signature side of readiness.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CosignStatus {
    pub policy: ReleasePolicy,
    /// Each requirement and the member whose valid co-signature meets it
    /// for some lane (see `covers` for which lanes and audiences).
    pub requirements: Vec<CosignRequirement>,
    /// Every co-signature, valid and voided.
    pub signatures: Vec<Cosignature>,
    /// Voided co-signatures of members who have not signed again (for that lane).
    pub must_sign_again: Vec<SignAgain>,
    /// True when the co-signatures allow a release to at least one lane
    /// (its narrowest audience); `covers` says which.
    pub met: bool,
    /// For every lane and audience (lanes in wire order, audiences narrow
    /// → wide): whether a release there has its co-signatures.
    #[serde(default)]
    pub covers: Vec<LaneCover>,
}

impl CosignStatus {
    /// The cover of one lane and audience.
    pub fn cover(&self, lane: Lane, audience: Audience) -> Option<&LaneCover> {
        self.covers.iter().find(|c| c.lane == lane && c.audience == audience)
    }

    /// The widest audience a release to `lane` has its co-signatures for.
    pub fn widest(&self, lane: Lane) -> Option<Audience> {
        self.covers.iter().filter(|c| c.lane == lane && c.met).map(|c| c.audience).max()
    }
}

/// The release state as people read it, with staleness.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseStatus {
    /// `DRAFTING`, `HELD`, `READY`, `RELEASED`, `ESCALATED`.
    pub state: String,
    /// One line: `READY at rev 40`, `RELEASED rev 31 — superseded at rev 33`, …
    pub line: String,
    /// The revision the owner marked ready, while `READY`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_revision: Option<u64>,
    /// `READY`, but the content changed since: release answers `stale`.
    #[serde(default)]
    pub ready_stale: bool,
    /// The newest release, also after the state moved on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_release: Option<LastRelease>,
}

/// The readiness record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Readiness {
    pub revision: u64,
    pub owners: Vec<UserId>,
    pub blockers: Vec<Blocker>,
    pub residual: Vec<Residual>,
    pub held_annexes: Vec<HeldAnnex>,
    pub lanes: Vec<Lane>,
    /// The packet revision: the revision of the newest content change.
    #[serde(default)]
    pub content_revision: u64,
    /// The content hash co-signatures and releases bind.
    #[serde(default)]
    pub content_hash: String,
    #[serde(default)]
    pub release: ReleaseStatus,
    #[serde(default)]
    pub cosign: CosignStatus,
    /// True when the annex-boundary checks ran with the annexes' sensitive
    /// patterns (the server's record); false in a client's own record.
    #[serde(default)]
    pub boundary_checked: bool,
    /// Active owner overrides of failing room checks, with rationales.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<crate::checks::CheckOverride>,
}

impl Readiness {
    pub fn is_clear(&self) -> bool {
        self.blockers.is_empty()
    }
}

/// Computes the readiness record.
pub fn readiness(state: &RoomState) -> Readiness {
    let cosign = cosign_status(state);
    let mut blockers = content_blockers(state);
    if !cosign.met {
        // No lane is covered: what is missing for every lane.
        let unmet: Vec<&CosignRequirement> = cosign.requirements.iter().filter(|r| r.met_by.is_none()).collect();
        for req in &unmet {
            let voided = voided_for(state, &cosign, &req.need, None);
            blockers.push(Blocker::CosignatureMissing {
                requirement: req.need.describe(),
                voided,
                lane: None,
                audience: None,
            });
        }
        if unmet.is_empty() {
            // Every requirement is met, but for different lanes.
            let lacks: Vec<String> = cosign
                .covers
                .iter()
                .filter(|c| c.audience == Audience::LaneReviewers)
                .map(|c| format!("{} lacks {}", c.lane, c.missing.join(", ")))
                .collect();
            blockers.push(Blocker::CosignatureMissing {
                requirement: format!("co-signatures for one lane (they are split across lanes: {})", lacks.join("; ")),
                voided: Vec::new(),
                lane: None,
                audience: None,
            });
        }
    }
    Readiness {
        revision: state.revision,
        owners: state.owners().map(|m| m.user).collect(),
        blockers,
        residual: residual(state),
        held_annexes: held_annexes(state),
        lanes: vec![Lane::Privacy, Lane::ProductSecurity, Lane::AccountGovernance],
        content_revision: state.content_revision,
        content_hash: content_hash(state),
        release: release_status(state),
        cosign,
        boundary_checked: boundary_checked(state),
        overrides: state.access.overrides.iter().filter(|o| o.is_active()).cloned().collect(),
    }
}

/// Whether every annex that declares sensitive patterns has them here
/// (only the server's full state does).
pub fn boundary_checked(state: &RoomState) -> bool {
    // A purged annex (retention) was checked while it had its patterns.
    state.annexes.values().all(|a| a.sensitive_count == 0 || !a.sensitive.is_empty() || crate::access::is_purged(a))
}

/// The accepted residual disagreement, in register order.
pub fn residual(state: &RoomState) -> Vec<Residual> {
    let mut out: Vec<&Objection> =
        state.objections.values().filter(|o| o.status == ObjectionStatus::AcceptedResidual).collect();
    out.sort_by_key(|o| (o.number, o.id));
    out.into_iter()
        .map(|o| Residual {
            objection: o.id,
            code: o.code(),
            text: redact_sensitive(&o.text, state.annexes.values()).0,
            rationale: redact_sensitive(o.rationale.as_deref().unwrap_or_default(), state.annexes.values()).0,
        })
        .collect()
}

/// Every annex, in code order: all are held back from the main packet.
pub fn held_annexes(state: &RoomState) -> Vec<HeldAnnex> {
    let mut out: Vec<HeldAnnex> = state
        .annexes
        .values()
        .map(|a| HeldAnnex {
            id: a.id,
            code: a.code.clone(),
            title: a.title.clone(),
            classification: a.classification.clone(),
        })
        .collect();
    out.sort_by(|a, b| annex_code_key(&a.code).cmp(&annex_code_key(&b.code)).then(a.id.cmp(&b.id)));
    out
}

/// Sort key for annex codes: `A2` before `A10`.
pub fn annex_code_key(code: &str) -> (u32, String) {
    let n = code.strip_prefix('A').and_then(|d| d.parse::<u32>().ok()).unwrap_or(u32::MAX);
    (n, code.to_string())
}

/// The annexes whose sensitive patterns occur in `text` (case-insensitive).
pub fn leaking_annexes<'a>(state: &'a RoomState, text: &str) -> Vec<&'a Annex> {
    if text.is_empty() || state.annexes.values().all(|a| a.sensitive.is_empty()) {
        return Vec::new();
    }
    let lower = text.to_lowercase();
    state
        .annexes
        .values()
        .filter(|a| a.sensitive.iter().any(|p| !p.is_empty() && lower.contains(&p.to_lowercase())))
        .collect()
}

/// Every text of an objection that leaves the server with the register.
pub fn objection_texts(o: &Objection) -> Vec<&str> {
    let mut out = vec![o.text.as_str()];
    out.extend(o.anchor.quote.as_deref());
    out.extend(o.rationale.as_deref());
    out.extend(o.replies.iter().map(|r| r.text.as_str()));
    out.extend(o.history.iter().filter_map(|h| h.rationale.as_deref()));
    out
}

/// The blockers that come from the content (packet, register, annex map)
/// alone, without the co-sign policy.
pub fn content_blockers(state: &RoomState) -> Vec<Blocker> {
    let mut blockers = Vec::new();
    let mut objections: Vec<&Objection> = state.objections.values().collect();
    objections.sort_by_key(|o| (o.number, o.id));
    for o in &objections {
        if o.blocking && o.status == ObjectionStatus::Open {
            blockers.push(Blocker::OpenBlockingObjection {
                objection: o.id,
                code: o.code(),
                text: redact_sensitive(&o.text, state.annexes.values()).0,
            });
        }
    }
    let boundary = crate::checks::boundary_blocking(state);
    for section in &state.sections {
        let title = redact_sensitive(&section.title, state.annexes.values()).0;
        for st in statements(&section.body) {
            match &st.label {
                StatementLabel::Contested { objections } => {
                    let linked = objections.iter().any(|n| {
                        state.objection_by_number(*n).is_some_and(|o| {
                            matches!(o.status, ObjectionStatus::Open | ObjectionStatus::AcceptedResidual)
                        })
                    });
                    if !linked {
                        blockers.push(Blocker::UnlinkedContested {
                            section: section.id,
                            section_title: title.clone(),
                            statement: st.index,
                        });
                    }
                }
                StatementLabel::Verified { evidence } if evidence.is_empty() => {
                    blockers.push(unsupported(state, section.id, &title, st.index, &st.text))
                }
                StatementLabel::Unlabeled => blockers.push(unsupported(state, section.id, &title, st.index, &st.text)),
                _ => {}
            }
            for code in &st.annex_refs {
                if state.annex_by_code(code).is_none() {
                    blockers.push(Blocker::UnknownAnnexReference {
                        section: section.id,
                        section_title: title.clone(),
                        statement: st.index,
                        annex: safe_code(state, code),
                    });
                }
            }
        }
        // The annex-boundary room check (promoted passages exempt; none
        // while an override covers it); see `checks`.
        for v in boundary.iter().filter(|v| v.section == Some(section.id)) {
            blockers.push(Blocker::AnnexBoundary {
                section: section.id,
                section_title: title.clone(),
                annex: v.annex.clone().unwrap_or_default(),
                position: v.position.unwrap_or(0),
            });
        }
    }
    for o in &objections {
        let mut hit: Vec<&str> = Vec::new();
        for text in objection_texts(o) {
            for annex in leaking_annexes(state, text) {
                if !hit.contains(&annex.code.as_str()) {
                    hit.push(annex.code.as_str());
                }
            }
        }
        hit.sort_by_key(|c| annex_code_key(c));
        for annex in hit {
            blockers.push(Blocker::AnnexBoundaryInRegister {
                objection: o.id,
                code: o.code(),
                annex: annex.to_string(),
            });
        }
    }
    // The other failing room checks the server published (no override).
    for c in crate::checks::blocking(state).filter(|c| c.check != crate::checks::CheckKind::AnnexBoundary) {
        blockers.push(Blocker::RoomCheck { check: c.check, reason: c.reason.clone() });
    }
    blockers
}

fn unsupported(state: &RoomState, section: SectionId, title: &str, statement: usize, text: &str) -> Blocker {
    let excerpt: String = text.chars().take(60).collect();
    Blocker::UnsupportedStatement {
        section,
        section_title: title.to_string(),
        statement,
        excerpt: redact_sensitive(&excerpt, state.annexes.values()).0,
    }
}

/// An unknown annex code as written, shortened and with any sensitive
/// pattern removed (it is quoted back in messages).
fn safe_code(state: &RoomState, code: &str) -> String {
    let short: String = code.chars().take(20).collect();
    redact_sensitive(&short, state.annexes.values()).0
}

/// Everything that blocks a release to `lane` for `audience`: the content
/// blockers and room checks of the readiness record, and each requirement
/// of the release policy that no valid co-signature for this lane and this
/// audience (or a wider one) meets.
pub fn release_blockers(state: &RoomState, lane: Lane, audience: Audience) -> Vec<Blocker> {
    let cosign = cosign_status(state);
    let mut blockers = content_blockers(state);
    let needs = policy_needs(state, &cosign.policy);
    let covering: Vec<&Cosignature> = covering(state, lane, audience);
    for req in assign(state, needs, &covering).into_iter().filter(|r| r.met_by.is_none()) {
        let voided = voided_for(state, &cosign, &req.need, Some(lane));
        blockers.push(Blocker::CosignatureMissing {
            requirement: req.need.describe(),
            voided,
            lane: Some(lane),
            audience: Some(audience),
        });
    }
    blockers
}

/// The valid co-signatures of current members that cover a release to
/// `lane` for `audience`. A valid co-signature is always of the current
/// content (every content change voids the earlier ones); a legacy one
/// without a lane covers nothing.
pub fn covering(state: &RoomState, lane: Lane, audience: Audience) -> Vec<&Cosignature> {
    state
        .cosignatures
        .iter()
        .filter(|c| {
            c.is_valid() && c.lane == Some(lane) && c.audience.covers(audience) && state.member(c.user).is_some()
        })
        .collect()
}

/// `name (signed rev N for lane · audience)` of the members whose voided
/// co-signature (for `lane`, when given) could have met `need`.
fn voided_for(state: &RoomState, cosign: &CosignStatus, need: &Need, lane: Option<Lane>) -> Vec<String> {
    cosign
        .must_sign_again
        .iter()
        .filter(|s| lane.is_none_or(|l| s.lane == Some(l)))
        .filter(|s| meets(state, need, s.user, None))
        .map(|s| match s.lane {
            Some(l) => format!("{} (signed rev {} for {l} · {})", s.name, s.signed_revision, s.audience),
            None => format!("{} (signed rev {})", s.name, s.signed_revision),
        })
        .collect()
}

/// Whether `user`'s co-signature can meet `need` (a current member; for a
/// discipline, a reviewer of it). `discipline` is the one recorded at
/// signing, when known.
fn meets(state: &RoomState, need: &Need, user: UserId, discipline: Option<Discipline>) -> bool {
    let Some(member) = state.member(user) else { return false };
    match need {
        Need::Member { user: wanted, .. } => *wanted == user,
        Need::Discipline { discipline: wanted } => {
            let now = match member.role {
                Role::Reviewer { discipline } => Some(discipline),
                _ => None,
            };
            now == Some(*wanted) && discipline.is_none_or(|d| d == *wanted)
        }
    }
}

/// The requirements of a release policy.
fn policy_needs(state: &RoomState, policy: &ReleasePolicy) -> Vec<Need> {
    let mut needs: Vec<Need> = policy
        .members
        .iter()
        .map(|u| Need::Member {
            user: *u,
            name: state.member(*u).map(|m| m.name.clone()).unwrap_or_else(|| format!("(former member {u})")),
        })
        .collect();
    needs.extend(policy.disciplines.iter().map(|d| Need::Discipline { discipline: *d }));
    needs
}

/// Who meets which requirement among `signatures`. A member's co-signature
/// meets at most one requirement: named members first, then disciplines,
/// so one reviewer named and of a required discipline does not count twice.
fn assign(state: &RoomState, needs: Vec<Need>, signatures: &[&Cosignature]) -> Vec<CosignRequirement> {
    let mut used: Vec<UserId> = Vec::new();
    let mut requirements = Vec::new();
    for need in needs {
        let by = signatures
            .iter()
            .filter(|c| !used.contains(&c.user))
            .find(|c| meets(state, &need, c.user, c.discipline))
            .map(|c| (c.user, c.name.clone()));
        if let Some((user, _)) = by {
            used.push(user);
        }
        requirements.push(CosignRequirement { need, met_by: by.map(|(_, name)| name) });
    }
    requirements
}

/// The co-signature status: requirements, who meets them, which lanes and
/// audiences the co-signatures cover, who must sign again.
pub fn cosign_status(state: &RoomState) -> CosignStatus {
    let policy = state.release_policy.clone().normalized();
    let needs = policy_needs(state, &policy);
    // Requirements met for some lane: scoped, valid co-signatures only (a
    // legacy one without a lane meets nothing).
    let scoped: Vec<&Cosignature> = state.cosignatures.iter().filter(|c| c.is_valid() && c.lane.is_some()).collect();
    let requirements = assign(state, needs.clone(), &scoped);
    let mut covers = Vec::new();
    for lane in Lane::ALL {
        for audience in Audience::ALL {
            let sigs = covering(state, lane, audience);
            let reqs = assign(state, needs.clone(), &sigs);
            let missing: Vec<String> = reqs.iter().filter(|r| r.met_by.is_none()).map(|r| r.need.describe()).collect();
            let mut signers: Vec<String> = sigs.iter().map(|c| c.name.clone()).collect();
            signers.sort();
            signers.dedup();
            covers.push(LaneCover { lane, audience, met: missing.is_empty(), missing, signers });
        }
    }
    let must_sign_again = state
        .cosignatures
        .iter()
        .filter_map(|c| {
            let voided_at = c.voided_at?;
            let mut changed: Vec<String> = state
                .sections
                .iter()
                .filter(|s| s.revision > c.revision)
                .map(|s| format!("section \"{}\"", redact_sensitive(&s.title, state.annexes.values()).0))
                .collect();
            if changed.is_empty() {
                changed.push("the register or annex map".into());
            }
            Some(SignAgain {
                user: c.user,
                name: c.name.clone(),
                signed_revision: c.revision,
                lane: c.lane,
                audience: c.audience,
                voided_at,
                changed,
            })
        })
        .collect();
    let met = covers.iter().any(|c| c.met);
    CosignStatus { policy, requirements, signatures: state.cosignatures.clone(), must_sign_again, met, covers }
}

/// The release state with staleness, as `show`, `readiness` and the status
/// bar print it.
pub fn release_status(state: &RoomState) -> ReleaseStatus {
    let last = state.last_release.clone();
    let mut ready_revision = None;
    let mut ready_stale = false;
    let line = match &state.release {
        ReleaseState::Drafting => "DRAFTING".to_string(),
        ReleaseState::Held { reasons, .. } => format!("HELD: {}", reasons.join("; ")),
        ReleaseState::Ready { revision, .. } => {
            ready_revision = Some(*revision);
            if state.content_revision > *revision {
                ready_stale = true;
                format!("READY at rev {revision} — stale: changed at rev {}", state.content_revision)
            } else {
                format!("READY at rev {revision}")
            }
        }
        ReleaseState::Released { revision, lane, .. } => {
            let base = match &last {
                Some(l) if l.revision == *revision => l.status_line(),
                _ if state.content_revision > *revision => {
                    format!("RELEASED rev {revision} — superseded at rev {}", state.content_revision)
                }
                _ => format!("RELEASED rev {revision}"),
            };
            format!("{base} ({lane} lane)")
        }
        ReleaseState::Escalated { reason, .. } => format!("ESCALATED: {reason} (read-only)"),
    };
    let line = match (&state.release, &last) {
        (ReleaseState::Released { .. }, _) | (_, None) => line,
        (_, Some(l)) => format!("{line} · last release: {}", l.status_line()),
    };
    ReleaseStatus { state: state.release.name().to_string(), line, ready_revision, ready_stale, last_release: last }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::change::{Change, Revision, apply};
    use crate::ids::{ObjectionId, RoomId};
    use crate::objection::{Anchor, ObjectionKind, StatusChange};
    use crate::room::Member;

    pub(crate) struct Fixture {
        pub state: RoomState,
        pub owner: UserId,
        pub privacy: UserId,
        pub legal: UserId,
        pub agent: UserId,
        pub section: SectionId,
    }

    pub(crate) fn change(state: &mut RoomState, author: UserId, change: Change) {
        let rev = Revision {
            revision: state.revision + 1,
            author,
            at_ms: 1_000 + state.revision as i64,
            client: None,
            change,
        };
        apply(state, &rev).expect("applies");
    }

    pub(crate) fn fixture() -> Fixture {
        let mut state = RoomState::new(RoomId(uuid::Uuid::from_u128(1)), "Room".into(), 0);
        let owner = UserId(uuid::Uuid::from_u128(10));
        let privacy = UserId(uuid::Uuid::from_u128(11));
        let legal = UserId(uuid::Uuid::from_u128(12));
        let agent = UserId(uuid::Uuid::from_u128(13));
        for (user, name, role) in [
            (owner, "olive", Role::Owner),
            (privacy, "priya", Role::Reviewer { discipline: Discipline::Privacy }),
            (legal, "dan", Role::Reviewer { discipline: Discipline::Legal }),
            (agent, "bot", Role::Agent { agent_role: crate::role::AgentRole::Chronology }),
        ] {
            change(&mut state, owner, Change::MemberAdded { member: Member { user, name: name.into(), role } });
        }
        let section = SectionId(uuid::Uuid::from_u128(20));
        change(
            &mut state,
            owner,
            Change::SectionAdded {
                section,
                title: "Summary".into(),
                body: "# Summary\n\n[verified: TL-1] A fact.\n\n[restricted] See [[annex:A1]].".into(),
                after: None,
            },
        );
        let annex = Annex {
            id: AnnexId(uuid::Uuid::from_u128(30)),
            code: "A1".into(),
            title: "Tenants".into(),
            classification: "tenant-identifiers".into(),
            need_to_know: vec![privacy],
            sensitive: vec!["acct-4471-NWF".into()],
            sensitive_count: 1,
            content: Some("acct-4471-NWF".into()),
            salt: Some("00".into()),
            content_hash: "h".into(),
            at_ms: 0,
        };
        change(&mut state, owner, Change::AnnexAdded { annex });
        Fixture { state, owner, privacy, legal, agent, section }
    }

    pub(crate) fn set_body(f: &mut Fixture, body: &str) {
        let old = f.state.section(f.section).map(|s| s.body.clone()).unwrap_or_default();
        let op = crate::ot::TextOp::from_texts(&old, body);
        change(&mut f.state, f.owner, Change::SectionEdited { section: f.section, op });
    }

    fn object(f: &mut Fixture, blocking: bool, text: &str) -> ObjectionId {
        let id = ObjectionId(uuid::Uuid::from_u128(100 + f.state.objections.len() as u128));
        let objection = Objection {
            id,
            number: f.state.next_objection_number(),
            author: f.privacy,
            anchor: Anchor { section: f.section, statement: None, quote: None },
            kind: ObjectionKind::Wording,
            blocking,
            text: text.into(),
            status: ObjectionStatus::Open,
            rationale: None,
            replies: Vec::new(),
            history: Vec::new(),
            at_ms: 0,
        };
        change(&mut f.state, f.privacy, Change::ObjectionRaised { objection });
        id
    }

    fn cosign(f: &mut Fixture, user: UserId, name: &str, discipline: Option<Discipline>) {
        cosign_for(f, user, name, discipline, Some(Lane::Privacy), Audience::LaneReviewers);
    }

    pub(crate) fn cosign_for(
        f: &mut Fixture,
        user: UserId,
        name: &str,
        discipline: Option<Discipline>,
        lane: Option<Lane>,
        audience: Audience,
    ) {
        let cosignature = Cosignature {
            user,
            name: name.into(),
            role: "reviewer".into(),
            discipline,
            revision: f.state.content_revision,
            content_hash: content_hash(&f.state),
            lane,
            audience,
            at_ms: 5,
            voided_at: None,
        };
        change(&mut f.state, user, Change::Cosigned { cosignature });
    }

    fn require_privacy_and_legal(f: &mut Fixture) {
        let policy = ReleasePolicy { members: vec![], disciplines: vec![Discipline::Privacy, Discipline::Legal] };
        change(&mut f.state, f.owner, Change::ReleasePolicySet { policy });
    }

    fn cosign_kinds(blockers: &[Blocker]) -> Vec<String> {
        blockers.iter().filter(|b| b.is_cosign()).map(Blocker::describe).collect()
    }

    fn kinds(r: &Readiness) -> Vec<String> {
        r.blockers
            .iter()
            .map(|b| {
                serde_json::to_value(b).ok().and_then(|v| v["blocker"].as_str().map(String::from)).unwrap_or_default()
            })
            .collect()
    }

    #[test]
    fn a_clean_room_is_clear_and_names_owner_annexes_and_lanes() {
        let f = fixture();
        let r = readiness(&f.state);
        assert!(r.is_clear(), "{:?}", r.blockers);
        assert_eq!(r.owners, vec![f.owner]);
        assert_eq!(r.held_annexes.len(), 1);
        assert_eq!(r.held_annexes[0].code, "A1");
        assert_eq!(r.lanes.len(), 3);
        assert!(r.boundary_checked);
        assert_eq!(r.content_revision, f.state.revision);
        assert_eq!(r.content_hash, content_hash(&f.state));
        assert_eq!(r.release.line, "DRAFTING");
        assert!(r.cosign.met);
    }

    #[test]
    fn each_kind_of_content_blocker() {
        let mut f = fixture();
        set_body(
            &mut f,
            "[contested: O-7] Disputed.\n\nPlain claim.\n\n[verified:] Empty evidence.\n\n[restricted] [[annex:A9]]\n\nacct-4471-nwf leaked.",
        );
        let r = readiness(&f.state);
        assert_eq!(
            kinds(&r),
            [
                "unlinked_contested",
                "unsupported_statement",
                "unsupported_statement",
                "unknown_annex_reference",
                "unsupported_statement",
                "annex_boundary"
            ]
        );
        for b in &r.blockers {
            assert!(!b.describe().to_lowercase().contains("acct-4471-nwf"), "{}", b.describe());
        }
        let o = object(&mut f, true, "blocking and mentions ACCT-4471-NWF");
        let r = readiness(&f.state);
        let k = kinds(&r);
        assert_eq!(k[0], "open_blocking_objection");
        assert!(k.contains(&"annex_boundary_in_register".to_string()));
        assert!(r.blockers.iter().all(|b| !b.describe().contains("ACCT-4471-NWF")), "{:?}", r.blockers);
        // The contested statement links to O-1 once it exists and is open.
        set_body(&mut f, "[contested: O-1] Disputed.");
        let r = readiness(&f.state);
        assert_eq!(kinds(&r), ["open_blocking_objection", "annex_boundary_in_register"]);
        // Accepted-residual with a rationale: no blocker, listed as residual.
        let change_ = StatusChange {
            status: ObjectionStatus::AcceptedResidual,
            by: f.owner,
            rationale: Some("privacy lane decides".into()),
            at_ms: 0,
        };
        change(&mut f.state, f.owner, Change::ObjectionStatusChanged { objection: o, change: change_ });
        let r = readiness(&f.state);
        assert_eq!(kinds(&r), ["annex_boundary_in_register"]);
        assert_eq!(r.residual.len(), 1);
        assert_eq!(r.residual[0].rationale, "privacy lane decides");
        assert!(!r.residual[0].text.contains("ACCT"), "residual text is redacted: {}", r.residual[0].text);
    }

    #[test]
    fn a_client_without_patterns_knows_it_did_not_check_the_boundary() {
        let mut f = fixture();
        set_body(&mut f, "[verified: X] acct-4471-NWF");
        let redacted = crate::view::redacted_state(&f.state);
        let r = readiness(&redacted);
        assert!(!r.boundary_checked);
        assert!(r.is_clear());
        assert!(!readiness(&f.state).is_clear());
    }

    #[test]
    fn cosign_policy_met_unmet_and_voided_by_a_change() {
        let mut f = fixture();
        change(
            &mut f.state,
            f.owner,
            Change::ReleasePolicySet {
                policy: ReleasePolicy {
                    members: vec![f.legal],
                    disciplines: vec![Discipline::Privacy, Discipline::Privacy],
                },
            },
        );
        let r = readiness(&f.state);
        assert_eq!(r.cosign.policy.disciplines, vec![Discipline::Privacy], "normalized");
        assert_eq!(kinds(&r), ["cosignature_missing", "cosignature_missing"]);
        assert!(r.blockers[0].describe().contains("co-signature from dan"));
        assert!(r.blockers[1].describe().contains("co-signature from a privacy reviewer"));
        let u = f.privacy;
        cosign(&mut f, u, "priya", Some(Discipline::Privacy));
        let u = f.legal;
        cosign(&mut f, u, "dan", Some(Discipline::Legal));
        let r = readiness(&f.state);
        assert!(r.cosign.met, "{:?}", r.cosign);
        assert!(r.is_clear());
        // A non-content change keeps them.
        change(&mut f.state, f.owner, Change::ReleaseChanged { release: ReleaseState::Drafting });
        assert!(readiness(&f.state).cosign.met);
        // A content change voids both; the record says who signs again and what changed.
        let signed_at = f.state.content_revision;
        set_body(&mut f, "[verified: TL-2] Another fact.");
        let r = readiness(&f.state);
        assert!(!r.cosign.met);
        assert_eq!(r.cosign.must_sign_again.len(), 2);
        let again = &r.cosign.must_sign_again[0];
        assert_eq!(again.signed_revision, signed_at);
        assert_eq!(again.voided_at, f.state.revision);
        assert_eq!(again.changed, vec!["section \"Summary\"".to_string()]);
        assert!(r.blockers.iter().any(|b| b.describe().contains("priya (signed rev")), "{:?}", r.blockers);
        // The same member can't co-sign the same content twice.
        let u = f.privacy;
        cosign(&mut f, u, "priya", Some(Discipline::Privacy));
        let dup = Cosignature {
            user: f.privacy,
            name: "priya".into(),
            role: "reviewer".into(),
            discipline: Some(Discipline::Privacy),
            revision: f.state.content_revision,
            content_hash: content_hash(&f.state),
            lane: Some(Lane::Privacy),
            audience: Audience::LaneReviewers,
            at_ms: 6,
            voided_at: None,
        };
        let rev = Revision {
            revision: f.state.revision + 1,
            author: f.privacy,
            at_ms: 0,
            client: None,
            change: Change::Cosigned { cosignature: dup },
        };
        assert!(matches!(apply(&mut f.state, &rev), Err(crate::change::ApplyError::Conflict(_))));
        assert_eq!(f.state.cosignatures.iter().filter(|c| c.user == f.privacy).count(), 1, "one entry per member");
    }

    #[test]
    fn cosignatures_cover_only_their_lane() {
        let mut f = fixture();
        require_privacy_and_legal(&mut f);
        let (p, l) = (f.privacy, f.legal);
        cosign_for(&mut f, p, "priya", Some(Discipline::Privacy), Some(Lane::Privacy), Audience::LaneReviewers);
        cosign_for(&mut f, l, "dan", Some(Discipline::Legal), Some(Lane::Privacy), Audience::LaneReviewers);
        let r = readiness(&f.state);
        assert!(r.cosign.met && r.is_clear(), "{:?}", r.blockers);
        assert!(release_blockers(&f.state, Lane::Privacy, Audience::LaneReviewers).is_empty());
        // Another lane: refused, naming the lane and what is missing.
        let other = release_blockers(&f.state, Lane::ProductSecurity, Audience::LaneReviewers);
        assert_eq!(
            cosign_kinds(&other),
            [
                "co-signature from a privacy reviewer is missing for the product-security lane (audience lane-reviewers or wider)",
                "co-signature from a legal reviewer is missing for the product-security lane (audience lane-reviewers or wider)",
            ]
        );
        let cover = r.cosign.cover(Lane::ProductSecurity, Audience::LaneReviewers).expect("cover");
        assert!(!cover.met);
        assert_eq!(cover.missing.len(), 2);
        let cover = r.cosign.cover(Lane::Privacy, Audience::LaneReviewers).expect("cover");
        assert!(cover.met && cover.missing.is_empty());
        assert_eq!(cover.signers, ["dan", "priya"]);
        assert_eq!(r.cosign.covers.len(), 9, "every lane × audience");
        assert_eq!(r.cosign.widest(Lane::Privacy), Some(Audience::LaneReviewers));
        assert_eq!(r.cosign.widest(Lane::AccountGovernance), None);
        // Signing for product-security too keeps the privacy co-signature.
        cosign_for(&mut f, p, "priya", Some(Discipline::Privacy), Some(Lane::ProductSecurity), Audience::LaneReviewers);
        cosign_for(&mut f, l, "dan", Some(Discipline::Legal), Some(Lane::ProductSecurity), Audience::LaneReviewers);
        assert_eq!(f.state.cosignatures.iter().filter(|c| c.user == p && c.is_valid()).count(), 2, "one per lane");
        assert!(release_blockers(&f.state, Lane::Privacy, Audience::LaneReviewers).is_empty());
        assert!(release_blockers(&f.state, Lane::ProductSecurity, Audience::LaneReviewers).is_empty());
    }

    #[test]
    fn a_narrower_audience_does_not_cover_a_wider_release_and_a_wider_one_covers_narrower() {
        let mut f = fixture();
        require_privacy_and_legal(&mut f);
        let (p, l) = (f.privacy, f.legal);
        cosign_for(&mut f, p, "priya", Some(Discipline::Privacy), Some(Lane::Privacy), Audience::Organisation);
        cosign_for(&mut f, l, "dan", Some(Discipline::Legal), Some(Lane::Privacy), Audience::LaneAndLeads);
        for audience in [Audience::LaneReviewers, Audience::LaneAndLeads] {
            assert!(release_blockers(&f.state, Lane::Privacy, audience).is_empty(), "{audience}");
        }
        let wide = release_blockers(&f.state, Lane::Privacy, Audience::Organisation);
        assert_eq!(
            cosign_kinds(&wide),
            ["co-signature from a legal reviewer is missing for the privacy lane (audience organisation or wider)"]
        );
        let r = readiness(&f.state);
        assert_eq!(r.cosign.widest(Lane::Privacy), Some(Audience::LaneAndLeads));
        let cover = r.cosign.cover(Lane::Privacy, Audience::Organisation).expect("cover");
        assert_eq!((cover.met, cover.signers.clone()), (false, vec!["priya".to_string()]));
        // Re-signing the same lane replaces the earlier co-signature (wider now).
        cosign_for(&mut f, l, "dan", Some(Discipline::Legal), Some(Lane::Privacy), Audience::Organisation);
        assert_eq!(f.state.cosignatures.iter().filter(|c| c.user == l).count(), 1);
        assert!(release_blockers(&f.state, Lane::Privacy, Audience::Organisation).is_empty());
    }

    #[test]
    fn a_change_voids_scoped_cosignatures_for_every_lane() {
        let mut f = fixture();
        require_privacy_and_legal(&mut f);
        let (p, l) = (f.privacy, f.legal);
        for lane in [Lane::Privacy, Lane::ProductSecurity] {
            cosign_for(&mut f, p, "priya", Some(Discipline::Privacy), Some(lane), Audience::LaneReviewers);
            cosign_for(&mut f, l, "dan", Some(Discipline::Legal), Some(lane), Audience::LaneReviewers);
        }
        set_body(&mut f, "[verified: TL-2] Changed.");
        let r = readiness(&f.state);
        assert!(!r.cosign.met);
        assert!(r.cosign.covers.iter().all(|c| !c.met));
        assert_eq!(r.cosign.must_sign_again.len(), 4, "{:?}", r.cosign.must_sign_again);
        let privacy = release_blockers(&f.state, Lane::Privacy, Audience::LaneReviewers);
        let described = cosign_kinds(&privacy);
        assert!(
            described[0].contains("voided by a later change: priya (signed rev")
                && described[0].contains("for privacy · lane-reviewers)"),
            "{described:?}"
        );
        // Signing privacy again leaves product-security still to sign.
        cosign_for(&mut f, p, "priya", Some(Discipline::Privacy), Some(Lane::Privacy), Audience::LaneReviewers);
        cosign_for(&mut f, l, "dan", Some(Discipline::Legal), Some(Lane::Privacy), Audience::LaneReviewers);
        let r = readiness(&f.state);
        assert!(r.cosign.met && r.is_clear());
        assert_eq!(r.cosign.must_sign_again.len(), 2);
        assert!(r.cosign.must_sign_again.iter().all(|s| s.lane == Some(Lane::ProductSecurity)));
        assert!(!release_blockers(&f.state, Lane::ProductSecurity, Audience::LaneReviewers).is_empty());
    }

    #[test]
    fn a_legacy_cosignature_without_a_lane_covers_nothing() {
        let mut f = fixture();
        require_privacy_and_legal(&mut f);
        let (p, l) = (f.privacy, f.legal);
        cosign_for(&mut f, p, "priya", Some(Discipline::Privacy), None, Audience::Organisation);
        cosign_for(&mut f, l, "dan", Some(Discipline::Legal), None, Audience::Organisation);
        let r = readiness(&f.state);
        assert!(!r.cosign.met);
        assert!(r.cosign.requirements.iter().all(|q| q.met_by.is_none()));
        assert_eq!(cosign_kinds(&r.blockers).len(), 2);
        for lane in Lane::ALL {
            for audience in Audience::ALL {
                assert_eq!(cosign_kinds(&release_blockers(&f.state, lane, audience)).len(), 2, "{lane} {audience}");
            }
        }
        // Signing for a lane replaces the legacy co-signature.
        cosign_for(&mut f, p, "priya", Some(Discipline::Privacy), Some(Lane::Privacy), Audience::LaneReviewers);
        assert_eq!(f.state.cosignatures.iter().filter(|c| c.user == p).count(), 1);
    }

    #[test]
    fn requirements_met_in_different_lanes_cover_no_lane() {
        let mut f = fixture();
        require_privacy_and_legal(&mut f);
        let (p, l) = (f.privacy, f.legal);
        cosign_for(&mut f, p, "priya", Some(Discipline::Privacy), Some(Lane::Privacy), Audience::LaneReviewers);
        cosign_for(&mut f, l, "dan", Some(Discipline::Legal), Some(Lane::ProductSecurity), Audience::LaneReviewers);
        let r = readiness(&f.state);
        assert!(!r.cosign.met);
        let cos = cosign_kinds(&r.blockers);
        assert_eq!(cos.len(), 1, "{cos:?}");
        assert!(
            cos[0].contains("split across lanes")
                && cos[0].contains("privacy lacks co-signature from a legal reviewer"),
            "{cos:?}"
        );
    }

    #[test]
    fn an_agent_or_a_wrong_discipline_never_meets_a_discipline() {
        let mut f = fixture();
        change(
            &mut f.state,
            f.owner,
            Change::ReleasePolicySet {
                policy: ReleasePolicy { members: vec![], disciplines: vec![Discipline::Privacy] },
            },
        );
        let u = f.agent;
        cosign(&mut f, u, "bot", None);
        let u = f.legal;
        cosign(&mut f, u, "dan", Some(Discipline::Legal));
        assert!(!readiness(&f.state).cosign.met);
    }

    #[test]
    fn release_status_lines_show_staleness() {
        let mut f = fixture();
        let c = f.state.content_revision;
        change(
            &mut f.state,
            f.owner,
            Change::ReleaseChanged { release: ReleaseState::Ready { revision: c, by: f.owner, at_ms: 0 } },
        );
        assert_eq!(release_status(&f.state).line, format!("READY at rev {c}"));
        let released = ReleaseState::Released {
            revision: c,
            content_hash: content_hash(&f.state),
            lane: Lane::Privacy,
            by: f.owner,
            at_ms: 0,
        };
        change(&mut f.state, f.owner, Change::ReleaseChanged { release: released });
        assert_eq!(release_status(&f.state).line, format!("RELEASED rev {c} (privacy lane)"));
        set_body(&mut f, "[verified: TL-2] Changed.");
        let m = f.state.revision;
        assert_eq!(release_status(&f.state).line, format!("RELEASED rev {c} — superseded at rev {m} (privacy lane)"));
        set_body(&mut f, "[verified: TL-3] Changed again.");
        assert_eq!(f.state.last_release.as_ref().and_then(|l| l.superseded_at), Some(m), "the first change supersedes");
        change(
            &mut f.state,
            f.owner,
            Change::ReleaseChanged {
                release: ReleaseState::Held { reasons: vec!["fix".into()], by: f.owner, at_ms: 0 },
            },
        );
        let s = release_status(&f.state);
        assert_eq!(s.line, format!("HELD: fix · last release: RELEASED rev {c} — superseded at rev {m}"));
        change(
            &mut f.state,
            f.owner,
            Change::ReleaseChanged { release: ReleaseState::Ready { revision: c, by: f.owner, at_ms: 0 } },
        );
        assert!(release_status(&f.state).ready_stale);
    }
}
