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
use trustroom_shared::ot::WireOp;
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

/// The fields of a server frame the load run reads.
#[derive(Deserialize)]
pub struct LiteFrame<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: &'a str,
    #[serde(default)]
    pub rev: Option<LiteRev<'a>>,
    #[serde(default, borrow)]
    pub id: Option<&'a str>,
    #[serde(default, borrow)]
    pub code: Option<&'a str>,
    #[serde(default)]
    pub message: Option<String>,
}

#[derive(Deserialize)]
pub struct LiteRev<'a> {
    pub revision: u64,
    #[serde(default, borrow)]
    pub client: Option<LiteStamp<'a>>,
    #[serde(borrow)]
    pub change: LiteChange<'a>,
}

#[derive(Deserialize)]
pub struct LiteStamp<'a> {
    pub client: &'a str,
    pub seq: u64,
}

#[derive(Deserialize)]
pub struct LiteChange<'a> {
    #[serde(borrow)]
    pub kind: &'a str,
    #[serde(default, borrow)]
    pub section: Option<&'a str>,
    #[serde(default)]
    pub op: Option<WireOp>,
}
