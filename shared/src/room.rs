//! The room's state: packet sections, members, register, annex map and
//! release state, at one room revision.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::annex::Annex;
use crate::ids::{AnnexId, ObjectionId, RoomId, SectionId, UserId};
use crate::objection::Objection;
use crate::release::{Cosignature, LastRelease, ReleasePolicy, ReleaseState};
use crate::role::Role;

/// A member of a room.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub user: UserId,
    pub name: String,
    #[serde(flatten)]
    pub role: Role,
}

/// A packet section.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Section {
    pub id: SectionId,
    pub title: String,
    pub body: String,
    /// Cached length of `body` in chars (operations are counted in chars).
    pub len: usize,
    /// Revision of the last change to this section.
    pub revision: u64,
}

impl Section {
    pub fn new(id: SectionId, title: String, body: String, revision: u64) -> Self {
        let len = body.chars().count();
        Self { id, title, body, len, revision }
    }
}

/// Everything the room holds at one revision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomState {
    pub id: RoomId,
    pub title: String,
    pub revision: u64,
    pub members: BTreeMap<UserId, Member>,
    /// Packet sections in order.
    pub sections: Vec<Section>,
    pub objections: BTreeMap<ObjectionId, Objection>,
    pub annexes: BTreeMap<AnnexId, Annex>,
    pub release: ReleaseState,
    pub created_ms: i64,
    /// Revision of the newest change to the packet, register or annex map.
    #[serde(default)]
    pub content_revision: u64,
    /// Co-signatures required besides the owner's release.
    #[serde(default)]
    pub release_policy: ReleasePolicy,
    /// Co-signatures given, at most one per member (the newest); voided
    /// ones stay so the room shows who must sign again.
    #[serde(default)]
    pub cosignatures: Vec<Cosignature>,
    /// The newest release, with the revision that superseded it if any.
    #[serde(default)]
    pub last_release: Option<LastRelease>,
    /// Annex access governance: requests and grants, break-glass,
    /// promotions, room checks and overrides, policy, retention purge.
    #[serde(default)]
    pub access: crate::access::AccessState,
    /// Suggestions (open and decided), who may decide them, and the
    /// room's boundary rules.
    #[serde(default)]
    pub suggestions: crate::suggestion::SuggestionState,
    /// The hold register: every hold placed, open or cleared, oldest first
    /// (see `holds`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub holds: Vec<crate::holds::Hold>,
    /// Releases an owner withdrew (by manifest hash), oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub withdrawals: Vec<crate::release_status::Withdrawal>,
    /// Downstream intake decisions, oldest first (the newest per member
    /// and release is the current one; see `downstream`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub intakes: Vec<crate::downstream::Intake>,
    /// The source register and the evidence bindings of the packet's
    /// citations (see `evidence`).
    #[serde(default, skip_serializing_if = "is_default")]
    pub evidence: crate::evidence::EvidenceState,
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

impl RoomState {
    pub fn new(id: RoomId, title: String, created_ms: i64) -> Self {
        Self {
            id,
            title,
            revision: 0,
            members: BTreeMap::new(),
            sections: Vec::new(),
            objections: BTreeMap::new(),
            annexes: BTreeMap::new(),
            release: ReleaseState::Drafting,
            created_ms,
            content_revision: 0,
            release_policy: ReleasePolicy::default(),
            cosignatures: Vec::new(),
            last_release: None,
            access: crate::access::AccessState::default(),
            suggestions: crate::suggestion::SuggestionState::default(),
            holds: Vec::new(),
            withdrawals: Vec::new(),
            evidence: crate::evidence::EvidenceState::default(),
            intakes: Vec::new(),
        }
    }

    pub fn section(&self, id: SectionId) -> Option<&Section> {
        self.sections.iter().find(|s| s.id == id)
    }

    pub fn section_mut(&mut self, id: SectionId) -> Option<&mut Section> {
        self.sections.iter_mut().find(|s| s.id == id)
    }

    pub fn member(&self, user: UserId) -> Option<&Member> {
        self.members.get(&user)
    }

    pub fn objection_by_number(&self, number: u32) -> Option<&Objection> {
        self.objections.values().find(|o| o.number == number)
    }

    pub fn annex_by_code(&self, code: &str) -> Option<&Annex> {
        self.annexes.values().find(|a| a.code == code)
    }

    /// Next free objection number.
    pub fn next_objection_number(&self) -> u32 {
        self.objections.values().map(|o| o.number).max().unwrap_or(0) + 1
    }

    /// Next free annex code (`A1`, `A2`, …).
    pub fn next_annex_code(&self) -> String {
        let n = self
            .annexes
            .values()
            .filter_map(|a| a.code.strip_prefix('A').and_then(|d| d.parse::<u32>().ok()))
            .max()
            .unwrap_or(0);
        format!("A{}", n + 1)
    }

    /// The owners of the room.
    pub fn owners(&self) -> impl Iterator<Item = &Member> {
        self.members.values().filter(|m| m.role == Role::Owner)
    }
}
