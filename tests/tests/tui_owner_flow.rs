//! The owner's whole flow in real terminals, TUI keys only (no CLI): four
//! `trustroom connect` TUIs in tmux at 140×45 against a real server on the
//! demo room — the owner (morgan.hale), the privacy and legal reviewers
//! (who co-sign) and a support-trust reviewer (who asks for an annex).
//! The owner opens the room, raises an objection and labels the statement
//! with it, grants an access request, holds, clears the blockers (one
//! someone else's blocking objection, with the rationale the server
//! requires) and its hold in the hold register (`L`), marks ready, releases the reviewed packet revision, changes
//! the packet (the release is superseded), releases again, reads the
//! manifests verified offline, exports, and escalates.
//!
//! With `TRUSTROOM_CAPTURE_DIR` set, each step's owner screen is written
//! there as `NN-step.txt` (the closing notes' captures come from it).
// Test code: a failed expectation is the verdict (the lints bind product code).
#![allow(clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use trustroom_e2e::{TestServer, Tmux};

/// Where step captures go, if anywhere.
fn capture_dir() -> Option<PathBuf> {
    std::env::var_os("TRUSTROOM_CAPTURE_DIR").map(PathBuf::from)
}

struct Flow {
    tmux: Tmux,
    step: usize,
}

impl Flow {
    fn keys(&self, session: &str, keys: &[&str]) -> anyhow::Result<()> {
        self.tmux.keys(session, keys)
    }

    fn text(&self, session: &str, text: &str) -> anyhow::Result<()> {
        self.tmux.text(session, text)
    }

    async fn see(&self, session: &str, what: &str) -> anyhow::Result<String> {
        self.tmux.settle(session, what).await
    }

    /// Keeps the owner's screen of this step when captures are asked for.
    fn capture(&mut self, name: &str) -> anyhow::Result<()> {
        self.step += 1;
        if let Some(dir) = capture_dir() {
            std::fs::create_dir_all(&dir)?;
            std::fs::write(dir.join(format!("{:02}-{name}.txt", self.step)), self.tmux.screen("owner"))?;
        }
        Ok(())
    }

    /// Presses `key` `n` times.
    fn repeat(&self, session: &str, key: &str, n: usize) -> anyhow::Result<()> {
        for _ in 0..n {
            self.keys(session, &[key])?;
        }
        Ok(())
    }

    /// A reviewer co-signs the packet as it is now (lane privacy, audience
    /// lane-reviewers: the dialog's defaults).
    async fn cosign(&self, session: &str) -> anyhow::Result<()> {
        self.keys(session, &["Escape"])?;
        self.keys(session, &["S"])?;
        self.see(session, "Co-sign packet rev").await?;
        self.keys(session, &["y"])?;
        self.see(session, "co-signed the current content").await?;
        Ok(())
    }

    /// The owner: readiness, review, confirm; the result names the packet
    /// revision the prompt named.
    async fn release(&self) -> anyhow::Result<u64> {
        self.keys("owner", &["Escape"])?;
        self.keys("owner", &["R"])?;
        self.see("owner", "Readiness record — packet rev").await?;
        self.keys("owner", &["Enter"])?;
        let screen = self.see("owner", "RELEASE packet rev").await?;
        let rev = number_after(&screen, "RELEASE packet rev ")?;
        self.keys("owner", &["y"])?;
        self.see("owner", &format!("RELEASED packet rev {rev} (room rev")).await?;
        Ok(rev)
    }
}

/// The stored revision once it stops moving (the owner's typing is all in).
async fn settled_revision(server: &TestServer) -> anyhow::Result<u64> {
    let mut last = server.stored_revision().await?;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let now = server.stored_revision().await?;
        if now == last {
            return Ok(now);
        }
        last = now;
    }
    anyhow::bail!("the room's revision kept moving: {last}")
}

/// The number right after `prefix` on the screen.
fn number_after(screen: &str, prefix: &str) -> anyhow::Result<u64> {
    let at = screen.find(prefix).ok_or_else(|| anyhow::anyhow!("no {prefix:?} on:\n{screen}"))?;
    let digits: String = screen[at + prefix.len()..].chars().take_while(char::is_ascii_digit).collect();
    Ok(digits.parse()?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_runs_the_room_from_open_to_escalation_in_the_tui_alone() -> anyhow::Result<()> {
    let bin = trustroom_e2e::client_bin()?;
    let server = TestServer::start().await?;
    let room = server.room();
    let mut flow = Flow { tmux: Tmux::new("owner-flow", 140, 45), step: 0 };
    for (session, role) in [
        ("owner", "owner"),
        ("priya", "reviewer/privacy"),
        ("daniel", "reviewer/legal"),
        ("lena", "reviewer/support-trust"),
    ] {
        let token = &server.member(role).token;
        let command = format!("{} --url {} --token {token} connect {room}", bin.display(), server.url);
        flow.tmux.start(session, server.dir(), &command)?;
    }
    for session in ["owner", "priya", "daniel", "lena"] {
        flow.see(session, "● connected").await?;
    }
    flow.see("owner", "morgan.hale (owner)").await?;
    flow.capture("open")?;

    // Object: a new objection on § Exposure scope, then the unlabelled
    // statement is labelled contested with it.
    flow.keys("owner", &["1"])?;
    flow.repeat("owner", "j", 2)?;
    flow.keys("owner", &["o"])?;
    flow.see("owner", "New objection on § Exposure scope").await?;
    flow.text("owner", "The screen-share statement has no evidence: the customer's side is unverified.")?;
    flow.keys("owner", &["Enter"])?;
    flow.see("owner", "objection raised").await?;
    // Its code: the highest in the register beside the section.
    let screen = flow.see("owner", "by morgan.hale").await?;
    let n = screen
        .match_indices("O-")
        .filter_map(|(i, _)| number_after(&screen[i..], "O-").ok())
        .max()
        .ok_or_else(|| anyhow::anyhow!("no objection code on:\n{screen}"))?;
    flow.keys("owner", &["2"])?;
    flow.keys("owner", &["i"])?;
    flow.see("owner", "INSERT").await?;
    // The last statement (arrows move by screen row; the end clamps).
    flow.repeat("owner", "Down", 30)?;
    flow.keys("owner", &["Home"])?;
    flow.text("owner", &format!("[contested: O-{n}] "))?;
    flow.keys("owner", &["Escape"])?;
    flow.see("owner", &format!("[contested: O-{n}] The screen-share")).await?;
    flow.capture("object")?;

    // Access: lena asks for A1 in her TUI; the owner approves it in V.
    flow.keys("lena", &["a"])?;
    flow.see("lena", "Annex map").await?;
    flow.keys("lena", &["Enter"])?;
    flow.see("lena", "RESTRICTED").await?;
    flow.keys("lena", &["A"])?;
    flow.see("lena", "Request access to A1").await?;
    flow.text("lena", "CASE-88412: confirm which tenants were in scope for the summary")?;
    flow.keys("lena", &["Enter"])?;
    flow.see("lena", "PENDING").await?;
    flow.see("owner", "awaiting approval (V)").await?;
    flow.keys("owner", &["V"])?;
    flow.see("owner", "lena.fischer asks to read A1").await?;
    flow.capture("access-request")?;
    flow.keys("owner", &["y"])?;
    flow.see("owner", "approved").await?;
    flow.keys("owner", &["Escape"])?;
    flow.see("lena", "ACCESS GRANTED").await?;

    // Hold, with a reason.
    flow.keys("owner", &["H"])?;
    flow.see("owner", "why the release is held").await?;
    flow.text("owner", "Waiting for privacy to confirm the third-tenant question (O-1)")?;
    flow.keys("owner", &["Enter"])?;
    flow.see("owner", "H-1 placed — the room is HELD").await?;
    flow.capture("hold")?;

    // The blockers: priya addresses her O-1 (§ Exposure scope) …
    flow.keys("priya", &["1"])?;
    flow.repeat("priya", "j", 2)?;
    flow.keys("priya", &["r"])?;
    flow.keys("priya", &["s"])?;
    flow.see("priya", "Change status of O-1").await?;
    flow.text("priya", "SL-0104 shows the cached context never reached a third tenant")?;
    flow.keys("priya", &["Enter"])?;
    flow.see("priya", "O-1 marked addressed").await?;
    // … so the Summary statement labelled with O-1 gets its evidence …
    flow.see("owner", "links to no open objection").await.ok();
    flow.keys("owner", &["1"])?;
    flow.keys("owner", &["g"])?;
    flow.keys("owner", &["2"])?;
    flow.keys("owner", &["i"])?;
    flow.see("owner", "INSERT").await?;
    // `[contested: O-1] Only one other …`: from the end, up past the last
    // statement (two screen rows), the blank line and this statement's
    // second row.
    flow.repeat("owner", "Down", 30)?;
    flow.repeat("owner", "Up", 4)?;
    flow.keys("owner", &["Home"])?;
    flow.repeat("owner", "Delete", "[contested: O-1]".len())?;
    flow.text("owner", "[verified: SL-0104]")?;
    flow.keys("owner", &["Escape"])?;
    flow.see("owner", "[verified: SL-0104] Only one other").await?;
    // … and the owner addresses sam's blocking O-3 (§ Chronology): the
    // rationale is required.
    flow.keys("owner", &["1"])?;
    flow.keys("owner", &["g"])?;
    flow.keys("owner", &["j"])?;
    flow.keys("owner", &["r"])?;
    flow.keys("owner", &["s"])?;
    flow.see("owner", "Change status of O-3").await?;
    flow.keys("owner", &["Enter"])?;
    flow.see("owner", "say why it is addres").await?;
    flow.capture("rationale-required")?;
    flow.text("owner", "Render log line RL-2207 added to the 09:17 entry")?;
    flow.keys("owner", &["Enter"])?;
    flow.see("owner", "O-3 marked addressed").await?;

    // Co-signatures from privacy and legal, each in their own TUI.
    flow.cosign("priya").await?;
    flow.cosign("daniel").await?;
    flow.see("owner", " 1 blocker").await?;

    // The hold is the one blocker left: the owner clears it in the hold
    // register, with a rationale, after a confirmation.
    flow.keys("owner", &["Escape"])?;
    flow.keys("owner", &["L"])?;
    flow.see("owner", "Hold register — 1 open, 0 cleared").await?;
    flow.see("owner", "H-1 OPEN · placed by morgan.hale").await?;
    flow.keys("owner", &["Enter"])?;
    flow.see("owner", "Rationale (required").await?;
    flow.keys("owner", &["Enter"])?;
    flow.see("owner", "write why this hold may be cleared").await?;
    flow.text("owner", "O-1 and O-3 are addressed; privacy and legal co-signed")?;
    flow.keys("owner", &["Enter"])?;
    flow.see("owner", "Really clear it?").await?;
    flow.capture("clear-hold")?;
    flow.keys("owner", &["y"])?;
    flow.see("owner", "H-1 cleared").await?;
    flow.see("owner", " 0 blockers").await?;
    flow.keys("owner", &["L"])?;
    flow.see("owner", "Hold register — 0 open, 1 cleared").await?;
    flow.see("owner", "cleared by morgan.hale").await?;
    flow.capture("hold-register")?;
    flow.keys("owner", &["Escape"])?;

    // Mark ready, then release the reviewed packet revision.
    flow.keys("owner", &["Escape"])?;
    flow.keys("owner", &["M"])?;
    flow.see("owner", "READY: packet rev").await?;
    flow.capture("ready")?;
    let first = flow.release().await?;
    flow.capture("released")?;

    // A change after the release supersedes it; co-signed again, released again.
    flow.keys("owner", &["2"])?;
    flow.keys("owner", &["i"])?;
    flow.see("owner", "INSERT").await?;
    flow.keys("owner", &["End"])?;
    flow.text("owner", " The render log RL-2207 confirms it.")?;
    flow.keys("owner", &["Escape"])?;
    flow.see("owner", "RL-2207 confirms it.").await?;
    flow.see("owner", &format!("RELEASED rev {first} — superseded at rev")).await?;
    flow.capture("superseded")?;
    // Co-signatures bind the content as it is: wait until every typed key
    // is stored and both reviewers' rooms are at that revision.
    let rev = settled_revision(&server).await?;
    for reviewer in ["priya", "daniel"] {
        flow.see(reviewer, &format!("│ rev {rev} │")).await?;
    }
    flow.cosign("priya").await?;
    flow.cosign("daniel").await?;
    flow.see("owner", " 0 blockers").await?;
    let second = flow.release().await?;
    assert!(second > first, "the second release is of the changed packet: {second} > {first}");

    // The manifests, both verified offline; the export, written to a new file.
    flow.keys("owner", &["Escape"])?;
    flow.keys("owner", &["W"])?;
    flow.see("owner", "Release manifests (2)").await?;
    // Each release's signed status, verified here: the first was superseded
    // by the second, which is current.
    flow.see("owner", "now: SUPERSEDED by").await?;
    let screen = flow.see("owner", "now: CURRENT as of room rev").await?;
    assert_eq!(screen.matches("VERIFIED — signed").count(), 2, "{screen}");
    assert!(!screen.contains("NOT VERIFIED") && !screen.contains("STATUS NOT VERIFIED"), "{screen}");
    flow.capture("manifests")?;
    flow.keys("owner", &["Escape"])?;
    flow.keys("owner", &["X"])?;
    let screen = flow.see("owner", "sha256").await?;
    assert!(screen.contains(".json"), "the file is named: {screen}");
    flow.capture("export")?;

    // Escalate: asked twice, then the room is read-only for everyone.
    flow.keys("owner", &["Escape"])?;
    flow.keys("owner", &["E"])?;
    flow.see("owner", "why this goes to direct human handling").await?;
    flow.text("owner", "Legal asks for direct human handling of the customer notice")?;
    flow.keys("owner", &["Enter"])?;
    flow.see("owner", "Really escalate?").await?;
    flow.keys("owner", &["Enter"])?;
    flow.see("owner", "ESCALATED by morgan.hale").await?;
    flow.see("priya", "ESCALATED").await?;
    flow.capture("escalated")?;

    // The message history holds the whole flow.
    flow.keys("owner", &["N"])?;
    flow.see("owner", "Messages").await?;
    // Each waited for: the overlay may still be drawing when "Messages" shows.
    for step in ["ESCALATED by morgan.hale", &format!("RELEASED packet rev {second}"), "READY: packet rev"] {
        flow.see("owner", step).await?;
    }
    flow.capture("history")?;
    flow.keys("owner", &["Escape"])?;
    Ok(())
}
