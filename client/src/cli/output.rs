//! What the commands print: plain text for people (stable enough for
//! `grep`), JSON with `--json` for programs. Pure functions from protocol
//! values to strings, so they are tested without a server.

use std::fmt::Write as _;
use std::io::Write as _;

use trustroom_shared::holds::one_line;
use trustroom_shared::protocol::{
    Ack, AnnexContent, ExportResult, HoldsResult, LaneReleasesResult, ManifestsResult, ReleaseAck, ReleaseStatusResult,
    RoomSummary,
};
use trustroom_shared::readiness::{Readiness, release_status};
use trustroom_shared::release::ReleaseState;
use trustroom_shared::release_status::StatusKind;
use trustroom_shared::room::RoomState;
use trustroom_shared::statement::{StatementLabel, statements};
use trustroom_shared::view::Snapshot;

/// Writes `text` to stdout (a trailing newline added when missing) and flushes.
/// A closed pipe comes back as an `io::Error` of kind `BrokenPipe`, which the
/// exit-code mapping treats as a quiet end rather than a crash.
pub fn emit(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    if !text.ends_with('\n') {
        out.write_all(b"\n")?;
    }
    out.flush()
}

/// JSON for `--json`: pretty for documents, one line for acks and streams.
pub fn json_pretty<T: serde::Serialize>(value: &T) -> anyhow::Result<String> {
    Ok(serde_json::to_string_pretty(value)?)
}

/// A member's name, or `(former member 1234abcd)` for someone no longer in the room.
pub use trustroom_shared::members::name_or_former as name_of;

/// `rooms`: one line per room, `ID  ROLE  TITLE`.
pub fn rooms(rooms: &[RoomSummary]) -> String {
    if rooms.is_empty() {
        return "you are not a member of any room\n".into();
    }
    let width = rooms.iter().map(|r| r.role.len()).max().unwrap_or(0);
    let mut out = String::new();
    for r in rooms {
        let _ = writeln!(out, "{}  {:<width$}  {}", r.id, r.role, r.title);
    }
    out
}

/// One line describing the release state, with staleness: a stale release
/// reads `RELEASED rev N — superseded at rev M`, and after a later hold or
/// ready the last release is named too.
pub fn release(state: &RoomState) -> String {
    let status = release_status(state);
    let line = match &state.release {
        ReleaseState::Drafting => "DRAFTING".into(),
        ReleaseState::Held { reasons, by, .. } => {
            format!("HELD by {}: {}", name_of(state, *by), reasons.join("; "))
        }
        ReleaseState::Ready { revision, by, .. } => {
            let stale = if status.ready_stale {
                format!(" — stale: changed at rev {} (mark it ready again)", state.content_revision)
            } else {
                String::new()
            };
            format!("READY at rev {revision} by {}{stale}", name_of(state, *by))
        }
        ReleaseState::Released { by, content_hash, .. } => {
            format!("{} by {} (content {})", status.line, name_of(state, *by), short_hash(content_hash))
        }
        ReleaseState::Escalated { reason, by, .. } => {
            format!("ESCALATED by {}: {reason} (the room is read-only)", name_of(state, *by))
        }
    };
    match (&state.release, &state.last_release) {
        (ReleaseState::Released { .. }, _) | (_, None) => line,
        (_, Some(last)) => format!("{line} · last release: {} ({} lane)", last.status_line(), last.lane),
    }
}

/// `holds`: the hold register, one line per hold, oldest first.
pub fn holds(r: &HoldsResult, state: &RoomState) -> String {
    let open = r.holds.iter().filter(|h| h.is_open()).count();
    let mut out = format!(
        "Hold register of {:?} at rev {}: {} hold(s), {open} open; room {}\n",
        state.title,
        r.revision,
        r.holds.len(),
        r.release
    );
    for h in &r.holds {
        let _ = writeln!(out, "{}", trustroom_shared::holds::line(h, state));
    }
    out
}

/// `lane releases`: one line per release of the lane.
pub fn lane_releases(r: &LaneReleasesResult) -> String {
    let mut out = format!("Releases of the {} lane at rev {}: {}\n", r.lane, r.revision, r.releases.len());
    for e in &r.releases {
        let intake = match (&e.intake, &e.intake_reason) {
            (Some(d), Some(why)) => format!("{d}: {}", one_line(why)),
            (Some(d), None) => d.to_string(),
            (None, _) => "no intake decision".into(),
        };
        let why = e.why.as_deref().map(|w| format!(" ({})", one_line(w))).unwrap_or_default();
        let _ = writeln!(
            out,
            "{} packet rev {} released {} (rev {}): {}{why} · {intake} · {} finding(s)",
            e.manifest_hash,
            e.packet_revision,
            trustroom_shared::export::utc(e.released_at_ms),
            e.release_revision,
            e.status.to_uppercase(),
            e.findings
        );
    }
    out
}

/// `release status`: one line per release and its status.
pub fn statuses(r: &ReleaseStatusResult, state: &RoomState) -> String {
    let mut out = format!(
        "Release status of {:?} at rev {}: {} release(s), signed by key {}\n",
        state.title,
        r.revision,
        r.statuses.len(),
        r.public_key
    );
    for st in &r.statuses {
        let b = &st.body;
        let what = match &b.status {
            StatusKind::Current => "CURRENT".to_string(),
            StatusKind::Superseded { by_manifest: Some(m), at_revision, why, .. } => {
                format!("SUPERSEDED by {m} at rev {at_revision}: {}", one_line(why))
            }
            StatusKind::Superseded { by_manifest: None, at_revision, why, .. } => {
                format!("SUPERSEDED at rev {at_revision}: {}", one_line(why))
            }
            StatusKind::Withdrawn { reason, by, at_revision, .. } => {
                format!("WITHDRAWN by {by} at rev {at_revision}: {}", one_line(reason))
            }
        };
        let audience = b.audience.map(|a| format!(" · {a}")).unwrap_or_default();
        let _ = writeln!(
            out,
            "{} packet rev {} to {}{audience} (released rev {}): {what}",
            b.manifest_hash, b.packet_revision, b.lane, b.release_revision
        );
    }
    out
}

/// `policy` without options: who must co-sign.
pub fn policy(state: &RoomState) -> String {
    let p = &state.release_policy;
    let mut needs: Vec<String> = p.members.iter().map(|u| name_of(state, *u)).collect();
    needs.extend(p.disciplines.iter().map(|d| format!("a {d} reviewer")));
    if needs.is_empty() {
        format!("Release policy of {:?}: no co-signatures required (the owner's release alone)\n", state.title)
    } else {
        format!("Release policy of {:?}: co-signatures required from {}\n", state.title, needs.join(", "))
    }
}

/// The line printed after `export --out FILE`.
pub fn exported(r: &ExportResult, path: &str) -> String {
    let released = if r.released { "released, with manifest" } else { "not released" };
    let exact = if r.exact { "" } else { "; restricted detail redacted (not exact)" };
    format!(
        "exported rev {} (packet rev {}, content {}, {released}{exact}) as {} to {path}",
        r.revision,
        r.packet_revision,
        short_hash(&r.content_hash),
        r.format
    )
}

/// `manifests`: one line per release.
pub fn manifests(r: &ManifestsResult) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "server key {}", r.public_key);
    if r.manifests.is_empty() {
        let _ = writeln!(out, "no releases yet");
    }
    for m in &r.manifests {
        let b = &m.manifest.body;
        let co: Vec<&str> = b.cosigners.iter().map(|c| c.name.as_str()).collect();
        let _ = writeln!(
            out,
            "rev {}  packet rev {}  {}{}  {}  by {}  co-signed by {}  content {}  manifest {}",
            m.event.release_revision,
            b.revision,
            b.lane,
            b.audience.map(|a| format!(" · {a}")).unwrap_or_default(),
            trustroom_shared::export::utc(m.event.released_at_ms),
            b.signer.name,
            if co.is_empty() { "nobody".to_string() } else { co.join(", ") },
            short_hash(&b.content_hash),
            m.manifest.manifest_hash
        );
    }
    out
}

fn short_hash(h: &str) -> &str {
    &h[..16.min(h.len())]
}

/// A statement label as people read it.
pub fn label(label: &StatementLabel) -> String {
    match label {
        StatementLabel::Verified { evidence } => format!("verified: {}", evidence.join(", ")),
        StatementLabel::Contested { objections } => {
            let codes: Vec<String> = objections.iter().map(|n| format!("O-{n}")).collect();
            format!("contested: {}", codes.join(", "))
        }
        StatementLabel::Restricted => "restricted".into(),
        StatementLabel::AcceptedResidual => "residual".into(),
        StatementLabel::Unlabeled => "UNLABELED (no evidence)".into(),
        StatementLabel::Heading => "heading".into(),
    }
}

fn excerpt(text: &str, max: usize) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() > max {
        let cut: String = one_line.chars().take(max).collect();
        format!("{cut}…")
    } else {
        one_line
    }
}

fn indent(out: &mut String, text: &str, by: &str) {
    for line in text.lines() {
        if line.is_empty() {
            out.push('\n');
        } else {
            let _ = writeln!(out, "{by}{line}");
        }
    }
}

/// `show`: everything this member may see, annex content never included.
pub fn show(snapshot: &Snapshot) -> String {
    let st = &snapshot.state;
    let me = &snapshot.me;
    let mut out = String::new();
    let _ = writeln!(out, "{}", st.title);
    let _ = writeln!(out, "  room      {}", st.id);
    let _ = writeln!(out, "  revision  {}", st.revision);
    let _ = writeln!(out, "  release   {}", release(st));
    let _ = writeln!(out, "  content   {}", snapshot.content_hash);
    let caps: Vec<String> = me
        .capabilities
        .iter()
        .map(|c| serde_json::to_value(c).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default())
        .collect();
    let _ = writeln!(out, "  you       {} ({}); may: {}", me.name, me.role.label(), caps.join(", "));

    let _ = writeln!(out, "\nSections ({})", st.sections.len());
    for (i, s) in st.sections.iter().enumerate() {
        let _ = writeln!(out, "\n## {}. {}  [id {}, rev {}, {} chars]", i + 1, s.title, s.id, s.revision, s.len);
        if s.body.is_empty() {
            let _ = writeln!(out, "    (empty)");
            continue;
        }
        indent(&mut out, &s.body, "    ");
        let parsed = statements(&s.body);
        if !parsed.is_empty() {
            let _ = writeln!(out, "  statements:");
            for p in parsed {
                let refs = if p.annex_refs.is_empty() {
                    String::new()
                } else {
                    format!(" (annex {})", p.annex_refs.join(", "))
                };
                let _ = writeln!(out, "    {}. [{}]{refs} {}", p.index + 1, label(&p.label), excerpt(&p.text, 60));
            }
        }
    }

    let _ = writeln!(out, "\nRegister ({} objections)", st.objections.len());
    let mut objections: Vec<_> = st.objections.values().collect();
    objections.sort_by_key(|o| o.number);
    for o in objections {
        let blocking = if o.blocking { "blocking" } else { "non-blocking" };
        let found = o.found_downstream.as_ref().map(|f| format!(", {f}")).unwrap_or_default();
        let _ = writeln!(
            out,
            "  {} [{}, {blocking}, {}{found}] by {}  (id {})",
            o.code(),
            o.kind,
            o.status,
            name_of(st, o.author),
            o.id
        );
        if let Some(f) = &o.found_downstream {
            let _ = writeln!(out, "      pinned to release {} (rev {})", f.manifest_hash, f.release_revision);
        }
        let section = st.section(o.anchor.section).map(|s| s.title.clone()).unwrap_or_else(|| "?".into());
        let mut anchor = format!("on {section:?}");
        if let Some(n) = o.anchor.statement {
            let _ = write!(anchor, ", statement {}", n + 1);
        }
        if let Some(q) = &o.anchor.quote {
            let _ = write!(anchor, ", quoting {:?}", excerpt(q, 60));
        }
        let _ = writeln!(out, "      {anchor}");
        indent(&mut out, &o.text, "      ");
        if let Some(r) = &o.rationale {
            let _ = writeln!(out, "      rationale: {r}");
        }
        for r in &o.replies {
            let _ = writeln!(out, "      > {}:", name_of(st, r.author));
            indent(&mut out, &r.text, "        ");
        }
    }

    let _ = writeln!(out, "\nAnnexes ({})", st.annexes.len());
    let mut annexes: Vec<_> = st.annexes.values().collect();
    annexes.sort_by(|a, b| a.code.cmp(&b.code));
    for a in annexes {
        let access = if me.annex_access.contains(&a.id) { "yes" } else { "no" };
        let _ = writeln!(out, "  {}  {}  [{}]  access: {access}  (id {})", a.code, a.title, a.classification, a.id);
    }

    let _ = writeln!(out, "\nMembers ({})", st.members.len());
    let width = st.members.values().map(|m| m.name.chars().count()).max().unwrap_or(0);
    for m in st.members.values() {
        let you = if m.user == me.user { "  (you)" } else { "" };
        let _ = writeln!(out, "  {:<width$}  {}{you}", m.name, m.role.label());
    }
    out
}

/// `readiness`: the readiness record as people read it.
pub fn readiness(r: &Readiness, state: &RoomState) -> String {
    let mut out = String::new();
    let verdict = if r.is_clear() {
        "CLEAR: no blockers".to_string()
    } else {
        format!("BLOCKED: {} blocker(s)", r.blockers.len())
    };
    let _ = writeln!(out, "Readiness of {:?} at rev {}: {verdict}", state.title, r.revision);
    let release_line = if r.release.line.is_empty() { release(state) } else { r.release.line.clone() };
    let _ = writeln!(out, "Release state: {release_line}");
    if r.content_hash.is_empty() {
        let _ = writeln!(out, "Packet: rev {}", r.content_revision);
    } else {
        let _ = writeln!(out, "Packet: rev {}, content {}", r.content_revision, r.content_hash);
    }
    let owners: Vec<String> = r.owners.iter().map(|u| name_of(state, *u)).collect();
    let _ = writeln!(out, "Owners: {}", if owners.is_empty() { "none".into() } else { owners.join(", ") });
    let _ = writeln!(out, "Blockers ({}):", r.blockers.len());
    for b in &r.blockers {
        let _ = writeln!(out, "  - {}", b.describe());
    }
    if !r.boundary_checked {
        let _ =
            writeln!(out, "  (annex-boundary checks not run: this record was computed without the annexes' patterns)");
    }
    let c = &r.cosign;
    if c.requirements.is_empty() {
        let _ = writeln!(out, "Co-signatures: none required");
    } else {
        let met = if c.met { "met" } else { "NOT met" };
        let _ = writeln!(out, "Co-signatures ({met}):");
        for req in &c.requirements {
            match &req.met_by {
                Some(by) => {
                    let _ = writeln!(out, "  - {}: signed by {by}", req.need.describe());
                }
                None => {
                    let _ = writeln!(out, "  - {}: missing", req.need.describe());
                }
            }
        }
    }
    if !c.requirements.is_empty() || c.signatures.iter().any(|s| s.is_valid()) {
        let _ = writeln!(out, "{}", lane_covers(c).trim_end());
    }
    for again in &c.must_sign_again {
        let scope = again.lane.map(|l| format!(" for {l} · {}", again.audience)).unwrap_or_default();
        let _ = writeln!(
            out,
            "  ! {} must sign again{scope}: signed rev {}, voided at rev {} (changed: {})",
            again.name,
            again.signed_revision,
            again.voided_at,
            again.changed.join(", ")
        );
    }
    for o in &r.overrides {
        let _ = writeln!(
            out,
            "Override: the {} check, by {} at rev {}: {}",
            o.check.title(),
            name_of(state, o.by),
            o.revision,
            o.rationale
        );
    }
    let _ = writeln!(out, "Accepted residual disagreement ({}):", r.residual.len());
    for res in &r.residual {
        let _ = writeln!(out, "  - {}: {}", res.code, excerpt(&res.text, 100));
        let _ = writeln!(out, "    rationale: {}", res.rationale);
    }
    let _ = writeln!(out, "Held annexes ({}):", r.held_annexes.len());
    for a in &r.held_annexes {
        let _ = writeln!(out, "  - {} {} [{}]", a.code, a.title, a.classification);
    }
    let lanes: Vec<String> = r.lanes.iter().map(ToString::to_string).collect();
    let _ = writeln!(out, "Lanes: {}", lanes.join(", "));
    out
}

/// Which lanes (and up to which audience) the current co-signatures cover:
/// one line per lane, and each valid legacy co-signature (no lane), which
/// covers nothing.
pub fn lane_covers(c: &trustroom_shared::readiness::CosignStatus) -> String {
    use trustroom_shared::release::{Audience, Lane};
    let mut out = String::new();
    let _ = writeln!(out, "Lanes covered by co-signatures:");
    for lane in Lane::ALL {
        let widest = c.widest(lane);
        let line = match widest {
            Some(a) => {
                let signers = c.cover(lane, a).map(|x| x.signers.join(", ")).unwrap_or_default();
                let by = if signers.is_empty() { String::new() } else { format!(" (signed by {signers})") };
                let wider = Audience::ALL
                    .into_iter()
                    .filter(|w| *w > a)
                    .filter_map(|w| c.cover(lane, w))
                    .next()
                    .map(|x| format!("; {} needs {}", x.audience, x.missing.join(", ")))
                    .unwrap_or_default();
                format!("{lane}: covered up to audience {a}{by}{wider}")
            }
            None => {
                let missing = c.cover(lane, Audience::LaneReviewers).map(|x| x.missing.join(", ")).unwrap_or_default();
                format!("{lane}: NOT covered — missing {missing}")
            }
        };
        let _ = writeln!(out, "  - {line}");
    }
    for s in c.signatures.iter().filter(|s| s.is_valid() && s.lane.is_none()) {
        let _ = writeln!(
            out,
            "  ! {} signed rev {} without a lane (legacy): it covers no release; sign again for a lane",
            s.name, s.revision
        );
    }
    out
}

/// The line printed after a mutating request: `ok rev N[ duplicate][ WHAT ID]`.
pub fn ack(ack: &Ack, created_kind: Option<&str>, created_code: Option<&str>) -> String {
    let mut line = format!("ok rev {}", ack.revision);
    if ack.duplicate {
        line.push_str(" duplicate");
    }
    if let Some(id) = &ack.created {
        if let Some(kind) = created_kind {
            let _ = write!(line, " {kind}");
        }
        if let Some(code) = created_code {
            let _ = write!(line, " {code}");
        }
        let _ = write!(line, " {id}");
    }
    line
}

/// The answer to a release, naming both revisions so neither is mistaken
/// for the other: `ok room rev 152 RELEASED packet rev 146 (content
/// 9f2c3a1b0d4e5f60) to privacy · lane-reviewers from HELD manifest <hash>`.
/// The packet revision is the one `show`, `readiness` and the manifest name.
pub fn released(r: &ReleaseAck) -> String {
    format!(
        "ok room rev {} RELEASED packet rev {} (content {}) to {} · {} from {} manifest {}",
        r.revision,
        r.packet_revision,
        short_hash(&r.content_hash),
        r.lane,
        r.audience,
        r.from,
        r.manifest_hash
    )
}

/// The note printed on stderr after an annex view.
pub fn annex_logged_note(content: &AnnexContent) -> String {
    let logged = if content.logged { "is recorded in the room's audit log" } else { "was served (not logged?)" };
    format!("note: this view of annex {} ({}, {}) {logged}", content.code, content.title, content.classification)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resolve::tests::state;
    use trustroom_shared::ids::{RoomId, UserId};
    use trustroom_shared::policy::capabilities;
    use trustroom_shared::role::Role;
    use trustroom_shared::room::Member;
    use trustroom_shared::view::MemberSelf;

    fn snapshot() -> Snapshot {
        let mut st = state();
        let me = UserId::new();
        st.members.insert(me, Member { user: me, name: "Dana".into(), role: Role::Owner });
        let a1 = st.annexes.values().find(|a| a.code == "A1").map(|a| a.id).expect("A1 exists");
        Snapshot {
            content_hash: "ab".repeat(32),
            me: MemberSelf {
                user: me,
                name: "Dana".into(),
                role: Role::Owner,
                capabilities: capabilities(&Role::Owner),
                annex_access: vec![a1],
            },
            applied_seq: None,
            presence: Vec::new(),
            state: st,
        }
    }

    #[test]
    fn show_lists_sections_register_annexes_and_members() {
        let snap = snapshot();
        let text = show(&snap);
        assert!(text.starts_with("Incident 117\n"), "{text}");
        assert!(text.contains("  revision  0\n"));
        assert!(text.contains("  release   DRAFTING\n"));
        assert!(text.contains("## 1. Summary"));
        assert!(text.contains("    1. [verified: TL-1] One."));
        assert!(text.contains("    2. [UNLABELED (no evidence)] Two."));
        assert!(text.contains("  O-1 [wording, blocking, open] by (former member"));
        assert!(text.contains("  O-2 [wording, non-blocking, open]"));
        assert!(text.contains("A1  Tenant identifiers  [tenant-identifiers]  access: yes"));
        assert!(text.contains("A2  Session replay  [tenant-identifiers]  access: no"));
        assert!(text.contains("  Dana  owner  (you)"));
        assert!(text.contains("may: read, edit"));
    }

    #[test]
    fn readiness_text_names_owners_and_blockers() {
        let snap = snapshot();
        let r = trustroom_shared::readiness::readiness(&snap.state);
        let text = readiness(&r, &snap.state);
        assert!(text.contains("BLOCKED"), "{text}");
        assert!(text.contains("Owners: Dana"));
        assert!(text.contains("open blocking objection O-1"));
        assert!(text.contains("Held annexes (2):"));
        assert!(text.contains("Lanes: privacy, product-security, account-governance"));
    }

    #[test]
    fn release_lines_show_staleness_policy_and_exports() {
        use trustroom_shared::release::{Lane, LastRelease, ReleasePolicy};
        let mut st = state();
        let by = UserId::new();
        st.members.insert(by, Member { user: by, name: "Dana".into(), role: Role::Owner });
        let last = LastRelease {
            revision: 31,
            content_hash: "ab".repeat(32),
            lane: Lane::Privacy,
            by,
            at_ms: 0,
            release_revision: 32,
            superseded_at: Some(33),
            holds_since: 0,
            trace_since: 0,
        };
        st.content_revision = 34;
        st.release =
            ReleaseState::Released { revision: 31, content_hash: "ab".repeat(32), lane: Lane::Privacy, by, at_ms: 0 };
        st.last_release = Some(last);
        assert_eq!(
            release(&st),
            "RELEASED rev 31 — superseded at rev 33 (privacy lane) by Dana (content abababababababab)"
        );
        st.release =
            ReleaseState::Held { reasons: vec!["new evidence".into()], by: UserId(uuid::Uuid::nil()), at_ms: 0 };
        assert_eq!(
            release(&st),
            "HELD by the room: new evidence · last release: RELEASED rev 31 — superseded at rev 33 (privacy lane)"
        );
        assert!(policy(&st).contains("no co-signatures required"));
        st.release_policy =
            ReleasePolicy { members: vec![by], disciplines: vec![trustroom_shared::role::Discipline::Legal] };
        assert!(policy(&st).ends_with("co-signatures required from Dana, a legal reviewer\n"), "{}", policy(&st));
        let r = ExportResult {
            format: trustroom_shared::export::ExportFormat::Json,
            revision: 40,
            packet_revision: 31,
            content_hash: "cd".repeat(32),
            exact: true,
            released: true,
            text: String::new(),
        };
        assert_eq!(
            exported(&r, "b.json"),
            "exported rev 40 (packet rev 31, content cdcdcdcdcdcdcdcd, released, with manifest) as json to b.json"
        );
    }

    #[test]
    fn ack_lines() {
        let a = Ack { revision: 42, duplicate: false, created: None };
        assert_eq!(ack(&a, None, None), "ok rev 42");
        let a = Ack { revision: 43, duplicate: true, created: Some("0190".into()) };
        assert_eq!(ack(&a, Some("objection"), Some("O-4")), "ok rev 43 duplicate objection O-4 0190");
    }

    #[test]
    fn rooms_and_release_lines() {
        let rs = vec![RoomSummary { id: RoomId::new(), title: "T".into(), role: "owner".into() }];
        assert!(rooms(&rs).ends_with("  owner  T\n"));
        assert_eq!(rooms(&[]), "you are not a member of any room\n");
        let mut st = state();
        let by = UserId::new();
        st.members.insert(by, Member { user: by, name: "Dana".into(), role: Role::Owner });
        st.release = ReleaseState::Held { reasons: vec!["wait for legal".into()], by, at_ms: 0 };
        assert_eq!(release(&st), "HELD by Dana: wait for legal");
    }
}
