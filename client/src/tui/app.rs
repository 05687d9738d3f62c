//! The TUI's state. Input handling (`event.rs`) and network events
//! (`sync.rs`) mutate it; drawing (`ui/`) only reads it. Derived data that
//! is costly to compute (badges, readiness, editor highlights) is cached
//! here by [`App::refresh`], which runs before every draw.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use ratatui::layout::Rect;
use trustroom_shared::objection::ObjectionStatus;
use trustroom_shared::protocol::{AnnexContent, Request};
use trustroom_shared::readiness::{Readiness, readiness};
use trustroom_shared::room::{RoomState, Section};
use trustroom_shared::statement::{StatementLabel, statements};
use trustroom_shared::{AnnexId, ClientId, ObjectionId, SectionId};

use super::diffview::DiffView;
use super::editor::EditorState;
use super::forms::Dialog;
use super::highlight::{Highlight, highlights};
use super::palette::PaletteState;
use super::theme::Theme;
pub use super::action::Pane;
pub use crate::session::outbox::{Outgoing, Pending};
use crate::session::room::Room;
pub use crate::session::room::{ConnState, Level};

/// How long a notification stays bright on the notification line.
pub const NOTICE_FRESH: Duration = Duration::from_secs(20);

#[derive(Clone, Debug)]
pub struct Notice {
    pub text: String,
    pub level: Level,
    pub at: Instant,
}

/// Overlays drawn above the panes; they take the keys while open.
pub enum Overlay {
    Help,
    Palette(PaletteState),
    Dialog(Box<Dialog>),
}

impl Overlay {
    pub fn dialog(d: Dialog) -> Overlay {
        Overlay::Dialog(Box::new(d))
    }
}

/// What the annex pane shows beside the map.
#[derive(Clone, Debug, PartialEq)]
pub enum AnnexOpen {
    Loading(AnnexId),
    /// Content sent by the server for us (the view is logged).
    Content(AnnexContent),
    /// We have no access: the pane is gated.
    Gated(AnnexId),
    Failed(AnnexId, String),
}

#[derive(Clone, Debug, Default)]
pub struct RegisterView {
    /// Show every objection, not only the current section's.
    pub all: bool,
    pub selected: usize,
    /// Show the whole thread of the selected objection.
    pub expanded: bool,
}

#[derive(Clone, Debug, Default)]
pub struct AnnexView {
    pub selected: usize,
    pub open: Option<AnnexOpen>,
    pub scroll: u16,
}

/// Badge counts of one section (cached).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SectionMeta {
    pub verified: usize,
    pub contested: usize,
    pub restricted: usize,
    pub residual: usize,
    pub unsupported: usize,
    pub open_objections: usize,
    pub blocking_open: usize,
}

pub struct App {
    pub theme: Theme,
    pub help_extra: Vec<String>,
    /// The room as this client holds it (the session layer).
    pub room: Room,
    /// Index of the section in view.
    pub current: usize,
    pub editor: EditorState,
    pub focus: Pane,
    pub show_register: bool,
    pub show_annexes: bool,
    pub register: RegisterView,
    pub annexes: AnnexView,
    pub overlay: Option<Overlay>,
    pub diff: Option<DiffView>,
    /// The suggestions screen, when open (`u`).
    pub suggestions: Option<super::suggest::SuggestionsView>,
    /// The stats screen, when open (`m`).
    pub stats: Option<super::stats::StatsView>,
    pub notices: VecDeque<Notice>,
    /// Terminal size.
    pub size: Rect,
    pub quit: bool,
    pub exit_error: Option<String>,
    pub dirty: bool,
    pub quit_armed: bool,
    // Caches (see `refresh`).
    pub meta: HashMap<SectionId, SectionMeta>,
    pub readiness: Option<Readiness>,
    pub highlights: Vec<Highlight>,
    pub caches_stale: bool,
    pub highlights_stale: bool,
    pub help_scroll: u16,
    /// Where the log goes (shown in help).
    pub log_path: Option<std::path::PathBuf>,
    /// The user asked to reconnect without waiting for the backoff.
    pub reconnect_requested: bool,
    /// The server's readiness record (it also checks the annex boundary,
    /// which needs patterns a client never receives).
    pub server_readiness: Option<Readiness>,
    /// Revision and time of the last readiness request.
    pub readiness_asked: Option<(u64, Instant)>,
}

impl App {
    pub fn new(room_ref: String, help_extra: Vec<String>, theme: Theme, client: ClientId) -> Self {
        Self {
            editor: EditorState::new(&theme),
            theme,
            help_extra,
            room: Room::new(room_ref, client, super::logging::log_dir().join("unsent")),
            current: 0,
            focus: Pane::Sections,
            show_register: false,
            show_annexes: false,
            register: RegisterView::default(),
            annexes: AnnexView::default(),
            overlay: None,
            diff: None,
            suggestions: None,
            stats: None,
            notices: VecDeque::new(),
            size: Rect::new(0, 0, 80, 24),
            quit: false,
            exit_error: None,
            dirty: true,
            quit_armed: false,
            meta: HashMap::new(),
            readiness: None,
            highlights: Vec::new(),
            caches_stale: true,
            highlights_stale: true,
            help_scroll: 0,
            log_path: None,
            reconnect_requested: false,
            server_readiness: None,
            readiness_asked: None,
        }
    }

    // ----- sections -----

    pub fn current_section(&self) -> Option<&Section> {
        self.room.sections().get(self.current)
    }

    pub fn current_section_id(&self) -> Option<SectionId> {
        self.current_section().map(|s| s.id)
    }

    /// Objections shown in the register pane, in order.
    pub fn register_items(&self) -> Vec<ObjectionId> {
        let Some(state) = &self.room.replica.state else { return Vec::new() };
        let current = self.current_section_id();
        let mut items: Vec<_> =
            state.objections.values().filter(|o| self.register.all || Some(o.anchor.section) == current).collect();
        // Open first, blocking first, then by number.
        items.sort_by_key(|o| (o.status != ObjectionStatus::Open, !o.blocking, o.number));
        items.into_iter().map(|o| o.id).collect()
    }

    pub fn selected_objection(&self) -> Option<ObjectionId> {
        self.register_items().get(self.register.selected).copied()
    }

    pub fn annex_ids(&self) -> Vec<AnnexId> {
        let Some(state) = &self.room.replica.state else { return Vec::new() };
        let mut v: Vec<_> = state.annexes.values().collect();
        v.sort_by(|a, b| a.code.cmp(&b.code));
        v.into_iter().map(|a| a.id).collect()
    }

    // ----- requests and notifications -----

    pub fn notify(&mut self, level: Level, text: impl Into<String>) {
        let text = text.into();
        tracing::info!(target: "trustroom::notice", "{text}");
        self.notices.push_back(Notice { text, level, at: Instant::now() });
        while self.notices.len() > 100 {
            self.notices.pop_front();
        }
        self.dirty = true;
    }

    /// The notice for the notification line, if any is fresh.
    pub fn current_notice(&self, now: Instant) -> Option<&Notice> {
        self.notices.back().filter(|n| now.duration_since(n.at) < NOTICE_FRESH)
    }

    /// The readiness record to show: the server's when it is for the
    /// current revision, else our own (without the annex-boundary check).
    pub fn current_readiness(&self) -> Option<&Readiness> {
        let rev = self.room.replica.state.as_ref()?.revision;
        match &self.server_readiness {
            Some(r) if r.revision == rev => Some(r),
            _ => self.readiness.as_ref(),
        }
    }

    /// Asks the server for its readiness record when the room moved on
    /// (at most once a second; called from the tick).
    pub fn refresh_server_readiness(&mut self, now: Instant) {
        let (Some(room), Some(state)) = (self.room.id, &self.room.replica.state) else { return };
        if self.room.conn != ConnState::Connected {
            return;
        }
        let rev = state.revision;
        let due = match self.readiness_asked {
            None => true,
            Some((r, at)) => r != rev && now.duration_since(at) >= Duration::from_secs(1),
        };
        if due && self.server_readiness.as_ref().is_none_or(|r| r.revision != rev) {
            self.readiness_asked = Some((rev, now));
            self.room.outbox.send(Request::Readiness { room }, Pending::Readiness { then_cosign: false });
        }
    }

    /// Sends our cursor when it moved (called from the tick).
    pub fn send_cursor_if_moved(&mut self) {
        if let Some(section) = self.editor.section {
            self.room.send_cursor(section, self.editor.cursor_index(), self.editor.anchor_index());
        }
    }

    // ----- caches -----

    /// Recomputes stale caches. Call before drawing.
    pub fn refresh(&mut self) {
        if self.caches_stale {
            self.caches_stale = false;
            if let Some(state) = &self.room.replica.state {
                self.meta = state.sections.iter().map(|s| (s.id, section_meta(state, s))).collect();
                self.readiness = Some(readiness(state));
            }
            self.clamp_selections();
        }
        if self.highlights_stale {
            self.highlights_stale = false;
            self.highlights = match self.current_section_id().and_then(|id| self.room.docs.get(&id)) {
                Some(doc) => highlights(&doc.text),
                None => Vec::new(),
            };
        }
        let rev = self.room.replica.state.as_ref().map_or(0, |s| s.revision);
        if let (Some(d), Some(state)) = (&mut self.diff, &self.room.replica.state)
            && d.stale(rev)
        {
            d.compute(state, &self.room.history);
        }
    }

    fn clamp_selections(&mut self) {
        let n = self.register_items().len();
        if self.register.selected >= n {
            self.register.selected = n.saturating_sub(1);
        }
        let a = self.annex_ids().len();
        if self.annexes.selected >= a {
            self.annexes.selected = a.saturating_sub(1);
        }
    }

    /// Marks everything derived from the state as stale, and drops annex
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
    }
}

fn section_meta(state: &RoomState, s: &Section) -> SectionMeta {
    let mut m = SectionMeta::default();
    for st in statements(&s.body) {
        match st.label {
            StatementLabel::Verified { .. } => m.verified += 1,
            StatementLabel::Contested { .. } => m.contested += 1,
            StatementLabel::Restricted => m.restricted += 1,
            StatementLabel::AcceptedResidual => m.residual += 1,
            StatementLabel::Unlabeled => m.unsupported += 1,
            StatementLabel::Heading => {}
        }
    }
    for o in state.objections.values().filter(|o| o.anchor.section == s.id && o.is_open()) {
        m.open_objections += 1;
        if o.blocking {
            m.blocking_open += 1;
        }
    }
    m
}
