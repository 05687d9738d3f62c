//! Exports: rebuilding a room at any stored revision (the newest snapshot
//! at or before it, then the log replayed with `change::apply`), choosing
//! the release manifest of that packet revision, and rendering the bundle.
//! Used by the room actor (the `export` request) and by the operator's
//! `trustroom-server export`.

use serde_json::json;
use trustroom_shared::RoomId;
use trustroom_shared::canonical::sha256_hex;
use trustroom_shared::change::Revision;
use trustroom_shared::change::apply;
use trustroom_shared::export::{ExportFormat, bundle_with_stats, to_json, to_markdown_with_stats};
use trustroom_shared::manifest::ManifestRecord;
use trustroom_shared::protocol::ExportResult;
use trustroom_shared::room::RoomState;

use crate::admin::{AdminCommand, run_admin};
use crate::storage::Store;

/// The room's full state at room revision `revision` (the newest when
/// `None`), rebuilt from storage.
pub async fn state_at(store: &Store, room: RoomId, revision: Option<u64>) -> anyhow::Result<RoomState> {
    let loaded = store.load_room(room).await?.ok_or_else(|| anyhow::anyhow!("no room {room}"))?;
    let newest = crate::room::replay(&loaded).map_err(|e| anyhow::anyhow!("room {room} cannot be replayed: {e}"))?;
    let Some(n) = revision.filter(|n| *n < newest.revision) else {
        if let Some(n) = revision.filter(|n| *n > newest.revision) {
            anyhow::bail!("revision {n} does not exist (the room is at rev {})", newest.revision);
        }
        return Ok(newest);
    };
    let mut state = match store.snapshot_at_or_before(room, n).await? {
        Some(s) => s,
        None => RoomState::new(loaded.record.id, loaded.record.title.clone(), loaded.record.created_ms),
    };
    for rev in store.revisions_between(room, state.revision, n).await? {
        apply(&mut state, &rev).map_err(|e| anyhow::anyhow!("revision {}: {e}", rev.revision))?;
    }
    anyhow::ensure!(state.revision == n, "the log ends at rev {} before rev {n}", state.revision);
    Ok(state)
}

/// The release record of `state`'s packet revision, if that packet
/// revision was released: the newest release of it (a bundle describes a
/// packet revision, so every room revision with this packet content gets
/// it, also one exported from before the release event).
pub fn manifest_for(manifests: &[ManifestRecord], state: &RoomState) -> Option<ManifestRecord> {
    let hash = trustroom_shared::canonical::content_hash(state);
    manifests
        .iter()
        .filter(|m| {
            m.manifest.body.revision == state.content_revision
                && m.manifest.body.content_hash == hash
                && m.manifest.body.room == state.id
        })
        .max_by_key(|m| m.event.release_revision)
        .cloned()
}

/// Every stored revision of `room` up to `revision` (for the metrics).
pub async fn log_upto(store: &Store, room: RoomId, revision: u64) -> anyhow::Result<Vec<Revision>> {
    Ok(store.revisions_between(room, 0, revision).await?)
}

/// Renders the bundle of `state` in `format`, with the room's metrics from
/// its revision log `log` (revisions up to `state.revision`).
pub fn render(
    state: &RoomState,
    release: Option<ManifestRecord>,
    format: ExportFormat,
    log: &[Revision],
) -> ExportResult {
    let released = release.is_some();
    let b = bundle_with_stats(state, release, log);
    let text = match format {
        ExportFormat::Json => to_json(&b),
        ExportFormat::Markdown => to_markdown_with_stats(state, &b, log),
    };
    ExportResult {
        format,
        revision: state.revision,
        packet_revision: b.core.revision,
        content_hash: b.core.content_hash.clone(),
        exact: b.core.exact,
        released,
        text,
    }
}

/// The operator's export: rebuilt from storage, recorded in the room's
/// audit chain (through the room's actor, like every room change) before
/// it is returned.
pub async fn operator_export(
    store: &Store,
    room: RoomId,
    revision: Option<u64>,
    format: ExportFormat,
) -> anyhow::Result<ExportResult> {
    let state = state_at(store, room, revision).await?;
    let manifests = store.manifests(room).await?;
    let log = log_upto(store, room, state.revision).await?;
    let result = render(&state, manifest_for(&manifests, &state), format, &log);
    let detail = json!({
        "by": "operator",
        "format": result.format,
        "revision": result.revision,
        "packet_revision": result.packet_revision,
        "content_hash": result.content_hash,
        "exact": result.exact,
        "released": result.released,
        "bytes": result.text.len(),
        "sha256": sha256_hex(result.text.as_bytes()),
    });
    run_admin(store, room, AdminCommand::Audit { kind: "export".into(), detail }).await?;
    Ok(result)
}
