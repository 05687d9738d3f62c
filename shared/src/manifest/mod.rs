//! The release manifest: what a release produces, signed with the server's
//! Ed25519 key so a downstream reviewer can verify offline who released
//! what, and the verification of an exported JSON bundle against it.
//!
//! The signed **body** is a pure function of the room state at release,
//! the lane and audience, the signer and the audit anchor (the hash of the
//! audit entry that recorded the released packet revision's change):
//! releasing the same packet revision to the same lane and audience again
//! gives a byte-identical body and,
//! Ed25519 being deterministic, the same signature. The time of the release
//! event, its room revision and the audit head at that moment live in the
//! separately signed [`ReleaseEvent`], outside the body.
//!
//! Signed bytes are the canonical JSON (`canonical::canonical_json`) of the
//! body, and of the event without its `signature` field.

use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::canonical::{canonical_json, sha256_hex};
use crate::export::{EXPORT_FORMAT, SectionContent, core_digest, digest, export_core, json_text};
use crate::ids::{RoomId, SectionId, UserId};
use crate::readiness::{HeldAnnex, Residual, held_annexes, residual};
use crate::release::{Audience, Lane, ReleasePolicy};
use crate::room::RoomState;

/// The `format` of every manifest body.
pub const MANIFEST_FORMAT: &str = "trustroom-manifest/1";

/// The digest of one section.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SectionDigest {
    pub id: SectionId,
    pub title: String,
    /// SHA-256 of the canonical `{"body","id","title"}`.
    pub digest: String,
}

/// A member named in the manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub user: UserId,
    pub name: String,
}

/// A co-signer the release relied on: who, in which role, the packet
/// revision and content hash they signed, and the lane and audience their
/// co-signature approved (the release's lane; its audience or a wider one).
///
/// `content_hash`, `lane` and `audience` are absent only in manifests
/// released before approvals were scoped (they keep their signed bytes).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cosigner {
    pub user: UserId,
    pub name: String,
    pub role: String,
    pub revision: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lane: Option<Lane>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<Audience>,
}

/// An audit entry by position and hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditAnchor {
    pub seq: u64,
    pub hash: String,
}

/// The signed body of a release manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestBody {
    pub format: String,
    pub room: RoomId,
    pub title: String,
    /// The packet revision released (the newest content change).
    pub revision: u64,
    /// SHA-256 of the canonical packet + register + annex map.
    pub content_hash: String,
    pub sections: Vec<SectionDigest>,
    pub register_digest: String,
    pub annex_map_digest: String,
    /// SHA-256 of the canonical export core of this packet revision.
    pub bundle_digest: String,
    /// The owner who released.
    pub signer: Person,
    pub cosigners: Vec<Cosigner>,
    pub policy: ReleasePolicy,
    pub lane: Lane,
    /// Who downstream may read the release. Absent only in manifests
    /// released before approvals were scoped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<Audience>,
    pub held_annexes: Vec<HeldAnnex>,
    pub accepted_residual: Vec<Residual>,
    /// The audit entry that recorded the change producing `revision`: the
    /// audit chain up to the released packet revision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_anchor: Option<AuditAnchor>,
    /// Active owner overrides of failing room checks (false positives),
    /// with their rationales.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub check_overrides: Vec<crate::checks::CheckOverride>,
    /// The holds cleared since the room's release before this one (all
    /// cleared holds before a first release), with who cleared them and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub holds_cleared: Vec<crate::holds::HoldEntry>,
    /// SHA-256 of the canonical transformation trace the release record
    /// carries (`trace`); absent in manifests released before traces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_digest: Option<String>,
    /// The server key that signs (hex of the 32-byte Ed25519 public key).
    pub public_key: String,
}

/// A body with its hash and signature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedManifest {
    pub body: ManifestBody,
    /// SHA-256 (hex) of the canonical body.
    pub manifest_hash: String,
    /// Ed25519 signature (hex, 64 bytes) over the canonical body.
    pub signature: String,
}

/// One release event of a manifest: when, at which room revision, after
/// which audit head. Signed separately (it differs between two releases of
/// the same packet revision).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseEvent {
    pub manifest_hash: String,
    pub released_at_ms: i64,
    /// The room revision of the `release_changed` event.
    pub release_revision: u64,
    /// The audit chain head just before the release was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_head: Option<AuditAnchor>,
    /// The room's audit log as a Merkle tree, up to and including this
    /// release's own entry: its signed checkpoint (size, root) …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<crate::merkle::SignedCheckpoint>,
    /// … and the inclusion proof of the release's audit entry in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inclusion: Option<crate::merkle::Inclusion>,
    /// Ed25519 signature (hex) over the canonical event without this field.
    pub signature: String,
}

/// What the manifest history keeps per release.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestRecord {
    pub manifest: SignedManifest,
    pub event: ReleaseEvent,
    /// The transformation trace of the released packet revision, bound by
    /// the manifest's `trace_digest`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<crate::trace::Trace>,
}

/// Hex of a signing key's public key.
pub fn public_key_hex(key: &SigningKey) -> String {
    hex::encode(key.verifying_key().to_bytes())
}

/// The manifest body for releasing `state` to `lane` for `audience`,
/// signed by `signer`. Co-signers are the co-signatures the release relies
/// on: valid, of the current content hash, for this lane and this audience
/// or a wider one, by current members; sorted by name.
pub fn manifest_body(
    state: &RoomState,
    signer: UserId,
    lane: Lane,
    audience: Audience,
    audit_anchor: Option<AuditAnchor>,
    public_key: &str,
) -> ManifestBody {
    let core = export_core(state);
    let mut cosigners: Vec<Cosigner> = state
        .cosignatures
        .iter()
        .filter(|c| c.covers(&core.content_hash, lane, audience) && state.member(c.user).is_some())
        .map(|c| Cosigner {
            user: c.user,
            name: c.name.clone(),
            role: c.role.clone(),
            revision: c.revision,
            content_hash: Some(c.content_hash.clone()),
            lane: c.lane,
            audience: Some(c.audience),
        })
        .collect();
    cosigners.sort_by(|a, b| a.name.cmp(&b.name).then(a.user.cmp(&b.user)));
    ManifestBody {
        format: MANIFEST_FORMAT.to_string(),
        room: state.id,
        title: state.title.clone(),
        revision: state.content_revision,
        content_hash: core.content_hash.clone(),
        sections: state
            .sections
            .iter()
            .map(|s| SectionDigest {
                id: s.id,
                title: s.title.clone(),
                digest: digest(&SectionContent { id: s.id, title: s.title.clone(), body: s.body.clone() }),
            })
            .collect(),
        register_digest: digest(&core.content.register),
        annex_map_digest: digest(&core.content.annexes),
        bundle_digest: core_digest(&core),
        signer: Person {
            user: signer,
            name: state.member(signer).map(|m| m.name.clone()).unwrap_or_else(|| signer.to_string()),
        },
        cosigners,
        policy: state.release_policy.clone().normalized(),
        lane,
        audience: Some(audience),
        held_annexes: held_annexes(state),
        accepted_residual: residual(state),
        audit_anchor,
        check_overrides: state.access.overrides.iter().filter(|o| o.is_active()).cloned().collect(),
        holds_cleared: crate::holds::cleared_since_last_release(state),
        trace_digest: None,
        public_key: public_key.to_string(),
    }
}

/// Signs a body.
pub fn sign_manifest(body: ManifestBody, key: &SigningKey) -> SignedManifest {
    let bytes = canonical_json(&body);
    SignedManifest { manifest_hash: sha256_hex(&bytes), signature: hex::encode(key.sign(&bytes).to_bytes()), body }
}

#[derive(Serialize)]
struct UnsignedEvent<'a> {
    manifest_hash: &'a str,
    released_at_ms: i64,
    release_revision: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    audit_head: Option<&'a AuditAnchor>,
    #[serde(skip_serializing_if = "Option::is_none")]
    checkpoint: Option<&'a crate::merkle::SignedCheckpoint>,
    #[serde(skip_serializing_if = "Option::is_none")]
    inclusion: Option<&'a crate::merkle::Inclusion>,
}

/// Signs a release event of the manifest with hash `manifest_hash`.
pub fn sign_event(
    manifest_hash: &str,
    released_at_ms: i64,
    release_revision: u64,
    audit_head: Option<AuditAnchor>,
    key: &SigningKey,
) -> ReleaseEvent {
    let mut event = ReleaseEvent {
        manifest_hash: manifest_hash.to_string(),
        released_at_ms,
        release_revision,
        audit_head,
        checkpoint: None,
        inclusion: None,
        signature: String::new(),
    };
    event.signature = hex::encode(key.sign(&event_bytes(&event)).to_bytes());
    event
}

/// [`sign_event`] with the audit log's signed checkpoint and the inclusion
/// proof of the release's own audit entry.
pub fn sign_event_in_log(
    mut event: ReleaseEvent,
    checkpoint: crate::merkle::SignedCheckpoint,
    inclusion: crate::merkle::Inclusion,
    key: &SigningKey,
) -> ReleaseEvent {
    event.checkpoint = Some(checkpoint);
    event.inclusion = Some(inclusion);
    event.signature = hex::encode(key.sign(&event_bytes(&event)).to_bytes());
    event
}

/// The signed bytes of an event: its canonical JSON without `signature`.
fn event_bytes(e: &ReleaseEvent) -> Vec<u8> {
    canonical_json(&UnsignedEvent {
        manifest_hash: &e.manifest_hash,
        released_at_ms: e.released_at_ms,
        release_revision: e.release_revision,
        audit_head: e.audit_head.as_ref(),
        checkpoint: e.checkpoint.as_ref(),
        inclusion: e.inclusion.as_ref(),
    })
}

/// Why a signature does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the public key is not 32 bytes of hex")]
    BadKey,
    #[error("the signature is not 64 bytes of hex")]
    BadSignature,
    #[error("the signature does not match the signed bytes and key")]
    Mismatch,
}

/// Checks an Ed25519 signature (hex) over `message` with a public key (hex).
pub fn verify_signature(public_key_hex: &str, message: &[u8], signature_hex: &str) -> Result<(), SignatureError> {
    let key: [u8; 32] =
        hex::decode(public_key_hex.trim()).ok().and_then(|b| b.try_into().ok()).ok_or(SignatureError::BadKey)?;
    let key = VerifyingKey::from_bytes(&key).map_err(|_| SignatureError::BadKey)?;
    let sig: [u8; 64] =
        hex::decode(signature_hex).ok().and_then(|b| b.try_into().ok()).ok_or(SignatureError::BadSignature)?;
    key.verify_strict(message, &Signature::from_bytes(&sig)).map_err(|_| SignatureError::Mismatch)
}

/// One step of a bundle verification.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

/// The result of verifying a bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    /// True when every check passed: the bundle is exactly the released
    /// packet revision, signed by the given key.
    pub verified: bool,
    pub checks: Vec<Check>,
    /// One line for people.
    pub summary: String,
}

struct Checks(Vec<Check>);

impl Checks {
    /// Records a check with the wording of its verdict: `passed` when it
    /// holds, `failed` when it does not. A passing line never carries
    /// failure wording.
    fn add(&mut self, name: &str, ok: bool, passed: impl Into<String>, failed: impl Into<String>) -> bool {
        let detail = if ok { passed.into() } else { failed.into() };
        self.0.push(Check { name: name.to_string(), ok, detail });
        ok
    }

    /// Records a check that failed (there is no passing wording to give).
    fn fail(&mut self, name: &str, failed: impl Into<String>) {
        self.0.push(Check { name: name.to_string(), ok: false, detail: failed.into() });
    }

    /// The checks a signed manifest passes first: it names the expected
    /// `key`, its signature over the canonical body is valid, and the body
    /// hashes to the manifest hash it carries (`claimed`). The body's hash
    /// when all three pass.
    fn signed_body(
        &mut self,
        key: &str,
        signed_key: &str,
        body_bytes: &[u8],
        signature: &str,
        claimed: &str,
    ) -> Option<String> {
        if !self.add(
            "key",
            signed_key == key,
            format!("the manifest names the expected key {key}"),
            format!("the manifest names key {signed_key}, not the expected {key}"),
        ) {
            return None;
        }
        let verdict = verify_signature(key, body_bytes, signature);
        if !self.add(
            "manifest signature",
            verdict.is_ok(),
            "Ed25519 signature over the canonical body is valid",
            verdict.err().map(|e| e.to_string()).unwrap_or_default(),
        ) {
            return None;
        }
        let manifest_hash = sha256_hex(body_bytes);
        self.add(
            "manifest hash",
            manifest_hash == claimed,
            format!("the body hashes to {manifest_hash}, the manifest hash it carries"),
            format!("the body hashes to {manifest_hash}, not to the manifest hash it carries ({claimed})"),
        )
        .then_some(manifest_hash)
    }

    /// The audit-log checks of a release event: its checkpoint is signed by
    /// the key and is of this room's log, and the inclusion proof puts the
    /// release's own audit entry (naming this manifest, at the event's
    /// revision) last in that checkpoint. An event from before the log was
    /// a Merkle tree carries neither, and says so.
    fn audit_log(&mut self, event: Option<&ReleaseEvent>, key: &str, manifest_hash: &str, room: &str) -> bool {
        let Some(e) = event else {
            return self.add("audit checkpoint", false, "", "the release event does not parse");
        };
        let (Some(cp), Some(inc)) = (&e.checkpoint, &e.inclusion) else {
            return self.add(
                "audit checkpoint",
                e.checkpoint.is_none() && e.inclusion.is_none(),
                "none: released before the audit log was a Merkle tree",
                "the release event carries a checkpoint without an inclusion proof, or the reverse",
            );
        };
        let origin = crate::merkle::origin(room);
        if !self.add(
            "audit checkpoint",
            crate::merkle::checkpoint_signed(cp, key) && cp.checkpoint.origin == origin,
            format!(
                "the audit log of {origin} had {} entries with root {}, signed by the key",
                cp.checkpoint.size, cp.checkpoint.root
            ),
            format!("the checkpoint is not signed by the key or is not of {origin}"),
        ) {
            return false;
        }
        let entry = &inc.entry;
        let names_it = entry.kind == "change.release_changed"
            && entry.detail["manifest_hash"].as_str() == Some(manifest_hash)
            && entry.revision == e.release_revision
            && entry.room == room
            && inc.index + 1 == cp.checkpoint.size;
        self.add(
            "audit inclusion",
            names_it && crate::merkle::inclusion_holds(inc, &cp.checkpoint),
            format!("the release's audit entry {} is in the checkpoint (Merkle inclusion proof)", entry.seq),
            "the release's audit entry is not proven in the checkpoint, or is not this release's entry",
        )
    }

    fn done(self, summary_ok: impl FnOnce() -> String) -> Verification {
        let verified = self.0.iter().all(|c| c.ok) && !self.0.is_empty();
        let summary = if verified {
            summary_ok()
        } else {
            let first = self.0.iter().find(|c| !c.ok).map(|c| format!("{}: {}", c.name, c.detail)).unwrap_or_default();
            format!("NOT VERIFIED — {first}")
        };
        Verification { verified, checks: self.0, summary }
    }
}

fn keys_are(v: &Value, expected: &[&str]) -> bool {
    v.as_object().is_some_and(|m| m.len() == expected.len() && expected.iter().all(|k| m.contains_key(*k)))
}

/// A bundle's keys: `core`, `format`, `release`, and (an unreleased
/// revision's) `stats` and `holds`.
fn bundle_keys_ok(v: &Value) -> bool {
    v.as_object().is_some_and(|m| {
        ["core", "format", "release"].iter().all(|k| m.contains_key(*k))
            && m.keys().all(|k| ["core", "format", "release", "stats", "holds", "trace"].contains(&k.as_str()))
    })
}

fn str_at<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// Verifies one release of the manifest history against the server key
/// `public_key_hex`, offline: the key the body names, the Ed25519
/// signature over the canonical body, the manifest hash, and the signed
/// release event naming this manifest. (Whether the content is what was
/// released needs the bundle: [`verify_bundle`].)
pub fn verify_record(record: &ManifestRecord, public_key_hex: &str) -> Verification {
    let mut c = Checks(Vec::new());
    let key = public_key_hex.trim().to_lowercase();
    let body = &record.manifest.body;
    let signed_key = body.public_key.trim().to_lowercase();
    let body_bytes = canonical_json(body);
    let manifest = &record.manifest;
    let Some(manifest_hash) =
        c.signed_body(&key, &signed_key, &body_bytes, &manifest.signature, &manifest.manifest_hash)
    else {
        return c.done(String::new);
    };
    let e = &record.event;
    let unsigned = event_bytes(e);
    let event_ok = e.manifest_hash == manifest_hash && verify_signature(&key, &unsigned, &e.signature).is_ok();
    if !c.add(
        "release event",
        event_ok,
        "the release event is signed by the key and names this manifest",
        "the release event is not signed by the key or names another manifest",
    ) {
        return c.done(String::new);
    }
    if !c.audit_log(Some(e), &key, &manifest_hash, &body.room.to_string()) {
        return c.done(String::new);
    }
    let (revision, lane, signer) = (body.revision, body.lane, body.signer.name.clone());
    c.done(move || format!("VERIFIED — signed: packet revision {revision} released to the {lane} lane by {signer}"))
}

/// Verifies an exported JSON bundle against the server key `public_key_hex`:
/// exact encoding, signatures of the manifest body and release event, the
/// content hash and every digest recomputed from the bundle's content, the
/// bundle digest over its core, and that the manifest is of this very
/// packet revision. Stops at the first failure (later checks would only
/// repeat it).
pub fn verify_bundle(text: &str, public_key_hex: &str) -> Verification {
    let mut c = Checks(Vec::new());
    let key = public_key_hex.trim().to_lowercase();
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            c.fail("json", format!("not a JSON bundle: {e}"));
            return c.done(String::new);
        }
    };
    if !c.add(
        "encoding",
        json_text(&value) == text,
        "the bytes are exactly the exporter's encoding of the JSON they hold",
        "the bytes are not the exporter's exact encoding (whitespace, escapes or key order changed)",
    ) {
        return c.done(String::new);
    }
    if !c.add(
        "format",
        bundle_keys_ok(&value) && str_at(&value, "format") == EXPORT_FORMAT,
        format!("a {EXPORT_FORMAT} bundle"),
        format!("expected a {EXPORT_FORMAT} bundle with keys core, format, release (and stats when not released)"),
    ) {
        return c.done(String::new);
    }
    let release = &value["release"];
    if !c.add(
        "released",
        !release.is_null(),
        "the bundle carries a release manifest",
        "the bundle carries no release manifest: this packet revision was not released",
    ) {
        return c.done(String::new);
    }
    let manifest = &release["manifest"];
    let event = &release["event"];
    if !c.add(
        "manifest shape",
        (keys_are(release, &["event", "manifest"]) || keys_are(release, &["event", "manifest", "trace"]))
            && keys_are(manifest, &["body", "manifest_hash", "signature"]),
        "the release record holds a manifest (body, hash, signature) and its release event",
        "unexpected fields in the release record",
    ) {
        return c.done(String::new);
    }
    let body = &manifest["body"];
    let signed_key = str_at(body, "public_key").to_lowercase();
    let body_bytes = canonical_json(body);
    let (signature, claimed) = (str_at(manifest, "signature"), str_at(manifest, "manifest_hash"));
    let Some(manifest_hash) = c.signed_body(&key, &signed_key, &body_bytes, signature, claimed) else {
        return c.done(String::new);
    };
    let mut unsigned = event.clone();
    let event_sig = unsigned.as_object_mut().and_then(|m| m.remove("signature")).unwrap_or(Value::Null);
    let event_ok = str_at(event, "manifest_hash") == manifest_hash
        && verify_signature(&key, &canonical_json(&unsigned), event_sig.as_str().unwrap_or_default()).is_ok();
    if !c.add(
        "release event",
        event_ok,
        "the release event is signed by the key and names this manifest",
        "the release event is not signed by the key or names another manifest",
    ) {
        return c.done(String::new);
    }
    let parsed: Option<ReleaseEvent> = serde_json::from_value(event.clone()).ok();
    if !c.audit_log(parsed.as_ref(), &key, &manifest_hash, str_at(body, "room")) {
        return c.done(String::new);
    }
    let core = &value["core"];
    let content = &core["content"];
    let content_hash = sha256_hex(&canonical_json(content));
    let released_hash = str_at(body, "content_hash");
    if !c.add(
        "content hash",
        content_hash == released_hash && str_at(core, "content_hash") == released_hash,
        format!("the bundle's content hashes to {content_hash}, the content hash the release bound"),
        format!("the bundle's content hashes to {content_hash}, the release bound {released_hash}"),
    ) {
        return c.done(String::new);
    }
    let same_revision = core.get("revision") == body.get("revision")
        && core.get("room") == body.get("room")
        && core.get("exact") == Some(&Value::Bool(true));
    if !c.add(
        "revision",
        same_revision,
        "the bundle is exactly the manifest's room and packet revision",
        "the bundle is of another room or packet revision than the manifest",
    ) {
        return c.done(String::new);
    }
    let sections: Vec<Value> = content["sections"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|s| {
                    serde_json::json!({
                        "id": s["id"], "title": s["title"], "digest": sha256_hex(&canonical_json(s)),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let digests_ok = Value::Array(sections) == body["sections"]
        && sha256_hex(&canonical_json(&content["register"])) == str_at(body, "register_digest")
        && sha256_hex(&canonical_json(&content["annexes"])) == str_at(body, "annex_map_digest");
    if !c.add(
        "digests",
        digests_ok,
        "every section digest, the register digest and the annex-map digest match",
        "a section, register or annex-map digest differs",
    ) {
        return c.done(String::new);
    }
    let bundle_digest = sha256_hex(&canonical_json(core));
    if !c.add(
        "bundle",
        bundle_digest == str_at(body, "bundle_digest"),
        "the whole core (rendered packet, members, readiness, marks) is what was released",
        "the packet content matches, but the rest of the bundle (rendered packet, members, readiness, marks) differs from what was released",
    ) {
        return c.done(String::new);
    }
    // The trace the release record carries is the one the manifest binds.
    let trace_ok = match (body.get("trace_digest").and_then(Value::as_str), release.get("trace")) {
        (Some(d), Some(t)) => sha256_hex(&canonical_json(t)) == d,
        (None, None) => true,
        _ => false,
    };
    if !c.add(
        "trace",
        trace_ok,
        "the transformation trace is the one the manifest binds",
        "the transformation trace differs from the one the manifest binds",
    ) {
        return c.done(String::new);
    }
    // A released bundle is signed whole: unsigned metrics have no place in it.
    if !c.add(
        "unsigned parts",
        value.get("stats").is_none() && value.get("holds").is_none() && value.get("trace").is_none(),
        "nothing in the bundle is outside the signatures",
        "a released bundle carries metrics, which no signature covers",
    ) {
        return c.done(String::new);
    }
    let revision = body.get("revision").and_then(Value::as_u64).unwrap_or(0);
    let lane = str_at(body, "lane").to_string();
    let audience =
        body.get("audience").and_then(Value::as_str).map(|a| format!(" for audience {a}")).unwrap_or_default();
    let signer = str_at(&body["signer"], "name").to_string();
    let cosigners: Vec<String> = body["cosigners"]
        .as_array()
        .map(|a| a.iter().map(|s| str_at(s, "name").to_string()).collect())
        .unwrap_or_default();
    c.done(move || {
        let co = if cosigners.is_empty() {
            "no co-signers".to_string()
        } else {
            format!("co-signed by {}", cosigners.join(", "))
        };
        format!(
            "VERIFIED — exactly packet revision {revision} as released to the {lane} lane{audience} by {signer}, {co}"
        )
    })
}

#[cfg(test)]
mod tests;
