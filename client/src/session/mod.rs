//! The client session layer, between the pure core (`trustroom_shared`)
//! and the front ends (the TUI, the agents, the one-shot CLI), as
//! helix-view sits between helix-core and helix-term:
//!
//! - [`transport`]: one websocket connection (`ws://` or `wss://`), the
//!   handshake, liveness, requests matched to answers by id;
//! - [`pending`]: the ledger of requests waiting for an answer, drained
//!   with `Disconnected` when the connection ends;
//! - [`backoff`]: the one reconnect policy (250 ms doubling to 10 s, ±25%);
//! - [`connection`]: the long-lived, reconnecting connection task the TUI
//!   talks to over channels;
//! - [`failover`]: asking again across server nodes until a deadline (the
//!   one-shot CLI and the agents ride out a failover with it);
//! - [`replica`]: the room replica and the resync rules;
//! - [`tls`]: which certificate authorities `wss://` trusts.
//!
//! Nothing here knows about terminals, flags or output formats.

pub mod backoff;
pub mod connection;
pub mod doc;
pub mod failover;
pub mod history;
pub mod outbox;
pub mod pending;
pub mod replica;
pub mod room;
pub mod splice;
pub mod sync;
pub mod tls;
pub mod transport;

pub use pending::RequestError;
pub use replica::Replica;
pub use tls::Trust;
pub use transport::{Conn, ConnectError, Pushed};
