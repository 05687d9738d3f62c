//! The readiness record: a pure function of the room state that says what
//! still blocks release, what residual disagreement was accepted, which
//! annexes are held back, who must co-sign and where the packet goes next.
//!
//! The annex-boundary checks need the annexes' sensitive patterns, which
//! only the server holds: a client computing the record from its redacted
//! snapshot gets `boundary_checked: false` and no boundary blockers; the
//! server's record (the `readiness` request) has them.

mod armed;
mod content;
mod cosign;

pub use armed::Armed;
pub use content::*;
pub use cosign::*;

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
    /// An open hold of the hold register (`H-n`): cleared one by one, by an
    /// owner with a rationale or by the check that placed it passing.
    OpenHold { hold: String, placed_by: String, reason: String },
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
    /// A statement cites a record id the room's source register does not
    /// hold (see `evidence`).
    UnknownEvidence { section: SectionId, section_title: String, source: String },
    /// A room check fails and no override covers it (see `checks`).
    RoomCheck { check: crate::checks::CheckKind, reason: String },
}

impl Blocker {
    /// One line for people. Never contains a sensitive pattern.
    pub fn describe(&self) -> String {
        match self {
            Blocker::OpenHold { hold, placed_by, reason } => format!("open hold {hold} ({placed_by}): {reason}"),
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
            Blocker::UnknownEvidence { section_title, source, .. } => format!(
                "\"{section_title}\" cites {source}, which is not a registered source record (`trustroom source add`)"
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

#[cfg(test)]
pub(crate) mod tests;
