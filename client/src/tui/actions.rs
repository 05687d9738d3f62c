//! What the user can do, as named actions (keys and the palette both map to
//! these), and how each changes the app or queues a request.

use std::time::Instant;

use trustroom_shared::objection::ObjectionStatus;
use trustroom_shared::ot::TextOp;
use trustroom_shared::policy::Capability;
use trustroom_shared::protocol::Request;
use trustroom_shared::readiness::readiness;
use trustroom_shared::release::ReleaseState;
use trustroom_shared::{AnnexId, SectionId};

use super::app::{AnnexOpen, App, Level, Overlay, Pane, Pending};
use super::diffview::{DiffBase, DiffScope, DiffView};
use super::editor::EditMode;
use super::forms::{
    CosignForm, Dialog, ObjectionField, ObjectionForm, ReadinessForm, ReadinessStep, ReasonForm, ReasonPurpose,
    ReplyForm, StatusForm, input,
};
use super::keyedit::KeyEdit;
use super::palette::PaletteState;
use crate::session::doc::{EditOrigin, InFlight, first_change};
use crate::session::splice::Splice;

pub use super::action::Action;

impl App {
    pub fn run_action(&mut self, action: Action) {
        self.dirty = true;
        match action {
            Action::Quit => self.request_quit(),
            Action::Help => {
                self.help_scroll = 0;
                self.overlay = Some(Overlay::Help);
            }
            Action::Palette => self.overlay = Some(Overlay::Palette(PaletteState::default())),
            Action::FocusNext => self.cycle_focus(1),
            Action::FocusPrev => self.cycle_focus(-1),
            Action::Focus(p) => self.set_focus(p),
            Action::ToggleRegister => {
                self.show_register = !self.show_register;
                if self.show_register {
                    self.set_focus(Pane::Register);
                } else if self.focus == Pane::Register {
                    self.set_focus(Pane::Editor);
                }
            }
            Action::ToggleAnnexes => {
                self.show_annexes = !self.show_annexes;
                if self.show_annexes {
                    self.set_focus(Pane::Annexes);
                } else if self.focus == Pane::Annexes {
                    self.set_focus(Pane::Editor);
                }
            }
            Action::SectionNext => self.select_section(self.current.saturating_add(1)),
            Action::SectionPrev => self.select_section(self.current.saturating_sub(1)),
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
                self.register.selected = 0;
            }
            Action::OpenAnnex(id) => self.open_annex(id),
            Action::DiffOpen => self.open_diff(DiffBase::LastLooked, false),
            Action::DiffPacket => self.open_diff(DiffBase::LastLooked, true),
            Action::DiffSinceRelease => self.open_diff(DiffBase::LastRelease, false),
            Action::Readiness => self.open_readiness(),
            Action::Hold => self.open_reason(ReasonPurpose::Hold),
            Action::Escalate => self.open_reason(ReasonPurpose::Escalate),
            Action::Cosign => self.start_cosign(),
            Action::Suggestions => self.open_suggestions(),
            Action::Stats => self.open_stats(),
            Action::ReconnectNow => {
                self.reconnect_requested = true;
                self.notify(Level::Info, "reconnecting now…");
            }
        }
    }

    fn request_quit(&mut self) {
        let pending =
            self.docs.values().any(|d| d.has_pending()) || !self.unsent.is_empty() || !self.retriable.is_empty();
        if pending && !self.quit_armed {
            self.quit_armed = true;
            self.notify(
                Level::Warn,
                "edits or requests not yet acknowledged by the server — press q again to quit anyway",
            );
            return;
        }
        self.quit = true;
    }

    pub fn visible_panes(&self) -> Vec<Pane> {
        let mut v = vec![Pane::Sections, Pane::Editor];
        if self.show_register {
            v.push(Pane::Register);
        }
        if self.show_annexes {
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
            Pane::Register => self.show_register = true,
            Pane::Annexes => self.show_annexes = true,
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
        let n = self.sections().len();
        if n == 0 {
            return;
        }
        let i = i.min(n - 1);
        let rev = self.replica.state.as_ref().map_or(0, |s| s.revision);
        if let Some(old) = self.editor.section {
            if let Some(doc) = self.docs.get_mut(&old) {
                doc.cursor = self.editor.cursor_index();
                doc.anchor = self.editor.anchor_index();
            }
            if Some(old) != self.sections().get(i).map(|s| s.id) {
                self.history.looked.insert(old, rev);
            }
        }
        self.current = i;
        self.load_editor();
        self.register.selected = 0;
        self.dirty = true;
    }

    /// (Re)loads the editor from the current section's doc.
    pub fn load_editor(&mut self) {
        let Some(id) = self.current_section_id() else {
            self.editor.section = None;
            return;
        };
        if let Some(doc) = self.docs.get(&id) {
            let (text, cursor, anchor) = (doc.text.clone(), doc.cursor, doc.anchor);
            self.editor.load(id, &text, cursor, anchor, &self.theme);
            self.editor.mode = EditMode::Normal;
            self.editor.style(&self.theme, self.focus == Pane::Editor);
        }
        self.highlights_stale = true;
    }

    fn start_editing(&mut self) {
        if let Some(why) = self.read_only_reason() {
            self.notify(Level::Warn, format!("{why} — your role cannot edit the packet"));
            return;
        }
        if self.current_section_id().is_none() {
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
        let Some(doc) = self.docs.get_mut(&id) else { return };
        match doc.local_splice(splice, EditOrigin::Typed, Instant::now()) {
            Ok(Some(send)) => self.send_edit(id, send, None),
            Ok(None) => {}
            Err(e) => {
                // The editor and the section are out of step: the diff of
                // the whole text puts them back in step.
                tracing::warn!("a key's edit does not fit the section ({e}); diffing the section");
                return self.editor_changed();
            }
        }
        self.highlights_stale = true;
        self.dirty = true;
    }

    /// The editor's text changed in a way no splice describes: diff the
    /// whole text against the section and send that operation.
    pub fn editor_changed(&mut self) {
        let Some(id) = self.editor.section else { return };
        let Some(doc) = self.docs.get(&id) else { return };
        let new_text = self.editor.text();
        let op = TextOp::from_texts(&doc.text, &new_text);
        if op.is_noop() {
            return;
        }
        self.local_op(id, op, EditOrigin::Typed);
    }

    /// Records and sends a local operation on section `id`.
    pub fn local_op(&mut self, id: SectionId, op: TextOp, origin: EditOrigin) {
        let Some(doc) = self.docs.get_mut(&id) else { return };
        match doc.local(op, origin, Instant::now()) {
            Ok(Some(send)) => self.send_edit(id, send, None),
            Ok(None) => {}
            Err(e) => {
                tracing::error!("local edit does not apply: {e}");
                self.notify(Level::Error, format!("edit could not be recorded: {e}"));
                self.reset_section(id);
            }
        }
        self.highlights_stale = true;
        self.dirty = true;
    }

    /// Sends the operation in flight for `id`; `seq` is reused on resends.
    pub fn send_edit(&mut self, id: SectionId, op: TextOp, seq: Option<u64>) {
        let (Some(room), Some(state)) = (self.room, &self.replica.state) else { return };
        let base = state.revision;
        let seq = seq.unwrap_or_else(|| self.next_seq());
        if let Some(doc) = self.docs.get_mut(&id) {
            doc.in_flight = Some(InFlight { seq });
        }
        self.send(
            Request::Edit { room, section: id, base, op: op.to_wire(), seq: Some(seq) },
            Pending::Edit { section: id, seq },
        );
    }

    /// Shows the server's text of `id` again, dropping local pending edits
    /// from the document — but never the user's words: when the local text
    /// differs, it is first saved to a file whose path is shown.
    pub fn reset_section(&mut self, id: SectionId) {
        let Some(body) = self.replica.state.as_ref().and_then(|s| s.section(id)).map(|s| s.body.clone()) else {
            return;
        };
        let Some(doc) = self.docs.get_mut(&id) else { return };
        let kept = (doc.text != body).then(|| keep_unsent_text(id, &doc.text));
        let op = doc.reset(&body);
        match kept {
            Some(Ok(path)) => self.notify(Level::Warn, format!("your unsent text is kept in {}", path.display())),
            Some(Err(e)) => self.notify(Level::Error, format!("your unsent text could not be saved: {e}")),
            None => {}
        }
        if self.editor.section == Some(id) {
            self.editor.apply_op(&op);
        }
        self.highlights_stale = true;
    }

    fn undo_redo(&mut self, undo: bool) {
        if self.read_only_reason().is_some() {
            return;
        }
        let Some(id) = self.editor.section else { return };
        let Some(doc) = self.docs.get_mut(&id) else { return };
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
        if !self.can(Capability::Object) {
            self.notify(Level::Warn, format!("your role ({}) cannot raise objections", self.role_label()));
            return;
        }
        let Some(section) = self.current_section() else { return };
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
        if !self.can(Capability::Object) {
            self.notify(Level::Warn, format!("your role ({}) cannot reply", self.role_label()));
            return;
        }
        let Some(id) = self.selected_objection() else {
            self.notify(Level::Info, "select an objection in the register first (r)");
            return;
        };
        let code =
            self.replica.state.as_ref().and_then(|s| s.objections.get(&id)).map(|o| o.code()).unwrap_or_default();
        self.overlay = Some(Overlay::dialog(Dialog::Reply(ReplyForm {
            objection: id,
            code,
            text: input(&self.theme, "your reply"),
            error: None,
        })));
    }

    fn open_status_form(&mut self) {
        let Some(id) = self.selected_objection() else {
            self.notify(Level::Info, "select an objection in the register first (r)");
            return;
        };
        let Some(o) = self.replica.state.as_ref().and_then(|s| s.objections.get(&id)) else { return };
        if !o.is_open() {
            self.notify(Level::Info, format!("{} is {} — only open objections change status", o.code(), o.status));
            return;
        }
        let code = o.code();
        let resolve = self.can(Capability::ResolveObjection);
        let residual = self.can(Capability::AcceptResidual);
        let choices = vec![
            (ObjectionStatus::Addressed, resolve),
            (ObjectionStatus::Withdrawn, resolve),
            (ObjectionStatus::AcceptedResidual, residual),
        ];
        let selected = choices.iter().position(|(_, ok)| *ok).unwrap_or(0);
        self.overlay = Some(Overlay::dialog(Dialog::Status(StatusForm {
            objection: id,
            code,
            choices,
            selected,
            rationale: input(&self.theme, "rationale (required for accepted-residual)"),
            error: None,
        })));
    }

    // ----- annexes -----

    pub fn open_annex(&mut self, id: AnnexId) {
        let Some(room) = self.room else { return };
        self.show_annexes = true;
        if let Some(i) = self.annex_ids().iter().position(|a| *a == id) {
            self.annexes.selected = i;
        }
        self.annexes.scroll = 0;
        if self.has_annex_access(id) {
            self.annexes.open = Some(AnnexOpen::Loading(id));
            self.send(Request::ViewAnnex { room, annex: id }, Pending::ViewAnnex(id));
        } else {
            // Never ask: the client does not fetch what it may not see.
            self.annexes.open = Some(AnnexOpen::Gated(id));
        }
        self.set_focus(Pane::Annexes);
    }

    // ----- diff -----

    fn open_diff(&mut self, base: DiffBase, packet: bool) {
        let scope = match (packet, self.current_section_id()) {
            (false, Some(id)) => DiffScope::Section(id),
            _ => DiffScope::Packet,
        };
        let mut d = DiffView::new(scope, base);
        if let Some(state) = &self.replica.state {
            d.compute(state, &self.history);
        }
        self.diff = Some(d);
        self.editor.mode = EditMode::Normal;
    }

    // ----- release decisions -----

    fn owner_check(&mut self, what: &str) -> bool {
        if self.is_owner() {
            return true;
        }
        self.notify(Level::Warn, format!("{what} is for the room owner only (you are {})", self.role_label()));
        false
    }

    fn open_readiness(&mut self) {
        if !self.owner_check("release or hold") {
            return;
        }
        let Some(state) = &self.replica.state else { return };
        if matches!(state.release, ReleaseState::Escalated { .. }) {
            self.notify(Level::Warn, "the room is escalated: no release from here");
            return;
        }
        // Ours at once; the server's (with the annex-boundary check and the
        // content hash) replaces it when it arrives.
        let record = self.current_readiness().cloned().unwrap_or_else(|| readiness(state));
        if let Some(room) = self.room {
            self.send(Request::Readiness { room }, Pending::Readiness { then_cosign: false });
        }
        self.overlay = Some(Overlay::dialog(Dialog::Readiness(ReadinessForm {
            server_checked: self
                .server_readiness
                .as_ref()
                .is_some_and(|r| Some(r.revision) == self.replica.state.as_ref().map(|s| s.revision)),
            record,
            lane: 0,
            audience: 0,
            step: ReadinessStep::Review,
            scroll: 0,
        })));
    }

    pub fn open_reason(&mut self, purpose: ReasonPurpose) {
        let what = match purpose {
            ReasonPurpose::Hold => Some("hold"),
            ReasonPurpose::Escalate => Some("escalate"),
            ReasonPurpose::RequestAccess(_) | ReasonPurpose::RejectSuggestion(_) => None,
        };
        if what.is_some_and(|w| !self.owner_check(w)) {
            return;
        }
        let placeholder = match purpose {
            ReasonPurpose::Hold => "why the release is held",
            ReasonPurpose::Escalate => "why this goes to direct human handling",
            ReasonPurpose::RequestAccess(_) => "why you need this annex (the owner decides; audited)",
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
        if matches!(self.me.as_ref().map(|m| m.role), Some(trustroom_shared::role::Role::Agent { .. })) {
            self.notify(Level::Warn, "agents never co-sign");
            return;
        }
        let Some(room) = self.room else { return };
        let rev = self.replica.state.as_ref().map_or(0, |s| s.revision);
        match &self.server_readiness {
            Some(r) if r.revision == rev && !r.content_hash.is_empty() => {
                let d = Dialog::Cosign(CosignForm::new(r.content_hash.clone(), r.content_revision));
                self.overlay = Some(Overlay::dialog(d));
            }
            _ => {
                self.send(Request::Readiness { room }, Pending::Readiness { then_cosign: true });
                self.notify(Level::Info, "fetching the content hash to co-sign…");
            }
        }
    }

    /// Release to `lane` for `audience`: marks the room ready at this
    /// revision (the readiness record was just reviewed), then releases.
    pub fn release(&mut self, lane: trustroom_shared::release::Lane, audience: trustroom_shared::release::Audience) {
        let Some(room) = self.room else { return };
        self.send(Request::MarkReady { room }, Pending::MarkReady { then_release: Some((lane, audience)) });
        self.notify(Level::Info, format!("marking ready and releasing to {lane} · audience {audience}…"));
    }
}

/// Saves text the server refused to `<log dir>/unsent/<section>-<ms>.txt`,
/// so the user can copy it back (e.g. after losing the right to edit).
fn keep_unsent_text(id: SectionId, text: &str) -> std::io::Result<std::path::PathBuf> {
    keep_text(&id.to_string(), text)
}

/// Saves words the server refused to `<log dir>/unsent/<name>-<ms>.txt`.
pub fn keep_text(name: &str, text: &str) -> std::io::Result<std::path::PathBuf> {
    let dir = super::logging::log_dir().join("unsent");
    std::fs::create_dir_all(&dir)?;
    let ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
    let name: String = name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '-' }).collect();
    let path = dir.join(format!("{name}-{ms}.txt"));
    std::fs::write(&path, text)?;
    Ok(path)
}
