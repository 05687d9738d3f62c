//! The readiness record: a pure function of the room state that says what
//! still blocks release, what residual disagreement was accepted, which
//! annexes are held back and where the packet goes next.

use serde::{Deserialize, Serialize};

use crate::ids::{ObjectionId, SectionId, UserId};
use crate::objection::ObjectionStatus;
use crate::release::Lane;
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
}

impl Blocker {
    /// One line for people.
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
        }
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
    pub code: String,
    pub title: String,
    pub classification: String,
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
}

impl Readiness {
    pub fn is_clear(&self) -> bool {
        self.blockers.is_empty()
    }
}

/// Computes the readiness record.
pub fn readiness(state: &RoomState) -> Readiness {
    let mut blockers = Vec::new();
    for o in state.objections.values() {
        if o.blocking && o.status == ObjectionStatus::Open {
            blockers.push(Blocker::OpenBlockingObjection { objection: o.id, code: o.code(), text: o.text.clone() });
        }
    }
    for section in &state.sections {
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
                            section_title: section.title.clone(),
                            statement: st.index,
                        });
                    }
                }
                StatementLabel::Verified { evidence } if evidence.is_empty() => {
                    blockers.push(Blocker::UnsupportedStatement {
                        section: section.id,
                        section_title: section.title.clone(),
                        statement: st.index,
                        excerpt: st.text.chars().take(60).collect(),
                    })
                }
                StatementLabel::Unlabeled => blockers.push(Blocker::UnsupportedStatement {
                    section: section.id,
                    section_title: section.title.clone(),
                    statement: st.index,
                    excerpt: st.text.chars().take(60).collect(),
                }),
                _ => {}
            }
        }
        for annex in state.annexes.values() {
            for pattern in annex.leaks_in(&section.body) {
                let lower = section.body.to_lowercase();
                let byte = lower.find(&pattern.to_lowercase()).unwrap_or(0);
                blockers.push(Blocker::AnnexBoundary {
                    section: section.id,
                    section_title: section.title.clone(),
                    annex: annex.code.clone(),
                    position: lower[..byte].chars().count(),
                });
            }
        }
    }
    let residual = state
        .objections
        .values()
        .filter(|o| o.status == ObjectionStatus::AcceptedResidual)
        .map(|o| Residual {
            objection: o.id,
            code: o.code(),
            text: o.text.clone(),
            rationale: o.rationale.clone().unwrap_or_default(),
        })
        .collect();
    Readiness {
        revision: state.revision,
        owners: state.owners().map(|m| m.user).collect(),
        blockers,
        residual,
        held_annexes: state
            .annexes
            .values()
            .map(|a| HeldAnnex { code: a.code.clone(), title: a.title.clone(), classification: a.classification.clone() })
            .collect(),
        lanes: vec![Lane::Privacy, Lane::ProductSecurity, Lane::AccountGovernance],
    }
}
