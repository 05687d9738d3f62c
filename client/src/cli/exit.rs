//! Exit codes and error messages: the one place that maps failures
//! (server error codes, connection failures, local problems) to what the
//! process prints on stderr and the status it exits with.

use std::process::ExitCode;

use trustroom_shared::protocol::ErrorCode;

use crate::config::ConfigError;
use crate::session::{ConnectError, LocalError, RequestError};

/// The exit-code table, shown after `trustroom --help` and in docs/cli.md.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success
  1  other error (local I/O, unexpected answer, server `internal`)
  2  usage or configuration error (bad arguments, no URL or token, bad config file)
  3  cannot connect, or the connection was lost
  4  unauthenticated, unsupported_version
  5  not_found (also unknown or ambiguous room/section/objection/annex names)
  6  forbidden
  7  invalid, malformed, unknown_type, too_large, restricted
  8  stale, conflict, read_only
  9  rate_limited, probe_limited, unavailable, timeout, moved

Errors are printed on stderr as `error[CODE]: message`, CODE being the
server's stable error code (or `usage`, `cannot_connect`, `disconnected`, `io`).

Environment:
  TRUSTROOM_URL      server URL (like --url)
  TRUSTROOM_TOKEN    access token (like --token; preferred: flags show up in `ps`)
  TRUSTROOM_CONFIG   config file (like --config)
  TRUSTROOM_PROFILE  config profile (like --profile)
  TRUSTROOM_CA_FILE  CA certificates trusted for wss:// (like --ca-file)
  TRUSTROOM_TIMEOUT  seconds to wait for the server (like --timeout)
  RUST_LOG           log filter for stderr logging (like -v)";

/// A command-line usage problem found after parsing (exit 2).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// What kind of failure an error is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The server (or the client, in the server's vocabulary) refused.
    Code(ErrorCode),
    Usage,
    CannotConnect,
    Disconnected,
    /// Stdout was closed (`trustroom watch … | head`): not an error.
    BrokenPipe,
    Io,
    Other,
}

impl Failure {
    /// The process exit status.
    pub fn exit_status(self) -> u8 {
        match self {
            Failure::Code(code) => code_exit_status(code),
            Failure::Usage => 2,
            Failure::CannotConnect | Failure::Disconnected => 3,
            Failure::BrokenPipe => 0,
            Failure::Io | Failure::Other => 1,
        }
    }

    /// The word between the brackets of `error[…]`.
    pub fn label(self) -> &'static str {
        match self {
            Failure::Code(code) => code.as_str(),
            Failure::Usage => "usage",
            Failure::CannotConnect => "cannot_connect",
            Failure::Disconnected => "disconnected",
            Failure::BrokenPipe => "broken_pipe",
            Failure::Io => "io",
            Failure::Other => "error",
        }
    }
}

/// Exit status for a server error code.
pub fn code_exit_status(code: ErrorCode) -> u8 {
    use ErrorCode::*;
    match code {
        Internal => 1,
        Unauthenticated | UnsupportedVersion => 4,
        NotFound => 5,
        Forbidden => 6,
        Invalid | Malformed | UnknownType | TooLarge | Restricted => 7,
        Stale | Conflict | ReadOnly => 8,
        RateLimited | ProbeLimited | Unavailable | Timeout | Moved => 9,
    }
}

/// Classifies an error by the first recognised cause in its chain.
pub fn classify(err: &anyhow::Error) -> Failure {
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<RequestError>() {
            return e.code().map_or(Failure::Disconnected, Failure::Code);
        }
        if let Some(e) = cause.downcast_ref::<ConnectError>() {
            return match e {
                ConnectError::Refused { code, .. } => Failure::Code(*code),
                ConnectError::Socket { .. } | ConnectError::Untrusted { .. } => Failure::CannotConnect,
                // An unusable CA file is a configuration error.
                ConnectError::Trust(_) => Failure::Usage,
                ConnectError::Closed => Failure::Disconnected,
                ConnectError::Unexpected(_) => Failure::Other,
            };
        }
        if let Some(e) = cause.downcast_ref::<LocalError>() {
            return Failure::Code(e.code);
        }
        if cause.downcast_ref::<UsageError>().is_some() || cause.downcast_ref::<ConfigError>().is_some() {
            return Failure::Usage;
        }
        if let Some(e) = cause.downcast_ref::<std::io::Error>() {
            return if e.kind() == std::io::ErrorKind::BrokenPipe { Failure::BrokenPipe } else { Failure::Io };
        }
    }
    Failure::Other
}

/// The message without a repeated `error[code]:` prefix: the server's own
/// message for server errors, each layer of context joined with `: `.
pub fn message(err: &anyhow::Error) -> String {
    let parts: Vec<String> = err
        .chain()
        .map(|cause| {
            if let Some(RequestError::Server { message, .. }) = cause.downcast_ref::<RequestError>() {
                message.clone()
            } else if let Some(ConnectError::Refused { message, .. }) = cause.downcast_ref::<ConnectError>() {
                message.clone()
            } else {
                cause.to_string()
            }
        })
        .collect();
    // A source already quoted by its wrapper's message adds nothing.
    let mut out: Vec<String> = Vec::new();
    for p in parts {
        if out.last().is_some_and(|prev| prev.ends_with(&p)) {
            continue;
        }
        out.push(p);
    }
    out.join(": ")
}

/// Prints the error as `error[code]: message` and returns the exit status.
pub fn report(err: &anyhow::Error) -> ExitCode {
    let failure = classify(err);
    if failure != Failure::BrokenPipe {
        eprintln!("error[{}]: {}", failure.label(), message(err));
    }
    ExitCode::from(failure.exit_status())
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    fn server(code: ErrorCode) -> anyhow::Error {
        anyhow::Error::new(RequestError::Server { code, message: "no such room".into() })
    }

    #[test]
    fn every_server_code_has_its_documented_status() {
        let table = [
            (ErrorCode::Internal, 1),
            (ErrorCode::Unauthenticated, 4),
            (ErrorCode::UnsupportedVersion, 4),
            (ErrorCode::NotFound, 5),
            (ErrorCode::Forbidden, 6),
            (ErrorCode::Invalid, 7),
            (ErrorCode::Malformed, 7),
            (ErrorCode::UnknownType, 7),
            (ErrorCode::TooLarge, 7),
            (ErrorCode::Stale, 8),
            (ErrorCode::Conflict, 8),
            (ErrorCode::ReadOnly, 8),
            (ErrorCode::RateLimited, 9),
            (ErrorCode::Unavailable, 9),
            (ErrorCode::Timeout, 9),
        ];
        for (code, status) in table {
            assert_eq!(classify(&server(code)).exit_status(), status, "{code}");
            assert!(EXIT_CODES_HELP.contains(code.as_str()), "{code} missing from the help text");
        }
    }

    #[test]
    fn connection_failures_exit_3() {
        let e = anyhow::Error::new(RequestError::Disconnected);
        assert_eq!(classify(&e), Failure::Disconnected);
        assert_eq!(classify(&e).exit_status(), 3);
        let e = anyhow::Error::new(ConnectError::Closed);
        assert_eq!(classify(&e).exit_status(), 3);
        let e = anyhow::Error::new(ConnectError::Refused { code: ErrorCode::Unauthenticated, message: "bad".into() });
        assert_eq!(classify(&e).exit_status(), 4);
    }

    #[test]
    fn local_usage_and_io_errors() {
        let e = anyhow::Error::new(LocalError::not_found("no section titled \"X\""));
        assert_eq!(classify(&e), Failure::Code(ErrorCode::NotFound));
        assert_eq!(classify(&e).exit_status(), 5);
        let e = anyhow::Error::new(UsageError("--rationale is required".into()));
        assert_eq!(classify(&e).exit_status(), 2);
        let e = anyhow::Error::new(ConfigError::MissingUrl { path: "x".into() });
        assert_eq!(classify(&e).exit_status(), 2);
        let e = anyhow::Error::new(std::io::Error::new(std::io::ErrorKind::BrokenPipe, "pipe"));
        assert_eq!(classify(&e).exit_status(), 0);
        let e = anyhow::Error::new(std::io::Error::other("disk")).context("reading body.md");
        assert_eq!(classify(&e), Failure::Io);
        assert_eq!(classify(&anyhow::anyhow!("what")).exit_status(), 1);
    }

    #[test]
    fn context_does_not_hide_the_code_and_messages_are_not_doubled() {
        let e = Err::<(), _>(server(ErrorCode::Forbidden)).context("holding the room").expect_err("is an error");
        assert_eq!(classify(&e), Failure::Code(ErrorCode::Forbidden));
        assert_eq!(message(&e), "holding the room: no such room");
        assert_eq!(classify(&e).label(), "forbidden");
    }
}
