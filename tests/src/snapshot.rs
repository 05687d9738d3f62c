//! Reading snapshots: sections, annexes, objections, revisions.

use super::*;

/// `(id, body)` of the section titled `title` in a snapshot.
pub fn section(snapshot: &Value, title: &str) -> anyhow::Result<(String, String)> {
    let sections = snapshot["state"]["sections"].as_array().context("snapshot without sections")?;
    let s = sections.iter().find(|s| s["title"] == title).with_context(|| format!("no section {title:?}"))?;
    Ok((s["id"].as_str().context("section id")?.to_string(), s["body"].as_str().context("section body")?.to_string()))
}

/// The id of the annex with code `code` (`A1`…) in a snapshot.
pub fn annex_id(snapshot: &Value, code: &str) -> anyhow::Result<String> {
    let annexes = snapshot["state"]["annexes"].as_object().context("snapshot without annexes")?;
    annexes
        .iter()
        .find(|(_, a)| a["code"] == code)
        .map(|(id, _)| id.clone())
        .with_context(|| format!("no annex {code}"))
}

/// The id of the objection numbered `number` (`O-N`) in a snapshot.
pub fn objection_id(snapshot: &Value, number: u64) -> anyhow::Result<String> {
    let objections = snapshot["state"]["objections"].as_object().context("snapshot without objections")?;
    objections
        .iter()
        .find(|(_, o)| o["number"] == number)
        .map(|(id, _)| id.clone())
        .with_context(|| format!("no objection O-{number}"))
}

/// The room revision of a snapshot.
pub fn revision_of(snapshot: &Value) -> u64 {
    snapshot["state"]["revision"].as_u64().unwrap_or(0)
}

/// The number of chars (Unicode scalar values) in `s`.
pub fn chars(s: &str) -> i64 {
    s.chars().count() as i64
}
