//! The scriptable client drives the release workflow.

use super::*;

#[tokio::test]
async fn the_command_line_drives_the_release_workflow() -> Result<()> {
    let server = TestServer::start().await?;
    let room = clean_room(&server).await?;
    let bin = client_bin()?;
    let r = server
        .cli(&bin, "owner", &["policy", &room, "--require-discipline", "privacy", "--require-member", "daniel.okafor"])
        .await?;
    ensure!(r.success() && r.stdout.contains("POLICY set"), "{r:?}");
    let r = server.cli(&bin, "observer", &["policy", &room]).await?;
    ensure!(r.stdout.contains("co-signatures required from daniel.okafor, a privacy reviewer"), "{r:?}");
    let r = server.cli(&bin, "owner", &["ready", &room]).await?;
    ensure!(r.success(), "{r:?}");
    let r = server.cli(&bin, "owner", &["release", &room, "--lane", "privacy"]).await?;
    ensure!(r.code == Some(8) && r.stderr.contains("error[conflict]") && r.stderr.contains("co-signature"), "{r:?}");
    let r = server.cli(&bin, "agent/chronology", &["cosign", &room, "--lane", "privacy"]).await?;
    ensure!(r.code == Some(6) && r.stderr.contains("error[forbidden]") && r.stderr.contains("agent"), "{r:?}");
    let r = server.cli(&bin, "reviewer/privacy", &["cosign", &room]).await?;
    ensure!(!r.success() && r.stderr.contains("--lane"), "a co-signature names its lane: {r:?}");
    let r = server.cli(&bin, "reviewer/privacy", &["cosign", &room, "--lane", "privacy", "--hash", "00000000"]).await?;
    ensure!(r.code == Some(8) && r.stderr.contains("error[stale]"), "{r:?}");
    for role in ["reviewer/privacy", "reviewer/legal"] {
        let r = server.cli(&bin, role, &["cosign", &room, "--lane", "privacy"]).await?;
        ensure!(
            r.success()
                && r.stdout.contains("CO-SIGNED content")
                && r.stdout.contains("for lane privacy · audience lane-reviewers"),
            "{role}: {r:?}"
        );
    }
    let r = server.cli(&bin, "owner", &["readiness", &room]).await?;
    ensure!(r.success() && r.stdout.contains("CLEAR") && r.stdout.contains("Co-signatures (met)"), "{r:?}");
    ensure!(
        r.stdout.contains("privacy: covered up to audience lane-reviewers (signed by daniel.okafor, priya.natarajan)"),
        "{r:?}"
    );
    ensure!(r.stdout.contains("product-security: NOT covered — missing"), "{r:?}");
    let r = server.cli(&bin, "owner", &["release", &room, "--lane", "product-security"]).await?;
    ensure!(
        r.code == Some(8) && r.stderr.contains("error[conflict]") && r.stderr.contains("product-security lane"),
        "{r:?}"
    );
    let r = server.cli(&bin, "owner", &["release", &room, "--lane", "privacy", "--audience", "organisation"]).await?;
    ensure!(r.code == Some(8) && r.stderr.contains("audience organisation"), "{r:?}");
    let packet = snapshot(&server, &room).await?["state"]["content_revision"].as_u64().context("packet")?;
    let r = server.cli(&bin, "owner", &["release", &room, "--lane", "privacy"]).await?;
    // Both revisions, each named: the room's revision of the release and
    // the packet revision released (what `show` and the manifest name).
    let at = revision(&snapshot(&server, &room).await?["state"]);
    ensure!(
        r.success()
            && r.stdout.starts_with(&format!("ok room rev {at} RELEASED packet rev {packet} (content "))
            && r.stdout.contains(" to privacy · lane-reviewers from READY manifest "),
        "{r:?}"
    );
    let r = server
        .cli(&bin, "reviewer/legal", &["section", "append", &room, "Summary", "-p", "[verified: SL-0104] Ended 09:28."])
        .await?;
    ensure!(r.success(), "{r:?}");
    let snap = snapshot(&server, &room).await?;
    let n = snap["state"]["last_release"]["revision"].as_u64().context("last release")?;
    let m = snap["state"]["last_release"]["superseded_at"].as_u64().context("superseded")?;
    let stale = format!("RELEASED rev {n} — superseded at rev {m}");
    let r = server.cli(&bin, "observer", &["show", &room]).await?;
    ensure!(
        r.success() && r.stdout.contains(&stale),
        "show: {}",
        r.stdout.lines().take(6).collect::<Vec<_>>().join("\n")
    );
    let r = server.cli(&bin, "observer", &["readiness", &room]).await?;
    ensure!(r.stdout.contains(&stale) && r.stdout.contains("must sign again"), "{r:?}");
    let r = server.cli(&bin, "observer", &["readiness", &room, "--json"]).await?;
    let v: Value = serde_json::from_str(&r.stdout).with_context(|| r.stdout.clone())?;
    ensure!(v["release"]["last_release"]["superseded_at"] == m);
    let out = server.dir().join("bundle.json");
    let released = server.dir().join("released.md");
    let out_s = out.to_str().unwrap_or_default().to_string();
    let r = server.cli(&bin, "observer", &["export", &room, "--format", "json", "--out", &out_s]).await?;
    ensure!(r.success() && r.stdout.contains("not released"), "{r:?}");
    let r = server
        .cli(
            &bin,
            "observer",
            &[
                "export",
                &room,
                "--revision",
                &n.to_string(),
                "--format",
                "markdown",
                "--out",
                released.to_str().unwrap_or_default(),
            ],
        )
        .await?;
    ensure!(r.success() && r.stdout.contains("released, with manifest"), "{r:?}");
    let md = std::fs::read_to_string(&released)?;
    ensure!(md.contains("## Release manifest") && md.contains("Co-signers: daniel.okafor"), "{md}");
    let r = server.cli(&bin, "observer", &["export", &room, "--format", "json"]).await?;
    ensure!(r.stdout == std::fs::read_to_string(&out)?, "stdout and --out give the same bytes");
    let r = server.cli(&bin, "observer", &["manifests", &room]).await?;
    ensure!(r.success() && r.stdout.contains(&format!("packet rev {n}  privacy · lane-reviewers")), "{r:?}");
    ensure!(r.stdout.contains("co-signed by daniel.okafor, priya.natarajan"), "{r:?}");

    // In one step with the packet revision reviewed: refused `stale`
    // (nothing changes) when the packet moved on, released otherwise.
    let r = server.cli(&bin, "owner", &["hold", &room, "--reason", "a last look at the timeline"]).await?;
    ensure!(r.success() && r.stdout.contains("H-1"), "the hold is named: {r:?}");
    let r = server.cli(&bin, "owner", &["hold", &room, "--reason", "legal reads the scope once more"]).await?;
    ensure!(r.success() && r.stdout.contains("H-2"), "{r:?}");
    // The register, for people and as JSON; a reviewer may read it.
    let r = server.cli(&bin, "reviewer/legal", &["holds", &room]).await?;
    ensure!(r.success() && r.stdout.contains("H-1 OPEN") && r.stdout.contains("H-2 OPEN"), "{r:?}");
    ensure!(r.stdout.contains("a last look at the timeline") && r.stdout.contains("by morgan.hale"), "{r:?}");
    let r = server.cli(&bin, "observer", &["holds", &room, "--json"]).await?;
    let v: Value = serde_json::from_str(&r.stdout).with_context(|| format!("{r:?}"))?;
    ensure!(v["holds"].as_array().map(Vec::len) == Some(2) && v["release"] == "HELD", "{v}");
    // Clearing: only owners, a rationale required, a code that parses.
    let r = server.cli(&bin, "reviewer/legal", &["clear-hold", &room, "H-2", "--rationale", "mine now"]).await?;
    ensure!(!r.success() && r.stderr.contains("error[forbidden]"), "{r:?}");
    let r = server.cli(&bin, "owner", &["clear-hold", &room, "H-x", "--rationale", "bad code"]).await?;
    ensure!(!r.success() && r.stderr.contains("not a hold code"), "{r:?}");
    let r = server.cli(&bin, "owner", &["clear-hold", &room, "H-2", "--rationale", "  "]).await?;
    ensure!(!r.success() && r.stderr.contains("error[invalid]"), "{r:?}");
    let r = server
        .cli(&bin, "owner", &["clear-hold", &room, "H-2", "--rationale", "Legal read the scope; no change needed."])
        .await?;
    ensure!(r.success() && r.stdout.contains("H-2 cleared; 1 hold(s) open, room HELD"), "{r:?}");
    let r = server.cli(&bin, "owner", &["clear-hold", &room, "1", "--rationale", "The timeline reads right."]).await?;
    ensure!(r.success() && r.stdout.contains("H-1 cleared; 0 hold(s) open, room DRAFTING"), "{r:?}");
    let r = server.cli(&bin, "observer", &["holds", &room]).await?;
    ensure!(r.stdout.contains("H-1 CLEARED") && r.stdout.contains("The timeline reads right."), "{r:?}");
    // Held again, by the owner, for the one-step release below.
    let r = server.cli(&bin, "owner", &["hold", &room, "--reason", "one more look"]).await?;
    ensure!(r.success(), "{r:?}");
    for role in ["reviewer/privacy", "reviewer/legal"] {
        let r = server.cli(&bin, role, &["cosign", &room, "--lane", "privacy"]).await?;
        ensure!(r.success(), "{role}: {r:?}");
    }
    let snap = snapshot(&server, &room).await?;
    let packet = snap["state"]["content_revision"].as_u64().context("packet")?;
    let stale = (packet - 1).to_string();
    let r = server.cli(&bin, "owner", &["release", &room, "--lane", "privacy", "--packet-revision", &stale]).await?;
    ensure!(
        r.code == Some(8) && r.stderr.contains("error[stale]") && r.stderr.contains("you reviewed packet rev"),
        "{r:?}"
    );
    let after = snapshot(&server, &room).await?;
    ensure!(after["state"]["release"]["state"] == "held" && revision(&after["state"]) == revision(&snap["state"]));
    // An open hold blocks the release; cleared, the reviewed packet goes.
    let r = server
        .cli(&bin, "owner", &["release", &room, "--lane", "privacy", "--packet-revision", &packet.to_string()])
        .await?;
    ensure!(r.code == Some(8) && r.stderr.contains("open hold H-3"), "{r:?}");
    let r = server.cli(&bin, "owner", &["clear-hold", &room, "H-3", "--rationale", "Looked again."]).await?;
    ensure!(r.success(), "{r:?}");
    let r = server
        .cli(&bin, "owner", &["release", &room, "--lane", "privacy", "--packet-revision", &packet.to_string()])
        .await?;
    let at = revision(&snapshot(&server, &room).await?["state"]);
    ensure!(
        r.success() && r.stdout.starts_with(&format!("ok room rev {at} RELEASED packet rev {packet} (content ")),
        "{r:?}"
    );
    ensure!(r.stdout.contains(" from DRAFTING manifest "), "{r:?}");
    Ok(())
}
