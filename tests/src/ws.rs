//! The websocket client: handshake, answers matched to requests by id, pushed frames buffered, every text frame recorded for leak checks.

use super::*;

pub(crate) type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// One read from the socket.
pub(crate) enum Read {
    Text(String),
    Closed,
    TimedOut,
}

/// A raw websocket client that records every text frame it receives.
pub struct WsClient {
    ws: Ws,
    /// The server's `welcome` frame.
    pub welcome: Value,
    /// The client id this connection uses (sent in `hello`).
    pub client_id: ClientId,
    /// The authenticated user's id.
    pub user: String,
    /// Frames received but not yet consumed (pushed frames, early answers).
    pending: VecDeque<(String, Value)>,
    /// Every text frame received, in order (the welcome included).
    pub(crate) captured: Vec<String>,
    next_id: u64,
    closed: bool,
}

impl WsClient {
    /// Connects with a fresh client id and completes the handshake.
    pub async fn connect(url: &str, token: &str) -> anyhow::Result<WsClient> {
        Self::connect_as(url, token, Some(ClientId::new())).await
    }

    /// Connects with a chosen client id (`None`: let the server pick one).
    pub async fn connect_as(url: &str, token: &str, client: Option<ClientId>) -> anyhow::Result<WsClient> {
        let (ws, _) = tokio::time::timeout(T, tokio_tungstenite::connect_async(url))
            .await
            .context("websocket connect timed out")?
            .with_context(|| format!("connecting to {url}"))?;
        let mut c = WsClient {
            ws,
            welcome: Value::Null,
            client_id: client.unwrap_or_default(),
            user: String::new(),
            pending: VecDeque::new(),
            captured: Vec::new(),
            next_id: 0,
            closed: false,
        };
        let mut hello = json!({"type": "hello", "protocol": 2, "token": token});
        if let Some(id) = client {
            hello["client"] = json!(id);
        }
        c.send_raw(&hello.to_string()).await?;
        let deadline = Instant::now() + T;
        let first = match c.read(deadline).await? {
            Read::Text(t) => t,
            Read::Closed => bail!("the server closed the connection during the handshake"),
            Read::TimedOut => bail!("no answer to hello within {T:?}"),
        };
        let v: Value = serde_json::from_str(&first).with_context(|| format!("welcome is not JSON: {first}"))?;
        if v["type"] != "welcome" {
            bail!("handshake refused: {first}");
        }
        c.client_id = serde_json::from_value(v["client"].clone()).context("welcome without a client id")?;
        c.user = v["user"].as_str().unwrap_or_default().to_string();
        c.welcome = v;
        Ok(c)
    }

    /// Sends a text frame as is.
    pub async fn send_raw(&mut self, text: &str) -> anyhow::Result<()> {
        tokio::time::timeout(T, self.ws.send(Message::text(text)))
            .await
            .context("sending timed out")?
            .context("sending a frame")?;
        Ok(())
    }

    /// Reads the next text frame from the socket (recording it).
    pub(crate) async fn read(&mut self, deadline: Instant) -> anyhow::Result<Read> {
        if self.closed {
            return Ok(Read::Closed);
        }
        loop {
            let Ok(next) = tokio::time::timeout_at(deadline, self.ws.next()).await else { return Ok(Read::TimedOut) };
            match next {
                Some(Ok(Message::Text(t))) => {
                    let s = t.to_string();
                    self.captured.push(s.clone());
                    return Ok(Read::Text(s));
                }
                Some(Ok(Message::Binary(b))) => {
                    // Never expected; recorded so leak checks see it too.
                    self.captured.push(String::from_utf8_lossy(&b).into_owned());
                    continue;
                }
                Some(Ok(Message::Close(_))) | None => {
                    self.closed = true;
                    return Ok(Read::Closed);
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) => {
                    self.closed = true;
                    return Ok(Read::Closed);
                }
            }
        }
    }

    pub(crate) fn parse(text: &str) -> anyhow::Result<Value> {
        serde_json::from_str(text).with_context(|| format!("server frame is not JSON: {text}"))
    }

    /// Sends a request (assigning `id` when absent) without waiting; returns the id.
    pub async fn send_request(&mut self, mut req: Value) -> anyhow::Result<String> {
        let id = match req.get("id").and_then(Value::as_str) {
            Some(id) => id.to_string(),
            None => {
                self.next_id += 1;
                let id = format!("r{}", self.next_id);
                req["id"] = json!(id);
                id
            }
        };
        self.send_raw(&req.to_string()).await?;
        Ok(id)
    }

    pub(crate) fn is_answer(v: &Value, id: &str) -> bool {
        (v["type"] == "ok" || v["type"] == "error") && v["id"] == id
    }

    /// Waits for the `ok`/`error` answering `id`, buffering everything else.
    /// Returns the raw text and the parsed frame.
    pub async fn await_answer_text(&mut self, id: &str) -> anyhow::Result<(String, Value)> {
        if let Some(pos) = self.pending.iter().position(|(_, v)| Self::is_answer(v, id)) {
            return self.pending.remove(pos).context("pending frame vanished");
        }
        let deadline = Instant::now() + T;
        loop {
            match self.read(deadline).await? {
                Read::Text(t) => {
                    let v = Self::parse(&t)?;
                    if Self::is_answer(&v, id) {
                        return Ok((t, v));
                    }
                    self.pending.push_back((t, v));
                }
                Read::Closed => {
                    bail!("connection closed while waiting for the answer to {id}; last frames: {}", self.tail_text(3))
                }
                Read::TimedOut => bail!("no answer to {id} within {T:?}; last frames: {}", self.tail_text(3)),
            }
        }
    }

    /// Sends a request and waits for its answer frame (`ok` or `error`).
    pub async fn request(&mut self, req: Value) -> anyhow::Result<Value> {
        Ok(self.request_text(req).await?.1)
    }

    /// Like [`WsClient::request`], also returning the answer's raw text.
    pub async fn request_text(&mut self, req: Value) -> anyhow::Result<(String, Value)> {
        let id = self.send_request(req).await?;
        self.await_answer_text(&id).await
    }

    /// Sends a request that must succeed; returns its `result`.
    pub async fn ok(&mut self, req: Value) -> anyhow::Result<Value> {
        let shown = req.to_string();
        let answer = self.request(req).await?;
        if answer["type"] != "ok" {
            bail!("request {shown} failed: {answer}");
        }
        Ok(answer["result"].clone())
    }

    /// Sends a request that must be refused with `code`; returns the error frame.
    pub async fn refused(&mut self, req: Value, code: &str) -> anyhow::Result<Value> {
        let shown = req.to_string();
        let answer = self.request(req).await?;
        if answer["type"] != "error" || answer["code"] != code {
            bail!("request {shown} should be refused with {code}, got {answer}");
        }
        Ok(answer)
    }

    /// Joins `room`; returns the snapshot (the `snapshot` field of the pushed frame).
    pub async fn join(&mut self, room: &str) -> anyhow::Result<Value> {
        let result = self.ok(json!({"type": "join", "room": room})).await?;
        let pos = self
            .pending
            .iter()
            .rposition(|(_, v)| v["type"] == "snapshot" && v["room"] == room)
            .with_context(|| format!("no snapshot before the join ok ({result})"))?;
        let (_, frame) = self.pending.remove(pos).context("pending frame vanished")?;
        Ok(frame["snapshot"].clone())
    }

    /// The next frame of any type (buffered ones first); `None` on timeout
    /// or when the connection is closed.
    pub async fn next_frame(&mut self, timeout: Duration) -> anyhow::Result<Option<Value>> {
        if let Some((_, v)) = self.pending.pop_front() {
            return Ok(Some(v));
        }
        match self.read(Instant::now() + timeout).await? {
            Read::Text(t) => Ok(Some(Self::parse(&t)?)),
            Read::Closed | Read::TimedOut => Ok(None),
        }
    }

    /// The next `event` frame (others stay buffered); `None` on timeout.
    pub async fn next_event(&mut self, timeout: Duration) -> anyhow::Result<Option<Value>> {
        match self.wait_for(|v| v["type"] == "event", timeout).await {
            Ok(v) => Ok(Some(v)),
            Err(_) => Ok(None),
        }
    }

    /// The first frame matching `pred` (buffered ones first; non-matching
    /// frames stay buffered in order). Fails on timeout or close.
    pub async fn wait_for(&mut self, pred: impl Fn(&Value) -> bool, timeout: Duration) -> anyhow::Result<Value> {
        if let Some(pos) = self.pending.iter().position(|(_, v)| pred(v)) {
            return Ok(self.pending.remove(pos).context("pending frame vanished")?.1);
        }
        let deadline = Instant::now() + timeout;
        loop {
            match self.read(deadline).await? {
                Read::Text(t) => {
                    let v = Self::parse(&t)?;
                    if pred(&v) {
                        return Ok(v);
                    }
                    self.pending.push_back((t, v));
                }
                Read::Closed => bail!("connection closed before the expected frame; last: {}", self.tail_text(3)),
                Read::TimedOut => bail!("expected frame not received within {timeout:?}; last: {}", self.tail_text(3)),
            }
        }
    }

    /// Waits until the event for room revision `revision` has arrived.
    pub async fn wait_for_revision(&mut self, revision: u64) -> anyhow::Result<Value> {
        self.wait_for(|v| v["type"] == "event" && v["rev"]["revision"].as_u64().is_some_and(|r| r >= revision), T)
            .await
            .with_context(|| format!("waiting for the event of revision {revision}"))
    }

    /// Reads until nothing arrives for `quiet` (to capture stragglers).
    pub async fn drain(&mut self, quiet: Duration) -> anyhow::Result<()> {
        loop {
            match self.read(Instant::now() + quiet).await? {
                Read::Text(t) => {
                    let v = Self::parse(&t)?;
                    self.pending.push_back((t, v));
                }
                Read::Closed | Read::TimedOut => return Ok(()),
            }
        }
    }

    /// Frames received but not consumed yet.
    pub fn pending(&self) -> impl Iterator<Item = &Value> {
        self.pending.iter().map(|(_, v)| v)
    }

    /// Removes and returns every buffered frame.
    pub fn take_pending(&mut self) -> Vec<Value> {
        self.pending.drain(..).map(|(_, v)| v).collect()
    }

    /// Every text frame received so far, in order.
    pub fn captured(&self) -> &[String] {
        &self.captured
    }

    /// Every text frame received so far, joined by newlines.
    pub fn captured_text(&self) -> String {
        self.captured.join("\n")
    }

    pub(crate) fn tail_text(&self, n: usize) -> String {
        let start = self.captured.len().saturating_sub(n);
        self.captured[start..].iter().map(|s| truncate(s, 300)).collect::<Vec<_>>().join(" | ")
    }

    /// True once the server closed the connection.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Closes the websocket politely.
    pub async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.ws.close(None)).await;
    }
}

pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max { s.to_string() } else { format!("{}…", s.chars().take(max).collect::<String>()) }
}

/// Fails the test if any frame contains any canary. `who` names the
/// recipient in the failure message.
pub fn assert_no_canary(frames: &[String], canaries: &[&str], who: &str) {
    for (i, frame) in frames.iter().enumerate() {
        for canary in canaries {
            assert!(
                !frame.contains(canary),
                "LEAK: {who} received canary {canary:?} in frame #{i}: {}",
                truncate(frame, 400)
            );
        }
    }
}

impl Drop for WsClient {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        if let Some(leak) = recorder_check(self) {
            panic!("frame recorder: LEAK: {leak}");
        }
    }
}
