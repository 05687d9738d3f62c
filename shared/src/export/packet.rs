//! The export core: the packet as released, with restricted detail cut and
//! every cut marked, and the bundle around it.

use super::*;

/// A char range of a section body to replace by a redaction marker.
pub(super) struct Cut {
    pub(super) start: usize,
    pub(super) end: usize,
    pub(super) code: String,
    pub(super) marker: String,
}

/// The char ranges of `section`'s body that the annex-boundary check
/// blocks on (approved promoted passages and violations an active override
/// covers are not among them), merged where they overlap; and whether the
/// title leaks.
pub(super) fn section_cuts(
    state: &RoomState,
    section: SectionId,
    blocking: &[crate::checks::Violation],
) -> (Vec<Cut>, bool) {
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
pub(super) fn apply_cuts(chars: &[char], from: usize, to: usize, cuts: &[Cut]) -> (String, Vec<String>) {
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

pub(super) fn render_paragraph(state: &RoomState, redacted: &str, hit: &[String], marks: &mut Vec<String>) -> String {
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

pub(super) fn reference_marks(state: &RoomState, label: &StatementLabel, marks: &mut Vec<String>) {
    if let StatementLabel::Contested { objections } = label {
        for n in objections {
            match state.objection_by_number(*n) {
                None => marks.push(format!("missing reference: objection O-{n} does not exist")),
                Some(o) if matches!(o.status, ObjectionStatus::Addressed | ObjectionStatus::Withdrawn) => {
                    marks.push(format!("stale reference: objection O-{n} is {}", o.status));
                }
                Some(_) => {}
            }
        }
    }
}

pub(super) fn redact_objection(state: &RoomState, o: &Objection) -> (Objection, Vec<String>) {
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
pub(super) fn promotion_marks(state: &RoomState, section: SectionId, chars: &[char]) -> Vec<(usize, String)> {
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
    // Nor are holds: they are release decisions (the bundle's `holds` and
    // the manifest carry them).
    let blockers: Vec<Blocker> = content_blockers(state)
        .into_iter()
        .filter(|b| !matches!(b, Blocker::RoomCheck { .. } | Blocker::OpenHold { .. }))
        .collect();
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
    Bundle {
        format: EXPORT_FORMAT.to_string(),
        core: export_core(state),
        release,
        stats: None,
        holds: Vec::new(),
        trace: None,
    }
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
    let holds = if release.is_none() { crate::holds::entries(state) } else { Vec::new() };
    let trace = release.is_none().then(|| crate::trace::trace(state, log));
    Bundle { stats: if release.is_none() { stats } else { None }, holds, trace, ..bundle(state, release) }
}
