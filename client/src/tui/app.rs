//! The TUI's state. Input handling (`event.rs`) and network events
//! (`sync.rs`) mutate it; drawing (`ui/`) only reads it. Derived data that
//! is costly to compute (badges, readiness, editor highlights) is cached
//! here by [`App::refresh`], which runs before every draw.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use ratatui::layout::Rect;
use trustroom_shared::objection::ObjectionStatus;
use trustroom_shared::policy::Capability;
use trustroom_shared::protocol::{AnnexContent, Presence, Request};
use trustroom_shared::readiness::{Readiness, readiness};
use trustroom_shared::release::Lane;
use trustroom_shared::room::{RoomState, Section};
use trustroom_shared::statement::{StatementLabel, statements};
use trustroom_shared::view::MemberSelf;
use trustroom_shared::{AnnexId, ClientId, ObjectionId, RoomId, SectionId, UserId};

use super::diffview::DiffView;
use super::editor::EditorState;
use super::forms::Dialog;
use super::highlight::{Highlight, highlights};
use super::palette::PaletteState;
use super::theme::Theme;
use crate::session::Replica;
use crate::session::doc::SectionDoc;
use crate::session::history::History;

pub use super::action::Pane;

/// How long a notification stays bright on the notification line.
pub const NOTICE_FRESH: Duration = Duration::from_secs(20);

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConnState {
    Connecting {
        attempt: u32,
    },
    /// Connected; waiting for the join to finish (catching up).
    Syncing,
    Connected,
    Disconnected {
        reason: String,
        retry_at: Instant,
        attempt: u32,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
    Error,
}

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

/// What an answer to a request should do when it arrives.
#[derive(Clone, Debug, PartialEq)]
pub enum Pending {
    ResolveRoom,
    Join {
        full: bool,
    },
    Edit {
        section: SectionId,
        seq: u64,
    },
    Object,
    Reply {
        code: String,
    },
    Status {
        code: String,
        status: ObjectionStatus,
    },
    ViewAnnex(AnnexId),
    Hold,
    /// Then release to this lane for this audience.
    MarkReady {
        then_release: Option<(Lane, trustroom_shared::release::Audience)>,
    },
    Release(Lane),
    Escalate,
    Cursor,
    /// The server's readiness record; `then_cosign` opens the co-sign
    /// confirmation with its content hash.
    Readiness {
        then_cosign: bool,
    },
    Cosign,
    RequestAccess,
    /// An owner's decision from the approvals queue (`R-N` / `P-N`).
    Decide {
        code: String,
        approve: bool,
    },
    /// Accepting or rejecting a suggestion (`S-N`).
    DecideSuggestion {
        code: String,
        accept: bool,
    },
    /// The room's working metrics for the stats screen.
    Stats,
}

impl Pending {
    /// Requests whose words or signature the user should never lose to a
    /// dropped connection: re-sent (same `seq`, so applied once) after the
    /// rejoin. Edits have their own path (the section's operation in flight).
    pub fn is_retriable(&self) -> bool {
        matches!(
            self,
            Pending::Object | Pending::Reply { .. } | Pending::Status { .. } | Pending::Cosign | Pending::RequestAccess
        )
    }

    /// What the user calls it, for notices.
    pub fn noun(&self) -> &'static str {
        match self {
            Pending::Object => "objection",
            Pending::Reply { .. } => "reply",
            Pending::Status { .. } => "status change",
            Pending::Cosign => "co-signature",
            Pending::RequestAccess => "access request",
            _ => "request",
        }
    }
}

/// A request waiting to be handed to the network task.
#[derive(Clone, Debug, PartialEq)]
pub struct Outgoing {
    pub tag: u64,
    pub request: Request,
}

pub struct App {
    pub theme: Theme,
    pub help_extra: Vec<String>,
    pub room_ref: String,
    pub room: Option<RoomId>,
    pub client: ClientId,
    pub conn: ConnState,
    /// Who the server says we are (from `welcome`).
    pub user: Option<(UserId, String)>,
    pub me: Option<MemberSelf>,
    /// The room as the server has it (`replica.state`, at its revision),
    /// kept in step by the session layer's rules.
    pub replica: Replica,
    pub content_hash: String,
    pub docs: HashMap<SectionId, SectionDoc>,
    /// Other members' cursors, positions in server text at `state.revision`.
    pub presence: HashMap<ClientId, Presence>,
    pub history: History,
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
    pub outbox: Vec<Outgoing>,
    pub pending: HashMap<u64, Pending>,
    /// The requests behind answers we still wait for that carry a `seq`
    /// (objections, replies, status changes, co-signatures, access
    /// requests): if the connection drops before the answer, they go to
    /// `unsent` and are re-sent, with the same `seq`, after the rejoin.
    pub retriable: HashMap<u64, Request>,
    /// Requests the connection lost before the server answered; re-sent
    /// after the next successful join (the server applies each seq once).
    pub unsent: Vec<(Request, Pending)>,
    next_tag: u64,
    pub next_seq: u64,
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
    pub last_cursor_sent: Option<(SectionId, usize, Option<usize>)>,
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
        let room = room_ref.parse::<RoomId>().ok();
        Self {
            editor: EditorState::new(&theme),
            theme,
            help_extra,
            room_ref,
            room,
            client,
            conn: ConnState::Connecting { attempt: 0 },
            user: None,
            me: None,
            replica: Replica::default(),
            content_hash: String::new(),
            docs: HashMap::new(),
            presence: HashMap::new(),
            history: History::default(),
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
            outbox: Vec::new(),
            pending: HashMap::new(),
            retriable: HashMap::new(),
            unsent: Vec::new(),
            next_tag: 1,
            next_seq: 1,
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
            last_cursor_sent: None,
            help_scroll: 0,
            log_path: None,
            reconnect_requested: false,
            server_readiness: None,
            readiness_asked: None,
        }
    }

    // ----- identity and permissions -----

    pub fn my_user(&self) -> Option<UserId> {
        self.me.as_ref().map(|m| m.user).or(self.user.as_ref().map(|u| u.0))
    }

    pub fn can(&self, cap: Capability) -> bool {
        self.me.as_ref().is_some_and(|m| m.capabilities.contains(&cap))
    }

    pub fn is_owner(&self) -> bool {
        self.can(Capability::DecideRelease)
    }

    pub fn role_label(&self) -> String {
        self.me.as_ref().map(|m| m.role.label()).unwrap_or_else(|| "…".into())
    }

    /// Why the editor is read-only, if it is.
    pub fn read_only_reason(&self) -> Option<String> {
        let me = self.me.as_ref()?;
        if !me.capabilities.contains(&Capability::Edit) {
            return Some(format!("read-only: {}", me.role.label()));
        }
        if self.replica.state.as_ref().is_some_and(|s| s.release.is_read_only()) {
            return Some("read-only: escalated".into());
        }
        None
    }

    /// Whether the room's records let us read `annex` now (need-to-know,
    /// an active grant or break-glass), recomputed as events arrive.
    pub fn has_annex_access(&self, annex: AnnexId) -> bool {
        let Some(me) = &self.me else { return false };
        match &self.replica.state {
            Some(state) => trustroom_shared::access::annex_access(state, me.user).contains(&annex),
            None => me.annex_access.contains(&annex),
        }
    }

    /// Active break-glass invocations: (code, who, annex codes, reason, ends_at_ms).
    pub fn break_glass(&self) -> Vec<(String, String, Vec<String>, String, i64)> {
        let Some(state) = &self.replica.state else { return Vec::new() };
        trustroom_shared::access::active_break_glass(state)
            .map(|b| {
                let annexes = b.annexes.iter().filter_map(|a| state.annexes.get(a)).map(|a| a.code.clone()).collect();
                (format!("BG-{}", b.number), self.member_name(b.user), annexes, b.reason.clone(), b.ends_at)
            })
            .collect()
    }

    pub fn member_name(&self, user: UserId) -> String {
        trustroom_shared::members::name_or_short_id(self.replica.state.as_ref(), user)
    }

    // ----- sections -----

    pub fn sections(&self) -> &[Section] {
        self.replica.state.as_ref().map_or(&[], |s| s.sections.as_slice())
    }

    pub fn current_section(&self) -> Option<&Section> {
        self.sections().get(self.current)
    }

    pub fn current_section_id(&self) -> Option<SectionId> {
        self.current_section().map(|s| s.id)
    }

    /// Names of other members with a cursor in `section`.
    pub fn editing_in(&self, section: SectionId) -> Vec<(UserId, String)> {
        let mut out: Vec<(UserId, String)> = Vec::new();
        for p in self.presence.values() {
            if p.section == section && Some(p.user) != self.my_user() && !out.iter().any(|(u, _)| *u == p.user) {
                out.push((p.user, p.name.clone()));
            }
        }
        out.sort_by(|a, b| a.1.cmp(&b.1));
        out
    }

    /// Objections shown in the register pane, in order.
    pub fn register_items(&self) -> Vec<ObjectionId> {
        let Some(state) = &self.replica.state else { return Vec::new() };
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
        let Some(state) = &self.replica.state else { return Vec::new() };
        let mut v: Vec<_> = state.annexes.values().collect();
        v.sort_by(|a, b| a.code.cmp(&b.code));
        v.into_iter().map(|a| a.id).collect()
    }

    // ----- requests and notifications -----

    /// Queues a request for the network task.
    pub fn send(&mut self, request: Request, pending: Pending) -> u64 {
        let tag = self.next_tag;
        self.next_tag += 1;
        if request.seq().is_some() && pending.is_retriable() {
            self.retriable.insert(tag, request.clone());
        }
        self.pending.insert(tag, pending);
        self.outbox.push(Outgoing { tag, request });
        tag
    }

    pub fn next_seq(&mut self) -> u64 {
        let s = self.next_seq;
        self.next_seq += 1;
        s
    }

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
        let rev = self.replica.state.as_ref()?.revision;
        match &self.server_readiness {
            Some(r) if r.revision == rev => Some(r),
            _ => self.readiness.as_ref(),
        }
    }

    /// Asks the server for its readiness record when the room moved on
    /// (at most once a second; called from the tick).
    pub fn refresh_server_readiness(&mut self, now: Instant) {
        let (Some(room), Some(state)) = (self.room, &self.replica.state) else { return };
        if self.conn != ConnState::Connected {
            return;
        }
        let rev = state.revision;
        let due = match self.readiness_asked {
            None => true,
            Some((r, at)) => r != rev && now.duration_since(at) >= Duration::from_secs(1),
        };
        if due && self.server_readiness.as_ref().is_none_or(|r| r.revision != rev) {
            self.readiness_asked = Some((rev, now));
            self.send(Request::Readiness { room }, Pending::Readiness { then_cosign: false });
        }
    }

    // ----- caches -----

    /// Recomputes stale caches. Call before drawing.
    pub fn refresh(&mut self) {
        if self.caches_stale {
            self.caches_stale = false;
            if let Some(state) = &self.replica.state {
                self.meta = state.sections.iter().map(|s| (s.id, section_meta(state, s))).collect();
                self.readiness = Some(readiness(state));
            }
            self.clamp_selections();
        }
        if self.highlights_stale {
            self.highlights_stale = false;
            self.highlights = match self.current_section_id().and_then(|id| self.docs.get(&id)) {
                Some(doc) => highlights(&doc.text),
                None => Vec::new(),
            };
        }
        let rev = self.replica.state.as_ref().map_or(0, |s| s.revision);
        if let (Some(d), Some(state)) = (&mut self.diff, &self.replica.state)
            && d.stale(rev)
        {
            d.compute(state, &self.history);
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
            if !self.has_annex_access(id) {
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
