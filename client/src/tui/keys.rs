//! The key map as data, for the help overlay and the hint line. The
//! handling itself is in each pane's `event` (`pane/`) and, for the global
//! keys, in `app.rs`; the two are kept side by side by the
//! `help_lists_every_key_the_panes_handle` flow test, and README.md's key
//! table is kept equal to these lists by the test below.

use super::action::{EditMode, Pane};

/// One row of help.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyHelp {
    pub keys: &'static str,
    pub what: &'static str,
    /// Only the owner may use it; others see it disabled.
    pub owner_only: bool,
}

const fn k(keys: &'static str, what: &'static str) -> KeyHelp {
    KeyHelp { keys, what, owner_only: false }
}

const fn owner(keys: &'static str, what: &'static str) -> KeyHelp {
    KeyHelp { keys, what, owner_only: true }
}

pub const GLOBAL: &[KeyHelp] = &[
    k("?", "help for the focused pane"),
    k(":", "command palette"),
    k("Tab / S-Tab", "next / previous pane"),
    k("1 2 3 4", "focus sections / editor / register / annex map"),
    k("r", "show and focus the register, or hide it when focused (remembered)"),
    k("a", "show / hide the annex map"),
    k("o", "object to this section (or the selected text)"),
    k("d / D", "diff: this section / whole packet since you last looked"),
    owner("R", "readiness record: lane, audience, release or hold"),
    owner("M", "mark ready (the room's own checks decide)"),
    owner("H", "hold the release (asks for a reason)"),
    owner("E", "escalate to direct human handling (reason + confirm)"),
    owner("G", "grants: revoke an active annex grant (note + confirm)"),
    k("L", "hold register: every hold; an owner clears one (rationale + confirm)"),
    k("e", "evidence: the records this statement cites, stale ones marked; open one, re-confirm"),
    k("B", "break-glass: emergency annex access (break-glass list), or end it"),
    k("X", "export the room's bundle to a new file (path and hash shown)"),
    k("W", "manifests: each release, its signatures verified offline"),
    k("S", "co-sign the current content for one lane and audience"),
    owner("V", "approvals queue: access requests and promotions to decide"),
    k("u", "suggestions: step through, see inline or as a diff, accept / reject"),
    k("m", "stats: activity sparklines, outcomes per role, chronology timeline"),
    k("N", "message history: refusals, notices and room events, newest first"),
    k("q / Ctrl-c", "quit"),
];

pub const SECTIONS: &[KeyHelp] = &[
    k("j k / ↑ ↓", "previous / next section"),
    k("g / Home, End", "first / last section"),
    k("Enter", "open the section in the editor"),
    k("i", "edit the section"),
];

pub const EDITOR_NORMAL: &[KeyHelp] = &[
    k("i / Enter", "start editing (insert mode)"),
    k("arrows PgUp PgDn", "move the cursor"),
    k("S-arrows", "select text (then o to object to it)"),
    k("[ ]", "previous / next section"),
    k("Ctrl-z / Ctrl-y", "undo / redo your own edits"),
];

pub const EDITOR_INSERT: &[KeyHelp] = &[
    k("Esc", "stop editing (keeps the selection)"),
    k("typing, Enter, Backspace", "edit; sent live to everyone"),
    k("S-arrows", "select text"),
    k("Ctrl-z / Ctrl-y", "undo / redo your own edits only"),
    k("Ctrl-w / Ctrl-k", "delete word / to end of line"),
    k("Alt-o", "object to the selected text"),
];

pub const REGISTER: &[KeyHelp] = &[
    k("j k / ↑ ↓", "select an objection (the selection stays on it as the list changes)"),
    k("g G / Home End", "first / last objection"),
    k("Enter / Space", "show / hide this objection's thread"),
    k("n / o", "new objection on the current section"),
    k("c", "reply to the selected objection"),
    k("s", "change status: addressed, withdrawn, accepted-residual (owner), reopen (author/owner)"),
    k("f", "this section only / all objections"),
];

pub const ANNEXES: &[KeyHelp] = &[
    k("j k / ↑ ↓", "select an annex"),
    k("Enter", "open it (content only with access; the view is logged)"),
    k("A", "request access to the open gated annex (reason and duration)"),
    k("w", "withdraw your pending request for the open gated annex"),
    k("PgUp PgDn", "scroll the open annex"),
    k("Esc", "close the open annex"),
];

pub const DIFF: &[KeyHelp] = &[
    k("s", "unified / side by side"),
    k("p", "this section / whole packet"),
    k("l", "since you last looked"),
    k("e", "since the last release"),
    k("b", "between two revisions"),
    k("[ ] / { }", "move the older / newer revision"),
    k("j k PgUp PgDn g G", "scroll, a screen line at a time (long lines wrap)"),
    k("Esc / q", "close the diff"),
];

pub const SUGGESTIONS: &[KeyHelp] = &[
    k("j k / ↑ ↓  n p", "next / previous suggestion"),
    k("i / Tab", "inline in the section text / unified diff"),
    k("y / Enter", "accept (out-of-bounds ones ask again)"),
    k("x", "reject, with a reason"),
    k("PgUp PgDn", "scroll the change"),
    k("Esc / q / u", "close"),
];

pub const STATS: &[KeyHelp] = &[k("r", "refresh the figures"), k("Esc / q / m", "close")];

pub const HISTORY: &[KeyHelp] = &[
    k("j k / ↑ ↓", "scroll one message"),
    k("PgUp PgDn g G", "scroll a page / to the newest / to the oldest"),
    k("f", "all / refusals / room events / notices"),
    k("Esc / q / N", "close"),
];

/// Keys for the focused pane.
pub fn for_pane(pane: Pane, mode: EditMode) -> &'static [KeyHelp] {
    match (pane, mode) {
        (Pane::Sections, _) => SECTIONS,
        (Pane::Editor, EditMode::Normal) => EDITOR_NORMAL,
        (Pane::Editor, EditMode::Insert) => EDITOR_INSERT,
        (Pane::Register, _) => REGISTER,
        (Pane::Annexes, _) => ANNEXES,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every list, under the name README.md's key table gives it, in the
    /// table's order.
    const GROUPS: &[(&str, &[KeyHelp])] = &[
        ("everywhere", GLOBAL),
        ("sections", SECTIONS),
        ("editor", EDITOR_NORMAL),
        ("editor, typing", EDITOR_INSERT),
        ("register", REGISTER),
        ("annex map", ANNEXES),
        ("diff", DIFF),
        ("suggestions", SUGGESTIONS),
        ("stats", STATS),
        ("message history", HISTORY),
    ];

    /// The README's key table rows: `| where | `keys` | what |`.
    fn readme_rows(readme: &str) -> Vec<(String, String, String)> {
        let mut lines = readme.lines().skip_while(|l| l.trim() != "| where | keys | what |").skip(2);
        let mut rows = Vec::new();
        while let Some(l) = lines.next().filter(|l| l.starts_with('|')) {
            let cells: Vec<&str> = l.trim().trim_matches('|').split('|').map(str::trim).collect();
            if let [place, keys, what] = cells.as_slice() {
                rows.push((place.to_string(), keys.trim_matches('`').to_string(), what.to_string()));
            } else {
                rows.push((l.to_string(), String::new(), String::new()));
            }
        }
        rows
    }

    fn expected_rows() -> Vec<(String, String, String)> {
        GROUPS
            .iter()
            .flat_map(|(place, list)| {
                list.iter().map(move |k| {
                    let what = if k.owner_only { format!("{} (owner only)", k.what) } else { k.what.to_string() };
                    (place.to_string(), k.keys.to_string(), what)
                })
            })
            .collect()
    }

    #[test]
    fn the_readme_key_table_lists_exactly_the_help_overlays_keys() {
        let readme = include_str!("../../../README.md");
        let expected = expected_rows();
        let table: String = expected.iter().map(|(p, k, w)| format!("| {p} | `{k}` | {w} |\n")).collect();
        assert_eq!(
            readme_rows(readme),
            expected,
            "README.md's key table differs from the help overlay's lists (client/src/tui/keys.rs); \
             the table should read:\n\n| where | keys | what |\n|---|---|---|\n{table}"
        );
    }
}
