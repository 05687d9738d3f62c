//! `trustroom-server manifest verify`: checks a release bundle offline and,
//! with `--status`, whether the release still stands.
//!
//! Exit codes: 0 verified (and, with a status document, current); 1 the
//! bundle does not verify; 3 superseded; 4 withdrawn; 5 the status
//! document does not verify or is of another release.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use trustroom_shared::manifest::{Check, Verification};
use trustroom_shared::release_status::{StatusVerdict, bundle_manifest_hash, verify_status};

/// Exit code: the release was superseded.
pub const EXIT_SUPERSEDED: i32 = 3;
/// Exit code: the release was withdrawn.
pub const EXIT_WITHDRAWN: i32 = 4;
/// Exit code: the status document does not verify (or names another release).
pub const EXIT_STATUS_INVALID: i32 = 5;

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    if path.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)?;
        return Ok(buf);
    }
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

fn not_utf8(what: &str) -> Verification {
    let detail = format!("the {what} is not UTF-8 text");
    Verification {
        verified: false,
        checks: vec![Check { name: "utf-8".into(), ok: false, detail: detail.clone() }],
        summary: format!("NOT VERIFIED — utf-8: {detail}"),
    }
}

fn print(out: &mut impl Write, v: &Verification) -> std::io::Result<()> {
    for c in &v.checks {
        writeln!(out, "{} {}: {}", if c.ok { "ok  " } else { "FAIL" }, c.name, c.detail)?;
    }
    writeln!(out, "{}", v.summary)
}

/// `manifest verify`: prints each check and the verdict; exits 1 unless
/// verified, and with `status` 3, 4 or 5 as the module says.
pub fn verify(bundle: &Path, public_key: &str, status: Option<&Path>, json: bool) -> anyhow::Result<()> {
    let text = String::from_utf8(read(bundle)?).ok();
    let v = match &text {
        Some(text) => trustroom_shared::manifest::verify_bundle(text, public_key),
        None => not_utf8("bundle"),
    };
    // The status is only looked at for a bundle that verifies.
    let status_result = match (status, v.verified, &text) {
        (Some(path), true, Some(text)) => {
            let hash = bundle_manifest_hash(text).unwrap_or_default();
            Some(match read(path).map(String::from_utf8) {
                Ok(Ok(doc)) => verify_status(&doc, public_key, &hash),
                Ok(Err(_)) => (StatusVerdict::Invalid, not_utf8("status document")),
                Err(e) => {
                    let detail = format!("{e:#}");
                    let v = Verification {
                        verified: false,
                        checks: vec![Check { name: "status file".into(), ok: false, detail: detail.clone() }],
                        summary: format!("STATUS NOT VERIFIED — status file: {detail}"),
                    };
                    (StatusVerdict::Invalid, v)
                }
            })
        }
        _ => None,
    };
    let mut out = std::io::stdout().lock();
    if json {
        let value = match &status_result {
            None => serde_json::to_value(&v)?,
            Some((verdict, sv)) => serde_json::json!({
                "bundle": v,
                "status": sv,
                "state": match verdict {
                    StatusVerdict::Current => "current",
                    StatusVerdict::Superseded => "superseded",
                    StatusVerdict::Withdrawn => "withdrawn",
                    StatusVerdict::Invalid => "invalid",
                },
            }),
        };
        writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
    } else {
        print(&mut out, &v)?;
        if let Some((_, sv)) = &status_result {
            print(&mut out, sv)?;
        }
    }
    out.flush()?;
    if !v.verified {
        std::process::exit(1);
    }
    match status_result.map(|(verdict, _)| verdict) {
        None | Some(StatusVerdict::Current) => Ok(()),
        Some(StatusVerdict::Superseded) => std::process::exit(EXIT_SUPERSEDED),
        Some(StatusVerdict::Withdrawn) => std::process::exit(EXIT_WITHDRAWN),
        Some(StatusVerdict::Invalid) => std::process::exit(EXIT_STATUS_INVALID),
    }
}
