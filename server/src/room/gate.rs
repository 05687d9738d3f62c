//! The ingress gate: no free-text field of any request may carry an
//! annex's declared restricted detail, and no change may assemble it in a
//! section from pieces. Checked before a request is sequenced, so a
//! refused request stores nothing and nobody receives anything.
//!
//! Matching is on normalised text (trustroom_shared::restricted: NFKC,
//! case folding, default-ignorable characters removed, whitespace runs
//! collapsed). The refusal names the field; it names the annex only to a
//! member entitled to every annex the text matched (they learn nothing
//! new). Refusals of a member not entitled to the matched annex are a
//! possible probe: they are budgeted (`restricted::PROBE_LIMIT` per
//! `PROBE_WINDOW_MS`), and past the budget that member's free-text requests
//! are refused unread until the window passes, the owners are alerted
//! through the room and the audit log records a suspected probe.

use std::collections::HashMap;

use serde_json::json;
use trustroom_shared::UserId;
use trustroom_shared::access::format_duration;
use trustroom_shared::change::Change;
use trustroom_shared::ids::{AnnexId, SectionId};
use trustroom_shared::ot::TextOp;
use trustroom_shared::protocol::{ErrorCode, Request};
use trustroom_shared::restricted::{EditSpan, Matcher, ProbeBudget};

use super::{ADMIN_ACTOR, Batch, Refusal, Room};

/// The gate's state in a room actor: the matcher for the room's declared
/// patterns (rebuilt when the annex map changes) and each member's budget.
#[derive(Default)]
pub(super) struct Gate {
    /// The matcher and the annex-map key it was built for.
    matcher: Option<(AnnexKey, Matcher)>,
    probes: HashMap<UserId, ProbeBudget>,
}

/// What the matcher depends on: each annex and its patterns.
type AnnexKey = Vec<(AnnexId, usize, usize)>;

fn annex_key(state: &trustroom_shared::room::RoomState) -> AnnexKey {
    state.annexes.values().map(|a| (a.id, a.sensitive.len(), a.sensitive.iter().map(String::len).sum())).collect()
}

impl Room {
    /// The matcher for the room's current annex patterns.
    pub(super) fn matcher(&mut self) -> &Matcher {
        let key = annex_key(&self.state);
        let stale = self.gate.matcher.as_ref().is_none_or(|(k, _)| *k != key);
        if stale {
            let m = Matcher::new(self.state.annexes.values());
            self.gate.matcher = Some((key, m));
        }
        match &self.gate.matcher {
            Some((_, m)) => m,
            None => unreachable!("set above"),
        }
    }

    /// Checks every free-text field of `request` (the request table names
    /// them) before it is sequenced.
    pub(super) fn gate(&mut self, batch: &mut Batch, user: UserId, request: &Request) -> Result<(), Refusal> {
        let texts = request.free_text();
        if texts.iter().all(|t| t.text.trim().is_empty()) {
            return Ok(());
        }
        self.probe_limited(user)?;
        // Sizes first: a text refused as too large is never matched, so
        // "too large" vs "restricted" tells nothing about the patterns.
        for t in &texts {
            let limit = match t.field {
                "body" | "op" => self.config.max_section_chars,
                _ => self.config.max_text_chars,
            };
            let n = t.text.chars().count();
            if n > limit {
                return Err((ErrorCode::TooLarge, format!("`{}` has {n} characters (limit {limit})", t.field)));
            }
        }
        if self.matcher().is_empty() {
            return Ok(());
        }
        let matcher = self.matcher();
        let hit = texts.iter().find_map(|t| {
            let mut annexes: Vec<AnnexId> = matcher.find(&t.text).into_iter().map(|h| h.annex).collect();
            annexes.sort_unstable();
            annexes.dedup();
            (!annexes.is_empty()).then_some((t.field, annexes))
        });
        if let Some((field, annexes)) = hit {
            return Err(self.gate_refusal(batch, user, field, &annexes));
        }
        // Look-alikes of a hidden annex's identifiers are guesses: an
        // accepted guess answers as much as a refused one, so they are
        // charged to the budget too (the request itself goes through).
        let alike: Vec<AnnexId> = texts.iter().flat_map(|t| matcher.look_alikes(&t.text)).collect();
        let hidden = self.hidden_for(user);
        if alike.iter().any(|a| hidden.contains(a)) {
            self.charge_probe(batch, user);
        }
        Ok(())
    }

    /// Refuses a section change that would put restricted detail in the
    /// section's text (assembled from pieces, or around an edit): compares
    /// the occurrences of each annex's patterns before and after.
    pub(super) fn gate_section(
        &mut self,
        batch: &mut Batch,
        user: UserId,
        section: SectionId,
        op: &TextOp,
    ) -> Result<(), Refusal> {
        // Past the budget every edit is refused unread, deletions included
        // (a deletion can join candidate pieces: no answer may differ).
        self.probe_limited(user)?;
        // A room without declared patterns has nothing to compare: the
        // section is not rebuilt for the check.
        if self.matcher().is_empty() {
            return Ok(());
        }
        let Some(before) = self.state.section(section).map(|s| s.body.clone()) else { return Ok(()) };
        let after = op.apply(&before).map_err(|e| (ErrorCode::Invalid, e.to_string()))?;
        let after = after.as_str();
        // Only the text around the change is compared (restricted::EditSpan):
        // no O(section) scan on each keystroke.
        let span = EditSpan::between(&before, after);
        let annexes = self.matcher().introduced_in_edit(&before, after, span);
        if !annexes.is_empty() {
            return Err(self.gate_refusal(batch, user, "op", &annexes));
        }
        // Look-alikes the edit creates (candidates assembled by deleting or
        // inserting around them) are guesses too: charged like those in
        // request text.
        let hidden = self.hidden_for(user);
        if !hidden.is_empty() {
            let pad = self.matcher().max_pattern_chars() * 2 + 8;
            let window = |text: &str, end: usize| -> String {
                text.chars()
                    .skip(span.start.saturating_sub(pad))
                    .take(end + pad - span.start.saturating_sub(pad))
                    .collect()
            };
            let is_hidden = |a: AnnexId| hidden.contains(&a);
            let m = self.matcher();
            let more = m.look_alike_count(&window(after, span.after_end), &is_hidden)
                > m.look_alike_count(&window(&before, span.before_end), &is_hidden);
            if more {
                self.charge_probe(batch, user);
            }
        }
        Ok(())
    }

    /// Counts one possible probe by `user`; when it spends the budget, the
    /// audit log records a suspected probe and the room alerts the owners.
    fn charge_probe(&mut self, batch: &mut Batch, user: UserId) {
        let now = self.now();
        if !self.gate.probes.entry(user).or_default().record(now) {
            return;
        }
        let name = self.state.member(user).map(|m| m.name.clone()).unwrap_or_default();
        let detail = json!({"user": user, "name": name, "refusals": trustroom_shared::restricted::PROBE_LIMIT,
            "window_ms": trustroom_shared::restricted::PROBE_WINDOW_MS});
        self.audit(batch, "server", "probe.suspected", detail);
        let until = now + trustroom_shared::restricted::PROBE_WINDOW_MS;
        let change = Change::ProbeSuspected { user, name, until_ms: until };
        let detail = json!({"user": user, "until_ms": until});
        if let Err((code, message)) = self.commit_change(batch, ADMIN_ACTOR, None, change, detail) {
            tracing::error!(room = %self.id, "probe alert not recorded ({code}): {message}");
        }
    }

    /// Whether `quote` occurs in `body` outside any restricted detail (a
    /// quote reaching into text masked for some members is refused as not
    /// occurring, so it cannot be used to read that text back).
    pub(super) fn quote_occurs(&self, body: &str, quote: &str) -> bool {
        match &self.gate.matcher {
            Some((key, m)) if *key == annex_key(&self.state) => m.occurs_outside_hits(body, quote),
            _ => Matcher::new(self.state.annexes.values()).occurs_outside_hits(body, quote),
        }
    }

    /// Refuses unread while `user`'s probe budget is spent.
    fn probe_limited(&self, user: UserId) -> Result<(), Refusal> {
        let now = self.now();
        match self.gate.probes.get(&user).and_then(|b| b.exhausted(now)) {
            Some(wait) => Err((
                ErrorCode::ProbeLimited,
                format!(
                    "too many of your requests held restricted detail or guesses at it; your free-text requests in this room are refused \
                     unread for {} (an owner was alerted)",
                    format_duration(wait.max(1000) as u64)
                ),
            )),
            None => Ok(()),
        }
    }

    /// The refusal for restricted detail in `field`, matched against
    /// `annexes`; counts it against the member's probe budget unless they
    /// may read every matched annex.
    fn gate_refusal(&mut self, batch: &mut Batch, user: UserId, field: &str, annexes: &[AnnexId]) -> Refusal {
        let hidden = self.hidden_for(user);
        if !annexes.iter().any(|a| hidden.contains(a)) {
            let codes: Vec<String> =
                annexes.iter().filter_map(|a| self.state.annexes.get(a).map(|x| x.code.clone())).collect();
            return (
                ErrorCode::Restricted,
                format!(
                    "`{field}` holds restricted detail of annex {}; nothing was stored. Reference it as [[annex:{}]] \
                     or ask for a promotion",
                    codes.join(", "),
                    codes.first().map_or("A1", String::as_str)
                ),
            );
        }
        self.charge_probe(batch, user);
        (
            ErrorCode::Restricted,
            format!(
                "`{field}` holds restricted detail; nothing was stored. Reference annexes as [[annex:CODE]] or ask for a \
                 promotion"
            ),
        )
    }
}
