//! The commands that talk to a server. Each connects, joins the room when
//! it needs the room's state, sends its request, prints the result and
//! returns; errors travel up to `exit::report`.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use serde_json::{Value, json};
use trustroom_shared::change::Change;
use trustroom_shared::downstream::{FindingKind, IntakeDecision};
use trustroom_shared::export::ExportFormat;
use trustroom_shared::ids::{AnnexId, ObjectionId, RoomId};
use trustroom_shared::objection::ObjectionStatus;
use trustroom_shared::ot::TextOp;
use trustroom_shared::protocol::{
    Ack, AnnexContent, ErrorCode, ExportResult, HoldsResult, LaneReleaseResult, LaneReleasesResult, ManifestsResult,
    ReleaseAck, ReleaseStatusResult, Request, ServerFrame,
};
use trustroom_shared::readiness::Readiness;
use trustroom_shared::release::{Audience, Lane};
use trustroom_shared::role::Discipline;

use super::args::{ObjectArgs, StatusArg};
use super::exit::UsageError;
use super::input;
use super::output::{self, emit};
use crate::config::ConnectSettings;
use crate::resolve;
use crate::session::request::closed_by_server;
use crate::session::{LocalError, RequestError, Session};

/// How long to wait for the echo of our own change (to learn e.g. `O-4`).
const ECHO_WAIT: Duration = Duration::from_secs(2);

/// What every server command needs.
pub struct Ctx {
    pub settings: ConnectSettings,
    pub timeout: Duration,
    pub json: bool,
}

impl Ctx {
    pub(super) async fn open(&self) -> anyhow::Result<Session> {
        Session::open(&self.settings.url, &self.settings.token, self.settings.trust(), self.timeout).await
    }

    /// Prints a mutating request's answer: `ok rev N …`, or its JSON.
    pub(crate) fn print_ack(&self, result: &Value, kind: Option<&str>, code: Option<&str>) -> anyhow::Result<()> {
        if self.json {
            let mut v = result.clone();
            if let (Some(code), Value::Object(m)) = (code, &mut v) {
                m.insert("code".into(), Value::String(code.to_string()));
            }
            emit(&v.to_string())?;
            return Ok(());
        }
        match serde_json::from_value::<Ack>(result.clone()) {
            Ok(ack) => emit(&output::ack(&ack, kind, code))?,
            Err(_) if result.is_null() => emit("ok")?,
            Err(_) => emit(&format!("ok {result}"))?,
        }
        Ok(())
    }
}

fn revision_of(result: &Value) -> Option<u64> {
    result.get("revision").and_then(Value::as_u64)
}

pub async fn rooms(ctx: &Ctx) -> anyhow::Result<()> {
    let mut s = ctx.open().await?;
    let rooms = s.rooms().await?;
    if ctx.json {
        emit(&output::json_pretty(&rooms)?)?;
    } else {
        emit(&output::rooms(&rooms))?;
    }
    Ok(())
}

pub async fn show(ctx: &Ctx, room: &str) -> anyhow::Result<()> {
    let mut s = ctx.open().await?;
    let room = resolve::room_id(&mut s, room).await?;
    let snapshot = s.join(room).await?;
    if ctx.json {
        emit(&output::json_pretty(&snapshot)?)?;
    } else {
        emit(&output::show(&snapshot))?;
    }
    Ok(())
}

pub async fn readiness(ctx: &Ctx, room: &str) -> anyhow::Result<()> {
    let mut s = ctx.open().await?;
    let room = resolve::room_id(&mut s, room).await?;
    let snapshot = s.join(room).await?;
    // The server's record: it has the annex-boundary checks a client cannot run.
    let record: Readiness = s.call_as(Request::Readiness { room }).await.context("reading the readiness record")?;
    if ctx.json {
        emit(&output::json_pretty(&record)?)?;
    } else {
        emit(&output::readiness(&record, &snapshot.state))?;
    }
    Ok(())
}

pub async fn section_add(
    ctx: &Ctx,
    room: &str,
    title: &str,
    file: Option<&Path>,
    after: Option<&str>,
) -> anyhow::Result<()> {
    let body = match file {
        Some(f) => input::file_text(f).await?,
        None => String::new(),
    };
    let mut s = ctx.open().await?;
    let room = resolve::room_id(&mut s, room).await?;
    let after = match after {
        Some(name) => {
            let snapshot = s.join(room).await?;
            Some(resolve::section(&snapshot.state, name)?.id)
        }
        None => None,
    };
    let seq = s.seq();
    let request = Request::AddSection { room, title: title.to_string(), body, after, seq };
    let result = s.call(request).await.context("adding the section")?;
    ctx.print_ack(&result, Some("section"), None)
}

/// Sends the edit turning the section's body at the joined revision into `new_body`.
async fn edit_to(ctx: &Ctx, room: &str, section: &str, new_body: impl FnOnce(&str) -> String) -> anyhow::Result<()> {
    let mut s = ctx.open().await?;
    let room = resolve::room_id(&mut s, room).await?;
    let snapshot = s.join(room).await?;
    let target = resolve::section(&snapshot.state, section)?;
    let new = new_body(&target.body);
    let op = TextOp::from_texts(&target.body, &new);
    if op.is_noop() {
        let revision = snapshot.state.revision;
        if ctx.json {
            emit(&json!({ "revision": revision, "duplicate": false, "unchanged": true }).to_string())?;
        } else {
            emit(&format!("ok rev {revision} unchanged (nothing sent)"))?;
        }
        return Ok(());
    }
    let request =
        Request::Edit { room, section: target.id, base: snapshot.state.revision, op: op.to_wire(), seq: s.seq() };
    let result = s.call(request).await.with_context(|| format!("editing section {:?}", target.title))?;
    ctx.print_ack(&result, None, None)
}

pub async fn section_set(ctx: &Ctx, room: &str, section: &str, file: &Path) -> anyhow::Result<()> {
    let new = input::file_text(file).await?;
    edit_to(ctx, room, section, move |_| new).await
}

pub async fn section_append(ctx: &Ctx, room: &str, section: &str, text: &str, paragraph: bool) -> anyhow::Result<()> {
    let text = input::verbatim(text).await?;
    if text.is_empty() {
        return Err(UsageError("nothing to append: TEXT is empty".into()).into());
    }
    edit_to(ctx, room, section, move |body| format!("{body}{}", input::appended(body, &text, paragraph))).await
}

pub async fn object(ctx: &Ctx, args: &ObjectArgs) -> anyhow::Result<()> {
    let text = input::message(&args.text).await?;
    let mut s = ctx.open().await?;
    let room = resolve::room_id(&mut s, &args.room).await?;
    let snapshot = s.join(room).await?;
    let section = resolve::section(&snapshot.state, &args.section)?;
    let statement = match args.statement {
        Some(n) => Some(resolve::statement_index(section, n)?),
        None => None,
    };
    let request = Request::Object {
        room,
        section: section.id,
        kind: args.kind.into(),
        blocking: args.blocking,
        text,
        statement,
        quote: args.quote.as_ref().map(|q| trustroom_shared::ot::normalize_newlines(q)),
        seq: s.seq(),
    };
    let result = s.call(request).await.context("raising the objection")?;
    // The echo of our change carries the objection's number (O-N).
    let code = match revision_of(&result) {
        Some(rev) => s.event_of(room, rev, ECHO_WAIT).await.and_then(|r| match r.change {
            Change::ObjectionRaised { objection } => Some(objection.code()),
            _ => None,
        }),
        None => None,
    };
    ctx.print_ack(&result, Some("objection"), code.as_deref())
}

async fn objection_id(s: &mut Session, room: RoomId, name: &str) -> anyhow::Result<ObjectionId> {
    let snapshot = s.join(room).await?;
    Ok(resolve::objection(&snapshot.state, name)?.id)
}

pub async fn reply(ctx: &Ctx, room: &str, objection: &str, text: &str) -> anyhow::Result<()> {
    let text = input::message(text).await?;
    let mut s = ctx.open().await?;
    let room = resolve::room_id(&mut s, room).await?;
    let objection = objection_id(&mut s, room, objection).await?;
    let request = Request::Reply { room, objection, text, seq: s.seq() };
    let result = s.call(request).await.context("replying")?;
    ctx.print_ack(&result, Some("reply"), None)
}

pub async fn objection_status(
    ctx: &Ctx,
    room: &str,
    objection: &str,
    status: StatusArg,
    rationale: Option<&str>,
) -> anyhow::Result<()> {
    let rationale = rationale.map(str::trim).filter(|r| !r.is_empty()).map(String::from);
    let status: ObjectionStatus = status.into();
    if status == ObjectionStatus::AcceptedResidual && rationale.is_none() {
        return Err(UsageError("accepted-residual needs --rationale \"why it may ship unresolved\"".into()).into());
    }
    let mut s = ctx.open().await?;
    let room = resolve::room_id(&mut s, room).await?;
    let objection = objection_id(&mut s, room, objection).await?;
    let request = Request::SetObjectionStatus { room, objection, status, rationale, seq: s.seq() };
    let doing = match status {
        ObjectionStatus::Open => "reopening the objection".to_string(),
        other => format!("marking the objection {other}"),
    };
    let result = s.call(request).await.context(doing)?;
    ctx.print_ack(&result, None, None)
}

pub async fn annex_view(ctx: &Ctx, room: &str, annex: &str) -> anyhow::Result<()> {
    let mut s = ctx.open().await?;
    let room = resolve::room_id(&mut s, room).await?;
    let annex = match annex.trim().parse::<AnnexId>() {
        Ok(id) => id,
        Err(_) => {
            let snapshot = s.join(room).await?;
            resolve::annex(&snapshot.state, annex)?.id
        }
    };
    let content: AnnexContent = s.call_as(Request::ViewAnnex { room, annex }).await.context("viewing the annex")?;
    eprintln!("{}", output::annex_logged_note(&content));
    if ctx.json {
        emit(&serde_json::to_string(&content)?)?;
    } else {
        emit(&content.content)?;
    }
    Ok(())
}

/// A release decision: hold, ready, release (of the packet revision
/// reviewed, when given) or escalate.
pub enum Decision {
    Hold(String),
    Ready,
    Release(Lane, Audience, Option<u64>),
    Escalate(String),
}

pub async fn decide(ctx: &Ctx, room: &str, decision: Decision) -> anyhow::Result<()> {
    let mut s = ctx.open().await?;
    let room = resolve::room_id(&mut s, room).await?;
    let (request, state, what) = match decision {
        Decision::Hold(reason) => (Request::Hold { room, reason }, "HELD", "holding"),
        Decision::Ready => (Request::MarkReady { room }, "READY", "marking ready"),
        Decision::Release(lane, audience, None) => (Request::Release { room, lane, audience }, "RELEASED", "releasing"),
        Decision::Release(lane, audience, Some(packet_revision)) => {
            (Request::ReleasePacket { room, lane, audience, packet_revision }, "RELEASED", "releasing")
        }
        Decision::Escalate(reason) => (Request::Escalate { room, reason }, "ESCALATED", "escalating"),
    };
    let result = s.call(request).await.context(what)?;
    if ctx.json {
        return ctx.print_ack(&result, None, None);
    }
    if let Ok(released) = serde_json::from_value::<ReleaseAck>(result.clone()) {
        emit(&output::released(&released))?;
        return Ok(());
    }
    match serde_json::from_value::<Ack>(result.clone()) {
        Ok(ack) => emit(&format!("{} {state}", output::ack(&ack, None, None)))?,
        Err(_) => ctx.print_ack(&result, None, None)?,
    }
    Ok(())
}

/// `clear-hold`: clears one open hold with a rationale.
pub async fn clear_hold(ctx: &Ctx, room: &str, hold: &str, rationale: &str) -> anyhow::Result<()> {
    let Some(number) = trustroom_shared::holds::parse_code(hold) else {
        return Err(
            UsageError(format!("{hold:?} is not a hold code: write it as `trustroom holds` prints it (H-3)")).into()
        );
    };
    let mut s = ctx.open().await?;
    let room = resolve::room_id(&mut s, room).await?;
    let request = Request::ClearHold { room, hold: number, rationale: rationale.to_string() };
    let result =
        s.call(request).await.with_context(|| format!("clearing hold {}", trustroom_shared::holds::code(number)))?;
    if ctx.json {
        return ctx.print_ack(&result, None, None);
    }
    let record: HoldsResult = s.call_as(Request::Holds { room }).await.context("reading the hold register")?;
    let open = record.holds.iter().filter(|h| h.is_open()).count();
    match serde_json::from_value::<Ack>(result.clone()) {
        Ok(ack) => emit(&format!(
            "{} {} cleared; {open} hold(s) open, room {}",
            output::ack(&ack, None, None),
            trustroom_shared::holds::code(number),
            record.release
        ))?,
        Err(_) => ctx.print_ack(&result, None, None)?,
    }
    Ok(())
}

/// `holds`: the hold register.
pub async fn holds(ctx: &Ctx, room: &str) -> anyhow::Result<()> {
    let mut s = ctx.open().await?;
    let room = resolve::room_id(&mut s, room).await?;
    let snapshot = s.join(room).await?;
    let record: HoldsResult = s.call_as(Request::Holds { room }).await.context("reading the hold register")?;
    if ctx.json {
        emit(&output::json_pretty(&record)?)?;
    } else {
        emit(&output::holds(&record, &snapshot.state))?;
    }
    Ok(())
}

/// `policy`: prints the release policy, or replaces it.
pub async fn policy(
    ctx: &Ctx,
    room: &str,
    members: &[String],
    disciplines: &[Discipline],
    clear: bool,
) -> anyhow::Result<()> {
    let mut s = ctx.open().await?;
    let room = resolve::room_id(&mut s, room).await?;
    let snapshot = s.join(room).await?;
    if members.is_empty() && disciplines.is_empty() && !clear {
        if ctx.json {
            emit(&output::json_pretty(&snapshot.state.release_policy)?)?;
        } else {
            emit(&output::policy(&snapshot.state))?;
        }
        return Ok(());
    }
    let mut ids = Vec::new();
    for m in members {
        ids.push(resolve::member(&snapshot.state, m)?.user);
    }
    let request = Request::SetReleasePolicy { room, members: ids, disciplines: disciplines.to_vec(), seq: s.seq() };
    let result = s.call(request).await.context("setting the release policy")?;
    if ctx.json {
        return ctx.print_ack(&result, None, None);
    }
    match serde_json::from_value::<Ack>(result.clone()) {
        Ok(ack) => emit(&format!("{} POLICY set", output::ack(&ack, None, None)))?,
        Err(_) => ctx.print_ack(&result, None, None)?,
    }
    Ok(())
}

/// `cosign`: co-signs the content hash read on join, for `lane` and `audience`.
pub async fn cosign(
    ctx: &Ctx,
    room: &str,
    lane: Lane,
    audience: Audience,
    expected: Option<&str>,
) -> anyhow::Result<()> {
    let mut s = ctx.open().await?;
    let room = resolve::room_id(&mut s, room).await?;
    let snapshot = s.join(room).await?;
    let hash = snapshot.content_hash.clone();
    if let Some(want) = expected.map(str::trim).filter(|w| !w.is_empty())
        && !hash.starts_with(&want.to_lowercase())
    {
        return Err(LocalError::new(
            ErrorCode::Stale,
            format!("the room's content is {hash}, not the {want} you reviewed; look again before signing"),
        )
        .into());
    }
    let request = Request::Cosign { room, content_hash: hash.clone(), lane, audience, seq: s.seq() };
    let result = s.call(request).await.context("co-signing")?;
    if ctx.json {
        return ctx.print_ack(&result, None, None);
    }
    match serde_json::from_value::<Ack>(result.clone()) {
        Ok(ack) => emit(&format!(
            "{} CO-SIGNED content {hash} (packet rev {}) for lane {lane} · audience {audience}",
            output::ack(&ack, None, None),
            snapshot.state.content_revision
        ))?,
        Err(_) => ctx.print_ack(&result, None, None)?,
    }
    Ok(())
}

/// `export`: the bundle, byte for byte as the server encoded it.
pub async fn export(
    ctx: &Ctx,
    room: &str,
    revision: Option<u64>,
    format: ExportFormat,
    out: Option<&Path>,
) -> anyhow::Result<()> {
    let mut s = ctx.open().await?;
    let room = resolve::room_id(&mut s, room).await?;
    let result: ExportResult =
        s.call_as(Request::Export { room, revision, format }).await.context("exporting the room")?;
    match out {
        Some(path) => {
            tokio::fs::write(path, result.text.as_bytes())
                .await
                .with_context(|| format!("writing {}", path.display()))?;
            if ctx.json {
                let mut meta = serde_json::to_value(&result)?;
                if let Value::Object(m) = &mut meta {
                    m.remove("text");
                    m.insert("out".into(), Value::String(path.display().to_string()));
                }
                emit(&meta.to_string())?;
            } else {
                emit(&output::exported(&result, &path.display().to_string()))?;
            }
        }
        None => {
            use std::io::Write as _;
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(result.text.as_bytes())?;
            stdout.flush()?;
        }
    }
    Ok(())
}

/// `lane releases`: the releases of the member's downstream lane.
pub async fn lane_releases(ctx: &Ctx, room: &str) -> anyhow::Result<()> {
    let mut s = ctx.open().await?;
    let room = resolve::room_id(&mut s, room).await?;
    let result: LaneReleasesResult =
        s.call_as(Request::LaneReleases { room }).await.context("reading your lane's releases")?;
    if ctx.json {
        emit(&output::json_pretty(&result)?)?;
    } else {
        emit(&output::lane_releases(&result))?;
    }
    Ok(())
}

/// `lane fetch`: one release's redacted export bundle, to stdout or `out`.
pub async fn lane_fetch(
    ctx: &Ctx,
    room: &str,
    manifest: &str,
    format: ExportFormat,
    out: Option<&Path>,
) -> anyhow::Result<()> {
    let mut s = ctx.open().await?;
    let room = resolve::room_id(&mut s, room).await?;
    let request = Request::LaneRelease { room, manifest: manifest.to_string(), format: Some(format) };
    let result: LaneReleaseResult = s.call_as(request).await.context("fetching the release")?;
    match out {
        Some(path) => {
            tokio::fs::write(path, result.export.text.as_bytes())
                .await
                .with_context(|| format!("writing {}", path.display()))?;
            if ctx.json {
                let mut meta = serde_json::to_value(&result)?;
                if let Some(Value::Object(m)) = meta.get_mut("export") {
                    m.remove("text");
                }
                if let Value::Object(m) = &mut meta {
                    m.insert("out".into(), Value::String(path.display().to_string()));
                }
                emit(&meta.to_string())?;
            } else {
                emit(&format!(
                    "{} ({}): {}",
                    output::exported(&result.export, &path.display().to_string()),
                    result.status,
                    result.manifest_hash
                ))?;
            }
        }
        None => {
            use std::io::Write as _;
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(result.export.text.as_bytes())?;
            stdout.flush()?;
        }
    }
    Ok(())
}

/// `lane intake`: accepted (no reason) or returned with `reason`.
pub async fn lane_intake(ctx: &Ctx, room: &str, manifest: &str, returned: Option<&str>) -> anyhow::Result<()> {
    let reason = match returned {
        Some(r) => Some(input::message(r).await?),
        None => None,
    };
    let decision = if reason.is_some() { IntakeDecision::Returned } else { IntakeDecision::Accepted };
    let mut s = ctx.open().await?;
    let room = resolve::room_id(&mut s, room).await?;
    let request = Request::Intake { room, manifest: manifest.to_string(), decision, reason, seq: None };
    let result = s.call(request).await.context("recording the intake decision")?;
    if ctx.json {
        return ctx.print_ack(&result, None, None);
    }
    match serde_json::from_value::<Ack>(result.clone()) {
        Ok(ack) => {
            let what = decision.to_string().to_uppercase();
            emit(&format!("{} {what} {manifest}", output::ack(&ack, None, None)))?;
        }
        Err(_) => ctx.print_ack(&result, None, None)?,
    }
    Ok(())
}

/// `lane finding`: a finding on a release, opening an objection marked
/// found downstream.
pub async fn lane_finding(ctx: &Ctx, room: &str, manifest: &str, kind: FindingKind, text: &str) -> anyhow::Result<()> {
    let text = input::message(text).await?;
    let mut s = ctx.open().await?;
    let room = resolve::room_id(&mut s, room).await?;
    let request =
        Request::ReportFinding { room, manifest: manifest.to_string(), kind, text, blocking: true, seq: None };
    let result = s.call(request).await.context("reporting the finding")?;
    ctx.print_ack(&result, Some("objection"), None)
}

/// `manifests`: the release history.
pub async fn manifests(ctx: &Ctx, room: &str) -> anyhow::Result<()> {
    let mut s = ctx.open().await?;
    let room = resolve::room_id(&mut s, room).await?;
    let result: ManifestsResult = s.call_as(Request::Manifests { room }).await.context("reading the manifests")?;
    if ctx.json {
        emit(&output::json_pretty(&result)?)?;
    } else {
        emit(&output::manifests(&result))?;
    }
    Ok(())
}

/// `release status`: every release's signed status; `--out DIR` writes one
/// status document per release.
pub async fn release_status(ctx: &Ctx, room: &str, out: Option<&std::path::Path>) -> anyhow::Result<()> {
    let mut s = ctx.open().await?;
    let room = resolve::room_id(&mut s, room).await?;
    let snapshot = s.join(room).await?;
    let result: ReleaseStatusResult =
        s.call_as(Request::ReleaseStatus { room }).await.context("reading the release status")?;
    if let Some(dir) = out {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        for st in &result.statuses {
            let short: String = st.body.manifest_hash.chars().filter(char::is_ascii_hexdigit).take(16).collect();
            let name = format!("status-{short}.json");
            let path = dir.join(name);
            std::fs::write(&path, trustroom_shared::release_status::to_json(st))
                .with_context(|| format!("writing {}", path.display()))?;
            eprintln!("wrote {} ({} of packet rev {})", path.display(), st.body.status.name(), st.body.packet_revision);
        }
    }
    if ctx.json {
        emit(&output::json_pretty(&result)?)?;
    } else {
        emit(&output::statuses(&result, &snapshot.state))?;
    }
    Ok(())
}

/// `release withdraw`: an owner withdraws one release, with a reason.
pub async fn withdraw_release(ctx: &Ctx, room: &str, manifest: &str, reason: &str) -> anyhow::Result<()> {
    let mut s = ctx.open().await?;
    let room = resolve::room_id(&mut s, room).await?;
    let request = Request::WithdrawRelease { room, manifest: manifest.to_string(), reason: reason.to_string() };
    let result = s.call(request).await.context("withdrawing the release")?;
    if ctx.json {
        return ctx.print_ack(&result, None, None);
    }
    match serde_json::from_value::<Ack>(result.clone()) {
        Ok(ack) => emit(&format!("{} WITHDRAWN {manifest}", output::ack(&ack, None, None)))?,
        Err(_) => ctx.print_ack(&result, None, None)?,
    }
    Ok(())
}

pub async fn watch(ctx: &Ctx, room: &str, since: Option<u64>) -> anyhow::Result<()> {
    let mut s = ctx.open().await?;
    let room = resolve::room_id(&mut s, room).await?;
    let mut joined = s.start_join(room, since).await?;
    let mut join_answered = false;
    let mut closing: Option<RequestError> = None;
    let mut terminate = Terminate::new()?;
    loop {
        tokio::select! {
            frame = s.pushed.recv() => {
                let Some(frame) = frame else {
                    return Err(match closing {
                        Some(closed) => anyhow::Error::new(closed),
                        None => anyhow::Error::new(RequestError::Disconnected).context("watching the room"),
                    });
                };
                if matches!(frame, ServerFrame::Pong) {
                    continue;
                }
                emit(&serde_json::to_string(&frame)?)?;
                match frame {
                    ServerFrame::Closing { code, reason } => closing = Some(closed_by_server(code, &reason)),
                    ServerFrame::Removed { room: r, reason } if r == room => {
                        return Err(LocalError::not_found(format!("no longer a member of the room (server said: {reason})")).into());
                    }
                    _ => {}
                }
            }
            answer = &mut joined, if !join_answered => {
                join_answered = true;
                match answer {
                    Ok(Ok(_)) => tracing::debug!("joined"),
                    Ok(Err(e)) => return Err(anyhow::Error::new(e).context("joining the room")),
                    Err(_) => return Err(anyhow::Error::new(RequestError::Disconnected).context("joining the room")),
                }
            }
            _ = tokio::signal::ctrl_c() => return Ok(()),
            _ = terminate.recv() => return Ok(()),
        }
    }
}

/// SIGTERM on Unix (a quiet end of `watch`, like Ctrl-C); never elsewhere.
struct Terminate {
    #[cfg(unix)]
    signal: tokio::signal::unix::Signal,
}

impl Terminate {
    fn new() -> anyhow::Result<Self> {
        #[cfg(unix)]
        {
            let signal = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .context("cannot listen for SIGTERM")?;
            Ok(Terminate { signal })
        }
        #[cfg(not(unix))]
        Ok(Terminate {})
    }

    async fn recv(&mut self) {
        #[cfg(unix)]
        {
            self.signal.recv().await;
        }
        #[cfg(not(unix))]
        std::future::pending::<()>().await
    }
}
