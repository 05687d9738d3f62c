//! Manifests and exports: same revision same manifest, deterministic audited exports, golden files, manifest verification.

use super::*;

#[tokio::test]
async fn releasing_the_same_revision_twice_gives_the_same_manifest() -> Result<()> {
    let server = TestServer::start().await?;
    let room = clean_room(&server).await?;
    let (mut owner, _) = member(&server, "owner", &room).await?;
    // Drafting and held rooms are not released.
    let m =
        refused_message(&mut owner, json!({"type": "release", "room": room, "lane": "privacy"}), "conflict").await?;
    ensure!(m.contains("the room is DRAFTING; mark it ready first"), "{m}");
    owner.ok(json!({"type": "hold", "room": room, "reason": "waiting"})).await?;
    let m =
        refused_message(&mut owner, json!({"type": "release", "room": room, "lane": "privacy"}), "conflict").await?;
    ensure!(m.contains("HELD"), "{m}");
    owner.ok(json!({"type": "clear_hold", "room": room, "hold": 1, "rationale": "done waiting"})).await?;
    let first = ready_and_release(&mut owner, &room, "privacy").await?;
    // Again, straight from RELEASED (nothing changed), and after ready.
    let second = owner.ok(json!({"type": "release", "room": room, "lane": "privacy"})).await?;
    let third = ready_and_release(&mut owner, &room, "privacy").await?;
    ensure!(first["created"] == second["created"] && second["created"] == third["created"], "same manifest hash");
    // A hold cleared in between is part of the next manifest: a different
    // manifest of the same packet revision, listing both cleared holds.
    owner.ok(json!({"type": "hold", "room": room, "reason": "pause"})).await?;
    owner.ok(json!({"type": "clear_hold", "room": room, "hold": 2, "rationale": "resumed"})).await?;
    let fourth = ready_and_release(&mut owner, &room, "privacy").await?;
    ensure!(fourth["created"] != first["created"], "the cleared hold H-2 is in the manifest");
    let other_lane = owner.ok(json!({"type": "release", "room": room, "lane": "account-governance"})).await?;
    ensure!(other_lane["created"] != first["created"], "the lane is part of the manifest");
    let history = owner.ok(json!({"type": "manifests", "room": room})).await?;
    let records = history["manifests"].as_array().context("manifests")?;
    ensure!(records.len() == 5, "every release is kept: {}", records.len());
    ensure!(
        records[0]["manifest"] == records[1]["manifest"] && records[1]["manifest"] == records[2]["manifest"],
        "identical signed manifests"
    );
    ensure!(records[0]["event"] != records[1]["event"], "the release events differ (time, room revision)");
    let key = public_key(&server).await?;
    ensure!(history["public_key"] == key);
    ensure!(records[0]["manifest"]["body"]["public_key"] == key);
    // The audit anchor is the entry that recorded the released packet revision.
    let packet = records[0]["manifest"]["body"]["revision"].as_u64().context("revision")?;
    let chain = server.audit_chain(&room).await?;
    let anchor = &records[0]["manifest"]["body"]["audit_anchor"];
    let entry = chain.iter().find(|e| e.seq == anchor["seq"].as_u64().unwrap_or(0)).context("anchor entry")?;
    ensure!(
        entry.hash == anchor["hash"].as_str().unwrap_or_default()
            && entry.revision == packet
            && entry.kind.starts_with("change.")
    );
    // Manifests are stored with the release (durable across a restart).
    drop(owner);
    let mut server = server;
    server.restart().await?;
    let (mut owner, _) = member(&server, "owner", &room).await?;
    let after = owner.ok(json!({"type": "manifests", "room": room})).await?;
    ensure!(after["manifests"] == history["manifests"], "manifest history survives a restart");
    ensure!(after["public_key"] == key, "the signing key survives a restart");
    Ok(())
}

#[tokio::test]
async fn exports_are_deterministic_audited_and_rebuild_past_revisions() -> Result<()> {
    let server = TestServer::start().await?;
    let room = server.room();
    let (mut owner, _) = server.joined("owner").await?;
    let (mut agent, _) = server.joined("agent/chronology").await?;
    let a = export(&mut owner, &room, None, "json").await?;
    let b = export(&mut owner, &room, None, "json").await?;
    ensure!(text(&a) == text(&b), "same state, same bytes");
    ensure!(
        text(&export(&mut agent, &room, None, "json").await?) == text(&a),
        "every member gets the same filtered bundle"
    );
    let md = export(&mut owner, &room, None, "markdown").await?;
    ensure!(text(&md) == text(&export(&mut owner, &room, None, "markdown").await?));
    ensure!(a["exact"] == true && a["released"] == false, "{a:?}");
    let at = revision(&a);

    // Nothing restricted: no annex content, no sensitive pattern; references are markers.
    for t in [text(&a), text(&md)] {
        trustroom_e2e::assert_no_canary(std::slice::from_ref(&t), &trustroom_server::demo::CANARIES, "export");
        for p in trustroom_e2e::DEMO_SENSITIVE {
            ensure!(!t.contains(p), "sensitive pattern {p} in an export");
        }
        ensure!(t.contains("[redacted: annex A3 · privileged-access-path]"), "annex references become markers");
    }

    // Later changes; then the old revision is rebuilt exactly from storage.
    let (mut privacy, snap) = server.joined("reviewer/privacy").await?;
    let (sid, _) = section_of(&snap, "Summary")?;
    privacy
        .ok(json!({"type": "object", "room": room, "section": sid, "kind": "wording", "text": "Later objection."}))
        .await?;
    append_demo(&server, &mut owner).await?;
    let now = export(&mut owner, &room, None, "json").await?;
    ensure!(text(&now) != text(&a));
    let past = export(&mut owner, &room, Some(at), "json").await?;
    ensure!(text(&past) == text(&a), "export --revision {at} rebuilds the same bytes");
    let past_md = export(&mut owner, &room, Some(at), "markdown").await?;
    ensure!(text(&past_md) == text(&md));
    owner.refused(json!({"type": "export", "room": room, "revision": 10_000}), "not_found").await?;

    // The operator's export is the same bundle.
    let op = trustroom_server::export::operator_export(
        &server.store,
        server.seed.room,
        Some(at),
        trustroom_shared::export::ExportFormat::Json,
    )
    .await?;
    ensure!(op.text == text(&a), "operator and member exports are identical");

    // Every export is audited, with the digest of what was handed out.
    let chain = server.audit_chain(&room).await?;
    let exports: Vec<_> = chain.iter().filter(|e| e.kind == "export").collect();
    ensure!(exports.len() == 9, "9 exports, {} audited", exports.len());
    ensure!(exports.iter().any(|e| e.actor == "admin" && e.detail["by"] == "operator"));
    let digest = trustroom_shared::canonical::sha256_hex(text(&a).as_bytes());
    ensure!(exports.iter().filter(|e| e.detail["sha256"] == digest.as_str()).count() >= 4);
    Ok(())
}

pub(crate) async fn append_demo(server: &TestServer, owner: &mut WsClient) -> Result<()> {
    let snap = server.joined("observer").await?.1;
    let (sid, body) = section_of(&snap, "Chronology")?;
    owner
        .ok(json!({"type": "edit", "room": server.room(), "section": sid, "base": trustroom_e2e::revision_of(&snap), "op": [body.chars().count(), "\n\n[verified: TL-0433] 10:40 Customer notified."]}))
        .await?;
    Ok(())
}

pub(crate) fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("golden")
}

pub(crate) fn is_hex(b: u8) -> bool {
    b.is_ascii_digit() || (b'a'..=b'f').contains(&b)
}

/// Replaces what differs between two seedings of the demo room — UUIDs,
/// SHA-256 hashes, signatures, 16-digit hash prefixes, millisecond times
/// and UTC timestamps — by numbered placeholders in order of first
/// appearance, so equal values stay visibly equal.
pub(crate) fn normalize(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut counters: HashMap<&str, usize> = HashMap::new();
    let mut out = String::with_capacity(text.len());
    let mut name = |kind: &'static str, token: &str, seen: &mut HashMap<String, String>| -> String {
        seen.entry(format!("{kind}:{token}"))
            .or_insert_with(|| {
                let n = counters.entry(kind).or_insert(0);
                *n += 1;
                format!("<{kind}-{n}>")
            })
            .clone()
    };
    let uuid_at = |i: usize| -> bool {
        let groups = [8, 4, 4, 4, 12];
        let mut p = i;
        for (g, len) in groups.iter().enumerate() {
            if p + len > bytes.len() || !bytes[p..p + len].iter().all(|b| is_hex(*b)) {
                return false;
            }
            p += len;
            if g < 4 {
                if bytes.get(p) != Some(&b'-') {
                    return false;
                }
                p += 1;
            }
        }
        bytes.get(p).is_none_or(|b| !is_hex(*b))
    };
    let time_at = |i: usize| -> bool {
        // YYYY-MM-DD HH:MM:SSZ
        let pat = b"dddd-dd-dd dd:dd:ddZ";
        i + pat.len() <= bytes.len()
            && pat.iter().zip(&bytes[i..]).all(|(p, b)| if *p == b'd' { b.is_ascii_digit() } else { p == b })
    };
    let mut i = 0;
    while i < bytes.len() {
        let boundary = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric());
        if boundary && uuid_at(i) {
            out.push_str(&name("id", &text[i..i + 36], &mut seen));
            i += 36;
            continue;
        }
        if boundary && time_at(i) {
            out.push_str("<time>");
            i += 20;
            continue;
        }
        if boundary && is_hex(bytes[i]) {
            let mut j = i;
            while j < bytes.len() && is_hex(bytes[j]) {
                j += 1;
            }
            let run = &text[i..j];
            let ends = j == bytes.len() || !bytes[j].is_ascii_alphanumeric();
            let all_digits = run.bytes().all(|b| b.is_ascii_digit());
            let kind = match run.len() {
                128 if ends => Some("sig"),
                64 if ends => Some("hash"),
                16 if ends && !all_digits => Some("hex16"),
                12..=14 if ends && all_digits => Some("ms"),
                _ => None,
            };
            if let Some(kind) = kind {
                if kind == "ms" {
                    out.push_str("<ms>");
                } else {
                    out.push_str(&name(kind, run, &mut seen));
                }
                i = j;
                continue;
            }
            out.push_str(run);
            i = j;
            continue;
        }
        let ch = text[i..].chars().next().unwrap_or(' ');
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

/// An export, normalized, against `tests/golden/release/NAME`.
pub(crate) fn check_export(name: &str, actual: &str) -> Result<()> {
    trustroom_e2e::check_golden(&golden_dir().join(name), &normalize(actual))
}

#[test]
fn normalize_keeps_equal_values_equal() {
    let a = "01a20be1-12f0-70e3-9c01-bee3c1c1f587 x 01a20be1-12f0-70e3-9c01-bee3c1c1f587 y 01a20be1-12f0-70e3-9c01-bee3c1c1f588";
    assert_eq!(normalize(a), "<id-1> x <id-1> y <id-2>");
    let h = "a".repeat(64);
    assert_eq!(
        normalize(&format!("\"{h}\" 1795495633975 2026-11-24 04:47:13Z rev 12")),
        "\"<hash-1>\" <ms> <time> rev 12"
    );
}

#[tokio::test]
async fn golden_exports_of_the_demo_room() -> Result<()> {
    let server = TestServer::start().await?;
    let room = server.room();
    let (mut owner, _) = server.joined("owner").await?;
    check_export("demo_export.json", &text(&export(&mut owner, &room, None, "json").await?))?;
    check_export("demo_export.md", &text(&export(&mut owner, &room, None, "markdown").await?))?;
    Ok(())
}

/// A clean room released with a co-signer; returns (room, bundle text at the release).
pub(crate) async fn released_bundle(server: &TestServer) -> Result<(String, String, u64)> {
    let room = clean_room(server).await?;
    let (mut owner, _) = member(server, "owner", &room).await?;
    let (mut legal, _) = member(server, "reviewer/legal", &room).await?;
    owner.ok(json!({"type": "set_release_policy", "room": room, "disciplines": ["legal"]})).await?;
    ok(&cosign(&mut legal, &room, server).await?)?;
    let ack = ready_and_release(&mut owner, &room, "privacy").await?;
    let bundle = export(&mut owner, &room, None, "json").await?;
    ensure!(bundle["released"] == true, "{bundle}");
    Ok((room, text(&bundle), revision(&ack)))
}

#[tokio::test]
async fn manifest_verification_fails_for_any_change_a_wrong_key_or_another_revision() -> Result<()> {
    let server = TestServer::start().await?;
    let key = public_key(&server).await?;
    let (room, bundle, released_at) = released_bundle(&server).await?;
    let v = verify_bundle(&bundle, &key);
    ensure!(v.verified, "{v:?}");
    ensure!(v.summary.contains("co-signed by daniel.okafor"), "{}", v.summary);

    // Any changed byte: every byte of the release record and the packet
    // content, and a stride through the rest.
    let start = bundle.find("\"release\"").unwrap_or(0);
    let content = bundle.find("\"content\"").unwrap_or(0);
    let bytes = bundle.as_bytes();
    let mut tried = 0;
    for i in 0..bytes.len() {
        let dense = i >= start || (i >= content && i < content + 3000);
        if !dense && i % 7 != 0 {
            continue;
        }
        let mut changed = bytes.to_vec();
        changed[i] = match changed[i] {
            b'0' => b'1',
            b' ' => b'\t',
            b'\n' => b' ',
            other => other ^ 0x01,
        };
        let Ok(s) = String::from_utf8(changed) else { continue };
        tried += 1;
        ensure!(!verify_bundle(&s, &key).verified, "changing byte {i} ({:?}) still verifies", bytes[i] as char);
    }
    ensure!(tried > 2000, "only {tried} changes tried");
    // A wrong key.
    // RFC 8032's first test key: a valid Ed25519 key that is not the server's.
    let other = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a".to_string();
    let v = verify_bundle(&bundle, &other);
    ensure!(!v.verified && v.summary.contains("key"), "{}", v.summary);

    // Another revision: after a change the bundle carries no manifest;
    // splicing the old release record into it fails on the content hash.
    let (mut owner, _) = member(&server, "owner", &room).await?;
    append(&server, &mut owner, &room, "[verified: SL-0104] The session ended at 09:28.").await?;
    let later = text(&export(&mut owner, &room, None, "json").await?);
    let v = verify_bundle(&later, &key);
    ensure!(!v.verified && v.summary.contains("not released"), "{}", v.summary);
    let mut spliced: Value = serde_json::from_str(&later)?;
    let original: Value = serde_json::from_str(&bundle)?;
    spliced["release"] = original["release"].clone();
    let spliced = trustroom_shared::export::json_text(&spliced);
    let v = verify_bundle(&spliced, &key);
    ensure!(!v.verified && v.summary.contains("content hash"), "{}", v.summary);
    // The released revision, rebuilt later from storage, still verifies.
    let past = text(&export(&mut owner, &room, Some(released_at), "json").await?);
    ensure!(past == bundle, "the released revision exports to the same bytes");

    // The operator's command line: exit 0 only for the released bundle.
    let bin = server_bin()?;
    let dir = server.dir().to_path_buf();
    let good = dir.join("released.json");
    let bad = dir.join("later.json");
    std::fs::write(&good, &bundle)?;
    std::fs::write(&bad, &spliced)?;
    let home = dir.join("home");
    let db = server.db_url.clone();
    let run =
        run_process(&bin, &["--db", &db, "manifest", "verify", good.to_str().unwrap_or_default()], &home, &[]).await?;
    ensure!(run.success() && run.stdout.contains("VERIFIED — exactly packet revision"), "{run:?}");
    // Each line is worded for its verdict: no failure wording on a passing line.
    ensure!(run.stdout.contains("ok   released: the bundle carries a release manifest\n"), "{}", run.stdout);
    ensure!(run.stdout.contains(&format!("ok   key: the manifest names the expected key {key}\n")), "{}", run.stdout);
    for line in run.stdout.lines().filter(|l| l.starts_with("ok")) {
        ensure!(
            !["not ", "no release", "differs", "unexpected"].iter().any(|w| line.contains(w)),
            "a passing line worded as a failure: {line}"
        );
    }
    let run =
        run_process(&bin, &["manifest", "verify", "--public-key", &key, bad.to_str().unwrap_or_default()], &home, &[])
            .await?;
    ensure!(run.code == Some(1) && run.stdout.contains("NOT VERIFIED"), "{run:?}");
    let run = run_process(
        &bin,
        &["manifest", "verify", "--public-key", &other, good.to_str().unwrap_or_default()],
        &home,
        &[],
    )
    .await?;
    ensure!(run.code == Some(1), "{run:?}");
    ensure!(
        run.stdout.contains(&format!("FAIL key: the manifest names key {key}, not the expected {other}")),
        "{run:?}"
    );
    let run = run_process(&bin, &["--db", &db, "key", "show"], &home, &[]).await?;
    ensure!(run.success() && run.stdout.trim() == key, "{run:?}");
    Ok(())
}
