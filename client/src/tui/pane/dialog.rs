//! Dialogs: which one is open (each made of a form from `forms.rs`), the
//! keys inside it, and what submitting it sends.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui_textarea::TextArea;
use trustroom_shared::SuggestionId;
use trustroom_shared::ids::AccessRequestId;
use trustroom_shared::objection::ObjectionStatus;
use trustroom_shared::protocol::Request;

use super::approvals::ApprovalsQueue;
use super::break_glass::{BreakGlassDialog, BreakGlassField};
use super::export::Exported;
use super::grants::{GrantsDialog, GrantsStep};
use super::holds::{HoldsDialog, HoldsStep};
use super::manifests::ManifestsView;
use super::suggestions::{accept, suggestion_code};
use super::{Command, Component, Ctx, Outcome};
use crate::session::outbox::Pending;
use crate::session::room::Level;
use crate::tui::action::{Action, ReasonPurpose};
use crate::tui::forms::{
    AUDIENCES, AccessForm, CosignForm, KINDS, LANES, ObjectionField, ObjectionForm, ReadinessForm, ReadinessStep,
    ReasonForm, ReplyForm, StatusForm, cycle, input, input_text,
};

pub enum Dialog {
    Objection(ObjectionForm),
    Reply(ReplyForm),
    Status(StatusForm),
    Reason(ReasonForm),
    Readiness(ReadinessForm),
    /// Confirm co-signing this content hash for a lane and audience.
    Cosign(CosignForm),
    /// A message to acknowledge.
    Message {
        title: String,
        text: String,
    },
    /// The owner's queue of pending access requests and promotions.
    Approvals(ApprovalsQueue),
    /// The active grants, to revoke one.
    Grants(GrantsDialog),
    /// The hold register, to read it or clear one hold.
    Holds(HoldsDialog),
    /// The records a statement cites, to open one or re-confirm it.
    Evidence(super::evidence::EvidenceView),
    /// Invoke break-glass, or end the active one.
    BreakGlass(BreakGlassDialog),
    /// Where the exported bundle was written.
    Exported(Exported),
    /// The release manifests, verified.
    Manifests(ManifestsView),
    /// Accepting a suggestion flagged out-of-bounds asks again, naming the flags.
    AcceptFlagged {
        suggestion: SuggestionId,
        code: String,
        flags: Vec<String>,
    },
    /// Ask for access to a gated annex: a reason and a duration.
    Access(AccessForm),
    /// Withdraw our pending access request `code` (`R-3`) for `annex` (`A1`)?
    ConfirmWithdraw {
        request: AccessRequestId,
        code: String,
        annex: String,
    },
    /// Quitting the demo stops its server for the members still connected
    /// (named): asked first.
    ConfirmQuit {
        names: Vec<String>,
    },
}

impl Dialog {
    /// The text input of the dialog, if it has one (a paste goes there).
    pub fn text_input(&mut self) -> Option<&mut TextArea<'static>> {
        match self {
            Dialog::Objection(f) => Some(&mut f.text),
            Dialog::Reply(f) => Some(&mut f.text),
            Dialog::Status(f) => Some(&mut f.rationale),
            Dialog::Reason(f) if !f.confirming => Some(&mut f.text),
            Dialog::Grants(g) if g.step == GrantsStep::Note => Some(&mut g.note),
            Dialog::Holds(h) if h.step == HoldsStep::Rationale => Some(&mut h.rationale),
            Dialog::BreakGlass(b) if b.field == BreakGlassField::Reason && !b.confirming => Some(&mut b.reason),
            Dialog::Access(f) => Some(&mut f.text),
            _ => None,
        }
    }

    /// Shows the server's refusal (or why it was not sent) in the dialog
    /// that made the request — its words are still in it, to fix and send
    /// again. False for a dialog with no place for an error.
    pub fn refused(&mut self, error: String) -> bool {
        let slot = match self {
            Dialog::Objection(f) => &mut f.error,
            Dialog::Reply(f) => &mut f.error,
            Dialog::Status(f) => &mut f.error,
            Dialog::Reason(f) => {
                f.confirming = false;
                &mut f.error
            }
            Dialog::Access(f) => &mut f.error,
            Dialog::Holds(h) => {
                h.step = HoldsStep::Rationale;
                &mut h.error
            }
            _ => return false,
        };
        *slot = Some(error);
        true
    }
}

/// Feeds a key to a one-line input (no newlines). Returns whether the
/// text changed.
pub(super) fn type_into(t: &mut TextArea<'static>, key: KeyEvent) -> bool {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    match key.code {
        KeyCode::Enter | KeyCode::Tab | KeyCode::BackTab | KeyCode::Up | KeyCode::Down | KeyCode::Esc => false,
        KeyCode::Char('m' | 'j') if ctrl => false,
        _ => t.input(key),
    }
}

/// Feeds a key to a form's input; the form's error goes as soon as the
/// text changes (the user is fixing what it asked for).
pub(super) fn type_fixing(t: &mut TextArea<'static>, error: &mut Option<String>, key: KeyEvent) {
    if type_into(t, key) {
        *error = None;
    }
}

/// Sends, then closes the dialog.
fn send_and_close(command: Command) -> Outcome {
    Outcome::Used(vec![command, Command::Close])
}

impl Component for Dialog {
    fn event(&mut self, key: KeyEvent, ctx: &Ctx<'_>) -> Outcome {
        if key.code == KeyCode::Esc {
            match self {
                Dialog::Readiness(f) if f.step == ReadinessStep::Confirm => f.back(),
                Dialog::Reason(f) if f.confirming => f.confirming = false,
                Dialog::Status(f) if f.confirming => f.confirming = false,
                Dialog::Grants(g) if g.step == GrantsStep::Confirm => g.step = GrantsStep::Note,
                Dialog::Grants(g) if g.step == GrantsStep::Note => g.step = GrantsStep::Choose,
                Dialog::Holds(h) if h.step == HoldsStep::Confirm => h.step = HoldsStep::Rationale,
                Dialog::Holds(h) if h.step == HoldsStep::Rationale => h.step = HoldsStep::Choose,
                Dialog::BreakGlass(b) if b.confirming => b.confirming = false,
                _ => return Outcome::close(),
            }
            return Outcome::used();
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match self {
            Dialog::Message { .. } | Dialog::Exported(_) => Outcome::close(),
            Dialog::Grants(g) => g.event(key, ctx),
            Dialog::Holds(h) => h.event(key, ctx),
            Dialog::Evidence(e) => e.event(key, ctx),
            Dialog::BreakGlass(b) => b.event(key, ctx),
            Dialog::Manifests(m) => m.event(key, ctx),
            Dialog::AcceptFlagged { suggestion, .. } => match key.code {
                KeyCode::Char('y' | 'Y') => {
                    let mut then: Vec<Command> = accept(ctx.room, *suggestion).into_iter().collect();
                    then.push(Command::Close);
                    Outcome::Used(then)
                }
                KeyCode::Char('n' | 'N') => Outcome::close(),
                _ => Outcome::used(),
            },
            Dialog::Approvals(q) => q.event(key, ctx),
            Dialog::Access(f) => access_key(f, key, ctx),
            Dialog::ConfirmWithdraw { request, code, .. } => match key.code {
                KeyCode::Char('y' | 'Y') | KeyCode::Enter => {
                    let Some(room) = ctx.room.id else { return Outcome::close() };
                    let request = *request;
                    send_and_close(Command::Send(
                        Request::WithdrawAccess { room, request },
                        Pending::WithdrawAccess { code: code.clone() },
                    ))
                }
                KeyCode::Char('n' | 'N') => Outcome::close(),
                _ => Outcome::used(),
            },
            // `q` again or `y` quits; any other key stays.
            Dialog::ConfirmQuit { .. } => match key.code {
                KeyCode::Char('q' | 'y' | 'Y') => Outcome::Used(vec![Command::Close, Command::Run(Action::QuitNow)]),
                _ => Outcome::close(),
            },
            Dialog::Cosign(f) => cosign_key(f, key, ctx),
            Dialog::Objection(f) => objection_key(f, key, ctrl, ctx),
            Dialog::Reply(f) => {
                if key.code != KeyCode::Enter {
                    type_fixing(&mut f.text, &mut f.error, key);
                    return Outcome::used();
                }
                let text = input_text(&f.text);
                if text.is_empty() {
                    f.error = Some("write a reply".into());
                    return Outcome::used();
                }
                let Some(room) = ctx.room.id else { return Outcome::close() };
                let objection = f.objection;
                send_and_close(Command::numbered(Pending::Reply { code: f.code.clone() }, move |seq| Request::Reply {
                    room,
                    objection,
                    text,
                    seq: Some(seq),
                }))
            }
            Dialog::Status(f) => status_key(f, key, ctx),
            Dialog::Reason(f) => reason_key(f, key, ctx),
            Dialog::Readiness(f) => match (f.step, key.code) {
                (_, KeyCode::Char('j') | KeyCode::Down) => {
                    f.scroll = f.scroll.saturating_add(1);
                    Outcome::used()
                }
                (_, KeyCode::Char('k') | KeyCode::Up) => {
                    f.scroll = f.scroll.saturating_sub(1);
                    Outcome::used()
                }
                (ReadinessStep::Review, KeyCode::Char('h' | 'H')) => {
                    *self = Dialog::Reason(ReasonForm {
                        purpose: ReasonPurpose::Hold,
                        text: input(ctx.theme, "why the release is held"),
                        confirming: false,
                        error: None,
                    });
                    Outcome::used()
                }
                (ReadinessStep::Confirm, KeyCode::Char('y' | 'Y') | KeyCode::Enter) => release(f, ctx),
                _ => {
                    readiness_key(f, key);
                    Outcome::used()
                }
            },
        }
    }
}

fn cosign_key(f: &mut CosignForm, key: KeyEvent, ctx: &Ctx<'_>) -> Outcome {
    match key.code {
        KeyCode::Char('y' | 'Y') | KeyCode::Enter => {
            let Some(room) = ctx.room.id else { return Outcome::close() };
            let (content_hash, lane, audience) = (f.content_hash.clone(), f.lane(), f.audience());
            return send_and_close(Command::numbered(Pending::Cosign, move |seq| Request::Cosign {
                room,
                content_hash,
                lane,
                audience,
                seq: Some(seq),
            }));
        }
        KeyCode::Char('n' | 'N') => return Outcome::close(),
        // The lane: ←→ or 1-3; the audience: Tab / ↑↓.
        KeyCode::Left => f.lane = cycle(f.lane, LANES.len(), false),
        KeyCode::Right => f.lane = cycle(f.lane, LANES.len(), true),
        KeyCode::Char(c @ '1'..='3') => f.lane = (c as usize) - ('1' as usize),
        KeyCode::Tab | KeyCode::Down => f.audience = cycle(f.audience, AUDIENCES.len(), true),
        KeyCode::BackTab | KeyCode::Up => f.audience = cycle(f.audience, AUDIENCES.len(), false),
        _ => {}
    }
    Outcome::used()
}

fn objection_key(f: &mut ObjectionForm, key: KeyEvent, ctrl: bool, ctx: &Ctx<'_>) -> Outcome {
    match key.code {
        KeyCode::Tab | KeyCode::Down => f.field = next_field(f.field, true),
        KeyCode::BackTab | KeyCode::Up => f.field = next_field(f.field, false),
        KeyCode::Char('b') if ctrl => f.blocking = !f.blocking,
        KeyCode::Left if f.field == ObjectionField::Kind => f.kind = (f.kind + KINDS.len() - 1) % KINDS.len(),
        KeyCode::Right if f.field == ObjectionField::Kind => f.kind = (f.kind + 1) % KINDS.len(),
        KeyCode::Left | KeyCode::Right | KeyCode::Char(' ') if f.field == ObjectionField::Blocking => {
            f.blocking = !f.blocking;
        }
        KeyCode::Char('y' | 'b') if f.field == ObjectionField::Blocking => f.blocking = true,
        KeyCode::Char('n') if f.field == ObjectionField::Blocking => f.blocking = false,
        KeyCode::Enter => {
            let text = input_text(&f.text);
            if text.is_empty() {
                f.error = Some("write what the objection is".into());
                f.field = ObjectionField::Text;
                return Outcome::used();
            }
            let Some(room) = ctx.room.id else { return Outcome::close() };
            let (section, kind, blocking, quote) = (f.section, KINDS[f.kind], f.blocking, f.quote.clone());
            return send_and_close(Command::numbered(Pending::Object, move |seq| Request::Object {
                room,
                section,
                kind,
                blocking,
                text,
                statement: None,
                quote,
                seq: Some(seq),
            }));
        }
        _ if f.field == ObjectionField::Text => type_fixing(&mut f.text, &mut f.error, key),
        _ => {}
    }
    Outcome::used()
}

fn status_key(f: &mut StatusForm, key: KeyEvent, ctx: &Ctx<'_>) -> Outcome {
    if f.confirming {
        return match key.code {
            KeyCode::Char('y' | 'Y') | KeyCode::Enter => send_status(f, ctx),
            KeyCode::Char('n' | 'N') => {
                f.confirming = false;
                Outcome::used()
            }
            _ => Outcome::used(),
        };
    }
    match key.code {
        KeyCode::Up => {
            f.selected = f.selected.saturating_sub(1);
            f.error = None;
        }
        KeyCode::Down | KeyCode::Tab => {
            f.selected = (f.selected + 1).min(f.choices.len().saturating_sub(1));
            f.error = None;
        }
        KeyCode::Enter => {
            let Some(choice) = f.chosen().cloned() else { return Outcome::close() };
            if let Some(why) = &choice.refused {
                f.error = Some(format!("{} is {why}", choice.verb()));
                return Outcome::used();
            }
            if choice.needs_rationale && input_text(&f.rationale).is_empty() {
                f.error = Some(match choice.status {
                    ObjectionStatus::AcceptedResidual => "accepted-residual needs a rationale".into(),
                    _ => format!(
                        "{} is a blocking objection someone else raised: say why it is {}",
                        f.code, choice.status
                    ),
                });
                return Outcome::used();
            }
            if choice.one_way {
                f.confirming = true;
                return Outcome::used();
            }
            return send_status(f, ctx);
        }
        _ => type_fixing(&mut f.rationale, &mut f.error, key),
    }
    Outcome::used()
}

/// Sends the chosen status for the objection the form was opened for.
fn send_status(f: &StatusForm, ctx: &Ctx<'_>) -> Outcome {
    let (Some(choice), Some(room)) = (f.chosen(), ctx.room.id) else { return Outcome::close() };
    let (objection, status) = (f.objection, choice.status);
    let rationale = input_text(&f.rationale);
    let pending = Pending::Status { code: f.code.clone(), status };
    send_and_close(Command::numbered(pending, move |seq| Request::SetObjectionStatus {
        room,
        objection,
        status,
        rationale: (!rationale.is_empty()).then_some(rationale),
        seq: Some(seq),
    }))
}

fn reason_key(f: &mut ReasonForm, key: KeyEvent, ctx: &Ctx<'_>) -> Outcome {
    if key.code != KeyCode::Enter {
        if !f.confirming {
            type_into(&mut f.text, key);
        }
        return Outcome::used();
    }
    let reason = input_text(&f.text);
    if reason.is_empty() {
        f.error = Some("a reason is required".into());
        return Outcome::used();
    }
    if f.purpose == ReasonPurpose::Escalate && !f.confirming {
        f.confirming = true;
        return Outcome::used();
    }
    let Some(room) = ctx.room.id else { return Outcome::close() };
    send_and_close(match f.purpose {
        ReasonPurpose::Hold => Command::Send(Request::Hold { room, reason }, Pending::Hold),
        ReasonPurpose::Escalate => Command::Send(Request::Escalate { room, reason }, Pending::Escalate),
        ReasonPurpose::RejectSuggestion(suggestion) => {
            let code = suggestion_code(ctx.room, suggestion);
            Command::numbered(Pending::DecideSuggestion { code, accept: false }, move |seq| Request::RejectSuggestion {
                room,
                suggestion,
                reason,
                seq: Some(seq),
            })
        }
    })
}

/// The access request: typing goes to the reason; Tab / ↑↓ choose the
/// duration; Enter sends both (the server checks the reason against the
/// room's policy: a refusal comes back here, with the words).
fn access_key(f: &mut AccessForm, key: KeyEvent, ctx: &Ctx<'_>) -> Outcome {
    let n = f.durations.len().max(1);
    match key.code {
        KeyCode::Tab | KeyCode::Down => f.duration = cycle(f.duration, n, true),
        KeyCode::BackTab | KeyCode::Up => f.duration = cycle(f.duration, n, false),
        KeyCode::Enter => {
            let reason = input_text(&f.text);
            if reason.is_empty() {
                f.error = Some("a reason is required: say why you need it (e.g. the case id)".into());
                return Outcome::used();
            }
            let Some(room) = ctx.room.id else { return Outcome::close() };
            f.error = None;
            let (annex, duration_ms) = (f.annex, f.duration_ms());
            return send_and_close(Command::numbered(Pending::RequestAccess, move |seq| Request::RequestAccess {
                room,
                annexes: vec![annex],
                reason,
                duration_ms: Some(duration_ms),
                seq: Some(seq),
            }));
        }
        _ => type_fixing(&mut f.text, &mut f.error, key),
    }
    Outcome::used()
}

/// Keys of the readiness record that only change the form.
fn readiness_key(f: &mut ReadinessForm, key: KeyEvent) {
    match (f.step, key.code) {
        (ReadinessStep::Review, KeyCode::Left) => f.lane = (f.lane + LANES.len() - 1) % LANES.len(),
        (ReadinessStep::Review, KeyCode::Right) => f.lane = (f.lane + 1) % LANES.len(),
        (ReadinessStep::Review, KeyCode::Char(c @ '1'..='3')) => f.lane = (c as usize) - ('1' as usize),
        (ReadinessStep::Review, KeyCode::Tab) => f.audience = cycle(f.audience, AUDIENCES.len(), true),
        (ReadinessStep::Review, KeyCode::BackTab) => f.audience = cycle(f.audience, AUDIENCES.len(), false),
        (ReadinessStep::Review, KeyCode::Enter) if f.releasable() => f.arm(),
        (ReadinessStep::Confirm, KeyCode::Char('n' | 'N')) => f.back(),
        _ => {}
    }
}

/// Release to the chosen lane for the chosen audience, exactly the packet
/// revision the owner reviewed and armed on: one `release_packet`, which
/// the server applies whole or refuses leaving the room as it was (a hold
/// and its reasons stay).
fn release(f: &ReadinessForm, ctx: &Ctx<'_>) -> Outcome {
    let Some(room) = ctx.room.id else { return Outcome::close() };
    let Some(armed) = &f.armed else { return Outcome::used() };
    let (lane, audience, packet_revision) = (armed.lane, armed.audience, armed.packet_revision);
    Outcome::Used(vec![
        Command::Send(
            Request::ReleasePacket { room, lane, audience, packet_revision },
            Pending::ReleasePacket { lane, audience, packet_revision },
        ),
        Command::notify(Level::Info, format!("releasing packet rev {packet_revision} to {lane} · {audience}…")),
        Command::Close,
    ])
}

fn next_field(f: ObjectionField, forward: bool) -> ObjectionField {
    use ObjectionField::*;
    match (f, forward) {
        (Kind, true) | (Text, false) => Blocking,
        (Blocking, true) | (Kind, false) => Text,
        (Text, true) | (Blocking, false) => Kind,
    }
}
