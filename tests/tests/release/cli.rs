//! The scriptable client drives the release workflow.

use super::*;

#[tokio::test]
async fn the_command_line_drives_the_release_workflow() -> Result<()> {
    let server = TestServer::start().await?;
    let room = clean_room(&server).await?;
    let bin = client_bin()?;
    let home = server.dir().join("cli-home");
    let url = server.url.clone();
    let as_ = |role: &str| server.member(role).token.clone();
    let run = |role: &str, args: &[&str]| {
        let token = as_(role);
        let url = url.clone();
        let home = home.clone();
        let bin = bin.clone();
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        async move {
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            run_process(&bin, &refs, &home, &[("TRUSTROOM_URL", url.as_str()), ("TRUSTROOM_TOKEN", token.as_str())])
                .await
        }
    };
    let r = run("owner", &["policy", &room, "--require-discipline", "privacy", "--require-member", "daniel.okafor"])
        .await?;
    ensure!(r.success() && r.stdout.contains("POLICY set"), "{r:?}");
    let r = run("observer", &["policy", &room]).await?;
    ensure!(r.stdout.contains("co-signatures required from daniel.okafor, a privacy reviewer"), "{r:?}");
    let r = run("owner", &["ready", &room]).await?;
    ensure!(r.success(), "{r:?}");
    let r = run("owner", &["release", &room, "--lane", "privacy"]).await?;
    ensure!(r.code == Some(8) && r.stderr.contains("error[conflict]") && r.stderr.contains("co-signature"), "{r:?}");
    let r = run("agent/chronology", &["cosign", &room, "--lane", "privacy"]).await?;
    ensure!(r.code == Some(6) && r.stderr.contains("error[forbidden]") && r.stderr.contains("agent"), "{r:?}");
    let r = run("reviewer/privacy", &["cosign", &room]).await?;
    ensure!(!r.success() && r.stderr.contains("--lane"), "a co-signature names its lane: {r:?}");
    let r = run("reviewer/privacy", &["cosign", &room, "--lane", "privacy", "--hash", "00000000"]).await?;
    ensure!(r.code == Some(8) && r.stderr.contains("error[stale]"), "{r:?}");
    for role in ["reviewer/privacy", "reviewer/legal"] {
        let r = run(role, &["cosign", &room, "--lane", "privacy"]).await?;
        ensure!(
            r.success()
                && r.stdout.contains("CO-SIGNED content")
                && r.stdout.contains("for lane privacy · audience lane-reviewers"),
            "{role}: {r:?}"
        );
    }
    let r = run("owner", &["readiness", &room]).await?;
    ensure!(r.success() && r.stdout.contains("CLEAR") && r.stdout.contains("Co-signatures (met)"), "{r:?}");
    ensure!(
        r.stdout.contains("privacy: covered up to audience lane-reviewers (signed by daniel.okafor, priya.natarajan)"),
        "{r:?}"
    );
    ensure!(r.stdout.contains("product-security: NOT covered — missing"), "{r:?}");
    let r = run("owner", &["release", &room, "--lane", "product-security"]).await?;
    ensure!(
        r.code == Some(8) && r.stderr.contains("error[conflict]") && r.stderr.contains("product-security lane"),
        "{r:?}"
    );
    let r = run("owner", &["release", &room, "--lane", "privacy", "--audience", "organisation"]).await?;
    ensure!(r.code == Some(8) && r.stderr.contains("audience organisation"), "{r:?}");
    let packet = snapshot(&server, &room).await?["state"]["content_revision"].as_u64().context("packet")?;
    let r = run("owner", &["release", &room, "--lane", "privacy"]).await?;
    // Both revisions, each named: the room's revision of the release and
    // the packet revision released (what `show` and the manifest name).
    let at = revision(&snapshot(&server, &room).await?["state"]);
    ensure!(
        r.success()
            && r.stdout.starts_with(&format!("ok room rev {at} RELEASED packet rev {packet} (content "))
            && r.stdout.contains(" to privacy · lane-reviewers from READY manifest "),
        "{r:?}"
    );
    let r = run("reviewer/legal", &["section", "append", &room, "Summary", "-p", "[verified: SL-0104] Ended 09:28."])
        .await?;
    ensure!(r.success(), "{r:?}");
    let snap = snapshot(&server, &room).await?;
    let n = snap["state"]["last_release"]["revision"].as_u64().context("last release")?;
    let m = snap["state"]["last_release"]["superseded_at"].as_u64().context("superseded")?;
    let stale = format!("RELEASED rev {n} — superseded at rev {m}");
    let r = run("observer", &["show", &room]).await?;
    ensure!(
        r.success() && r.stdout.contains(&stale),
        "show: {}",
        r.stdout.lines().take(6).collect::<Vec<_>>().join("\n")
    );
    let r = run("observer", &["readiness", &room]).await?;
    ensure!(r.stdout.contains(&stale) && r.stdout.contains("must sign again"), "{r:?}");
    let r = run("observer", &["readiness", &room, "--json"]).await?;
    let v: Value = serde_json::from_str(&r.stdout).with_context(|| r.stdout.clone())?;
    ensure!(v["release"]["last_release"]["superseded_at"] == m);
    let out = server.dir().join("bundle.json");
    let released = server.dir().join("released.md");
    let out_s = out.to_str().unwrap_or_default().to_string();
    let r = run("observer", &["export", &room, "--format", "json", "--out", &out_s]).await?;
    ensure!(r.success() && r.stdout.contains("not released"), "{r:?}");
    let r = run(
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
    let r = run("observer", &["export", &room, "--format", "json"]).await?;
    ensure!(r.stdout == std::fs::read_to_string(&out)?, "stdout and --out give the same bytes");
    let r = run("observer", &["manifests", &room]).await?;
    ensure!(r.success() && r.stdout.contains(&format!("packet rev {n}  privacy · lane-reviewers")), "{r:?}");
    ensure!(r.stdout.contains("co-signed by daniel.okafor, priya.natarajan"), "{r:?}");

    // From HELD in one step with the packet revision reviewed: refused
    // `stale` (nothing changes) when the packet moved on, released otherwise.
    let r = run("owner", &["hold", &room, "--reason", "a last look at the timeline"]).await?;
    ensure!(r.success(), "{r:?}");
    for role in ["reviewer/privacy", "reviewer/legal"] {
        let r = run(role, &["cosign", &room, "--lane", "privacy"]).await?;
        ensure!(r.success(), "{role}: {r:?}");
    }
    let snap = snapshot(&server, &room).await?;
    let packet = snap["state"]["content_revision"].as_u64().context("packet")?;
    let stale = (packet - 1).to_string();
    let r = run("owner", &["release", &room, "--lane", "privacy", "--packet-revision", &stale]).await?;
    ensure!(
        r.code == Some(8) && r.stderr.contains("error[stale]") && r.stderr.contains("you reviewed packet rev"),
        "{r:?}"
    );
    let after = snapshot(&server, &room).await?;
    ensure!(after["state"]["release"]["state"] == "held" && revision(&after["state"]) == revision(&snap["state"]));
    let r = run("owner", &["release", &room, "--lane", "privacy", "--packet-revision", &packet.to_string()]).await?;
    let at = revision(&snapshot(&server, &room).await?["state"]);
    ensure!(
        r.success() && r.stdout.starts_with(&format!("ok room rev {at} RELEASED packet rev {packet} (content ")),
        "{r:?}"
    );
    ensure!(r.stdout.contains(" from HELD manifest "), "{r:?}");
    Ok(())
}
