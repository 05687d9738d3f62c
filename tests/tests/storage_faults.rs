//! Storage faults with real faults, no mocks, against the real server
//! binary:
//!
//! - **Disk full**: the database lives on a small tmpfs this test mounts
//!   (needs root and `mount`) and then fills to the last byte.
//! - **Read-only database**: the database lives on an ext4 image this test
//!   loop-mounts (root, `mkfs.ext4`, `mount`, `chattr`); the database file,
//!   its WAL and its directory are made immutable, which refuses writes
//!   even through descriptors the server already holds.
//!
//! The two that mount need root (`cfg(root)`, tests/build.rs): without it
//! they are ignored, and under `CI=true` they run and fail saying why, as
//! they do whenever the fault cannot be injected: a test that cannot run
//! never passes.
//! - **Database locked**: another process-level connection holds SQLite's
//!   write lock (`BEGIN IMMEDIATE`) past the server's busy timeout.
//!
//! In both: the room refuses changes with `unavailable` and nothing of them
//! is stored or broadcast; reads keep working (a new member joins and gets
//! the snapshot); once the fault clears, the same request (same `seq`)
//! succeeds as the next revision, and is there for any other connection to
//! read the moment it is acknowledged; revisions stay contiguous and the
//! audit chains verify, including the entry of the join made during the
//! fault.
// Test code: a failed expectation is the verdict (the lints bind product code).
#![allow(clippy::expect_used, clippy::panic)]

mod reliability;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reliability::{ServerProcess, audit_verify, check_contiguous};
use serde_json::{Value, json};
use trustroom_e2e::{WsClient, raw_pool, section};

/// A tmpfs mounted for the test; unmounted on drop.
struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    fn mount(path: &Path, size: &str) -> Result<Tmpfs, String> {
        std::fs::create_dir_all(path).map_err(|e| e.to_string())?;
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(format!("mount failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
        }
        Ok(Tmpfs { path: path.to_path_buf() })
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// Writes zeros into `path` until the filesystem is full; returns bytes written.
fn fill(path: &Path) -> std::io::Result<u64> {
    let mut f = std::fs::File::create(path)?;
    let chunk = vec![0u8; 64 * 1024];
    let mut written = 0u64;
    loop {
        match f.write(&chunk) {
            Ok(0) => break,
            Ok(n) => written += n as u64,
            Err(e) if e.raw_os_error() == Some(28) => break, // ENOSPC
            Err(e) => return Err(e),
        }
    }
    // The last partial blocks too.
    let small = [0u8; 512];
    while let Ok(n) = f.write(&small) {
        if n == 0 {
            break;
        }
        written += n as u64;
    }
    let _ = f.sync_all();
    Ok(written)
}

fn edit(room: &str, section: &str, base: u64, len: usize, text: &str, seq: u64) -> Value {
    json!({"type": "edit", "room": room, "section": section, "base": base, "op": [len, text], "seq": seq})
}

/// `room.join` entries in the room's audit chain.
async fn join_entries(db: &Path, room: &str) -> anyhow::Result<i64> {
    let pool = raw_pool(db).await?;
    let n = sqlx::query_scalar("SELECT COUNT(*) FROM audit WHERE chain = ? AND kind = 'room.join'")
        .bind(room)
        .fetch_one(&pool)
        .await?;
    pool.close().await;
    Ok(n)
}

/// Entries in the server's audit chain (refusals that concern no room).
async fn server_refusals(db: &Path) -> anyhow::Result<i64> {
    let pool = raw_pool(db).await?;
    let n = sqlx::query_scalar("SELECT COUNT(*) FROM audit WHERE chain = 'server'").fetch_one(&pool).await?;
    pool.close().await;
    Ok(n)
}

/// The room's newest stored revision, read through a connection of its own.
async fn max_revision(db: &Path, room: &str) -> anyhow::Result<u64> {
    let pool = raw_pool(db).await?;
    let n: Option<i64> =
        sqlx::query_scalar("SELECT MAX(revision) FROM revisions WHERE room_id = ?").bind(room).fetch_one(&pool).await?;
    pool.close().await;
    Ok(n.unwrap_or(0) as u64)
}

/// A fault the test can switch on and off.
struct Fault {
    name: &'static str,
    inject: Box<dyn FnOnce() -> anyhow::Result<()> + Send>,
    clear: Box<dyn FnOnce() -> anyhow::Result<()> + Send>,
}

/// Seeds a database in `dir`, serves it, injects the fault and checks the
/// whole cycle: refusal with `unavailable`, reads during the fault, nothing
/// half-written or broadcast, recovery with the same request, contiguous
/// revisions, audit chains (including the join made during the fault).
async fn fault_cycle(dir: &Path, home: &Path, fault: Fault) -> anyhow::Result<()> {
    let db = dir.join("t.db");
    let db_url = format!("sqlite://{}", db.display());
    let seed = {
        let store = trustroom_server::storage::open(&db_url).await?;
        trustroom_server::demo::seed(&store).await?
    };
    let server = ServerProcess::start(&db_url, home, &[]).await?;
    let log = server.log_handle();
    let cycle = fault_cycle_on(server, &db, &db_url, home, &seed, fault).await;
    // A failure says what the server logged (storage errors, reloads).
    cycle.map_err(|e| e.context(format!("server log (last lines):\n{}", log.tail())))
}

async fn fault_cycle_on(
    server: ServerProcess,
    db: &Path,
    db_url: &str,
    home: &Path,
    seed: &trustroom_server::demo::DemoSeed,
    fault: Fault,
) -> anyhow::Result<()> {
    let room = seed.room.to_string();
    let token = |role: &str| seed.member(role).map(|m| m.token.clone()).ok_or_else(|| anyhow::anyhow!("no {role}"));
    let mut owner = WsClient::connect(&server.url, &token("owner")?).await?;
    let snap = owner.join(&room).await?;
    let mut watcher = WsClient::connect(&server.url, &token("reviewer/privacy")?).await?;
    watcher.join(&room).await?;
    let (sec, body) = section(&snap, "Summary")?;
    let mut len = body.chars().count();
    let mut rev = snap["state"]["revision"].as_u64().unwrap_or(0);

    let t0 = std::time::Instant::now();
    let at = move || format!("[{:.1} s]", t0.elapsed().as_secs_f64());
    (fault.inject)()?;

    // Write until storage refuses (a full disk may still take a few).
    let chunk = "x".repeat(3_000);
    let mut seq = 0;
    let (refused_seq, refusal) = loop {
        seq += 1;
        anyhow::ensure!(seq < 500, "{}: 500 edits were stored: no fault", fault.name);
        let answer = owner.request(edit(&room, &sec, rev, len, &chunk, seq)).await?;
        if answer["type"] == "ok" {
            rev = answer["result"]["revision"].as_u64().unwrap_or(rev);
            len += 3_000;
            continue;
        }
        break (seq, answer);
    };
    println!("{} {}: {} edits stored, then {refusal}", at(), fault.name, refused_seq - 1);
    anyhow::ensure!(refusal["code"] == "unavailable", "expected unavailable, got {refusal}");
    let message = refusal["message"].as_str().unwrap_or_default();
    anyhow::ensure!(message.contains("nothing was applied"), "unclear message: {message}");

    // Reads work: a new member joins and gets the last stored state.
    let joins_before = join_entries(db, &room).await?;
    let mut reader = WsClient::connect(&server.url, &token("reviewer/legal")?).await?;
    let during = reader.join(&room).await?;
    anyhow::ensure!(during["state"]["revision"] == rev, "the snapshot shows {} not {rev}", during["state"]["revision"]);
    let (_, during_body) = section(&during, "Summary")?;
    anyhow::ensure!(during_body.chars().count() == len, "the snapshot holds half-written text");
    println!("{} a new member joined during the fault", at());
    // Nothing of the refused request was broadcast.
    watcher.drain(Duration::from_millis(300)).await?;
    let stray = watcher.pending().filter(|v| v["type"] == "event" && v["rev"]["revision"].as_u64() > Some(rev)).count();
    anyhow::ensure!(stray == 0, "{stray} events for refused changes were broadcast");

    // The fault clears: the same request succeeds as the next revision.
    (fault.clear)()?;
    let ack = owner.ok(edit(&room, &sec, rev, len, &chunk, refused_seq)).await?;
    anyhow::ensure!(ack["revision"] == rev + 1 && ack["duplicate"] == false, "after recovery: {ack}");
    println!("{} recovered: {ack}", at());
    let seen = watcher.wait_for_revision(rev + 1).await?;
    anyhow::ensure!(seen["rev"]["client"]["seq"] == refused_seq, "{seen}");
    // Acknowledged means committed: another connection reads it now (a
    // connection poisoned by the fault once held it in a transaction that
    // never committed, and shutdown rolled it back).
    let stored_now = max_revision(db, &room).await?;
    anyhow::ensure!(stored_now == rev + 1, "revision {} was acknowledged, storage holds {stored_now}", rev + 1);
    // The join made during the fault was audited once storage came back.
    let joins_after = join_entries(db, &room).await?;
    anyhow::ensure!(joins_after == joins_before + 1, "join audit entries {joins_before} -> {joins_after}");
    // Writes outside room commits work again too: refusals of requests for
    // unknown rooms go to the server's own chain, several times so that
    // they go through more than one pooled connection.
    let refusals_before = server_refusals(db).await?;
    for _ in 0..4 {
        let unknown = uuid::Uuid::now_v7().to_string();
        owner.refused(json!({"type": "join", "room": unknown}), "not_found").await?;
    }
    let refusals_after = server_refusals(db).await?;
    anyhow::ensure!(refusals_after == refusals_before + 4, "server refusals {refusals_before} -> {refusals_after}");

    server.terminate().await?;
    let pool = raw_pool(db).await?;
    let stored = check_contiguous(&pool, seed.room).await?;
    anyhow::ensure!(stored == rev + 1, "stored {stored} revisions, expected {}", rev + 1);
    pool.close().await;
    println!("room chain {}", audit_verify(db_url, home, &room).await?);
    println!("server chain {}", audit_verify(db_url, home, "server").await?);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(any(root, ci)), ignore = "needs root (mounts a tmpfs)")]
async fn disk_full_refuses_changes_keeps_reads_and_recovers() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    ensure_root("the disk-full test mounts a tmpfs")?;
    let fs = Tmpfs::mount(&dir.path().join("small"), "6m")
        .map_err(|e| anyhow::anyhow!("cannot inject the fault: cannot mount a tmpfs for the disk-full test ({e})"))?;
    let filler = fs.path.join("filler");
    let (f1, f2) = (filler.clone(), filler);
    let fault = Fault {
        name: "disk full",
        inject: Box::new(move || {
            println!("filled the tmpfs with {} bytes", fill(&f1)?);
            Ok(())
        }),
        clear: Box::new(move || Ok(std::fs::remove_file(&f2)?)),
    };
    fault_cycle(&fs.path, &dir.path().join("home"), fault).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(any(root, ci)), ignore = "needs root (mounts an ext4 image)")]
async fn read_only_database_files_refuse_changes_keep_reads_and_recover() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    ensure_root("the read-only test mounts an ext4 image")?;
    // Linux will not remount a filesystem read-only while files on it are
    // open for writing, and root ignores file modes; an ext4 file marked
    // immutable refuses every write, also through descriptors already open.
    let fs = Ext4Image::mount(dir.path()).map_err(|e| {
        anyhow::anyhow!("cannot inject the fault: cannot mount an ext4 image for the read-only test ({e})")
    })?;
    let files: Vec<PathBuf> = ["t.db", "t.db-wal", ""].iter().map(|f| fs.path.join(f)).collect();
    let (lock, unlock) = (files.clone(), files);
    let fault = Fault {
        name: "read-only database files",
        inject: Box::new(move || chattr("+i", &lock)),
        clear: Box::new(move || chattr("-i", &unlock)),
    };
    let result = fault_cycle(&fs.path, &dir.path().join("home"), fault).await;
    // Never leave an immutable file behind, whatever happened.
    let _ = chattr("-i", &["t.db", "t.db-wal", ""].iter().map(|f| fs.path.join(f)).collect::<Vec<_>>());
    result
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locked_database_refuses_changes_keeps_reads_and_recovers() -> anyhow::Result<()> {
    let Served { _dir, db_url, db, home, seed, room, server } = Served::start().await?;
    let token = |role: &str| seed.member(role).map(|m| m.token.clone()).ok_or_else(|| anyhow::anyhow!("no {role}"));
    let mut owner = WsClient::connect(&server.url, &token("owner")?).await?;
    let snap = owner.join(&room).await?;
    let (sec, body) = section(&snap, "Summary")?;
    let len = body.chars().count();
    let rev = snap["state"]["revision"].as_u64().unwrap_or(0);

    // Another connection takes SQLite's write lock and keeps it.
    let locker = raw_pool(&db).await?;
    let mut lock = locker.acquire().await?;
    sqlx::query("BEGIN IMMEDIATE").execute(&mut *lock).await?;

    let started = std::time::Instant::now();
    let refusal = owner.request(edit(&room, &sec, rev, len, " [locked]", 1)).await?;
    println!("refused after {:.1} s: {refusal}", started.elapsed().as_secs_f64());
    anyhow::ensure!(refusal["type"] == "error" && refusal["code"] == "unavailable", "{refusal}");
    // Reads work while the lock is held.
    let mut reader = WsClient::connect(&server.url, &token("reviewer/privacy")?).await?;
    let during = reader.join(&room).await?;
    anyhow::ensure!(during["state"]["revision"] == rev, "{}", during["state"]["revision"]);

    sqlx::query("ROLLBACK").execute(&mut *lock).await?;
    drop(lock);
    locker.close().await;
    let ack = owner.ok(edit(&room, &sec, rev, len, " [locked]", 1)).await?;
    anyhow::ensure!(ack["revision"] == rev + 1 && ack["duplicate"] == false, "{ack}");
    reader.wait_for_revision(rev + 1).await?;

    server.terminate().await?;
    let pool = raw_pool(&db).await?;
    anyhow::ensure!(check_contiguous(&pool, seed.room).await? == rev + 1);
    pool.close().await;
    println!("room chain {}", audit_verify(&db_url, &home, &room).await?);
    Ok(())
}

/// Audit entries storage refused are stored by a graceful shutdown when
/// nothing else came along to carry them: a reader joins while the database
/// is locked (its entry is refused), the lock goes, the server gets SIGTERM.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_stores_the_audit_entries_storage_refused() -> anyhow::Result<()> {
    let Served { _dir, db_url, db, home, seed, room, server } = Served::start().await?;
    let token = |role: &str| seed.member(role).map(|m| m.token.clone()).ok_or_else(|| anyhow::anyhow!("no {role}"));
    let mut owner = WsClient::connect(&server.url, &token("owner")?).await?;
    owner.join(&room).await?;
    let joins_before = join_entries(&db, &room).await?;

    let locker = raw_pool(&db).await?;
    let mut lock = locker.acquire().await?;
    sqlx::query("BEGIN IMMEDIATE").execute(&mut *lock).await?;
    // The join is answered once its commit gave up (busy timeout).
    let mut reader = WsClient::connect(&server.url, &token("reviewer/privacy")?).await?;
    reader.join(&room).await?;
    let during = join_entries(&db, &room).await?;
    anyhow::ensure!(during == joins_before, "the join was stored during the lock: {joins_before} -> {during}");
    sqlx::query("ROLLBACK").execute(&mut *lock).await?;
    drop(lock);
    locker.close().await;

    let (code, took) = server.terminate().await?;
    anyhow::ensure!(code == Some(0), "exit {code:?}");
    println!("shut down in {took:?}");
    let joins_after = join_entries(&db, &room).await?;
    anyhow::ensure!(joins_after == joins_before + 1, "join audit entries {joins_before} -> {joins_after}");
    println!("room chain {}", audit_verify(&db_url, &home, &room).await?);
    Ok(())
}

/// A failed commit whose reload fails too closes the room's actor (memory
/// may then hold what storage does not). The audit entries storage refused
/// meanwhile — here the join of a reader — are not lost with the actor: the
/// room's next actor, opened from storage on the next request, stores them.
/// The fault: the audit table is renamed away under the running server, so
/// both the commit (insert) and the reload (audit head) fail; no root needed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_entries_of_a_room_closed_by_a_storage_error_survive_into_its_next_actor() -> anyhow::Result<()> {
    let Served { _dir, db_url, db, home, seed, room, server } = Served::start().await?;
    let token = |role: &str| seed.member(role).map(|m| m.token.clone()).ok_or_else(|| anyhow::anyhow!("no {role}"));
    let log = server.log_handle();
    let outcome = async {
        let mut owner = WsClient::connect(&server.url, &token("owner")?).await?;
        let snap = owner.join(&room).await?;
        let rev = snap["state"]["revision"].as_u64().unwrap_or(0);
        let joins_before = join_entries(&db, &room).await?;

        let pool = raw_pool(&db).await?;
        sqlx::query("ALTER TABLE audit RENAME TO audit_away").execute(&pool).await?;
        // The reader still gets committed state; its entry cannot be stored,
        // the reload fails, and the actor closes the room for everyone.
        // (Its `ok` may lose the race with the room's `closing`.)
        let mut reader = WsClient::connect(&server.url, &token("reviewer/privacy")?).await?;
        let _ = reader.join(&room).await;
        let snapshot = reader
            .captured()
            .iter()
            .filter_map(|t| serde_json::from_str::<Value>(t).ok())
            .find(|v| v["type"] == "snapshot");
        let got = snapshot.map(|v| v["snapshot"]["state"]["revision"].clone());
        anyhow::ensure!(got == Some(json!(rev)), "the reader got {got:?}: {}", reader.captured_text());
        let closing = owner.wait_for(|v| v["type"] == "closing", Duration::from_secs(10)).await?;
        anyhow::ensure!(closing["code"] == "unavailable", "{closing}");
        let why = closing["reason"].as_str().unwrap_or_default();
        anyhow::ensure!(why.contains("storage error") && why.contains("reconnect"), "unclear: {why}");
        println!("the owner was told: {why}");

        sqlx::query("ALTER TABLE audit_away RENAME TO audit").execute(&pool).await?;
        pool.close().await;
        // The next join reopens the room from storage; the reader's join
        // entry is stored before the new one.
        let mut again = WsClient::connect(&server.url, &token("owner")?).await?;
        let reopened = again.join(&room).await?;
        anyhow::ensure!(reopened["state"]["revision"] == rev, "{}", reopened["state"]["revision"]);
        let joins_after = join_entries(&db, &room).await?;
        anyhow::ensure!(joins_after == joins_before + 2, "join audit entries {joins_before} -> {joins_after}");
        // And the room goes on: an edit is stored as the next revision.
        let (sec, body) = section(&reopened, "Summary")?;
        let ack = again.ok(edit(&room, &sec, rev, body.chars().count(), " [after]", 1)).await?;
        anyhow::ensure!(ack["revision"] == rev + 1, "{ack}");
        anyhow::ensure!(max_revision(&db, &room).await? == rev + 1);
        Ok(())
    }
    .await;
    let outcome = outcome.map_err(|e: anyhow::Error| e.context(format!("server log (last lines):\n{}", log.tail())));
    server.terminate().await?;
    outcome?;
    println!("room chain {}", audit_verify(&db_url, &home, &room).await?);
    Ok(())
}

/// A seeded SQLite database in a temporary directory, served by the real
/// binary.
struct Served {
    _dir: tempfile::TempDir,
    db_url: String,
    db: PathBuf,
    home: PathBuf,
    seed: trustroom_server::demo::DemoSeed,
    room: String,
    server: ServerProcess,
}

impl Served {
    async fn start() -> anyhow::Result<Served> {
        let (dir, db_url, seed) = reliability::seeded_db().await?;
        let db = reliability::db_path(&db_url);
        let home = dir.path().join("home");
        let server = ServerProcess::start(&db_url, &home, &[]).await?;
        Ok(Served { room: seed.room.to_string(), _dir: dir, db_url, db, home, seed, server })
    }
}

/// Sets or clears file attributes (`chattr +i` / `-i`) on existing paths.
fn chattr(flag: &str, paths: &[PathBuf]) -> anyhow::Result<()> {
    for p in paths.iter().filter(|p| p.exists()) {
        let out = std::process::Command::new("chattr").arg(flag).arg(p).output()?;
        anyhow::ensure!(
            out.status.success(),
            "chattr {flag} {}: {}",
            p.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// A small ext4 filesystem in an image file, loop-mounted for the test.
struct Ext4Image {
    path: PathBuf,
}

impl Ext4Image {
    fn mount(dir: &Path) -> Result<Ext4Image, String> {
        let image = dir.join("fs.ext4");
        let file = std::fs::File::create(&image).map_err(|e| e.to_string())?;
        file.set_len(32 << 20).map_err(|e| e.to_string())?;
        drop(file);
        let run = |cmd: &mut std::process::Command| -> Result<(), String> {
            let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
            if out.status.success() {
                Ok(())
            } else {
                Err(format!("{cmd:?}: {}", String::from_utf8_lossy(&out.stderr).trim()))
            }
        };
        run(std::process::Command::new("mkfs.ext4").arg("-q").arg(&image))?;
        let path = dir.join("ext4");
        std::fs::create_dir_all(&path).map_err(|e| e.to_string())?;
        run(std::process::Command::new("mount").arg("-o").arg("loop").arg(&image).arg(&path))?;
        Ok(Ext4Image { path })
    }
}

impl Drop for Ext4Image {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.path).status();
    }
}

/// Fails, saying why, when the test does not run as root (it runs anyway
/// under `CI=true`, or when built by another user than runs it).
fn ensure_root(what: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        is_root(),
        "cannot inject the fault: {what} and needs root (run the tests as root in a privileged environment; \
         outside CI=true a build without root ignores this test)"
    );
    Ok(())
}

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .ok()
        .is_some_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}
