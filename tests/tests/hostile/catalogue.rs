//! The catalogue of hostile cases.

use super::*;

/// What each case may use of the room as it is right before it runs.
pub(crate) struct Ctx {
    pub(crate) room: String,
    pub(crate) rev: u64,
    /// (id, title, body, len in chars)
    pub(crate) secs: Vec<(String, String, String, usize)>,
    pub(crate) open_objection: String,
    pub(crate) closed_objection: String,
}

impl Ctx {
    pub(crate) fn from_state(room: &str, state: &Value) -> anyhow::Result<Ctx> {
        let secs = state["sections"]
            .as_array()
            .ok_or_else(|| anyhow::anyhow!("no sections"))?
            .iter()
            .map(|s| {
                (
                    s["id"].as_str().unwrap_or_default().to_string(),
                    s["title"].as_str().unwrap_or_default().to_string(),
                    s["body"].as_str().unwrap_or_default().to_string(),
                    s["len"].as_u64().unwrap_or_default() as usize,
                )
            })
            .collect::<Vec<_>>();
        anyhow::ensure!(secs.len() >= 2, "the demo room needs sections");
        let objections = state["objections"].as_object().ok_or_else(|| anyhow::anyhow!("no objections"))?;
        let find = |open: bool| {
            objections
                .iter()
                .find(|(_, o)| (o["status"] == "open") == open)
                .map(|(id, _)| id.clone())
                .ok_or_else(|| anyhow::anyhow!("the demo room needs an objection with open={open}"))
        };
        Ok(Ctx {
            room: room.to_string(),
            rev: state["revision"].as_u64().unwrap_or_default(),
            secs,
            open_objection: find(true)?,
            closed_objection: find(false)?,
        })
    }

    pub(crate) fn sec(&self) -> &str {
        &self.secs[0].0
    }

    pub(crate) fn len(&self) -> usize {
        self.secs[0].3
    }
}

/// Who sends the case.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Who {
    /// The long-lived, joined owner connection (survives case after case).
    Owner,
    /// A fresh owner connection (for cases that end the connection).
    OwnerFresh,
    /// A fresh connection of the room's observer-role member.
    ObserverRole,
    /// A fresh connection of a valid user who is not a member of the room.
    Outsider,
    /// A fresh connection of the room's downstream member (privacy lane).
    Downstream,
    /// A websocket that has not said hello yet.
    PreHello,
    /// A bare TCP connection.
    Tcp,
}

/// How the case is sent.
pub(crate) enum Send {
    Text(String),
    Msgs(Vec<Message>),
    Nothing,
    TcpBytes(Vec<u8>),
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Echo {
    /// The error carries the request id.
    Yes,
    /// The frame had no usable id: `id` is null.
    Null,
    /// Either.
    Any,
}

/// The answer the case must get.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Want {
    /// `error` with this code; the connection stays usable.
    Err(&'static str, Echo),
    /// `closing` with this code, then the socket closes.
    Close(&'static str),
    /// `closing` with this code, or the socket closes without a frame.
    CloseOrDrop(&'static str),
    /// The server closes the TCP connection (no websocket yet).
    TcpClosed,
    /// A positive control: `ok`, exactly one new revision.
    Accept,
}

impl Want {
    pub(crate) fn usable(&self) -> bool {
        matches!(self, Want::Err(..) | Want::Accept)
    }

    pub(crate) fn show(&self) -> String {
        match self {
            Want::Err(c, _) => (*c).to_string(),
            Want::Close(c) => format!("closing[{c}]"),
            Want::CloseOrDrop(c) => format!("closing[{c}]|close"),
            Want::TcpClosed => "tcp closed".into(),
            Want::Accept => "ok (+1 rev)".into(),
        }
    }
}

/// Where the refusal must be audited.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Audit {
    /// One more `refused` entry in the room's chain.
    Room,
    /// One more `refused` entry in the `server` chain.
    Server,
    /// Refused before it concerns any room: not required.
    No,
}

pub(crate) type Build = Box<dyn Fn(&Ctx, &str) -> Send>;

/// Extra check of a positive case: (context before, room state after, body
/// of the newest stored revision).
pub(crate) type Check = fn(&Ctx, &Value, &str) -> Result<(), String>;

pub(crate) struct Case {
    pub(crate) name: &'static str,
    pub(crate) who: Who,
    pub(crate) want: Want,
    pub(crate) audit: Audit,
    pub(crate) build: Build,
    pub(crate) check: Option<Check>,
}

pub(crate) fn case(
    name: &'static str,
    who: Who,
    want: Want,
    audit: Audit,
    build: impl Fn(&Ctx, &str) -> Send + 'static,
) -> Case {
    Case { name, who, want, audit, build: Box::new(build), check: None }
}

pub(crate) fn positive(name: &'static str, build: impl Fn(&Ctx, &str) -> Send + 'static, check: Check) -> Case {
    Case { name, who: Who::Owner, want: Want::Accept, audit: Audit::No, build: Box::new(build), check: Some(check) }
}

pub(crate) fn section_body(state: &Value, pick: impl Fn(&Value) -> bool) -> Option<&str> {
    state["sections"].as_array()?.iter().find(|s| pick(s))?["body"].as_str()
}

/// The stored text has LF only: no CR, raw or JSON-escaped.
pub(crate) fn lf_only(stored: &str, body: &str, expect_stored: &str, expect_body: &str) -> Result<(), String> {
    if body.contains('\r') || !body.contains(expect_body) {
        let tail: String = body.chars().rev().take(40).collect::<Vec<_>>().into_iter().rev().collect();
        return Err(format!("room text not normalized: ...{tail:?}"));
    }
    if stored.contains('\r') || stored.contains("\\r") || !stored.contains(expect_stored) {
        return Err(format!("stored revision not normalized: {}", stored.chars().take(300).collect::<String>()));
    }
    Ok(())
}

/// A request: `v` plus `"id": id`.
pub(crate) fn rq(id: &str, mut v: Value) -> Send {
    if let Value::Object(m) = &mut v {
        m.insert("id".into(), json!(id));
    }
    Send::Text(v.to_string())
}

/// An edit of the first section at the current revision.
pub(crate) fn edit(c: &Ctx, id: &str, op: Value) -> Send {
    rq(id, json!({"type": "edit", "room": c.room, "section": c.sec(), "base": c.rev, "op": op}))
}

pub(crate) fn object(c: &Ctx, id: &str, text: &str) -> Send {
    rq(id, json!({"type": "object", "room": c.room, "section": c.sec(), "kind": "wording", "text": text}))
}

pub(crate) fn text_frame(bytes: Vec<u8>, fin: bool) -> Message {
    Message::Frame(Frame::message(bytes, OpCode::Data(Data::Text), fin))
}

pub(crate) fn continuation(bytes: Vec<u8>, fin: bool) -> Message {
    Message::Frame(Frame::message(bytes, OpCode::Data(Data::Continue), fin))
}

/// A syntactically valid ping padded with a JSON string to `total` bytes.
pub(crate) fn padded_ping(id: &str, total: usize) -> String {
    let head = format!(r#"{{"id":"{id}","type":"ping","pad":""#);
    let pad = total.saturating_sub(head.len() + 2);
    format!("{head}{}\"}}", "a".repeat(pad))
}

/// `text` split into `n` websocket fragments.
pub(crate) fn fragments(text: &str, n: usize) -> Vec<Message> {
    let bytes = text.as_bytes();
    let step = bytes.len().div_ceil(n);
    let chunks: Vec<&[u8]> = bytes.chunks(step).collect();
    let last = chunks.len() - 1;
    chunks
        .into_iter()
        .enumerate()
        .map(|(i, c)| if i == 0 { text_frame(c.to_vec(), i == last) } else { continuation(c.to_vec(), i == last) })
        .collect()
}

pub(crate) const RANDOM_UUID: &str = "0b7e3a4c-1d2f-4e5a-9b6c-7d8e9f0a1b2c";
pub(crate) const CRLF_TEXT: &str = "\r\nCRLF-A\r\nCRLF-B\rCRLF-C\r\n";
pub(crate) const CRLF_STORED: &str = "\nCRLF-A\nCRLF-B\nCRLF-C\n";

pub(crate) fn catalogue() -> Vec<Case> {
    use Audit::{No, Room, Server};
    use Echo::{Any, Null, Yes};
    use Want::{Close, CloseOrDrop, Err, TcpClosed};
    use Who::{Downstream, ObserverRole, Outsider, Owner, OwnerFresh, PreHello, Tcp};
    let hello = |v: Value| Send::Text(v.to_string());
    vec![
        // --- Handshake -----------------------------------------------------
        case("hs: request before hello", PreHello, Close("unauthenticated"), No, |_, id| {
            rq(id, json!({"type": "rooms"}))
        }),
        case("hs: unsupported protocol version", PreHello, Close("unsupported_version"), No, move |_, _| {
            hello(json!({"type": "hello", "protocol": 1, "token": "x"}))
        }),
        case("hs: protocol version over u32", PreHello, Close("invalid"), No, move |_, _| {
            hello(json!({"type": "hello", "protocol": 4_294_967_297u64, "token": "x"}))
        }),
        case("hs: bad token", PreHello, Close("unauthenticated"), Server, move |_, _| {
            hello(json!({"type": "hello", "protocol": 2, "token": "not-a-real-token"}))
        }),
        case("hs: hello without token", PreHello, Close("invalid"), No, move |_, _| {
            hello(json!({"type": "hello", "protocol": 2}))
        }),
        case("hs: hello is not JSON", PreHello, Close("malformed"), No, |_, _| Send::Text("hello?".into())),
        case("hs: binary frame before hello", PreHello, Close("malformed"), No, |_, _| {
            Send::Msgs(vec![Message::binary(b"{\"type\":\"hello\"}".to_vec())])
        }),
        case("hs: invalid UTF-8 before hello", PreHello, CloseOrDrop("malformed"), No, |_, _| {
            Send::Msgs(vec![text_frame(b"{\"type\":\"hello\",\"token\":\"\xff\xfe\"}".to_vec(), true)])
        }),
        case("hs: handshake never completed", PreHello, Close("timeout"), No, |_, _| Send::Nothing),
        case("hs: TCP connect, no websocket upgrade", Tcp, TcpClosed, No, |_, _| Send::TcpBytes(Vec::new())),
        case("hs: partial HTTP upgrade (slowloris)", Tcp, TcpClosed, No, |_, _| {
            Send::TcpBytes(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n".to_vec())
        }),
        // --- Not JSON / not an object --------------------------------------
        case("json: truncated", Owner, Err("malformed", Null), No, |_, id| {
            Send::Text(format!(r#"{{"id":"{id}","type":"#))
        }),
        case("json: array", Owner, Err("malformed", Null), No, |_, id| Send::Text(format!(r#"["{id}","ping"]"#))),
        case("json: string", Owner, Err("malformed", Null), No, |_, _| Send::Text(r#""ping""#.into())),
        case("json: number", Owner, Err("malformed", Null), No, |_, _| Send::Text("42".into())),
        case("json: null", Owner, Err("malformed", Null), No, |_, _| Send::Text("null".into())),
        case("json: empty text frame", Owner, Err("malformed", Null), No, |_, _| Send::Text(String::new())),
        case("json: BOM before object", Owner, Err("malformed", Null), No, |_, id| {
            Send::Text(format!("\u{feff}{{\"id\":\"{id}\",\"type\":\"ping\"}}"))
        }),
        case("json: lone surrogate escape", Owner, Err("malformed", Null), No, |c, id| {
            Send::Text(format!(
                r#"{{"id":"{id}","type":"object","room":"{}","section":"{}","kind":"wording","text":"\ud800"}}"#,
                c.room,
                c.sec()
            ))
        }),
        case("json: nesting bomb (10k levels)", Owner, Err("malformed", Null), No, |_, id| {
            Send::Text(format!(r#"{{"id":"{id}","type":"ping","x":{}{}}}"#, "[".repeat(10_000), "]".repeat(10_000)))
        }),
        case("json: huge number literal (5000 digits)", Owner, Err("malformed", Null), No, |c, id| {
            Send::Text(format!(r#"{{"id":"{id}","type":"join","room":"{}","since":{}}}"#, c.room, "9".repeat(5_000)))
        }),
        case("json: duplicate keys", Owner, Err("invalid", Any), No, |_, id| {
            Send::Text(format!(r#"{{"id":"{id}","type":"ping","type":"rooms"}}"#))
        }),
        // --- Envelope: id and type -----------------------------------------
        case("id: missing", Owner, Err("invalid", Null), No, |_, _| Send::Text(r#"{"type":"ping"}"#.into())),
        case("id: number", Owner, Err("invalid", Null), No, |_, _| Send::Text(r#"{"id":7,"type":"ping"}"#.into())),
        case("id: empty", Owner, Err("invalid", Null), No, |_, _| Send::Text(r#"{"id":"","type":"ping"}"#.into())),
        case("id: 65 bytes", Owner, Err("invalid", Null), No, |_, _| {
            Send::Text(json!({"id": "i".repeat(65), "type": "ping"}).to_string())
        }),
        case("type: unknown", Owner, Err("unknown_type", Yes), No, |_, id| rq(id, json!({"type": "drop_table"}))),
        case("type: unknown, 10k chars", Owner, Err("unknown_type", Yes), No, |_, id| {
            rq(id, json!({"type": "x".repeat(10_000)}))
        }),
        case("type: missing", Owner, Err("invalid", Yes), No, |c, id| rq(id, json!({"room": c.room}))),
        case("type: number", Owner, Err("invalid", Yes), No, |_, id| rq(id, json!({"type": 3}))),
        case("type: hello again after welcome", Owner, Err("invalid", Yes), No, |_, id| {
            rq(id, json!({"type": "hello", "protocol": 2, "token": "x"}))
        }),
        // --- Wrong field types ---------------------------------------------
        case("field: room as number", Owner, Err("invalid", Yes), No, |_, id| {
            rq(id, json!({"type": "join", "room": 5}))
        }),
        case("field: room not a uuid", Owner, Err("invalid", Yes), No, |_, id| {
            rq(id, json!({"type": "join", "room": "../../etc/passwd"}))
        }),
        case("field: base as string", Owner, Err("invalid", Yes), No, |c, id| {
            rq(id, json!({"type": "edit", "room": c.room, "section": c.sec(), "base": "7", "op": [c.len()]}))
        }),
        case("field: base negative", Owner, Err("invalid", Yes), No, |c, id| {
            rq(id, json!({"type": "edit", "room": c.room, "section": c.sec(), "base": -1, "op": [c.len()]}))
        }),
        case("field: op as object", Owner, Err("invalid", Yes), No, |c, id| edit(c, id, json!({"retain": 3}))),
        case("field: op null", Owner, Err("invalid", Yes), No, |c, id| edit(c, id, Value::Null)),
        case("field: op component float", Owner, Err("invalid", Yes), No, |c, id| edit(c, id, json!([1.5]))),
        case("field: op component bool", Owner, Err("invalid", Yes), No, |c, id| edit(c, id, json!([true]))),
        case("field: op count above i64", Owner, Err("invalid", Yes), No, |c, id| edit(c, id, json!([u64::MAX]))),
        case("field: op missing", Owner, Err("invalid", Yes), No, |c, id| {
            rq(id, json!({"type": "edit", "room": c.room, "section": c.sec(), "base": c.rev}))
        }),
        case("field: since above u64", Owner, Err("invalid", Yes), No, |c, id| {
            Send::Text(format!(r#"{{"id":"{id}","type":"join","room":"{}","since":99999999999999999999}}"#, c.room))
        }),
        case("field: cursor pos negative", Owner, Err("invalid", Yes), No, |c, id| {
            rq(id, json!({"type": "cursor", "room": c.room, "section": c.sec(), "pos": -1}))
        }),
        case("field: unknown objection kind", Owner, Err("invalid", Yes), No, |c, id| {
            rq(id, json!({"type": "object", "room": c.room, "section": c.sec(), "kind": "sabotage", "text": "x"}))
        }),
        case("field: unknown objection status", Owner, Err("invalid", Yes), No, |c, id| {
            rq(
                id,
                json!({"type": "set_objection_status", "room": c.room, "objection": c.open_objection, "status": "deleted"}),
            )
        }),
        case("field: unknown release lane", Owner, Err("invalid", Yes), No, |c, id| {
            rq(id, json!({"type": "release", "room": c.room, "lane": "everyone"}))
        }),
        // --- Unknown ids ---------------------------------------------------
        case("id: unknown room", Owner, Err("not_found", Yes), Server, |_, id| {
            rq(id, json!({"type": "join", "room": RANDOM_UUID}))
        }),
        case("id: room of which sender is not a member", Outsider, Err("not_found", Yes), Room, |c, id| {
            rq(id, json!({"type": "join", "room": c.room}))
        }),
        case("id: unknown section (edit)", Owner, Err("not_found", Yes), Room, |c, id| {
            rq(id, json!({"type": "edit", "room": c.room, "section": RANDOM_UUID, "base": c.rev, "op": ["x"]}))
        }),
        case("id: unknown objection (reply)", Owner, Err("not_found", Yes), Room, |c, id| {
            rq(id, json!({"type": "reply", "room": c.room, "objection": RANDOM_UUID, "text": "hi"}))
        }),
        case("id: unknown annex (view_annex)", Owner, Err("not_found", Yes), Room, |c, id| {
            rq(id, json!({"type": "view_annex", "room": c.room, "annex": RANDOM_UUID}))
        }),
        case("id: unknown `after` section", Owner, Err("not_found", Yes), Room, |c, id| {
            rq(id, json!({"type": "add_section", "room": c.room, "title": "Hostile after", "after": RANDOM_UUID}))
        }),
        case("id: unknown section (cursor)", Owner, Err("not_found", Yes), Room, |c, id| {
            rq(id, json!({"type": "cursor", "room": c.room, "section": RANDOM_UUID, "pos": 0}))
        }),
        case("id: leave a room never joined", OwnerFresh, Err("not_found", Yes), No, |c, id| {
            rq(id, json!({"type": "leave", "room": c.room}))
        }),
        case("id: objection statement index usize::MAX", Owner, Err("invalid", Yes), Room, |c, id| {
            rq(
                id,
                json!({"type": "object", "room": c.room, "section": c.sec(), "kind": "wording", "text": "x", "statement": u64::MAX}),
            )
        }),
        // --- Revisions and operations --------------------------------------
        case("op: base revision from the future", Owner, Err("stale", Yes), Room, |c, id| {
            rq(
                id,
                json!({"type": "edit", "room": c.room, "section": c.sec(), "base": c.rev + 1_000, "op": [c.len(), "x"]}),
            )
        }),
        case("op: base revision u64::MAX", Owner, Err("stale", Yes), Room, |c, id| {
            rq(id, json!({"type": "edit", "room": c.room, "section": c.sec(), "base": u64::MAX, "op": [c.len(), "x"]}))
        }),
        case("op: shorter than the section", Owner, Err("invalid", Yes), Room, |c, id| {
            edit(c, id, json!([c.len() - 1, "x"]))
        }),
        case("op: longer than the section", Owner, Err("invalid", Yes), Room, |c, id| {
            edit(c, id, json!([c.len() + 5, "x"]))
        }),
        case("op: empty on a non-empty section", Owner, Err("invalid", Yes), Room, |c, id| edit(c, id, json!([]))),
        case("op: zero-length component", Owner, Err("invalid", Yes), Room, |c, id| {
            edit(c, id, json!([0, c.len(), "x"]))
        }),
        case("op: i64::MIN delete", Owner, Err("too_large", Yes), Room, |c, id| edit(c, id, json!([i64::MIN]))),
        case("op: i64::MAX retain", Owner, Err("too_large", Yes), Room, |c, id| {
            edit(c, id, json!([i64::MAX, i64::MAX, "x"]))
        }),
        case("op: empty insert string", Owner, Err("invalid", Yes), Room, |c, id| edit(c, id, json!([c.len(), ""]))),
        case("op: too many components", Owner, Err("too_large", Yes), Room, |c, id| {
            edit(c, id, Value::Array(vec![json!(1); MAX_COMPONENTS + 1]))
        }),
        case("op: insert grows section over limit", Owner, Err("too_large", Yes), Room, |c, id| {
            edit(c, id, json!([c.len(), "x".repeat(MAX_SECTION)]))
        }),
        case("op: insert with BEL control char", Owner, Err("invalid", Yes), Room, |c, id| {
            edit(c, id, json!([c.len(), "ding\u{7}"]))
        }),
        case("op: insert with NUL", Owner, Err("invalid", Yes), Room, |c, id| edit(c, id, json!([c.len(), "a\u{0}b"]))),
        // --- Frames --------------------------------------------------------
        case("frame: over max_frame_bytes", Owner, Err("too_large", Null), No, |_, id| {
            Send::Text(padded_ping(id, MAX_FRAME + 1))
        }),
        case("frame: fragmented message over max_frame_bytes", Owner, Err("too_large", Null), No, |_, id| {
            Send::Msgs(fragments(&padded_ping(id, MAX_FRAME + 1024), 5))
        }),
        case("frame: binary", Owner, Err("malformed", Null), No, |_, id| {
            Send::Msgs(vec![Message::binary(format!(r#"{{"id":"{id}","type":"ping"}}"#).into_bytes())])
        }),
        case("frame: over the hard limit", OwnerFresh, CloseOrDrop("too_large"), No, |_, id| {
            Send::Text(padded_ping(id, HARD_FRAME + 1))
        }),
        case("frame: fragments summing over the hard limit", OwnerFresh, CloseOrDrop("too_large"), No, |_, id| {
            Send::Msgs(fragments(&padded_ping(id, HARD_FRAME + 16 * 1024), 20))
        }),
        case("frame: invalid UTF-8 in a text frame", OwnerFresh, CloseOrDrop("malformed"), No, |_, id| {
            let mut bytes = format!(r#"{{"id":"{id}","type":"ping","x":""#).into_bytes();
            bytes.extend_from_slice(b"\xc3\x28\xed\xa0\x80\"}");
            Send::Msgs(vec![text_frame(bytes, true)])
        }),
        case("frame: reserved opcode", OwnerFresh, CloseOrDrop("malformed"), No, |_, id| {
            let body = format!(r#"{{"id":"{id}","type":"ping"}}"#).into_bytes();
            Send::Msgs(vec![Message::Frame(Frame::message(body, OpCode::Data(Data::Reserved(3)), true))])
        }),
        case("frame: continuation without a start", OwnerFresh, CloseOrDrop("malformed"), No, |_, id| {
            Send::Msgs(vec![continuation(format!(r#"{{"id":"{id}","type":"ping"}}"#).into_bytes(), true)])
        }),
        // --- Objections and free text --------------------------------------
        case("text: objection with ANSI escape", Owner, Err("invalid", Yes), Room, |c, id| {
            object(c, id, "looks fine \u{1b}[2J\u{1b}[H")
        }),
        case("text: objection with NUL", Owner, Err("invalid", Yes), Room, |c, id| object(c, id, "a\u{0}b")),
        case("text: objection over max_text_chars", Owner, Err("too_large", Yes), Room, |c, id| {
            object(c, id, &"é".repeat(MAX_TEXT + 1))
        }),
        case("text: objection whitespace only", Owner, Err("invalid", Yes), Room, |c, id| object(c, id, " \n\t ")),
        case("text: reply with control chars", Owner, Err("invalid", Yes), Room, |c, id| {
            rq(id, json!({"type": "reply", "room": c.room, "objection": c.open_objection, "text": "ok\u{8}\u{8}"}))
        }),
        case("text: quote not in the section", Owner, Err("invalid", Yes), Room, |c, id| {
            rq(
                id,
                json!({"type": "object", "room": c.room, "section": c.sec(), "kind": "wording", "text": "x",
                "quote": "this sentence is nowhere in the packet"}),
            )
        }),
        case("status: accepted-residual without rationale", Owner, Err("invalid", Yes), Room, |c, id| {
            rq(
                id,
                json!({"type": "set_objection_status", "room": c.room, "objection": c.open_objection,
                "status": "accepted-residual"}),
            )
        }),
        case("status: accepted-residual, blank rationale", Owner, Err("invalid", Yes), Room, |c, id| {
            rq(
                id,
                json!({"type": "set_objection_status", "room": c.room, "objection": c.open_objection,
                "status": "accepted-residual", "rationale": "   "}),
            )
        }),
        case("status: change on a closed objection", Owner, Err("conflict", Yes), Room, |c, id| {
            rq(
                id,
                json!({"type": "set_objection_status", "room": c.room, "objection": c.closed_objection,
                "status": "addressed"}),
            )
        }),
        case("status: reopen a final (accepted-residual) one", Owner, Err("conflict", Yes), Room, |c, id| {
            rq(
                id,
                json!({"type": "set_objection_status", "room": c.room, "objection": c.closed_objection,
                "status": "open"}),
            )
        }),
        // --- Sections, cursors, release ------------------------------------
        case("section: title over 200 chars", Owner, Err("too_large", Yes), Room, |c, id| {
            rq(id, json!({"type": "add_section", "room": c.room, "title": "t".repeat(201)}))
        }),
        case("section: title with control chars", Owner, Err("invalid", Yes), Room, |c, id| {
            rq(id, json!({"type": "add_section", "room": c.room, "title": "Evil\u{1b}]0;pwned\u{7}"}))
        }),
        case("section: duplicate title", Owner, Err("conflict", Yes), Room, |c, id| {
            rq(id, json!({"type": "add_section", "room": c.room, "title": c.secs[1].1}))
        }),
        case("section: body over max_section_chars", Owner, Err("too_large", Yes), Room, |c, id| {
            rq(id, json!({"type": "add_section", "room": c.room, "title": "Big", "body": "b".repeat(MAX_SECTION + 1)}))
        }),
        case("cursor: beyond the section end", Owner, Err("invalid", Yes), Room, |c, id| {
            rq(id, json!({"type": "cursor", "room": c.room, "section": c.sec(), "pos": c.len() + 1}))
        }),
        case("cursor: anchor beyond the section end", Owner, Err("invalid", Yes), Room, |c, id| {
            rq(id, json!({"type": "cursor", "room": c.room, "section": c.sec(), "pos": 0, "anchor": usize::MAX}))
        }),
        case("authz: observer edits", ObserverRole, Err("forbidden", Yes), Room, |c, id| {
            edit(c, id, json!([c.len(), "x"]))
        }),
        case("release: before marked ready", Owner, Err("conflict", Yes), Room, |c, id| {
            rq(id, json!({"type": "release", "room": c.room, "lane": "privacy"}))
        }),
        case("release: hold with empty reason", Owner, Err("invalid", Yes), Room, |c, id| {
            rq(id, json!({"type": "hold", "room": c.room, "reason": ""}))
        }),
        // --- The hold register: numbers, rationales, callers ----------------
        case("clear_hold: hold 0", Owner, Err("invalid", Yes), Room, |c, id| {
            rq(id, json!({"type": "clear_hold", "room": c.room, "hold": 0, "rationale": "Legal signed off."}))
        }),
        case("clear_hold: no such hold", Owner, Err("not_found", Yes), Room, |c, id| {
            rq(
                id,
                json!({"type": "clear_hold", "room": c.room, "hold": 4_294_967_295u64, "rationale": "Legal signed off."}),
            )
        }),
        case("clear_hold: hold negative", Owner, Err("invalid", Yes), No, |c, id| {
            rq(id, json!({"type": "clear_hold", "room": c.room, "hold": -1, "rationale": "Legal signed off."}))
        }),
        case("clear_hold: hold 2^32", Owner, Err("invalid", Yes), No, |c, id| {
            rq(id, json!({"type": "clear_hold", "room": c.room, "hold": 1u64 << 32, "rationale": "Legal signed off."}))
        }),
        case("clear_hold: hold 2^63", Owner, Err("invalid", Yes), No, |c, id| {
            rq(id, json!({"type": "clear_hold", "room": c.room, "hold": 1u64 << 63, "rationale": "Legal signed off."}))
        }),
        case("clear_hold: hold as code string", Owner, Err("invalid", Yes), No, |c, id| {
            rq(id, json!({"type": "clear_hold", "room": c.room, "hold": "H-1", "rationale": "Legal signed off."}))
        }),
        case("clear_hold: empty rationale", Owner, Err("invalid", Yes), Room, |c, id| {
            rq(id, json!({"type": "clear_hold", "room": c.room, "hold": 1, "rationale": ""}))
        }),
        case("clear_hold: zero-width rationale", Owner, Err("invalid", Yes), Room, |c, id| {
            rq(id, json!({"type": "clear_hold", "room": c.room, "hold": 1, "rationale": "\u{200b}\u{2060} \u{feff}"}))
        }),
        case("clear_hold: rationale missing", Owner, Err("invalid", Yes), No, |c, id| {
            rq(id, json!({"type": "clear_hold", "room": c.room, "hold": 1}))
        }),
        case("clear_hold: observer", ObserverRole, Err("forbidden", Yes), Room, |c, id| {
            rq(id, json!({"type": "clear_hold", "room": c.room, "hold": 1, "rationale": "Legal signed off."}))
        }),
        case("clear_hold: outsider", Outsider, Err("not_found", Yes), Room, |c, id| {
            rq(id, json!({"type": "clear_hold", "room": c.room, "hold": 1, "rationale": "Legal signed off."}))
        }),
        case("holds: outsider", Outsider, Err("not_found", Yes), Room, |c, id| {
            rq(id, json!({"type": "holds", "room": c.room}))
        }),
        // --- Downstream lanes: their own requests only, values checked -----
        case("downstream: join", Downstream, Err("forbidden", Yes), Room, |c, id| {
            rq(id, json!({"type": "join", "room": c.room}))
        }),
        case("downstream: readiness", Downstream, Err("forbidden", Yes), Room, |c, id| {
            rq(id, json!({"type": "readiness", "room": c.room}))
        }),
        case("downstream: export", Downstream, Err("forbidden", Yes), Room, |c, id| {
            rq(id, json!({"type": "export", "room": c.room, "format": "json"}))
        }),
        case("lane_release: made-up manifest", Downstream, Err("not_found", Yes), Room, |c, id| {
            rq(id, json!({"type": "lane_release", "room": c.room, "manifest": "0".repeat(64)}))
        }),
        case("lane_release: manifest of wrong length", Downstream, Err("invalid", Yes), Room, |c, id| {
            rq(id, json!({"type": "lane_release", "room": c.room, "manifest": "ab".repeat(31)}))
        }),
        case("lane_release: manifest not hex", Downstream, Err("invalid", Yes), Room, |c, id| {
            rq(id, json!({"type": "lane_release", "room": c.room, "manifest": "z".repeat(64)}))
        }),
        case("lane_release: manifest missing", Downstream, Err("invalid", Yes), No, |c, id| {
            rq(id, json!({"type": "lane_release", "room": c.room}))
        }),
        case("intake: unknown decision", Downstream, Err("invalid", Yes), No, |c, id| {
            rq(id, json!({"type": "intake", "room": c.room, "manifest": "0".repeat(64), "decision": "maybe"}))
        }),
        case("intake: returned, made-up manifest", Downstream, Err("not_found", Yes), Room, |c, id| {
            rq(
                id,
                json!({"type": "intake", "room": c.room, "manifest": "0".repeat(64), "decision": "returned", "reason": "Stale."}),
            )
        }),
        case("report_finding: unknown kind", Downstream, Err("invalid", Yes), No, |c, id| {
            rq(
                id,
                json!({"type": "report_finding", "room": c.room, "manifest": "0".repeat(64), "kind": "typo", "text": "x"}),
            )
        }),
        case("report_finding: empty text", Downstream, Err("invalid", Yes), Room, |c, id| {
            rq(
                id,
                json!({"type": "report_finding", "room": c.room, "manifest": "0".repeat(64), "kind": "correction-needed", "text": ""}),
            )
        }),
        case("report_finding: zero-width text", Downstream, Err("invalid", Yes), Room, |c, id| {
            rq(
                id,
                json!({"type": "report_finding", "room": c.room, "manifest": "0".repeat(64), "kind": "correction-needed",
                       "text": "\u{200b}\u{2060} \u{feff}"}),
            )
        }),
        case("report_finding: text over the limit", Downstream, Err("too_large", Yes), Room, |c, id| {
            rq(
                id,
                json!({"type": "report_finding", "room": c.room, "manifest": "0".repeat(64), "kind": "correction-needed",
                       "text": "é".repeat(MAX_TEXT + 1)}),
            )
        }),
        case("report_finding: owner", Owner, Err("forbidden", Yes), Room, |c, id| {
            rq(
                id,
                json!({"type": "report_finding", "room": c.room, "manifest": "0".repeat(64), "kind": "correction-needed", "text": "x"}),
            )
        }),
        case("lane_releases: observer", ObserverRole, Err("forbidden", Yes), Room, |c, id| {
            rq(id, json!({"type": "lane_releases", "room": c.room}))
        }),
        case("lane_releases: outsider", Outsider, Err("not_found", Yes), Room, |c, id| {
            rq(id, json!({"type": "lane_releases", "room": c.room}))
        }),
        // --- Positive controls: CRLF is normalized at the boundary ---------
        positive(
            "positive: CRLF/CR in a new section body -> LF",
            |c, id| {
                rq(
                    id,
                    json!({"type": "add_section", "room": c.room, "title": "CRLF control", "body": format!("top{CRLF_TEXT}")}),
                )
            },
            |_, state, stored| {
                let body = section_body(state, |s| s["title"] == "CRLF control")
                    .ok_or_else(|| "section not added".to_string())?;
                lf_only(stored, body, "CRLF-A\\nCRLF-B\\nCRLF-C", &format!("top{CRLF_STORED}"))
            },
        ),
        positive(
            "positive: CRLF/CR in an edit insert -> LF",
            |c, id| edit(c, id, json!([c.len(), CRLF_TEXT])),
            |c, state, stored| {
                let body = section_body(state, |s| s["id"] == c.sec()).ok_or_else(|| "section gone".to_string())?;
                if !body.ends_with(CRLF_STORED) {
                    return Result::Err(format!(
                        "insert not at the end of the section: {:?}",
                        body.chars().rev().take(30).collect::<String>()
                    ));
                }
                lf_only(stored, body, "CRLF-A\\nCRLF-B\\nCRLF-C", CRLF_STORED)
            },
        ),
    ]
}
