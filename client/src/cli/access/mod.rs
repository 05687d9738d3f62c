//! Annex access governance from scripts: access requests and decisions,
//! grant revocation, break-glass, promotions, room checks and overrides,
//! the access policy and the access history (docs/access.md).
//!
//! Annex content is never printed here and never logged: promotion
//! passages travel as `Sealed` text whose `Debug` hides it.

mod args;

pub use args::*;

use std::fmt::Write as _;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use serde_json::Value;
use trustroom_shared::access::{
    self as acc, AccessRequest, BreakGlassResult, PromotionPassage, PromotionResult, RequestAccessResult, Sealed,
    format_duration, parse_duration,
};
use trustroom_shared::access_history::{HistoryEntry, to_csv, to_jsonl};
use trustroom_shared::checks::CheckKind;
use trustroom_shared::export::utc;
use trustroom_shared::ids::{AnnexId, RoomId, UserId};
use trustroom_shared::protocol::{Ack, Request};
use trustroom_shared::room::RoomState;
use trustroom_shared::view::Snapshot;

use super::commands::Ctx;
use super::exit::{LocalError, UsageError};
use super::input;
use super::output::{emit, name_of};
use super::resolve;
use super::session::Session;

async fn open(ctx: &Ctx) -> anyhow::Result<Session> {
    Session::open(&ctx.settings, ctx.timeout).await
}

fn duration_arg(flag: &str, text: Option<&str>) -> anyhow::Result<Option<u64>> {
    text.map(|t| parse_duration(t).map_err(|e| UsageError(format!("{flag}: {e}")).into())).transpose()
}

fn annex_ids(state: &RoomState, names: &[String]) -> anyhow::Result<Vec<AnnexId>> {
    names.iter().map(|n| Ok(resolve::annex(state, n)?.id)).collect()
}

fn member_id(state: &RoomState, name: &str) -> anyhow::Result<UserId> {
    trustroom_shared::members::matching(state, name)
        .first()
        .map(|m| m.user)
        .ok_or_else(|| LocalError::not_found(format!("no member named {name:?} in the room")).into())
}

/// The room (from `--room`, or by searching your rooms) and its snapshot,
/// for a record named by id or code.
async fn locate(
    s: &mut Session,
    room: Option<&str>,
    name: &str,
    found: impl Fn(&RoomState, &str) -> bool,
    what: &str,
) -> anyhow::Result<(RoomId, Snapshot)> {
    if let Some(room) = room {
        let id = s.room_id(room).await?;
        let snap = s.join(id).await?;
        if !found(&snap.state, name) {
            return Err(LocalError::not_found(format!("no {what} {name:?} in this room")).into());
        }
        return Ok((id, snap));
    }
    let mut hits = Vec::new();
    for r in s.rooms().await? {
        let snap = s.join(r.id).await?;
        if found(&snap.state, name) {
            hits.push((r.id, snap));
        }
    }
    match hits.len() {
        1 => hits.pop().context("one hit"),
        0 => Err(LocalError::not_found(format!("no {what} {name:?} in your rooms")).into()),
        n => Err(LocalError::not_found(format!("{what} {name:?} is in {n} rooms; name one with --room")).into()),
    }
}

fn request_in(state: &RoomState, name: &str) -> Option<AccessRequest> {
    state.access.request_by_name(name).cloned()
}

fn print_value(ctx: &Ctx, v: &Value, text: String) -> anyhow::Result<()> {
    if ctx.json {
        emit(&v.to_string())?;
    } else {
        emit(&text)?;
    }
    Ok(())
}

fn revision(v: &Value) -> u64 {
    v.get("revision").and_then(Value::as_u64).unwrap_or(0)
}

pub async fn access(ctx: &Ctx, command: AccessCommand) -> anyhow::Result<()> {
    match command {
        AccessCommand::Request { room, annexes, reason, duration } => {
            let duration_ms = duration_arg("--for", duration.as_deref())?;
            let mut s = open(ctx).await?;
            let room = s.room_id(&room).await?;
            let snap = s.join(room).await?;
            let annexes = annex_ids(&snap.state, &annexes)?;
            let seq = s.seq();
            let v = s
                .call(Request::RequestAccess { room, annexes, reason, duration_ms, seq })
                .await
                .context("requesting access")?;
            let r: RequestAccessResult = serde_json::from_value(v.clone()).unwrap_or(RequestAccessResult {
                revision: revision(&v),
                duplicate: true,
                requests: Vec::new(),
            });
            let mut out = format!("ok rev {}", r.revision);
            for o in &r.requests {
                let what = match o.outcome.as_str() {
                    "new" => "requested".to_string(),
                    "pending" => "folded into your pending request".to_string(),
                    _ => format!(
                        "folded into your active grant (until {}; timers never stack)",
                        o.expires_at.map(utc).unwrap_or_default()
                    ),
                };
                let _ = write!(out, "\n{} {} {what}", o.code, o.annex_code);
            }
            print_value(ctx, &v, out)
        }
        AccessCommand::List { room } => {
            let mut s = open(ctx).await?;
            let room = s.room_id(&room).await?;
            let snap = s.join(room).await?;
            if ctx.json {
                emit(&serde_json::to_string_pretty(&snap.state.access)?)?;
            } else {
                emit(&list_text(&snap.state))?;
            }
            Ok(())
        }
        AccessCommand::Approve { request, room, note } => decide(ctx, &request, room.as_deref(), note, true).await,
        AccessCommand::Deny { request, room, note } => decide(ctx, &request, room.as_deref(), note, false).await,
        AccessCommand::Withdraw { request, room } => {
            let mut s = open(ctx).await?;
            let (room, snap) =
                locate(&mut s, room.as_deref(), &request, |st, n| request_in(st, n).is_some(), "request").await?;
            let r = request_in(&snap.state, &request).context("request")?;
            let v = s.call(Request::WithdrawAccess { room, request: r.id }).await.context("withdrawing")?;
            print_value(ctx, &v, format!("ok rev {} {} WITHDRAWN", revision(&v), r.code()))
        }
        AccessCommand::Revoke { grant, room, note } => {
            let mut s = open(ctx).await?;
            let (room, snap) =
                locate(&mut s, room.as_deref(), &grant, |st, n| request_in(st, n).is_some(), "grant").await?;
            let r = request_in(&snap.state, &grant).context("grant")?;
            let v = s.call(Request::RevokeGrant { room, grant: r.id, note }).await.context("revoking the grant")?;
            print_value(ctx, &v, format!("ok rev {} {} REVOKED", revision(&v), r.code()))
        }
        AccessCommand::History { room, format } => {
            let mut s = open(ctx).await?;
            let room = s.room_id(&room).await?;
            let name = match format {
                HistoryFormat::Jsonl => "jsonl",
                HistoryFormat::Csv => "csv",
            };
            let v = s
                .call(Request::AccessHistory { room, format: Some(name.to_string()) })
                .await
                .context("reading the access history")?;
            let entries: Vec<HistoryEntry> = serde_json::from_value(v.get("entries").cloned().unwrap_or(Value::Null))
                .map_err(|e| anyhow::anyhow!("unexpected answer from the server: {e}"))?;
            match format {
                HistoryFormat::Jsonl => emit(&to_jsonl(&entries))?,
                HistoryFormat::Csv => emit(&to_csv(&entries))?,
            }
            Ok(())
        }
        AccessCommand::Policy(args) => policy(ctx, args).await,
    }
}

async fn decide(
    ctx: &Ctx,
    request: &str,
    room: Option<&str>,
    note: Option<String>,
    approve: bool,
) -> anyhow::Result<()> {
    let mut s = open(ctx).await?;
    let (room, snap) = locate(&mut s, room, request, |st, n| request_in(st, n).is_some(), "request").await?;
    let r = request_in(&snap.state, request).context("request")?;
    let call = if approve {
        Request::ApproveAccess { room, request: r.id, note }
    } else {
        Request::DenyAccess { room, request: r.id, note }
    };
    let v = s
        .call(call)
        .await
        .with_context(|| format!("{} {}", if approve { "approving" } else { "denying" }, r.code()))?;
    let text = if approve {
        let until =
            snap.state.access.requests.get(&r.id).map(|x| x.duration_ms).map(format_duration).unwrap_or_default();
        format!("ok rev {} {} APPROVED for {until}", revision(&v), r.code())
    } else {
        format!("ok rev {} {} DENIED", revision(&v), r.code())
    };
    print_value(ctx, &v, text)
}

async fn policy(ctx: &Ctx, args: PolicyArgs) -> anyhow::Result<()> {
    let mut s = open(ctx).await?;
    let room = s.room_id(&args.room).await?;
    let snap = s.join(room).await?;
    let state = &snap.state;
    let names = |list: &[String]| -> anyhow::Result<Vec<UserId>> { list.iter().map(|n| member_id(state, n)).collect() };
    let break_glass = if args.no_break_glass {
        Some(Vec::new())
    } else if args.break_glass.is_empty() {
        None
    } else {
        Some(names(&args.break_glass)?)
    };
    let auditors = if args.no_auditors {
        Some(Vec::new())
    } else if args.auditors.is_empty() {
        None
    } else {
        Some(names(&args.auditors)?)
    };
    let request = Request::SetAccessPolicy {
        room,
        reason_min_chars: args.reason_min,
        reason_pattern: args.reason_pattern,
        default_duration_ms: duration_arg("--default-for", args.default_for.as_deref())?,
        max_duration_ms: duration_arg("--max-for", args.max_for.as_deref())?,
        break_glass,
        auditors,
        retention_days: args.retention_days,
    };
    let changes = !matches!(
        &request,
        Request::SetAccessPolicy {
            reason_min_chars: None,
            reason_pattern: None,
            default_duration_ms: None,
            max_duration_ms: None,
            break_glass: None,
            auditors: None,
            retention_days: None,
            ..
        }
    );
    if !changes {
        if ctx.json {
            emit(&serde_json::to_string_pretty(&state.access.policy)?)?;
        } else {
            emit(&policy_text(state))?;
        }
        return Ok(());
    }
    let v = s.call(request).await.context("changing the access policy")?;
    print_value(ctx, &v, format!("ok rev {} POLICY set", revision(&v)))
}

fn policy_text(state: &RoomState) -> String {
    let p = &state.access.policy;
    let who = |l: &[UserId]| {
        if l.is_empty() {
            "nobody".to_string()
        } else {
            l.iter().map(|u| name_of(state, *u)).collect::<Vec<_>>().join(", ")
        }
    };
    format!(
        "reasons: at least {} characters{}\ngrants: {} by default, at most {}\nbreak-glass: {} (at most 30m)\nauditors: owners, {}\nretention: {} days after release or escalation{}",
        p.reason_min_chars,
        p.reason_pattern.as_ref().map(|r| format!(", containing /{r}/")).unwrap_or_default(),
        format_duration(p.default_duration_ms),
        format_duration(p.max_duration_ms),
        who(&p.break_glass),
        who(&p.auditors),
        p.retention_days,
        state.access.purged.as_ref().map(|x| format!(" (annex content purged {})", utc(x.at_ms))).unwrap_or_default(),
    )
}

/// `access list` as text.
pub fn list_text(state: &RoomState) -> String {
    let code = |a: &AnnexId| state.annexes.get(a).map_or_else(|| a.to_string(), |x| x.code.clone());
    let mut out = String::new();
    for bg in acc::active_break_glass(state) {
        let _ = writeln!(
            out,
            "BREAK-GLASS ACTIVE: {} {} reads {} until {} — {}",
            bg.code(),
            name_of(state, bg.user),
            bg.annexes.iter().map(code).collect::<Vec<_>>().join(", "),
            utc(bg.ends_at),
            bg.reason
        );
    }
    out.push_str("ACCESS REQUESTS\n");
    let mut requests: Vec<&AccessRequest> = state.access.requests.values().collect();
    requests.sort_by_key(|r| r.number);
    if requests.is_empty() {
        out.push_str("  (none)\n");
    }
    for r in requests {
        let _ = writeln!(
            out,
            "  {:<5} {:<4} {:<20} {} — {}{}",
            r.code(),
            code(&r.annex),
            name_of(state, r.requester),
            request_status(state, r),
            r.reason,
            if r.folds.is_empty() { String::new() } else { format!(" (+{} folded)", r.folds.len()) }
        );
    }
    out.push_str("BREAK-GLASS\n");
    if state.access.break_glass.is_empty() {
        out.push_str("  (none)\n");
    }
    let mut glass: Vec<_> = state.access.break_glass.values().collect();
    glass.sort_by_key(|b| b.number);
    for b in glass {
        let status = match &b.ended {
            None => format!("active until {}", utc(b.ends_at)),
            Some(e) => format!("ended ({}) {}", e.cause, utc(e.at_ms)),
        };
        let review = b
            .review
            .and_then(|o| state.objections.get(&o))
            .map(|o| format!(" — review {} {}", o.code(), o.status))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {:<5} {:<20} {} {status}{review} — {}",
            b.code(),
            name_of(state, b.user),
            b.annexes.iter().map(code).collect::<Vec<_>>().join(","),
            b.reason
        );
    }
    out.push_str("PROMOTIONS\n");
    if state.access.promotions.is_empty() {
        out.push_str("  (none)\n");
    }
    let mut promos: Vec<_> = state.access.promotions.values().collect();
    promos.sort_by_key(|p| p.number);
    for p in promos {
        let section = state.section(p.section).map(|s| s.title.clone()).unwrap_or_default();
        let _ = writeln!(
            out,
            "  {:<5} {} → \"{section}\" {} chars by {} {} — {}",
            p.code(),
            code(&p.annex),
            p.passage_chars,
            name_of(state, p.requester),
            p.status,
            p.reason
        );
    }
    out.push_str(&checks_text(state));
    out
}

/// A request's status and who brought it there: `approved by X until T`,
/// `denied by X for 2h`; for a grant that ended, who ended it — `revoked T
/// (by Y; approved by X)`, `expired T (its time ran out; approved by X)` —
/// never the approver in the ender's place.
fn request_status(state: &RoomState, r: &AccessRequest) -> String {
    let approver = r.decided.as_ref().map(|d| name_of(state, d.by));
    if let Some(end) = &r.ended {
        let how = match end.cause {
            acc::EndCause::Expired => "its time ran out".to_string(),
            acc::EndCause::MemberLeft => "the member left".to_string(),
            acc::EndCause::Revoked | acc::EndCause::EndedEarly => format!("by {}", name_of(state, end.by)),
        };
        let approved = approver.map(|n| format!("; approved by {n}")).unwrap_or_default();
        return format!("{} {} ({how}{approved})", r.status, utc(end.at_ms));
    }
    let by = approver.map(|n| format!(" by {n}")).unwrap_or_default();
    match (r.status, r.expires_at) {
        (acc::RequestStatus::Approved, Some(e)) => format!("{}{by} until {}", r.status, utc(e)),
        _ => format!("{}{by} for {}", r.status, format_duration(r.duration_ms)),
    }
}

/// The room checks as text.
pub fn checks_text(state: &RoomState) -> String {
    let mut out = String::from("ROOM CHECKS\n");
    for kind in CheckKind::ALL {
        match state.access.checks.iter().find(|c| c.check == kind) {
            None => {
                let _ = writeln!(out, "  {:<16} passing", kind.name());
            }
            Some(c) => {
                let over = trustroom_shared::checks::active_override(state, kind)
                    .filter(|_| c.overridden)
                    .map(|o| format!(" — OVERRIDDEN by {}: {}", name_of(state, o.by), o.rationale))
                    .unwrap_or_default();
                let _ = writeln!(out, "  {:<16} FAILING: {}{over}", kind.name(), c.reason);
                for v in &c.violations {
                    let _ = writeln!(out, "    - {}", v.detail);
                }
            }
        }
    }
    out
}

pub async fn break_glass(ctx: &Ctx, args: BreakGlassArgs) -> anyhow::Result<()> {
    let mut s = open(ctx).await?;
    let room = s.room_id(&args.room).await?;
    let snap = s.join(room).await?;
    if let Some(end) = args.end {
        let bg = snap
            .state
            .access
            .break_glass_by_name(&end)
            .cloned()
            .ok_or_else(|| LocalError::not_found(format!("no break-glass {end:?} in this room")))?;
        let v = s.call(Request::EndBreakGlass { room, invocation: bg.id }).await.context("ending the break-glass")?;
        return print_value(ctx, &v, format!("ok rev {} {} ENDED (review objection opened)", revision(&v), bg.code()));
    }
    if args.annexes.is_empty() {
        return Err(UsageError("name at least one annex".into()).into());
    }
    let reason = args.reason.ok_or_else(|| UsageError("break-glass needs --reason".into()))?;
    let duration_ms = duration_arg("--for", args.duration.as_deref())?;
    if duration_ms.is_some_and(|d| d > acc::BREAK_GLASS_MAX_MS) {
        return Err(LocalError::invalid("break-glass lasts at most 30 minutes (--for 30m)").into());
    }
    let annexes = annex_ids(&snap.state, &args.annexes)?;
    let codes: Vec<String> = args.annexes.clone();
    let seq = s.seq();
    let v = s
        .call(Request::BreakGlass { room, annexes, reason, duration_ms, seq })
        .await
        .context("invoking break-glass")?;
    let text = match serde_json::from_value::<BreakGlassResult>(v.clone()) {
        Ok(r) => format!(
            "ok rev {} {} ACTIVE until {} (reads {}; every member sees it)",
            r.revision,
            r.code,
            utc(r.ends_at),
            codes.join(", ")
        ),
        Err(_) => format!("ok rev {}", revision(&v)),
    };
    print_value(ctx, &v, text)
}

pub async fn promote(ctx: &Ctx, args: PromoteArgs) -> anyhow::Result<()> {
    let passage = input::verbatim(&args.passage).await?;
    let passage = passage.strip_suffix('\n').map(str::to_string).unwrap_or(passage);
    let mut s = open(ctx).await?;
    let room = s.room_id(&args.room).await?;
    let snap = s.join(room).await?;
    let annex = resolve::annex(&snap.state, &args.annex)?.id;
    let section = resolve::section(&snap.state, &args.section)?.id;
    let seq = s.seq();
    let request =
        Request::RequestPromotion { room, annex, section, passage: Sealed(passage), reason: args.reason, seq };
    let v = s.call(request).await.context("requesting the promotion")?;
    let text = match serde_json::from_value::<PromotionResult>(v.clone()) {
        Ok(r) => format!("ok rev {} {} requested (an owner decides)", r.revision, r.code),
        Err(_) => format!("ok rev {}", revision(&v)),
    };
    print_value(ctx, &v, text)
}

pub async fn promotion(ctx: &Ctx, command: PromotionCommand) -> anyhow::Result<()> {
    let (name, room, note, verb) = match &command {
        PromotionCommand::Show { promotion, room } => (promotion, room, None, "show"),
        PromotionCommand::Approve { promotion, room, note } => (promotion, room, note.clone(), "approve"),
        PromotionCommand::Deny { promotion, room, note } => (promotion, room, note.clone(), "deny"),
    };
    let mut s = open(ctx).await?;
    let found = |st: &RoomState, n: &str| st.access.promotion_by_name(n).is_some();
    let (room, snap) = locate(&mut s, room.as_deref(), name, found, "promotion").await?;
    let p = snap.state.access.promotion_by_name(name).cloned().context("promotion")?;
    let request = match verb {
        "show" => Request::ViewPromotion { room, promotion: p.id },
        "approve" => Request::ApprovePromotion { room, promotion: p.id, note },
        _ => Request::DenyPromotion { room, promotion: p.id, note },
    };
    let v = s.call(request).await.with_context(|| format!("{verb} {}", p.code()))?;
    if verb == "show" {
        let shown: PromotionPassage =
            serde_json::from_value(v.clone()).map_err(|e| anyhow::anyhow!("unexpected answer: {e}"))?;
        eprintln!("(this view of annex {} is in the audit log)", shown.annex_code);
        if ctx.json {
            emit(&v.to_string())?;
        } else {
            emit(shown.passage.expose())?;
        }
        return Ok(());
    }
    let text = match serde_json::from_value::<PromotionResult>(v.clone()) {
        Ok(r) => format!("ok rev {} {} {}", r.revision, r.code, r.status.to_string().to_uppercase()),
        Err(_) => format!("ok rev {}", revision(&v)),
    };
    print_value(ctx, &v, text)
}

pub async fn check(ctx: &Ctx, command: CheckCommand) -> anyhow::Result<()> {
    match command {
        CheckCommand::List { room } => {
            let mut s = open(ctx).await?;
            let room = s.room_id(&room).await?;
            let snap = s.join(room).await?;
            if ctx.json {
                emit(&serde_json::to_string_pretty(&snap.state.access.checks)?)?;
            } else {
                emit(&checks_text(&snap.state))?;
            }
            Ok(())
        }
        CheckCommand::Override { room, check, rationale } => {
            let kind: CheckKind =
                check.parse().map_err(|e: trustroom_shared::role::ParseEnumError| UsageError(e.to_string()))?;
            let mut s = open(ctx).await?;
            let room = s.room_id(&room).await?;
            let v = s
                .call(Request::OverrideCheck { room, check: kind, rationale })
                .await
                .context("overriding the check")?;
            let text = match serde_json::from_value::<Ack>(v.clone()) {
                Ok(a) => format!("ok rev {} {} OVERRIDDEN (lapses when its text changes)", a.revision, kind.name()),
                Err(_) => format!("ok rev {}", revision(&v)),
            };
            print_value(ctx, &v, text)
        }
    }
}
