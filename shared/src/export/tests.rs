use super::*;
use crate::readiness::tests::{fixture, set_body};

#[test]
fn hashed_content_hashes_to_the_content_hash() {
    let f = fixture();
    assert_eq!(digest(&hashed_content(&f.state)), content_hash(&f.state));
    let v = serde_json::to_value(hashed_content(&f.state)).expect("value");
    assert_eq!(sha256_hex(&canonical_json(&v)), content_hash(&f.state), "also through a JSON value");
}

#[test]
fn redaction_is_case_insensitive_and_never_leaks() {
    let f = fixture();
    let annexes: Vec<&Annex> = f.state.annexes.values().collect();
    let (out, hit) = redact_sensitive("a ACCT-4471-nwf b acct-4471-NWF", annexes.iter().copied());
    assert_eq!(out, "a [redacted: annex A1 · tenant-identifiers] b [redacted: annex A1 · tenant-identifiers]");
    assert_eq!(hit, vec!["A1".to_string()]);
    let (same, none) = redact_sensitive("nothing here", annexes.iter().copied());
    assert_eq!((same.as_str(), none.len()), ("nothing here", 0));
}

#[test]
fn references_become_markers_and_missing_ones_are_marked() {
    let mut f = fixture();
    set_body(
        &mut f,
        "[restricted] See [[annex:A1]] and [[annex:A7]].\n\n[contested: O-4] Disputed.\n\nLeak acct-4471-NWF.",
    );
    let core = export_core(&f.state);
    let st = &core.packet[0].statements;
    assert_eq!(
        st[0].text,
        "[restricted] See [redacted: annex A1 · tenant-identifiers] and [missing reference: annex A7]."
    );
    assert_eq!(st[0].marks, vec!["missing reference: annex A7 does not exist".to_string()]);
    assert_eq!(st[1].marks, vec!["missing reference: objection O-4 does not exist".to_string()]);
    assert_eq!(st[2].text, "Leak [redacted: annex A1 · tenant-identifiers].");
    assert!(!core.exact, "redacted content is not exact");
    let json = to_json(&bundle(&f.state, None));
    assert!(!json.to_lowercase().contains("acct-4471-nwf"), "{json}");
    let md = to_markdown(&bundle(&f.state, None));
    assert!(!md.to_lowercase().contains("acct-4471-nwf"), "{md}");
    assert!(md.contains("[redacted: annex A1 · tenant-identifiers]"));
    assert!(md.contains("missing reference: annex A7"));
}

#[test]
fn the_same_state_gives_the_same_bytes() {
    let f = fixture();
    let a = to_json(&bundle(&f.state, None));
    let b = to_json(&bundle(&f.state.clone(), None));
    assert_eq!(a, b);
    assert_eq!(to_markdown(&bundle(&f.state, None)), to_markdown(&bundle(&f.state, None)));
    let core = export_core(&f.state);
    assert!(core.exact);
    assert_eq!(core.content_hash, content_hash(&f.state));
    // Annex content never appears.
    assert!(!a.contains("\"content\": \"acct"), "{a}");
    assert!(!a.contains("salt"));
}

#[test]
fn promoted_passages_stay_with_provenance_and_overrides_stay_exact() {
    use crate::access::{Decided, Promotion, PromotionStatus, Provenance, Sealed};
    use crate::checks::{CheckKind, CheckOverride, evaluate};
    let mut f = fixture();
    let passage = "Tenant shown: acct-4471-NWF";
    set_body(&mut f, &format!("[verified: TR-2201] {passage} (promoted)."));
    let annex = f.state.annex_by_code("A1").map(|a| a.id).expect("A1");
    let promotion = Promotion {
        id: crate::ids::PromotionId(uuid::Uuid::from_u128(500)),
        number: 1,
        requester: f.privacy,
        annex,
        section: f.section,
        reason: "the tenant must be named downstream".into(),
        passage_chars: passage.chars().count(),
        passage_hash: Some(sha256_hex(passage.as_bytes())),
        passage: Some(Sealed(passage.into())),
        at_ms: 0,
        status: PromotionStatus::Approved,
        decided: Some(Decided { by: f.owner, note: None, at_ms: 0 }),
        provenance: Some(Provenance {
            annex,
            annex_code: "A1".into(),
            passage_hash: sha256_hex(passage.as_bytes()),
            approver: f.owner,
            approved_at_ms: 0,
            inserted_revision: f.state.revision,
        }),
    };
    f.state.access.promotions.insert(promotion.id, promotion);
    let core = export_core(&f.state);
    assert!(core.exact, "an approved promoted passage is not redacted");
    assert!(core.packet[0].statements[0].text.contains(passage));
    assert!(core.packet[0].statements[0].marks[0].starts_with("promoted passage P-1 from annex A1, approved by olive"));
    assert!(core.readiness.blockers.is_empty(), "{:?}", core.readiness.blockers);

    // Without the promotion it is a violation; an override keeps it exact and marked.
    f.state.access.promotions.clear();
    assert!(!export_core(&f.state).exact);
    let covered =
        evaluate(&f.state, 0).into_iter().find(|c| c.check == CheckKind::AnnexBoundary).expect("failing").covered;
    f.state.access.overrides.push(CheckOverride {
        check: CheckKind::AnnexBoundary,
        rationale: "the identifier is public in the customer notice".into(),
        by: f.owner,
        at_ms: 0,
        covered,
        revision: f.state.revision,
        lapsed_at: None,
    });
    let core = export_core(&f.state);
    assert!(core.exact);
    assert!(core.marks.iter().any(|m| m.mark.contains("overrode the annex boundary check")), "{:?}", core.marks);
}

#[test]
fn utc_formats_known_instants() {
    assert_eq!(utc(0), "1970-01-01 00:00:00Z");
    assert_eq!(utc(1_795_495_633_975), "2026-11-24 04:47:13Z");
    assert_eq!(utc(951_782_400_000), "2000-02-29 00:00:00Z");
}
