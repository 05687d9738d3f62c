//! Suggestions from scripts: propose a section's new text as a suggestion,
//! list suggestions, accept or reject one, and the room's metrics
//! (docs/suggestions.md).

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use trustroom_shared::ot::TextOp;
use trustroom_shared::protocol::{Request, SuggestAck, SuggestionsResult};
use trustroom_shared::room::RoomState;
use trustroom_shared::stats::{Outcomes, RoomStats, format_span};
use trustroom_shared::suggestion::{Proposal, RegisterProposal, Suggestion, SuggestionStatus};

use super::commands::Ctx;
use super::input;
use super::output::{emit, json_pretty, name_of};
use crate::resolve;
use crate::session::LocalError;

#[derive(Debug, Args)]
pub struct SuggestArgs {
    /// Room id or exact title
    pub room: String,
    /// Section id or exact title
    pub section: String,
    /// The section's proposed new text (`-` reads stdin)
    #[arg(long, short, value_name = "F")]
    pub file: PathBuf,
    /// Why: the rationale shown to the deciding human (required)
    #[arg(long, value_name = "TEXT")]
    pub why: String,
    /// An evidence reference: a source record id, `O-N`, an annex code (repeatable)
    #[arg(long, value_name = "ID")]
    pub evidence: Vec<String>,
}

#[derive(Debug, Args)]
pub struct SuggestionsArgs {
    /// Room id or exact title
    pub room: String,
    /// Also list decided, withdrawn and conflicting suggestions
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct AcceptArgs {
    /// Room id or exact title
    pub room: String,
    /// Suggestion: `S-N` or its id
    pub suggestion: String,
    /// A note recorded with the decision
    #[arg(long, value_name = "TEXT")]
    pub note: Option<String>,
}

#[derive(Debug, Args)]
pub struct RejectArgs {
    /// Room id or exact title
    pub room: String,
    /// Suggestion: `S-N` or its id
    pub suggestion: String,
    /// Why it is rejected (required; recorded and shown to the proposer)
    #[arg(long, value_name = "TEXT")]
    pub reason: String,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Room id or exact title
    pub room: String,
}

/// A suggestion by `S-N` or id.
fn suggestion<'a>(state: &'a RoomState, name: &str) -> Result<&'a Suggestion, LocalError> {
    state.suggestions.by_name(name).ok_or_else(|| {
        let mut codes: Vec<(u32, String)> =
            state.suggestions.suggestions.values().filter(|s| s.is_open()).map(|s| (s.number, s.code())).collect();
        codes.sort();
        let open: Vec<String> = codes.into_iter().map(|(_, c)| c).collect();
        let hint =
            if open.is_empty() { "no open suggestions".to_string() } else { format!("open: {}", open.join(", ")) };
        LocalError::not_found(format!("no suggestion {name:?} in this room ({hint})"))
    })
}

pub async fn suggest(ctx: &Ctx, args: &SuggestArgs) -> anyhow::Result<()> {
    let rationale = input::message(&args.why).await?;
    let new = input::file_text(&args.file).await?;
    let mut s = ctx.open().await?;
    let room = resolve::room_id(&mut s, &args.room).await?;
    let snapshot = s.join(room).await?;
    let section = resolve::section(&snapshot.state, &args.section)?;
    let op = TextOp::from_texts(&section.body, &new);
    if op.is_noop() {
        return Err(LocalError::invalid(format!(
            "the file's text is the same as section {:?}: nothing to suggest",
            section.title
        ))
        .into());
    }
    let request = Request::Suggest {
        room,
        section: section.id,
        base: snapshot.state.revision,
        op: op.to_wire(),
        rationale,
        evidence: args.evidence.clone(),
        seq: s.seq(),
    };
    let result =
        s.call(request).await.with_context(|| format!("suggesting a change to section {:?}", section.title))?;
    if ctx.json {
        return emit(&result.to_string()).map_err(Into::into);
    }
    let ack: SuggestAck = serde_json::from_value(result.clone())
        .map_err(|e| anyhow::anyhow!("unexpected answer from the server ({e}): {result}"))?;
    let mut line = format!("ok rev {}", ack.revision);
    if ack.duplicate {
        line.push_str(" duplicate");
    }
    if let Some(code) = &ack.code {
        let _ = write!(line, " suggestion {code}");
    }
    if let Some(id) = &ack.created {
        let _ = write!(line, " {id}");
    }
    for f in &ack.flags {
        let _ =
            write!(line, "\nOUT OF BOUNDS [{}] {}: {:?} (in the {})", f.rule, f.category.label(), f.matched, f.field);
    }
    emit(&line)?;
    Ok(())
}

pub async fn suggestions(ctx: &Ctx, args: &SuggestionsArgs) -> anyhow::Result<()> {
    let mut s = ctx.open().await?;
    let room = resolve::room_id(&mut s, &args.room).await?;
    let snapshot = s.join(room).await?;
    let result: SuggestionsResult = s.call_as(Request::Suggestions { room }).await.context("listing suggestions")?;
    if ctx.json {
        return emit(&json_pretty(&result)?).map_err(Into::into);
    }
    emit(&list(&snapshot.state, &result, args.all))?;
    Ok(())
}

fn status_word(s: &Suggestion) -> String {
    match s.status {
        SuggestionStatus::Open => "OPEN".into(),
        SuggestionStatus::Conflicting => "CONFLICTING".into(),
        other => other.to_string(),
    }
}

/// The human listing: one block per suggestion.
pub fn list(state: &RoomState, result: &SuggestionsResult, all: bool) -> String {
    let mut out = String::new();
    let shown: Vec<&Suggestion> = result
        .suggestions
        .iter()
        .filter(|s| all || matches!(s.status, SuggestionStatus::Open | SuggestionStatus::Conflicting))
        .collect();
    if shown.is_empty() {
        let _ = writeln!(out, "no {}suggestions", if all { "" } else { "open " });
    }
    for s in shown {
        let who = format!("{} ({})", name_of(state, s.proposer), s.proposer_role.label());
        let _ = writeln!(out, "{} {} by {who} at rev {}", s.code(), status_word(s), s.proposed_revision);
        match &s.proposal {
            Proposal::Edit { section, op } => {
                let title = state.section(*section).map_or_else(|| section.to_string(), |x| x.title.clone());
                let _ = writeln!(out, "  edit of section {title:?}");
                if let Some(sec) = state.section(*section)
                    && s.is_open()
                    && op.base_len() == sec.len
                    && let Ok(after) = op.apply(&sec.body)
                {
                    for line in diff_lines(&sec.body, &after) {
                        let _ = writeln!(out, "    {line}");
                    }
                }
            }
            Proposal::Register { change } => {
                let code = |id| state.objections.get(id).map_or_else(|| "O-?".to_string(), |o| o.code());
                let what = match change {
                    RegisterProposal::MergeObjections { keep, duplicates } => {
                        let d: Vec<String> = duplicates.iter().map(code).collect();
                        format!("merge {} into {}", d.join(", "), code(keep))
                    }
                    RegisterProposal::Reword { objection, text } => format!("reword {}: {text:?}", code(objection)),
                    RegisterProposal::SetKind { objection, kind } => {
                        format!("set the kind of {} to {kind}", code(objection))
                    }
                    RegisterProposal::SetAnchor { objection, statement, quote } => {
                        let mut a = format!("anchor {} to", code(objection));
                        if let Some(n) = statement {
                            let _ = write!(a, " statement {}", n + 1);
                        }
                        if let Some(q) = quote {
                            let _ = write!(a, " quote {q:?}");
                        }
                        a
                    }
                };
                let _ = writeln!(out, "  register: {what}");
            }
        }
        let _ = writeln!(out, "  why: {}", s.rationale.replace('\n', "\n       "));
        if !s.evidence.is_empty() {
            let _ = writeln!(out, "  evidence: {}", s.evidence.join(", "));
        }
        for f in &s.flags {
            let _ = writeln!(
                out,
                "  OUT OF BOUNDS [{}] {}: {:?} (in the {})",
                f.rule,
                f.category.label(),
                f.matched,
                f.field
            );
        }
        if let Some(c) = &s.conflict {
            let _ = writeln!(out, "  conflict: {c}");
        }
        if let Some(d) = &s.decision {
            let reason = d.reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default();
            let _ = writeln!(out, "  {} by {}{reason}", d.status, name_of(state, d.by));
        }
    }
    out.trim_end().to_string()
}

/// `- old` / `+ new` lines of a line diff (changed lines only).
fn diff_lines(old: &str, new: &str) -> Vec<String> {
    let diff = similar::TextDiff::from_lines(old, new);
    diff.iter_all_changes()
        .filter_map(|c| {
            let sign = match c.tag() {
                similar::ChangeTag::Delete => '-',
                similar::ChangeTag::Insert => '+',
                similar::ChangeTag::Equal => return None,
            };
            Some(format!("{sign} {}", c.value().trim_end_matches('\n')))
        })
        .collect()
}

pub async fn accept(ctx: &Ctx, args: &AcceptArgs) -> anyhow::Result<()> {
    let note = match &args.note {
        Some(n) => Some(input::message(n).await?),
        None => None,
    };
    let mut s = ctx.open().await?;
    let room = resolve::room_id(&mut s, &args.room).await?;
    let snapshot = s.join(room).await?;
    let target = suggestion(&snapshot.state, &args.suggestion)?;
    for f in &target.flags {
        eprintln!("warning: {} is OUT OF BOUNDS [{}] {}: {:?}", target.code(), f.rule, f.category.label(), f.matched);
    }
    let code = target.code();
    let request = Request::AcceptSuggestion { room, suggestion: target.id, note, seq: s.seq() };
    let result = s.call(request).await.with_context(|| format!("accepting suggestion {code}"))?;
    if ctx.json {
        return emit(&result.to_string()).map_err(Into::into);
    }
    let rev = result.get("revision").and_then(|v| v.as_u64()).unwrap_or_default();
    let dup = if result.get("duplicate").and_then(|v| v.as_bool()).unwrap_or(false) { " duplicate" } else { "" };
    emit(&format!("ok rev {rev}{dup} accepted {code}"))?;
    Ok(())
}

pub async fn reject(ctx: &Ctx, args: &RejectArgs) -> anyhow::Result<()> {
    let reason = input::message(&args.reason).await?;
    let mut s = ctx.open().await?;
    let room = resolve::room_id(&mut s, &args.room).await?;
    let snapshot = s.join(room).await?;
    let target = suggestion(&snapshot.state, &args.suggestion)?;
    let code = target.code();
    let request = Request::RejectSuggestion { room, suggestion: target.id, reason, seq: s.seq() };
    let result = s.call(request).await.with_context(|| format!("rejecting suggestion {code}"))?;
    if ctx.json {
        return emit(&result.to_string()).map_err(Into::into);
    }
    let rev = result.get("revision").and_then(|v| v.as_u64()).unwrap_or_default();
    emit(&format!("ok rev {rev} rejected {code}"))?;
    Ok(())
}

pub async fn stats(ctx: &Ctx, args: &StatsArgs) -> anyhow::Result<()> {
    let mut s = ctx.open().await?;
    let room = resolve::room_id(&mut s, &args.room).await?;
    let stats: RoomStats = s.call_as(Request::Stats { room }).await.context("reading the room's metrics")?;
    if ctx.json {
        return emit(&json_pretty(&stats)?).map_err(Into::into);
    }
    emit(&stats_text(&stats))?;
    Ok(())
}

fn outcome_cells(o: &Outcomes) -> String {
    let pct = o.rejection_pct().map_or_else(|| "-".to_string(), |p| format!("{p}%"));
    format!(
        "{:>8} {:>8} {:>8} {:>6} {:>11} {:>9} {:>7} {:>9}",
        o.proposed, o.accepted, o.rejected, o.open, o.conflicting, o.withdrawn, o.flagged, pct
    )
}

/// Unicode sparkline of a series.
pub fn sparkline(values: &[u64]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = values.iter().copied().max().unwrap_or(0);
    values
        .iter()
        .map(|v| if max == 0 || *v == 0 { ' ' } else { BARS[((v * 7 + max / 2) / max).min(7) as usize] })
        .collect()
}

/// The human report of `trustroom stats`.
pub fn stats_text(st: &RoomStats) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Room {} at rev {}", st.room, st.revision);
    let header = format!(
        "{:<28} {:>8} {:>8} {:>8} {:>6} {:>11} {:>9} {:>7} {:>9}",
        "SUGGESTIONS", "proposed", "accepted", "rejected", "open", "conflicting", "withdrawn", "flagged", "rejected%"
    );
    let _ = writeln!(out, "{header}");
    let _ = writeln!(out, "{:<28} {}", "all", outcome_cells(&st.suggestions));
    for r in &st.by_role {
        let _ = writeln!(out, "{:<28} {}", format!("role {}", r.role), outcome_cells(&r.outcomes));
    }
    for h in &st.by_human {
        let who: String = format!("{} ({})", h.name, h.role).chars().take(28).collect();
        let _ = writeln!(out, "{who:<28} {}", outcome_cells(&h.outcomes));
    }
    let o = &st.objections;
    let _ = writeln!(
        out,
        "OBJECTIONS  opened {}  open {} ({} blocking)  addressed {}  withdrawn {}  accepted-residual {}",
        o.opened, o.open, o.blocking_open, o.addressed, o.withdrawn, o.accepted_residual
    );
    let ready = st.first_ready_after_ms.map_or_else(|| "not yet".to_string(), format_span);
    let released = st.first_release_after_ms.map_or_else(|| "not yet".to_string(), format_span);
    let _ = writeln!(out, "TIMING     open → first ready {ready}  open → first release {released}");
    let a = &st.access;
    let views = a.annex_views.map_or_else(|| "-".to_string(), |v| v.to_string());
    let _ = writeln!(
        out,
        "ANNEXES    views {views}  access requests {} (approved {}, denied {})  break-glass {}",
        a.access_requests, a.approved, a.denied, a.break_glass
    );
    for k in &st.handoff.held {
        let _ = writeln!(
            out,
            "HELD       {:<18} holds {}  open {}  total {}  longest {}",
            k.kind,
            k.holds,
            k.open,
            format_span(k.total_ms),
            format_span(k.longest_ms)
        );
    }
    let h = &st.handoff;
    let _ = writeln!(out, "RELEASES   {}  superseded {}  withdrawn {}", h.releases.len(), h.superseded, h.withdrawn);
    for r in &h.releases {
        let why = r.why.as_deref().map(|w| format!(" — {w}")).unwrap_or_default();
        let _ = writeln!(
            out,
            "  packet rev {} to {} at rev {} (+{}) {}{why}",
            r.packet_revision,
            r.lane,
            r.revision,
            format_span(r.after_ms),
            r.fate.to_uppercase()
        );
    }
    let m = &h.maintain;
    let span_of = |ms: Option<i64>| ms.map_or_else(|| "—".to_string(), format_span);
    let _ = writeln!(
        out,
        "MAINTAIN   stale evidence maintained {}  stale now {}  median {}  worst {}",
        m.maintained,
        m.open,
        span_of(m.median_ms),
        span_of(m.worst_ms)
    );
    let d = &h.downstream;
    if !d.is_empty() {
        let _ = writeln!(
            out,
            "DOWNSTREAM found later {}: {}  accepted never returned {}",
            d.findings,
            d.rate_text(),
            d.accepted_never_returned
        );
        for r in &d.releases {
            let _ = writeln!(out, "  {}", trustroom_shared::handoff_stats::DownstreamMeasures::release_text(r));
        }
    }
    let span = format_span(st.series.bucket_ms * st.series.edits.len() as i64);
    let _ = writeln!(out, "ACTIVITY   over {span} ({} edits in total)", st.edits);
    let _ = writeln!(out, "  edits       |{}|", sparkline(&st.series.edits));
    let _ = writeln!(out, "  objections  |{}|", sparkline(&st.series.objections));
    let _ = writeln!(out, "  suggestions |{}|", sparkline(&st.series.suggestions));
    out.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparkline_scales_to_the_max() {
        assert_eq!(sparkline(&[0, 1, 2, 4]), " ▃▅█");
        assert_eq!(sparkline(&[0, 0]), "  ");
    }
}
