//! A real TUI in a real terminal (tmux) against a real server: a reviewer
//! asks for a gated annex with a reason that is too short and sees the
//! server's `error[invalid]` in the dialog, words intact (no "kept in"
//! file line); fixes it, picks a duration, and sees the request pending on
//! the gated pane; the owner approves from the CLI and the reviewer's pane
//! turns to granted at once, then shows the content on Enter. The message
//! history (`N`) holds the refusal.
// Test code: a failed expectation is the verdict (the lints bind product code).
#![allow(clippy::expect_used, clippy::panic)]

use trustroom_e2e::{TestServer, Tmux};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_access_request_shows_its_error_then_a_fixed_one_is_pending_and_its_approval_shows_live()
-> anyhow::Result<()> {
    let bin = trustroom_e2e::client_bin()?;
    let server = TestServer::start().await?;
    let room = server.room();
    // priya.natarajan (privacy reviewer) is not on A3's need-to-know list.
    let reviewer = server.member("reviewer/privacy").token.clone();
    let command = format!("{} --url {} --token {reviewer} connect {room}", bin.display(), server.url);
    let tmux = Tmux::new("notices", 120, 40);
    tmux.start("tui", server.dir(), &command)?;
    tmux.settle("tui", "● connected").await?;

    // The annex map, A3 (the third by code), gated.
    tmux.keys("tui", &["a"])?;
    tmux.settle("tui", "Annex map").await?;
    tmux.keys("tui", &["j"])?;
    tmux.keys("tui", &["j"])?;
    tmux.keys("tui", &["Enter"])?;
    tmux.settle("tui", "RESTRICTED").await?;
    let screen = tmux.settle("tui", "A3").await?;
    assert!(!screen.contains(trustroom_e2e::canary_of("A3")), "never the content:\n{screen}");

    // A reason too short: the server refuses it, and says so in the dialog.
    tmux.keys("tui", &["A"])?;
    tmux.settle("tui", "why you need this annex").await?;
    tmux.text("tui", "pls")?;
    tmux.keys("tui", &["Enter"])?;
    let screen = tmux.settle("tui", "error[invalid]").await?;
    assert!(screen.contains("a reason of at least 10"), "the server's message:\n{screen}");
    assert!(screen.contains("Request access to A3") && screen.contains("pls"), "the dialog, words intact:\n{screen}");
    assert!(!screen.contains("kept in") && !screen.contains("unsent"), "not a network failure:\n{screen}");

    // Fixed in place, four hours chosen (the default is the room's 2h).
    tmux.text("tui", " CASE-4471 confirm the privileged access path")?;
    tmux.keys("tui", &["Tab"])?;
    tmux.settle("tui", "Enter ask for 4h").await?;
    tmux.keys("tui", &["Enter"])?;
    let screen = tmux.settle("tui", "PENDING").await?;
    assert!(screen.contains("R-1 · 4h"), "the duration chosen:\n{screen}");
    assert!(screen.contains("morgan.hale"), "who decides:\n{screen}");

    // The owner approves from the CLI: the reviewer's pane changes live.
    let run = server
        .cli(&bin, "owner", &["access", "approve", "R-1", "--room", &room, "--note", "for the path check"])
        .await?;
    assert!(run.success(), "approve: {run:?}");
    let screen = tmux.settle("tui", "ACCESS GRANTED").await?;
    assert!(screen.contains("APPROVED by morgan.hale"), "who decided:\n{screen}");
    tmux.keys("tui", &["Enter"])?;
    tmux.settle("tui", trustroom_e2e::canary_of("A3")).await?;
    tmux.settle("tui", "This view is logged").await?;

    // The message history still holds the refusal.
    tmux.keys("tui", &["N"])?;
    let screen = tmux.settle("tui", "Messages").await?;
    assert!(screen.contains("refused") && screen.contains("error[invalid]"), "{screen}");
    assert!(screen.contains("access requested (R-1 for A3)"), "who decides, where it shows:\n{screen}");
    tmux.keys("tui", &["Escape"])?;
    tmux.keys("tui", &["q"])?;
    tmux.settle("tui", "[exited: 0]").await?;
    Ok(())
}
