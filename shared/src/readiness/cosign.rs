//! Co-signatures: the release policy's requirements, who meets them, what blocks a release to a lane and audience, and the release status line.

use super::*;

/// Everything that blocks a release to `lane` for `audience`: the content
/// blockers and room checks of the readiness record, and each requirement
/// of the release policy that no valid co-signature for this lane and this
/// audience (or a wider one) meets.
pub fn release_blockers(state: &RoomState, lane: Lane, audience: Audience) -> Vec<Blocker> {
    let cosign = cosign_status(state);
    let mut blockers = content_blockers(state);
    let needs = policy_needs(state, &cosign.policy);
    let covering: Vec<&Cosignature> = covering(state, lane, audience);
    for req in assign(state, needs, &covering).into_iter().filter(|r| r.met_by.is_none()) {
        let voided = voided_for(state, &cosign, &req.need, Some(lane));
        blockers.push(Blocker::CosignatureMissing {
            requirement: req.need.describe(),
            voided,
            lane: Some(lane),
            audience: Some(audience),
        });
    }
    blockers
}

/// The valid co-signatures of current members that cover a release to
/// `lane` for `audience`. A valid co-signature is always of the current
/// content (every content change voids the earlier ones); a legacy one
/// without a lane covers nothing.
pub fn covering(state: &RoomState, lane: Lane, audience: Audience) -> Vec<&Cosignature> {
    state
        .cosignatures
        .iter()
        .filter(|c| {
            c.is_valid() && c.lane == Some(lane) && c.audience.covers(audience) && state.member(c.user).is_some()
        })
        .collect()
}

/// `name (signed rev N for lane · audience)` of the members whose voided
/// co-signature (for `lane`, when given) could have met `need`.
pub(super) fn voided_for(state: &RoomState, cosign: &CosignStatus, need: &Need, lane: Option<Lane>) -> Vec<String> {
    cosign
        .must_sign_again
        .iter()
        .filter(|s| lane.is_none_or(|l| s.lane == Some(l)))
        .filter(|s| meets(state, need, s.user, None))
        .map(|s| match s.lane {
            Some(l) => format!("{} (signed rev {} for {l} · {})", s.name, s.signed_revision, s.audience),
            None => format!("{} (signed rev {})", s.name, s.signed_revision),
        })
        .collect()
}

/// Whether `user`'s co-signature can meet `need` (a current member; for a
/// discipline, a reviewer of it). `discipline` is the one recorded at
/// signing, when known.
pub(super) fn meets(state: &RoomState, need: &Need, user: UserId, discipline: Option<Discipline>) -> bool {
    let Some(member) = state.member(user) else { return false };
    match need {
        Need::Member { user: wanted, .. } => *wanted == user,
        Need::Discipline { discipline: wanted } => {
            let now = match member.role {
                Role::Reviewer { discipline } => Some(discipline),
                _ => None,
            };
            now == Some(*wanted) && discipline.is_none_or(|d| d == *wanted)
        }
    }
}

/// The requirements of a release policy.
pub(super) fn policy_needs(state: &RoomState, policy: &ReleasePolicy) -> Vec<Need> {
    let mut needs: Vec<Need> = policy
        .members
        .iter()
        .map(|u| Need::Member {
            user: *u,
            name: state.member(*u).map(|m| m.name.clone()).unwrap_or_else(|| format!("(former member {u})")),
        })
        .collect();
    needs.extend(policy.disciplines.iter().map(|d| Need::Discipline { discipline: *d }));
    needs
}

/// Who meets which requirement among `signatures`. A member's co-signature
/// meets at most one requirement: named members first, then disciplines,
/// so one reviewer named and of a required discipline does not count twice.
pub(super) fn assign(state: &RoomState, needs: Vec<Need>, signatures: &[&Cosignature]) -> Vec<CosignRequirement> {
    let mut used: Vec<UserId> = Vec::new();
    let mut requirements = Vec::new();
    for need in needs {
        let by = signatures
            .iter()
            .filter(|c| !used.contains(&c.user))
            .find(|c| meets(state, &need, c.user, c.discipline))
            .map(|c| (c.user, c.name.clone()));
        if let Some((user, _)) = by {
            used.push(user);
        }
        requirements.push(CosignRequirement { need, met_by: by.map(|(_, name)| name) });
    }
    requirements
}

/// The co-signature status: requirements, who meets them, which lanes and
/// audiences the co-signatures cover, who must sign again.
pub fn cosign_status(state: &RoomState) -> CosignStatus {
    let policy = state.release_policy.clone().normalized();
    let needs = policy_needs(state, &policy);
    // Requirements met for some lane: scoped, valid co-signatures only (a
    // legacy one without a lane meets nothing).
    let scoped: Vec<&Cosignature> = state.cosignatures.iter().filter(|c| c.is_valid() && c.lane.is_some()).collect();
    let requirements = assign(state, needs.clone(), &scoped);
    let mut covers = Vec::new();
    for lane in Lane::ALL {
        for audience in Audience::ALL {
            let sigs = covering(state, lane, audience);
            let reqs = assign(state, needs.clone(), &sigs);
            let missing: Vec<String> = reqs.iter().filter(|r| r.met_by.is_none()).map(|r| r.need.describe()).collect();
            let mut signers: Vec<String> = sigs.iter().map(|c| c.name.clone()).collect();
            signers.sort();
            signers.dedup();
            covers.push(LaneCover { lane, audience, met: missing.is_empty(), missing, signers });
        }
    }
    let must_sign_again = state
        .cosignatures
        .iter()
        .filter_map(|c| {
            let voided_at = c.voided_at?;
            let mut changed: Vec<String> = state
                .sections
                .iter()
                .filter(|s| s.revision > c.revision)
                .map(|s| format!("section \"{}\"", redact_sensitive(&s.title, state.annexes.values()).0))
                .collect();
            if changed.is_empty() {
                changed.push("the register or annex map".into());
            }
            Some(SignAgain {
                user: c.user,
                name: c.name.clone(),
                signed_revision: c.revision,
                lane: c.lane,
                audience: c.audience,
                voided_at,
                changed,
            })
        })
        .collect();
    let met = covers.iter().any(|c| c.met);
    CosignStatus { policy, requirements, signatures: state.cosignatures.clone(), must_sign_again, met, covers }
}

/// The release state with staleness, as `show`, `readiness` and the status
/// bar print it.
pub fn release_status(state: &RoomState) -> ReleaseStatus {
    let last = state.last_release.clone();
    let mut ready_revision = None;
    let mut ready_stale = false;
    let line = match &state.release {
        ReleaseState::Drafting => "DRAFTING".to_string(),
        ReleaseState::Held { reasons, .. } => format!("HELD: {}", reasons.join("; ")),
        ReleaseState::Ready { revision, .. } => {
            ready_revision = Some(*revision);
            if state.content_revision > *revision {
                ready_stale = true;
                format!("READY at rev {revision} — stale: changed at rev {}", state.content_revision)
            } else {
                format!("READY at rev {revision}")
            }
        }
        ReleaseState::Released { revision, lane, .. } => {
            let base = match &last {
                Some(l) if l.revision == *revision => l.status_line(),
                _ if state.content_revision > *revision => {
                    format!("RELEASED rev {revision} — superseded at rev {}", state.content_revision)
                }
                _ => format!("RELEASED rev {revision}"),
            };
            format!("{base} ({lane} lane)")
        }
        ReleaseState::Escalated { reason, .. } => format!("ESCALATED: {reason} (read-only)"),
    };
    let line = match (&state.release, &last) {
        (ReleaseState::Released { .. }, _) | (_, None) => line,
        (_, Some(l)) => format!("{line} · last release: {}", l.status_line()),
    };
    ReleaseStatus { state: state.release.name().to_string(), line, ready_revision, ready_stale, last_release: last }
}
