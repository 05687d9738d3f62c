//! Crash consistency with the real server binary: editors edit one section
//! (SectionSync, unique marker per op), raise objections and reply, while
//! the server is SIGKILLed at random moments (some right after a burst of
//! pipelined requests, so group commits are in progress) and restarted on
//! the same database. Then a SIGTERM: graceful shutdown tells every client
//! (`closing`) and loses nothing.
//!
//! Checked at the end: every operation any client saw acknowledged is in
//! the room exactly once (and nothing sent is there twice); revisions are
//! 1..=N with no duplicate (client, seq); the audit chains verify
//! (`trustroom-server audit verify`); every client converges on the state a
//! fresh client reads.
//!
//! The randomness is seeded: the seed is printed; set CRASH_SEED to replay.
// Test code: a failed expectation is the verdict (the lints bind product code).
#![allow(clippy::expect_used, clippy::panic)]

mod reliability;

use std::time::{Duration, Instant};

use reliability::{
    Editor, Mix, ServerProcess, add_section, audit_verify, check_contiguous, check_exactly_once, control, seeded_db,
};
use trustroom_e2e::{Rng, raw_pool};

const KILLS: usize = 30;
/// A small outbox makes longer catch-ups come as snapshots (over half the
/// outbox), so both resync paths run.
/// Small outboxes (stalled readers are cut sooner); the editors send as fast
/// as acknowledgements come back, which on a fast server is past the default
/// 100 requests/s per connection: this test is about crashes, the limit has
/// its own tests (`limits.rs`), so it is raised here as in `reconnect.rs`.
const SERVE_ARGS: &[&str] = &["--outbox-frames", "64", "--requests-per-second", "10000", "--request-burst", "10000"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_moments_loses_nothing_acknowledged() -> anyhow::Result<()> {
    let seed: u64 = std::env::var("CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64)
    });
    println!("crash seed {seed} (CRASH_SEED={seed} replays the same schedule)");
    let mut rng = Rng::new(seed);
    let started = Instant::now();

    let (dir, db_url, demo) = seeded_db().await?;
    let home = dir.path().join("home");
    let mut server = ServerProcess::start(&db_url, &home, SERVE_ARGS).await?;
    let room = demo.room;
    let owner = demo.member("owner").map(|m| m.token.clone()).ok_or_else(|| anyhow::anyhow!("no owner"))?;
    let section = add_section(&server.url, &owner, room, "Crash log").await?;

    let (ctl, steering) = control(&server.url);
    let deadline = Instant::now() + Duration::from_secs(55);
    let editors: Vec<(String, String)> = demo
        .members
        .iter()
        .filter(|m| m.role == "owner" || m.role.starts_with("reviewer"))
        .take(4)
        .map(|m| (m.name.clone(), m.token.clone()))
        .collect();
    anyhow::ensure!(editors.len() >= 3, "the demo seed has too few editors");
    let mut tasks = Vec::new();
    for (i, (name, token)) in editors.iter().enumerate() {
        let mix = Mix { object: 15, reply: 15, away: 30 };
        let editor = Editor::new(name, token, room, section, mix, seed ^ (i as u64 + 1));
        tasks.push(tokio::spawn(editor.run(ctl.clone(), deadline)));
    }

    // SIGKILL at random moments; every third one right after a burst.
    let mut kills = 0;
    let mut bursts = 0;
    let mut slowest_restart = Duration::ZERO;
    for cycle in 0..KILLS {
        let run_for = Duration::from_millis(100 + rng.below(400) as u64);
        tokio::time::sleep(run_for).await;
        if cycle % 3 == 1 {
            bursts += 1;
            steering.burst.send_modify(|b| *b += 1);
            // A few ms: the burst is on the wire and being committed.
            tokio::time::sleep(Duration::from_millis(rng.below(6) as u64)).await;
        }
        let down = Instant::now();
        server.kill().await?;
        kills += 1;
        server = ServerProcess::start(&db_url, &home, SERVE_ARGS).await?;
        slowest_restart = slowest_restart.max(down.elapsed());
        steering.url.send_replace(server.url.clone());
    }
    println!(
        "{kills} SIGKILLs ({bursts} right after a burst) in {:.1} s; slowest kill+restart {:.0} ms",
        started.elapsed().as_secs_f64(),
        slowest_restart.as_secs_f64() * 1000.0
    );

    // SIGTERM: every connected client is told, and nothing is lost.
    anyhow::ensure!(steering.all_joined(editors.len(), Duration::from_secs(10)).await, "editors did not reconnect");
    // Work goes on for a random moment (the workload, not a wait for anything).
    tokio::time::sleep(Duration::from_millis(100 + rng.below(200) as u64)).await;
    let (code, took) = server.terminate().await?;
    println!("SIGTERM: exit code {code:?} after {:.0} ms", took.as_secs_f64() * 1000.0);
    anyhow::ensure!(code == Some(0), "graceful shutdown exited with {code:?}");
    // Every client reads what was sent before the close (its connection
    // ends only after the `closing` frame and the last events).
    anyhow::ensure!(steering.none_joined(Duration::from_secs(10)).await, "editors did not see the server close");
    server = ServerProcess::start(&db_url, &home, SERVE_ARGS).await?;
    steering.url.send_replace(server.url.clone());
    anyhow::ensure!(
        steering.all_joined(editors.len(), Duration::from_secs(10)).await,
        "editors did not reconnect after the graceful restart"
    );

    // Stop producing; everyone finishes what is outstanding and catches up.
    let (reports, final_state) = steering.finish(tasks, &owner, room).await?;
    let errors: Vec<&String> = reports.iter().flat_map(|r| &r.errors).collect();
    anyhow::ensure!(errors.is_empty(), "editors hit errors: {errors:#?}\nserver log:\n{}", server.log_tail());

    let (edits, objections, replies) = check_exactly_once(&final_state, section, &reports)?;
    for r in &reports {
        let state = r.state.as_ref().ok_or_else(|| anyhow::anyhow!("{} has no state", r.name))?;
        anyhow::ensure!(
            state.revision == final_state.revision,
            "{} ended at {} not {}",
            r.name,
            state.revision,
            final_state.revision
        );
        anyhow::ensure!(*state == final_state, "{} did not converge", r.name);
        anyhow::ensure!(
            r.text == final_state.section(section).map(|s| s.body.clone()).unwrap_or_default(),
            "{}'s text differs",
            r.name
        );
        println!(
            "{}: connects {} resent {} duplicates {} snapshots {} closings {:?}",
            r.name,
            r.connects,
            r.resent,
            r.duplicates,
            r.snapshots,
            r.closings.iter().map(|c| c.split(':').next().unwrap_or("")).collect::<Vec<_>>()
        );
    }
    // Every client connected during the SIGTERM was told.
    for r in &reports {
        anyhow::ensure!(
            r.closings.iter().any(|c| c.contains("shutting down")),
            "{} never received a `closing` from the graceful shutdown: {:?}",
            r.name,
            r.closings
        );
    }
    server.terminate().await?;

    let pool = raw_pool(&reliability::db_path(&db_url)).await?;
    let revisions = check_contiguous(&pool, room).await?;
    anyhow::ensure!(
        revisions == final_state.revision,
        "stored {revisions} revisions, state at {}",
        final_state.revision
    );
    let room_chain = audit_verify(&db_url, &home, &room.to_string()).await?;
    let server_chain = audit_verify(&db_url, &home, "server").await?;
    let refusals: Vec<(String, String)> =
        sqlx::query_as("SELECT actor, detail FROM audit WHERE chain = 'server' ORDER BY seq LIMIT 5")
            .fetch_all(&pool)
            .await?;
    for (actor, detail) in &refusals {
        println!("server chain: {actor} {detail}");
    }
    // Dropped and killed connections are disconnects, not audited refusals.
    anyhow::ensure!(refusals.is_empty(), "lost connections were audited as refusals");
    println!(
        "acknowledged and present exactly once: {edits} edits, {objections} objections, {replies} replies; \
         {revisions} contiguous revisions; room chain {room_chain}; server chain {server_chain}; total {:.1} s",
        started.elapsed().as_secs_f64()
    );
    anyhow::ensure!(edits > 0 && objections > 0 && replies > 0, "the workload did too little");
    Ok(())
}
