//! The app: a thin composition of the session's room, the panes (each
//! owns its state, takes keys and says what to do — `pane/`), the overlay
//! and the full screen on top of them, the focus, and the loop's flags.
//! Keys are routed here: overlay first, then the open screen, then the
//! focused pane; keys no pane takes go to the global map. What the panes
//! ask for is done in `actions.rs`; what the room reports in `effects.rs`.
//! Drawing (`ui/`) only reads; costly derived data (badges, readiness,
//! highlights, the diff) is recomputed by [`App::refresh`] before a draw.

use std::collections::{HashMap, VecDeque};

use crossterm::event::{Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::{Position, Rect};
use trustroom_shared::ClientId;

use super::action::{Action, EditMode, Pane};
use super::layout::{PaneRects, Shape, banner_shown, layout};
use super::pane::annex::{AnnexMap, AnnexOpen, annex_ids};
use super::pane::dialog::Dialog;
use super::pane::diff::DiffScreen;
use super::pane::editor::Editor;
use super::pane::help::Help;
use super::pane::history::HistoryScreen;
use super::pane::palette::Palette;
use super::pane::register::Register;
use super::pane::sections::SectionList;
use super::pane::stats::StatsScreen;
use super::pane::status::{NoticeKind, StatusBar};
use super::pane::suggestions::SuggestionsScreen;
use super::pane::{Command, Component, Ctx, Outcome, ScreenKind};
use super::remembered::Remembered;
use super::theme::Theme;
use crate::session::room::{Level, Room};

/// Overlays drawn above the panes; they take the keys while open.
pub enum Overlay {
    /// The help (its state is [`App::help`], kept between openings).
    Help,
    Palette(Palette),
    Dialog(Box<Dialog>),
}

impl Overlay {
    pub fn dialog(d: Dialog) -> Overlay {
        Overlay::Dialog(Box::new(d))
    }
}

/// Full screens drawn instead of the panes; they take the keys while open.
pub enum Screen {
    Diff(DiffScreen),
    Suggestions(SuggestionsScreen),
    /// Boxed: the figures are large, the other screens small.
    Stats(Box<StatsScreen>),
    /// The message history (refusals, notices, room events).
    History(HistoryScreen),
}

impl Screen {
    pub fn kind(&self) -> ScreenKind {
        match self {
            Screen::Diff(_) => ScreenKind::Diff,
            Screen::Suggestions(_) => ScreenKind::Suggestions,
            Screen::Stats(_) => ScreenKind::Stats,
            Screen::History(_) => ScreenKind::History,
        }
    }
}

pub struct App {
    /// The room as this client holds it (the session layer).
    pub room: Room,
    pub theme: Theme,
    pub focus: Pane,
    pub sections: SectionList,
    pub editor: Editor,
    pub register: Register,
    pub annexes: AnnexMap,
    pub screen: Option<Screen>,
    pub overlay: Option<Overlay>,
    pub help: Help,
    pub status: StatusBar,
    /// Terminal size.
    pub size: Rect,
    /// Something changed: draw.
    pub dirty: bool,
    pub quit: bool,
    /// `q` was pressed once with unacknowledged work: the next `q` quits.
    pub quit_armed: bool,
    pub exit_error: Option<String>,
    /// The user asked to reconnect without waiting for the backoff.
    pub reconnect_requested: bool,
    /// Where exported bundles are written.
    pub export_dir: std::path::PathBuf,
    /// The room changed since the caches were computed.
    caches_stale: bool,
    /// Where choices are remembered between sessions (`None`: not at all).
    pub remembered: Option<Remembered>,
    /// The remembered register choice was read (or one was made).
    register_recalled: bool,
    /// This TUI runs the demo's server in its process: quitting stops it
    /// for everyone, so `q` asks first while others are connected.
    pub serves_demo: bool,
    /// Dialogs whose request the server has not answered yet, by the
    /// request's `seq`: a refusal reopens the dialog with its words and the
    /// server's error.
    pub sent_dialogs: HashMap<u64, Box<Dialog>>,
    /// Refused dialogs waiting for the overlay that is open to close.
    pub reopen: VecDeque<Box<Dialog>>,
}

/// Dialogs kept for their answer at most (the oldest is dropped).
const SENT_DIALOGS_KEPT: usize = 32;

/// The panes' view of `$app`, borrowing only its room and theme, so one of
/// its panes can take it while handling a key.
macro_rules! ctx {
    ($app:expr) => {
        Ctx {
            room: &$app.room,
            theme: &$app.theme,
            focus: $app.focus,
            current: $app.sections.current,
            mode: $app.editor.mode,
            screen: $app.screen.as_ref().map(Screen::kind),
            size: $app.size,
            notices: &$app.status.notices,
        }
    };
}

impl App {
    pub fn new(room_ref: String, help_extra: Vec<String>, theme: Theme, client: ClientId) -> Self {
        Self {
            room: Room::new(room_ref, client, super::logging::log_dir().join("unsent")),
            editor: Editor::new(&theme),
            theme,
            focus: Pane::Sections,
            sections: SectionList::default(),
            register: Register::default(),
            annexes: AnnexMap::default(),
            screen: None,
            overlay: None,
            help: Help { extra: help_extra, ..Help::default() },
            status: StatusBar::default(),
            size: Rect::new(0, 0, 80, 24),
            dirty: true,
            quit: false,
            quit_armed: false,
            exit_error: None,
            reconnect_requested: false,
            export_dir: super::pane::export::export_dir(),
            caches_stale: true,
            remembered: None,
            register_recalled: false,
            serves_demo: false,
            sent_dialogs: HashMap::new(),
            reopen: VecDeque::new(),
        }
    }

    /// What the panes read of the app.
    pub fn ctx(&self) -> Ctx<'_> {
        ctx!(self)
    }

    /// Where each pane goes on a screen of `area`.
    pub fn layout(&self, area: Rect) -> PaneRects {
        let shape = Shape {
            banner: banner_shown(&self.room),
            screen: self.screen.is_some(),
            register: self.register.shown(area.width),
            annexes: self.annexes.shown,
        };
        layout(area, shape)
    }

    pub fn notify(&mut self, level: Level, text: impl Into<String>) {
        self.notify_kind(NoticeKind::Notice, level, text);
    }

    /// A notice of a kind: a refusal, a room event (the history tells them apart).
    pub fn notify_kind(&mut self, kind: NoticeKind, level: Level, text: impl Into<String>) {
        self.status.push_kind(kind, level, text.into());
        self.dirty = true;
    }

    /// Opens a dialog again (a refused request's, with its words and the
    /// error) — at once, or when the overlay open now closes.
    pub fn reopen_dialog(&mut self, dialog: Box<Dialog>) {
        if self.overlay.is_none() {
            self.overlay = Some(Overlay::Dialog(dialog));
        } else {
            self.reopen.push_back(dialog);
        }
        self.dirty = true;
    }

    /// Keeps a dialog that just sent requests numbered `seqs`, for their answer.
    fn keep_sent_dialog(&mut self, dialog: Box<Dialog>, seqs: &[u64]) {
        let Some((&last, rest)) = seqs.split_last() else { return };
        if !matches!(
            *dialog,
            Dialog::Objection(_) | Dialog::Reply(_) | Dialog::Status(_) | Dialog::Reason(_) | Dialog::Access(_)
        ) {
            return;
        }
        for seq in rest {
            self.sent_dialogs.remove(seq);
        }
        while self.sent_dialogs.len() >= SENT_DIALOGS_KEPT {
            let Some(oldest) = self.sent_dialogs.keys().min().copied() else { break };
            self.sent_dialogs.remove(&oldest);
        }
        self.sent_dialogs.insert(last, dialog);
    }

    // ----- input -----

    pub fn on_terminal_event(&mut self, ev: Event) {
        match ev {
            Event::Key(key) if key.kind != KeyEventKind::Release => self.on_key(key),
            Event::Mouse(m) => self.on_mouse(m),
            Event::Resize(w, h) => {
                self.size = Rect::new(0, 0, w, h);
                self.dirty = true;
            }
            Event::Paste(text) => self.on_paste(&text),
            _ => {}
        }
    }

    pub fn on_key(&mut self, key: KeyEvent) {
        self.dirty = true;
        // Terminals send Alt-x as ESC x: an Esc typed just before a key
        // arrives as Alt+key. Outside the text editor no command uses Alt,
        // so read it as the Esc it was, then the key.
        let typing = self.overlay.is_none() && self.focus == Pane::Editor && self.editor.mode == EditMode::Insert;
        if key.modifiers.contains(KeyModifiers::ALT) && matches!(key.code, KeyCode::Char(_)) && !typing {
            self.on_key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE));
            let mut plain = key;
            plain.modifiers.remove(KeyModifiers::ALT);
            return self.on_key(plain);
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl && key.code == KeyCode::Char('c') {
            return self.run_action(Action::Quit);
        }
        if !matches!(key.code, KeyCode::Char('q')) {
            self.quit_armed = false;
        }
        if let Some(mut overlay) = self.overlay.take() {
            let ctx = ctx!(self);
            let outcome = match &mut overlay {
                Overlay::Help => self.help.event(key, &ctx),
                Overlay::Palette(p) => p.event(key, &ctx),
                Overlay::Dialog(d) => d.event(key, &ctx),
            };
            let commands = outcome.commands();
            let closing = closes(&commands);
            if !closing {
                self.overlay = Some(overlay);
                return self.run_commands(commands);
            }
            // A dialog that sends and closes is kept until the answer: a
            // refusal reopens it with the words and the server's error.
            let queued = self.room.outbox.queue.len();
            self.run_commands(commands);
            let seqs: Vec<u64> = self
                .room
                .outbox
                .queue
                .get(queued..)
                .unwrap_or_default()
                .iter()
                .filter_map(|o| o.request.seq())
                .collect();
            if let Overlay::Dialog(d) = overlay {
                self.keep_sent_dialog(d, &seqs);
            }
            if self.overlay.is_none()
                && let Some(next) = self.reopen.pop_front()
            {
                self.overlay = Some(Overlay::Dialog(next));
            }
            return;
        }
        let ctx = ctx!(self);
        if let Some(screen) = &mut self.screen {
            let outcome = match screen {
                Screen::Diff(d) => d.event(key, &ctx),
                Screen::Suggestions(s) => s.event(key, &ctx),
                Screen::Stats(s) => s.event(key, &ctx),
                Screen::History(h) => h.event(key, &ctx),
            };
            let commands = outcome.commands();
            if closes(&commands) {
                self.screen = None;
            }
            return self.run_commands(commands);
        }
        let outcome = match self.focus {
            Pane::Sections => self.sections.event(key, &ctx),
            Pane::Editor => self.editor.event(key, &ctx),
            Pane::Register => self.register.event(key, &ctx),
            Pane::Annexes => self.annexes.event(key, &ctx),
        };
        match outcome {
            Outcome::Ignored => self.global_key(key),
            Outcome::Used(commands) => self.run_commands(commands),
        }
    }

    /// Keys no pane took.
    fn global_key(&mut self, key: KeyEvent) {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let action = match key.code {
            KeyCode::Char('z') if ctrl => Action::Undo,
            KeyCode::Char('y') if ctrl => Action::Redo,
            KeyCode::Char('?') | KeyCode::F(1) => Action::Help,
            KeyCode::Char(':') => Action::Palette,
            KeyCode::Tab => Action::FocusNext,
            KeyCode::BackTab => Action::FocusPrev,
            KeyCode::Char('1') => Action::Focus(Pane::Sections),
            KeyCode::Char('2') => Action::Focus(Pane::Editor),
            KeyCode::Char('3') => Action::Focus(Pane::Register),
            KeyCode::Char('4') => Action::Focus(Pane::Annexes),
            KeyCode::Char('r') => Action::ToggleRegister,
            KeyCode::Char('a') => Action::ToggleAnnexes,
            KeyCode::Char('o') => Action::ObjectionNew,
            KeyCode::Char('d') => Action::DiffOpen,
            KeyCode::Char('D') => Action::DiffPacket,
            KeyCode::Char('R') => Action::Readiness,
            KeyCode::Char('M') => Action::MarkReady,
            KeyCode::Char('H') => Action::Hold,
            KeyCode::Char('E') => Action::Escalate,
            KeyCode::Char('G') => Action::Grants,
            KeyCode::Char('L') => Action::Holds,
            KeyCode::Char('e') => Action::Evidence,
            KeyCode::Char('B') => Action::BreakGlass,
            KeyCode::Char('X') => Action::Export,
            KeyCode::Char('W') => Action::Manifests,
            KeyCode::Char('S') => Action::Cosign,
            KeyCode::Char('u') => Action::Suggestions,
            KeyCode::Char('m') => Action::Stats,
            KeyCode::Char('N') => Action::History,
            KeyCode::Char('V') => return self.open_approvals(),
            KeyCode::Char('q') => Action::Quit,
            KeyCode::Esc => return self.editor.area.cancel_selection(),
            _ => return,
        };
        self.run_action(action);
    }

    fn on_paste(&mut self, text: &str) {
        if let Some(Overlay::Dialog(d)) = &mut self.overlay {
            if let Some(t) = d.text_input() {
                t.insert_str(text.replace('\n', " "));
            }
            self.dirty = true;
            return;
        }
        if self.focus == Pane::Editor && self.editor.mode == EditMode::Insert && self.room.read_only_reason().is_none()
        {
            let text = trustroom_shared::ot::normalize_newlines(text);
            let edit = self.editor.paste(&text);
            self.editor_edited(edit);
            self.dirty = true;
        }
    }

    fn on_mouse(&mut self, m: MouseEvent) {
        if self.overlay.is_some() {
            return;
        }
        let at = Position::new(m.column, m.row);
        let l = self.layout(self.size);
        if let Some(Screen::Diff(d)) = &mut self.screen {
            match m.kind {
                MouseEventKind::ScrollDown => d.scroll_by(true),
                MouseEventKind::ScrollUp => d.scroll_by(false),
                _ => return,
            }
            self.dirty = true;
            return;
        }
        let pane = [
            (Pane::Sections, l.sections),
            (Pane::Editor, l.editor),
            (Pane::Register, l.register),
            (Pane::Annexes, l.annexes),
        ]
        .into_iter()
        .find(|(_, r)| r.is_some_and(|r| r.contains(at)));
        let Some((pane, Some(rect))) = pane else { return };
        match m.kind {
            MouseEventKind::Down(MouseButton::Left) => {
                if self.focus != pane {
                    self.set_focus(pane);
                }
                match pane {
                    Pane::Sections => {
                        let row = m.row.saturating_sub(rect.y + 1) as usize;
                        let first = self.sections.first_visible(rect);
                        self.select_section(first + row / 2);
                    }
                    Pane::Editor => {
                        let (r, c) = (m.row.saturating_sub(rect.y + 1), m.column.saturating_sub(rect.x + 1));
                        self.editor.click(r, c, false);
                    }
                    Pane::Register | Pane::Annexes => {}
                }
            }
            MouseEventKind::Drag(MouseButton::Left) if pane == Pane::Editor => {
                let (r, c) = (m.row.saturating_sub(rect.y + 1), m.column.saturating_sub(rect.x + 1));
                self.editor.click(r, c, true);
            }
            MouseEventKind::ScrollDown => self.scroll_pane(pane, true),
            MouseEventKind::ScrollUp => self.scroll_pane(pane, false),
            _ => return,
        }
        self.dirty = true;
    }

    fn scroll_pane(&mut self, pane: Pane, down: bool) {
        let key = KeyEvent::new(if down { KeyCode::Down } else { KeyCode::Up }, KeyModifiers::NONE);
        let ctx = ctx!(self);
        let outcome = match pane {
            Pane::Sections => return self.run_action(if down { Action::SectionNext } else { Action::SectionPrev }),
            Pane::Editor => {
                let rows: i16 = if down { 3 } else { -3 };
                return self.editor.area.scroll((rows, 0));
            }
            Pane::Register => self.register.event(key, &ctx),
            Pane::Annexes if self.annexes.open.is_some() => return self.annexes.scroll_open(down),
            Pane::Annexes => self.annexes.event(key, &ctx),
        };
        self.run_commands(outcome.commands());
    }

    // ----- the tick and the caches -----

    /// Sends our cursor when it moved, and asks for the server's readiness
    /// record when the room moved on (called from the tick).
    pub fn tick(&mut self, now: std::time::Instant) {
        if let Some(section) = self.editor.section {
            self.room.send_cursor(section, self.editor.cursor_index(), self.editor.anchor_index());
        }
        self.status.ask_readiness(&mut self.room, now);
    }

    /// Recomputes stale caches. Call before drawing.
    pub fn refresh(&mut self) {
        self.recall_register_choice();
        if self.caches_stale {
            self.caches_stale = false;
            if let Some(state) = &self.room.replica.state {
                self.sections.refresh(state);
                self.status.refresh(state);
            }
            self.clamp_selections();
        }
        let current = self.ctx().current_section_id();
        let text = current.and_then(|id| self.room.docs.get(&id)).map(|d| d.text.as_str());
        self.editor.refresh(text);
        let rev = self.room.replica.state.as_ref().map_or(0, |s| s.revision);
        if let (Some(Screen::Diff(d)), Some(state)) = (&mut self.screen, &self.room.replica.state)
            && d.view.stale(rev)
        {
            d.view.compute(state, &self.room.history);
        }
    }

    fn clamp_selections(&mut self) {
        self.settle_register();
        let a = annex_ids(&self.room).len();
        if self.annexes.selected >= a {
            self.annexes.selected = a.saturating_sub(1);
        }
    }

    /// Pins the register's selection to the objection selected now (or its
    /// neighbour, when it left the list). Called before a change from the
    /// room applies, and after the list changed.
    pub fn settle_register(&mut self) {
        let ctx = ctx!(self);
        self.register.settle(&ctx);
    }

    /// The section in view or the register's filter changed: keeps the
    /// selected objection when it is still listed, else selects the first.
    pub fn register_list_changed(&mut self) {
        let ctx = ctx!(self);
        self.register.keep_or_first(&ctx);
    }

    /// Whether the register is on screen now.
    pub fn register_shown(&self) -> bool {
        self.register.shown(self.size.width)
    }

    /// The user showed or hid the register: the choice holds for this
    /// session and is remembered for the next (per server and user).
    pub fn choose_register(&mut self, shown: bool) {
        self.register.choice = Some(shown);
        self.register_recalled = true;
        if let (Some(memory), Some((_, user))) = (&self.remembered, &self.room.user) {
            memory.set_register_shown(user, shown);
        }
    }

    /// Once the server has said who we are: the register choice remembered
    /// from an earlier session, unless one was made in this session.
    fn recall_register_choice(&mut self) {
        if self.register_recalled {
            return;
        }
        let (Some(memory), Some((_, user))) = (&self.remembered, &self.room.user) else { return };
        self.register_recalled = true;
        if self.register.choice.is_none() {
            self.register.choice = memory.register_shown(user);
        }
    }

    /// Marks everything derived from the room as stale, and drops annex
    /// content we may no longer see (a grant revoked or expired).
    pub fn state_changed(&mut self) {
        self.caches_stale = true;
        self.dirty = true;
        if let Some(AnnexOpen::Content(c)) = &self.annexes.open {
            let id = c.annex;
            if !self.room.has_annex_access(id) {
                self.annexes.open = Some(AnnexOpen::Gated(id));
                self.notify(Level::Warn, "your access to the open annex ended; its content was dropped");
            }
        }
        self.follow_readiness();
    }
}

/// Whether the commands close the overlay or screen that gave them.
fn closes(commands: &[Command]) -> bool {
    commands.iter().any(|c| matches!(c, Command::Close))
}
