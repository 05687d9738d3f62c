//! Evidence (key `e`): the source records the statement at the cursor
//! cites — or, when it cites none, every record the section cites — each
//! with its state: fresh (the version it was checked against), STALE (the
//! record changed since), UNKNOWN (no registered record) or unchecked (the
//! room keeps no register). `j`/`k` choose, Enter opens the record's text
//! (audited; a restricted record only for readers of its annex), `c`
//! re-confirms a stale citation against the newest version (editors).

use crossterm::event::{KeyCode, KeyEvent};
use trustroom_shared::evidence::{CitationStatus, CitedRecord, cited_records};
use trustroom_shared::ids::SectionId;
use trustroom_shared::protocol::{Request, SourceContent};
use trustroom_shared::room::Section;
use trustroom_shared::statement::{StatementLabel, statements};

use super::{Command, Component, Ctx, Outcome};
use crate::session::outbox::Pending;
use crate::session::room::Room;

/// What the view shows below the list.
#[derive(Clone, Debug, PartialEq)]
pub enum SourceOpen {
    Loading(String),
    Content(SourceContent),
    Failed(String, String),
}

pub struct EvidenceView {
    pub section: SectionId,
    /// The statement at the cursor (its index), when it cites records.
    pub statement: Option<usize>,
    /// The chosen record id (kept as the list changes).
    pub selected: Option<String>,
    pub open: Option<SourceOpen>,
    pub error: Option<String>,
}

/// The ids statement `index` of `section` cites.
fn statement_ids(section: &Section, index: usize) -> Vec<String> {
    statements(&section.body)
        .into_iter()
        .find(|s| s.index == index)
        .map(|s| match s.label {
            StatementLabel::Verified { evidence } => evidence,
            _ => Vec::new(),
        })
        .unwrap_or_default()
}

/// The statement of `section` at char `cursor`, if it cites records.
pub fn statement_at(section: &Section, cursor: usize) -> Option<usize> {
    statements(&section.body)
        .into_iter()
        .find(|s| s.start <= cursor && cursor <= s.start + s.len)
        .filter(|s| matches!(&s.label, StatementLabel::Verified { evidence } if !evidence.is_empty()))
        .map(|s| s.index)
}

impl EvidenceView {
    pub fn new(room: &Room, section: SectionId, statement: Option<usize>) -> Self {
        let mut v = EvidenceView { section, statement, selected: None, open: None, error: None };
        v.selected = v.list(room).first().map(|c| c.source.clone());
        v
    }

    /// The citations shown: the statement's, else the section's.
    pub fn list(&self, room: &Room) -> Vec<CitedRecord> {
        let Some(state) = &room.replica.state else { return Vec::new() };
        let Some(section) = state.section(self.section) else { return Vec::new() };
        let all = cited_records(state, section);
        match self.statement {
            Some(i) => {
                let ids = statement_ids(section, i);
                let mine: Vec<CitedRecord> = all.iter().filter(|c| ids.contains(&c.source)).cloned().collect();
                if mine.is_empty() { all } else { mine }
            }
            None => all,
        }
    }

    pub fn selected_index(&self, list: &[CitedRecord]) -> usize {
        self.selected.as_ref().and_then(|id| list.iter().position(|c| &c.source == id)).unwrap_or(0)
    }

    fn step_by(&mut self, list: &[CitedRecord], delta: isize) {
        if list.is_empty() {
            return;
        }
        let i = (self.selected_index(list) as isize + delta).clamp(0, list.len() as isize - 1) as usize;
        self.selected = Some(list[i].source.clone());
        self.open = None;
        self.error = None;
    }
}

impl Component for EvidenceView {
    fn event(&mut self, key: KeyEvent, ctx: &Ctx<'_>) -> Outcome {
        let list = self.list(ctx.room);
        match key.code {
            KeyCode::Char('j') | KeyCode::Down => self.step_by(&list, 1),
            KeyCode::Char('k') | KeyCode::Up => self.step_by(&list, -1),
            KeyCode::Char('q') => return Outcome::close(),
            KeyCode::Enter => {
                let (Some(room), Some(c)) = (ctx.room.id, list.get(self.selected_index(&list))) else {
                    return Outcome::used();
                };
                if c.status == CitationStatus::Unknown {
                    self.error = Some(format!(
                        "{} is not a registered source record: register it (`trustroom source add`) or relabel the statement",
                        c.source
                    ));
                    return Outcome::used();
                }
                self.open = Some(SourceOpen::Loading(c.source.clone()));
                self.error = None;
                let request = Request::ViewSource { room, source: c.source.clone(), version: None };
                return Outcome::Used(vec![Command::Send(request, Pending::ViewSource { id: c.source.clone() })]);
            }
            KeyCode::Char('c') => {
                let Some(c) = list.get(self.selected_index(&list)) else { return Outcome::used() };
                if !matches!(c.status, CitationStatus::Stale { .. }) {
                    self.error = Some(format!("{} is not stale: nothing to re-confirm", c.source));
                    return Outcome::used();
                }
                if let Some(why) = ctx.room.read_only_reason() {
                    self.error = Some(format!("cannot re-confirm: {why}"));
                    return Outcome::used();
                }
                let Some(room) = ctx.room.id else { return Outcome::used() };
                let request =
                    Request::ConfirmEvidence { room, section: self.section, source: c.source.clone(), seq: None };
                return Outcome::Used(vec![Command::Send(request, Pending::ConfirmEvidence { id: c.source.clone() })]);
            }
            _ => {}
        }
        Outcome::used()
    }
}
