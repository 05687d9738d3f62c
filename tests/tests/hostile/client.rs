//! A raw websocket client, and the well-behaved observer that checks nothing changed.

use super::*;

/// One thing read from a socket.
pub(crate) enum Rx {
    Json(Value),
    Closed(String),
    Silent,
    Garbage(String),
}

pub(crate) async fn recv(ws: &mut Ws, wait: Duration) -> Rx {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Err(_) => return Rx::Silent,
            Ok(None) => return Rx::Closed("end of stream".into()),
            Ok(Some(Err(e))) => return Rx::Closed(format!("socket error: {e}")),
            Ok(Some(Ok(Message::Text(t)))) => {
                return match serde_json::from_str(t.as_str()) {
                    Ok(v) => Rx::Json(v),
                    Err(_) => {
                        Rx::Garbage(format!("non-JSON text: {}", t.as_str().chars().take(80).collect::<String>()))
                    }
                };
            }
            Ok(Some(Ok(Message::Close(f)))) => return Rx::Closed(format!("close frame {f:?}")),
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
            Ok(Some(Ok(other))) => return Rx::Garbage(format!("unexpected message {other:?}")),
        }
    }
}

pub(crate) async fn connect(url: &str) -> anyhow::Result<Ws> {
    let (ws, _) = tokio_tungstenite::connect_async(url).await?;
    Ok(ws)
}

pub(crate) async fn login(url: &str, token: &str) -> anyhow::Result<Ws> {
    let mut ws = connect(url).await?;
    ws.send(Message::text(json!({"type": "hello", "protocol": 2, "token": token}).to_string())).await?;
    match recv(&mut ws, ANSWER_WAIT).await {
        Rx::Json(v) if v["type"] == "welcome" => Ok(ws),
        Rx::Json(v) => anyhow::bail!("handshake refused: {v}"),
        _ => anyhow::bail!("no welcome"),
    }
}

/// What a hostile request got back.
#[derive(Debug)]
pub(crate) enum Got {
    Error { id: Option<String>, code: String, message: String },
    Closing { code: String },
    Ok,
    Dropped(String),
    Silent,
    Unexpected(String),
}

impl Got {
    pub(crate) fn show(&self) -> String {
        match self {
            Got::Error { id: Some(_), code, .. } => format!("error[{code}] id"),
            Got::Error { id: None, code, .. } => format!("error[{code}] id=null"),
            Got::Closing { code } => format!("closing[{code}]"),
            Got::Ok => "ok".into(),
            Got::Dropped(why) => format!("closed, no frame ({})", why.chars().take(24).collect::<String>()),
            Got::Silent => "no answer".into(),
            Got::Unexpected(s) => format!("unexpected: {}", s.chars().take(60).collect::<String>()),
        }
    }

    /// The server's message or why the socket ended, for failure reports.
    pub(crate) fn detail(&self) -> String {
        match self {
            Got::Error { message, .. } => format!("message: {message:?}"),
            Got::Dropped(why) => why.clone(),
            Got::Unexpected(s) => s.chars().take(300).collect(),
            Got::Closing { .. } | Got::Ok | Got::Silent => String::new(),
        }
    }
}

/// Reads until the answer to the outstanding request: `ok`, `error` or
/// `closing` (pushed frames in between are skipped; events are counted).
pub(crate) async fn answer(ws: &mut Ws, wait: Duration) -> (Got, usize) {
    let mut events = 0;
    loop {
        match recv(ws, wait).await {
            Rx::Json(v) => match v["type"].as_str().unwrap_or_default() {
                "error" => {
                    let id = v["id"].as_str().map(str::to_string);
                    let code = v["code"].as_str().unwrap_or("?").to_string();
                    let message = v["message"].as_str().unwrap_or_default().to_string();
                    return (Got::Error { id, code, message }, events);
                }
                "closing" => return (Got::Closing { code: v["code"].as_str().unwrap_or("?").to_string() }, events),
                "ok" => return (Got::Ok, events),
                "event" => events += 1,
                "pong" | "presence" | "presence_gone" | "snapshot" => {}
                _ => return (Got::Unexpected(v.to_string()), events),
            },
            Rx::Closed(why) => return (Got::Dropped(why), events),
            Rx::Silent => return (Got::Silent, events),
            Rx::Garbage(s) => return (Got::Unexpected(s), events),
        }
    }
}

/// The connection still works: `ping` gets `pong` + `ok`, `rooms` gets a list.
pub(crate) async fn check_usable(ws: &mut Ws, n: usize, room: &str, member: bool) -> Result<(), String> {
    let ping_id = format!("ping-{n}");
    ws.send(Message::text(json!({"id": ping_id, "type": "ping"}).to_string()))
        .await
        .map_err(|e| format!("cannot send ping: {e}"))?;
    let mut pong = false;
    loop {
        match recv(ws, ANSWER_WAIT).await {
            Rx::Json(v) if v["type"] == "pong" => pong = true,
            Rx::Json(v) if v["type"] == "ok" && v["id"] == ping_id.as_str() => break,
            Rx::Json(v) if matches!(v["type"].as_str(), Some("event" | "presence" | "presence_gone" | "snapshot")) => {}
            Rx::Json(v) => return Err(format!("ping answered with {v}")),
            Rx::Closed(w) => return Err(format!("connection closed instead of answering ping ({w})")),
            Rx::Silent => return Err("ping not answered".into()),
            Rx::Garbage(g) => return Err(g),
        }
    }
    if !pong {
        return Err("ping: `ok` without `pong`".into());
    }
    let rooms_id = format!("rooms-{n}");
    ws.send(Message::text(json!({"id": rooms_id, "type": "rooms"}).to_string()))
        .await
        .map_err(|e| format!("cannot send rooms: {e}"))?;
    loop {
        match recv(ws, ANSWER_WAIT).await {
            Rx::Json(v) if v["type"] == "ok" && v["id"] == rooms_id.as_str() => {
                let Some(list) = v["result"]["rooms"].as_array() else {
                    return Err(format!("rooms result without a list: {v}"));
                };
                let listed = list.iter().any(|r| r["id"] == room);
                if listed != member {
                    return Err(format!("rooms list wrong (room listed: {listed}): {v}"));
                }
                return Ok(());
            }
            Rx::Json(v) if matches!(v["type"].as_str(), Some("event" | "presence" | "presence_gone" | "snapshot")) => {}
            Rx::Json(v) => return Err(format!("rooms answered with {v}")),
            Rx::Closed(w) => return Err(format!("connection closed instead of answering rooms ({w})")),
            Rx::Silent => return Err("rooms not answered".into()),
            Rx::Garbage(g) => return Err(g),
        }
    }
}

/// After a `closing`, the server must actually close the socket.
pub(crate) async fn check_closed(ws: &mut Ws) -> Result<(), String> {
    loop {
        match recv(ws, Duration::from_secs(2)).await {
            Rx::Closed(_) => return Ok(()),
            Rx::Json(v) if v["type"] == "closing" => {}
            Rx::Json(v) => return Err(format!("frame after closing: {v}")),
            Rx::Silent => return Err("socket left open after closing".into()),
            Rx::Garbage(g) => return Err(g),
        }
    }
}

pub(crate) struct Observer {
    pub(crate) ws: Ws,
    pub(crate) n: usize,
    pub(crate) room: String,
}

pub(crate) struct Look {
    pub(crate) revision: u64,
    pub(crate) content_hash: String,
    pub(crate) state: Value,
    /// `event` frames received since the previous look.
    pub(crate) events: usize,
}

impl Observer {
    /// (Re-)joins the room and reads the fresh snapshot.
    pub(crate) async fn look(&mut self) -> anyhow::Result<Look> {
        self.n += 1;
        let id = format!("obs-{}", self.n);
        self.ws.send(Message::text(json!({"id": id, "type": "join", "room": self.room}).to_string())).await?;
        let mut events = 0;
        let mut snapshot = None;
        loop {
            match recv(&mut self.ws, ANSWER_WAIT).await {
                Rx::Json(v) => match v["type"].as_str().unwrap_or_default() {
                    "event" => events += 1,
                    "snapshot" => snapshot = Some(v),
                    "ok" if v["id"] == id.as_str() => break,
                    "presence" | "presence_gone" => {}
                    _ => anyhow::bail!("observer got {v}"),
                },
                _ => anyhow::bail!("observer connection failed"),
            }
        }
        let snap = snapshot.ok_or_else(|| anyhow::anyhow!("join without snapshot"))?;
        let s = &snap["snapshot"];
        Ok(Look {
            revision: s["state"]["revision"].as_u64().ok_or_else(|| anyhow::anyhow!("no revision"))?,
            content_hash: s["content_hash"].as_str().unwrap_or_default().to_string(),
            state: s["state"].clone(),
            events,
        })
    }
}
