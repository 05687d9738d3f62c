//! Decides at build time whether the PostgreSQL tests run, are ignored, or
//! fail: a test that cannot run must never count as passed.
//!
//! - `cfg(pg_url)`: `TRUSTROOM_TEST_PG_URL` is set (not empty), so the
//!   PostgreSQL and multi-node tests run against it.
//! - `cfg(ci)`: `CI` is set (and not empty, `false` or `0`), so a test that
//!   needs PostgreSQL is not ignored when the URL is missing: it runs and
//!   fails, saying what is missing.
//!
//! A test that needs PostgreSQL carries
//! `#[cfg_attr(not(any(pg_url, ci)), ignore = "needs TRUSTROOM_TEST_PG_URL (PostgreSQL)")]`
//! and gets its database from `trustroom_e2e::PgTestDb::create` (or the URL
//! from `trustroom_e2e::pg_url`), which fails when the URL is not set.
//! Cargo rebuilds the tests when either variable changes.

fn main() {
    println!("cargo:rustc-check-cfg=cfg(pg_url)");
    println!("cargo:rustc-check-cfg=cfg(ci)");
    println!("cargo:rerun-if-env-changed=TRUSTROOM_TEST_PG_URL");
    println!("cargo:rerun-if-env-changed=CI");
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("TRUSTROOM_TEST_PG_URL").is_ok_and(|url| !url.trim().is_empty()) {
        println!("cargo:rustc-cfg=pg_url");
    }
    if std::env::var("CI").is_ok_and(|ci| !matches!(ci.trim(), "" | "false" | "0")) {
        println!("cargo:rustc-cfg=ci");
    }
}
