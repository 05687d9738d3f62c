//! Room requests of a connection: the rooms it joined, with their actors'
//! handles (a request to a joined room goes straight to its actor, without
//! the hub), and routing to the room's actor, finding it through the hub
//! when the connection has no live handle for it.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::oneshot;
use trustroom_shared::RoomId;
use trustroom_shared::protocol::{ErrorCode, Request};

use super::refusals::RefusalLog;
use crate::hub::{Hub, Located, room_not_found};
use crate::outbox::{ConnInfo, Frame};
use crate::room::{Answer, RoomCmd, RoomHandle};

/// The rooms this connection joined, each with the handle of the actor it
/// joined (or, after that actor stopped, the one that sequences the room
/// now).
#[derive(Default)]
pub(super) struct JoinedRooms(HashMap<RoomId, RoomHandle>);

impl JoinedRooms {
    /// Leaves a joined room; false if it was not joined.
    pub(super) async fn leave(&mut self, room: RoomId, conn_id: u64) -> bool {
        let Some(handle) = self.0.remove(&room) else { return false };
        let _ = handle.send(RoomCmd::Leave { conn_id }).await;
        true
    }

    /// Leaves every joined room (the connection ends).
    pub(super) async fn leave_all(self, conn_id: u64) {
        for handle in self.0.into_values() {
            let _ = handle.send(RoomCmd::Leave { conn_id }).await;
        }
    }

    /// The live handle of a joined room.
    fn live(&self, room: RoomId) -> Option<RoomHandle> {
        self.0.get(&room).filter(|h| !h.is_closed()).cloned()
    }
}

/// The `moved` answer: an `error` frame with the owning node's URL in
/// `url` (docs/protocol.md §8, docs/cluster.md).
pub(super) fn moved_frame(id: String, message: String, url: String) -> Frame {
    #[derive(serde::Serialize)]
    struct Moved {
        r#type: &'static str,
        id: String,
        code: ErrorCode,
        message: String,
        url: String,
    }
    let frame = Moved { r#type: "error", id, code: ErrorCode::Moved, message, url };
    Frame::from(serde_json::to_string(&frame).unwrap_or_default())
}

/// Sends a room request to the room's actor and waits for its answer.
pub(super) async fn route_to_room(
    hub: &Arc<Hub>,
    info: &ConnInfo,
    request: Request,
    joined: &mut JoinedRooms,
    refusals: &mut RefusalLog,
    moved_to: &mut Option<String>,
) -> Answer {
    let Some(room) = request.room() else {
        return Err((ErrorCode::Invalid, "this request needs a room".into()));
    };
    let handle = match joined.live(room) {
        Some(handle) => handle,
        None => {
            let handle = locate(hub, info, room, refusals, moved_to).await?;
            // A joined room whose actor stopped: its new actor from now on.
            if let Some(stale) = joined.0.get_mut(&room) {
                *stale = handle.clone();
            }
            handle
        }
    };
    let (reply, wait) = oneshot::channel();
    // A join subscribes the connection to the room; a downstream member's
    // lane request subscribes it to its lane's status pushes. Either way
    // the room hears when the connection ends.
    let subscribes = matches!(
        request,
        Request::Join { .. }
            | Request::LaneReleases { .. }
            | Request::LaneRelease { .. }
            | Request::Intake { .. }
            | Request::ReportFinding { .. }
    );
    let cmd = match request {
        Request::Join { since, .. } => RoomCmd::Join { conn: info.clone(), since, reply },
        request => RoomCmd::Request { conn: info.clone(), request, reply },
    };
    if handle.send(cmd).await.is_err() {
        return Err((ErrorCode::Unavailable, "the room is shutting down".into()));
    }
    let answer = wait.await.unwrap_or_else(|_| Err((ErrorCode::Unavailable, "the room stopped".into())));
    if subscribes && answer.is_ok() {
        joined.0.insert(room, handle);
    }
    answer
}

/// The room's actor on this node, opening the room if needed; the refusal
/// when it does not exist, the member may not know of it, or another node
/// sequences it (`moved_to` then names where).
async fn locate(
    hub: &Arc<Hub>,
    info: &ConnInfo,
    room: RoomId,
    refusals: &mut RefusalLog,
    moved_to: &mut Option<String>,
) -> Result<RoomHandle, crate::room::Refusal> {
    match hub.locate(room).await {
        Ok(Located::Open(h)) => Ok(h),
        Ok(Located::NotFound) => {
            let refusal = room_not_found();
            refusals.record_always("room request", &refusal, room).await;
            Err(refusal)
        }
        Ok(Located::Moved { node, url }) => {
            // Only members learn where a room lives; everyone else gets
            // the same `not_found` as for a room that does not exist.
            let member = match hub.store().rooms_for_user(info.user).await {
                Ok(rooms) => rooms.iter().any(|(r, _)| r.id == room),
                Err(e) => return Err((ErrorCode::Unavailable, format!("cannot check membership: {e}"))),
            };
            if !member {
                let refusal = room_not_found();
                refusals.record_always("room request", &refusal, room).await;
                return Err(refusal);
            }
            if url.is_empty() {
                return Err((
                    ErrorCode::Unavailable,
                    "an administrative command holds the room for a moment; retry".into(),
                ));
            }
            tracing::debug!(%room, %node, %url, "room sequenced by another node: redirecting");
            *moved_to = Some(url.clone());
            Err((ErrorCode::Moved, format!("room {room} is served by another server node; reconnect to {url}")))
        }
        Err(e) => {
            tracing::error!(%room, "cannot open room: {e:#}");
            Err((ErrorCode::Unavailable, "the room cannot be opened right now".into()))
        }
    }
}
