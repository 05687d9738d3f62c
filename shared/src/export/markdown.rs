//! Renderings: JSON, and Markdown for people (with the room's metrics).

use super::*;

/// The Markdown rendering with the room's metrics (also for a released
/// revision: Markdown is for people and is not verified).
pub fn to_markdown_with_stats(state: &RoomState, b: &Bundle, log: &[crate::change::Revision]) -> String {
    let mut with = b.clone();
    with.stats = Some(ExportStats::of(state, log));
    with.holds = crate::holds::entries(state);
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

pub(super) fn name(core: &ExportCore, user: UserId) -> String {
    match core.members.iter().find(|m| m.user == user) {
        Some(m) => m.name.clone(),
        None if crate::members::is_room_actor(user) => crate::members::ROOM_ACTOR_NAME.into(),
        None => format!("(former member {user})"),
    }
}

pub(super) fn quote_block(out: &mut String, text: &str) {
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
pub(super) fn audience_text(audience: Option<crate::release::Audience>) -> String {
    audience.map(|a| format!(" for audience {a}")).unwrap_or_default()
}

/// `priya.natarajan (reviewer/privacy, signed rev 12 for privacy · lane-reviewers, content 9f2c…)`.
pub(super) fn cosigner_text(s: &crate::manifest::Cosigner) -> String {
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
        if let Some(f) = &o.found_downstream {
            let _ = writeln!(out, "*{f}*, pinned to release `{}` (rev {})\n", f.manifest_hash, f.release_revision);
        }
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

    let open = b.holds.iter().filter(|h| h.cleared.is_none()).count();
    let _ = writeln!(out, "\n## Hold register\n");
    if b.holds.is_empty() {
        let _ = writeln!(out, "No holds were placed.");
    } else {
        let _ = writeln!(
            out,
            "{} hold(s), {open} open. Holds are never deleted; each is cleared on its own.\n",
            b.holds.len()
        );
    }
    for h in &b.holds {
        let _ = writeln!(out, "- {}", crate::holds::entry_line(h));
    }

    if let Some(trace) = b.trace.as_ref().or(b.release.as_ref().and_then(|r| r.trace.as_ref())) {
        trace_section(&mut out, trace);
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
            let _ = writeln!(out, "- Holds cleared since the release before: {}", m.holds_cleared.len());
            for h in &m.holds_cleared {
                let _ = writeln!(out, "  - {}", crate::holds::entry_line(h));
            }
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

pub(super) fn outcome_row(out: &mut String, who: &str, o: &crate::stats::Outcomes) {
    let pct = o.rejection_pct().map_or_else(|| "–".to_string(), |p| format!("{p}%"));
    let _ = writeln!(
        out,
        "| {who} | {} | {} | {} | {} | {} | {} | {} | {pct} |",
        o.proposed, o.accepted, o.rejected, o.open, o.conflicting, o.withdrawn, o.flagged
    );
}

pub(super) fn stats_markdown(out: &mut String, st: &ExportStats) {
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
    handoff_markdown(out, &st.handoff);
}

/// The handoff measures: time held per kind of hold, each release's fate.
fn handoff_markdown(out: &mut String, h: &crate::handoff_stats::HandoffStats) {
    for k in &h.held {
        let _ = writeln!(
            out,
            "- Held by {} holds: {} hold(s), {} open, {} in all, longest {}",
            k.kind,
            k.holds,
            k.open,
            crate::stats::format_span(k.total_ms),
            crate::stats::format_span(k.longest_ms)
        );
    }
    let _ = writeln!(
        out,
        "- Releases: {} ({} superseded, {} withdrawn after the handoff)",
        h.releases.len(),
        h.superseded,
        h.withdrawn
    );
    for r in &h.releases {
        let why = r.why.as_deref().map(|w| format!(": {w}")).unwrap_or_default();
        let _ = writeln!(
            out,
            "  - packet rev {} to {} at rev {}, {} after opening — {}{why}",
            r.packet_revision,
            r.lane,
            r.revision,
            crate::stats::format_span(r.after_ms),
            r.fate
        );
    }
    let d = &h.downstream;
    if !d.is_empty() {
        let _ = writeln!(
            out,
            "- Found downstream: {} finding(s); {}; {} release(s) accepted for intake and never returned",
            d.findings,
            d.rate_text(),
            d.accepted_never_returned
        );
        for r in &d.releases {
            let _ = writeln!(out, "  - {}", crate::handoff_stats::DownstreamMeasures::release_text(r));
        }
    }
}

/// The transformation trace, section by section.
fn trace_section(out: &mut String, trace: &crate::trace::Trace) {
    use crate::trace::TraceChange;
    let _ = writeln!(out, "\n## Transformation trace\n");
    let _ = writeln!(
        out,
        "Accepted changes after packet rev {} up to packet rev {}, and the evidence each section cites.\n",
        trace.since_packet_revision, trace.packet_revision
    );
    for s in &trace.sections {
        let _ = writeln!(out, "### {}\n", crate::holds::one_line(&s.title));
        if s.changes.is_empty() {
            let _ = writeln!(out, "- unchanged");
        }
        for c in &s.changes {
            let line = match c {
                TraceChange::Added { author, author_kind, revision } => {
                    format!("added by {author} ({}) at rev {revision}", kind(*author_kind))
                }
                TraceChange::Edits { author, author_kind, edits, first_revision, last_revision } => format!(
                    "{edits} edit(s) by {author} ({}), revs {first_revision}–{last_revision}",
                    kind(*author_kind)
                ),
                TraceChange::Suggestion { code, author, author_kind, acceptor, revision, evidence } => format!(
                    "{code} by {author} ({}), accepted by {acceptor} at rev {revision}{}",
                    kind(*author_kind),
                    if evidence.is_empty() { String::new() } else { format!(" — evidence {}", evidence.join(", ")) }
                ),
            };
            let _ = writeln!(out, "- {line}");
        }
        for e in &s.evidence {
            let stale = if e.stale { " — STALE: the record changed since" } else { "" };
            let _ = writeln!(out, "- evidence {} v{} sha256:{}{stale}", e.id, e.version, e.digest);
        }
        let _ = writeln!(out);
    }
}

fn kind(k: crate::trace::AuthorKind) -> &'static str {
    match k {
        crate::trace::AuthorKind::Human => "human",
        crate::trace::AuthorKind::Agent => "agent",
        crate::trace::AuthorKind::Room => "room",
    }
}
