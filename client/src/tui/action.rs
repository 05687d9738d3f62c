//! What the user can do, as named actions (keys and the palette both map
//! to these), the panes focus moves between, the editor's modes and what a
//! reason is asked for. Plain values: how an action changes the app is in
//! `actions.rs`.

use trustroom_shared::{AnnexId, SuggestionId};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Pane {
    Sections,
    Editor,
    Register,
    Annexes,
}

impl Pane {
    pub fn name(self) -> &'static str {
        match self {
            Pane::Sections => "sections",
            Pane::Editor => "editor",
            Pane::Register => "register",
            Pane::Annexes => "annexes",
        }
    }
}

/// Whether keys go into the text or drive the room.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EditMode {
    /// Keys are commands; arrows move the cursor.
    Normal,
    /// Keys type into the section.
    Insert,
}

/// What a reason is asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReasonPurpose {
    Hold,
    Escalate,
    /// Reject a suggestion (the reason is stored with the decision).
    RejectSuggestion(SuggestionId),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    Quit,
    Help,
    Palette,
    FocusNext,
    FocusPrev,
    Focus(Pane),
    ToggleRegister,
    ToggleAnnexes,
    SectionNext,
    SectionPrev,
    GotoSection(usize),
    EditStart,
    EditStop,
    Undo,
    Redo,
    ObjectionNew,
    ObjectionReply,
    ObjectionStatus,
    RegisterFilter,
    OpenAnnex(AnnexId),
    DiffOpen,
    DiffPacket,
    DiffSinceRelease,
    Readiness,
    MarkReady,
    Hold,
    Escalate,
    /// The active grants, to revoke one.
    Grants,
    /// The hold register: read it, or clear one hold (owners).
    Holds,
    /// The source records the statement at the cursor cites.
    Evidence,
    /// Invoke break-glass, or end the active one.
    BreakGlass,
    /// Export the room's bundle to a file.
    Export,
    /// The release manifests and their signatures, verified here.
    Manifests,
    Cosign,
    Suggestions,
    Stats,
    ReconnectNow,
    /// Ask for access to a gated annex: a reason and a duration.
    RequestAccess(AnnexId),
    /// Withdraw our pending request for an annex (asks first).
    WithdrawAccess(AnnexId),
    /// The message history: refusals, notices and room events.
    History,
    /// Quit without asking again (confirmed in a dialog).
    QuitNow,
}

impl Action {
    /// Decisions only the owner may take (shown disabled to others).
    pub fn owner_only(&self) -> bool {
        matches!(self, Action::Readiness | Action::MarkReady | Action::Hold | Action::Escalate | Action::Grants)
    }
}
