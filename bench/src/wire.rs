//! The websocket side of the generator: handshake, request/answer, and a
//! light parse of pushed event frames (only the fields the measurement
//! needs, borrowed from the frame) so the generator can keep up with
//! hundreds of thousands of deliveries per second on one core.

use anyhow::Context;
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use trustroom_shared::ClientId;
use trustroom_shared::ot::TextOp;
use trustroom_shared::protocol::{ClientFrame, Hello, PROTOCOL_VERSION, Request, ServerFrame, hello_frame};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Connects and completes the handshake as `client`.
pub async fn connect(url: &str, token: &str, client: ClientId) -> anyhow::Result<Ws> {
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.with_context(|| format!("connecting to {url}"))?;
    let hello = Hello { protocol: PROTOCOL_VERSION, token: token.to_string(), client: Some(client) };
    ws.send(Message::text(hello_frame(&hello))).await?;
    loop {
        match ws.next().await.context("closed during hello")?? {
            Message::Text(t) => match serde_json::from_str::<ServerFrame>(&t)? {
                ServerFrame::Welcome { .. } => return Ok(ws),
                other => anyhow::bail!("handshake refused: {other:?}"),
            },
            _ => continue,
        }
    }
}

/// Sends a request and waits for its answer (pushed frames are skipped).
pub async fn request(ws: &mut Ws, id: &str, req: Request) -> anyhow::Result<Value> {
    let frame = ClientFrame { id: id.to_string(), request: req };
    ws.send(Message::text(serde_json::to_string(&frame)?)).await?;
    loop {
        if let Message::Text(t) = ws.next().await.context("closed")?? {
            match serde_json::from_str::<ServerFrame>(&t)? {
                ServerFrame::Ok { id: rid, result } if rid == id => return Ok(result),
                ServerFrame::Error { id: Some(rid), code, message } if rid == id => anyhow::bail!("{code}: {message}"),
                _ => continue,
            }
        }
    }
}

/// The fields of an `error` or `closing` frame the load run reports.
#[derive(Deserialize)]
pub struct LiteFrame<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: &'a str,
    #[serde(default, borrow)]
    pub id: Option<&'a str>,
    #[serde(default, borrow)]
    pub code: Option<&'a str>,
    #[serde(default)]
    pub message: Option<String>,
}

/// What a pushed frame is, read without a JSON parser.
pub enum Scanned<'a> {
    Event(ScannedEvent<'a>),
    /// `error` or `closing`: parse it properly.
    Refusal,
    /// Anything else (answers, presence, snapshots).
    Other,
}

/// The fields of an `event` frame the load run needs.
pub struct ScannedEvent<'a> {
    pub revision: u64,
    /// (client id, seq) of the request that made it.
    pub stamp: Option<(&'a str, u64)>,
    /// The edited section (`None` for other changes).
    pub section: Option<&'a str>,
    /// Characters inserted minus characters deleted.
    pub delta: i64,
    /// The edit's operation (`None` when an inserted text holds JSON
    /// escapes: parse the frame properly then).
    pub op: Option<TextOp>,
}

/// Reads an event frame by scanning for its fields (the server writes them
/// in a fixed order with serde_json, and ids are plain UUIDs), which costs a
/// fraction of a full parse: the generator reads hundreds of thousands of
/// events per second on one core.
pub fn scan_event(text: &str) -> Scanned<'_> {
    // serde writes the tag of an internally tagged enum first.
    if !text.starts_with("{\"type\":\"event\"") {
        if text.starts_with("{\"type\":\"error\"") || text.starts_with("{\"type\":\"closing\"") {
            return Scanned::Refusal;
        }
        return Scanned::Other;
    }
    let Some(revision) = after(text, "\"revision\":").and_then(|r| number(r).map(|n| n.0 as u64)) else {
        return Scanned::Other;
    };
    let stamp = after(text, "\"client\":{\"client\":\"").and_then(|r| {
        let id = r.get(..36)?;
        let seq = after(r, "\"seq\":").and_then(number)?.0 as u64;
        Some((id, seq))
    });
    let mut event = ScannedEvent { revision, stamp, section: None, delta: 0, op: None };
    if let Some(change) = after(text, "\"kind\":\"section_edited\"") {
        event.section = after(change, "\"section\":\"").and_then(|r| r.get(..36));
        if let Some(mut op) = after(change, "\"op\":[") {
            // Components: retain (n > 0), delete (n < 0), insert ("text").
            let mut built = Some(TextOp::new());
            loop {
                op = op.trim_start_matches(',');
                if op.starts_with('"') {
                    let mut chars = 0i64;
                    let mut escaped = false;
                    let mut hex_left = 0;
                    let mut end = None;
                    for (i, c) in op[1..].char_indices() {
                        if hex_left > 0 {
                            hex_left -= 1;
                            continue;
                        }
                        if escaped {
                            // One character per escape; `\uXXXX` spans four more.
                            escaped = false;
                            chars += 1;
                            if c == 'u' {
                                hex_left = 4;
                            }
                            continue;
                        }
                        match c {
                            '\\' => escaped = true,
                            '"' => {
                                end = Some(i + 2);
                                break;
                            }
                            _ => chars += 1,
                        }
                    }
                    event.delta += chars;
                    let Some(e) = end else { break };
                    let raw = &op[1..e - 1];
                    if raw.contains('\\') {
                        built = None;
                    } else if let Some(b) = built.as_mut() {
                        b.insert(raw);
                    }
                    op = &op[e..];
                } else if let Some((n, rest)) = number(op) {
                    if n < 0 {
                        event.delta += n;
                    }
                    if let Some(b) = built.as_mut() {
                        if n < 0 {
                            b.delete(n.unsigned_abs() as usize);
                        } else {
                            b.retain(n as usize);
                        }
                    }
                    op = rest;
                } else {
                    break;
                }
            }
            event.op = built;
        }
    }
    Scanned::Event(event)
}

fn after<'a>(text: &'a str, pat: &str) -> Option<&'a str> {
    text.find(pat).map(|i| &text[i + pat.len()..])
}

/// A leading integer and the rest.
fn number(text: &str) -> Option<(i64, &str)> {
    let end = text
        .char_indices()
        .find(|(i, c)| !(c.is_ascii_digit() || (*i == 0 && *c == '-')))
        .map_or(text.len(), |(i, _)| i);
    Some((text[..end].parse().ok()?, &text[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_an_event_like_a_parser_would() {
        let text = r#"{"type":"event","room":"0195a0a0-0000-7000-8000-000000000001","rev":{"revision":42,"author":"0195a0a0-0000-7000-8000-000000000002","at_ms":1,"client":{"client":"0195a0a0-0000-7000-8000-000000000003","seq":7},"change":{"kind":"section_edited","section":"0195a0a0-0000-7000-8000-000000000004","op":[3,"aé\"b\u00e9",-2,5]}}}"#;
        let Scanned::Event(e) = scan_event(text) else { panic!("not an event") };
        assert_eq!(e.revision, 42);
        assert_eq!(e.stamp, Some(("0195a0a0-0000-7000-8000-000000000003", 7)));
        assert_eq!(e.section, Some("0195a0a0-0000-7000-8000-000000000004"));
        assert_eq!(e.delta, 5 - 2);
        assert!(e.op.is_none(), "escaped text is left to the full parser");
        let plain = text.replace(r#""aé\"b\u00e9""#, r#""aé""#);
        let Scanned::Event(e) = scan_event(&plain) else { panic!("not an event") };
        let mut want = TextOp::new();
        want.retain(3).insert("aé").delete(2).retain(5);
        assert_eq!(e.op, Some(want));
        assert!(matches!(scan_event(r#"{"type":"ok","id":"e1","result":{}}"#), Scanned::Other));
        assert!(matches!(scan_event(r#"{"type":"error","id":"e1","code":"stale"}"#), Scanned::Refusal));
    }
}
