//! Running one case and checking what it left behind.

use super::*;

pub(crate) struct Row {
    pub(crate) name: &'static str,
    pub(crate) want: String,
    pub(crate) usable: bool,
    pub(crate) got: String,
    pub(crate) ms: u128,
    pub(crate) problems: Vec<String>,
}

/// Sends the case on a fresh or the shared connection and reads the answer.
/// Returns what came back and the connection (if still around).
pub(crate) async fn deliver(
    env: &Env,
    case: &Case,
    send: Send,
    shared: &mut Option<Ws>,
) -> anyhow::Result<(Got, usize, Option<Ws>, Duration)> {
    if case.who == Who::Tcp {
        let Send::TcpBytes(bytes) = send else { anyhow::bail!("tcp case needs bytes") };
        let mut tcp = TcpStream::connect(env.addr).await?;
        let started = Instant::now();
        if !bytes.is_empty() {
            tcp.write_all(&bytes).await?;
        }
        let deadline = tokio::time::Instant::now() + HANDSHAKE * 3 + Duration::from_millis(700);
        let mut buf = [0u8; 1024];
        let got = loop {
            match tokio::time::timeout_at(deadline, tcp.read(&mut buf)).await {
                Err(_) => break Got::Silent,
                Ok(Ok(0) | Err(_)) => break Got::Dropped("tcp closed".into()),
                Ok(Ok(_)) => continue, // e.g. an HTTP error response; wait for the close
            }
        };
        return Ok((got, 0, None, started.elapsed()));
    }
    let mut ws = match case.who {
        Who::Owner => match shared.take() {
            Some(ws) => ws,
            None => login(&env.url, &env.owner_token).await?,
        },
        Who::OwnerFresh => login(&env.url, &env.owner_token).await?,
        Who::ObserverRole => login(&env.url, &env.observer_token).await?,
        Who::Outsider => login(&env.url, &env.outsider_token).await?,
        Who::Downstream => login(&env.url, &env.downstream_token).await?,
        Who::PreHello => connect(&env.url).await?,
        Who::Tcp => anyhow::bail!("handled above"),
    };
    let started = Instant::now();
    let mut send_error = None;
    match send {
        Send::Text(t) => {
            if let Err(e) = ws.send(Message::text(t)).await {
                send_error = Some(e.to_string());
            }
        }
        Send::Msgs(msgs) => {
            for m in msgs {
                if let Err(e) = ws.send(m).await {
                    // The server may legitimately hang up mid-message.
                    send_error = Some(e.to_string());
                    break;
                }
            }
        }
        Send::Nothing => {}
        Send::TcpBytes(_) => anyhow::bail!("tcp bytes on a websocket case"),
    }
    let (got, events) = answer(&mut ws, ANSWER_WAIT).await;
    let got = match (got, send_error) {
        (Got::Silent, Some(e)) => Got::Dropped(format!("send failed: {e}")),
        (g, _) => g,
    };
    Ok((got, events, Some(ws), started.elapsed()))
}

pub(crate) fn code_matches(want: Want, got: &Got, id: &str) -> bool {
    match (want, got) {
        (Want::Err(code, echo), Got::Error { id: got_id, code: c, .. }) => {
            c == code
                && match echo {
                    Echo::Yes => got_id.as_deref() == Some(id),
                    Echo::Null => got_id.is_none(),
                    Echo::Any => got_id.is_none() || got_id.as_deref() == Some(id),
                }
        }
        (Want::Close(code) | Want::CloseOrDrop(code), Got::Closing { code: c }) => c == code,
        (Want::CloseOrDrop(_), Got::Dropped(_)) => true,
        (Want::TcpClosed, Got::Dropped(_)) => true,
        (Want::Accept, Got::Ok) => true,
        _ => false,
    }
}

pub(crate) async fn run_case(
    env: &Env,
    observer: &mut Observer,
    shared: &mut Option<Ws>,
    n: usize,
    case: &Case,
) -> anyhow::Result<Row> {
    let mut problems = Vec::new();
    let before = observer.look().await?;
    if before.events > 0 {
        problems.push(format!("observer saw {} event(s) before the case", before.events));
    }
    let counts_before = env.counts().await?;
    let ctx = Ctx::from_state(&env.room, &before.state)?;
    let id = format!("c{n}");
    let send = (case.build)(&ctx, &id);

    let (got, own_events, ws, elapsed) = deliver(env, case, send, shared).await?;
    if !code_matches(case.want, &got, &id) {
        problems.push(format!("expected {} but got {} {}", case.want.show(), got.show(), got.detail()));
    }
    if case.name == "hs: handshake never completed"
        && (elapsed < HANDSHAKE.saturating_sub(Duration::from_millis(50))
            || elapsed > HANDSHAKE + Duration::from_secs(1))
    {
        problems.push(format!("timeout after {elapsed:?}, configured {HANDSHAKE:?}"));
    }
    if own_events > 0 && !matches!(case.want, Want::Accept) {
        problems.push(format!("sender received {own_events} event(s)"));
    }

    // The connection afterwards: usable, or closed.
    if let Some(mut ws) = ws {
        if case.want.usable() {
            let member = case.who != Who::Outsider;
            match check_usable(&mut ws, n, &env.room, member).await {
                Ok(()) => {
                    if case.who == Who::Owner {
                        *shared = Some(ws);
                    }
                }
                Err(e) => problems.push(format!("connection not usable afterwards: {e}")),
            }
        } else if matches!(got, Got::Closing { .. }) {
            if let Err(e) = check_closed(&mut ws).await {
                problems.push(e);
            }
        } else if case.who == Who::Owner && !matches!(got, Got::Dropped(_)) {
            *shared = Some(ws);
        }
    }

    // Room state, storage and audit.
    let after = observer.look().await?;
    let counts_after = env.counts().await?;
    if matches!(case.want, Want::Accept) {
        if after.revision != before.revision + 1 || counts_after.revisions != counts_before.revisions + 1 {
            problems.push(format!(
                "positive case: revision {} -> {}, stored revisions {} -> {}",
                before.revision, after.revision, counts_before.revisions, counts_after.revisions
            ));
        }
        if after.events != 1 {
            problems.push(format!("observer saw {} event(s), expected 1", after.events));
        }
        if let Some(check) = case.check {
            let stored = env.last_revision_body().await?;
            if let Err(e) = check(&ctx, &after.state, &stored) {
                problems.push(e);
            }
        }
    } else {
        if after.revision != before.revision || after.content_hash != before.content_hash {
            problems.push(format!(
                "room changed: revision {} -> {}, content hash {} -> {}",
                before.revision, after.revision, before.content_hash, after.content_hash
            ));
        }
        if after.events > 0 {
            problems.push(format!("observer saw {} event(s)", after.events));
        }
        if counts_after.revisions != counts_before.revisions || counts_after.snapshots != counts_before.snapshots {
            problems.push(format!(
                "something was stored: revisions {} -> {}, snapshots {} -> {}",
                counts_before.revisions, counts_after.revisions, counts_before.snapshots, counts_after.snapshots
            ));
        }
    }
    match case.audit {
        Audit::Room if counts_after.room_refused != counts_before.room_refused + 1 => problems.push(format!(
            "room audit `refused` entries {} -> {} (expected +1)",
            counts_before.room_refused, counts_after.room_refused
        )),
        Audit::Server if counts_after.server_refused != counts_before.server_refused + 1 => problems.push(format!(
            "server audit `refused` entries {} -> {} (expected +1)",
            counts_before.server_refused, counts_after.server_refused
        )),
        _ => {}
    }
    Ok(Row {
        name: case.name,
        want: case.want.show(),
        usable: case.want.usable(),
        got: got.show(),
        ms: elapsed.as_millis(),
        problems,
    })
}
