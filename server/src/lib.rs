//! Trustroom's room server: the websocket protocol, one actor per room,
//! storage through sqlx, the tamper-evident audit log and admin commands.

pub mod admin;
pub mod audit;
pub mod auth;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod connection;
pub mod demo;
pub mod export;
pub mod hub;
pub mod limits;
pub mod metrics;
pub mod outbox;
pub mod retention;
pub mod room;
pub mod serve;
pub mod signing;
pub mod storage;
