//! The `ok` results of requests.

use serde::{Deserialize, Serialize};

use crate::boundary::{BoundaryFlag, BoundaryRule};
use crate::export::ExportFormat;
use crate::ids::{AnnexId, RoomId, UserId};
use crate::manifest::ManifestRecord;
use crate::release::{Audience, Lane};
use crate::suggestion::Suggestion;

/// `ok` result of `rooms`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RoomsResult {
    pub rooms: Vec<RoomSummary>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RoomSummary {
    pub id: RoomId,
    pub title: String,
    pub role: String,
}

/// `ok` result of a mutating request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ack {
    /// The revision the change got.
    pub revision: u64,
    /// True when this was a resend of an already-applied request.
    #[serde(default)]
    pub duplicate: bool,
    /// Id of the created entity (section, objection, reply), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
}

/// `ok` result of `release` and `release_packet`: an [`Ack`] (same
/// `revision`, `duplicate` and `created` = the manifest hash) that also
/// names what was released, so no client has to guess which revision a
/// number is. `revision` is the **room revision** of the `release_changed`
/// change (the room's position in its history); `packet_revision` is the
/// **packet revision** released (the newest content change, what the
/// manifest, the content hash and co-signatures bind).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReleaseAck {
    /// The room revision of the `release_changed` change.
    pub revision: u64,
    #[serde(default)]
    pub duplicate: bool,
    /// The manifest hash (as in every release answer before `ReleaseAck`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// The packet revision released.
    pub packet_revision: u64,
    /// Its content hash.
    pub content_hash: String,
    /// The signed manifest's hash.
    pub manifest_hash: String,
    pub lane: Lane,
    pub audience: Audience,
    /// The release state the room was in before (`HELD`, `READY`, …).
    pub from: String,
}

/// `ok` result of `holds`: the hold register, oldest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HoldsResult {
    /// The room revision the register was read at.
    pub revision: u64,
    /// The release state (`HELD` while any hold is open).
    pub release: String,
    pub holds: Vec<crate::holds::Hold>,
}

/// `ok` result of `release_status`: the signed status of every release,
/// in the order first released, and the key that signed them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReleaseStatusResult {
    pub public_key: String,
    /// The room revision the statuses were computed at.
    pub revision: u64,
    pub statuses: Vec<crate::release_status::SignedStatus>,
}

/// `ok` result of `lane_releases`: the releases of the member's lane,
/// oldest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LaneReleasesResult {
    pub lane: crate::release::Lane,
    /// The room revision the statuses were computed at.
    pub revision: u64,
    pub releases: Vec<crate::downstream::LaneReleaseEntry>,
}

/// `ok` result of `lane_release`: the release's redacted export bundle
/// (as `export` renders it for that release; never annex content).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LaneReleaseResult {
    pub manifest_hash: String,
    pub lane: crate::release::Lane,
    /// `current`, `superseded` or `withdrawn`.
    pub status: String,
    pub export: ExportResult,
}

/// `ok` result of `join`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Joined {
    pub revision: u64,
}

/// `ok` result of `view_annex`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AnnexContent {
    pub annex: AnnexId,
    pub code: String,
    pub title: String,
    pub classification: String,
    pub content: String,
    /// Reminder shown by clients: this view is in the audit log.
    pub logged: bool,
}

/// `ok` result of `export`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExportResult {
    pub format: ExportFormat,
    /// The room revision exported.
    pub revision: u64,
    /// Its packet revision (newest content change at or before it).
    pub packet_revision: u64,
    pub content_hash: String,
    /// False when restricted detail had to be redacted from the content.
    pub exact: bool,
    /// True when the bundle carries a release manifest.
    pub released: bool,
    /// The bundle, byte for byte as the server encoded it.
    pub text: String,
}

/// `ok` result of `manifests`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ManifestsResult {
    /// The server's Ed25519 public key (hex).
    pub public_key: String,
    /// Every release of the room, oldest first.
    pub manifests: Vec<ManifestRecord>,
}

/// `ok` result of `suggest` and `suggest_register` (a resend answers
/// with the plain [`Ack`]: `code` and `flags` absent).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SuggestAck {
    pub revision: u64,
    #[serde(default)]
    pub duplicate: bool,
    /// The suggestion's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// `S-N`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Boundary rules the suggestion tripped (stored with it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<BoundaryFlag>,
}

/// `ok` result of `accept_suggestion`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AcceptAck {
    /// The revision of the newest change the acceptance made (the edit, or
    /// the last register change).
    pub revision: u64,
    #[serde(default)]
    pub duplicate: bool,
    /// The revision of the `suggestion_decided` change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision_revision: Option<u64>,
}

/// `ok` result of `suggestions`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SuggestionsResult {
    /// Every suggestion, in number order.
    pub suggestions: Vec<Suggestion>,
    /// Reviewers the owner allowed to decide (owners always may).
    pub acceptors: Vec<UserId>,
    /// The boundary rules in force.
    pub rules: Vec<BoundaryRule>,
    /// True when the room uses the default rules.
    pub default_rules: bool,
}

/// `ok` result of `add_source`: what happened to each record, in request order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AddSourceAck {
    /// The revision of the last change made (the room's revision when
    /// nothing changed).
    pub revision: u64,
    #[serde(default)]
    pub duplicate: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub records: Vec<RecordAck>,
}

/// One record of an `add_source` answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordAck {
    pub id: String,
    pub outcome: crate::source::Registered,
    pub version: u32,
    pub digest: String,
}

/// `ok` result of `sources`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SourcesResult {
    pub revision: u64,
    /// Every registered record without its text, by id.
    pub sources: Vec<crate::source::Source>,
    /// Every section's citations and their state, in packet order.
    pub citations: Vec<SectionCitations>,
}

/// The citations of one section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SectionCitations {
    pub section: crate::ids::SectionId,
    pub title: String,
    pub cited: Vec<crate::evidence::CitedRecord>,
}

/// `ok` result of `view_source`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SourceContent {
    pub id: String,
    pub version: u32,
    /// Versions registered.
    pub versions: u32,
    pub digest: String,
    /// A restricted record's salt (its digest is `SHA-256(salt "\n" plain digest)`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salt: Option<String>,
    pub time: String,
    pub kind: String,
    pub actor: String,
    pub origin: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annex: Option<String>,
    pub text: String,
    /// Reminder shown by clients: this view is in the audit log.
    pub logged: bool,
}
