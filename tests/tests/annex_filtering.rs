//! Annex filtering end to end: every member role is connected while others
//! edit, object and read annexes; a canary planted in each annex never
//! appears in any frame received by a member without access, and members
//! with access see it only in the answer to their own audited `view_annex`.
// Test code: a failed expectation is the verdict (the lints bind product code).
#![allow(clippy::expect_used, clippy::panic)]

use std::collections::HashMap;

use anyhow::{Context, Result, ensure};
use serde_json::{Value, json};
use trustroom_e2e::{
    DEMO_SENSITIVE, T, TestServer, WsClient, annex_id, assert_no_canary, canary_of, chars, may_read, revision_of,
    section,
};
use trustroom_server::admin::{self, NewAnnex};

const MEMBERS: [(&str, &str); 8] = [
    ("owner", "morgan.hale"),
    ("reviewer/privacy", "priya.natarajan"),
    ("reviewer/legal", "daniel.okafor"),
    ("reviewer/support-engineering", "sam.reyes"),
    ("reviewer/support-trust", "lena.fischer"),
    ("agent/chronology", "chronology-agent"),
    ("agent/trace-keeper", "trace-keeper-agent"),
    ("observer", "ari.observer"),
];

/// Editors and the section each one appends to.
fn own_section(role: &str) -> Option<&'static str> {
    match role {
        "owner" => Some("Summary"),
        "reviewer/privacy" => Some("Exposure scope"),
        "reviewer/legal" => Some("Chronology"),
        "reviewer/support-engineering" => Some("Privileged access path"),
        "reviewer/support-trust" => Some("Affected accounts"),
        _ => None,
    }
}

const LIVE_CANARY: &str = "CANARY-LIVE-ANNEX-a4b4c4";
const LIVE_SENSITIVE: &str = "acct-1234-LIVE";

/// One member's activity: edits (editors), objections (agents), cursors,
/// and a `view_annex` for every annex. Returns the client and the codes of
/// the annexes it read.
async fn act(
    mut c: WsClient,
    role: &'static str,
    name: &'static str,
    snap: Value,
    room: String,
) -> Result<(WsClient, Vec<String>)> {
    let mut read = Vec::new();
    let mut rev = revision_of(&snap);
    let codes = ["A1", "A2", "A3"];
    for (round, code) in codes.iter().enumerate() {
        if let Some(title) = own_section(role) {
            // Appends only, each editor to its own section: base = our last ack.
            let (sid, _) = section(&snap, title)?;
            let body_len = chars(&section(&snap, title)?.1) + (round as i64) * chars(&format!(" [{role} 0]"));
            let text = format!(" [{role} {round}]");
            let ack = c
                .ok(json!({"type": "edit", "room": room, "section": sid, "base": rev, "op": [body_len, text], "seq": round + 1}))
                .await?;
            rev = ack["revision"].as_u64().context("revision")?;
        } else if role.starts_with("agent") {
            let (sid, _) = section(&snap, "Chronology")?;
            c.ok(json!({"type": "object", "room": room, "section": sid, "kind": "evidence-sufficiency",
                        "text": format!("{name}: link the render log line ({round})"), "seq": round + 1}))
                .await?;
        } else {
            let (sid, _) = section(&snap, "Summary")?;
            c.ok(json!({"type": "cursor", "room": room, "section": sid, "pos": round})).await?;
        }
        let annex = annex_id(&snap, code)?;
        let answer = c.request(json!({"type": "view_annex", "room": room, "annex": annex})).await?;
        if may_read(name, code) {
            ensure!(answer["type"] == "ok", "{name} may read {code}: {answer}");
            let result = &answer["result"];
            ensure!(
                result["content"].as_str().is_some_and(|t| t.contains(canary_of(code))),
                "{name}/{code}: content lacks the canary"
            );
            ensure!(result["code"] == *code && result["logged"] == true && result["annex"] == annex.as_str());
            read.push(code.to_string());
        } else {
            ensure!(answer["type"] == "error" && answer["code"] == "forbidden", "{name} may not read {code}: {answer}");
            ensure!(!answer.to_string().contains(canary_of(code)));
        }
    }
    Ok((c, read))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn annex_content_reaches_only_the_need_to_know_list() -> Result<()> {
    let server = TestServer::start().await?;
    let room = server.room();

    // Everyone connects and joins first, so every frame of the session is captured.
    let mut joined = Vec::new();
    for (role, name) in MEMBERS {
        assert_eq!(server.member(role).name, name, "seed changed");
        let (c, snap) = server.joined(role).await?;
        joined.push((role, name, c, snap));
    }
    let mut tasks = Vec::new();
    for (role, name, c, snap) in joined {
        let room = room.clone();
        tasks.push((role, name, tokio::spawn(act(c, role, name, snap, room))));
    }
    let mut clients: Vec<(&str, &str, WsClient)> = Vec::new();
    let mut reads: HashMap<&str, Vec<String>> = HashMap::new();
    for (role, name, t) in tasks {
        let (c, read) = tokio::time::timeout(T * 3, t).await.context("a member hung")???;
        reads.insert(name, read);
        clients.push((role, name, c));
    }

    // A fourth annex added live by the administrator: the event everyone
    // receives must be redacted as well.
    admin::add_annex(
        &server.store,
        server.seed.room,
        NewAnnex {
            title: "Draft impact tallies".into(),
            classification: "impact-tallies".into(),
            content: format!("Affected: {LIVE_SENSITIVE}\n{LIVE_CANARY}\n"),
            sensitive: vec![LIVE_SENSITIVE.into()],
            allow: vec!["lena.fischer".into()],
        },
    )
    .await?;
    let final_rev = server.stored_revision().await?;
    let mut a4 = String::new();
    for (_, name, c) in &mut clients {
        let ev = c
            .wait_for(|v| v["type"] == "event" && v["rev"]["change"]["kind"] == "annex_added", T)
            .await
            .with_context(|| format!("{name} did not get the annex_added event"))?;
        let annex = &ev["rev"]["change"]["annex"];
        ensure!(annex.get("content").is_none(), "{name}: annex_added event carries content: {annex}");
        ensure!(annex["sensitive"] == json!([]), "{name}: annex_added event carries sensitive patterns");
        ensure!(annex["code"] == "A4" && annex["sensitive_count"] == 1);
        // The annex is the last change: every earlier event arrived before it.
        ensure!(ev["rev"]["revision"] == final_rev, "{name}: annex_added at {} not {final_rev}", ev["rev"]["revision"]);
        a4 = annex["id"].as_str().context("annex id")?.to_string();
    }
    for (_, name, c) in &mut clients {
        let answer = c.request(json!({"type": "view_annex", "room": room, "annex": a4})).await?;
        if *name == "lena.fischer" {
            ensure!(
                answer["type"] == "ok" && answer["result"]["content"].as_str().is_some_and(|t| t.contains(LIVE_CANARY))
            );
        } else {
            ensure!(answer["code"] == "forbidden", "{name} read A4: {answer}");
        }
        c.ok(json!({"type": "ping"})).await?;
    }

    // Leak checks over every frame each client received.
    let mut all_codes: Vec<(&str, &str)> = ["A1", "A2", "A3"].iter().map(|c| (*c, canary_of(c))).collect();
    all_codes.push(("A4", LIVE_CANARY));
    let mut checked = 0;
    for (role, name, c) in &clients {
        let frames = c.captured();
        ensure!(frames.len() > 10, "{name} captured only {} frames", frames.len());
        for (code, canary) in &all_codes {
            let allowed = if *code == "A4" { *name == "lena.fischer" } else { trustroom_e2e::may_read(name, code) };
            if !allowed {
                assert_no_canary(frames, &[*canary], &format!("{name} ({role}) without access to {code}"));
                checked += 1;
                continue;
            }
            // With access: only in the answer to their own view_annex.
            for f in frames.iter().filter(|f| f.contains(canary)) {
                let v: Value = serde_json::from_str(f)?;
                ensure!(
                    v["type"] == "ok" && v["result"]["code"] == *code && v["result"]["logged"] == true,
                    "{name}: canary of {code} outside a view_annex answer: {f}"
                );
            }
        }
        // Sensitive identifiers travel only inside view_annex answers.
        for f in frames {
            let v: Value = serde_json::from_str(f)?;
            if v["type"] == "ok" && v["result"]["logged"] == true {
                continue;
            }
            for p in DEMO_SENSITIVE.iter().chain([LIVE_SENSITIVE].iter()) {
                ensure!(!f.contains(p), "{name}: sensitive pattern {p:?} in a frame: {f}");
            }
        }
    }
    ensure!(checked >= 8 * 4 - 6, "too few (member, annex) pairs checked: {checked}");

    // Audit: one annex.view per successful read, one refusal per forbidden one.
    let chain = server.audit_chain(&room).await?;
    let ids: HashMap<&str, String> = MEMBERS.iter().map(|(r, n)| (*n, server.member(r).user.to_string())).collect();
    let (_, snap) = server.joined("observer").await?;
    for (_, name) in MEMBERS {
        let user = &ids[name];
        for code in ["A1", "A2", "A3", "A4"] {
            let annex = annex_id(&snap, code)?;
            let views = chain
                .iter()
                .filter(|e| e.kind == "annex.view" && &e.actor == user && e.detail["annex"] == annex.as_str())
                .count();
            let allowed = if code == "A4" { name == "lena.fischer" } else { may_read(name, code) };
            if allowed {
                assert_eq!(views, 1, "{name}/{code}: annex.view entries");
            } else {
                assert_eq!(views, 0, "{name}/{code}: annex.view for a forbidden read");
            }
        }
        let refused = chain
            .iter()
            .filter(|e| {
                e.kind == "refused"
                    && &e.actor == user
                    && e.detail["request"] == "view_annex"
                    && e.detail["code"] == "forbidden"
            })
            .count();
        let expected =
            ["A1", "A2", "A3"].iter().filter(|c| !may_read(name, c)).count() + usize::from(name != "lena.fischer");
        assert_eq!(refused, expected, "{name}: audited forbidden views");
    }
    for (_, read) in reads {
        ensure!(read.iter().all(|c| c.starts_with('A')));
    }
    Ok(())
}

#[tokio::test]
async fn a_non_member_never_sees_annex_metadata_or_content() -> Result<()> {
    let server = TestServer::start().await?;
    let room = server.room();
    let (_, token) = admin::add_user(&server.store, "stranger").await?;
    let (_, snap) = server.joined("owner").await?;
    let mut stranger = WsClient::connect(&server.url, &token).await?;
    for code in ["A1", "A2", "A3"] {
        let annex = annex_id(&snap, code)?;
        stranger.refused(json!({"type": "view_annex", "room": room, "annex": annex}), "not_found").await?;
    }
    stranger.refused(json!({"type": "join", "room": room}), "not_found").await?;
    let frames = stranger.captured();
    trustroom_e2e::assert_no_canary(frames, &trustroom_server::demo::CANARIES, "stranger");
    trustroom_e2e::assert_no_canary(
        frames,
        &["Affected tenant identifiers", "tenant-identifiers", "session-replay"],
        "stranger",
    );
    Ok(())
}
