//! The real-terminal tests: two `trustroom` TUIs in tmux against a real
//! server (`tests/tui/tmux_e2e.sh`), run as part of `cargo test`; the owner
//! also accepts and rejects a headless agent's suggestions on the TUI,
//! revokes an access grant (`G`), marks the room ready (`M`) and releases
//! the reviewed packet revision in one `release_packet` (`R`). And
//! the demo as a new user meets it on an 80×24 terminal: its help names the
//! join file, whose short command opens a second owner's TUI, who decides
//! the owner's own annex request.
// Test code: a failed expectation is the verdict (the lints bind product code).
#![allow(clippy::expect_used, clippy::panic)]

use std::process::Command;
use std::time::Duration;

use anyhow::Context;
use trustroom_e2e::Tmux;

#[test]
fn two_tuis_in_tmux_co_edit_object_gate_decide_suggestions_hold_and_release() -> anyhow::Result<()> {
    let bin = trustroom_e2e::client_bin()?;
    let script = trustroom_e2e::workspace_root().join("tests/tui/tmux_e2e.sh");
    let out = Command::new("bash").arg(&script).env("TRUSTROOM_BIN", &bin).env("SKIP_BUILD", "1").output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(out.status.success(), "tmux e2e failed ({}):\n{stdout}\n{stderr}", out.status);
    Ok(())
}

#[test]
fn the_demo_at_80x24_shows_its_join_file_and_a_second_owner_decides_the_owners_own_request() -> anyhow::Result<()> {
    let bin = trustroom_e2e::client_bin()?;
    let dir = tempfile::tempdir()?;
    let tmux = Tmux::new("demo80", 80, 24);
    let db = format!("sqlite://{}/demo.db?mode=rwc", dir.path().display());
    tmux.start("owner", dir.path(), &format!("'{}' demo --db '{db}'", bin.display()))?;
    tmux.wait_for("owner", "morgan.hale (owner)")?;
    tmux.wait_for("owner", "connected")?;

    // The help overlay: scroll to the join commands, each whole on its row.
    tmux.keys("owner", &["?"])?;
    tmux.wait_for("owner", "Help")?;
    let mut screen = String::new();
    for _ in 0..120 {
        screen = tmux.screen("owner");
        if screen.contains("join.sh ines.moreau") {
            break;
        }
        tmux.keys("owner", &["j"])?;
        std::thread::sleep(Duration::from_millis(30));
    }
    let row =
        screen.lines().find(|l| l.contains("join.sh ines.moreau")).context(format!("no join command:\n{screen}"))?;
    assert!(!row.contains('│'), "the command's row holds nothing else: {row:?}");
    let command = row.trim();
    let command = &command[..command.find('#').unwrap_or(command.len())];
    assert!(command.starts_with("sh /") && command.trim_end().ends_with("join.sh ines.moreau"), "{row:?}");
    tmux.keys("owner", &["Escape"])?;

    // The second owner joins with that short command.
    tmux.start("ines", dir.path(), command.trim_end())?;
    tmux.wait_for("ines", "ines.moreau (owner)")?;
    tmux.wait_for("ines", "connected")?;

    // The owner is on no need-to-know list: asking for A1 waits for her.
    tmux.keys("owner", &["a"])?;
    tmux.wait_for("owner", "Annex map")?;
    tmux.keys("owner", &["Enter"])?;
    tmux.wait_for("owner", "RESTRICTED")?;
    tmux.keys("owner", &["A"])?;
    tmux.wait_for("owner", "why you need this annex")?;
    tmux.text("owner", "E2E-80 confirm the affected tenants for the privacy lane")?;
    tmux.keys("owner", &["Enter"])?;
    tmux.wait_for("ines", "(V)")?;
    tmux.keys("ines", &["V"])?;
    tmux.wait_for("ines", "morgan.hale asks to read A1")?;
    tmux.keys("ines", &["y"])?;
    tmux.wait_for("owner", "was approved")?;
    tmux.keys("owner", &["Enter"])?;
    tmux.wait_for("owner", "CANARY-TENANT-7f3a91")?;

    // Quitting gives the terminal back, with the commands printed before.
    tmux.keys("ines", &["q"])?;
    tmux.keys("owner", &["Escape"])?;
    tmux.keys("owner", &["q"])?;
    // ines's q went to her open approvals queue: she is still connected,
    // so the demo owner is asked before the server stops for her.
    tmux.wait_for("owner", "Quit the demo?")?;
    tmux.keys("owner", &["y"])?;
    let screen = tmux.wait_for("owner", "[exited: 0]")?;
    assert!(screen.contains("join.sh"), "{screen}");
    Ok(())
}
