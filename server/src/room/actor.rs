//! The actor's loop: wait for commands (or the room's own deadlines),
//! handle a batch of them, commit it; on stop, answer whatever is queued.

use tokio::sync::{mpsc, oneshot};
use trustroom_shared::protocol::ErrorCode;

use super::{Batch, Room, RoomCmd, access};

impl Room {
    pub(super) async fn serve(&mut self, rx: &mut mpsc::Receiver<RoomCmd>) {
        let mut shutdown_done: Option<oneshot::Sender<()>> = None;
        while shutdown_done.is_none() && !self.broken && self.lease_lost.is_none() {
            // Commands, or the room's own deadlines on its clock (grant
            // expiry, break-glass end, retention): see access.rs.
            let wake = self.wait_next(rx).await;
            // A node paused or cut off past its lease serves nothing more:
            // another node may sequence the room by now.
            if self.lease_check() {
                if let access::Wake::Command(cmd) = wake {
                    self.refuse_unserved(cmd, &mut shutdown_done);
                }
                break;
            }
            let first = match wake {
                access::Wake::Command(cmd) => cmd,
                access::Wake::Deadline => {
                    self.on_deadline().await;
                    continue;
                }
                access::Wake::Closed => break,
            };
            let mut batch = Batch::default();
            self.requeue_deferred_audit(&mut batch);
            let mut next = Some(first);
            let mut handled = 0usize;
            while let Some(cmd) = next.take() {
                handled += 1;
                match cmd {
                    RoomCmd::Shutdown { done } => {
                        shutdown_done = Some(done);
                        break;
                    }
                    RoomCmd::Join { conn, since, reply } => {
                        // A joiner must only ever see committed state.
                        if !batch.is_empty() {
                            self.flush(std::mem::take(&mut batch)).await;
                        }
                        self.join(conn, since, reply, &mut batch);
                    }
                    RoomCmd::Request { conn, request, reply } => {
                        let discloses = request.spec().discloses;
                        let answer = self.request(&conn, request, &mut batch).await;
                        // Every answer is filtered for its recipient (egress.rs),
                        // except annex detail its handler authorised and audited.
                        let answer = match answer {
                            Ok(v) if discloses => Ok(v),
                            other => self.egress_answer(conn.user, other),
                        };
                        batch.replies.push((reply, answer));
                    }
                    RoomCmd::Leave { conn_id } => self.leave(conn_id),
                    RoomCmd::Admin { command, reply } => {
                        let result = self.admin(command, &mut batch);
                        batch.admin_replies.push((reply, result));
                    }
                    RoomCmd::UserRevoked { user } => {
                        batch.removals.push((user, "your token was revoked".into()));
                    }
                    RoomCmd::LeaseLost { reason } => {
                        // What is batched still goes to storage: the fence
                        // refuses it if another node took over, and lets it
                        // land if none did (then it is acknowledged).
                        self.lease_lost = Some(reason);
                        break;
                    }
                }
                if handled < self.config.batch_max {
                    next = rx.try_recv().ok();
                }
            }
            self.flush(batch).await;
        }
        self.settle_deferred_audit(shutdown_done.is_some()).await;
        // Drain: answer whatever is still queued so nobody waits forever.
        rx.close();
        while let Ok(cmd) = rx.try_recv() {
            self.refuse_unserved(cmd, &mut shutdown_done);
        }
        if let Some(reason) = &self.lease_lost {
            tracing::warn!(room = %self.id, "stopped sequencing the room: {reason}");
            for sub in self.subscribers.values() {
                sub.conn.out.close_now(
                    ErrorCode::Moved,
                    format!(
                        "this server node no longer sequences room {} ({reason}); reconnect and join again",
                        self.id
                    ),
                );
            }
        } else if self.broken {
            for sub in self.subscribers.values() {
                sub.conn.out.close_now(
                    ErrorCode::Unavailable,
                    format!("room {} was closed after a storage error; reconnect to reopen it from storage", self.id),
                );
            }
        } else {
            for sub in self.subscribers.values() {
                sub.conn.out.close_now(ErrorCode::Unavailable, "the server is shutting down; reconnect later");
            }
        }
        if let Some(done) = shutdown_done {
            let _ = done.send(());
        }
    }

    /// Answers a command the actor will not serve (it is stopping).
    pub(super) fn refuse_unserved(&self, cmd: RoomCmd, shutdown_done: &mut Option<oneshot::Sender<()>>) {
        let refusal = if self.lease_lost.is_some() {
            self.lease_refusal()
        } else if self.broken {
            (
                ErrorCode::Unavailable,
                "the room was closed after a storage error; nothing was applied: join again".into(),
            )
        } else {
            (ErrorCode::Unavailable, "the server is shutting down".into())
        };
        match cmd {
            RoomCmd::Join { reply, .. } | RoomCmd::Request { reply, .. } => {
                let _ = reply.send(Err(refusal));
            }
            RoomCmd::Admin { reply, .. } => {
                let _ = reply.send(Err(refusal.1));
            }
            RoomCmd::Shutdown { done } => match shutdown_done {
                None => *shutdown_done = Some(done),
                Some(_) => {
                    let _ = done.send(());
                }
            },
            RoomCmd::Leave { .. } | RoomCmd::UserRevoked { .. } | RoomCmd::LeaseLost { .. } => {}
        }
    }
}
