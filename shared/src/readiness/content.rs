//! Content blockers: what in the packet, the register and the annex map blocks release, whatever the co-sign policy.

use super::*;

/// Whether every annex that declares sensitive patterns has them here
/// (only the server's full state does).
pub fn boundary_checked(state: &RoomState) -> bool {
    // A purged annex (retention) was checked while it had its patterns.
    state.annexes.values().all(|a| a.sensitive_count == 0 || !a.sensitive.is_empty() || crate::access::is_purged(a))
}

/// The accepted residual disagreement, in register order.
pub fn residual(state: &RoomState) -> Vec<Residual> {
    let mut out: Vec<&Objection> =
        state.objections.values().filter(|o| o.status == ObjectionStatus::AcceptedResidual).collect();
    out.sort_by_key(|o| (o.number, o.id));
    out.into_iter()
        .map(|o| Residual {
            objection: o.id,
            code: o.code(),
            text: redact_sensitive(&o.text, state.annexes.values()).0,
            rationale: redact_sensitive(o.rationale.as_deref().unwrap_or_default(), state.annexes.values()).0,
        })
        .collect()
}

/// Every annex, in code order: all are held back from the main packet.
pub fn held_annexes(state: &RoomState) -> Vec<HeldAnnex> {
    let mut out: Vec<HeldAnnex> = state
        .annexes
        .values()
        .map(|a| HeldAnnex {
            id: a.id,
            code: a.code.clone(),
            title: a.title.clone(),
            classification: a.classification.clone(),
        })
        .collect();
    out.sort_by(|a, b| annex_code_key(&a.code).cmp(&annex_code_key(&b.code)).then(a.id.cmp(&b.id)));
    out
}

/// Sort key for annex codes: `A2` before `A10`.
pub fn annex_code_key(code: &str) -> (u32, String) {
    let n = code.strip_prefix('A').and_then(|d| d.parse::<u32>().ok()).unwrap_or(u32::MAX);
    (n, code.to_string())
}

/// The annexes whose sensitive patterns occur in `text` (case-insensitive).
pub fn leaking_annexes<'a>(state: &'a RoomState, text: &str) -> Vec<&'a Annex> {
    if text.is_empty() || state.annexes.values().all(|a| a.sensitive.is_empty()) {
        return Vec::new();
    }
    let lower = text.to_lowercase();
    state
        .annexes
        .values()
        .filter(|a| a.sensitive.iter().any(|p| !p.is_empty() && lower.contains(&p.to_lowercase())))
        .collect()
}

/// Every text of an objection that leaves the server with the register.
pub fn objection_texts(o: &Objection) -> Vec<&str> {
    let mut out = vec![o.text.as_str()];
    out.extend(o.anchor.quote.as_deref());
    out.extend(o.rationale.as_deref());
    out.extend(o.replies.iter().map(|r| r.text.as_str()));
    out.extend(o.history.iter().filter_map(|h| h.rationale.as_deref()));
    out
}

/// The blockers that come from the content (packet, register, annex map)
/// alone, without the co-sign policy.
pub fn content_blockers(state: &RoomState) -> Vec<Blocker> {
    let mut blockers: Vec<Blocker> = crate::holds::blocking_holds(state)
        .map(|h| Blocker::OpenHold {
            hold: h.code(),
            placed_by: h.placed_by.describe(state),
            reason: redact_sensitive(&h.reason, state.annexes.values()).0,
        })
        .collect();
    let mut objections: Vec<&Objection> = state.objections.values().collect();
    objections.sort_by_key(|o| (o.number, o.id));
    for o in &objections {
        if o.blocking && o.status == ObjectionStatus::Open {
            blockers.push(Blocker::OpenBlockingObjection {
                objection: o.id,
                code: o.code(),
                text: redact_sensitive(&o.text, state.annexes.values()).0,
            });
        }
    }
    let boundary = crate::checks::boundary_blocking(state);
    for section in &state.sections {
        let title = redact_sensitive(&section.title, state.annexes.values()).0;
        for st in statements(&section.body) {
            match &st.label {
                StatementLabel::Contested { objections } => {
                    let linked = objections.iter().any(|n| {
                        state.objection_by_number(*n).is_some_and(|o| {
                            matches!(o.status, ObjectionStatus::Open | ObjectionStatus::AcceptedResidual)
                        })
                    });
                    if !linked {
                        blockers.push(Blocker::UnlinkedContested {
                            section: section.id,
                            section_title: title.clone(),
                            statement: st.index,
                        });
                    }
                }
                StatementLabel::Verified { evidence } if evidence.is_empty() => {
                    blockers.push(unsupported(state, section.id, &title, st.index, &st.text));
                }
                StatementLabel::Unlabeled => blockers.push(unsupported(state, section.id, &title, st.index, &st.text)),
                _ => {}
            }
            for code in &st.annex_refs {
                if state.annex_by_code(code).is_none() {
                    blockers.push(Blocker::UnknownAnnexReference {
                        section: section.id,
                        section_title: title.clone(),
                        statement: st.index,
                        annex: safe_code(state, code),
                    });
                }
            }
        }
        // The annex-boundary room check (promoted passages exempt; none
        // while an override covers it); see `checks`.
        for v in boundary.iter().filter(|v| v.section == Some(section.id)) {
            blockers.push(Blocker::AnnexBoundary {
                section: section.id,
                section_title: title.clone(),
                annex: v.annex.clone().unwrap_or_default(),
                position: v.position.unwrap_or(0),
            });
        }
    }
    for o in &objections {
        let mut hit: Vec<&str> = Vec::new();
        for text in objection_texts(o) {
            for annex in leaking_annexes(state, text) {
                if !hit.contains(&annex.code.as_str()) {
                    hit.push(annex.code.as_str());
                }
            }
        }
        hit.sort_by_key(|c| annex_code_key(c));
        for annex in hit {
            blockers.push(Blocker::AnnexBoundaryInRegister {
                objection: o.id,
                code: o.code(),
                annex: annex.to_string(),
            });
        }
    }
    for u in crate::evidence::unknown_citations(state) {
        blockers.push(Blocker::UnknownEvidence {
            section: u.section,
            section_title: redact_sensitive(&u.section_title, state.annexes.values()).0,
            source: u.source,
        });
    }
    // The other failing room checks the server published (no override).
    for c in crate::checks::blocking(state).filter(|c| c.check != crate::checks::CheckKind::AnnexBoundary) {
        blockers.push(Blocker::RoomCheck { check: c.check, reason: c.reason.clone() });
    }
    blockers
}

pub(super) fn unsupported(state: &RoomState, section: SectionId, title: &str, statement: usize, text: &str) -> Blocker {
    let excerpt: String = text.chars().take(60).collect();
    Blocker::UnsupportedStatement {
        section,
        section_title: title.to_string(),
        statement,
        excerpt: redact_sensitive(&excerpt, state.annexes.values()).0,
    }
}

/// An unknown annex code as written, shortened and with any sensitive
/// pattern removed (it is quoted back in messages).
pub(super) fn safe_code(state: &RoomState, code: &str) -> String {
    let short: String = code.chars().take(20).collect();
    redact_sensitive(&short, state.annexes.values()).0
}
