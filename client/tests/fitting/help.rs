//! The help overlay: a legend with one meaning per symbol, and the demo's
//! join commands whole, each alone on its row (nothing to strip when it is
//! copied out of the terminal).

use crossterm::event::KeyCode;

use super::common::*;
use super::tui::app::App;
use super::tui::pane::help::{COMMAND, HEADING, legend};
use super::tui::ui::help::styled;

const JOIN: &str = "sh /tmp/trustroom-demo-k3x9q2/join.sh";

/// Extra help lines shaped like the demo's (`client/src/demo.rs`).
fn demo_lines() -> Vec<String> {
    let mut out =
        vec![format!("{HEADING}Each command opens the room as that member (an agent member runs its agent):")];
    for (name, role) in [
        ("morgan.hale", "owner, you"),
        ("ines.moreau", "co-owner"),
        ("priya.natarajan", "reviewer/privacy"),
        ("lena.fischer", "reviewer/support-trust"),
        ("chronology-agent", "agent/chronology"),
    ] {
        out.push(format!("{COMMAND}{JOIN} {name}  # {role}"));
    }
    out.push(format!("{HEADING}Who to join as, to see each flow"));
    out.push("your own request waits for another owner: as morgan.hale: A on A1; ines.moreau approves it in V".into());
    out.push("Every whole command (url, token, room) is in /tmp/trustroom-demo-k3x9q2/join.sh.".into());
    out
}

fn owner_with_demo_help() -> App {
    let mut app = app_as(OWNER);
    app.help.extra = demo_lines();
    app
}

fn text(app: &App, width: usize) -> String {
    let ctx = app.ctx();
    app.help.lines(&ctx, width).into_iter().map(|l| format!("{}\n", styled(ctx.theme, l))).collect()
}

#[test]
fn the_legend_explains_each_badge_and_presence_is_not_the_suggestion_pencil() {
    let app = owner_with_demo_help();
    let all = text(&app, 74);
    for (sym, what) in [
        ("v2", "verified"),
        ("?1", "contested"),
        ("~1", "accepted-residual"),
        ("x1", "no label or evidence"),
        ("O3!1", "block release"),
        ("✎2", "open suggestions"),
        ("@priya", "who is in that section now"),
    ] {
        assert!(all.lines().any(|l| l.contains(sym) && l.contains(what)), "no legend line for {sym} ({what}):\n{all}");
    }
    for theme in [app.theme, super::tui::theme::Theme::new(true, false)] {
        let l = legend(&theme);
        let presence = l.iter().find(|(_, w)| w.contains("who is in")).map(|(s, _)| s.clone()).unwrap_or_default();
        let suggestions = l.iter().find(|(_, w)| w.contains("suggestions")).map(|(s, _)| s.clone()).unwrap_or_default();
        assert!(!presence.is_empty() && !suggestions.is_empty());
        assert_ne!(presence.chars().next(), suggestions.chars().next(), "one symbol, two meanings: {l:?}");
    }
}

#[test]
fn join_commands_are_whole_and_alone_on_their_rows_at_80x24() {
    let mut app = owner_with_demo_help();
    key(&mut app, KeyCode::Char('?'));
    // Scroll until the join section heads the overlay.
    let mut screen = render(&mut app, 80, 24);
    for _ in 0..80 {
        if screen.lines().nth(2).is_some_and(|l| l.contains("Join this room")) {
            break;
        }
        key(&mut app, KeyCode::Char('j'));
        screen = render(&mut app, 80, 24);
    }
    let rows: Vec<&str> = screen.lines().filter(|l| l.contains("join.sh ")).collect();
    assert!(rows.len() >= 5, "the commands are on screen:\n{screen}");
    for row in rows {
        let cells = row.trim_matches('"').trim();
        assert!(cells.starts_with(JOIN), "nothing before the command: {row:?}");
        assert!(!cells.contains('│') && !cells.contains('…'), "no border, not cut: {row:?}");
    }
    // Other rows keep the overlay's frame.
    assert!(screen.lines().any(|l| l.contains("│Who to join as")), "{screen}");
    insta::assert_snapshot!("join_commands_80x24", screen);
}

#[test]
fn the_help_overlay_tells_where_the_log_is() {
    let mut app = owner_with_demo_help();
    app.help.log_path = Some(std::path::PathBuf::from("/home/morgan/.local/state/trustroom/tui.log"));
    assert!(text(&app, 74).contains("log file: /home/morgan/.local/state/trustroom/tui.log"));
}
