//! Decides at build time whether the tests that need something of the
//! machine run, are ignored, or fail: a test that cannot run must never
//! count as passed.
//!
//! - `cfg(pg_url)`: `TRUSTROOM_TEST_PG_URL` is set (not empty), so the
//!   PostgreSQL and multi-node tests run against it.
//! - `cfg(root)`: the build runs as root (effective uid 0 in
//!   `/proc/self/status`) with the capability to mount (`CAP_SYS_ADMIN` in
//!   `CapEff`: an unprivileged container's root has not), so the storage
//!   fault tests that mount a tmpfs or an ext4 image run.
//! - `cfg(ci)`: `CI` is set (and not empty, `false` or `0`), so a test that
//!   needs either is not ignored when it is missing: it runs and fails,
//!   saying what is missing.
//!
//! A test that needs PostgreSQL carries
//! `#[cfg_attr(not(any(pg_url, ci)), ignore = "needs TRUSTROOM_TEST_PG_URL (PostgreSQL)")]`
//! and gets its database from `trustroom_e2e::PgTestDb::create` (or the URL
//! from `trustroom_e2e::pg_url`), which fails when the URL is not set; one
//! that injects faults as root carries
//! `#[cfg_attr(not(any(root, ci)), ignore = "needs root …")]` and fails
//! with a message when it cannot inject them. Cargo rebuilds the tests when
//! the variables change, and when `sudo` or another user runs it (`USER`,
//! `SUDO_UID`).

/// Bit of `CAP_SYS_ADMIN` in the capability sets (linux/capability.h).
const CAP_SYS_ADMIN: u32 = 21;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(pg_url)");
    println!("cargo::rustc-check-cfg=cfg(root)");
    println!("cargo::rustc-check-cfg=cfg(ci)");
    println!("cargo::rerun-if-env-changed=TRUSTROOM_TEST_PG_URL");
    println!("cargo::rerun-if-env-changed=CI");
    println!("cargo::rerun-if-env-changed=USER");
    println!("cargo::rerun-if-env-changed=SUDO_UID");
    println!("cargo::rerun-if-changed=build.rs");
    if std::env::var("TRUSTROOM_TEST_PG_URL").is_ok_and(|url| !url.trim().is_empty()) {
        println!("cargo::rustc-cfg=pg_url");
    }
    if std::fs::read_to_string("/proc/self/status").is_ok_and(|status| may_mount_as_root(&status)) {
        println!("cargo::rustc-cfg=root");
    }
    if std::env::var("CI").is_ok_and(|ci| !matches!(ci.trim(), "" | "false" | "0")) {
        println!("cargo::rustc-cfg=ci");
    }
}

/// Whether `/proc/self/status` shows effective uid 0 (the second number of
/// `Uid:`) and `CAP_SYS_ADMIN` among the effective capabilities.
fn may_mount_as_root(status: &str) -> bool {
    let field = |name: &str| status.lines().find_map(|l| l.strip_prefix(name)).map(str::trim);
    let euid_is_0 = field("Uid:").and_then(|ids| ids.split_whitespace().nth(1)) == Some("0");
    let cap_eff = field("CapEff:").and_then(|hex| u64::from_str_radix(hex, 16).ok()).unwrap_or(0);
    euid_is_0 && cap_eff & (1 << CAP_SYS_ADMIN) != 0
}
