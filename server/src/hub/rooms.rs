//! Where a room is sequenced, and opening it: one open per room at a time.
//! The first caller for a room that is not open opens it; later callers
//! for that room wait for that open's outcome; callers for other rooms
//! never wait for it. The map of rooms sits behind a std mutex held only to
//! read or change an entry, never across an `.await`.
//!
//! With several nodes on one database a room is opened only under its
//! lease (storage/lease.rs, cluster.rs): a room another live node holds is
//! answered with where it lives ([`Located::Moved`]) instead.

use std::collections::HashMap;
use std::sync::{MutexGuard, PoisonError};

use anyhow::anyhow;
use tokio::sync::{mpsc, watch};
use trustroom_shared::RoomId;

use super::Hub;
use crate::room::{Room, RoomHandle};
use crate::storage::{Acquired, Fence};

/// Where a room is sequenced, seen from this node.
#[derive(Clone)]
pub enum Located {
    /// Here: the live handle.
    Open(RoomHandle),
    /// No such room.
    NotFound,
    /// Another live node holds the room's lease; clients go to `url`
    /// (empty: an administrative tool holds it for a moment).
    Moved { node: String, url: String },
}

/// How an open ended, as every caller that waited for it sees it.
type Outcome = Result<Located, String>;

/// A room's entry in the hub.
enum Slot {
    /// Sequenced here by an actor (its handle closes when the actor stops).
    Open(RoomHandle),
    /// Being opened: the outcome appears here once known.
    Opening(watch::Receiver<Option<Outcome>>),
}

/// The rooms of this node.
#[derive(Default)]
pub(super) struct Rooms {
    slots: HashMap<RoomId, Slot>,
    /// Set by shutdown: no room opens any more.
    closing: bool,
}

impl Rooms {
    /// The live handle of a room open here.
    pub(super) fn handle(&self, id: RoomId) -> Option<RoomHandle> {
        match self.slots.get(&id) {
            Some(Slot::Open(h)) if !h.is_closed() => Some(h.clone()),
            _ => None,
        }
    }

    /// Every room open here.
    pub(super) fn handles(&self) -> Vec<(RoomId, RoomHandle)> {
        let open = self.slots.iter().filter_map(|(id, s)| match s {
            Slot::Open(h) => Some((*id, h.clone())),
            Slot::Opening(_) => None,
        });
        open.collect()
    }

    /// Takes a room's handle out (its lease is gone).
    pub(super) fn take(&mut self, id: RoomId) -> Option<RoomHandle> {
        match self.slots.remove(&id) {
            Some(Slot::Open(h)) => Some(h),
            Some(opening @ Slot::Opening(_)) => {
                self.slots.insert(id, opening);
                None
            }
            None => None,
        }
    }

    /// Stops opening rooms; takes every open room's handle out.
    pub(super) fn close(&mut self) -> Vec<RoomHandle> {
        self.closing = true;
        let open = self.slots.drain().filter_map(|(_, s)| match s {
            Slot::Open(h) => Some(h),
            Slot::Opening(_) => None,
        });
        open.collect()
    }
}

/// What a caller of [`Hub::locate`] does about a room.
enum Claim<'a> {
    /// It is open: use it.
    Ready(RoomHandle),
    /// Another caller opens it: wait for the outcome.
    Wait(watch::Receiver<Option<Outcome>>),
    /// Nobody does: this caller opens it.
    Open(Opener<'a>),
}

/// The caller that opens a room. Dropped before it publishes an outcome
/// (its own caller went away), it frees the room's entry: the waiters see
/// the open end without an outcome and try again.
struct Opener<'a> {
    hub: &'a Hub,
    id: RoomId,
    outcome: watch::Sender<Option<Outcome>>,
}

impl Opener<'_> {
    /// Tells every waiter how the open ended. A failure is not kept: the
    /// entry is freed first, so the next caller tries again.
    fn publish(self, outcome: &anyhow::Result<Located>) {
        self.free();
        let shared = match outcome {
            Ok(located) => Ok(located.clone()),
            Err(e) => Err(format!("{e:#}")),
        };
        self.outcome.send_replace(Some(shared));
    }

    /// Removes the room's entry if it is still this open's.
    fn free(&self) {
        let mut rooms = self.hub.rooms();
        if let Some(Slot::Opening(rx)) = rooms.slots.get(&self.id)
            && rx.same_channel(&self.outcome.subscribe())
        {
            rooms.slots.remove(&self.id);
        }
    }
}

impl Drop for Opener<'_> {
    fn drop(&mut self) {
        self.free();
    }
}

impl Hub {
    pub(super) fn rooms(&self) -> MutexGuard<'_, Rooms> {
        self.rooms.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The live handle of a room, opening it if needed; `None` if no such
    /// room, or when another node sequences it.
    pub async fn room(&self, id: RoomId) -> anyhow::Result<Option<RoomHandle>> {
        Ok(match self.locate(id).await? {
            Located::Open(h) => Some(h),
            Located::NotFound | Located::Moved { .. } => None,
        })
    }

    /// Where a room is sequenced: here (opened under a fresh lease if it
    /// was not open yet), nowhere, or on another live node. Callers for a
    /// room being opened wait for that open; nobody else does.
    pub async fn locate(&self, id: RoomId) -> anyhow::Result<Located> {
        loop {
            let mut opening = match self.claim(id)? {
                Claim::Ready(handle) => return Ok(Located::Open(handle)),
                Claim::Wait(opening) => opening,
                Claim::Open(opener) => {
                    let outcome = self.open(id).await;
                    opener.publish(&outcome);
                    return outcome;
                }
            };
            // The opener went away before it knew (`Err`): try again.
            let outcome = opening.wait_for(Option::is_some).await.map(|seen| seen.clone()).ok().flatten();
            match outcome {
                Some(Ok(located)) => return Ok(located),
                Some(Err(e)) => return Err(anyhow!("{e}")),
                None => {}
            }
        }
    }

    /// What to do about a room, decided under the map's lock.
    fn claim(&self, id: RoomId) -> anyhow::Result<Claim<'_>> {
        let mut rooms = self.rooms();
        if let Some(handle) = rooms.handle(id) {
            return Ok(Claim::Ready(handle));
        }
        if let Some(Slot::Opening(opening)) = rooms.slots.get(&id) {
            return Ok(Claim::Wait(opening.clone()));
        }
        if rooms.closing {
            anyhow::bail!("the server is shutting down");
        }
        let (outcome, opening) = watch::channel(None);
        rooms.slots.insert(id, Slot::Opening(opening));
        Ok(Claim::Open(Opener { hub: self, id, outcome }))
    }

    /// Opens a room that is not open (or whose actor stopped): under a
    /// fresh lease, loaded and replayed from storage, its actor started.
    async fn open(&self, id: RoomId) -> anyhow::Result<Located> {
        // A new actor needs a new lease.
        if let Ok(mut l) = self.leases.lock() {
            l.remove(&id);
        }
        let shared = self.store.shared_by_nodes();
        if shared && self.store.room(id).await?.is_none() {
            return Ok(Located::NotFound);
        }
        let lease_ms = self.config.lease.as_millis() as i64;
        let lease = match self.store.acquire_lease(id, &self.node, &self.url, lease_ms).await? {
            Acquired::Granted(lease) => lease,
            Acquired::HeldBy(lease) => return Ok(Located::Moved { node: lease.node, url: lease.url }),
        };
        let mut room = match Room::open(id, self.store.clone(), self.config.clone()).await {
            Ok(Some(room)) => room,
            other => {
                let _ = self.store.release_lease(id, &self.node, lease.epoch).await;
                other?;
                return Ok(Located::NotFound);
            }
        };
        if shared {
            room.under_lease(Fence { node: self.node.clone(), epoch: lease.epoch }, self.term.clone());
            tracing::info!(room = %id, epoch = lease.epoch, "sequencing the room here (lease acquired)");
        }
        match self.install(id, lease.epoch, room) {
            Some(handle) => Ok(Located::Open(handle)),
            None => {
                let _ = self.store.release_lease(id, &self.node, lease.epoch).await;
                anyhow::bail!("the server is shutting down")
            }
        }
    }

    /// Starts an opened room's actor and makes it the room's entry, with
    /// its lease; `None` once the hub is shutting down.
    fn install(&self, id: RoomId, epoch: i64, mut room: Room) -> Option<RoomHandle> {
        let mut rooms = self.rooms();
        if rooms.closing {
            return None;
        }
        // What the room's previous actor could not store: it left it before
        // its handle closed, and this open began only after that.
        room.with_handover(self.audit_handover.clone());
        let (handle, commands) = mpsc::channel(self.config.room_queue);
        self.tasks.lock().unwrap_or_else(PoisonError::into_inner).spawn(room.run(commands));
        rooms.slots.insert(id, Slot::Open(handle.clone()));
        if let Ok(mut l) = self.leases.lock() {
            l.insert(id, epoch);
        }
        Some(handle)
    }
}
