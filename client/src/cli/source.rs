//! The room's source register from scripts: register records from `.jsonl`
//! files, list the register and every citation's state (fresh, stale,
//! unknown), open one record's text (audited; a restricted record only
//! for readers of its annex), re-confirm a stale citation.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use trustroom_shared::evidence::CitationStatus;
use trustroom_shared::protocol::{AddSourceAck, Request, SourceContent, SourcesResult};
use trustroom_shared::source::{MAX_RECORDS_PER_REQUEST, Registered, SourceRecord, parse_lines};

use super::commands::Ctx;
use super::exit::UsageError;
use super::output::{emit, json_pretty};
use crate::resolve;

/// `trustroom source …`
#[derive(Subcommand, Debug)]
pub enum SourceCommand {
    /// Register source records from .jsonl files (one record per line): new ids are added, a known id with
    /// other content becomes a new version (its citations turn stale), the same content changes nothing
    #[command(after_help = "A line: {\"id\":\"SL-0091\",\"time\":\"2026-11-17T09:17:03Z\",\"kind\":\"render\",\
        \"actor\":\"session tooling\",\"text\":\"…\"}, optional \"origin\" (default: the file's name) and \
        \"annex\":\"A1\" (a restricted record: only readers of that annex may register or read it).")]
    Add {
        /// Room id or exact title
        room: String,
        /// A .jsonl file of records (repeatable)
        #[arg(long = "file", required = true, value_name = "F.jsonl")]
        files: Vec<PathBuf>,
    },
    /// List the register (ids, versions, digests; never text) and each section's citations: fresh, stale, unknown
    List {
        /// Room id or exact title
        room: String,
    },
    /// Open one record: its text (audited), digest, version history
    Show {
        /// Room id or exact title
        room: String,
        /// The record id (as cited: SL-0091)
        id: String,
        /// An older version of the record (default: the newest)
        #[arg(long = "record-version", value_name = "N")]
        record_version: Option<u32>,
    },
    /// Re-confirm a section's stale citation of a record against its newest version
    Confirm {
        /// Room id or exact title
        room: String,
        /// The section's title (or id)
        section: String,
        /// The record id
        id: String,
    },
}

/// Runs `trustroom source …`.
pub async fn source(ctx: &Ctx, command: SourceCommand) -> anyhow::Result<()> {
    match command {
        SourceCommand::Add { room, files } => add(ctx, &room, &files).await,
        SourceCommand::List { room } => list(ctx, &room).await,
        SourceCommand::Show { room, id, record_version } => show(ctx, &room, &id, record_version).await,
        SourceCommand::Confirm { room, section, id } => confirm(ctx, &room, &section, &id).await,
    }
}

fn read_files(files: &[PathBuf]) -> anyhow::Result<Vec<SourceRecord>> {
    let mut all: Vec<SourceRecord> = Vec::new();
    let mut seen = std::collections::BTreeMap::new();
    for path in files {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let stem = path.file_stem().map_or_else(String::new, |s| s.to_string_lossy().into_owned());
        let records = parse_lines(&stem, &text)
            .map_err(|(line, message)| UsageError(format!("{}:{line}: {message}", path.display())))?;
        for r in records {
            if let Some(first) = seen.insert(r.id.clone(), path.display().to_string()) {
                return Err(UsageError(format!("record {} is in {first} and {}", r.id, path.display())).into());
            }
            all.push(r);
        }
    }
    if all.is_empty() {
        return Err(UsageError("the files hold no records".into()).into());
    }
    Ok(all)
}

async fn add(ctx: &Ctx, room: &str, files: &[PathBuf]) -> anyhow::Result<()> {
    let records = read_files(files)?;
    let mut s = ctx.open().await?;
    let room = resolve::room_id(&mut s, room).await?;
    let mut acks = Vec::new();
    for part in records.chunks(MAX_RECORDS_PER_REQUEST) {
        let ack: AddSourceAck = s
            .call_as(Request::AddSource { room, records: part.to_vec(), seq: None })
            .await
            .context("registering source records")?;
        acks.extend(ack.records);
    }
    if ctx.json {
        return emit(&json_pretty(&acks)?).map_err(Into::into);
    }
    let count = |o: Registered| acks.iter().filter(|a| a.outcome == o).count();
    let mut out = format!(
        "{} record(s): {} added, {} new version(s), {} unchanged\n",
        acks.len(),
        count(Registered::Added),
        count(Registered::NewVersion),
        count(Registered::Unchanged)
    );
    for a in acks.iter().filter(|a| a.outcome != Registered::Unchanged) {
        let what = if a.outcome == Registered::Added { "added" } else { "new version" };
        let _ = writeln!(out, "  {:<14} v{:<3} {what:<11} sha256:{}", a.id, a.version, short(&a.digest));
    }
    emit(&out)?;
    Ok(())
}

fn short(digest: &str) -> &str {
    digest.get(..16).unwrap_or(digest)
}

async fn list(ctx: &Ctx, room: &str) -> anyhow::Result<()> {
    let mut s = ctx.open().await?;
    let room = resolve::room_id(&mut s, room).await?;
    let r: SourcesResult = s.call_as(Request::Sources { room }).await.context("reading the source register")?;
    if ctx.json {
        return emit(&json_pretty(&r)?).map_err(Into::into);
    }
    emit(&render_list(&r))?;
    Ok(())
}

/// The register and the citations, for people.
pub fn render_list(r: &SourcesResult) -> String {
    let mut out = format!("Source register at rev {}: {} record(s)\n", r.revision, r.sources.len());
    for src in &r.sources {
        let Some(v) = src.current() else { continue };
        let restricted = src.annex.as_deref().map(|a| format!(" [restricted: {a}]")).unwrap_or_default();
        let _ = writeln!(
            out,
            "  {:<14} v{:<3} {} {:<16} {}{restricted}  sha256:{}",
            src.id,
            v.version,
            v.time,
            one_line(&v.kind),
            one_line(&v.origin),
            short(&v.digest)
        );
    }
    let stale = r.citations.iter().flat_map(|c| &c.cited).filter(|c| matches!(c.status, CitationStatus::Stale { .. }));
    let unknown =
        r.citations.iter().flat_map(|c| &c.cited).filter(|c| matches!(c.status, CitationStatus::Unknown)).count();
    let _ = writeln!(out, "Citations: {} stale, {unknown} unknown", stale.count());
    for c in &r.citations {
        let _ = writeln!(out, "  {}", one_line(&c.title));
        for cited in &c.cited {
            let state = match &cited.status {
                CitationStatus::Fresh { version, .. } => format!("fresh (v{version})"),
                CitationStatus::Stale { cited_version, version, since_revision } => {
                    format!("STALE: cited v{cited_version}, now v{version} since rev {since_revision}")
                }
                CitationStatus::Unknown => "UNKNOWN: no registered record".into(),
                CitationStatus::Unchecked => "unchecked".into(),
            };
            let _ = writeln!(out, "    {:<14} {state}", cited.source);
        }
    }
    out
}

fn one_line(text: &str) -> String {
    trustroom_shared::holds::one_line(text)
}

async fn show(ctx: &Ctx, room: &str, id: &str, version: Option<u32>) -> anyhow::Result<()> {
    let mut s = ctx.open().await?;
    let room = resolve::room_id(&mut s, room).await?;
    let r: SourceContent = s
        .call_as(Request::ViewSource { room, source: id.to_string(), version })
        .await
        .with_context(|| format!("opening source record {id}"))?;
    if ctx.json {
        return emit(&json_pretty(&r)?).map_err(Into::into);
    }
    let restricted = r.annex.as_deref().map(|a| format!("  restricted: annex {a}")).unwrap_or_default();
    emit(&format!(
        "{} v{} of {}  {}  {}  {}{restricted}\nsha256:{}\n\n{}\n\n(this view is in the room's audit log)\n",
        r.id,
        r.version,
        r.versions,
        r.time,
        one_line(&r.kind),
        one_line(&r.origin),
        r.digest,
        one_line(&r.text)
    ))?;
    Ok(())
}

async fn confirm(ctx: &Ctx, room: &str, section: &str, id: &str) -> anyhow::Result<()> {
    let mut s = ctx.open().await?;
    let room = resolve::room_id(&mut s, room).await?;
    let snapshot = s.join(room).await?;
    let section = resolve::section(&snapshot.state, section)?.id;
    let result = s
        .call(Request::ConfirmEvidence { room, section, source: id.to_string(), seq: None })
        .await
        .with_context(|| format!("re-confirming {id}"))?;
    ctx.print_ack(&result, None, None)
}
