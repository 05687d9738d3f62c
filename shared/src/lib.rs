//! Trustroom's shared crate: the domain (room, members, sections, objections,
//! annexes, release state), the wire protocol, text operations (OT) and the
//! pure policy functions the server and clients agree on.
//!
//! Nothing here does I/O: no tokio, no sqlx, no terminal.

pub mod access;
pub mod access_history;
pub mod annex;
pub mod audit;
pub mod blank;
pub mod boundary;
pub mod canonical;
pub mod change;
pub mod checks;
pub mod downstream;
pub mod evidence;
pub mod export;
pub mod handoff_stats;
pub mod holds;
pub mod ids;
pub mod manifest;
pub mod members;
pub mod merkle;
pub mod objection;
pub mod ot;
pub mod ot_client;
pub mod policy;
pub mod protocol;
pub mod readiness;
pub mod rebase;
pub mod release;
pub mod release_status;
pub mod requests;
pub mod restricted;
pub mod role;
pub mod room;
pub mod source;
pub mod statement;
pub mod stats;
pub mod suggestion;
pub mod timeline;
pub mod trace;
pub mod view;

pub use ids::*;
