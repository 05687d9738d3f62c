//! Section bodies at past revisions, recorded as events arrive (the server
//! only serves the current state). Each section keeps a base body and the
//! operations after it; a body at revision R is the base with the
//! operations up to R applied. Also remembers, per section, the revision at
//! which this user last looked at it, and a copy of the bodies from the
//! previous session (loaded from the cache directory) for "since I last
//! looked" across restarts.

use std::collections::HashMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use trustroom_shared::ot::TextOp;
use trustroom_shared::room::RoomState;
use trustroom_shared::{RoomId, SectionId, UserId};

/// Operations kept per section before the oldest fold into the base.
const MAX_OPS: usize = 5_000;

#[derive(Clone, Debug)]
struct SectionLog {
    /// Revision the section appeared at (bodies before it are empty).
    added: u64,
    base_rev: u64,
    base: String,
    ops: Vec<(u64, TextOp)>,
}

impl SectionLog {
    fn body_at(&self, rev: u64) -> Option<String> {
        if rev < self.added {
            return Some(String::new());
        }
        if rev < self.base_rev {
            return None;
        }
        let mut body = self.base.clone();
        for (r, op) in &self.ops {
            if *r > rev {
                break;
            }
            body = op.apply(&body).ok()?;
        }
        Some(body)
    }

    fn current(&self) -> Option<String> {
        self.body_at(u64::MAX)
    }
}

/// What we remember between sessions: the bodies as last looked at.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct LastLooked {
    pub revision: u64,
    pub bodies: HashMap<SectionId, String>,
}

#[derive(Clone, Debug, Default)]
pub struct History {
    logs: HashMap<SectionId, SectionLog>,
    /// First revision this session knows bodies for.
    pub since: u64,
    /// Revision at which the user last left each section.
    pub looked: HashMap<SectionId, u64>,
    /// Bodies from the previous session, if any.
    pub previous: Option<LastLooked>,
}

impl History {
    /// Starts (or restarts after a full resync) from a snapshot.
    pub fn reset_from(&mut self, state: &RoomState) {
        if self.logs.is_empty() {
            self.since = state.revision;
            for s in &state.sections {
                self.logs.insert(
                    s.id,
                    SectionLog { added: 0, base_rev: state.revision, base: s.body.clone(), ops: Vec::new() },
                );
            }
            return;
        }
        // A resync after a gap: bridge each section with one diff op so
        // the history stays continuous.
        for s in &state.sections {
            match self.logs.get_mut(&s.id) {
                Some(log) => {
                    let old = log.current().unwrap_or_default();
                    if old != s.body {
                        log.ops.push((state.revision, TextOp::from_texts(&old, &s.body)));
                    }
                }
                None => {
                    self.logs.insert(
                        s.id,
                        SectionLog {
                            added: state.revision,
                            base_rev: state.revision,
                            base: s.body.clone(),
                            ops: Vec::new(),
                        },
                    );
                }
            }
        }
    }

    pub fn section_added(&mut self, section: SectionId, body: &str, rev: u64) {
        self.logs.insert(section, SectionLog { added: rev, base_rev: rev, base: body.to_string(), ops: Vec::new() });
    }

    pub fn record(&mut self, section: SectionId, rev: u64, op: TextOp) {
        let Some(log) = self.logs.get_mut(&section) else { return };
        log.ops.push((rev, op));
        if log.ops.len() > MAX_OPS {
            let (r, first) = log.ops.remove(0);
            match first.apply(&log.base) {
                Ok(b) => {
                    log.base = b;
                    log.base_rev = r;
                }
                Err(_) => log.ops.clear(),
            }
            self.since = self.since.max(r);
        }
    }

    /// The body of `section` at `rev`, when known.
    pub fn body_at(&self, section: SectionId, rev: u64) -> Option<String> {
        self.logs.get(&section)?.body_at(rev)
    }

    /// Operations on `section` after `from` up to `to`, in order.
    pub fn ops_between(&self, section: SectionId, from: u64, to: u64) -> Vec<&TextOp> {
        self.logs
            .get(&section)
            .map(|l| l.ops.iter().filter(|(r, _)| *r > from && *r <= to).map(|(_, o)| o).collect())
            .unwrap_or_default()
    }

    /// Revisions at which any section body changed (for stepping through
    /// revisions in the diff view), ascending.
    pub fn revisions(&self) -> Vec<u64> {
        let mut revs: Vec<u64> = self.logs.values().flat_map(|l| l.ops.iter().map(|(r, _)| *r)).collect();
        revs.push(self.since);
        revs.sort_unstable();
        revs.dedup();
        revs
    }

    /// The body this user saw when they last looked at `section`: when they
    /// last left it in this session, else the previous session's copy, else
    /// the body when this session started. Returns the body and a label.
    pub fn last_looked(&self, section: SectionId) -> (String, String) {
        if let Some(rev) = self.looked.get(&section)
            && let Some(b) = self.body_at(section, *rev)
        {
            return (b, format!("rev {rev} (when you last left it)"));
        }
        if let Some(prev) = &self.previous {
            if let Some(b) = prev.bodies.get(&section) {
                return (b.clone(), format!("rev {} (your previous session)", prev.revision));
            }
            return (String::new(), format!("rev {} (your previous session; section is new)", prev.revision));
        }
        (self.body_at(section, self.since).unwrap_or_default(), format!("rev {} (when you joined)", self.since))
    }

    /// What to remember for next time: every body as of now.
    pub fn to_last_looked(&self, state: &RoomState) -> LastLooked {
        LastLooked { revision: state.revision, bodies: state.sections.iter().map(|s| (s.id, s.body.clone())).collect() }
    }
}

/// Where the previous session's bodies are kept.
pub fn last_looked_path(room: RoomId, user: UserId) -> Option<PathBuf> {
    let dirs = directories::ProjectDirs::from("", "", "trustroom")?;
    Some(dirs.cache_dir().join("last-looked").join(format!("{room}-{user}.json")))
}

pub fn load_last_looked(room: RoomId, user: UserId) -> Option<LastLooked> {
    let path = last_looked_path(room, user)?;
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

pub fn save_last_looked(room: RoomId, user: UserId, ll: &LastLooked) {
    let Some(path) = last_looked_path(room, user) else { return };
    if let Some(dir) = path.parent()
        && std::fs::create_dir_all(dir).is_err()
    {
        return;
    }
    match serde_json::to_string(ll) {
        Ok(text) => {
            if let Err(e) = std::fs::write(&path, text) {
                tracing::warn!("cannot save {}: {e}", path.display());
            }
        }
        Err(e) => tracing::warn!("cannot encode last-looked bodies: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trustroom_shared::room::Section;

    #[test]
    fn bodies_at_past_revisions() {
        let mut st = RoomState::new(RoomId::new(), "t".into(), 0);
        let sid = SectionId::new();
        st.sections.push(Section::new(sid, "S".into(), "one".into(), 1));
        st.revision = 3;
        let mut h = History::default();
        h.reset_from(&st);
        h.record(sid, 4, TextOp::from_texts("one", "one two"));
        h.record(sid, 6, TextOp::from_texts("one two", "two"));
        assert_eq!(h.body_at(sid, 3).as_deref(), Some("one"));
        assert_eq!(h.body_at(sid, 5).as_deref(), Some("one two"));
        assert_eq!(h.body_at(sid, 9).as_deref(), Some("two"));
        assert_eq!(h.revisions(), vec![3, 4, 6]);
        let (b, _) = h.last_looked(sid);
        assert_eq!(b, "one");
    }
}
