//! Where each pane goes, as a pure function of what is shown and the
//! terminal size (drawing and mouse handling both use it).

use ratatui::layout::{Constraint, Layout, Rect};

use crate::session::room::{ConnState, Room};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PaneRects {
    /// The red banner line (disconnected, escalated), when shown.
    pub banner: Option<Rect>,
    /// Everything between the banner and the notification line.
    pub main: Rect,
    pub sections: Option<Rect>,
    pub editor: Option<Rect>,
    pub register: Option<Rect>,
    pub annexes: Option<Rect>,
    pub notice: Rect,
    pub status: Rect,
}

/// What is shown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Shape {
    /// The red banner line.
    pub banner: bool,
    /// A full screen (diff, suggestions, stats) instead of the panes.
    pub screen: bool,
    /// The register pane.
    pub register: bool,
    /// The annex map pane.
    pub annexes: bool,
}

/// Whether the top banner is shown.
pub fn banner_shown(room: &Room) -> bool {
    matches!(room.conn, ConnState::Disconnected { .. })
        || room.replica.state.as_ref().is_some_and(|s| s.release.is_read_only())
        || room.replica.resyncing
        || !room.break_glass().is_empty()
}

pub fn layout(area: Rect, shape: Shape) -> PaneRects {
    let mut r = layout_unclamped(area, shape);
    // On very small terminals the constraints overflow: keep every pane
    // inside the screen (possibly empty).
    let clamp = |x: Rect| x.intersection(area);
    r.main = clamp(r.main);
    r.notice = clamp(r.notice);
    r.status = clamp(r.status);
    for o in [&mut r.banner, &mut r.sections, &mut r.editor, &mut r.register, &mut r.annexes] {
        *o = o.map(clamp).filter(|x| !x.is_empty());
    }
    r
}

fn layout_unclamped(area: Rect, shape: Shape) -> PaneRects {
    let banner_h = u16::from(shape.banner);
    let [banner, main, notice, status] = Layout::vertical([
        Constraint::Length(banner_h),
        Constraint::Min(3),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    let mut out = PaneRects { banner: (banner_h > 0).then_some(banner), main, notice, status, ..PaneRects::default() };
    if shape.screen {
        return out;
    }
    let w = main.width;
    let sections_w = if w >= 110 {
        30
    } else if w >= 70 {
        22
    } else {
        (w / 4).max(12)
    };
    let right = shape.register || shape.annexes;
    // Narrow terminal with a right pane: give the editor the room.
    let sections_w = if right && w < 100 { sections_w.min(18) } else { sections_w };
    let right_w = if right { ((w.saturating_sub(sections_w)) * 45 / 100).max(26.min(w / 2)) } else { 0 };
    let [sections, editor, right_area] =
        Layout::horizontal([Constraint::Length(sections_w), Constraint::Min(10), Constraint::Length(right_w)])
            .areas(main);
    out.sections = Some(sections);
    out.editor = Some(editor);
    match (shape.register, shape.annexes) {
        (true, true) => {
            let [top, bottom] =
                Layout::vertical([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(right_area);
            out.register = Some(top);
            out.annexes = Some(bottom);
        }
        (true, false) => out.register = Some(right_area),
        (false, true) => out.annexes = Some(right_area),
        (false, false) => {}
    }
    out
}
