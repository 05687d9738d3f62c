//! Dialogs: objection, reply, status change, reason (hold/escalate/
//! rejection), access request (reason and duration), co-signing (lane and
//! audience), the readiness record before release, confirmations, and
//! plain messages.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;
use ratatui_textarea::TextArea;
use trustroom_shared::access::format_duration;
use trustroom_shared::objection::ObjectionStatus;

use super::chrome::{centered, hint, popup, put_line, truncate, wrap};
use crate::tui::action::ReasonPurpose;
use crate::tui::forms::{
    AUDIENCES, AccessForm, CosignForm, KINDS, LANES, ObjectionField, ObjectionForm, ReadinessForm, ReadinessStep,
    ReasonForm, StatusForm, input_text,
};
use crate::tui::pane::dialog::Dialog;
use crate::tui::pane::{Ctx, Draw};
use crate::tui::theme::Theme;

impl Draw for Dialog {
    fn draw(&self, ctx: &Ctx<'_>, area: Rect, buf: &mut Buffer) {
        draw(self, ctx, area, buf);
    }
}

fn draw(d: &Dialog, ctx: &Ctx<'_>, area: Rect, buf: &mut Buffer) {
    match d {
        Dialog::Objection(f) => objection(ctx, f, area, buf),
        Dialog::Reply(f) => {
            let inner = popup(buf, ctx.theme, centered(area, 76, 9), &format!("Reply to {}", f.code));
            let about = truncate(&f.about, inner.width as usize);
            put_line(buf, inner, 0, &Line::from(Span::styled(about, ctx.theme.bold())));
            let mut y = 2;
            field(buf, inner, &mut y, &f.text);
            error(ctx.theme, buf, inner, &mut y, f.error.as_deref());
            footer(ctx.theme, buf, inner, &[("Enter", "send"), ("Esc", "cancel")]);
        }
        Dialog::Status(f) => status(ctx, f, area, buf),
        Dialog::Reason(f) => reason(ctx, f, area, buf),
        Dialog::Readiness(f) => readiness(ctx, f, area, buf),
        Dialog::Cosign(f) => cosign(ctx, f, area, buf),
        Dialog::Approvals(q) => q.draw(ctx, area, buf),
        Dialog::Grants(g) => g.draw(ctx, area, buf),
        Dialog::Holds(h) => h.draw(ctx, area, buf),
        Dialog::Evidence(e) => e.draw(ctx, area, buf),
        Dialog::BreakGlass(b) => b.draw(ctx, area, buf),
        Dialog::Exported(e) => e.draw(ctx, area, buf),
        Dialog::Manifests(m) => m.draw(ctx, area, buf),
        Dialog::AcceptFlagged { code, flags, .. } => {
            let t = ctx.theme;
            let h = (flags.len() as u16 + 8).min(area.height);
            let inner = popup(buf, t, centered(area, 80, h), &format!("Accept {code}? It is OUT OF BOUNDS"));
            let mut y = 0u16;
            let intro = "The room never decides disclosure, contacts customers, changes privileges or runs remediation. \
                         This suggestion tripped the room's boundary rules:";
            for l in wrap(intro, inner.width as usize) {
                put_line(buf, inner, y, &Line::from(Span::styled(l, t.text())));
                y += 1;
            }
            for f in flags {
                for l in wrap(&format!("• {f}"), inner.width as usize) {
                    put_line(buf, inner, y, &Line::from(Span::styled(l, t.error())));
                    y += 1;
                }
            }
            footer(t, buf, inner, &[("y", "accept anyway (audited)"), ("n / Esc", "back")]);
        }
        Dialog::Access(f) => access(ctx, f, area, buf),
        Dialog::ConfirmWithdraw { code, annex, .. } => {
            let t = ctx.theme;
            let inner = popup(buf, t, centered(area, 64, 7), &format!("Withdraw {code}?"));
            let text = format!(
                "Withdraw your pending request {code} for {annex}? Nobody can approve it afterwards; \
                 you may ask again."
            );
            for (y, l) in wrap(&text, inner.width as usize).iter().enumerate() {
                put_line(buf, inner, y as u16, &Line::from(Span::styled(l.clone(), t.text())));
            }
            footer(t, buf, inner, &[("y / Enter", "withdraw"), ("n / Esc", "keep it")]);
        }
        Dialog::ConfirmQuit { names } => {
            let t = ctx.theme;
            let inner = popup(buf, t, centered(area, 72, 7), "Quit the demo?");
            let who = match names.len() {
                1 => format!("1 member is connected ({})", names.join(", ")),
                n => format!("{n} members are connected ({})", names.join(", ")),
            };
            let text = format!(
                "{who}; quitting stops the demo server for everyone — q again / y to quit, any other key to stay."
            );
            for (y, l) in wrap(&text, inner.width as usize).iter().enumerate() {
                put_line(buf, inner, y as u16, &Line::from(Span::styled(l.clone(), t.warn())));
            }
            footer(t, buf, inner, &[("q / y", "quit and stop the server"), ("any other key", "stay")]);
        }
        Dialog::Message { title, text } => {
            let inner = popup(buf, ctx.theme, centered(area, 70, 9), title);
            for (y, l) in wrap(text, inner.width as usize).iter().enumerate() {
                put_line(buf, inner, y as u16, &Line::from(l.clone()));
            }
            footer(ctx.theme, buf, inner, &[("any key", "close")]);
        }
    }
}

/// The co-sign dialog: what is signed (revision, hash), for which lane and
/// audience — both shown explicitly and chosen here.
fn cosign(ctx: &Ctx<'_>, f: &CosignForm, area: Rect, buf: &mut Buffer) {
    let t = ctx.theme;
    let inner = popup(buf, t, centered(area, 104, 14), "Co-sign the packet");
    let w = inner.width as usize;
    let mut y = 0u16;
    for l in wrap(&f.summary(), w) {
        put_line(buf, inner, y, &Line::from(Span::styled(l, t.bold())));
        y += 1;
    }
    y += 1;
    let mut lanes = vec![Span::styled("Lane:     ", t.dim())];
    for (i, lane) in LANES.iter().enumerate() {
        let (style, mark) = if i == f.lane % LANES.len() { (t.selected(), "[x]") } else { (t.dim(), "[ ]") };
        lanes.push(Span::styled(format!(" {mark} {} {lane} ", i + 1), style));
    }
    put_line(buf, inner, y, &Line::from(lanes));
    y += 1;
    let mut audiences = vec![Span::styled("Audience: ", t.dim())];
    for (i, a) in AUDIENCES.iter().enumerate() {
        let (style, mark) = if i == f.audience % AUDIENCES.len() { (t.selected(), "[x]") } else { (t.dim(), "[ ]") };
        audiences.push(Span::styled(format!(" {mark} {a} "), style));
    }
    put_line(buf, inner, y, &Line::from(audiences));
    y += 1;
    put_line(buf, inner, y, &Line::from(Span::styled(format!("          {}", f.audience().description()), t.dim())));
    y += 2;
    let text = format!(
        "You approve releasing the packet exactly as it is at rev {} (content hash {}) to the {} lane, \
         readable by {} or a narrower audience. Any later change to the packet, register or annex map voids it.",
        f.revision,
        f.content_hash,
        f.lane(),
        f.audience()
    );
    for l in wrap(&text, w) {
        put_line(buf, inner, y, &Line::from(Span::styled(l, t.text())));
        y += 1;
    }
    footer(
        t,
        buf,
        inner,
        &[("y / Enter", "co-sign"), ("←→ 1-3", "lane"), ("Tab ↑↓", "audience"), ("n / Esc", "cancel")],
    );
}

fn field(buf: &mut Buffer, inner: Rect, y: &mut u16, t: &TextArea<'_>) {
    if *y < inner.height {
        t.render(Rect::new(inner.x, inner.y + *y, inner.width, 1), buf);
    }
    *y += 1;
}

/// The error of a form (the server's refusal, `error[code]: message`),
/// wrapped on the rows left above the footer.
fn error(t: &Theme, buf: &mut Buffer, inner: Rect, y: &mut u16, e: Option<&str>) {
    let Some(e) = e else { return };
    let room = inner.height.saturating_sub(1).saturating_sub(*y).max(1) as usize;
    let mut lines = wrap(e, inner.width as usize);
    if lines.len() > room {
        lines.truncate(room);
        if let Some(last) = lines.last_mut() {
            *last = truncate(&format!("{last} …"), inner.width as usize);
        }
    }
    for l in lines {
        put_line(buf, inner, *y, &Line::from(Span::styled(l, t.error())));
        *y += 1;
    }
}

fn footer(t: &Theme, buf: &mut Buffer, inner: Rect, keys: &[(&str, &str)]) {
    let mut spans = Vec::new();
    for (k, w) in keys {
        spans.extend(hint(t, k, w, true));
    }
    put_line(buf, inner, inner.height.saturating_sub(1), &Line::from(spans));
}

fn objection(ctx: &Ctx<'_>, f: &ObjectionForm, area: Rect, buf: &mut Buffer) {
    let t = ctx.theme;
    let inner = popup(buf, t, centered(area, 76, 13), &format!("New objection on § {}", f.section_title));
    let w = inner.width as usize;
    let mut y = 0u16;
    let about = match &f.quote {
        Some(q) => format!("About: “{}”", q.split_whitespace().collect::<Vec<_>>().join(" ")),
        None => "About: the whole section (select text first to quote it)".into(),
    };
    put_line(buf, inner, y, &Line::from(Span::styled(truncate(&about, w), t.contested())));
    y += 2;
    let mark = |fl: ObjectionField| if f.field == fl { t.sym.selected } else { " " };
    let lab = |fl: ObjectionField| if f.field == fl { t.border_focused() } else { t.dim() };
    put_line(
        buf,
        inner,
        y,
        &Line::from(vec![
            Span::styled(format!("{}Kind:     ", mark(ObjectionField::Kind)), lab(ObjectionField::Kind)),
            Span::styled(format!("◂ {} ▸", KINDS[f.kind]), t.bold()),
        ]),
    );
    y += 1;
    let blocking = if f.blocking { "[x] blocking — holds release until resolved" } else { "[ ] not blocking" };
    let bstyle = if f.blocking { t.blocking() } else { t.text() };
    put_line(
        buf,
        inner,
        y,
        &Line::from(vec![
            Span::styled(format!("{}Blocking: ", mark(ObjectionField::Blocking)), lab(ObjectionField::Blocking)),
            Span::styled(blocking, bstyle),
        ]),
    );
    y += 1;
    put_line(
        buf,
        inner,
        y,
        &Line::from(Span::styled(format!("{}Text:", mark(ObjectionField::Text)), lab(ObjectionField::Text))),
    );
    y += 1;
    field(buf, inner, &mut y, &f.text);
    error(t, buf, inner, &mut y, f.error.as_deref());
    footer(
        t,
        buf,
        inner,
        &[("Enter", "raise"), ("Tab", "next field"), ("←→", "kind"), ("Ctrl-b", "blocking"), ("Esc", "cancel")],
    );
}

/// The status form: the objection it acts on, the statuses we may choose,
/// the rationale; then, for a change we could not undo, the question.
fn status(ctx: &Ctx<'_>, f: &StatusForm, area: Rect, buf: &mut Buffer) {
    let t = ctx.theme;
    let inner = popup(buf, t, centered(area, 76, 14), &format!("Change status of {}", f.code));
    let w = inner.width as usize;
    let mut y = 0u16;
    put_line(buf, inner, y, &Line::from(Span::styled(truncate(&f.about, w), t.bold())));
    y += 2;
    if f.confirming {
        let Some(choice) = f.chosen() else { return };
        let question = match choice.status {
            ObjectionStatus::Addressed => {
                format!("Mark {} addressed? Only its author or an owner can reopen it; you cannot undo this.", f.code)
            }
            other => format!("Mark {} {other}? {other} is final: nobody can undo this.", f.code),
        };
        for l in wrap(&question, w) {
            put_line(buf, inner, y, &Line::from(Span::styled(l, t.error())));
            y += 1;
        }
        let rationale = input_text(&f.rationale);
        if !rationale.is_empty() {
            y += 1;
            put_line(
                buf,
                inner,
                y,
                &Line::from(Span::styled(truncate(&format!("Rationale: {rationale}"), w), t.dim())),
            );
        }
        let yes = format!("yes, mark {}", choice.status);
        footer(t, buf, inner, &[("y / Enter", yes.as_str()), ("n / Esc", "back")]);
        return;
    }
    for (i, c) in f.choices.iter().enumerate() {
        let sel = i == f.selected;
        let marker = if sel { t.sym.selected } else { " " };
        let style = if c.refused.is_some() {
            t.key_disabled()
        } else if sel {
            t.selected()
        } else {
            t.text()
        };
        let mut spans = vec![Span::styled(format!("{marker} {}", c.verb()), style)];
        if let Some(why) = &c.refused {
            spans.push(Span::styled(format!("  ({why})"), t.dim()));
        } else if c.status.is_final() {
            spans.push(Span::styled("  (final)", t.dim()));
        } else if c.one_way {
            spans.push(Span::styled("  (you cannot reopen it)", t.dim()));
        }
        put_line(buf, inner, y, &Line::from(spans));
        y += 1;
    }
    y += 1;
    let label = if f.needs_rationale() { "Rationale (required):" } else { "Rationale (optional):" };
    put_line(buf, inner, y, &Line::from(Span::styled(label, t.dim())));
    y += 1;
    field(buf, inner, &mut y, &f.rationale);
    error(t, buf, inner, &mut y, f.error.as_deref());
    footer(t, buf, inner, &[("↑↓", "choose"), ("Enter", "apply"), ("Esc", "cancel")]);
}

fn reason(ctx: &Ctx<'_>, f: &ReasonForm, area: Rect, buf: &mut Buffer) {
    let t = ctx.theme;
    let title = match f.purpose {
        ReasonPurpose::Hold => "Hold the release",
        ReasonPurpose::Escalate => "Escalate to direct human handling",
        ReasonPurpose::RejectSuggestion(_) => "Reject the suggestion",
    };
    let inner = popup(buf, t, centered(area, 72, 10), title);
    let mut y = 0u16;
    let intro = match f.purpose {
        ReasonPurpose::Hold => "The packet stays in the room until you release it. Reason:",
        ReasonPurpose::Escalate => "Hands the room to direct human handling; the room becomes read-only. Reason:",
        ReasonPurpose::RejectSuggestion(_) => "The suggestion stays in the room's history with your reason. Reason:",
    };
    for l in wrap(intro, inner.width as usize) {
        put_line(buf, inner, y, &Line::from(Span::styled(l, t.dim())));
        y += 1;
    }
    field(buf, inner, &mut y, &f.text);
    error(t, buf, inner, &mut y, f.error.as_deref());
    if f.confirming {
        y += 1;
        put_line(
            buf,
            inner,
            y,
            &Line::from(Span::styled("Really escalate? The room becomes read-only for everyone.", t.error())),
        );
        footer(t, buf, inner, &[("Enter", "yes, escalate"), ("Esc", "back")]);
    } else {
        let verb = match f.purpose {
            ReasonPurpose::Hold => "hold",
            ReasonPurpose::Escalate => "continue",
            ReasonPurpose::RejectSuggestion(_) => "reject",
        };
        footer(t, buf, inner, &[("Enter", verb), ("Esc", "cancel")]);
    }
}

fn readiness(ctx: &Ctx<'_>, f: &ReadinessForm, area: Rect, buf: &mut Buffer) {
    let t = ctx.theme;
    let r = &f.record;
    let rect = centered(area, 96, area.height.saturating_sub(2).min(30));
    let inner =
        popup(buf, t, rect, &format!("Readiness record — packet rev {} (room rev {})", r.content_revision, r.revision));
    let w = inner.width as usize;
    let mut lines: Vec<Line> = Vec::new();
    let state = ctx.room.replica.state.as_ref().map(|s| s.release.name()).unwrap_or("?");
    let owners: Vec<String> = r.owners.iter().map(|u| ctx.room.member_name(*u)).collect();
    // Only the server can hash the content (annex content included).
    let hash: String = if f.server_checked && !r.content_hash.is_empty() {
        format!("{}…", r.content_hash.chars().take(12).collect::<String>())
    } else {
        "hash pending".into()
    };
    lines.push(Line::from(vec![
        Span::styled("Owner: ", t.dim()),
        Span::raw(owners.join(", ")),
        Span::styled("   State: ", t.dim()),
        Span::styled(format!(" {state} "), t.release_state(state)),
        Span::styled(format!("   content {hash}"), t.dim()),
    ]));
    if !f.server_checked {
        lines.push(Line::from(Span::styled("checking with the server (annex boundary, co-signatures)…", t.dim())));
    }
    // A release prompt that disarmed itself: what changed under it.
    if !f.changed.is_empty() {
        lines.push(Line::from(""));
        lines.push(Line::from(Span::styled(
            "Changed while you were confirming — review, then confirm again:",
            t.warn(),
        )));
        for c in &f.changed {
            for (k, l) in wrap(c, w.saturating_sub(4)).into_iter().enumerate() {
                let p = if k == 0 { "  • " } else { "    " };
                lines.push(Line::from(vec![Span::styled(p, t.warn()), Span::styled(l, t.warn())]));
            }
        }
    }
    lines.push(Line::from(""));
    let bstyle = if r.blockers.is_empty() { t.ok() } else { t.blocking() };
    lines.push(Line::from(Span::styled(format!("Blockers ({})", r.blockers.len()), bstyle)));
    if r.blockers.is_empty() {
        lines.push(Line::from(Span::styled("  none — the packet may be released", t.ok())));
    }
    for b in &r.blockers {
        for (k, l) in wrap(&b.describe(), w.saturating_sub(4)).into_iter().enumerate() {
            let p = if k == 0 { format!("  {} ", t.sym.unsupported) } else { "    ".into() };
            lines.push(Line::from(vec![Span::styled(p, t.blocking()), Span::raw(l)]));
        }
    }
    // Co-signatures a later change voided: who must sign again, and what
    // changed since they signed.
    if !r.cosign.must_sign_again.is_empty() {
        lines.push(Line::from(""));
        lines.push(Line::from(Span::styled(
            format!("Must co-sign again ({})", r.cosign.must_sign_again.len()),
            t.blocking(),
        )));
        for again in &r.cosign.must_sign_again {
            let text = format!(
                "{} signed rev {}; voided at rev {}; changed since: {}",
                again.name,
                again.signed_revision,
                again.voided_at,
                again.changed.join(", ")
            );
            for (k, l) in wrap(&text, w.saturating_sub(4)).into_iter().enumerate() {
                let p = if k == 0 { "  ↺ ".to_string() } else { "    ".into() };
                lines.push(Line::from(vec![Span::styled(p, t.blocking()), Span::raw(l)]));
            }
        }
    }
    lines.push(Line::from(""));
    lines
        .push(Line::from(Span::styled(format!("Accepted residual disagreement ({})", r.residual.len()), t.residual())));
    for res in &r.residual {
        let s = format!("{}: {} — rationale: {}", res.code, res.text, res.rationale);
        for (k, l) in wrap(&s, w.saturating_sub(4)).into_iter().enumerate() {
            let p = if k == 0 { format!("  {} ", t.sym.residual) } else { "    ".into() };
            lines.push(Line::from(vec![Span::styled(p, t.residual()), Span::raw(l)]));
        }
    }
    lines.push(Line::from(""));
    let held: Vec<String> = r.held_annexes.iter().map(|a| format!("{} ({})", a.code, a.classification)).collect();
    lines.push(Line::from(vec![Span::styled("Annexes held back: ", t.dim()), Span::raw(held.join(", "))]));
    let mut lane_spans = vec![Span::styled("Downstream lane: ", t.dim())];
    for (i, lane) in LANES.iter().enumerate() {
        let (style, mark) = if i == f.lane { (t.selected(), "[x]") } else { (t.dim(), "[ ]") };
        lane_spans.push(Span::styled(format!(" {mark} {} {lane} ", i + 1), style));
    }
    lines.push(Line::from(lane_spans));
    let mut audience_spans = vec![Span::styled("Audience:        ", t.dim())];
    for (i, a) in AUDIENCES.iter().enumerate() {
        let (style, mark) = if i == f.audience % AUDIENCES.len() { (t.selected(), "[x]") } else { (t.dim(), "[ ]") };
        audience_spans.push(Span::styled(format!(" {mark} {a} "), style));
    }
    lines.push(Line::from(audience_spans));
    // Whether the co-signatures cover exactly this lane and audience.
    let scope = format!("Co-signatures for {} · {}", f.lane(), f.audience());
    let (cover_text, cover_style) = match f.cover() {
        Some(c) if c.met && c.signers.is_empty() => (format!("{scope}: none required"), t.ok()),
        Some(c) if c.met => (format!("{scope}: met — signed by {}", c.signers.join(", ")), t.ok()),
        Some(c) => (format!("{scope}: missing {}", c.missing.join(", ")), t.blocking()),
        None => ("Co-signatures per lane: not reported by the server".to_string(), t.dim()),
    };
    for (k, l) in wrap(&cover_text, w.saturating_sub(2)).into_iter().enumerate() {
        let p = if k == 0 { "" } else { "  " };
        lines.push(Line::from(Span::styled(format!("{p}{l}"), cover_style)));
    }
    let body_h = inner.height.saturating_sub(3) as usize;
    for (y, l) in lines.iter().skip(f.scroll as usize).take(body_h).enumerate() {
        put_line(buf, inner, y as u16, l);
    }
    let status_y = inner.height.saturating_sub(2);
    match f.step {
        ReadinessStep::Review => {
            let content_blockers = r.blockers.iter().filter(|b| !b.is_cosign()).count();
            let msg = if f.releasable() {
                Line::from(Span::styled(
                    format!(
                        "Release packet rev {} to {} · {}? Enter to confirm.",
                        r.content_revision,
                        f.lane(),
                        f.audience()
                    ),
                    t.ok(),
                ))
            } else if content_blockers == 0 && f.cover().is_some() {
                Line::from(Span::styled(
                    format!(
                        "Release to {} · {} is disabled: the co-signatures do not cover it.",
                        f.lane(),
                        f.audience()
                    ),
                    t.blocking(),
                ))
            } else {
                Line::from(Span::styled(
                    format!("Release is disabled: resolve the {} blocker(s) first (or hold).", r.blockers.len()),
                    t.blocking(),
                ))
            };
            put_line(buf, inner, status_y, &msg);
            let mut spans = Vec::new();
            spans.extend(hint(t, "Enter", "release…", f.releasable()));
            spans.extend(hint(t, "1-3 ←→", "lane", true));
            spans.extend(hint(t, "Tab", "audience", true));
            spans.extend(hint(t, "h", "hold", true));
            spans.extend(hint(t, "j/k", "scroll", true));
            spans.extend(hint(t, "Esc", "close", true));
            put_line(buf, inner, status_y + 1, &Line::from(spans));
        }
        ReadinessStep::Confirm => {
            let (packet, lane, audience) = match &f.armed {
                Some(a) => (a.packet_revision, a.lane, a.audience),
                None => (r.content_revision, f.lane(), f.audience()),
            };
            let msg = format!("RELEASE packet rev {packet} to {lane} · {audience} (content {hash})?");
            put_line(
                buf,
                inner,
                status_y.saturating_sub(1),
                &Line::from(Span::styled(truncate(&msg, w), t.banner_logged())),
            );
            let scope = format!("This is the decision of record: readable by {}.", f.audience().description());
            put_line(buf, inner, status_y, &Line::from(Span::styled(truncate(&scope, w), t.banner_logged())));
            let mut spans = Vec::new();
            spans.extend(hint(t, "y / Enter", "release now", true));
            spans.extend(hint(t, "n / Esc", "back", true));
            put_line(buf, inner, status_y + 1, &Line::from(spans));
        }
    }
}

/// The access request: who decides, the reason, the duration chosen among
/// those the room allows, and the server's refusal when there was one.
fn access(ctx: &Ctx<'_>, f: &AccessForm, area: Rect, buf: &mut Buffer) {
    let t = ctx.theme;
    let inner = popup(buf, t, centered(area, 76, 14), &format!("Request access to {}", f.code));
    let w = inner.width as usize;
    let mut y = 0u16;
    let intro = format!(
        "{} decides. The request, any grant and every view are audited. You see the decision on this annex's pane.",
        capitalized(&f.deciders)
    );
    for l in wrap(&intro, w) {
        put_line(buf, inner, y, &Line::from(Span::styled(l, t.dim())));
        y += 1;
    }
    if let Some(p) = &f.pending {
        let note = format!("You already asked ({p}): a new request folds into it (the longer duration stands).");
        for l in wrap(&note, w) {
            put_line(buf, inner, y, &Line::from(Span::styled(l, t.warn())));
            y += 1;
        }
    }
    y += 1;
    put_line(buf, inner, y, &Line::from(Span::styled("Reason:", t.dim())));
    y += 1;
    field(buf, inner, &mut y, &f.text);
    y += 1;
    let mut spans = vec![Span::styled("For:    ", t.dim())];
    for (i, d) in f.durations.iter().enumerate() {
        let (style, mark) = if i == f.duration { (t.selected(), "[x]") } else { (t.dim(), "[ ]") };
        spans.push(Span::styled(format!(" {mark} {} ", format_duration(*d)), style));
    }
    put_line(buf, inner, y, &Line::from(spans));
    y += 1;
    let limit = format!("        this room grants {} at most", format_duration(f.max_ms));
    put_line(buf, inner, y, &Line::from(Span::styled(limit, t.dim())));
    y += 1;
    error(t, buf, inner, &mut y, f.error.as_deref());
    let send = format!("ask for {}", format_duration(f.duration_ms()));
    footer(t, buf, inner, &[("Enter", &send), ("Tab ↑↓", "duration"), ("Esc", "cancel")]);
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}
