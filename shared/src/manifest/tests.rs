use super::*;
use crate::export::{bundle, to_json};
use crate::readiness::tests::{cosign_for, fixture, set_body};
use crate::role::Discipline;

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn released(state: &RoomState, k: &SigningKey) -> ManifestRecord {
    released_to(state, k, Lane::Privacy, Audience::LaneReviewers)
}

fn released_to(state: &RoomState, k: &SigningKey, lane: Lane, audience: Audience) -> ManifestRecord {
    let owner = state.owners().map(|m| m.user).next().expect("owner");
    let anchor = Some(AuditAnchor { seq: 7, hash: "ab".repeat(32) });
    let body = manifest_body(state, owner, lane, audience, anchor, &public_key_hex(k));
    let manifest = sign_manifest(body, k);
    let event = sign_event(&manifest.manifest_hash, 1_000, state.revision + 1, None, k);
    ManifestRecord { manifest, event, trace: None }
}

#[test]
fn the_same_state_gives_the_same_signed_manifest() {
    let f = fixture();
    let k = key(1);
    let a = released(&f.state, &k);
    let b = released(&f.state.clone(), &k);
    assert_eq!(a.manifest, b.manifest);
    assert_eq!(a.manifest.body.revision, f.state.content_revision);
    assert!(verify_signature(&public_key_hex(&k), &canonical_json(&a.manifest.body), &a.manifest.signature).is_ok());
    assert!(
        verify_signature(&public_key_hex(&key(2)), &canonical_json(&a.manifest.body), &a.manifest.signature).is_err()
    );
}

#[test]
fn the_manifest_carries_the_scope_and_the_cosignatures_it_relied_on() {
    let mut f = fixture();
    let (p, l) = (f.privacy, f.legal);
    cosign_for(&mut f, l, "dan", Some(Discipline::Legal), Some(Lane::Privacy), Audience::LaneReviewers);
    cosign_for(&mut f, p, "priya", Some(Discipline::Privacy), Some(Lane::Privacy), Audience::Organisation);
    cosign_for(&mut f, p, "priya", Some(Discipline::Privacy), Some(Lane::ProductSecurity), Audience::LaneReviewers);
    let k = key(6);
    let hash = crate::canonical::content_hash(&f.state);
    let m = released_to(&f.state, &k, Lane::Privacy, Audience::LaneReviewers).manifest;
    assert_eq!(m.body.lane, Lane::Privacy);
    assert_eq!(m.body.audience, Some(Audience::LaneReviewers));
    let scopes: Vec<(&str, Option<Lane>, Option<Audience>)> =
        m.body.cosigners.iter().map(|c| (c.name.as_str(), c.lane, c.audience)).collect();
    assert_eq!(
        scopes,
        [
            ("dan", Some(Lane::Privacy), Some(Audience::LaneReviewers)),
            ("priya", Some(Lane::Privacy), Some(Audience::Organisation))
        ],
        "only the co-signatures for this lane, sorted by name"
    );
    assert!(
        m.body
            .cosigners
            .iter()
            .all(|c| c.content_hash.as_deref() == Some(hash.as_str()) && c.revision == f.state.content_revision)
    );
    let v = serde_json::to_value(&m.body).expect("json");
    assert_eq!(v["audience"], "lane-reviewers");
    assert_eq!(v["cosigners"][0]["lane"], "privacy");
    assert_eq!(v["cosigners"][1]["audience"], "organisation");
    assert_eq!(v["cosigners"][0]["content_hash"], hash.as_str());
    // Deterministic: the same state and scope give the same bytes and signature.
    let again = released_to(&f.state.clone(), &k, Lane::Privacy, Audience::LaneReviewers).manifest;
    assert_eq!(canonical_json(&m.body), canonical_json(&again.body));
    assert_eq!(
        (m.manifest_hash.as_str(), m.signature.as_str()),
        (again.manifest_hash.as_str(), again.signature.as_str())
    );
    // A wider audience is another manifest, relying only on the wider co-signature.
    let wide = released_to(&f.state, &k, Lane::Privacy, Audience::Organisation).manifest;
    assert_ne!(wide.manifest_hash, m.manifest_hash);
    assert_eq!(wide.body.cosigners.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["priya"]);
    let ps = released_to(&f.state, &k, Lane::ProductSecurity, Audience::LaneReviewers).manifest;
    assert_eq!(
        ps.body.cosigners.iter().map(|c| (c.name.as_str(), c.lane)).collect::<Vec<_>>(),
        [("priya", Some(Lane::ProductSecurity))]
    );
    // A scoped bundle verifies and names lane and audience.
    let text = to_json(&bundle(&f.state, Some(released_to(&f.state, &k, Lane::Privacy, Audience::Organisation))));
    let v = verify_bundle(&text, &public_key_hex(&k));
    assert!(v.verified, "{v:?}");
    assert!(
        v.summary.contains("privacy lane for audience organisation") && v.summary.contains("co-signed by priya"),
        "{}",
        v.summary
    );
    // After a change, no co-signature is relied on any more.
    set_body(&mut f, "[verified: TL-7] Changed.");
    assert!(released_to(&f.state, &k, Lane::Privacy, Audience::LaneReviewers).manifest.body.cosigners.is_empty());
}

#[test]
fn a_manifest_released_before_scoping_keeps_its_signed_bytes() {
    let f = fixture();
    let k = key(8);
    let mut body = released(&f.state, &k).manifest.body;
    body.audience = None;
    body.cosigners = vec![Cosigner {
        user: f.privacy,
        name: "priya".into(),
        role: "reviewer/privacy".into(),
        revision: 3,
        content_hash: None,
        lane: None,
        audience: None,
    }];
    let old = sign_manifest(body, &k);
    let text = serde_json::to_string(&old).expect("json");
    assert!(!text.contains("audience") && !text.contains("\"lane\":null"), "{text}");
    let loaded: SignedManifest = serde_json::from_str(&text).expect("loads");
    assert_eq!(canonical_json(&loaded.body), canonical_json(&old.body), "re-serialized without new fields");
    assert!(verify_signature(&public_key_hex(&k), &canonical_json(&loaded.body), &loaded.signature).is_ok());
}

#[test]
fn a_released_bundle_verifies_and_any_changed_byte_fails() {
    let f = fixture();
    let k = key(3);
    let text = to_json(&bundle(&f.state, Some(released(&f.state, &k))));
    let ok = verify_bundle(&text, &public_key_hex(&k));
    assert!(ok.verified, "{ok:?}");
    assert!(ok.summary.starts_with("VERIFIED"), "{}", ok.summary);
    // Every byte matters (a stride keeps the test fast; the end-to-end
    // test covers the whole file of a real room).
    let bytes = text.as_bytes();
    for i in (0..bytes.len()).step_by(3) {
        let mut changed = bytes.to_vec();
        changed[i] = if changed[i] == b'0' {
            b'1'
        } else if changed[i] == b' ' {
            b'\t'
        } else {
            changed[i] ^ 0x01
        };
        let Ok(s) = String::from_utf8(changed) else { continue };
        let v = verify_bundle(&s, &public_key_hex(&k));
        assert!(!v.verified, "changing byte {i} ({:?}) still verifies", bytes[i] as char);
    }
    // Wrong key.
    assert!(!verify_bundle(&text, &public_key_hex(&key(4))).verified);
    // The exporter leaves metrics out of a released bundle; metrics
    // spliced into it (no signature covers them) fail.
    let with = crate::export::bundle_with_stats(&f.state, Some(released(&f.state, &k)), &[]);
    assert!(with.stats.is_none());
    let mut b = bundle(&f.state, Some(released(&f.state, &k)));
    b.stats = Some(crate::export::ExportStats::of(&f.state, &[]));
    let v = verify_bundle(&to_json(&b), &public_key_hex(&k));
    assert!(!v.verified && v.summary.contains("metrics"), "{}", v.summary);
}

#[test]
fn a_bundle_of_another_revision_does_not_verify() {
    let mut f = fixture();
    let k = key(5);
    let record = released(&f.state, &k);
    set_body(&mut f, "[verified: TL-9] Changed after release.");
    let text = to_json(&bundle(&f.state, Some(record)));
    let v = verify_bundle(&text, &public_key_hex(&k));
    assert!(!v.verified);
    assert!(v.summary.contains("content hash"), "{}", v.summary);
    let unreleased = to_json(&bundle(&f.state, None));
    let v = verify_bundle(&unreleased, &public_key_hex(&k));
    assert!(v.summary.contains("not released"), "{}", v.summary);
}

/// Words that only a failing line may carry.
const FAILURE_WORDS: [&str; 7] = ["not ", "no release", "differs", "unexpected", ", not the", "expected a", "another"];

fn assert_worded_as_passing(v: &Verification, upto: usize) {
    for c in v.checks.iter().take(upto) {
        assert!(c.ok, "{c:?}");
        for w in FAILURE_WORDS {
            assert!(!c.detail.contains(w), "passing line `{}` carries failure wording: {}", c.name, c.detail);
        }
    }
}

#[test]
fn each_line_is_worded_for_its_own_verdict() {
    let f = fixture();
    let k = key(6);
    let text = to_json(&bundle(&f.state, Some(released(&f.state, &k))));
    let ok = verify_bundle(&text, &public_key_hex(&k));
    assert!(ok.verified, "{ok:?}");
    assert_eq!(ok.checks.len(), 15, "every check ran: {:?}", ok.checks);
    assert_worded_as_passing(&ok, ok.checks.len());
    let detail = |v: &Verification, name: &str| v.checks.iter().find(|c| c.name == name).map(|c| c.detail.clone());
    assert_eq!(detail(&ok, "released").as_deref(), Some("the bundle carries a release manifest"));
    assert_eq!(detail(&ok, "key"), Some(format!("the manifest names the expected key {}", public_key_hex(&k))));

    // A wrong key: the lines before the key check pass and say so; the key
    // line fails and says why.
    let other = public_key_hex(&key(7));
    let v = verify_bundle(&text, &other);
    let last = v.checks.last().expect("a line");
    assert!(!last.ok && last.name == "key", "{last:?}");
    assert_eq!(last.detail, format!("the manifest names key {}, not the expected {other}", public_key_hex(&k)));
    assert_worded_as_passing(&v, v.checks.len() - 1);

    // Not released: the `released` line fails with the failure wording.
    let v = verify_bundle(&to_json(&bundle(&f.state, None)), &public_key_hex(&k));
    let last = v.checks.last().expect("a line");
    assert!(!last.ok && last.name == "released" && last.detail.contains("no release manifest"), "{last:?}");
    assert_worded_as_passing(&v, v.checks.len() - 1);
}

#[test]
fn a_release_record_verifies_offline_and_a_changed_byte_does_not() {
    let f = fixture();
    let k = key(1);
    let record = released(&f.state, &k);
    let v = verify_record(&record, &public_key_hex(&k));
    assert!(v.verified, "{v:?}");
    assert!(v.summary.starts_with("VERIFIED"), "{}", v.summary);
    let other = verify_record(&record, &public_key_hex(&key(2)));
    assert!(!other.verified && other.summary.contains("key"), "{}", other.summary);
    let mut tampered = record.clone();
    tampered.manifest.body.title.push('!');
    let v = verify_record(&tampered, &public_key_hex(&k));
    assert!(!v.verified && v.summary.contains("manifest signature"), "{}", v.summary);
    let mut moved = record;
    moved.event.release_revision += 1;
    let v = verify_record(&moved, &public_key_hex(&k));
    assert!(!v.verified && v.summary.contains("release event"), "{}", v.summary);
}
