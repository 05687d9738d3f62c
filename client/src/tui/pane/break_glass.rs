//! Break-glass (key `B`): emergency read access to annexes for at most 30
//! minutes, for members on the room's break-glass list, with a reason every
//! member sees; or ending an active one early (its invoker or an owner),
//! which opens the break-glass review objection. Set: choose the annexes
//! (`j`/`k`, Space), Tab to the reason and the duration (`←→`), Enter,
//! then `y` to confirm. End: choose the invocation, Enter, `y`.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui_textarea::TextArea;
use trustroom_shared::access::{BREAK_GLASS_MAX_MS, MINUTE_MS, active_break_glass};
use trustroom_shared::export::utc;
use trustroom_shared::ids::{AnnexId, BreakGlassId};
use trustroom_shared::protocol::Request;

use super::dialog::type_fixing;
use super::{Command, Component, Ctx, Outcome};
use crate::session::outbox::Pending;
use crate::session::room::Room;
use crate::tui::forms::input_text;

/// Invoke a new break-glass, or end an active one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakGlassMode {
    Set,
    End,
}

/// The field of the set form that takes keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakGlassField {
    Annexes,
    Reason,
    Minutes,
}

pub struct BreakGlassDialog {
    pub mode: BreakGlassMode,
    pub field: BreakGlassField,
    /// The row under the cursor (annexes in Set, invocations in End).
    pub selected: usize,
    /// The annexes ticked.
    pub annexes: Vec<AnnexId>,
    pub reason: TextArea<'static>,
    /// How long, in minutes (1..=30).
    pub minutes: u64,
    pub confirming: bool,
    pub error: Option<String>,
    /// Whether we are on the room's break-glass list (may set one).
    pub may_set: bool,
}

/// An annex that can be broken into: id, code and title.
pub fn annex_rows(room: &Room) -> Vec<(AnnexId, String, String)> {
    let Some(state) = &room.replica.state else { return Vec::new() };
    let mut v: Vec<_> = state.annexes.values().map(|a| (a.id, a.code.clone(), a.title.clone())).collect();
    v.sort_by(|a, b| a.1.cmp(&b.1));
    v
}

/// An active break-glass we may end: id, code, one line about it.
pub fn endable(room: &Room) -> Vec<(BreakGlassId, String, String)> {
    let (Some(state), Some(me)) = (&room.replica.state, &room.me) else { return Vec::new() };
    let owner = room.is_owner();
    let mut v: Vec<_> = active_break_glass(state).filter(|b| owner || b.user == me.user).collect();
    v.sort_by_key(|b| b.number);
    v.into_iter()
        .map(|b| {
            let codes: Vec<String> =
                b.annexes.iter().map(|a| state.annexes.get(a).map_or_else(|| "?".into(), |x| x.code.clone())).collect();
            let line = format!(
                "{} by {} reads {} until {} — {}",
                b.code(),
                room.member_name(b.user),
                codes.join(", "),
                utc(b.ends_at),
                b.reason
            );
            (b.id, b.code(), line)
        })
        .collect()
}

impl BreakGlassDialog {
    /// Opens on ending when there is an active one we may end, else on setting.
    pub fn new(room: &Room, reason: TextArea<'static>, may_set: bool) -> Self {
        let mode = if endable(room).is_empty() { BreakGlassMode::Set } else { BreakGlassMode::End };
        BreakGlassDialog {
            mode,
            field: BreakGlassField::Annexes,
            selected: 0,
            annexes: Vec::new(),
            reason,
            minutes: BREAK_GLASS_MAX_MS / MINUTE_MS,
            confirming: false,
            error: None,
            may_set,
        }
    }

    fn set_key(&mut self, key: KeyEvent, ctx: &Ctx<'_>) -> Outcome {
        let rows = annex_rows(ctx.room);
        if self.confirming {
            return match key.code {
                KeyCode::Char('y' | 'Y') | KeyCode::Enter => self.send_set(ctx),
                KeyCode::Char('n' | 'N') => {
                    self.confirming = false;
                    Outcome::used()
                }
                _ => Outcome::used(),
            };
        }
        match (self.field, key.code) {
            (_, KeyCode::Tab) => {
                self.field = match self.field {
                    BreakGlassField::Annexes => BreakGlassField::Reason,
                    BreakGlassField::Reason => BreakGlassField::Minutes,
                    BreakGlassField::Minutes => BreakGlassField::Annexes,
                }
            }
            (_, KeyCode::BackTab) => {
                self.field = match self.field {
                    BreakGlassField::Annexes => BreakGlassField::Minutes,
                    BreakGlassField::Reason => BreakGlassField::Annexes,
                    BreakGlassField::Minutes => BreakGlassField::Reason,
                }
            }
            (_, KeyCode::Enter) => {
                let reason = input_text(&self.reason);
                if self.annexes.is_empty() {
                    self.error = Some("tick at least one annex (Space)".into());
                    self.field = BreakGlassField::Annexes;
                } else if reason.is_empty() {
                    self.error = Some("break-glass needs a reason (every member sees it)".into());
                    self.field = BreakGlassField::Reason;
                } else {
                    self.error = None;
                    self.confirming = true;
                }
            }
            (BreakGlassField::Annexes, KeyCode::Char('j') | KeyCode::Down) => {
                self.selected = (self.selected + 1).min(rows.len().saturating_sub(1));
            }
            (BreakGlassField::Annexes, KeyCode::Char('k') | KeyCode::Up) => {
                self.selected = self.selected.saturating_sub(1);
            }
            (BreakGlassField::Annexes, KeyCode::Char(' ' | 'x')) => {
                if let Some((id, ..)) = rows.get(self.selected) {
                    match self.annexes.iter().position(|a| a == id) {
                        Some(i) => {
                            self.annexes.remove(i);
                        }
                        None => self.annexes.push(*id),
                    }
                }
            }
            (BreakGlassField::Annexes, KeyCode::Char('e')) if !endable(ctx.room).is_empty() => {
                self.mode = BreakGlassMode::End;
                self.selected = 0;
            }
            (BreakGlassField::Minutes, KeyCode::Left | KeyCode::Char('-' | 'h')) => {
                self.minutes = self.minutes.saturating_sub(5).max(5);
            }
            (BreakGlassField::Minutes, KeyCode::Right | KeyCode::Char('+' | 'l')) => {
                self.minutes = (self.minutes + 5).min(BREAK_GLASS_MAX_MS / MINUTE_MS);
            }
            (BreakGlassField::Reason, _) => type_fixing(&mut self.reason, &mut self.error, key),
            _ => {}
        }
        Outcome::used()
    }

    fn send_set(&mut self, ctx: &Ctx<'_>) -> Outcome {
        let Some(room) = ctx.room.id else { return Outcome::close() };
        let rows = annex_rows(ctx.room);
        // In the list's order, whatever order they were ticked in.
        let annexes: Vec<AnnexId> = rows.iter().map(|r| r.0).filter(|id| self.annexes.contains(id)).collect();
        let codes: Vec<String> = rows.iter().filter(|r| self.annexes.contains(&r.0)).map(|r| r.1.clone()).collect();
        let (reason, duration_ms) = (input_text(&self.reason), self.minutes * MINUTE_MS);
        Outcome::Used(vec![
            Command::numbered(Pending::BreakGlass { annexes: codes }, move |seq| Request::BreakGlass {
                room,
                annexes,
                reason,
                duration_ms: Some(duration_ms),
                seq: Some(seq),
            }),
            Command::Close,
        ])
    }

    fn end_key(&mut self, key: KeyEvent, ctx: &Ctx<'_>) -> Outcome {
        let list = endable(ctx.room);
        if list.is_empty() && !self.confirming {
            self.mode = BreakGlassMode::Set;
        }
        match key.code {
            KeyCode::Char('j') | KeyCode::Down if !self.confirming => {
                self.selected = (self.selected + 1).min(list.len().saturating_sub(1));
            }
            KeyCode::Char('k') | KeyCode::Up if !self.confirming => self.selected = self.selected.saturating_sub(1),
            KeyCode::Char('n') if !self.confirming && self.may_set => {
                self.mode = BreakGlassMode::Set;
                self.selected = 0;
            }
            KeyCode::Enter if !self.confirming => self.confirming = !list.is_empty(),
            KeyCode::Char('n' | 'N') if self.confirming => self.confirming = false,
            KeyCode::Char('y' | 'Y') | KeyCode::Enter if self.confirming => {
                let (Some(room), Some((id, code, _))) = (ctx.room.id, list.get(self.selected).cloned()) else {
                    self.confirming = false;
                    self.error = Some("that break-glass ended meanwhile".into());
                    return Outcome::used();
                };
                return Outcome::Used(vec![
                    Command::Send(Request::EndBreakGlass { room, invocation: id }, Pending::EndBreakGlass { code }),
                    Command::Close,
                ]);
            }
            _ => {}
        }
        Outcome::used()
    }
}

impl Component for BreakGlassDialog {
    fn event(&mut self, key: KeyEvent, ctx: &Ctx<'_>) -> Outcome {
        match self.mode {
            BreakGlassMode::Set if self.may_set => self.set_key(key, ctx),
            BreakGlassMode::Set => {
                self.mode = BreakGlassMode::End;
                self.end_key(key, ctx)
            }
            BreakGlassMode::End => self.end_key(key, ctx),
        }
    }
}
