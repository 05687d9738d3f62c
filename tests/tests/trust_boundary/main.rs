//! The trust boundary, end to end, one test per guarantee:
//!
//! 1. the ingress gate refuses restricted detail in every free-text field
//!    (also assembled from pieces, also zero-width / full-width variants),
//!    stores nothing, and tells only entitled members which annex matched;
//! 2. the probe budget stops a member bisecting an annex's 4-digit pattern
//!    (and a stronger, group-testing attacker:
//!    `probe_budget_stops_group_testing_with_free_accepted_probes`);
//! 3. the egress filter masks text that was in the room before its pattern
//!    was declared, for members not entitled to the annex only;
//! 4. client ids are bound to the authenticated user;
//! 5. `seq` is capped at 2^63−1 at parse time, and the largest valid one
//!    survives a restart;
//! 6. an escalated room answers a resend `read_only`, not `duplicate`;
//! 7. the access history never carries an unsalted passage hash;
//! 8. agents and observers are refused every request the table denies them.
//!
//! Every member not entitled to an annex has each frame it received checked
//! with [`assert_no_restricted`] (plain, any case, normalised variants and
//! the SHA-256 of each pattern); the last test checks that recorder itself.
// Test code: a failed expectation is the verdict (the lints bind product code).
#![allow(clippy::expect_used, clippy::panic)]

mod agents;
mod egress;
mod history;
mod ingress;
mod probes;
mod recorder;
mod seq;

use std::collections::BTreeSet;

use anyhow::{Context, Result, ensure};
use serde_json::{Value, json};
use trustroom_e2e::{
    DEMO_PATTERNS, DEMO_SENSITIVE, T, TestServer, WsClient, annex_id, assert_no_restricted, chars, find_restricted,
    hidden_patterns, objection_id, revision_of, section, sha256_hex,
};
use trustroom_server::admin::{self, NewAnnex};
use trustroom_shared::ClientId;

/// Annex A1's first pattern, the one the tests try to smuggle and probe.
const P: &str = "acct-4471-NWF";

/// Most `acct-NNNN-NWF ` candidates (14 chars each) one text may carry
/// within `ServerConfig::default().max_text_chars` (10 000).
const PER_TEXT: usize = 714;

fn all_patterns() -> Vec<&'static str> {
    DEMO_SENSITIVE.to_vec()
}

fn str_of<'a>(v: &'a Value, what: &str) -> Result<&'a str> {
    v.as_str().with_context(|| format!("{what} is not a string: {v}"))
}

/// Sends `req`, which must be refused `restricted` with nothing stored.
/// `entitled`: the annex code the message must name (the sender may read
/// it), or `None` (it must name no annex and no pattern). Returns the message.
async fn gated(
    server: &TestServer,
    c: &mut WsClient,
    req: Value,
    field: &str,
    entitled: Option<&str>,
) -> Result<String> {
    let shown = req.to_string();
    let before = server.stored_revision().await?;
    let err = c.refused(req, "restricted").await.with_context(|| format!("field `{field}` of {shown}"))?;
    let msg = str_of(&err["message"], "message")?.to_string();
    ensure!(msg.contains(&format!("`{field}`")), "the refusal of {shown} does not name the field `{field}`: {msg:?}");
    match entitled {
        Some(code) => ensure!(
            msg.contains(&format!("annex {code}")),
            "an entitled member's refusal should name annex {code}: {msg:?} (request {shown})"
        ),
        None => {
            for code in ["A1", "A2", "A3", "A4"] {
                ensure!(!msg.contains(code), "a refusal to a member not entitled names annex {code}: {msg:?}");
            }
            assert_no_restricted(&[err.to_string()], &all_patterns(), "the refusal message to an unentitled member");
        }
    }
    let after = server.stored_revision().await?;
    ensure!(after == before, "a refused request stored something: revision {before} -> {after} ({shown})");
    Ok(msg)
}

/// The highest revision among the `event` frames `c` received.
fn last_event_revision(c: &WsClient) -> u64 {
    c.captured()
        .iter()
        .filter_map(|f| serde_json::from_str::<Value>(f).ok())
        .filter(|v| v["type"] == "event")
        .filter_map(|v| v["rev"]["revision"].as_u64())
        .max()
        .unwrap_or(0)
}

/// `text` with every occurrence of each of `patterns` replaced by '█', char for char.
fn masked(text: &str, patterns: &[&str]) -> String {
    let mut out = text.to_string();
    for p in patterns {
        out = out.replace(p, &"█".repeat(p.chars().count()));
    }
    out
}
