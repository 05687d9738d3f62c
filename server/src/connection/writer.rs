//! The writer task of a connection: drains the bounded outbox to the
//! socket in batches, pings, and closes the socket when asked; and the
//! end of a connection (flush, then linger for the client's Close).

use std::sync::Arc;
use std::time::Duration;

use futures_util::{Sink, SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use trustroom_shared::protocol::{ErrorCode, ServerFrame};

use crate::metrics::METRICS;
use crate::outbox::{CloseSignal, Outbox, Outgoing, encode};

/// How long a closing connection may take to flush its last frames and
/// its `closing` frame before the socket is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// Ends a connection refused before it was served (too many connections,
/// a bad `hello`): the `closing` frame after what is queued, the writer
/// given its grace to flush it, then the client's Close awaited.
pub(super) async fn close_refused<St, E>(
    out: Outbox,
    (code, reason): (ErrorCode, String),
    writer: &mut tokio::task::JoinHandle<()>,
    stream: &mut St,
) where
    St: futures_util::Stream<Item = Result<Message, E>> + Unpin,
{
    out.close_after_queued(code, reason).await;
    drop(out);
    finish_writer(writer).await;
    linger(stream).await;
}

/// After the server sent its Close: reads (and drops) what the client still
/// sends until its Close or `CLOSE_GRACE`, as RFC 6455 asks, so unread
/// requests do not turn the close into a TCP reset that would discard the
/// `closing` frame on the client's side.
pub(super) async fn linger<St, E>(stream: &mut St)
where
    St: futures_util::Stream<Item = Result<Message, E>> + Unpin,
{
    let _ = tokio::time::timeout(CLOSE_GRACE, async {
        while let Some(Ok(msg)) = stream.next().await {
            if matches!(msg, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}

/// Waits for the writer to flush what it holds (bounded), then makes it
/// stop, then aborts it: a connection task always ends.
pub(super) async fn finish_writer(writer: &mut tokio::task::JoinHandle<()>) {
    if tokio::time::timeout(CLOSE_GRACE * 2, &mut *writer).await.is_ok() {
        return;
    }
    writer.abort();
    let _ = writer.await;
}

/// Most frames written with one flush.
const MAX_FRAMES_PER_FLUSH: usize = 512;

/// Stop adding queued frames to a flush beyond this many payload bytes.
const MAX_BYTES_PER_FLUSH: usize = 256 * 1024;

/// Drains the outbox to the socket, sends a websocket Ping every
/// `ping_every`, and closes the socket when asked. Everything queued when
/// the writer wakes up goes out with one flush (one `write` on the socket
/// for many small frames), so a burst of events costs one syscall per
/// connection, not one per event. A client that does not read cannot hold
/// it: every flush gives way to an out-of-band close and fails after
/// `write_timeout`.
pub(super) async fn write_loop<K>(
    mut sink: K,
    mut rx: tokio::sync::mpsc::Receiver<Outgoing>,
    close: Arc<CloseSignal>,
    ping_every: Duration,
    write_timeout: Duration,
) where
    K: Sink<Message> + Unpin,
{
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + ping_every, ping_every);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut batch: Vec<Message> = Vec::new();
    let closing: Option<(ErrorCode, String)> = loop {
        let mut close_after: Option<(ErrorCode, String)> = None;
        let mut frames = 0usize;
        let first = tokio::select! {
            biased;
            reason = close.requested() => break reason,
            item = rx.recv() => match item {
                Some(Outgoing::Frame(text)) => {
                    frames += 1;
                    Message::Text(text)
                }
                Some(Outgoing::Close(code, reason)) => break Some((code, reason)),
                None => break None,
            },
            _ = ping.tick() => Message::Ping(Default::default()),
        };
        let mut bytes = first.len();
        batch.push(first);
        // Whatever else is queued already goes into the same flush.
        while batch.len() < MAX_FRAMES_PER_FLUSH && bytes < MAX_BYTES_PER_FLUSH {
            match rx.try_recv() {
                Ok(Outgoing::Frame(text)) => {
                    frames += 1;
                    bytes += text.len();
                    batch.push(Message::Text(text));
                }
                Ok(Outgoing::Close(code, reason)) => {
                    close_after = Some((code, reason));
                    break;
                }
                Err(_) => break,
            }
        }
        METRICS.dequeued(frames);
        let count = batch.len();
        let write = async {
            for msg in batch.drain(..) {
                sink.feed(msg).await?;
            }
            sink.flush().await
        };
        let sent = tokio::select! {
            biased;
            reason = close.requested() => break reason,
            sent = tokio::time::timeout(write_timeout, write) => sent,
        };
        match sent {
            Ok(Ok(())) => METRICS.flushed(count),
            Ok(Err(_)) => break None,
            Err(_) => {
                tracing::debug!("queued frames could not be written within {write_timeout:?}; closing");
                break None;
            }
        }
        if close_after.is_some() {
            break close_after;
        }
    };
    // Frames still queued are never written: take them off the queue-depth
    // gauge (nothing can be queued once the receiver is closed).
    rx.close();
    let mut dropped = 0;
    while let Ok(item) = rx.try_recv() {
        if matches!(item, Outgoing::Frame(_)) {
            dropped += 1;
        }
    }
    METRICS.dequeued(dropped);
    let _ = tokio::time::timeout(CLOSE_GRACE, async {
        if let Some((code, reason)) = closing {
            let frame = encode(&ServerFrame::Closing { code, reason });
            if sink.send(Message::Text(frame)).await.is_err() {
                return;
            }
        }
        let _ = sink.close().await;
    })
    .await;
}
