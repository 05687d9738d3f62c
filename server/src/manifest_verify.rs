//! `trustroom-server manifest verify`: checks a release bundle offline.

use std::io::Write;

use anyhow::Context;

/// `manifest verify`: prints each check and the verdict; exits 1 unless verified.
pub fn verify(bundle: &std::path::Path, public_key: &str, json: bool) -> anyhow::Result<()> {
    let bytes = if bundle.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)?;
        buf
    } else {
        std::fs::read(bundle).with_context(|| format!("reading {}", bundle.display()))?
    };
    let v = match String::from_utf8(bytes) {
        Ok(text) => trustroom_shared::manifest::verify_bundle(&text, public_key),
        Err(_) => trustroom_shared::manifest::Verification {
            verified: false,
            checks: vec![trustroom_shared::manifest::Check {
                name: "utf-8".into(),
                ok: false,
                detail: "the bundle is not UTF-8 text".into(),
            }],
            summary: "NOT VERIFIED — utf-8: the bundle is not UTF-8 text".into(),
        },
    };
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
    } else {
        for c in &v.checks {
            writeln!(out, "{} {}: {}", if c.ok { "ok  " } else { "FAIL" }, c.name, c.detail)?;
        }
        writeln!(out, "{}", v.summary)?;
    }
    out.flush()?;
    if !v.verified {
        std::process::exit(1);
    }
    Ok(())
}
