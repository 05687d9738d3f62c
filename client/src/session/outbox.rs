//! The requests a front end sends to its room, from the moment they are
//! made until their answer arrives: each gets a tag (matched to its answer
//! by the connection task) and, when it changes the room, a `seq` (the
//! idempotency key with our client id). A request whose words or signature
//! must never be lost (an objection, a reply, a status change, a
//! co-signature, an access request) is kept until it is answered; when the
//! connection drops first, it waits in `unsent` and is sent again, with the
//! same `seq`, after the rejoin, so the server applies it exactly once.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use trustroom_shared::objection::ObjectionStatus;
use trustroom_shared::protocol::Request;
use trustroom_shared::release::{Audience, Lane};
use trustroom_shared::{AnnexId, SectionId};

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
    /// Opening a source record's text (evidence view).
    ViewSource {
        id: String,
    },
    /// Re-confirming a stale citation of a record.
    ConfirmEvidence {
        id: String,
    },
    Hold,
    /// Clearing one hold (`H-N`) with a rationale.
    ClearHold {
        code: String,
    },
    MarkReady,
    /// `release_packet` of the packet revision the owner reviewed.
    ReleasePacket {
        lane: Lane,
        audience: Audience,
        packet_revision: u64,
    },
    Escalate,
    /// Ending an active grant (`R-N`).
    RevokeGrant {
        code: String,
    },
    /// Invoking break-glass on these annexes (codes).
    BreakGlass {
        annexes: Vec<String>,
    },
    /// Ending a break-glass early (`BG-N`).
    EndBreakGlass {
        code: String,
    },
    /// The room's bundle, to write to a file.
    Export,
    /// The manifest history and the server key, to verify.
    Manifests,
    /// Each release's signed status, shown with the manifests.
    ReleaseStatus,
    Cursor,
    /// The server's readiness record; `then_cosign` opens the co-sign
    /// confirmation with its content hash.
    Readiness {
        then_cosign: bool,
    },
    Cosign,
    RequestAccess,
    /// Withdrawing our own pending access request (`R-N`).
    WithdrawAccess {
        code: String,
    },
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
            Pending::WithdrawAccess { .. } => "withdrawal",
            Pending::Hold => "hold reason",
            Pending::ClearHold { .. } => "clearing rationale",
            Pending::Escalate => "escalation reason",
            Pending::DecideSuggestion { accept: false, .. } => "rejection reason",
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

/// The ledger of our requests: queued, waiting for an answer, or lost with
/// the connection and waiting to be sent again.
#[derive(Debug)]
pub struct Outbox {
    /// Requests waiting to be handed to the network task, in order.
    pub queue: Vec<Outgoing>,
    /// What each answer we wait for is for, by tag.
    pub pending: HashMap<u64, Pending>,
    /// The requests behind answers we still wait for that carry a `seq`
    /// (objections, replies, status changes, co-signatures, access
    /// requests): if the connection drops before the answer, they go to
    /// `unsent` and are re-sent, with the same `seq`, after the rejoin.
    pub retriable: HashMap<u64, Request>,
    /// The other requests behind answers we still wait for that carry the
    /// user's words (a hold, escalation or rejection reason): not re-sent,
    /// but handed back with the answer, so a refusal can show them again
    /// and a lost connection can save them.
    pub worded: HashMap<u64, Request>,
    /// Requests the connection lost before the server answered; re-sent
    /// after the next successful join (the server applies each seq once).
    pub unsent: Vec<(Request, Pending)>,
    next_tag: u64,
    next_seq: u64,
}

impl Default for Outbox {
    fn default() -> Self {
        Outbox {
            queue: Vec::new(),
            pending: HashMap::new(),
            retriable: HashMap::new(),
            worded: HashMap::new(),
            unsent: Vec::new(),
            next_tag: 1,
            next_seq: 1,
        }
    }
}

impl Outbox {
    /// Queues a request for the network task; returns its tag.
    pub fn send(&mut self, request: Request, pending: Pending) -> u64 {
        let tag = self.next_tag;
        self.next_tag += 1;
        if request.seq().is_some() && pending.is_retriable() {
            self.retriable.insert(tag, request.clone());
        } else if authored_text(&request).is_some() {
            self.worded.insert(tag, request.clone());
        }
        self.pending.insert(tag, pending);
        self.queue.push(Outgoing { tag, request });
        tag
    }

    /// Queues a request that changes the room, built with the next `seq`.
    pub fn send_numbered(&mut self, pending: Pending, build: impl FnOnce(u64) -> Request) -> u64 {
        let seq = self.next_seq();
        self.send(build(seq), pending)
    }

    /// The next request sequence number.
    pub fn next_seq(&mut self) -> u64 {
        let s = self.next_seq;
        self.next_seq += 1;
        s
    }

    /// The answer to `tag` arrived: what it was for, and the request when
    /// it is one that may be sent again or carries the user's words.
    /// `None` for an answer to nothing we wait for.
    pub fn answered(&mut self, tag: u64) -> Option<(Pending, Option<Request>)> {
        let pending = self.pending.remove(&tag)?;
        let request = self.retriable.remove(&tag).or_else(|| self.worded.remove(&tag));
        Some((pending, request))
    }

    /// Requests not yet acknowledged that would be lost by quitting now,
    /// besides edits (waiting for an answer, or for the connection).
    pub fn waiting(&self) -> usize {
        self.unsent.len() + self.retriable.len()
    }
}

/// The words a user typed into a request, if it carries any.
pub fn authored_text(request: &Request) -> Option<&str> {
    match request {
        Request::Object { text, .. } | Request::Reply { text, .. } => Some(text),
        Request::SetObjectionStatus { rationale: Some(r), .. } => Some(r),
        Request::RequestAccess { reason, .. }
        | Request::Hold { reason, .. }
        | Request::ClearHold { rationale: reason, .. }
        | Request::Escalate { reason, .. }
        | Request::RejectSuggestion { reason, .. } => Some(reason),
        _ => None,
    }
    .filter(|t| !t.trim().is_empty())
    .map(String::as_str)
}

/// Saves words the server refused to `<dir>/<name>-<ms>.txt`, so the user
/// can copy them back (e.g. after losing the right to edit).
pub fn keep_text(dir: &Path, name: &str, text: &str) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
    let name: String = name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '-' }).collect();
    // Never over another file: two refusals in the same millisecond (two
    // TUIs sharing a log directory) each keep their own words.
    let mut n = 1u32;
    loop {
        let file = if n == 1 { format!("{name}-{ms}.txt") } else { format!("{name}-{ms}-{n}.txt") };
        let path = dir.join(file);
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(mut f) => {
                std::io::Write::write_all(&mut f, text.as_bytes())?;
                return Ok(path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 1000 => n += 1,
            Err(e) => return Err(e),
        }
    }
}
