use super::*;
use crate::change::{Change, Revision, apply};
use crate::readiness::tests::{Fixture, fixture, set_body};
use crate::source::{SourceRecord, version_of};

fn commit(f: &mut Fixture, change: Change) {
    let state = &mut f.state;
    let rev = Revision {
        revision: state.revision + 1,
        author: f.owner,
        at_ms: 1_000 * (state.revision as i64 + 1),
        client: None,
        change,
    };
    apply(state, &rev).expect("applies");
}

fn record(f: &mut Fixture, id: &str, text: &str) {
    let r = SourceRecord {
        id: id.into(),
        time: "2026-11-17T09:17:03Z".into(),
        kind: "render".into(),
        text: text.into(),
        actor: String::new(),
        origin: "log".into(),
        annex: None,
    };
    let version = version_of(&f.state.evidence.sources, &r, "salt", f.owner, f.state.revision + 1, 0);
    commit(f, Change::SourceRecorded { source: id.into(), annex: None, version });
}

/// What the server does after each batch.
fn derive(f: &mut Fixture) -> Vec<BindingUpdate> {
    let u = updates(&f.state, None);
    if !u.is_empty() {
        commit(f, Change::EvidenceRebound { updates: u.clone() });
    }
    u
}

fn status(f: &Fixture, id: &str) -> CitationStatus {
    let section = f.state.section(f.section).expect("section");
    cited_records(&f.state, section).into_iter().find(|c| c.source == id).expect("cited").status
}

#[test]
fn without_a_register_nothing_is_bound_or_blocking() {
    let mut f = fixture();
    assert!(derive(&mut f).is_empty());
    assert!(unknown_citations(&f.state).is_empty());
    assert_eq!(unchecked_citations(&f.state), 1);
    assert_eq!(status(&f, "TL-1"), CitationStatus::Unchecked);
}

#[test]
fn citations_bind_go_stale_and_are_maintained() {
    let mut f = fixture();
    record(&mut f, "TL-1", "Case opened.");
    let u = derive(&mut f);
    assert!(matches!(&u[..], [BindingUpdate::Bind { why: BindReason::Cited, version: 1, .. }]), "{u:?}");
    assert!(matches!(status(&f, "TL-1"), CitationStatus::Fresh { version: 1, .. }));
    assert!(derive(&mut f).is_empty(), "bound once");

    // Same content again: nothing; other content: version 2, stale.
    record(&mut f, "TL-1", "Case opened at 09:02.");
    assert!(f.state.evidence.stale().count() == 1);
    let since = f.state.revision;
    assert_eq!(status(&f, "TL-1"), CitationStatus::Stale { cited_version: 1, version: 2, since_revision: since });
    assert!(derive(&mut f).is_empty(), "stale until maintained");

    // A third version keeps the clock running from the first change.
    record(&mut f, "TL-1", "Case opened at 09:02 UTC.");
    assert_eq!(status(&f, "TL-1"), CitationStatus::Stale { cited_version: 1, version: 3, since_revision: since });

    // Editing another statement does not maintain it.
    set_body(&mut f, "# Summary\n\n[verified: TL-1] A fact.\n\n[restricted] See [[annex:A1]].\n\nMore.");
    assert!(derive(&mut f).is_empty());
    // Updating the citing statement does.
    set_body(&mut f, "# Summary\n\n[verified: TL-1] A fact, at 09:02 UTC.\n\n[restricted] See [[annex:A1]].");
    let u = derive(&mut f);
    assert!(matches!(&u[..], [BindingUpdate::Bind { why: BindReason::Updated, version: 3, .. }]), "{u:?}");
    assert!(matches!(status(&f, "TL-1"), CitationStatus::Fresh { version: 3, .. }));
}

#[test]
fn relabelling_ends_the_binding_and_unknown_ids_are_reported() {
    let mut f = fixture();
    record(&mut f, "TL-1", "Case opened.");
    derive(&mut f);
    set_body(&mut f, "# Summary\n\n[verified: TL-9, annex:A1] A fact.\n\n[restricted] See [[annex:A1]].");
    let u = derive(&mut f);
    assert!(matches!(&u[..], [BindingUpdate::Unbind { why: UnbindReason::Relabelled, .. }]), "{u:?}");
    let unknown = unknown_citations(&f.state);
    assert_eq!(unknown.len(), 1, "annex citations are not records: {unknown:?}");
    assert_eq!(unknown[0].source, "TL-9");
    assert_eq!(status(&f, "TL-9"), CitationStatus::Unknown);
}

#[test]
fn the_same_steps_give_the_same_state() {
    let run = || {
        let mut f = fixture();
        record(&mut f, "TL-1", "a");
        derive(&mut f);
        record(&mut f, "TL-1", "b");
        set_body(&mut f, "# S\n\n[verified: TL-1] Updated.");
        derive(&mut f);
        serde_json::to_string(&f.state.evidence).expect("json")
    };
    assert_eq!(run(), run());
}

#[test]
fn time_to_maintain_is_replayed_from_the_log() {
    let mut f = fixture();
    let mut log: Vec<Revision> = Vec::new();
    let mut step = |f: &mut Fixture, change: Change| {
        let rev = Revision {
            revision: f.state.revision + 1,
            author: f.owner,
            at_ms: 1_000 * (f.state.revision as i64 + 1),
            client: None,
            change,
        };
        apply(&mut f.state, &rev).expect("applies");
        log.push(rev);
    };
    let rec = |f: &Fixture, text: &str| {
        let r = SourceRecord {
            id: "TL-1".into(),
            time: "2026-11-17T09:17:03Z".into(),
            kind: "k".into(),
            text: text.into(),
            actor: String::new(),
            origin: String::new(),
            annex: None,
        };
        let version = version_of(&f.state.evidence.sources, &r, "salt", f.owner, f.state.revision + 1, 0);
        Change::SourceRecorded { source: "TL-1".into(), annex: None, version }
    };
    let c = rec(&f, "a");
    step(&mut f, c);
    let u = updates(&f.state, None);
    step(&mut f, Change::EvidenceRebound { updates: u });
    let c = rec(&f, "b");
    step(&mut f, c);
    let changed_at = f.state.revision as i64 * 1_000;
    let confirm = BindingUpdate::Bind {
        section: f.section,
        source: "TL-1".into(),
        version: 2,
        digest: f.state.evidence.sources["TL-1"].digest().to_string(),
        why: BindReason::Confirmed,
    };
    step(&mut f, Change::EvidenceRebound { updates: vec![confirm] });
    let c = rec(&f, "c");
    step(&mut f, c);
    let refs: Vec<&Revision> = log.iter().collect();
    let m = maintain_time(&refs);
    assert_eq!((m.maintained, m.open), (1, 1), "{m:?}");
    assert_eq!(m.median_ms, Some(f.state.revision as i64 * 1_000 - 1_000 - changed_at));
    assert_eq!(m, maintain_time(&refs), "deterministic");
}
