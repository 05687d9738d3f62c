//! Stable-toolchain fallback for the cargo-fuzz targets in `fuzz/`: replays
//! every committed corpus file and every crash regression through the same
//! target functions (`fuzz/src/lib.rs`, included here as a module), so CI
//! exercises them without nightly or libFuzzer. Also runs a short deterministic random
//! search per target (seeded, printed) on top of the corpus.
// Test code: a failed expectation is the verdict (the lints bind product code).
#![allow(clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

#[path = "../../fuzz/src/lib.rs"]
mod targets;

use targets::TARGETS;

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("fuzz").join("corpus").join(target)
}

fn regressions_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("fuzz").join("regressions").join(target)
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut out: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_file()).collect();
    out.sort();
    out
}

#[test]
fn replay_committed_corpus_and_regressions() {
    let mut total = 0;
    for (name, target) in TARGETS {
        let mut n = 0;
        for path in files(&corpus_dir(name)).into_iter().chain(files(&regressions_dir(name))) {
            let data = match std::fs::read(&path) {
                Ok(d) => d,
                // A fuzzer running beside the test may have just reduced it.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => panic!("reading {}: {e}", path.display()),
            };
            let outcome = std::panic::catch_unwind(|| target(&data));
            assert!(outcome.is_ok(), "fuzz target {name} panics on {}", path.display());
            n += 1;
        }
        assert!(n > 0, "no corpus for fuzz target {name} in {}", corpus_dir(name).display());
        println!("{name}: {n} inputs replayed");
        total += n;
    }
    println!("{total} inputs replayed");
}

#[test]
fn seeded_random_inputs() {
    let seed: u64 = std::env::var("FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x7275_7374_726f_6f6d);
    println!("seed {seed} (set FUZZ_SEED to reproduce another run)");
    let mut state = seed;
    let mut next = || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    for (name, target) in TARGETS {
        // Mutate corpus entries (byte flips, splices) and try fresh bytes.
        let corpus: Vec<Vec<u8>> = files(&corpus_dir(name)).iter().filter_map(|p| std::fs::read(p).ok()).collect();
        for i in 0..3_000u64 {
            let mut data = if corpus.is_empty() || i % 4 == 0 {
                (0..(next() % 96)).map(|_| next() as u8).collect::<Vec<u8>>()
            } else {
                corpus[(next() % corpus.len() as u64) as usize].clone()
            };
            for _ in 0..(next() % 4) {
                if data.is_empty() {
                    break;
                }
                let at = (next() % data.len() as u64) as usize;
                data[at] = next() as u8;
            }
            let outcome = std::panic::catch_unwind(|| target(&data));
            assert!(outcome.is_ok(), "fuzz target {name} panics on {data:?} (seed {seed}, iteration {i})");
        }
    }
}
