//! The real-terminal test: two `trustroom` TUIs in tmux against a real
//! server (`tests/tui/tmux_e2e.sh`), run as part of `cargo test`; the owner
//! also accepts and rejects a headless agent's suggestions on the TUI.
// Test code: a failed expectation is the verdict (the lints bind product code).
#![allow(clippy::expect_used, clippy::panic)]

use std::process::Command;

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
