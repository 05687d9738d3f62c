//! The screen's side of the room's sync: what the session layer's
//! [`Effect`]s do to the panes (the editor follows its section's text,
//! notices, announcements of others' changes, the caches go stale), and
//! what the answers to the panes' requests do. The room itself and its
//! resync rules are `crate::session::room`.

use serde_json::Value;
use trustroom_shared::change::{Change, Revision};
use trustroom_shared::protocol::{AnnexContent, Request};
use trustroom_shared::readiness::Readiness;
use trustroom_shared::release::ReleaseState;

use super::app::{AnnexOpen, App, Level, Pending};
use crate::session::RequestError;
use crate::session::connection::NetEvent;
use crate::session::room::Effect;

impl App {
    pub fn on_net(&mut self, ev: NetEvent) {
        self.dirty = true;
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
                self.highlights_stale = true;
            }
            Effect::Snapshot { first } => {
                if first {
                    self.current = 0;
                    self.load_editor();
                } else if self.editor.section.is_some_and(|id| !self.room.docs.contains_key(&id)) {
                    self.current = self.current.min(self.room.sections().len().saturating_sub(1));
                    self.load_editor();
                }
                self.highlights_stale = true;
                self.state_changed();
            }
            Effect::Applied(rev) => self.applied(&rev),
            Effect::Joined { syncing, edits, requests } => {
                let rejoined = syncing && self.notices.back().is_some_and(|n| n.text.starts_with("reconnected"));
                if rejoined || edits > 0 || requests > 0 {
                    let rev = self.room.replica.state.as_ref().map_or(0, |s| s.revision);
                    let mut extra = if edits > 0 { format!("; re-sent {edits} pending edit(s)") } else { String::new() };
                    if requests > 0 {
                        extra.push_str(&format!("; re-sent {requests} unsent request(s)"));
                    }
                    self.notify(Level::Info, format!("back in sync at rev {rev}{extra}"));
                }
            }
            Effect::Answer { pending, result } => self.on_answer(pending, result),
            Effect::Fatal(msg) => {
                self.exit_error = Some(msg);
                self.quit = true;
            }
        }
    }

    /// An event was applied to the room: tell the user what others did,
    /// keep the same section in view.
    fn applied(&mut self, rev: &Revision) {
        let author = self.room.member_name(rev.author);
        let mine = Some(rev.author) == self.room.my_user();
        match &rev.change {
            Change::SectionEdited { .. } => {}
            Change::SectionAdded { title, .. } => {
                // Keep the same section in view when one is inserted before it.
                if let Some(cur) = self.editor.section
                    && let Some(i) = self.room.sections().iter().position(|s| s.id == cur)
                {
                    self.current = i;
                }
                if !mine {
                    self.notify(Level::Info, format!("{author} added section \"{title}\""));
                }
            }
            Change::ObjectionRaised { objection } => {
                if !mine {
                    let section = self.room.section_title(objection.anchor.section);
                    let b = if objection.blocking { "blocking " } else { "" };
                    self.notify(
                        Level::Warn,
                        format!("new {b}objection {} by {author} on \"{section}\": {}", objection.code(), excerpt(&objection.text, 60)),
                    );
                }
            }
            Change::ReplyAdded { objection, reply } => {
                if !mine {
                    let code = self.room.objection_code(*objection);
                    self.notify(Level::Info, format!("{author} replied on {code}: {}", excerpt(&reply.text, 60)));
                }
            }
            Change::ObjectionStatusChanged { objection, change } => {
                let code = self.room.objection_code(*objection);
                self.notify(Level::Info, format!("{code} is now {} (by {author})", change.status));
            }
            Change::AnnexAdded { annex } => {
                self.notify(Level::Info, format!("annex {} \"{}\" added ({})", annex.code, annex.title, annex.classification));
            }
            Change::MemberAdded { member } => {
                self.notify(Level::Info, format!("{} joined as {}", member.name, member.role.label()));
            }
            Change::MemberRemoved { user } => {
                let name = self.room.member_name(*user);
                self.notify(Level::Info, format!("{name} was removed from the room"));
            }
            Change::ReleaseChanged { release } => {
                let text = match release {
                    ReleaseState::Drafting => "release state: DRAFTING".to_string(),
                    ReleaseState::Held { reasons, .. } => format!("HELD by {author}: {}", reasons.join("; ")),
                    ReleaseState::Ready { revision, .. } => format!("READY at rev {revision} (marked by {author})"),
                    ReleaseState::Released { revision, lane, .. } => {
                        format!("RELEASED rev {revision} to the {lane} lane by {author}")
                    }
                    ReleaseState::Escalated { reason, .. } => format!("ESCALATED by {author}: {reason} — the room is read-only"),
                };
                let level = if matches!(release, ReleaseState::Escalated { .. }) { Level::Error } else { Level::Info };
                self.notify(level, text);
                if release.is_read_only() {
                    self.editor.mode = super::editor::EditMode::Normal;
                }
            }
            Change::Cosigned { .. } => self.notify(Level::Info, format!("{author} co-signed the current content")),
            Change::ProbeSuspected { name, until_ms, .. } => self.notify(
                Level::Error,
                format!(
                    "ALERT: {name}'s requests kept hitting restricted detail (possible probe); their free-text requests are \
                     refused until {}",
                    trustroom_shared::export::utc(*until_ms)
                ),
            ),
            Change::ReleasePolicySet { .. } => self.notify(Level::Info, format!("{author} changed the release policy")),
            // Annex access governance: requests, grants, break-glass, checks.
            change if super::approvals::is_access(change) => {
                if let Some((level, text)) = super::approvals::notice(self, rev) {
                    self.notify(level, text);
                }
            }
            // Kinds added to the protocol after this client was written.
            #[allow(unreachable_patterns)]
            other => self.notify(Level::Info, format!("{author}: {}", other.kind_name().replace('_', " "))),
        }
        self.state_changed();
    }

    /// The answer to a request a pane made.
    fn on_answer(&mut self, pending: Pending, result: Result<Value, RequestError>) {
        match (pending, result) {
            (Pending::Object, Ok(_)) => self.notify(Level::Info, "objection raised"),
            (Pending::Reply { code }, Ok(_)) => self.notify(Level::Info, format!("reply added to {code}")),
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
            (Pending::Readiness { then_cosign }, Ok(v)) => match serde_json::from_value::<Readiness>(v) {
                Ok(r) => {
                    if let Some(super::app::Overlay::Dialog(d)) = &mut self.overlay
                        && let super::forms::Dialog::Readiness(f) = d.as_mut()
                    {
                        f.record = r.clone();
                        f.server_checked = true;
                    }
                    if then_cosign && self.overlay.is_none() {
                        let form = super::forms::CosignForm::new(r.content_hash.clone(), r.content_revision);
                        let d = super::forms::Dialog::Cosign(form);
                        self.overlay = Some(super::app::Overlay::dialog(d));
                    }
                    self.server_readiness = Some(r);
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
            (Pending::Stats, Ok(v)) => self.on_stats(v),
            (Pending::Stats, Err(e)) => {
                if let Some(s) = &mut self.stats {
                    s.error = Some(e.to_string());
                }
            }
            (Pending::RequestAccess, Ok(_)) => {
                self.notify(Level::Info, "access requested — the owner decides; you will see the annex once granted");
            }
            (Pending::Hold, Ok(_)) => {}
            (Pending::MarkReady { then_release: Some((lane, audience)) }, Ok(_)) => {
                if let Some(room) = self.room.id {
                    self.room.outbox.send(Request::Release { room, lane, audience }, Pending::Release(lane));
                }
            }
            (Pending::MarkReady { .. } | Pending::Release(_) | Pending::Escalate, Ok(_)) => {}
            // The room's own requests: answered in the session layer.
            (Pending::ResolveRoom | Pending::Join { .. } | Pending::Edit { .. } | Pending::Cursor, Ok(_)) => {}
            (p, Err(e)) => {
                let what = match p {
                    Pending::Object => "objection not raised",
                    Pending::Reply { .. } => "reply not added",
                    Pending::Status { .. } => "status not changed",
                    Pending::Hold => "hold refused",
                    Pending::MarkReady { .. } => "mark ready refused",
                    Pending::Release(_) => "release refused",
                    Pending::Escalate => "escalation refused",
                    Pending::Cosign => "co-signature refused",
                    Pending::RequestAccess => "access request refused",
                    Pending::Decide { .. } => "decision refused",
                    Pending::DecideSuggestion { accept: true, .. } => "accept refused",
                    Pending::DecideSuggestion { accept: false, .. } => "reject refused",
                    _ => "request failed",
                };
                if matches!(
                    p,
                    Pending::Hold
                        | Pending::MarkReady { .. }
                        | Pending::Release(_)
                        | Pending::Escalate
                        | Pending::Cosign
                ) {
                    // Decisions get the server's whole answer, not a cut line.
                    self.overlay = Some(super::app::Overlay::dialog(super::forms::Dialog::Message {
                        title: what.to_string(),
                        text: e.to_string(),
                    }));
                }
                // The room's own requests (join, edits) never come here.
                self.notify(Level::Error, format!("{what}: {e}"));
            }
        }
    }
}

fn excerpt(s: &str, n: usize) -> String {
    let one_line: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= n {
        one_line
    } else {
        format!("{}…", one_line.chars().take(n).collect::<String>())
    }
}
