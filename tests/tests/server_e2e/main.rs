//! A real server and several real websocket clients: the filtered snapshot,
//! concurrent editing with the OT client state machine, the register,
//! not_found vs forbidden, idempotent resends and drop points, bad bases,
//! and live membership changes.
// Test code: a failed expectation is the verdict (the lints bind product code).
#![allow(clippy::expect_used, clippy::panic)]

mod convergence;
mod membership;
mod objections;
mod refusals;
mod reopen;
mod resends;

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use serde_json::{Value, json};
use trustroom_e2e::{
    ANNEX_ACCESS, Backend, DEMO_SENSITIVE, Rng, T, TestServer, WsClient, annex_id, assert_no_canary, chars,
    objection_id, revision_of, section,
};
use trustroom_server::admin;
use trustroom_server::demo::CANARIES;
use trustroom_shared::ClientId;
use trustroom_shared::change::apply;
use trustroom_shared::ot::{TextOp, WireOp};
use trustroom_shared::ot_client::SectionSync;
use trustroom_shared::role::{Discipline, Role};
use trustroom_shared::room::RoomState;

const ROLES: [&str; 8] = [
    "owner",
    "reviewer/privacy",
    "reviewer/legal",
    "reviewer/support-engineering",
    "reviewer/support-trust",
    "agent/chronology",
    "agent/trace-keeper",
    "observer",
];

fn expected_capabilities(role: &str) -> Vec<&'static str> {
    match role.split('/').next().unwrap_or(role) {
        "owner" => vec![
            "read",
            "edit",
            "object",
            "resolve_objection",
            "accept_residual",
            "decide_release",
            "audit",
            "suggest",
            "decide_suggestion",
            "cosign",
            "govern_access",
            "govern_room",
        ],
        "reviewer" => vec!["read", "edit", "object", "resolve_objection", "suggest", "cosign"],
        "agent" => vec!["read", "object", "suggest"],
        _ => vec!["read", "cosign"],
    }
}

fn ack_revision(ack: &Value) -> Result<u64> {
    ack["revision"].as_u64().with_context(|| format!("no revision in {ack}"))
}

/// The edit request inserting `text` at char `pos` of a `len`-char body.
fn insert_at(room: &str, section: &str, base: u64, len: i64, pos: i64, text: &str, seq: u64) -> Value {
    let mut op = Vec::new();
    if pos > 0 {
        op.push(json!(pos));
    }
    op.push(json!(text));
    if len - pos > 0 {
        op.push(json!(len - pos));
    }
    json!({"type": "edit", "room": room, "section": section, "base": base, "op": op, "seq": seq})
}

// ---------------------------------------------------------------------------
// 1. Join and the filtered snapshot
// ---------------------------------------------------------------------------

#[tokio::test]
async fn join_gives_each_role_a_filtered_snapshot() -> Result<()> {
    let server = TestServer::start().await?;
    for role in ROLES {
        let member = server.member(role).clone();
        let (client, snap) = server.joined(role).await?;
        let state = &snap["state"];
        ensure!(state["id"] == server.room().as_str(), "{role}: wrong room");
        ensure!(state["title"] == server.seed.title.as_str());
        ensure!(state["members"].as_object().map(|m| m.len()) == Some(10), "{role}: 10 members expected (two owners)");
        let titles: Vec<&str> =
            state["sections"].as_array().context("sections")?.iter().filter_map(|s| s["title"].as_str()).collect();
        assert_eq!(
            titles,
            [
                "Summary",
                "Chronology",
                "Exposure scope",
                "Affected accounts",
                "Privileged access path",
                "Evidence and open questions"
            ],
            "{role}: sections"
        );
        for s in state["sections"].as_array().context("sections")? {
            let body = s["body"].as_str().context("body")?;
            ensure!(s["len"].as_u64() == Some(body.chars().count() as u64), "{role}: section len is in chars");
        }
        let objections = state["objections"].as_object().context("objections")?;
        ensure!(objections.len() == 5, "{role}: 5 objections expected");
        ensure!(objections.values().filter(|o| o["blocking"] == true).count() == 2, "{role}: 2 blocking objections");
        ensure!(objections.values().filter(|o| o["status"] == "accepted-residual").count() == 1);
        let annexes = state["annexes"].as_object().context("annexes")?;
        ensure!(annexes.len() == 3, "{role}: 3 annexes expected");
        for (id, a) in annexes {
            ensure!(a.get("content").is_none(), "{role}: annex {id} carries a `content` field: {a}");
            ensure!(a["sensitive"] == json!([]), "{role}: annex {id} carries its sensitive patterns: {a}");
            ensure!(a["sensitive_count"].as_u64().is_some_and(|n| n >= 2), "{role}: sensitive_count kept");
            ensure!(a["content_hash"].as_str().is_some_and(|h| h.len() == 64), "{role}: content hash kept");
            ensure!(a["title"].is_string() && a["classification"].is_string());
        }
        ensure!(snap["content_hash"].as_str().is_some_and(|h| h.len() == 64));
        ensure!(state["release"]["state"] == "drafting");

        // me: who, role, capabilities, annex access
        let me = &snap["me"];
        ensure!(me["user"] == member.user.to_string().as_str() && me["name"] == member.name.as_str());
        ensure!(me["role"] == role.split('/').next().unwrap_or(role), "{role}: me.role is {}", me["role"]);
        let caps: Vec<&str> =
            me["capabilities"].as_array().context("capabilities")?.iter().filter_map(Value::as_str).collect();
        assert_eq!(caps, expected_capabilities(role), "{role}: capabilities");
        let access: BTreeSet<String> = me["annex_access"]
            .as_array()
            .context("annex_access")?
            .iter()
            .filter_map(|v| v.as_str().map(String::from))
            .collect();
        let mut expected = BTreeSet::new();
        for (code, names) in ANNEX_ACCESS {
            if names.contains(&member.name.as_str()) {
                expected.insert(annex_id(&snap, code)?);
            }
        }
        assert_eq!(access, expected, "{role} ({}): annex_access", member.name);

        // Nothing restricted anywhere in what this member received.
        let frames = client.captured().to_vec();
        assert_no_canary(&frames, &CANARIES, role);
        assert_no_canary(&frames, &DEMO_SENSITIVE, role);
        client.close().await;
    }
    Ok(())
}
