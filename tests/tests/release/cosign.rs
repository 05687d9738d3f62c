//! Co-signature policy: met, unmet, voided, refused; lanes and audiences bound.

use super::*;

#[tokio::test]
async fn cosign_policy_met_unmet_voided_and_refused() -> Result<()> {
    let server = TestServer::start().await?;
    let room = clean_room(&server).await?;
    let (mut owner, _) = member(&server, "owner", &room).await?;
    let (mut privacy, _) = member(&server, "reviewer/privacy", &room).await?;
    let (mut legal, _) = member(&server, "reviewer/legal", &room).await?;
    let (mut sam, _) = member(&server, "reviewer/support-engineering", &room).await?;
    let (mut agent, _) = member(&server, "agent/trace-keeper", &room).await?;
    let (mut observer, _) = member(&server, "observer", &room).await?;
    let sam_id = server.member("reviewer/support-engineering").user.to_string();
    let agent_id = server.member("agent/trace-keeper").user.to_string();
    let owner_id = server.member("owner").user.to_string();
    let release = json!({"type": "release", "room": room, "lane": "privacy"});

    // A policy cannot require agents or owners.
    owner.refused(json!({"type": "set_release_policy", "room": room, "members": [agent_id]}), "invalid").await?;
    owner.refused(json!({"type": "set_release_policy", "room": room, "members": [owner_id]}), "invalid").await?;
    owner
        .ok(json!({"type": "set_release_policy", "room": room, "members": [sam_id], "disciplines": ["legal", "privacy", "legal"]}))
        .await?;
    let r = readiness(&mut owner, &room).await?;
    ensure!(r["cosign"]["policy"]["disciplines"] == json!(["privacy", "legal"]), "{}", r["cosign"]["policy"]);
    ensure!(r["cosign"]["met"] == false);
    owner.ok(json!({"type": "mark_ready", "room": room})).await?;
    let m = refused_message(&mut owner, release.clone(), "conflict").await?;
    for need in
        ["co-signature from sam.reyes", "co-signature from a privacy reviewer", "co-signature from a legal reviewer"]
    {
        ensure!(m.contains(need), "{need}: {m}");
    }

    // Refusals: agents never sign; an unnamed observer neither; a wrong hash is stale.
    ensure!(error_code(&cosign(&mut agent, &room, &server).await?) == "forbidden");
    ensure!(error_code(&cosign(&mut observer, &room, &server).await?) == "forbidden");
    privacy
        .refused(json!({"type": "cosign", "room": room, "content_hash": "0".repeat(64), "lane": "privacy"}), "stale")
        .await?;
    // Privacy signs; not twice for the same content.
    ok(&cosign(&mut privacy, &room, &server).await?)?;
    let again = cosign(&mut privacy, &room, &server).await?;
    ensure!(error_code(&again) == "conflict", "double co-sign: {again}");
    ok(&cosign(&mut legal, &room, &server).await?)?;
    let r = readiness(&mut owner, &room).await?;
    ensure!(r["cosign"]["met"] == false, "sam is still missing");
    let m = refused_message(&mut owner, release.clone(), "conflict").await?;
    ensure!(m.contains("co-signature from sam.reyes") && !m.contains("privacy reviewer"), "{m}");
    ok(&cosign(&mut sam, &room, &server).await?)?;
    let r = readiness(&mut owner, &room).await?;
    ensure!(r["cosign"]["met"] == true, "{}", r["cosign"]);
    let signed_at = r["content_revision"].as_u64().context("content_revision")?;

    // A change voids every co-signature; the record says who signs again and what changed.
    let edit = append(&server, &mut owner, &room, "[verified: TL-0430] Escalated to support trust at 10:05.").await?;
    let r = readiness(&mut owner, &room).await?;
    ensure!(r["cosign"]["met"] == false);
    let again = r["cosign"]["must_sign_again"].as_array().context("must_sign_again")?;
    ensure!(again.len() == 3, "{again:?}");
    for a in again {
        ensure!(a["signed_revision"] == signed_at && a["voided_at"] == edit, "{a}");
        ensure!(a["changed"] == json!(["section \"Summary\""]), "{a}");
    }
    let snap = snapshot(&server, &room).await?;
    ensure!(snap["state"]["cosignatures"].as_array().is_some_and(|c| c.iter().all(|s| s["voided_at"] == edit)));
    owner.ok(json!({"type": "mark_ready", "room": room})).await?;
    let m = refused_message(&mut owner, release.clone(), "conflict").await?;
    ensure!(m.contains("voided by a later change: sam.reyes (signed rev"), "{m}");

    // Everyone signs again; the release names all three.
    for c in [&mut privacy, &mut legal, &mut sam] {
        ok(&cosign(c, &room, &server).await?)?;
    }
    owner.ok(release.clone()).await?;
    let history = owner.ok(json!({"type": "manifests", "room": room})).await?;
    let names: Vec<&str> = history["manifests"][0]["manifest"]["body"]["cosigners"]
        .as_array()
        .map(|a| a.iter().filter_map(|c| c["name"].as_str()).collect())
        .unwrap_or_default();
    ensure!(names == ["daniel.okafor", "priya.natarajan", "sam.reyes"], "{names:?}");
    Ok(())
}

/// Finding 8: a co-signature binds the revision, the content hash, the lane
/// and the audience. Privacy and legal co-sign for the privacy lane; the
/// owner may release to the privacy lane, but not the same revision to
/// product-security, nor to a wider audience than signed, until co-signatures
/// for exactly that scope exist.
#[tokio::test]
async fn cosignatures_bind_the_lane_and_the_audience() -> Result<()> {
    let server = TestServer::start().await?;
    let key = public_key(&server).await?;
    let room = clean_room(&server).await?;
    let (mut owner, _) = member(&server, "owner", &room).await?;
    let (mut privacy, _) = member(&server, "reviewer/privacy", &room).await?;
    let (mut legal, _) = member(&server, "reviewer/legal", &room).await?;
    owner.ok(json!({"type": "set_release_policy", "room": room, "disciplines": ["privacy", "legal"]})).await?;
    let release = |lane: &str, audience: Option<&str>| {
        let mut req = json!({"type": "release", "room": room, "lane": lane});
        if let Some(a) = audience {
            req["audience"] = json!(a);
        }
        req
    };

    // A co-signature names its lane; audiences are the documented ones.
    let hash = snapshot(&server, &room).await?["content_hash"].as_str().unwrap_or_default().to_string();
    let m =
        refused_message(&mut privacy, json!({"type": "cosign", "room": room, "content_hash": hash}), "invalid").await?;
    ensure!(m.contains("lane"), "a co-sign without a lane: {m}");
    privacy
        .refused(
            json!({"type": "cosign", "room": room, "content_hash": hash, "lane": "privacy", "audience": "everyone"}),
            "invalid",
        )
        .await?;
    owner.refused(release("privacy", Some("everyone")), "invalid").await?;

    // Privacy and legal co-sign for the privacy lane (default audience: lane-reviewers).
    ok(&cosign_for(&mut privacy, &room, &server, "privacy", None).await?)?;
    ok(&cosign_for(&mut legal, &room, &server, "privacy", None).await?)?;
    let again = cosign_for(&mut legal, &room, &server, "privacy", Some("lane-reviewers")).await?;
    ensure!(error_code(&again) == "conflict", "the same scope twice: {again}");
    let r = readiness(&mut owner, &room).await?;
    ensure!(r["cosign"]["met"] == true && r["blockers"].as_array().is_some_and(Vec::is_empty), "{}", r["cosign"]);
    ensure!(
        r["cosign"]["covers"].as_array().map(Vec::len) == Some(9),
        "every lane × audience: {}",
        r["cosign"]["covers"]
    );
    let c = cover(&r, "privacy", "lane-reviewers")?;
    ensure!(c["met"] == true && c["signers"] == json!(["daniel.okafor", "priya.natarajan"]), "{c}");
    for (lane, audience) in
        [("privacy", "lane-and-leads"), ("privacy", "organisation"), ("product-security", "lane-reviewers")]
    {
        let c = cover(&r, lane, audience)?;
        ensure!(c["met"] == false, "{lane} · {audience}: {c}");
    }
    ensure!(
        cover(&r, "product-security", "lane-reviewers")?["missing"]
            == json!(["co-signature from a privacy reviewer", "co-signature from a legal reviewer"]),
        "{}",
        r["cosign"]["covers"]
    );
    let snap = snapshot(&server, &room).await?;
    for s in snap["state"]["cosignatures"].as_array().context("cosignatures")? {
        ensure!(
            s["lane"] == "privacy" && s["audience"] == "lane-reviewers" && s["content_hash"] == hash.as_str(),
            "{s}"
        );
    }

    // The owner releases to the privacy lane.
    owner.ok(json!({"type": "mark_ready", "room": room})).await?;
    let first = owner.ok(release("privacy", None)).await?;
    ensure!(first["created"].as_str().is_some_and(|h| h.len() == 64), "{first}");

    // The same revision to product-security: refused, naming the lane and what is missing.
    let m = refused_message(&mut owner, release("product-security", None), "conflict").await?;
    ensure!(m.contains("release to the product-security lane (audience lane-reviewers)"), "{m}");
    for need in ["privacy", "legal"] {
        ensure!(
            m.contains(&format!(
                "co-signature from a {need} reviewer is missing for the product-security lane (audience lane-reviewers or wider)"
            )),
            "{need}: {m}"
        );
    }
    // A wider audience than signed: refused too.
    let m = refused_message(&mut owner, release("privacy", Some("organisation")), "conflict").await?;
    ensure!(m.contains("missing for the privacy lane (audience organisation or wider)"), "{m}");
    let m = refused_message(&mut owner, release("privacy", Some("lane-and-leads")), "conflict").await?;
    ensure!(m.contains("(audience lane-and-leads or wider)"), "{m}");

    // New co-signatures for product-security: privacy up to lane-and-leads,
    // legal up to organisation. The privacy-lane ones are kept beside them.
    ok(&cosign_for(&mut privacy, &room, &server, "product-security", Some("lane-and-leads")).await?)?;
    let m = refused_message(&mut owner, release("product-security", None), "conflict").await?;
    ensure!(
        m.contains("legal reviewer is missing for the product-security lane") && !m.contains("privacy reviewer"),
        "{m}"
    );
    ok(&cosign_for(&mut legal, &room, &server, "product-security", Some("organisation")).await?)?;
    let snap = snapshot(&server, &room).await?;
    let valid =
        snap["state"]["cosignatures"].as_array().map_or(0, |a| a.iter().filter(|s| s["voided_at"].is_null()).count());
    ensure!(valid == 4, "one co-signature per member and lane: {}", snap["state"]["cosignatures"]);
    let second = owner.ok(release("product-security", Some("lane-and-leads"))).await?;
    // Narrower than signed is covered; wider than the narrowest signer is not.
    owner.ok(release("product-security", None)).await?;
    let m = refused_message(&mut owner, release("product-security", Some("organisation")), "conflict").await?;
    ensure!(
        m.contains("co-signature from a privacy reviewer is missing for the product-security lane (audience organisation or wider)")
            && !m.contains("legal reviewer"),
        "{m}"
    );
    // The privacy lane still has its co-signatures.
    let repeat = owner.ok(release("privacy", None)).await?;
    ensure!(repeat["created"] == first["created"], "same revision, lane and audience: same manifest");

    // The manifests carry the scope and the co-signatures they relied on.
    let history = owner.ok(json!({"type": "manifests", "room": room})).await?;
    let records = history["manifests"].as_array().context("manifests")?;
    ensure!(records.len() == 4, "{}", records.len());
    let body = &records[0]["manifest"]["body"];
    ensure!(body["lane"] == "privacy" && body["audience"] == "lane-reviewers", "{body}");
    let revision_signed = body["revision"].clone();
    let cosigners = body["cosigners"].as_array().context("cosigners")?;
    ensure!(cosigners.len() == 2, "{cosigners:?}");
    for (c, name, role) in
        [(&cosigners[0], "daniel.okafor", "reviewer/legal"), (&cosigners[1], "priya.natarajan", "reviewer/privacy")]
    {
        ensure!(c["name"] == name && c["role"] == role, "{c}");
        ensure!(c["lane"] == "privacy" && c["audience"] == "lane-reviewers", "{c}");
        ensure!(c["revision"] == revision_signed && c["content_hash"] == body["content_hash"], "{c}");
    }
    let body = &records[1]["manifest"]["body"];
    ensure!(records[1]["manifest"]["manifest_hash"] == second["created"]);
    ensure!(body["lane"] == "product-security" && body["audience"] == "lane-and-leads", "{body}");
    let scopes: Vec<(String, String, String)> = body["cosigners"]
        .as_array()
        .context("cosigners")?
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap_or_default().into(),
                c["lane"].as_str().unwrap_or_default().into(),
                c["audience"].as_str().unwrap_or_default().into(),
            )
        })
        .collect();
    ensure!(
        scopes
            == [
                ("daniel.okafor".to_string(), "product-security".to_string(), "organisation".to_string()),
                ("priya.natarajan".to_string(), "product-security".to_string(), "lane-and-leads".to_string()),
            ],
        "{scopes:?}"
    );
    ensure!(records[2]["manifest"]["body"]["audience"] == "lane-reviewers");
    ensure!(
        records[3]["manifest"] == records[0]["manifest"],
        "deterministic: the same state and scope give the same manifest"
    );

    // The audit log records the scope of each co-signature and release.
    let chain = server.audit_chain(&room).await?;
    let cosigned: Vec<_> = chain.iter().filter(|e| e.kind == "change.cosigned").collect();
    ensure!(cosigned.len() == 4, "{}", cosigned.len());
    ensure!(
        cosigned[2].detail["lane"] == "product-security" && cosigned[2].detail["audience"] == "lane-and-leads",
        "{}",
        cosigned[2].detail
    );
    ensure!(
        chain.iter().any(|e| e.kind == "change.release_changed"
            && e.detail["lane"] == "product-security"
            && e.detail["audience"] == "lane-and-leads"),
        "the release entry names lane and audience"
    );

    // The exported bundle of the packet revision verifies and names its scope.
    let bundle = export(&mut owner, &room, None, "json").await?;
    let v = verify_bundle(&text(&bundle), &key);
    ensure!(v.verified, "{v:?}");
    let md = text(&export(&mut owner, &room, None, "markdown").await?);
    ensure!(md.contains("for audience lane-reviewers") && md.contains("for privacy · lane-reviewers"), "{md}");

    // New content voids every co-signature, for every lane.
    append(&server, &mut owner, &room, "[verified: SL-0104] The session ended at 09:28.").await?;
    owner.ok(json!({"type": "mark_ready", "room": room})).await?;
    for lane in ["privacy", "product-security"] {
        let m = refused_message(&mut owner, release(lane, None), "conflict").await?;
        ensure!(
            m.contains(&format!("voided by a later change: priya.natarajan (signed rev {revision_signed} for {lane}")),
            "{m}"
        );
    }
    let r = readiness(&mut owner, &room).await?;
    ensure!(
        r["cosign"]["met"] == false && r["cosign"]["must_sign_again"].as_array().map(Vec::len) == Some(4),
        "{}",
        r["cosign"]
    );
    ok(&cosign_for(&mut privacy, &room, &server, "product-security", None).await?)?;
    ok(&cosign_for(&mut legal, &room, &server, "product-security", None).await?)?;
    refused_message(&mut owner, release("privacy", None), "conflict").await?;
    owner.ok(release("product-security", None)).await?;
    Ok(())
}
