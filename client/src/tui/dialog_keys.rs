//! Keys inside dialogs, and what submitting each dialog sends.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui_textarea::TextArea;
use trustroom_shared::objection::ObjectionStatus;
use trustroom_shared::protocol::Request;

use super::app::{App, Pending};
use super::forms::{
    AUDIENCES, Dialog, KINDS, LANES, ObjectionField, ReadinessStep, ReasonForm, ReasonPurpose, cycle, input, input_text,
};

/// How long an access request asks for (the owner may shorten it).
const ACCESS_REQUEST_MS: u64 = 60 * 60 * 1000;

/// The text input of a dialog, if it has one.
pub fn dialog_text(d: &mut Dialog) -> Option<&mut TextArea<'static>> {
    match d {
        Dialog::Objection(f) => Some(&mut f.text),
        Dialog::Reply(f) => Some(&mut f.text),
        Dialog::Status(f) => Some(&mut f.rationale),
        Dialog::Reason(f) if !f.confirming => Some(&mut f.text),
        _ => None,
    }
}

/// Feeds a key to a one-line input (no newlines).
fn type_into(t: &mut TextArea<'static>, key: KeyEvent) {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    match key.code {
        KeyCode::Enter | KeyCode::Tab | KeyCode::BackTab | KeyCode::Up | KeyCode::Down | KeyCode::Esc => {}
        KeyCode::Char('m' | 'j') if ctrl => {}
        _ => {
            t.input(key);
        }
    }
}

/// Handles a key; returns the dialog if it stays open.
pub fn dialog_key(app: &mut App, d: Dialog, key: KeyEvent) -> Option<Dialog> {
    if key.code == KeyCode::Esc {
        return match d {
            Dialog::Readiness(mut f) if f.step == ReadinessStep::Confirm => {
                f.step = ReadinessStep::Review;
                Some(Dialog::Readiness(f))
            }
            Dialog::Reason(mut f) if f.confirming => {
                f.confirming = false;
                Some(Dialog::Reason(f))
            }
            _ => None,
        };
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    match d {
        Dialog::Message { .. } => None,
        Dialog::AcceptFlagged { suggestion, code, flags } => match key.code {
            KeyCode::Char('y' | 'Y') => {
                app.send_accept(suggestion);
                None
            }
            KeyCode::Char('n' | 'N') => None,
            _ => Some(Dialog::AcceptFlagged { suggestion, code, flags }),
        },
        Dialog::Approvals(f) => super::approvals::key(app, f, key),
        Dialog::Cosign(mut f) => {
            match key.code {
                KeyCode::Char('y' | 'Y') | KeyCode::Enter => {
                    let room = app.room.id?;
                    let seq = app.room.outbox.next_seq();
                    let (lane, audience) = (f.lane(), f.audience());
                    app.room.outbox.send(
                        Request::Cosign { room, content_hash: f.content_hash, lane, audience, seq: Some(seq) },
                        Pending::Cosign,
                    );
                    return None;
                }
                KeyCode::Char('n' | 'N') => return None,
                // The lane: ←→ or 1-3; the audience: Tab / ↑↓.
                KeyCode::Left => f.lane = cycle(f.lane, LANES.len(), false),
                KeyCode::Right => f.lane = cycle(f.lane, LANES.len(), true),
                KeyCode::Char(c @ '1'..='3') => f.lane = (c as usize) - ('1' as usize),
                KeyCode::Tab | KeyCode::Down => f.audience = cycle(f.audience, AUDIENCES.len(), true),
                KeyCode::BackTab | KeyCode::Up => f.audience = cycle(f.audience, AUDIENCES.len(), false),
                _ => {}
            }
            Some(Dialog::Cosign(f))
        }
        Dialog::Objection(mut f) => {
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
                        return Some(Dialog::Objection(f));
                    }
                    let room = app.room.id?;
                    let seq = app.room.outbox.next_seq();
                    app.room.outbox.send(
                        Request::Object {
                            room,
                            section: f.section,
                            kind: KINDS[f.kind],
                            blocking: f.blocking,
                            text,
                            statement: None,
                            quote: f.quote.clone(),
                            seq: Some(seq),
                        },
                        Pending::Object,
                    );
                    return None;
                }
                _ if f.field == ObjectionField::Text => type_into(&mut f.text, key),
                _ => {}
            }
            Some(Dialog::Objection(f))
        }
        Dialog::Reply(mut f) => {
            if key.code == KeyCode::Enter {
                let text = input_text(&f.text);
                if text.is_empty() {
                    f.error = Some("write a reply".into());
                    return Some(Dialog::Reply(f));
                }
                let room = app.room.id?;
                let seq = app.room.outbox.next_seq();
                app.room.outbox.send(
                    Request::Reply { room, objection: f.objection, text, seq: Some(seq) },
                    Pending::Reply { code: f.code.clone() },
                );
                return None;
            }
            type_into(&mut f.text, key);
            Some(Dialog::Reply(f))
        }
        Dialog::Status(mut f) => {
            match key.code {
                KeyCode::Up => f.selected = f.selected.saturating_sub(1),
                KeyCode::Down | KeyCode::Tab => f.selected = (f.selected + 1).min(f.choices.len().saturating_sub(1)),
                KeyCode::Enter => {
                    let (status, allowed) = f.chosen()?;
                    if !allowed {
                        f.error = Some(match status {
                            ObjectionStatus::AcceptedResidual => "accepted-residual is for the room owner only".into(),
                            _ => format!("your role ({}) cannot resolve objections", app.room.role_label()),
                        });
                        return Some(Dialog::Status(f));
                    }
                    let rationale = input_text(&f.rationale);
                    if f.needs_rationale() && rationale.is_empty() {
                        f.error = Some("accepted-residual needs a rationale".into());
                        return Some(Dialog::Status(f));
                    }
                    let room = app.room.id?;
                    let seq = app.room.outbox.next_seq();
                    app.room.outbox.send(
                        Request::SetObjectionStatus {
                            room,
                            objection: f.objection,
                            status,
                            rationale: (!rationale.is_empty()).then_some(rationale),
                            seq: Some(seq),
                        },
                        Pending::Status { code: f.code.clone(), status },
                    );
                    return None;
                }
                _ => type_into(&mut f.rationale, key),
            }
            Some(Dialog::Status(f))
        }
        Dialog::Reason(mut f) => {
            if key.code != KeyCode::Enter {
                if !f.confirming {
                    type_into(&mut f.text, key);
                }
                return Some(Dialog::Reason(f));
            }
            let reason = input_text(&f.text);
            if reason.is_empty() {
                f.error = Some("a reason is required".into());
                return Some(Dialog::Reason(f));
            }
            if f.purpose == ReasonPurpose::Escalate && !f.confirming {
                f.confirming = true;
                return Some(Dialog::Reason(f));
            }
            let room = app.room.id?;
            match f.purpose {
                ReasonPurpose::Hold => app.room.outbox.send(Request::Hold { room, reason }, Pending::Hold),
                ReasonPurpose::Escalate => app.room.outbox.send(Request::Escalate { room, reason }, Pending::Escalate),
                ReasonPurpose::RejectSuggestion(suggestion) => {
                    let code = app.suggestion_code(suggestion);
                    let seq = app.room.outbox.next_seq();
                    app.room.outbox.send(
                        Request::RejectSuggestion { room, suggestion, reason, seq: Some(seq) },
                        Pending::DecideSuggestion { code, accept: false },
                    )
                }
                ReasonPurpose::RequestAccess(annex) => {
                    let seq = app.room.outbox.next_seq();
                    app.room.outbox.send(
                        Request::RequestAccess {
                            room,
                            annexes: vec![annex],
                            reason,
                            duration_ms: Some(ACCESS_REQUEST_MS),
                            seq: Some(seq),
                        },
                        Pending::RequestAccess,
                    )
                }
            };
            None
        }
        Dialog::Readiness(mut f) => {
            match (f.step, key.code) {
                (_, KeyCode::Char('j') | KeyCode::Down) => f.scroll = f.scroll.saturating_add(1),
                (_, KeyCode::Char('k') | KeyCode::Up) => f.scroll = f.scroll.saturating_sub(1),
                (ReadinessStep::Review, KeyCode::Left) => f.lane = (f.lane + LANES.len() - 1) % LANES.len(),
                (ReadinessStep::Review, KeyCode::Right) => f.lane = (f.lane + 1) % LANES.len(),
                (ReadinessStep::Review, KeyCode::Char(c @ '1'..='3')) => f.lane = (c as usize) - ('1' as usize),
                (ReadinessStep::Review, KeyCode::Tab) => f.audience = cycle(f.audience, AUDIENCES.len(), true),
                (ReadinessStep::Review, KeyCode::BackTab) => f.audience = cycle(f.audience, AUDIENCES.len(), false),
                (ReadinessStep::Review, KeyCode::Char('h' | 'H')) => {
                    return Some(Dialog::Reason(ReasonForm {
                        purpose: ReasonPurpose::Hold,
                        text: input(&app.theme, "why the release is held"),
                        confirming: false,
                        error: None,
                    }));
                }
                (ReadinessStep::Review, KeyCode::Enter) if f.releasable() => f.step = ReadinessStep::Confirm,
                (ReadinessStep::Confirm, KeyCode::Char('y' | 'Y') | KeyCode::Enter) => {
                    app.release(f.lane(), f.audience());
                    return None;
                }
                (ReadinessStep::Confirm, KeyCode::Char('n' | 'N')) => f.step = ReadinessStep::Review,
                _ => {}
            }
            Some(Dialog::Readiness(f))
        }
    }
}

fn next_field(f: ObjectionField, forward: bool) -> ObjectionField {
    use ObjectionField::*;
    match (f, forward) {
        (Kind, true) | (Text, false) => Blocking,
        (Blocking, true) | (Kind, false) => Text,
        (Text, true) | (Blocking, false) => Kind,
    }
}
