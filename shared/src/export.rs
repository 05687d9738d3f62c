//! The export bundle: the packet, the register with threads and history,
//! the annex map (references only), the readiness record and the release
//! manifest of one packet revision, as deterministic JSON or Markdown.
//!
//! Everything here is a pure function of the room state (and the manifest
//! record, when that packet revision was released): the same state gives
//! byte-identical output. Nothing restricted is ever included: annexes are
//! redacted, every `[[annex:CODE]]` reference is rendered as an explicit
//! marker `[redacted: annex A1 · tenant-identifiers]`, and any annex
//! sensitive pattern found in the packet or register is replaced by that
//! marker too (then the bundle is not `exact`: its content no longer hashes
//! to the room's content hash). Missing or stale references are marked.

use std::fmt::{self, Write as _};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::annex::Annex;
use crate::canonical::{canonical_json, content_hash, sha256_hex};
use crate::ids::{RoomId, SectionId, UserId};
use crate::manifest::ManifestRecord;
use crate::objection::{Objection, ObjectionStatus};
use crate::readiness::{Blocker, HeldAnnex, Residual, boundary_checked, content_blockers, held_annexes, residual};
use crate::release::Lane;
use crate::role::{ParseEnumError, kebab_enum_text};
use crate::room::RoomState;
use crate::statement::{StatementLabel, statements};

/// The `format` of every JSON bundle this module writes.
pub const EXPORT_FORMAT: &str = "trustroom-export/1";

/// The two export formats.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    #[default]
    Json,
    Markdown,
}

kebab_enum_text!(ExportFormat, "export format", [
    ExportFormat::Json => "json",
    ExportFormat::Markdown => "markdown",
]);

/// The marker standing where restricted detail (or an annex reference) was.
pub fn redaction_marker(code: &str, classification: &str) -> String {
    format!("[redacted: annex {code} · {classification}]")
}

/// Replaces every occurrence (case-insensitive) of any annex's sensitive
/// patterns in `text` with that annex's redaction marker. Returns the text
/// and the codes of the annexes found (sorted, unique). Never lets a
/// pattern through: if one still matches after the replacement (an exotic
/// case mapping), the whole text becomes markers.
pub fn redact_sensitive<'a>(text: &str, annexes: impl IntoIterator<Item = &'a Annex>) -> (String, Vec<String>) {
    let mut patterns: Vec<(Vec<char>, &'a Annex)> = Vec::new();
    let annexes: Vec<&'a Annex> = annexes.into_iter().collect();
    for a in &annexes {
        for p in a.sensitive.iter().filter(|p| !p.is_empty()) {
            patterns.push((p.chars().collect(), a));
        }
    }
    if patterns.is_empty() || text.is_empty() {
        return (text.to_string(), Vec::new());
    }
    // Longest first, so a pattern containing another is replaced whole.
    patterns.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.1.code.cmp(&b.1.code)));
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut hit: Vec<String> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let found = patterns.iter().find(|(p, _)| {
            i + p.len() <= chars.len() && p.iter().zip(&chars[i..]).all(|(a, b)| a.to_lowercase().eq(b.to_lowercase()))
        });
        match found {
            Some((p, annex)) => {
                out.push_str(&redaction_marker(&annex.code, &annex.classification));
                if !hit.contains(&annex.code) {
                    hit.push(annex.code.clone());
                }
                i += p.len();
            }
            None => {
                out.push(chars[i]);
                i += 1;
            }
        }
    }
    let still: Vec<&&Annex> = annexes.iter().filter(|a| !a.leaks_in(&out).is_empty()).collect();
    if !still.is_empty() {
        out = still.iter().map(|a| redaction_marker(&a.code, &a.classification)).collect::<Vec<_>>().join(" ");
        for a in still {
            if !hit.contains(&a.code) {
                hit.push(a.code.clone());
            }
        }
    }
    hit.sort_by_key(|c| crate::readiness::annex_code_key(c));
    (out, hit)
}

/// A section as the content hash covers it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SectionContent {
    pub id: SectionId,
    pub title: String,
    pub body: String,
}

/// Exactly what the content hash covers (see `canonical::content_hash`):
/// sections in packet order, the register and the redacted annex map, both
/// ascending by id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HashedContent {
    pub sections: Vec<SectionContent>,
    pub register: Vec<Objection>,
    pub annexes: Vec<Annex>,
}

/// The hashed content of a state (annexes redacted).
pub fn hashed_content(state: &RoomState) -> HashedContent {
    HashedContent {
        sections: state
            .sections
            .iter()
            .map(|s| SectionContent { id: s.id, title: s.title.clone(), body: s.body.clone() })
            .collect(),
        register: state.objections.values().cloned().collect(),
        annexes: state.annexes.values().map(Annex::redacted).collect(),
    }
}

/// SHA-256 of the canonical JSON of any value.
pub fn digest<T: Serialize>(value: &T) -> String {
    sha256_hex(&canonical_json(value))
}

/// One statement of the packet as exported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PacketStatement {
    /// Paragraph index in the section (0-based).
    pub index: usize,
    pub label: StatementLabel,
    /// The paragraph with every annex reference and any restricted detail
    /// replaced by a marker.
    pub text: String,
    /// Missing or stale references and redactions in this paragraph.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub marks: Vec<String>,
}

/// One section of the packet as exported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PacketSection {
    pub id: SectionId,
    pub title: String,
    /// SHA-256 of the canonical `{"body","id","title"}` of the section.
    pub digest: String,
    pub statements: Vec<PacketStatement>,
}

/// A member, for names in the register and readiness.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberRef {
    pub user: UserId,
    pub name: String,
    pub role: String,
}

/// The content part of the readiness record (the co-sign side is in the
/// manifest; release state is not part of a packet revision).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoreReadiness {
    pub owners: Vec<UserId>,
    pub blockers: Vec<Blocker>,
    pub residual: Vec<Residual>,
    pub held_annexes: Vec<HeldAnnex>,
    pub lanes: Vec<Lane>,
    pub boundary_checked: bool,
}

/// A marked problem: where, and what.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mark {
    #[serde(rename = "where")]
    pub at: String,
    pub mark: String,
}

/// Everything about one packet revision that the bundle binds (and the
/// manifest's `bundle_digest` covers).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportCore {
    pub room: RoomId,
    pub title: String,
    /// The packet revision: the revision of the newest content change.
    pub revision: u64,
    /// The room's content hash at this revision.
    pub content_hash: String,
    /// True when `content` is exactly what `content_hash` covers; false
    /// when restricted detail had to be redacted from it.
    pub exact: bool,
    /// The hashed content (see [`HashedContent`]).
    pub content: HashedContent,
    /// The packet rendered with markers, statement by statement.
    pub packet: Vec<PacketSection>,
    pub members: Vec<MemberRef>,
    pub readiness: CoreReadiness,
    pub marks: Vec<Mark>,
}

/// The bundle: `{"core", "format", "release"}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Bundle {
    pub format: String,
    pub core: ExportCore,
    /// The manifest and release event, when this packet revision was released.
    pub release: Option<ManifestRecord>,
    /// The room's working metrics at the exported room revision (not
    /// covered by the manifest: they move with suggestions and access,
    /// which do not change the packet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<ExportStats>,
}

/// The metrics an export carries: [`crate::stats::RoomStats`] without the
/// per-bucket series (sparklines are for screens) and without annex views
/// (viewing must not change an export's bytes).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportStats {
    pub suggestions: crate::stats::Outcomes,
    pub by_role: Vec<crate::stats::RoleOutcomes>,
    pub by_human: Vec<crate::stats::HumanOutcomes>,
    pub objections: crate::stats::ObjectionCounts,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_ready_after_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_release_after_ms: Option<i64>,
    pub access: crate::stats::AccessCounts,
    pub edits: u64,
}

impl ExportStats {
    /// The export's metrics of `state` from its revision log.
    pub fn of(state: &RoomState, log: &[crate::change::Revision]) -> ExportStats {
        let st = crate::stats::compute(state, log, None);
        ExportStats {
            suggestions: st.suggestions,
            by_role: st.by_role,
            by_human: st.by_human,
            objections: st.objections,
            first_ready_after_ms: st.first_ready_after_ms,
            first_release_after_ms: st.first_release_after_ms,
            access: st.access,
            edits: st.edits,
        }
    }
}

/// A char range of a section body to replace by a redaction marker.
struct Cut {
    start: usize,
    end: usize,
    code: String,
    marker: String,
}

/// The char ranges of `section`'s body that the annex-boundary check
/// blocks on (approved promoted passages and violations an active override
/// covers are not among them), merged where they overlap; and whether the
/// title leaks.
fn section_cuts(state: &RoomState, section: SectionId, blocking: &[crate::checks::Violation]) -> (Vec<Cut>, bool) {
    let mut cuts: Vec<Cut> = Vec::new();
    let mut title = false;
    let mut found: Vec<&crate::checks::Violation> = blocking.iter().filter(|v| v.section == Some(section)).collect();
    found.sort_by_key(|v| v.position);
    for v in found {
        let (Some(start), Some(len)) = (v.position, v.len) else {
            title = true;
            continue;
        };
        let code = v.annex.clone().unwrap_or_default();
        let classification = state.annex_by_code(&code).map_or("restricted", |a| a.classification.as_str());
        match cuts.last_mut() {
            Some(last) if start < last.end => last.end = last.end.max(start + len),
            _ => cuts.push(Cut { start, end: start + len, marker: redaction_marker(&code, classification), code }),
        }
    }
    (cuts, title)
}

/// `chars[from..to]` with every cut inside it replaced by its marker; the
/// annex codes cut.
fn apply_cuts(chars: &[char], from: usize, to: usize, cuts: &[Cut]) -> (String, Vec<String>) {
    let mut out = String::new();
    let mut codes = Vec::new();
    let mut i = from;
    for c in cuts.iter().filter(|c| c.start < to && c.end > from) {
        let start = c.start.max(from);
        out.extend(&chars[i.min(start)..start]);
        out.push_str(&c.marker);
        if !codes.contains(&c.code) {
            codes.push(c.code.clone());
        }
        i = c.end.min(to);
    }
    if i < to {
        out.extend(&chars[i..to]);
    }
    (out, codes)
}

fn render_paragraph(state: &RoomState, redacted: &str, hit: &[String], marks: &mut Vec<String>) -> String {
    for code in hit {
        marks.push(format!("restricted detail of annex {code} redacted from the main packet"));
    }
    let mut out = String::with_capacity(redacted.len());
    let mut rest = redacted;
    while let Some(i) = rest.find("[[annex:") {
        out.push_str(&rest[..i]);
        let tail = &rest[i + 8..];
        let Some(j) = tail.find("]]") else {
            out.push_str(&rest[i..]);
            rest = "";
            break;
        };
        let code = tail[..j].trim();
        match state.annex_by_code(code) {
            Some(a) => out.push_str(&redaction_marker(&a.code, &a.classification)),
            None => {
                let shown: String = code.chars().take(20).collect();
                out.push_str(&format!("[missing reference: annex {shown}]"));
                marks.push(format!("missing reference: annex {shown} does not exist"));
            }
        }
        rest = &tail[j + 2..];
    }
    out.push_str(rest);
    out
}

fn reference_marks(state: &RoomState, label: &StatementLabel, marks: &mut Vec<String>) {
    if let StatementLabel::Contested { objections } = label {
        for n in objections {
            match state.objection_by_number(*n) {
                None => marks.push(format!("missing reference: objection O-{n} does not exist")),
                Some(o) if matches!(o.status, ObjectionStatus::Addressed | ObjectionStatus::Withdrawn) => {
                    marks.push(format!("stale reference: objection O-{n} is {}", o.status))
                }
                Some(_) => {}
            }
        }
    }
}

fn redact_objection(state: &RoomState, o: &Objection) -> (Objection, Vec<String>) {
    let mut hit: Vec<String> = Vec::new();
    let mut r = |t: &str| {
        let (text, codes) = redact_sensitive(t, state.annexes.values());
        for c in codes {
            if !hit.contains(&c) {
                hit.push(c);
            }
        }
        text
    };
    let mut out = o.clone();
    out.text = r(&o.text);
    out.anchor.quote = o.anchor.quote.as_deref().map(&mut r);
    out.rationale = o.rationale.as_deref().map(&mut r);
    for reply in &mut out.replies {
        reply.text = r(&reply.text);
    }
    for h in &mut out.history {
        h.rationale = h.rationale.as_deref().map(&mut r);
    }
    hit.sort_by_key(|c| crate::readiness::annex_code_key(c));
    (out, hit)
}

/// Provenance marks of the approved promoted passages found in a section
/// body: (char position, mark).
fn promotion_marks(state: &RoomState, section: SectionId, chars: &[char]) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for p in state.access.promotions.values().filter(|p| p.section == section) {
        if p.status != crate::access::PromotionStatus::Approved {
            continue;
        }
        let (Some(passage), Some(prov)) = (p.passage.as_ref(), p.provenance.as_ref()) else { continue };
        let needle: Vec<char> = passage.expose().chars().collect();
        if needle.is_empty() || needle.len() > chars.len() {
            continue;
        }
        let Some(at) = (0..=chars.len() - needle.len()).find(|i| chars[*i..*i + needle.len()] == needle[..]) else {
            continue;
        };
        let approver = state.member(prov.approver).map_or_else(|| prov.approver.to_string(), |m| m.name.clone());
        out.push((
            at,
            format!(
                "promoted passage {} from annex {}, approved by {approver}, inserted at rev {} (sha256 {})",
                p.code(),
                prov.annex_code,
                prov.inserted_revision,
                &prov.passage_hash[..16.min(prov.passage_hash.len())]
            ),
        ));
    }
    out
}

/// The core of the export of `state` (the server's full state: annex
/// patterns are needed for the redaction).
pub fn export_core(state: &RoomState) -> ExportCore {
    let mut marks: Vec<Mark> = Vec::new();
    let mut exact = true;
    let mut content = hashed_content(state);
    // Exactly what the annex-boundary room check blocks on is redacted:
    // passages promoted with the owner's approval stay (with their
    // provenance), and so does what an active override declared a false
    // positive (listed in the marks and the manifest).
    let blocking = crate::checks::boundary_blocking(state);
    let mut section_cuts_of: Vec<(Vec<Cut>, bool)> = Vec::new();
    for s in &mut content.sections {
        let (cuts, title_hit) = section_cuts(state, s.id, &blocking);
        if title_hit {
            s.title = redact_sensitive(&s.title, state.annexes.values()).0;
            exact = false;
        }
        if !cuts.is_empty() {
            let chars: Vec<char> = s.body.chars().collect();
            s.body = apply_cuts(&chars, 0, chars.len(), &cuts).0;
            exact = false;
        }
        section_cuts_of.push((cuts, title_hit));
    }
    for o in state.access.overrides.iter().filter(|o| o.is_active()) {
        marks.push(Mark {
            at: "room checks".into(),
            mark: format!(
                "the owner overrode the {} check as a false positive at rev {}: {}",
                o.check.title(),
                o.revision,
                redact_sensitive(&o.rationale, state.annexes.values()).0
            ),
        });
    }
    for o in &mut content.register {
        let (redacted, hit) = redact_objection(state, o);
        if !hit.is_empty() {
            exact = false;
            marks.push(Mark {
                at: format!("objection {}", o.code()),
                mark: format!("restricted detail of annex {} redacted from the register", hit.join(", ")),
            });
            *o = redacted;
        }
    }
    let mut packet = Vec::new();
    for ((section, hashed), (cuts, _)) in state.sections.iter().zip(&content.sections).zip(&section_cuts_of) {
        let chars: Vec<char> = section.body.chars().collect();
        let promoted = promotion_marks(state, section.id, &chars);
        let mut out = Vec::new();
        for st in statements(&section.body) {
            let end = (st.start + st.len).min(chars.len());
            let (para, hit) = apply_cuts(&chars, st.start.min(end), end, cuts);
            let mut m = Vec::new();
            let text = render_paragraph(state, &para, &hit, &mut m);
            reference_marks(state, &st.label, &mut m);
            m.extend(promoted.iter().filter(|(at, _)| *at >= st.start && *at < end).map(|(_, mark)| mark.clone()));
            for mark in &m {
                marks.push(Mark {
                    at: format!("section \"{}\" statement {}", hashed.title, st.index + 1),
                    mark: mark.clone(),
                });
            }
            let label = match st.label {
                StatementLabel::Verified { evidence } => StatementLabel::Verified {
                    evidence: evidence.iter().map(|e| redact_sensitive(e, state.annexes.values()).0).collect(),
                },
                other => other,
            };
            out.push(PacketStatement { index: st.index, label, text, marks: m });
        }
        packet.push(PacketSection {
            id: section.id,
            title: hashed.title.clone(),
            digest: digest(&SectionContent {
                id: section.id,
                title: section.title.clone(),
                body: section.body.clone(),
            }),
            statements: out,
        });
    }
    // Room checks other than the annex boundary (access validity, release
    // rules) depend on more than the packet revision: not part of it.
    let blockers: Vec<Blocker> =
        content_blockers(state).into_iter().filter(|b| !matches!(b, Blocker::RoomCheck { .. })).collect();
    ExportCore {
        room: state.id,
        title: state.title.clone(),
        revision: state.content_revision,
        content_hash: content_hash(state),
        exact,
        content,
        packet,
        members: state
            .members
            .values()
            .map(|m| MemberRef { user: m.user, name: m.name.clone(), role: m.role.label() })
            .collect(),
        readiness: CoreReadiness {
            owners: state.owners().map(|m| m.user).collect(),
            blockers,
            residual: residual(state),
            held_annexes: held_annexes(state),
            lanes: vec![Lane::Privacy, Lane::ProductSecurity, Lane::AccountGovernance],
            boundary_checked: boundary_checked(state),
        },
        marks,
    }
}

/// The digest the manifest binds: SHA-256 of the canonical core.
pub fn core_digest(core: &ExportCore) -> String {
    digest(core)
}

/// The bundle of `state`, with the release record of this packet revision if any.
pub fn bundle(state: &RoomState, release: Option<ManifestRecord>) -> Bundle {
    Bundle { format: EXPORT_FORMAT.to_string(), core: export_core(state), release, stats: None }
}

/// [`bundle`] with the room's metrics computed from its revision log
/// (revisions up to `state.revision`; deterministic). A released packet
/// revision's bundle carries no metrics: every byte of it is covered by
/// the signed manifest (see `manifest::verify_bundle`), and the metrics
/// move after the release; they stay in the Markdown rendering and the
/// `stats` request.
pub fn bundle_with_stats(
    state: &RoomState,
    release: Option<ManifestRecord>,
    log: &[crate::change::Revision],
) -> Bundle {
    let stats = Some(ExportStats::of(state, log));
    Bundle { stats: if release.is_none() { stats } else { None }, ..bundle(state, release) }
}

/// The Markdown rendering with the room's metrics (also for a released
/// revision: Markdown is for people and is not verified).
pub fn to_markdown_with_stats(state: &RoomState, b: &Bundle, log: &[crate::change::Revision]) -> String {
    let mut with = b.clone();
    with.stats = Some(ExportStats::of(state, log));
    to_markdown(&with)
}

/// The JSON encoding: pretty-printed, keys sorted, a final newline. The
/// same bundle always gives the same bytes.
pub fn to_json(bundle: &Bundle) -> String {
    let value = serde_json::to_value(bundle).unwrap_or(serde_json::Value::Null);
    json_text(&value)
}

/// Pretty JSON of a value with sorted keys and a final newline.
pub fn json_text(value: &serde_json::Value) -> String {
    let mut s = serde_json::to_string_pretty(value).unwrap_or_default();
    s.push('\n');
    s
}

/// `YYYY-MM-DD HH:MM:SSZ` (UTC) of a Unix time in milliseconds.
pub fn utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

fn name(core: &ExportCore, user: UserId) -> String {
    match core.members.iter().find(|m| m.user == user) {
        Some(m) => m.name.clone(),
        None if user.0.is_nil() => "system".into(),
        None => format!("(former member {user})"),
    }
}

fn quote_block(out: &mut String, text: &str) {
    for line in text.lines() {
        if line.is_empty() {
            out.push_str(">\n");
        } else {
            let _ = writeln!(out, "> {line}");
        }
    }
}

/// ` for audience lane-reviewers`, or nothing for a manifest released
/// before approvals were scoped.
fn audience_text(audience: Option<crate::release::Audience>) -> String {
    audience.map(|a| format!(" for audience {a}")).unwrap_or_default()
}

/// `priya.natarajan (reviewer/privacy, signed rev 12 for privacy · lane-reviewers, content 9f2c…)`.
fn cosigner_text(s: &crate::manifest::Cosigner) -> String {
    let mut text = format!("{} ({}, signed rev {}", s.name, s.role, s.revision);
    if let Some(lane) = s.lane {
        text.push_str(&format!(" for {lane} · {}", s.audience.unwrap_or_default()));
    }
    if let Some(hash) = &s.content_hash {
        text.push_str(&format!(", content `{hash}`"));
    }
    text.push(')');
    text
}

/// The Markdown rendering of a bundle, for people. Deterministic.
pub fn to_markdown(b: &Bundle) -> String {
    let c = &b.core;
    let mut out = String::new();
    let _ = writeln!(out, "# {}\n", c.title);
    let _ = writeln!(out, "- Room: `{}`", c.room);
    let _ = writeln!(out, "- Packet revision: {}", c.revision);
    let _ = writeln!(out, "- Content hash: `{}`", c.content_hash);
    if c.exact {
        let _ = writeln!(out, "- Exact: yes (the content below hashes to the content hash)");
    } else {
        let _ = writeln!(out, "- Exact: NO — restricted detail was redacted; this revision cannot have been released");
    }
    match &b.release {
        Some(r) => {
            let m = &r.manifest.body;
            let _ = writeln!(
                out,
                "- Release: RELEASED rev {} to the {} lane{} by {} (manifest `{}`)",
                m.revision,
                m.lane,
                audience_text(m.audience),
                m.signer.name,
                r.manifest.manifest_hash
            );
        }
        None => {
            let _ = writeln!(out, "- Release: not released at this revision");
        }
    }
    out.push_str("\nAnnex references and restricted detail are shown as `[redacted: annex CODE · classification]`.\n");

    let _ = writeln!(out, "\n## Packet\n");
    for (i, s) in c.packet.iter().enumerate() {
        let _ = writeln!(out, "### {}. {}\n", i + 1, s.title);
        let _ = writeln!(out, "Section `{}` · digest `{}`\n", s.id, s.digest);
        for st in &s.statements {
            quote_block(&mut out, &st.text);
            for m in &st.marks {
                let _ = writeln!(out, ">\n> **[{m}]**");
            }
            out.push('\n');
        }
    }

    let _ = writeln!(out, "## Disagreement register\n");
    let mut register: Vec<&Objection> = c.content.register.iter().collect();
    register.sort_by_key(|o| (o.number, o.id));
    if register.is_empty() {
        let _ = writeln!(out, "No objections.\n");
    }
    for o in register {
        let blocking = if o.blocking { "blocking" } else { "non-blocking" };
        let _ = writeln!(out, "### {} · {} · {} · {}\n", o.code(), o.kind, blocking, o.status);
        let section = c
            .content
            .sections
            .iter()
            .find(|s| s.id == o.anchor.section)
            .map_or_else(|| "(unknown section)".to_string(), |s| format!("\"{}\"", s.title));
        let mut anchor = format!("on {section}");
        if let Some(n) = o.anchor.statement {
            let _ = write!(anchor, ", statement {}", n + 1);
        }
        let _ = writeln!(out, "Raised by {} {anchor} at {}.\n", name(c, o.author), utc(o.at_ms));
        if let Some(q) = &o.anchor.quote {
            quote_block(&mut out, q);
            out.push('\n');
        }
        let _ = writeln!(out, "{}\n", o.text);
        if let Some(r) = &o.rationale {
            let _ = writeln!(out, "Rationale: {r}\n");
        }
        if !o.replies.is_empty() {
            let _ = writeln!(out, "Thread:\n");
            for r in &o.replies {
                let _ = writeln!(out, "- {} ({}): {}", name(c, r.author), utc(r.at_ms), r.text.replace('\n', " "));
            }
            out.push('\n');
        }
        if !o.history.is_empty() {
            let _ = writeln!(out, "History:\n");
            for h in &o.history {
                let why = h.rationale.as_deref().map(|r| format!(": {r}")).unwrap_or_default();
                let _ = writeln!(out, "- {} by {} ({}){why}", h.status, name(c, h.by), utc(h.at_ms));
            }
            out.push('\n');
        }
    }

    let _ = writeln!(out, "## Annex map (references only)\n");
    let _ = writeln!(out, "| Code | Title | Classification | Need to know | Content hash |");
    let _ = writeln!(out, "|---|---|---|---|---|");
    let mut annexes: Vec<&Annex> = c.content.annexes.iter().collect();
    annexes.sort_by_key(|a| crate::readiness::annex_code_key(&a.code));
    for a in annexes {
        let who: Vec<String> = a.need_to_know.iter().map(|u| name(c, *u)).collect();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | `{}` |",
            a.code,
            a.title,
            a.classification,
            who.join(", "),
            &a.content_hash[..16.min(a.content_hash.len())]
        );
    }

    let r = &c.readiness;
    let _ = writeln!(out, "\n## Readiness\n");
    let owners: Vec<String> = r.owners.iter().map(|u| name(c, *u)).collect();
    let _ = writeln!(out, "- Owner: {}", if owners.is_empty() { "none".into() } else { owners.join(", ") });
    let lanes: Vec<String> = r.lanes.iter().map(ToString::to_string).collect();
    let _ = writeln!(out, "- Downstream lanes: {}", lanes.join(", "));
    let checked = if r.boundary_checked { "checked" } else { "NOT checked (no sensitive patterns)" };
    let _ = writeln!(out, "- Annex boundary: {checked}");
    let _ = writeln!(out, "\nBlockers ({}):\n", r.blockers.len());
    for bl in &r.blockers {
        let _ = writeln!(out, "- {}", bl.describe());
    }
    let _ = writeln!(out, "\nAccepted residual disagreement ({}):\n", r.residual.len());
    for res in &r.residual {
        let _ = writeln!(out, "- {}: {}\n  Rationale: {}", res.code, res.text.replace('\n', " "), res.rationale);
    }
    let _ = writeln!(out, "\nHeld annexes ({}):\n", r.held_annexes.len());
    for a in &r.held_annexes {
        let _ = writeln!(out, "- {} {} [{}]", a.code, a.title, a.classification);
    }

    let _ = writeln!(out, "\n## Release manifest\n");
    match &b.release {
        None => {
            let _ = writeln!(out, "This packet revision was not released.");
        }
        Some(rec) => {
            let m = &rec.manifest.body;
            let _ = writeln!(out, "- Released rev {} to the {} lane{}", m.revision, m.lane, audience_text(m.audience));
            let _ = writeln!(out, "- Signer (owner): {} (`{}`)", m.signer.name, m.signer.user);
            if m.cosigners.is_empty() {
                let _ = writeln!(out, "- Co-signers: none");
            } else {
                let who: Vec<String> = m.cosigners.iter().map(cosigner_text).collect();
                let _ = writeln!(out, "- Co-signers: {}", who.join("; "));
            }
            let held: Vec<String> =
                m.held_annexes.iter().map(|a| format!("{} [{}]", a.code, a.classification)).collect();
            let _ = writeln!(out, "- Held annexes: {}", if held.is_empty() { "none".into() } else { held.join(", ") });
            let _ = writeln!(out, "- Accepted residual: {}", m.accepted_residual.len());
            if let Some(a) = &m.audit_anchor {
                let _ = writeln!(out, "- Audit anchor: entry {} `{}`", a.seq, a.hash);
            }
            let _ = writeln!(out, "- Bundle digest: `{}`", m.bundle_digest);
            let _ = writeln!(out, "- Manifest hash: `{}`", rec.manifest.manifest_hash);
            let _ = writeln!(out, "- Signature (Ed25519): `{}`", rec.manifest.signature);
            let _ = writeln!(out, "- Server public key: `{}`", m.public_key);
            let _ = writeln!(
                out,
                "- Release event: room rev {} at {} (outside the signed body; signed separately)",
                rec.event.release_revision,
                utc(rec.event.released_at_ms)
            );
            let _ = writeln!(out, "\nVerify the JSON bundle with `trustroom-server manifest verify BUNDLE.json`.");
        }
    }

    if !c.marks.is_empty() {
        let _ = writeln!(out, "\n## Marks\n");
        for m in &c.marks {
            let _ = writeln!(out, "- {}: {}", m.at, m.mark);
        }
    }
    if let Some(st) = &b.stats {
        stats_markdown(&mut out, st);
    }
    out
}

fn outcome_row(out: &mut String, who: &str, o: &crate::stats::Outcomes) {
    let pct = o.rejection_pct().map_or_else(|| "–".to_string(), |p| format!("{p}%"));
    let _ = writeln!(
        out,
        "| {who} | {} | {} | {} | {} | {} | {} | {} | {pct} |",
        o.proposed, o.accepted, o.rejected, o.open, o.conflicting, o.withdrawn, o.flagged
    );
}

fn stats_markdown(out: &mut String, st: &ExportStats) {
    let _ = writeln!(out, "\n## Working metrics\n");
    let _ = writeln!(out, "Suggestions (not covered by the release manifest):\n");
    let _ = writeln!(
        out,
        "| proposer | proposed | accepted | rejected | open | conflicting | withdrawn | out-of-bounds | rejected share |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|");
    outcome_row(out, "all", &st.suggestions);
    for r in &st.by_role {
        outcome_row(out, &format!("role {}", r.role), &r.outcomes);
    }
    for h in &st.by_human {
        outcome_row(out, &format!("{} ({})", h.name, h.role), &h.outcomes);
    }
    let o = &st.objections;
    let _ = writeln!(
        out,
        "\n- Objections: {} opened, {} open ({} blocking), {} addressed, {} withdrawn, {} accepted-residual",
        o.opened, o.open, o.blocking_open, o.addressed, o.withdrawn, o.accepted_residual
    );
    let span = |v: Option<i64>| v.map_or_else(|| "not yet".to_string(), crate::stats::format_span);
    let _ = writeln!(out, "- Room open to first readiness: {}", span(st.first_ready_after_ms));
    let _ = writeln!(out, "- Room open to first release: {}", span(st.first_release_after_ms));
    let a = &st.access;
    let _ = writeln!(
        out,
        "- Annex access requests: {} ({} approved, {} denied); break-glass: {} (annex views are in the audit log)",
        a.access_requests, a.approved, a.denied, a.break_glass
    );
    let _ = writeln!(out, "- Section edits: {}", st.edits);
}

#[cfg(test)]
mod tests {
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
        assert!(
            core.packet[0].statements[0].marks[0].starts_with("promoted passage P-1 from annex A1, approved by olive")
        );
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
}
