//! The screen's side of the room's sync: what the session layer's
//! [`Effect`]s do to the panes (the editor follows its section's text,
//! notices and announcements of others' changes, the caches go stale), and
//! what the answers to the panes' requests do. The room itself and its
//! resync rules are `crate::session::room` and `crate::session::sync`.

use serde_json::Value;
use trustroom_shared::access::{BreakGlassResult, RequestAccessResult};
use trustroom_shared::change::{Change, Revision};
use trustroom_shared::export::utc;
use trustroom_shared::protocol::{
    AnnexContent, ExportResult, ManifestsResult, ReleaseAck, ReleaseStatusResult, Request,
};
use trustroom_shared::readiness::{Readiness, readiness};
use trustroom_shared::release::content_changes_since;

use super::action::EditMode;
use super::announce::{announce, deciders};
use super::app::{App, Overlay, Screen};
use super::forms::{CosignForm, ReadinessStep};
use super::pane::annex::AnnexOpen;
use super::pane::dialog::Dialog;
use super::pane::evidence::SourceOpen;
use super::pane::export::save_bundle;
use super::pane::manifests::ManifestsView;
use super::pane::status::NoticeKind;
use crate::session::RequestError;
use crate::session::connection::NetEvent;
use crate::session::outbox::{Pending, authored_text};
use crate::session::room::{Effect, Level};

impl App {
    pub fn on_net(&mut self, ev: NetEvent) {
        self.dirty = true;
        // The selection stays on the objection the user sees selected,
        // whatever this event adds to the register or re-sorts in it.
        self.settle_register();
        self.room.on_net(ev);
        self.apply_effects();
    }

    /// Applies what the room reports, in order.
    pub fn apply_effects(&mut self) {
        loop {
            let effects = self.room.take_effects();
            if effects.is_empty() {
                return;
            }
            for effect in effects {
                self.apply_effect(effect);
            }
        }
    }

    fn apply_effect(&mut self, effect: Effect) {
        match effect {
            Effect::Notice(level, text) => self.notify(level, text),
            Effect::Text { section, op } => {
                if self.editor.section == Some(section) {
                    self.editor.apply_op(&op);
                }
                self.editor.highlights_stale = true;
            }
            Effect::Snapshot { first } => {
                if first {
                    self.sections.current = 0;
                    self.load_editor();
                } else if self.editor.section.is_some_and(|id| !self.room.docs.contains_key(&id)) {
                    self.sections.current = self.sections.current.min(self.room.sections().len().saturating_sub(1));
                    self.load_editor();
                }
                self.editor.highlights_stale = true;
                self.state_changed();
            }
            Effect::Applied(rev) => self.applied(&rev),
            Effect::Joined { syncing, edits, requests } => {
                let rejoined = syncing && self.status.notices.back().is_some_and(|n| n.text.starts_with("reconnected"));
                if rejoined || edits > 0 || requests > 0 {
                    let rev = self.room.replica.state.as_ref().map_or(0, |s| s.revision);
                    let mut extra =
                        if edits > 0 { format!("; re-sent {edits} pending edit(s)") } else { String::new() };
                    if requests > 0 {
                        extra.push_str(&format!("; re-sent {requests} unsent request(s)"));
                    }
                    self.notify(Level::Info, format!("back in sync at rev {rev}{extra}"));
                }
            }
            Effect::Answer { pending, result, request } => self.on_answer(pending, result, request),
            Effect::Fatal(msg) => {
                self.exit_error = Some(msg);
                self.quit = true;
            }
        }
    }

    /// An event was applied to the room: keep the same section in view,
    /// tell the user what others did.
    fn applied(&mut self, rev: &Revision) {
        match &rev.change {
            Change::SectionAdded { .. } => {
                // Keep the same section in view when one is inserted before it.
                if let Some(cur) = self.editor.section
                    && let Some(i) = self.room.sections().iter().position(|s| s.id == cur)
                {
                    self.sections.current = i;
                }
            }
            Change::ReleaseChanged { release } if release.is_read_only() => self.editor.mode = EditMode::Normal,
            _ => {}
        }
        // What changed under an armed release prompt, named if it disarms.
        if let (Some(Overlay::Dialog(d)), Some(state)) = (&mut self.overlay, &self.room.replica.state)
            && let Dialog::Readiness(f) = d.as_mut()
            && let (Some(armed), ReadinessStep::Confirm) = (&f.armed, f.step)
        {
            let lines = content_changes_since(state, std::iter::once(rev), armed.packet_revision);
            f.seen.extend(lines);
        }
        if let Some((level, text)) = announce(&self.room, rev) {
            self.notify_kind(NoticeKind::Room, level, text);
        }
        self.state_changed();
    }

    /// The answer to a request a pane made (`request`: the request itself
    /// when it carries the user's words or may be re-sent).
    fn on_answer(&mut self, pending: Pending, result: Result<Value, RequestError>, request: Option<Request>) {
        // The dialog that made it, kept for this answer.
        let dialog = request.as_ref().and_then(Request::seq).and_then(|seq| self.sent_dialogs.remove(&seq));
        match (pending, result) {
            (Pending::Object, Ok(_)) => self.notify(Level::Info, "objection raised"),
            (Pending::Reply { code }, Ok(_)) => self.notify(Level::Info, format!("reply added to {code}")),
            (Pending::Status { code, status: trustroom_shared::objection::ObjectionStatus::Open }, Ok(_)) => {
                self.notify(Level::Info, format!("{code} reopened"));
            }
            (Pending::Status { code, status }, Ok(_)) => self.notify(Level::Info, format!("{code} marked {status}")),
            (Pending::ViewAnnex(id), Ok(v)) => {
                self.annexes.open = Some(match serde_json::from_value::<AnnexContent>(v) {
                    Ok(c) => AnnexOpen::Content(c),
                    Err(e) => AnnexOpen::Failed(id, format!("unreadable answer: {e}")),
                });
            }
            (Pending::ViewAnnex(id), Err(e)) => {
                self.annexes.open = Some(match e.code() {
                    Some(trustroom_shared::protocol::ErrorCode::Forbidden) => AnnexOpen::Gated(id),
                    _ => AnnexOpen::Failed(id, e.to_string()),
                });
            }
            (Pending::ViewSource { id }, answer) => {
                let open = match answer {
                    Ok(v) => match serde_json::from_value::<trustroom_shared::protocol::SourceContent>(v) {
                        Ok(c) => SourceOpen::Content(c),
                        Err(e) => SourceOpen::Failed(id, format!("unreadable answer: {e}")),
                    },
                    Err(e) => SourceOpen::Failed(id, e.to_string()),
                };
                if let Some(Overlay::Dialog(d)) = &mut self.overlay
                    && let Dialog::Evidence(view) = d.as_mut()
                {
                    view.open = Some(open);
                }
            }
            (Pending::ConfirmEvidence { id }, Ok(_)) => {
                self.notify(Level::Info, format!("{id} re-confirmed against its newest version"));
            }
            (Pending::Readiness { then_cosign }, Ok(v)) => match serde_json::from_value::<Readiness>(v) {
                Ok(r) => {
                    let current = self.room.replica.state.as_ref().is_some_and(|s| s.revision == r.revision);
                    let mut disarmed = false;
                    if let Some(Overlay::Dialog(d)) = &mut self.overlay
                        && let Dialog::Readiness(f) = d.as_mut()
                        && current
                    {
                        disarmed = f.follow(r.clone(), true);
                    }
                    if disarmed {
                        self.disarmed_notice();
                    }
                    if then_cosign && self.overlay.is_none() {
                        let form = CosignForm::new(r.content_hash.clone(), r.content_revision);
                        self.overlay = Some(Overlay::dialog(Dialog::Cosign(form)));
                    }
                    self.status.server_readiness = Some(r);
                }
                Err(e) => tracing::warn!("unreadable readiness record: {e}"),
            },
            (Pending::Readiness { .. }, Err(e)) => tracing::info!("no readiness record from the server: {e}"),
            (Pending::Cosign, Ok(_)) => self.notify(Level::Info, "co-signed the current content"),
            (Pending::Decide { code, approve }, Ok(_)) => {
                self.notify(Level::Info, format!("{code} {}", if approve { "approved" } else { "denied" }));
            }
            (Pending::DecideSuggestion { code, accept }, Ok(_)) => {
                self.notify(Level::Info, format!("{code} {}", if accept { "accepted" } else { "rejected" }));
            }
            (Pending::Stats, Ok(v)) => {
                if let Some(Screen::Stats(s)) = &mut self.screen {
                    s.answered(v);
                }
            }
            (Pending::Stats, Err(e)) => {
                if let Some(Screen::Stats(s)) = &mut self.screen {
                    s.error = Some(e.to_string());
                }
            }
            (Pending::RequestAccess, Ok(v)) => self.access_requested(v),
            (Pending::WithdrawAccess { code }, Ok(_)) => self.notify(Level::Info, format!("{code} withdrawn")),
            (Pending::Hold, Ok(v)) => {
                let code = v.get("created").and_then(Value::as_str).unwrap_or("the hold").to_string();
                self.notify(
                    Level::Info,
                    format!("{code} placed — the room is HELD until every hold is cleared (L: the register)"),
                );
            }
            (Pending::ClearHold { code }, Ok(_)) => {
                self.notify(
                    Level::Info,
                    format!("{code} cleared, its rationale kept in the register (L shows what stays open)"),
                );
            }
            (Pending::Escalate, Ok(_)) => {}
            (Pending::MarkReady, Ok(v)) => {
                let rev = v.get("revision").and_then(Value::as_u64).unwrap_or(0);
                let packet = self.room.replica.state.as_ref().map_or(0, |s| s.content_revision);
                self.notify(Level::Info, format!("READY: packet rev {packet} (room rev {rev})"));
            }
            (Pending::ReleasePacket { lane, audience, packet_revision }, Ok(v)) => {
                let text = match serde_json::from_value::<ReleaseAck>(v) {
                    Ok(a) => format!(
                        "RELEASED packet rev {} (room rev {}) to {} · {} — manifest {}",
                        a.packet_revision,
                        a.revision,
                        a.lane,
                        a.audience,
                        a.manifest_hash.chars().take(16).collect::<String>()
                    ),
                    Err(_) => format!("RELEASED packet rev {packet_revision} to {lane} · {audience}"),
                };
                self.notify(Level::Info, text);
            }
            (Pending::RevokeGrant { code }, Ok(_)) => {
                self.notify(Level::Info, format!("{code} revoked — the grant ended now"));
            }
            (Pending::BreakGlass { annexes }, Ok(v)) => {
                let text = match serde_json::from_value::<BreakGlassResult>(v) {
                    Ok(r) => format!(
                        "{} ACTIVE until {} (reads {}; every member sees it)",
                        r.code,
                        utc(r.ends_at),
                        annexes.join(", ")
                    ),
                    Err(_) => format!("break-glass active (reads {})", annexes.join(", ")),
                };
                self.notify(Level::Warn, text);
            }
            (Pending::EndBreakGlass { code }, Ok(_)) => {
                self.notify(Level::Info, format!("{code} ended — its break-glass review objection is open"));
            }
            (Pending::Export, Ok(v)) => self.exported(v),
            (Pending::ReleaseStatus, Ok(v)) => match serde_json::from_value::<ReleaseStatusResult>(v) {
                Ok(r) => {
                    if let Some(Overlay::Dialog(d)) = &mut self.overlay
                        && let Dialog::Manifests(m) = d.as_mut()
                    {
                        m.set_statuses(&r);
                    }
                }
                Err(e) => self.notify(Level::Error, format!("unreadable release status from the server: {e}")),
            },
            (Pending::Manifests, Ok(v)) => match serde_json::from_value::<ManifestsResult>(v) {
                Ok(r) => self.overlay = Some(Overlay::dialog(Dialog::Manifests(ManifestsView::new(r)))),
                Err(e) => self.notify(Level::Error, format!("unreadable manifests from the server: {e}")),
            },
            // The room's own requests: answered in the session layer.
            (Pending::ResolveRoom | Pending::Join { .. } | Pending::Edit { .. } | Pending::Cursor, Ok(_)) => {}
            (p, Err(e)) => self.refused(p, e, dialog, request.as_ref()),
        }
    }

    /// A request was refused by the server (`error[code]: message`) or lost
    /// with the connection: said where the person acted. A dialog's words
    /// come back in it, with the error, to fix and send again; decisions
    /// get the server's whole answer in a message. Only words the
    /// connection lost are saved to a file (the session layer says where).
    fn refused(&mut self, p: Pending, e: RequestError, dialog: Option<Box<Dialog>>, request: Option<&Request>) {
        let what = match p {
            Pending::Object => "objection not raised",
            Pending::Reply { .. } => "reply not added",
            Pending::Status { .. } => "status not changed",
            Pending::Hold => "hold refused",
            Pending::ClearHold { .. } => "clearing the hold refused",
            Pending::MarkReady => "mark ready refused",
            Pending::ReleasePacket { .. } => "release refused",
            Pending::RevokeGrant { .. } => "revoke refused",
            Pending::BreakGlass { .. } => "break-glass refused",
            Pending::EndBreakGlass { .. } => "ending the break-glass refused",
            Pending::Export => "export refused",
            Pending::Manifests => "manifests refused",
            Pending::ReleaseStatus => "release status refused",
            Pending::Escalate => "escalation refused",
            Pending::Cosign => "co-signature refused",
            Pending::RequestAccess => "access request refused",
            Pending::WithdrawAccess { .. } => "withdrawal refused",
            Pending::Decide { .. } => "decision refused",
            Pending::DecideSuggestion { accept: true, .. } => "accept refused",
            Pending::DecideSuggestion { accept: false, .. } => "reject refused",
            _ => "request failed",
        };
        if matches!(e, RequestError::Disconnected) {
            let lost = format!("{what}: not sent — the connection was lost");
            if let Some(mut d) = dialog {
                d.refused(format!("{lost}; Enter sends it again once connected"));
                self.reopen_dialog(d);
            }
            // Words lost with it: the session layer's notice names the file.
            if request.and_then(authored_text).is_none() {
                self.notify(Level::Error, lost);
            }
            return;
        }
        let told = format!("{what}: {e}");
        let dialog = dialog.and_then(|mut d| d.refused(e.to_string()).then_some(d));
        match dialog {
            Some(d) => self.reopen_dialog(d),
            None => {
                if matches!(
                    p,
                    Pending::Hold
                        | Pending::MarkReady
                        | Pending::ReleasePacket { .. }
                        | Pending::Escalate
                        | Pending::Cosign
                        | Pending::RevokeGrant { .. }
                        | Pending::BreakGlass { .. }
                        | Pending::EndBreakGlass { .. }
                        | Pending::Export
                ) {
                    // Decisions get the server's whole answer, not a cut line.
                    self.overlay =
                        Some(Overlay::dialog(Dialog::Message { title: what.to_string(), text: refusal(&e) }));
                }
                // No dialog to give the words back in: the history keeps them.
                if let Some(words) = request.and_then(authored_text) {
                    self.notify_kind(NoticeKind::Refusal, Level::Error, format!("{told} — your words: “{words}”"));
                    return;
                }
            }
        }
        // The room's own requests (join, edits) never come here.
        self.notify_kind(NoticeKind::Refusal, Level::Error, told);
    }

    /// Our access request was recorded (or folded into one we had): say
    /// which, who decides, and where the decision shows.
    fn access_requested(&mut self, v: Value) {
        let me = self.room.my_user();
        let who = me.map_or_else(|| "an owner".to_string(), |u| deciders(&self.room, u));
        let outcomes = serde_json::from_value::<RequestAccessResult>(v).map(|r| r.requests).unwrap_or_default();
        let Some(o) = outcomes.first() else {
            self.notify(Level::Info, format!("access requested — {who} decides; the annex's pane shows the decision"));
            return;
        };
        let text = match o.outcome.as_str() {
            "grant" => format!("you may already read {} ({}) — Enter on its pane opens it", o.annex_code, o.code),
            "pending" => format!(
                "folded into your pending {} for {} (the longer duration stands) — {who} decides; you will see it on {}'s pane",
                o.code, o.annex_code, o.annex_code
            ),
            _ => format!(
                "access requested ({} for {}) — {who} decides; you will see the decision on {}'s pane",
                o.code, o.annex_code, o.annex_code
            ),
        };
        self.notify(Level::Info, text);
    }
}

impl App {
    /// The room moved: the open readiness record follows it, and an armed
    /// release prompt whose readiness changed disarms, naming what changed.
    pub fn follow_readiness(&mut self) {
        let (Some(Overlay::Dialog(d)), Some(state)) = (&mut self.overlay, &self.room.replica.state) else { return };
        let Dialog::Readiness(f) = d.as_mut() else { return };
        let (now, checked) = match &self.status.server_readiness {
            Some(r) if r.revision == state.revision => (r.clone(), true),
            _ => (readiness(state), false),
        };
        if f.follow(now, checked) {
            self.disarmed_notice();
        }
    }

    fn disarmed_notice(&mut self) {
        self.notify(Level::Warn, "the readiness changed under the release prompt — review what changed, confirm again");
    }

    /// The bundle arrived: write it to a new file and say where.
    fn exported(&mut self, v: Value) {
        let result = match serde_json::from_value::<ExportResult>(v) {
            Ok(r) => r,
            Err(e) => return self.notify(Level::Error, format!("unreadable export from the server: {e}")),
        };
        let room = self.room.id.map(|r| r.to_string()).unwrap_or_default();
        match save_bundle(&self.export_dir, &room, &result) {
            Ok(done) => {
                self.notify(Level::Info, format!("exported to {}", done.path.display()));
                self.overlay = Some(Overlay::dialog(Dialog::Exported(done)));
            }
            Err(e) => {
                let text = format!(
                    "the bundle (rev {}) was not written to {}: {e}",
                    result.revision,
                    self.export_dir.display()
                );
                self.overlay = Some(Overlay::dialog(Dialog::Message { title: "export not written".into(), text }));
            }
        }
    }
}

/// A refusal as the dialog shows it: the server's code and message, with a
/// `stale` refusal's changes one per line.
fn refusal(e: &RequestError) -> String {
    let text = e.to_string();
    match text.split_once(" (changed: ") {
        Some((head, changes)) => {
            let list: Vec<String> =
                changes.strip_suffix(')').unwrap_or(changes).split("; ").map(|c| format!("  • {c}")).collect();
            format!("{head}\nchanged since you reviewed:\n{}", list.join("\n"))
        }
        None => text,
    }
}
