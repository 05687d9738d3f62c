//! The status of a release, which changes after the handoff: `current`,
//! `superseded` (a newer packet revision was released, or the packet
//! changed and nothing newer was released yet) or `withdrawn` (an owner
//! withdrew it, with a reason). Downstream reviewers hold a bundle and its
//! manifest; the signed status document tells them, offline, whether what
//! they hold still stands.
//!
//! The status **body** is a pure function of the room state (at a room
//! revision, `as_of_revision`) and the manifest history: the same state
//! gives the same bytes, and Ed25519 being deterministic, the same
//! signature. Signed bytes are the canonical JSON of the body.

use ed25519_dalek::{Signer as _, SigningKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::canonical::{canonical_json, sha256_hex};
use crate::holds::one_line;
use crate::ids::RoomId;
use crate::manifest::{Check, ManifestRecord, Verification, verify_signature};
use crate::release::{Audience, Lane};
use crate::room::RoomState;

/// The `format` of every status body.
pub const STATUS_FORMAT: &str = "trustroom-release-status/1";

/// Where a release stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum StatusKind {
    /// Nothing newer: the release is the packet as it stands.
    Current,
    /// The packet changed after it: `by_manifest` names the newer release
    /// (absent while nothing newer was released), `at_revision` the room
    /// revision where it was superseded (the newer release, or the first
    /// content change after this one).
    Superseded {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by_manifest: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by_packet_revision: Option<u64>,
        at_revision: u64,
        why: String,
    },
    /// An owner withdrew it.
    Withdrawn { reason: String, by: String, at_ms: i64, at_revision: u64 },
}

impl StatusKind {
    /// `current`, `superseded`, `withdrawn`.
    pub fn name(&self) -> &'static str {
        match self {
            StatusKind::Current => "current",
            StatusKind::Superseded { .. } => "superseded",
            StatusKind::Withdrawn { .. } => "withdrawn",
        }
    }
}

/// An owner's withdrawal of a release (kept in the room state).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Withdrawal {
    pub manifest_hash: String,
    pub reason: String,
    pub by: crate::ids::UserId,
    pub at_ms: i64,
    /// The room revision of the withdrawal.
    pub revision: u64,
    /// The room revision of the withdrawn release's (first) release event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_revision: Option<u64>,
}

/// The signed body of one release's status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusBody {
    pub format: String,
    pub room: RoomId,
    /// The release this status is of.
    pub manifest_hash: String,
    pub packet_revision: u64,
    pub lane: Lane,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<Audience>,
    /// The room revision of its (first) release event.
    pub release_revision: u64,
    /// The room revision this status was computed at.
    pub as_of_revision: u64,
    #[serde(flatten)]
    pub status: StatusKind,
    /// The server key that signs (hex).
    pub public_key: String,
}

/// A status body with its hash and signature: the status document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedStatus {
    pub body: StatusBody,
    /// SHA-256 (hex) of the canonical body.
    pub status_hash: String,
    /// Ed25519 signature (hex) over the canonical body.
    pub signature: String,
}

/// The status of every release of the room (one per manifest hash, in the
/// order first released), as of the room's current revision.
pub fn statuses(state: &RoomState, records: &[ManifestRecord], public_key: &str) -> Vec<StatusBody> {
    let mut seen = std::collections::BTreeSet::new();
    let firsts: Vec<&ManifestRecord> =
        records.iter().filter(|r| seen.insert(r.manifest.manifest_hash.clone())).collect();
    firsts
        .iter()
        .map(|r| {
            let m = &r.manifest.body;
            StatusBody {
                format: STATUS_FORMAT.to_string(),
                room: m.room,
                manifest_hash: r.manifest.manifest_hash.clone(),
                packet_revision: m.revision,
                lane: m.lane,
                audience: m.audience,
                release_revision: r.event.release_revision,
                as_of_revision: state.revision,
                status: status_of(state, records, r),
                public_key: public_key.to_string(),
            }
        })
        .collect()
}

fn status_of(state: &RoomState, records: &[ManifestRecord], r: &ManifestRecord) -> StatusKind {
    let hash = &r.manifest.manifest_hash;
    if let Some(w) = state.withdrawals.iter().find(|w| &w.manifest_hash == hash) {
        return StatusKind::Withdrawn {
            // Signed and handed on: restricted detail declared after the
            // withdrawal never travels in it.
            reason: crate::export::redact_sensitive(&w.reason, state.annexes.values()).0,
            by: crate::members::name_or_former(state, w.by),
            at_ms: w.at_ms,
            at_revision: w.revision,
        };
    }
    let packet = r.manifest.body.revision;
    // The first later release of a newer packet revision supersedes it.
    if let Some(newer) = records
        .iter()
        .filter(|n| n.event.release_revision > r.event.release_revision && n.manifest.body.revision > packet)
        .min_by_key(|n| n.event.release_revision)
    {
        let b = &newer.manifest.body;
        return StatusKind::Superseded {
            by_manifest: Some(newer.manifest.manifest_hash.clone()),
            by_packet_revision: Some(b.revision),
            at_revision: newer.event.release_revision,
            why: format!(
                "packet rev {} was released to the {} lane at rev {} (the packet changed after rev {packet})",
                b.revision, b.lane, newer.event.release_revision
            ),
        };
    }
    if state.content_revision > packet {
        let at = state
            .last_release
            .as_ref()
            .filter(|l| l.revision == packet)
            .and_then(|l| l.superseded_at)
            .unwrap_or(state.content_revision);
        return StatusKind::Superseded {
            by_manifest: None,
            by_packet_revision: None,
            at_revision: at,
            why: format!(
                "the packet changed at rev {at} after packet rev {packet}; no newer revision is released yet \
                 (the packet is at rev {})",
                state.content_revision
            ),
        };
    }
    StatusKind::Current
}

/// Signs a status body.
pub fn sign_status(body: StatusBody, key: &SigningKey) -> SignedStatus {
    let bytes = canonical_json(&body);
    SignedStatus { status_hash: sha256_hex(&bytes), signature: hex::encode(key.sign(&bytes).to_bytes()), body }
}

/// The JSON text of a status document: pretty, keys sorted, a final
/// newline (same document, same bytes).
pub fn to_json(status: &SignedStatus) -> String {
    crate::export::json_text(&serde_json::to_value(status).unwrap_or(Value::Null))
}

/// What a status document says about a bundle, once verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StatusVerdict {
    /// The document is not valid for this bundle (signature, key, hash or
    /// another release): `verification.checks` says why.
    Invalid,
    Current,
    Superseded,
    Withdrawn,
}

/// Verifies status document `text` against the server key `public_key_hex`
/// and the manifest hash of the bundle it should be about, offline: the
/// key the body names, the Ed25519 signature over the canonical body, the
/// status hash, and that it is of this very release.
pub fn verify_status(text: &str, public_key_hex: &str, manifest_hash: &str) -> (StatusVerdict, Verification) {
    let mut checks = Vec::new();
    let fail = |checks: Vec<Check>| {
        let first = checks.iter().find(|c| !c.ok).map(|c| format!("{}: {}", c.name, c.detail)).unwrap_or_default();
        (
            StatusVerdict::Invalid,
            Verification { verified: false, checks, summary: format!("STATUS NOT VERIFIED — {first}") },
        )
    };
    let add = |checks: &mut Vec<Check>, name: &str, ok: bool, detail: String| {
        checks.push(Check { name: name.into(), ok, detail });
        ok
    };
    let raw: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    let status: SignedStatus = match serde_json::from_value(raw.clone()) {
        Ok(s) => s,
        Err(e) => {
            add(&mut checks, "status json", false, format!("not a status document: {e}"));
            return fail(checks);
        }
    };
    let shape_ok = raw
        .as_object()
        .is_some_and(|m| m.len() == 3 && ["body", "status_hash", "signature"].iter().all(|k| m.contains_key(*k)));
    if !add(&mut checks, "status shape", shape_ok, "exactly body, status_hash and signature".into()) {
        return fail(checks);
    }
    let key = public_key_hex.trim().to_lowercase();
    let b = &status.body;
    if !add(
        &mut checks,
        "status format",
        b.format == STATUS_FORMAT,
        format!("format {} (expected {STATUS_FORMAT})", b.format),
    ) || !add(
        &mut checks,
        "status key",
        b.public_key.trim().to_lowercase() == key,
        format!("the status names key {}", b.public_key),
    ) {
        return fail(checks);
    }
    // The bytes as received (not re-encoded): a field added to the body
    // breaks the signature instead of being dropped unseen.
    let bytes = canonical_json(&raw["body"]);
    let signed = verify_signature(&key, &bytes, &status.signature);
    let detail = match &signed {
        Ok(()) => "Ed25519 signature over the canonical status body is valid".to_string(),
        Err(e) => e.to_string(),
    };
    if !add(&mut checks, "status signature", signed.is_ok(), detail) {
        return fail(checks);
    }
    let hash = sha256_hex(&bytes);
    if !add(
        &mut checks,
        "status hash",
        hash == status.status_hash,
        format!("the body hashes to {hash}; the document carries {}", status.status_hash),
    ) || !add(
        &mut checks,
        "status release",
        b.manifest_hash == manifest_hash,
        format!("the status is of manifest {}; the bundle's manifest is {manifest_hash}", b.manifest_hash),
    ) {
        return fail(checks);
    }
    let (verdict, summary) = match &b.status {
        StatusKind::Current => (
            StatusVerdict::Current,
            format!("CURRENT as of room rev {}: packet rev {} still stands", b.as_of_revision, b.packet_revision),
        ),
        StatusKind::Superseded { by_manifest, at_revision, why, .. } => (
            StatusVerdict::Superseded,
            match by_manifest {
                Some(m) => format!("SUPERSEDED by {} at rev {at_revision}: {}", one_line(m), one_line(why)),
                None => format!("SUPERSEDED at rev {at_revision}: {}", one_line(why)),
            },
        ),
        StatusKind::Withdrawn { reason, by, at_revision, .. } => (
            StatusVerdict::Withdrawn,
            format!("WITHDRAWN by {} at rev {at_revision}: {}", one_line(by), one_line(reason)),
        ),
    };
    (verdict, Verification { verified: true, checks, summary })
}

/// The manifest hash a bundle's text carries (`release.manifest.manifest_hash`).
pub fn bundle_manifest_hash(bundle_text: &str) -> Option<String> {
    let v: Value = serde_json::from_str(bundle_text).ok()?;
    v["release"]["manifest"]["manifest_hash"].as_str().map(str::to_string)
}
