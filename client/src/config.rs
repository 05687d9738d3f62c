//! Client configuration: where the server is and who you are.
//!
//! Each setting is taken from the first layer that has it: command-line
//! flag, then environment variable, then the TOML config file (a selected
//! `[profiles.NAME]` table first, then the file's top-level keys). The file
//! lives in the platform config directory
//! (`ProjectDirs::from("dev", "trustroom", "trustroom")`), or wherever
//! `--config FILE` / `TRUSTROOM_CONFIG` points.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::session::Trust;

/// Environment variable naming the server URL.
pub const ENV_URL: &str = "TRUSTROOM_URL";
/// Environment variable holding the access token.
pub const ENV_TOKEN: &str = "TRUSTROOM_TOKEN";
/// Environment variable naming the config file.
pub const ENV_CONFIG: &str = "TRUSTROOM_CONFIG";
/// Environment variable selecting a profile of the config file.
pub const ENV_PROFILE: &str = "TRUSTROOM_PROFILE";
/// Environment variable naming a PEM file of CA certificates trusted for `wss://`.
pub const ENV_CA_FILE: &str = "TRUSTROOM_CA_FILE";

/// A commented example of the config file (`trustroom config example`).
pub const EXAMPLE: &str = r#"# Trustroom client configuration (TOML).
#
# Looked for at the path `trustroom config path` prints; choose another file
# with --config FILE or TRUSTROOM_CONFIG. Every key is optional. Command-line
# flags win over environment variables (TRUSTROOM_URL, TRUSTROOM_TOKEN),
# which win over this file.
#
# The token is a secret: keep this file readable only by you
# (chmod 600 on Unix).

# Websocket URL of the Trustroom server.
url = "ws://127.0.0.1:7420"

# Your access token, as printed by `trustroom-server user add NAME`.
token = "paste-your-token-here"

# For wss:// servers whose certificate is signed by your own CA: a PEM file
# of CA certificates trusted besides the usual web roots (like --ca-file or
# TRUSTROOM_CA_FILE).
# ca_file = "/etc/trustroom/team-ca.pem"

# Named profiles, selected with --profile NAME or TRUSTROOM_PROFILE.
# A profile's keys win over the top-level keys above.
[profiles.staging]
url = "ws://staging.example.internal:7420"
token = "another-token"

[profiles.agent]
# Only the token differs; the url comes from the top level.
token = "token-of-an-agent-member"
"#;

/// The config file's contents.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub token: Option<String>,
    #[serde(default)]
    pub ca_file: Option<String>,
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
}

/// One `[profiles.NAME]` table.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub token: Option<String>,
    #[serde(default)]
    pub ca_file: Option<String>,
}

/// Why the configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("config file {path} is not valid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("no profile {name:?} in {path} (profiles: {known})")]
    UnknownProfile { name: String, path: String, known: String },
    #[error(
        "no server URL: pass --url URL, set {ENV_URL}, or put `url = \"ws://…\"` in {path} \
         (see `trustroom config example`)"
    )]
    MissingUrl { path: String },
    #[error(
        "no access token: set {ENV_TOKEN}, pass --token TOKEN, or put `token = \"…\"` in {path} \
         (see `trustroom config example`)"
    )]
    MissingToken { path: String },
    #[error("server URL {url:?} is not a websocket URL (expected ws://HOST:PORT or wss://HOST:PORT)")]
    BadUrl { url: String },
}

/// Where a setting came from (shown by `trustroom config show`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Flag,
    Env,
    Profile,
    File,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Source::Flag => "command-line flag",
            Source::Env => "environment",
            Source::Profile => "config file profile",
            Source::File => "config file",
        })
    }
}

/// The settings one layer offers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Layer {
    pub url: Option<String>,
    pub token: Option<String>,
    pub ca_file: Option<String>,
}

impl Layer {
    /// The environment layer, read through `get` (so tests need no real environment).
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Layer {
        let non_empty = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        Layer { url: non_empty(ENV_URL), token: non_empty(ENV_TOKEN), ca_file: non_empty(ENV_CA_FILE) }
    }
}

/// Settings after layering, each with its source (`None` when no layer had it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Layered {
    pub url: Option<(String, Source)>,
    pub token: Option<(String, Source)>,
    pub ca_file: Option<(String, Source)>,
}

/// The connection settings a command needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectSettings {
    pub url: String,
    pub token: String,
    /// CA certificates trusted for `wss://` besides the web roots.
    pub ca_file: Option<PathBuf>,
}

impl ConnectSettings {
    /// What `wss://` trusts with these settings.
    pub fn trust(&self) -> Trust {
        Trust::with_ca_file(self.ca_file.clone())
    }
}

/// Layers flag over environment over file (profile over top level).
pub fn layer(flags: &Layer, env: &Layer, file: Option<&ConfigFile>, profile: Option<&Profile>) -> Layered {
    fn pick(
        flag: &Option<String>,
        env: &Option<String>,
        profile: Option<&Option<String>>,
        file: Option<&Option<String>>,
    ) -> Option<(String, Source)> {
        let candidates = [
            (flag.as_ref(), Source::Flag),
            (env.as_ref(), Source::Env),
            (profile.and_then(Option::as_ref), Source::Profile),
            (file.and_then(Option::as_ref), Source::File),
        ];
        candidates.into_iter().find_map(|(v, s)| v.filter(|v| !v.trim().is_empty()).map(|v| (v.clone(), s)))
    }
    Layered {
        url: pick(&flags.url, &env.url, profile.map(|p| &p.url), file.map(|f| &f.url)),
        token: pick(&flags.token, &env.token, profile.map(|p| &p.token), file.map(|f| &f.token)),
        ca_file: pick(&flags.ca_file, &env.ca_file, profile.map(|p| &p.ca_file), file.map(|f| &f.ca_file)),
    }
}

impl Layered {
    /// Both settings, or a message saying how to provide the missing one.
    pub fn require(&self, config_path: &str) -> Result<ConnectSettings, ConfigError> {
        let url = self.url.as_ref().map(|(u, _)| u.trim().to_string());
        let url = url.ok_or_else(|| ConfigError::MissingUrl { path: config_path.to_string() })?;
        check_url(&url)?;
        let token = self
            .token
            .as_ref()
            .map(|(t, _)| t.trim().to_string())
            .ok_or_else(|| ConfigError::MissingToken { path: config_path.to_string() })?;
        let ca_file = self.ca_file.as_ref().map(|(f, _)| PathBuf::from(f.trim()));
        Ok(ConnectSettings { url, token, ca_file })
    }
}

/// Accepts only `ws://` and `wss://` URLs with a host.
pub fn check_url(url: &str) -> Result<(), ConfigError> {
    match url::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "ws" | "wss") && u.host().is_some() => Ok(()),
        _ => Err(ConfigError::BadUrl { url: url.to_string() }),
    }
}

/// The platform's default config file path, if there is a home directory.
pub fn default_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("dev", "trustroom", "trustroom").map(|d| d.config_dir().join("config.toml"))
}

/// Which file to read and whether it must exist.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileChoice {
    pub path: Option<PathBuf>,
    /// True when the user named the file (a missing file is then an error).
    pub explicit: bool,
}

/// `--config` over `TRUSTROOM_CONFIG` over the platform default.
pub fn choose_file(flag: Option<&Path>, env: impl Fn(&str) -> Option<String>) -> FileChoice {
    if let Some(p) = flag {
        return FileChoice { path: Some(p.to_path_buf()), explicit: true };
    }
    if let Some(p) = env(ENV_CONFIG).filter(|p| !p.trim().is_empty()) {
        return FileChoice { path: Some(PathBuf::from(p)), explicit: true };
    }
    FileChoice { path: default_path(), explicit: false }
}

/// Parses config file text.
pub fn parse(text: &str, path: &Path) -> Result<ConfigFile, ConfigError> {
    toml::from_str(text).map_err(|e| ConfigError::Parse { path: path.to_path_buf(), message: e.to_string() })
}

/// Reads the chosen file: `Ok(None)` when a default file does not exist.
pub fn load(choice: &FileChoice) -> Result<Option<ConfigFile>, ConfigError> {
    let Some(path) = &choice.path else { return Ok(None) };
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&text, path).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !choice.explicit => Ok(None),
        Err(source) => Err(ConfigError::Read { path: path.clone(), source }),
    }
}

/// Looks up a profile by name.
pub fn profile<'a>(file: Option<&'a ConfigFile>, name: &str, path: &str) -> Result<&'a Profile, ConfigError> {
    let found = file.and_then(|f| f.profiles.get(name));
    found.ok_or_else(|| {
        let known: Vec<&str> = file.map(|f| f.profiles.keys().map(String::as_str).collect()).unwrap_or_default();
        ConfigError::UnknownProfile {
            name: name.to_string(),
            path: path.to_string(),
            known: if known.is_empty() { "none".into() } else { known.join(", ") },
        }
    })
}

/// A token shown without giving it away.
pub fn mask(token: &str) -> String {
    let n = token.chars().count();
    if n <= 8 {
        "*".repeat(n)
    } else {
        let head: String = token.chars().take(4).collect();
        format!("{head}…({n} chars)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Option<String> {
        Some(v.to_string())
    }

    fn file() -> ConfigFile {
        parse(
            r#"
url = "ws://file:1"
token = "file-token"
[profiles.p]
token = "profile-token"
"#,
            Path::new("c.toml"),
        )
        .expect("valid config")
    }

    #[test]
    fn flag_wins_over_env_over_file() {
        let f = file();
        let flags = Layer { url: s("ws://flag:1"), token: None, ca_file: None };
        let env = Layer { url: s("ws://env:1"), token: s("env-token"), ca_file: s("/env/ca.pem") };
        let l = layer(&flags, &env, Some(&f), None);
        assert_eq!(l.url, Some(("ws://flag:1".into(), Source::Flag)));
        assert_eq!(l.token, Some(("env-token".into(), Source::Env)));
        assert_eq!(l.ca_file, Some(("/env/ca.pem".into(), Source::Env)));

        let l = layer(&Layer::default(), &Layer::default(), Some(&f), None);
        assert_eq!(l.url, Some(("ws://file:1".into(), Source::File)));
        assert_eq!(l.token, Some(("file-token".into(), Source::File)));
    }

    #[test]
    fn profile_wins_over_file_top_level_but_not_env() {
        let f = file();
        let p = profile(Some(&f), "p", "c.toml").expect("profile p exists");
        let l = layer(&Layer::default(), &Layer::default(), Some(&f), Some(p));
        assert_eq!(l.token, Some(("profile-token".into(), Source::Profile)));
        assert_eq!(l.url, Some(("ws://file:1".into(), Source::File)));
        let env = Layer { url: None, token: s("env-token"), ca_file: None };
        let l = layer(&Layer::default(), &env, Some(&f), Some(p));
        assert_eq!(l.token, Some(("env-token".into(), Source::Env)));
    }

    #[test]
    fn unknown_profile_lists_known_ones() {
        let f = file();
        let err = profile(Some(&f), "nope", "c.toml").expect_err("no such profile");
        assert!(err.to_string().contains("profiles: p"), "{err}");
    }

    #[test]
    fn empty_values_count_as_missing() {
        let env = Layer::from_env(|k| if k == ENV_TOKEN { s("  ") } else { s("ws://e:1") });
        assert_eq!(env.token, None);
        assert_eq!(env.url, s("ws://e:1"));
        let l = layer(&Layer { url: s(""), token: None, ca_file: None }, &env, None, None);
        assert_eq!(l.url, Some(("ws://e:1".into(), Source::Env)));
        assert!(matches!(l.require("x"), Err(ConfigError::MissingToken { .. })));
    }

    #[test]
    fn require_checks_the_url_scheme() {
        let t = Some(("t".into(), Source::Flag));
        let l = Layered { url: Some(("http://h:1".into(), Source::Flag)), token: t.clone(), ca_file: None };
        assert!(matches!(l.require("x"), Err(ConfigError::BadUrl { .. })));
        let l = Layered { url: Some(("ws://h:1".into(), Source::Flag)), token: t, ca_file: None };
        let want = ConnectSettings { url: "ws://h:1".into(), token: "t".into(), ca_file: None };
        assert_eq!(l.require("x").expect("complete"), want);
        assert!(matches!(Layered::default().require("x"), Err(ConfigError::MissingUrl { .. })));
    }

    #[test]
    fn the_example_parses_and_unknown_keys_are_refused() {
        let ex = parse(EXAMPLE, Path::new("example")).expect("example is valid");
        assert_eq!(ex.profiles.len(), 2);
        let f =
            parse("ca_file = \"/etc/ca.pem\"\n[profiles.p]\nca_file = \"/p/ca.pem\"", Path::new("c")).expect("valid");
        let l = layer(&Layer::default(), &Layer::default(), Some(&f), f.profiles.get("p"));
        assert_eq!(l.ca_file, Some(("/p/ca.pem".into(), Source::Profile)));
        let l = layer(&Layer { ca_file: s("/flag/ca.pem"), ..Layer::default() }, &Layer::default(), Some(&f), None);
        assert_eq!(l.ca_file, Some(("/flag/ca.pem".into(), Source::Flag)));
        assert!(parse("tokn = \"x\"", Path::new("c")).is_err());
    }

    #[test]
    fn config_file_choice() {
        let c = choose_file(None, |_| s("/tmp/x.toml"));
        assert_eq!(c, FileChoice { path: Some("/tmp/x.toml".into()), explicit: true });
        let c = choose_file(Some(Path::new("/a.toml")), |_| s("/tmp/x.toml"));
        assert_eq!(c.path, Some(PathBuf::from("/a.toml")));
        let c = choose_file(None, |_| None);
        assert!(!c.explicit);
        let missing = FileChoice { path: Some("/nonexistent/trustroom.toml".into()), explicit: false };
        assert_eq!(load(&missing).expect("missing default is fine"), None);
        let missing = FileChoice { explicit: true, ..missing };
        assert!(load(&missing).is_err());
    }

    #[test]
    fn masking() {
        assert_eq!(mask("abc"), "***");
        assert_eq!(mask("abcdefghijkl"), "abcd…(12 chars)");
    }
}
