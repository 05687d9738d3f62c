//! The room's access history, read from its audit chain: requests,
//! decisions with reasons, grants, views, expiries, revocations,
//! break-glass, promotions, check overrides, policy changes, purges and
//! history exports. Metadata only: the audit chain never holds annex
//! content, and neither does anything here.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::audit::AuditEntry;

/// Audit kinds that belong to the access history.
pub const KINDS: &[&str] = &[
    "change.access_requested",
    "change.access_folded",
    "change.access_decided",
    "change.access_withdrawn",
    "change.grant_ended",
    "change.break_glass_invoked",
    "change.break_glass_ended",
    "change.promotion_requested",
    "change.promotion_decided",
    "change.access_policy_set",
    "change.check_overridden",
    "change.check_override_lapsed",
    "change.content_purged",
    "annex.view",
    "access.history_exported",
];

/// Requests whose refusals belong to the access history.
pub const REFUSED_REQUESTS: &[&str] = &[
    "view_annex",
    "request_access",
    "withdraw_access",
    "approve_access",
    "deny_access",
    "revoke_grant",
    "break_glass",
    "end_break_glass",
    "request_promotion",
    "view_promotion",
    "approve_promotion",
    "deny_promotion",
    "override_check",
    "set_access_policy",
    "access_history",
];

/// One line of the access history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// Position in the room's audit chain.
    pub seq: u64,
    pub at_ms: i64,
    /// User id, `admin` or `system`.
    pub actor: String,
    /// The actor's name when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_name: Option<String>,
    /// The audit kind (`change.access_decided`, `annex.view`, `refused`, …).
    pub kind: String,
    pub detail: Value,
    /// Hash of the audit entry (ties the line to the verifiable chain).
    pub hash: String,
}

/// Whether an audit entry belongs to the access history.
pub fn is_history(entry: &AuditEntry) -> bool {
    if KINDS.contains(&entry.kind.as_str()) {
        return true;
    }
    entry.kind == "refused"
        && entry.detail.get("request").and_then(Value::as_str).is_some_and(|r| REFUSED_REQUESTS.contains(&r))
}

/// The access history in chain order; `name` resolves actor ids to names.
pub fn history(entries: &[AuditEntry], name: impl Fn(&str) -> Option<String>) -> Vec<HistoryEntry> {
    entries
        .iter()
        .filter(|e| is_history(e))
        .map(|e| HistoryEntry {
            seq: e.seq,
            at_ms: e.at_ms,
            actor: e.actor.clone(),
            actor_name: name(&e.actor),
            kind: e.kind.clone(),
            detail: e.detail.clone(),
            hash: e.hash.clone(),
        })
        .collect()
}

/// JSON lines, one entry per line.
pub fn to_jsonl(entries: &[HistoryEntry]) -> String {
    let mut out = String::new();
    for e in entries {
        out.push_str(&serde_json::to_string(e).unwrap_or_default());
        out.push('\n');
    }
    out
}

/// The CSV header.
pub const CSV_HEADER: &str = "seq,time_utc,at_ms,actor,actor_name,kind,subject,annex,status,reason,detail";

/// CSV (RFC 4180 quoting), with a header line.
pub fn to_csv(entries: &[HistoryEntry]) -> String {
    let mut out = String::from(CSV_HEADER);
    out.push('\n');
    for e in entries {
        let d = &e.detail;
        let s = |k: &str| d.get(k).map(text_of).unwrap_or_default();
        let subject = first_of(d, &["code", "request", "grant", "invocation", "promotion", "check"]);
        let annex = first_of(d, &["annex_code", "annex_codes", "code_of_annex"]);
        let status = first_of(d, &["status", "cause", "decision"]);
        let reason = first_of(d, &["reason", "note", "rationale", "message"]);
        let fields = [
            e.seq.to_string(),
            crate::export::utc(e.at_ms),
            e.at_ms.to_string(),
            e.actor.clone(),
            e.actor_name.clone().unwrap_or_default(),
            e.kind.clone(),
            subject,
            if annex.is_empty() { s("annex") } else { annex },
            status,
            reason,
            d.to_string(),
        ];
        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        let _ = writeln!(out, "{}", line.join(","));
    }
    out
}

fn first_of(d: &Value, keys: &[&str]) -> String {
    keys.iter().filter_map(|k| d.get(*k)).map(text_of).find(|t| !t.is_empty()).unwrap_or_default()
}

fn text_of(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(text_of).collect::<Vec<_>>().join(" "),
        other => other.to_string(),
    }
}

/// One CSV field, quoted when it holds a comma, quote or line break. A
/// field starting with `=`, `+`, `-` or `@` gets a leading `'` so a
/// spreadsheet does not run it as a formula.
pub fn csv_field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) { format!("'{text}") } else { text.to_string() };
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::next_entry;
    use serde_json::json;

    #[test]
    fn filters_and_formats() {
        let a = next_entry(None, "r", 1, "u1", "change.section_edited", 1, json!({}));
        let b = next_entry(
            Some((a.seq, &a.hash)),
            "r",
            2,
            "u1",
            "change.access_requested",
            2,
            json!({"code": "R-1", "annex_code": "A1", "reason": "CASE-1, \"urgent\"", "status": "requested"}),
        );
        let c = next_entry(
            Some((b.seq, &b.hash)),
            "r",
            3,
            "u2",
            "refused",
            2,
            json!({"request": "view_annex", "code": "forbidden", "message": "no"}),
        );
        let d = next_entry(Some((c.seq, &c.hash)), "r", 4, "u2", "refused", 2, json!({"request": "edit"}));
        let h = history(&[a, b, c, d], |id| (id == "u1").then(|| "priya".to_string()));
        assert_eq!(h.len(), 2);
        assert_eq!(h[0].actor_name.as_deref(), Some("priya"));
        let csv = to_csv(&h);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], CSV_HEADER);
        assert!(lines[1].contains(",R-1,A1,requested,\"CASE-1, \"\"urgent\"\"\","), "{}", lines[1]);
        assert_eq!(to_jsonl(&h).lines().count(), 2);
        assert_eq!(csv_field("=cmd()"), "'=cmd()");
    }
}
