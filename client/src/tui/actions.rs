//! What the app does for a named action (keys and the palette both map to
//! these) and for what a pane asks ([`Command`]s): focus, the section in
//! view, the editor's edits into the room, and opening the forms, screens
//! and overlays that need more than one pane to build.

use trustroom_shared::access::format_duration;
use trustroom_shared::export::ExportFormat;
use trustroom_shared::objection::{ObjectionStatus, StatusActor, is_one_way_for, may_reopen, needs_rationale};
use trustroom_shared::ot::TextOp;
use trustroom_shared::policy::Capability;
use trustroom_shared::protocol::Request;
use trustroom_shared::readiness::readiness;
use trustroom_shared::release::{ReleaseState, cosign_refusal};
use trustroom_shared::{AnnexId, SectionId};

use super::action::{Action, EditMode, Pane, ReasonPurpose};
use super::announce::deciders;
use super::app::{App, Overlay, Screen};
use super::diffview::{DiffBase, DiffScope, DiffView};
use super::forms::{
    AccessForm, CosignForm, ObjectionField, ObjectionForm, ReadinessForm, ReasonForm, ReplyForm, StatusChoice,
    StatusForm, input, objection_about,
};
use super::keyedit::KeyEdit;
use super::pane::Command;
use super::pane::annex::{AnnexOpen, annex_ids, my_pending};
use super::pane::approvals::ApprovalsQueue;
use super::pane::break_glass::{BreakGlassDialog, endable};
use super::pane::dialog::Dialog;
use super::pane::diff::DiffScreen;
use super::pane::evidence;
use super::pane::grants::{GrantsDialog, active_grants};
use super::pane::history::HistoryScreen;
use super::pane::holds::HoldsDialog;
use super::pane::palette::Palette;
use super::pane::stats::StatsScreen;
use super::pane::suggestions::SuggestionsScreen;
use super::suggest::listed;
use crate::session::doc::{EditOrigin, first_change};
use crate::session::outbox::Pending;
use crate::session::room::Level;
use crate::session::splice::Splice;

impl App {
    pub fn run_action(&mut self, action: Action) {
        self.dirty = true;
        match action {
            Action::Quit => self.request_quit(),
            Action::Help => {
                self.help.scroll = 0;
                self.overlay = Some(Overlay::Help);
            }
            Action::Palette => self.overlay = Some(Overlay::Palette(Palette::default())),
            Action::FocusNext => self.cycle_focus(1),
            Action::FocusPrev => self.cycle_focus(-1),
            Action::Focus(p) => self.set_focus(p),
            // Shows and focuses the register; hides it when it has the focus.
            Action::ToggleRegister => {
                if !self.register_shown() {
                    self.choose_register(true);
                    self.set_focus(Pane::Register);
                } else if self.focus != Pane::Register {
                    self.set_focus(Pane::Register);
                } else {
                    self.choose_register(false);
                    self.set_focus(Pane::Editor);
                }
            }
            Action::ToggleAnnexes => {
                self.annexes.shown = !self.annexes.shown;
                if self.annexes.shown {
                    self.set_focus(Pane::Annexes);
                } else if self.focus == Pane::Annexes {
                    self.set_focus(Pane::Editor);
                }
            }
            Action::SectionNext => self.select_section(self.sections.current.saturating_add(1)),
            Action::SectionPrev => self.select_section(self.sections.current.saturating_sub(1)),
            Action::GotoSection(i) => {
                self.select_section(i);
                self.set_focus(Pane::Editor);
            }
            Action::EditStart => self.start_editing(),
            Action::EditStop => self.stop_editing(),
            Action::Undo => self.undo_redo(true),
            Action::Redo => self.undo_redo(false),
            Action::ObjectionNew => self.open_objection_form(),
            Action::ObjectionReply => self.open_reply_form(),
            Action::ObjectionStatus => self.open_status_form(),
            Action::RegisterFilter => {
                self.register.all = !self.register.all;
                self.register_list_changed();
            }
            Action::OpenAnnex(id) => self.open_annex(id),
            Action::DiffOpen => self.open_diff(DiffBase::LastLooked, false),
            Action::DiffPacket => self.open_diff(DiffBase::LastLooked, true),
            Action::DiffSinceRelease => self.open_diff(DiffBase::LastRelease, false),
            Action::Readiness => self.open_readiness(),
            Action::MarkReady => self.mark_ready(),
            Action::Hold => self.open_reason(ReasonPurpose::Hold),
            Action::Escalate => self.open_reason(ReasonPurpose::Escalate),
            Action::Grants => self.open_grants(),
            Action::Holds => self.open_holds(),
            Action::Evidence => self.open_evidence(),
            Action::BreakGlass => self.open_break_glass(),
            Action::Export => self.export(),
            Action::Manifests => self.open_manifests(),
            Action::Cosign => self.start_cosign(),
            Action::Suggestions => self.open_suggestions(),
            Action::Stats => self.open_stats(),
            Action::ReconnectNow => {
                self.reconnect_requested = true;
                self.notify(Level::Info, "reconnecting now…");
            }
            Action::RequestAccess(id) => self.open_access_request(id),
            Action::WithdrawAccess(id) => self.confirm_withdraw(id),
            Action::History => {
                self.screen = Some(Screen::History(HistoryScreen::default()));
                self.editor.mode = EditMode::Normal;
            }
            Action::QuitNow => self.quit = true,
        }
    }

    /// Does what a pane asked, in order.
    pub fn run_commands(&mut self, commands: Vec<Command>) {
        for command in commands {
            match command {
                Command::Run(action) => self.run_action(action),
                Command::SelectSection(i) => self.select_section(i),
                Command::Focus(pane) => self.set_focus(pane),
                Command::Send(request, pending) => {
                    self.room.outbox.send(request, pending);
                }
                Command::SendNumbered(pending, build) => {
                    self.room.outbox.send_numbered(pending, build);
                }
                Command::Notify(level, text) => self.notify(level, text),
                Command::Edited(edit) => self.editor_edited(edit),
                Command::AskReason(purpose) => self.open_reason(purpose),
                Command::ConfirmAccept { suggestion, code, flags } => {
                    self.overlay = Some(Overlay::dialog(Dialog::AcceptFlagged { suggestion, code, flags }));
                }
                Command::ShowHelp => self.overlay = Some(Overlay::Help),
                // The router closed the overlay or screen already.
                Command::Close => {}
            }
        }
    }

    fn request_quit(&mut self) {
        // Ctrl-c while the demo's quit question is open: quit.
        if matches!(&self.overlay, Some(Overlay::Dialog(d)) if matches!(**d, Dialog::ConfirmQuit { .. })) {
            self.quit = true;
            return;
        }
        if self.room.has_unacknowledged() && !self.quit_armed {
            self.quit_armed = true;
            self.notify(
                Level::Warn,
                "edits or requests not yet acknowledged by the server — press q again to quit anyway",
            );
            return;
        }
        // The demo's server runs in this process: quitting stops it for
        // everyone still connected, so ask first, naming them.
        if self.serves_demo {
            let names = self.others_connected();
            if !names.is_empty() {
                self.overlay = Some(Overlay::dialog(Dialog::ConfirmQuit { names }));
                return;
            }
        }
        self.quit = true;
    }

    /// Other members with a live cursor in the room (their clients are
    /// connected), by name.
    pub fn others_connected(&self) -> Vec<String> {
        let me = self.room.my_user();
        let mut names: Vec<String> =
            self.room.presence.values().filter(|p| Some(p.user) != me).map(|p| p.name.clone()).collect();
        names.sort();
        names.dedup();
        names
    }

    pub fn visible_panes(&self) -> Vec<Pane> {
        let mut v = vec![Pane::Sections, Pane::Editor];
        if self.register_shown() {
            v.push(Pane::Register);
        }
        if self.annexes.shown {
            v.push(Pane::Annexes);
        }
        v
    }

    fn cycle_focus(&mut self, step: i32) {
        let panes = self.visible_panes();
        let i = panes.iter().position(|p| *p == self.focus).unwrap_or(0) as i32;
        let n = panes.len() as i32;
        let next = panes[((i + step).rem_euclid(n)) as usize];
        self.set_focus(next);
    }

    pub fn set_focus(&mut self, pane: Pane) {
        match pane {
            // Shown for this session; only `r` is remembered.
            Pane::Register if !self.register_shown() => self.register.choice = Some(true),
            Pane::Annexes => self.annexes.shown = true,
            _ => {}
        }
        if pane != Pane::Editor {
            self.editor.mode = EditMode::Normal;
        }
        self.focus = pane;
        let focused = pane == Pane::Editor;
        self.editor.style(&self.theme, focused);
        self.dirty = true;
    }

    /// Shows section `i` in the editor (saving the cursor of the one left).
    pub fn select_section(&mut self, i: usize) {
        let n = self.room.sections().len();
        if n == 0 {
            return;
        }
        let i = i.min(n - 1);
        let rev = self.room.replica.state.as_ref().map_or(0, |s| s.revision);
        if let Some(old) = self.editor.section {
            if let Some(doc) = self.room.docs.get_mut(&old) {
                doc.cursor = self.editor.cursor_index();
                doc.anchor = self.editor.anchor_index();
            }
            if Some(old) != self.room.sections().get(i).map(|s| s.id) {
                self.room.history.looked.insert(old, rev);
            }
        }
        self.sections.current = i;
        self.load_editor();
        self.register_list_changed();
        self.dirty = true;
    }

    /// (Re)loads the editor from the current section's doc.
    pub fn load_editor(&mut self) {
        let Some(id) = self.ctx().current_section_id() else {
            self.editor.section = None;
            return;
        };
        if let Some(doc) = self.room.docs.get(&id) {
            let (text, cursor, anchor) = (doc.text.clone(), doc.cursor, doc.anchor);
            self.editor.load(id, &text, cursor, anchor, &self.theme);
            self.editor.mode = EditMode::Normal;
            self.editor.style(&self.theme, self.focus == Pane::Editor);
        }
        self.editor.highlights_stale = true;
    }

    fn start_editing(&mut self) {
        if let Some(why) = self.room.read_only_reason() {
            let escalated = self.room.replica.state.as_ref().is_some_and(|s| s.release.is_read_only());
            let whose = if escalated {
                "the room is escalated to direct human handling; nobody edits the packet"
            } else {
                "your role cannot edit the packet"
            };
            self.notify(Level::Warn, format!("{why} — {whose}"));
            return;
        }
        if self.ctx().current_section_id().is_none() {
            return;
        }
        self.set_focus(Pane::Editor);
        self.editor.mode = EditMode::Insert;
    }

    fn stop_editing(&mut self) {
        self.editor.mode = EditMode::Normal;
    }

    /// A key (or a paste) went to the editor: send what it did to the text
    /// as an operation through the section's OT client. A splice becomes the
    /// operation directly; an edit the editor could not map is diffed.
    pub fn editor_edited(&mut self, edit: KeyEdit) {
        match edit {
            KeyEdit::Unchanged => {}
            KeyEdit::Splice(splice) => self.splice_edit(&splice),
            KeyEdit::Unmapped => self.editor_changed(),
        }
    }

    fn splice_edit(&mut self, splice: &Splice) {
        let Some(id) = self.editor.section else { return };
        if let Err(e) = self.room.local_splice(id, splice) {
            // The editor and the section are out of step: the diff of
            // the whole text puts them back in step.
            tracing::warn!("a key's edit does not fit the section ({e}); diffing the section");
            return self.editor_changed();
        }
        self.edited();
    }

    /// The editor's text changed in a way no splice describes: diff the
    /// whole text against the section and send that operation.
    pub fn editor_changed(&mut self) {
        let Some(id) = self.editor.section else { return };
        self.room.replace_text(id, &self.editor.text());
        self.edited();
    }

    /// Records and sends a local operation on section `id`.
    pub fn local_op(&mut self, id: SectionId, op: TextOp, origin: EditOrigin) {
        self.room.local_op(id, op, origin);
        self.edited();
    }

    /// After a local edit: what the room reports, and a redraw.
    fn edited(&mut self) {
        self.apply_effects();
        self.editor.highlights_stale = true;
        self.dirty = true;
    }

    fn undo_redo(&mut self, undo: bool) {
        if self.room.read_only_reason().is_some() {
            return;
        }
        let Some(id) = self.editor.section else { return };
        let Some(doc) = self.room.docs.get_mut(&id) else { return };
        let op = if undo { doc.take_undo() } else { doc.take_redo() };
        let Some(op) = op else {
            self.notify(Level::Info, if undo { "nothing of yours to undo here" } else { "nothing to redo" });
            return;
        };
        self.editor.apply_op(&op);
        let at = first_change(&op);
        self.editor.set_selection(None, at);
        self.local_op(id, op, if undo { EditOrigin::Undo } else { EditOrigin::Redo });
    }

    // ----- register -----

    fn open_objection_form(&mut self) {
        if !self.room.can(Capability::Object) {
            self.notify(Level::Warn, format!("your role ({}) cannot raise objections", self.room.role_label()));
            return;
        }
        let Some(section) = self.ctx().current_section() else { return };
        let (sid, title) = (section.id, section.title.clone());
        let quote = if self.focus == Pane::Editor || self.editor.mode == EditMode::Insert {
            self.editor.selected_text().filter(|q| !q.trim().is_empty())
        } else {
            None
        };
        self.editor.mode = EditMode::Normal;
        self.overlay = Some(Overlay::dialog(Dialog::Objection(ObjectionForm {
            section: sid,
            section_title: title,
            quote,
            kind: 0,
            blocking: false,
            text: input(&self.theme, "what is wrong, and why"),
            field: ObjectionField::Text,
            error: None,
        })));
    }

    fn open_reply_form(&mut self) {
        if !self.room.can(Capability::Object) {
            self.notify(Level::Warn, format!("your role ({}) cannot reply", self.room.role_label()));
            return;
        }
        let Some(id) = self.register.selected_objection(&self.ctx()) else {
            self.notify(Level::Info, "select an objection in the register first (r)");
            return;
        };
        let Some(o) = self.room.replica.state.as_ref().and_then(|s| s.objections.get(&id)) else { return };
        let (code, about) = (o.code(), objection_about(o, &self.room.member_name(o.author)));
        self.overlay = Some(Overlay::dialog(Dialog::Reply(ReplyForm {
            objection: id,
            code,
            about,
            text: input(&self.theme, "your reply"),
            error: None,
        })));
    }

    fn open_status_form(&mut self) {
        let Some(id) = self.register.selected_objection(&self.ctx()) else {
            self.notify(Level::Info, "select an objection in the register first (r)");
            return;
        };
        let (Some(o), Some(me)) =
            (self.room.replica.state.as_ref().and_then(|s| s.objections.get(&id)), self.room.my_user())
        else {
            return;
        };
        let actor = StatusActor { user: me, owner: self.room.is_owner() };
        let code = o.code();
        let targets = match o.status {
            ObjectionStatus::Open => {
                vec![ObjectionStatus::Addressed, ObjectionStatus::Withdrawn, ObjectionStatus::AcceptedResidual]
            }
            ObjectionStatus::Addressed if may_reopen(o, actor) => vec![ObjectionStatus::Open],
            ObjectionStatus::Addressed => {
                let text = format!("{code} is addressed — only its author or an owner can reopen it");
                self.notify(Level::Info, text);
                return;
            }
            status => {
                self.notify(Level::Info, format!("{code} is {status}, which is final"));
                return;
            }
        };
        let resolve = self.room.can(Capability::ResolveObjection);
        let residual = self.room.can(Capability::AcceptResidual);
        let choices: Vec<StatusChoice> = targets
            .into_iter()
            .map(|status| {
                let refused = match status {
                    ObjectionStatus::AcceptedResidual if !residual => Some("owner only"),
                    _ if !resolve => Some("not your role"),
                    ObjectionStatus::Withdrawn if o.author != me && !actor.owner => Some("author or owner only"),
                    _ => None,
                };
                StatusChoice {
                    status,
                    refused: refused.map(String::from),
                    needs_rationale: needs_rationale(o, status, actor),
                    one_way: is_one_way_for(o, status, actor),
                }
            })
            .collect();
        let about = objection_about(o, &self.room.member_name(o.author));
        let selected = choices.iter().position(|c| c.refused.is_none()).unwrap_or(0);
        self.overlay = Some(Overlay::dialog(Dialog::Status(StatusForm {
            objection: id,
            code,
            about,
            choices,
            selected,
            rationale: input(&self.theme, "why — the author and the register see it"),
            confirming: false,
            error: None,
        })));
    }

    // ----- annexes -----

    pub fn open_annex(&mut self, id: AnnexId) {
        let Some(room) = self.room.id else { return };
        self.annexes.shown = true;
        if let Some(i) = annex_ids(&self.room).iter().position(|a| *a == id) {
            self.annexes.selected = i;
        }
        self.annexes.scroll = 0;
        if self.room.has_annex_access(id) {
            self.annexes.open = Some(AnnexOpen::Loading(id));
            self.room.outbox.send(Request::ViewAnnex { room, annex: id }, Pending::ViewAnnex(id));
        } else {
            // Never ask: the client does not fetch what it may not see.
            self.annexes.open = Some(AnnexOpen::Gated(id));
        }
        self.set_focus(Pane::Annexes);
    }

    /// The access request dialog for a gated annex: who decides, the
    /// reason, and a duration within the room's policy.
    fn open_access_request(&mut self, id: AnnexId) {
        let (Some(state), Some(me)) = (&self.room.replica.state, self.room.my_user()) else { return };
        let Some(annex) = state.annexes.get(&id) else { return };
        if self.room.has_annex_access(id) {
            self.notify(
                Level::Info,
                format!("you may already read {} — Enter opens it (the view is logged)", annex.code),
            );
            return;
        }
        let deciders = deciders(&self.room, me);
        let mut form = AccessForm::new(&self.theme, id, annex.code.clone(), &state.access.policy, deciders);
        form.pending =
            my_pending(&self.room, id).map(|r| format!("{} for {}", r.code(), format_duration(r.duration_ms)));
        self.overlay = Some(Overlay::dialog(Dialog::Access(form)));
    }

    /// Asks before withdrawing our pending request for a gated annex.
    fn confirm_withdraw(&mut self, id: AnnexId) {
        let Some(r) = my_pending(&self.room, id) else {
            self.notify(Level::Info, "you have no pending request for this annex to withdraw");
            return;
        };
        let annex = self.room.replica.state.as_ref().and_then(|s| s.annexes.get(&id)).map(|a| a.code.clone());
        let d = Dialog::ConfirmWithdraw { request: r.id, code: r.code(), annex: annex.unwrap_or_default() };
        self.overlay = Some(Overlay::dialog(d));
    }

    // ----- diff -----

    fn open_diff(&mut self, base: DiffBase, packet: bool) {
        let scope = match (packet, self.ctx().current_section_id()) {
            (false, Some(id)) => DiffScope::Section(id),
            _ => DiffScope::Packet,
        };
        let mut d = DiffView::new(scope, base);
        if let Some(state) = &self.room.replica.state {
            d.compute(state, &self.room.history);
        }
        self.screen = Some(Screen::Diff(DiffScreen { view: d }));
        self.editor.mode = EditMode::Normal;
    }

    // ----- suggestions, stats, approvals -----

    /// Opens the suggestions screen on the current section's first open
    /// suggestion (or the first one listed).
    fn open_suggestions(&mut self) {
        let Some(state) = &self.room.replica.state else { return };
        let list = listed(state);
        if list.is_empty() {
            self.notify(Level::Info, "no open suggestions");
            return;
        }
        let current = self.ctx().current_section_id();
        let first = list.iter().find(|s| current.is_some() && s.section() == current).or(list.first()).map(|s| s.id);
        self.screen = Some(Screen::Suggestions(SuggestionsScreen::new(first)));
        self.editor.mode = EditMode::Normal;
    }

    /// Opens the stats screen and asks the server for the figures.
    fn open_stats(&mut self) {
        let Some(state) = &self.room.replica.state else { return };
        self.screen = Some(Screen::Stats(Box::new(StatsScreen::new(state.revision))));
        let ask = StatsScreen::ask(&self.room);
        self.run_commands(ask.into_iter().collect());
    }

    /// Opens the approvals queue (owners only).
    pub fn open_approvals(&mut self) {
        if !self.room.is_owner() {
            self.notify(Level::Warn, "the approvals queue is for owners");
            return;
        }
        self.overlay = Some(Overlay::dialog(Dialog::Approvals(ApprovalsQueue::default())));
        self.dirty = true;
    }

    // ----- release decisions -----

    fn owner_check(&mut self, what: &str) -> bool {
        if self.room.is_owner() {
            return true;
        }
        self.notify(Level::Warn, format!("{what} is for the room owner only (you are {})", self.room.role_label()));
        false
    }

    fn open_readiness(&mut self) {
        if !self.owner_check("release or hold") {
            return;
        }
        let Some(state) = &self.room.replica.state else { return };
        if matches!(state.release, ReleaseState::Escalated { .. }) {
            self.notify(Level::Warn, "the room is escalated: no release from here");
            return;
        }
        // Ours at once; the server's (with the annex-boundary check and the
        // content hash) replaces it when it arrives.
        let record = match &self.status.server_readiness {
            Some(r) if r.revision == state.revision => r.clone(),
            _ => readiness(state),
        };
        if let Some(room) = self.room.id {
            self.room.outbox.send(Request::Readiness { room }, Pending::Readiness { then_cosign: false });
        }
        let server_checked = self
            .status
            .server_readiness
            .as_ref()
            .is_some_and(|r| Some(r.revision) == self.room.replica.state.as_ref().map(|s| s.revision));
        self.overlay = Some(Overlay::dialog(Dialog::Readiness(ReadinessForm::new(record, server_checked))));
    }

    /// Mark ready: the server's checks decide (a refusal names what blocks,
    /// in a dialog); nothing is judged here first.
    fn mark_ready(&mut self) {
        if !self.owner_check("mark ready") {
            return;
        }
        let Some(room) = self.room.id else { return };
        let packet = self.room.replica.state.as_ref().map_or(0, |s| s.content_revision);
        self.room.outbox.send(Request::MarkReady { room }, Pending::MarkReady);
        self.notify(Level::Info, format!("marking packet rev {packet} ready…"));
    }

    /// The active grants, to revoke one (owners).
    fn open_grants(&mut self) {
        if !self.owner_check("revoking a grant") {
            return;
        }
        if active_grants(&self.room).is_empty() {
            self.notify(Level::Info, "no active grants to revoke");
            return;
        }
        let note = input(&self.theme, "note kept with the revocation (optional)");
        self.overlay = Some(Overlay::dialog(Dialog::Grants(GrantsDialog::new(note))));
    }

    /// The hold register (everyone reads it; owners clear holds in it).
    fn open_holds(&mut self) {
        let rationale = input(&self.theme, "why this hold may be cleared (required)");
        self.overlay = Some(Overlay::dialog(Dialog::Holds(HoldsDialog::new(rationale, &self.room))));
    }

    /// The records the statement at the editor's cursor cites (or the
    /// section's, from elsewhere or when the statement cites none).
    fn open_evidence(&mut self) {
        let Some(section) = self.room.sections().get(self.sections.current).cloned() else {
            self.notify(Level::Info, "no section to show the evidence of");
            return;
        };
        let statement = (self.focus == Pane::Editor && self.editor.section == Some(section.id))
            .then(|| evidence::statement_at(&section, self.editor.cursor_index()))
            .flatten();
        let view = evidence::EvidenceView::new(&self.room, section.id, statement);
        self.overlay = Some(Overlay::dialog(Dialog::Evidence(view)));
    }

    /// Break-glass: set (members on the room's list) or end (its invoker
    /// or an owner) — refused up front for anyone else.
    fn open_break_glass(&mut self) {
        let Some(me) = self.room.me.as_ref().map(|m| m.user) else { return };
        let on_list = self.room.replica.state.as_ref().is_some_and(|s| s.access.policy.break_glass.contains(&me));
        if !on_list && endable(&self.room).is_empty() {
            self.notify(
                Level::Warn,
                format!(
                    "break-glass is for members on the room's break-glass list (you are {}, not on it); \
                     ask for access instead (A on a gated annex)",
                    self.room.role_label()
                ),
            );
            return;
        }
        let reason = input(&self.theme, "why you must read it now (every member sees this)");
        self.overlay = Some(Overlay::dialog(Dialog::BreakGlass(BreakGlassDialog::new(&self.room, reason, on_list))));
    }

    /// Export: asks the server for the bundle (the answer is written to a file).
    fn export(&mut self) {
        let Some(room) = self.room.id else { return };
        let request = Request::Export { room, revision: None, format: ExportFormat::Json };
        self.room.outbox.send(request, Pending::Export);
        self.notify(Level::Info, "exporting the room's bundle…");
    }

    /// The manifests: asks the server for the history and its key.
    fn open_manifests(&mut self) {
        let Some(room) = self.room.id else { return };
        self.room.outbox.send(Request::Manifests { room }, Pending::Manifests);
        self.room.outbox.send(Request::ReleaseStatus { room }, Pending::ReleaseStatus);
        self.notify(Level::Info, "fetching the release manifests…");
    }

    pub fn open_reason(&mut self, purpose: ReasonPurpose) {
        let what = match purpose {
            ReasonPurpose::Hold => Some("hold"),
            ReasonPurpose::Escalate => Some("escalate"),
            ReasonPurpose::RejectSuggestion(_) => None,
        };
        if what.is_some_and(|w| !self.owner_check(w)) {
            return;
        }
        let placeholder = match purpose {
            ReasonPurpose::Hold => "why the release is held",
            ReasonPurpose::Escalate => "why this goes to direct human handling",
            ReasonPurpose::RejectSuggestion(_) => "why this suggestion is rejected (the proposer sees it)",
        };
        self.overlay = Some(Overlay::dialog(Dialog::Reason(ReasonForm {
            purpose,
            text: input(&self.theme, placeholder),
            confirming: false,
            error: None,
        })));
    }

    /// Co-sign: fetch the server's content hash for this revision, then ask
    /// for the lane and audience and to confirm (the signature binds that
    /// exact hash, that lane and that audience).
    fn start_cosign(&mut self) {
        let (Some(me), Some(state)) = (&self.room.me, &self.room.replica.state) else { return };
        if let Some(why) = cosign_refusal(&state.release_policy, me.user, &me.role) {
            self.notify(Level::Warn, format!("{why} (you are {})", self.room.role_label()));
            return;
        }
        let Some(room) = self.room.id else { return };
        let rev = self.room.replica.state.as_ref().map_or(0, |s| s.revision);
        match &self.status.server_readiness {
            Some(r) if r.revision == rev && !r.content_hash.is_empty() => {
                let d = Dialog::Cosign(CosignForm::new(r.content_hash.clone(), r.content_revision));
                self.overlay = Some(Overlay::dialog(d));
            }
            _ => {
                self.room.outbox.send(Request::Readiness { room }, Pending::Readiness { then_cosign: true });
                self.notify(Level::Info, "fetching the content hash to co-sign…");
            }
        }
    }
}
