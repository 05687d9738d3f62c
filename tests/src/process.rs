//! Finding and running the real binaries, isolated from the user's home.

use super::*;

/// The directory holding the workspace's binaries (`target/debug`): the
/// parent of the `deps` directory this test executable lives in.
pub fn bin_dir() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let deps = exe.parent().context("test executable without a directory")?;
    let dir = if deps.file_name().is_some_and(|n| n == "deps") { deps.parent().unwrap_or(deps) } else { deps };
    Ok(dir.to_path_buf())
}

/// The workspace root (the folder holding the top-level Cargo.toml).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."))
}

/// Newest modification time of the files under `paths` (recursively).
pub(crate) fn newest_mtime(paths: &[PathBuf]) -> Option<std::time::SystemTime> {
    let mut newest = None;
    let mut stack: Vec<PathBuf> = paths.to_vec();
    while let Some(p) = stack.pop() {
        let Ok(meta) = std::fs::metadata(&p) else { continue };
        if meta.is_dir() {
            if let Ok(entries) = std::fs::read_dir(&p) {
                stack.extend(entries.filter_map(|e| e.ok().map(|e| e.path())));
            }
        } else if let Ok(m) = meta.modified() {
            newest = Some(newest.map_or(m, |n: std::time::SystemTime| n.max(m)));
        }
    }
    newest
}

/// Returns the path of binary `bin` of workspace package `package`, first
/// running `cargo build -p PACKAGE --bin BIN` (once per test process) unless
/// the binary is newer than every source it is built from, so a stale
/// binary is never tested and an up-to-date one costs no cargo lock wait.
pub fn binary(package: &'static str, bin: &'static str) -> anyhow::Result<PathBuf> {
    static SERVER: OnceLock<Result<(), String>> = OnceLock::new();
    static CLIENT: OnceLock<Result<(), String>> = OnceLock::new();
    let path = bin_dir()?.join(format!("{bin}{}", std::env::consts::EXE_SUFFIX));
    let cell = if package == "trustroom-server" { &SERVER } else { &CLIENT };
    let built = cell.get_or_init(|| {
        let root = workspace_root();
        let mut sources: Vec<PathBuf> =
            ["Cargo.toml", "Cargo.lock", "shared", "server", "migrations"].iter().map(|p| root.join(p)).collect();
        if package != "trustroom-server" {
            sources.push(root.join("client"));
        }
        let bin_time = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
        if let (Some(bin_time), Some(src_time)) = (bin_time, newest_mtime(&sources))
            && bin_time >= src_time
        {
            return Ok(());
        }
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = std::process::Command::new(cargo);
        cmd.args(["build", "--quiet", "-p", package, "--bin", bin]);
        // Build with the profile this test executable was built with.
        let profile = path.parent().and_then(Path::file_name).and_then(|n| n.to_str()).unwrap_or("debug");
        if profile != "debug" {
            cmd.args(["--profile", profile]);
        }
        let out = cmd.current_dir(&root).output().map_err(|e| format!("cannot run cargo: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!("cargo build -p {package} failed:\n{}", String::from_utf8_lossy(&out.stderr)))
        }
    });
    if let Err(e) = built {
        return Err(anyhow!("{e}"));
    }
    anyhow::ensure!(path.exists(), "{} does not exist after cargo build", path.display());
    Ok(path)
}

/// `trustroom-server`, built if needed.
pub fn server_bin() -> anyhow::Result<PathBuf> {
    binary("trustroom-server", "trustroom-server")
}

/// `trustroom` (the client), built if needed.
pub fn client_bin() -> anyhow::Result<PathBuf> {
    binary("trustroom", "trustroom")
}

/// What a finished process printed.
#[derive(Debug, Clone)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

/// Runs a command to completion (bounded by [`T`] × 3), with an isolated
/// environment: no inherited `TRUSTROOM_*` variables, `HOME` and XDG dirs
/// under `home`.
pub async fn run_process(program: &Path, args: &[&str], home: &Path, env: &[(&str, &str)]) -> anyhow::Result<Run> {
    let mut cmd = isolated_command(program, home);
    cmd.args(args).envs(env.iter().copied()).stdin(std::process::Stdio::null()).kill_on_drop(true);
    let out = tokio::time::timeout(T * 3, cmd.output())
        .await
        .with_context(|| format!("{} {args:?} did not finish", program.display()))?
        .with_context(|| format!("running {}", program.display()))?;
    Ok(Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// A `tokio::process::Command` without inherited Trustroom settings.
pub fn isolated_command(program: &Path, home: &Path) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(program);
    for (k, _) in std::env::vars() {
        if k.starts_with("TRUSTROOM_") || k == "RUST_LOG" {
            cmd.env_remove(k);
        }
    }
    cmd.env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("NO_COLOR", "1");
    cmd
}

/// A port that was free a moment ago (bind 127.0.0.1:0, read it, drop).
pub fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}
