//! The command line: every command, option and its help text (clap derive).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use trustroom_shared::export::ExportFormat;
use trustroom_shared::objection::{ObjectionKind, ObjectionStatus};
use trustroom_shared::release::{Audience, Lane};
use trustroom_shared::role::Discipline;

use super::exit::EXIT_CODES_HELP;

/// Help heading of the options every command takes.
const GLOBAL: &str = "Global options";

/// Trustroom client: review a protected incident packet from scripts or the terminal UI.
#[derive(Debug, Parser)]
#[command(
    name = "trustroom",
    version,
    about = "Trustroom client: scriptable commands and the terminal UI",
    long_about = "Trustroom client: scriptable commands and the terminal UI.\n\n\
        Every command connects to the server, does its one thing and exits. ROOM is a \
        room id or exact room title (see `trustroom rooms`); SECTION a section id or exact \
        title; OBJECTION an id or `O-N`; ANNEX an id, code (`A1`) or exact title.\n\n\
        Settings: --url/--token flags win over TRUSTROOM_URL/TRUSTROOM_TOKEN, which win over \
        the config file (`trustroom config path`, `trustroom config example`).",
    after_help = EXIT_CODES_HELP,
    propagate_version = true
)]
pub struct Cli {
    /// Server websocket URL, e.g. ws://127.0.0.1:7420 [env: TRUSTROOM_URL]
    #[arg(long, global = true, value_name = "URL", help_heading = GLOBAL)]
    pub url: Option<String>,

    /// Access token [env: TRUSTROOM_TOKEN; prefer it: flags are visible in `ps`]
    #[arg(long, global = true, value_name = "TOKEN", help_heading = GLOBAL)]
    pub token: Option<String>,

    /// Config file to read instead of the platform default [env: TRUSTROOM_CONFIG]
    #[arg(long, global = true, value_name = "FILE", help_heading = GLOBAL)]
    pub config: Option<PathBuf>,

    /// Use the [profiles.NAME] table of the config file [env: TRUSTROOM_PROFILE]
    #[arg(long, global = true, value_name = "NAME", help_heading = GLOBAL)]
    pub profile: Option<String>,

    /// PEM file of CA certificates to trust for wss:// besides the web roots [env: TRUSTROOM_CA_FILE]
    #[arg(long, global = true, value_name = "FILE", help_heading = GLOBAL)]
    pub ca_file: Option<String>,

    /// Seconds to wait for the server to connect or answer
    #[arg(
        long,
        global = true,
        value_name = "SECS",
        env = "TRUSTROOM_TIMEOUT",
        hide_env_values = true,
        default_value_t = 30.0,
        help_heading = GLOBAL
    )]
    pub timeout: f64,

    /// Print machine-readable JSON instead of text
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub json: bool,

    /// Log to stderr (-v info, -vv debug, -vvv trace; RUST_LOG works too)
    #[arg(short, long, global = true, action = clap::ArgAction::Count, help_heading = GLOBAL)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

/// `trustroom release status|withdraw`.
#[derive(Debug, Subcommand)]
pub enum ReleaseAction {
    /// The signed status of each release: current, superseded (by which manifest, at which revision, why) or withdrawn
    #[command(after_help = "Each status is signed with the server key, like the manifest: `--out DIR` writes one \
        status document per release (`status-<manifest>.json`) to hand downstream, where \
        `trustroom-server manifest verify BUNDLE --status STATUS.json` checks it offline.")]
    Status {
        /// Room id or exact title
        room: String,
        /// Write each release's signed status document into this directory
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Withdraw a release (owner only): its status becomes `withdrawn`, with your reason
    Withdraw {
        /// Room id or exact title
        room: String,
        /// The release's manifest hash (as `manifests` and `release status` print it)
        manifest: String,
        /// Why it is withdrawn (downstream reads it)
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the rooms you are a member of: ID, your role, title
    Rooms,

    /// Show what you may see of a room: sections, statement labels, register, annex map, members
    #[command(after_help = "With --json, prints the snapshot the server sent (annex content is never in it).")]
    Show {
        /// Room id or exact title
        room: String,
    },

    /// Add or change packet sections
    #[command(subcommand)]
    Section(SectionCommand),

    /// Raise an objection on a section (the disagreement register)
    Object(ObjectArgs),

    /// Reply to an objection
    Reply {
        /// Room id or exact title
        room: String,
        /// Objection id or O-N
        objection: String,
        /// Reply text (`-` reads stdin)
        #[arg(allow_hyphen_values = true)]
        text: String,
    },

    /// Change objections
    #[command(subcommand)]
    Objection(ObjectionCommand),

    /// Restricted annexes
    #[command(subcommand)]
    Annex(AnnexCommand),

    /// A downstream lane's side (downstream members only): its releases, their bundles, intake decisions, findings
    #[command(subcommand)]
    Lane(LaneCommand),

    /// Hold the release, with a reason (owner only)
    Hold {
        /// Room id or exact title
        room: String,
        /// Why the packet is held
        #[arg(long)]
        reason: String,
    },

    /// Clear one open hold of the hold register, with a rationale (owner only)
    #[command(after_help = "HOLD is the hold's code as `trustroom holds` prints it (H-3, or 3). A hold a \
        room check placed (annex boundary, access validity) cannot be cleared while the check still fails: \
        fix what it found, or override the check, and the hold clears itself. The release-rules hold (the \
        packet changed after READY) is cleared by hand: clearing it says you reviewed the change. With no \
        hold left open the room is DRAFTING again.")]
    ClearHold {
        /// Room id or exact title
        room: String,
        /// The hold: H-3 (or 3)
        hold: String,
        /// Why the hold no longer applies
        #[arg(long)]
        rationale: String,
    },

    /// List the hold register: every hold, open and cleared, who placed and cleared it, when, why
    Holds {
        /// Room id or exact title
        room: String,
    },

    /// Mark the packet ready for release (owner only)
    Ready {
        /// Room id or exact title
        room: String,
    },

    /// Release the packet to a downstream review lane, for an audience (owner only); `release status`, `release withdraw`
    #[command(
        after_help = "The co-signatures the release policy requires must cover this lane and this \
        audience or a wider one (audiences, narrow to wide: lane-reviewers, lane-and-leads, organisation); \
        otherwise the answer is `error[conflict]` naming the lane and what is missing. Without \
        --packet-revision the room must be READY (`trustroom ready`). With --packet-revision N (the packet \
        revision you reviewed, as `show` and `readiness` print it) the server marks N ready and releases it in \
        one step, also from HELD; if the packet changed since N the answer is `error[stale]` naming what \
        changed, and a refusal changes nothing (holds stay open). The result names the room \
        revision of the release and the packet revision released. `release status ROOM` prints each \
        release's signed status (current, superseded, withdrawn); `release withdraw ROOM MANIFEST --reason R` \
        withdraws one (owner only).",
        args_conflicts_with_subcommands = true,
        subcommand_negates_reqs = true
    )]
    Release {
        #[command(subcommand)]
        action: Option<ReleaseAction>,
        /// Room id or exact title
        #[arg(required = true)]
        room: Option<String>,
        /// Downstream lane
        #[arg(long, value_enum, required = true)]
        lane: Option<LaneArg>,
        /// Who downstream may read it
        #[arg(long, value_enum, default_value = "lane-reviewers")]
        audience: AudienceArg,
        /// The packet revision you reviewed: mark it ready and release it in one step
        #[arg(long, value_name = "N")]
        packet_revision: Option<u64>,
    },

    /// Escalate: the room becomes read-only (owner only)
    Escalate {
        /// Room id or exact title
        room: String,
        /// Why the room is escalated
        #[arg(long)]
        reason: String,
    },

    /// Show the readiness record: owners, blockers, co-signatures, accepted residual disagreement, held annexes, lanes
    #[command(after_help = "The server's record (the `readiness` request): it includes the annex-boundary \
        checks, which need the annexes' sensitive patterns that never leave the server. The release line \
        says `RELEASED rev N — superseded at rev M` once a release is stale.")]
    Readiness {
        /// Room id or exact title
        room: String,
    },

    /// Show or set the release policy: the co-signatures a release needs besides the owner's
    #[command(after_help = "Without options, prints the policy. With --require-member/--require-discipline \
        (repeatable) or --clear, replaces it (owner only). Agents and owners cannot be required.")]
    Policy {
        /// Room id or exact title
        room: String,
        /// A member (name or user id) who must co-sign (repeatable)
        #[arg(long = "require-member", value_name = "NAME")]
        require_member: Vec<String>,
        /// A reviewer discipline of which one member must co-sign (repeatable)
        #[arg(long = "require-discipline", value_name = "D")]
        require_discipline: Vec<Discipline>,
        /// Require no co-signatures
        #[arg(long, conflicts_with_all = ["require_member", "require_discipline"])]
        clear: bool,
    },

    /// Co-sign the room's current content hash for one lane and audience (reviewers and members the policy names; never agents)
    #[command(after_help = "Signs the content hash of the snapshot read on join, for a release to LANE \
        readable by AUDIENCE or a narrower one; if the room changes before the server gets it, the answer \
        is `error[stale]`. One co-signature per lane: signing the same lane again replaces it, another \
        lane is kept beside it. Any later content change voids them all: `readiness` then lists you \
        under \"must sign again\".")]
    Cosign {
        /// Room id or exact title
        room: String,
        /// The downstream lane you approve the release to
        #[arg(long, value_enum)]
        lane: LaneArg,
        /// The widest audience you approve (releases to it or a narrower one)
        #[arg(long, value_enum, default_value = "lane-reviewers")]
        audience: AudienceArg,
        /// Sign only if the content hash is this one (what you reviewed)
        #[arg(long, value_name = "HASH")]
        hash: Option<String>,
    },

    /// Export the room's bundle: packet, register with threads, annex map (references only), readiness, manifest
    #[command(after_help = "Deterministic: the same room state gives the same bytes. Restricted detail and \
        annex references appear as `[redacted: annex CODE · classification]`; every export is audited. \
        A JSON bundle of a released revision verifies with `trustroom-server manifest verify`.")]
    Export {
        /// Room id or exact title
        room: String,
        /// Room revision to export (default: the newest)
        #[arg(long, value_name = "N")]
        revision: Option<u64>,
        /// json (verifiable) or markdown (for people)
        #[arg(long, default_value = "json", value_name = "json|markdown")]
        format: ExportFormat,
        /// Write to this file instead of stdout
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },

    /// List the room's releases (manifest history), oldest first
    Manifests {
        /// Room id or exact title
        room: String,
    },

    /// Propose a section's new text as a suggestion (agents, reviewers, owners; a human accepts or rejects)
    #[command(after_help = "The operation is computed from the section's text at the revision read on join \
        to the file's text; the server rebases it as the section changes. Out-of-bounds flags (the room's \
        boundary rules) are printed and stored with the suggestion.")]
    Suggest(super::suggest::SuggestArgs),

    /// List the room's open suggestions (with --all, decided ones too)
    Suggestions(super::suggest::SuggestionsArgs),

    /// Accept a suggestion: applied as a normal change by you, naming its proposer (owners, allowed reviewers)
    Accept(super::suggest::AcceptArgs),

    /// Reject a suggestion with a reason (owners, allowed reviewers)
    Reject(super::suggest::RejectArgs),

    /// The room's working metrics: suggestion outcomes per role and human, register, timing, annex access, activity
    Stats(super::suggest::StatsArgs),

    /// Join a room and print every pushed frame as one JSON line until Ctrl-C
    #[command(after_help = "The first line is the room's snapshot (or, with --since, the missed events). \
        Exits 0 on Ctrl-C or SIGTERM; if the connection ends, exits non-zero with the reason.")]
    Watch {
        /// Room id or exact title
        room: String,
        /// Start after this room revision (replays missed events instead of a snapshot)
        #[arg(long, value_name = "REV")]
        since: Option<u64>,
    },

    /// Open the terminal UI on a room
    Connect {
        /// Room id or exact title
        room: String,
    },

    /// Run a local demo server with a seeded room and open the terminal UI as its owner
    Demo(DemoArgs),

    /// Run a headless agent (chronology, objection-normaliser, trace-keeper) with an agent member's token
    Agent(crate::agent::AgentArgs),

    /// Annex access: request, approve or deny, revoke, list, history, policy
    #[command(subcommand)]
    Access(super::access::AccessCommand),

    /// Emergency read access to annexes for at most 30 minutes (break-glass list only)
    BreakGlass(super::access::BreakGlassArgs),

    /// Ask to promote an exact annex passage into a section (an owner decides)
    Promote(super::access::PromoteArgs),

    /// Decide or read promotions of annex passages
    #[command(subcommand)]
    Promotion(super::access::PromotionCommand),

    /// Room checks: list, or override one failing check (owner)
    #[command(subcommand)]
    Check(super::access::CheckCommand),

    /// Source records the packet cites: register from .jsonl, list with each citation's state, open one, re-confirm
    #[command(subcommand)]
    Source(super::source::SourceCommand),

    /// Client configuration file
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Debug, Subcommand)]
pub enum SectionCommand {
    /// Add a section at the end of the packet (or after another one)
    Add {
        /// Room id or exact title
        room: String,
        /// Title of the new section
        title: String,
        /// Body from this file (`-` reads stdin); empty without it
        #[arg(long, short, value_name = "F")]
        file: Option<PathBuf>,
        /// Insert after this section (id or exact title)
        #[arg(long, value_name = "SECTION")]
        after: Option<String>,
    },
    /// Replace a section's body with a file's content (sent as a minimal edit)
    #[command(after_help = "The edit is computed against the body at the revision read on join; \
        edits others made since are merged by the server. CRLF line endings become LF.")]
    Set {
        /// Room id or exact title
        room: String,
        /// Section id or exact title
        section: String,
        /// New body from this file (`-` reads stdin)
        #[arg(long, short, value_name = "F")]
        file: PathBuf,
    },
    /// Append text to the end of a section
    Append {
        /// Room id or exact title
        room: String,
        /// Section id or exact title
        section: String,
        /// Text to append, verbatim (`-` reads stdin)
        #[arg(allow_hyphen_values = true)]
        text: String,
        /// Start a new paragraph: separate the text from the body with a blank line
        #[arg(long, short)]
        paragraph: bool,
    },
}

#[derive(Debug, Args)]
pub struct ObjectArgs {
    /// Room id or exact title
    pub room: String,
    /// Section id or exact title
    pub section: String,
    /// What the objection is about
    #[arg(long, value_enum)]
    pub kind: KindArg,
    /// The objection blocks release while open
    #[arg(long)]
    pub blocking: bool,
    /// Statement (paragraph) number in the section, 1-based as `show` prints it
    #[arg(long, value_name = "N")]
    pub statement: Option<usize>,
    /// The quoted text the objection is about
    #[arg(long, value_name = "Q")]
    pub quote: Option<String>,
    /// The objection (`-` reads stdin)
    #[arg(allow_hyphen_values = true)]
    pub text: String,
}

#[derive(Debug, Subcommand)]
pub enum ObjectionCommand {
    /// Move an open objection to addressed, withdrawn or accepted-residual, or reopen an addressed one
    #[command(after_help = "accepted-residual is owner only and needs --rationale; resolving a blocking objection \
another member raised needs --rationale too.\nwithdrawn and accepted-residual are final; `open` reopens an addressed \
objection (its author or an owner).")]
    Status {
        /// Room id or exact title
        room: String,
        /// Objection id or O-N
        objection: String,
        /// New status
        #[arg(value_enum)]
        status: StatusArg,
        /// Why (required for accepted-residual, and to resolve another member's blocking objection)
        #[arg(long)]
        rationale: Option<String>,
    },
}

/// `trustroom lane releases|fetch|intake|finding` (downstream members of a lane).
#[derive(Debug, Subcommand)]
pub enum LaneCommand {
    /// Your lane's releases: manifest hash, packet revision, released at, status, your intake decision
    Releases {
        /// Room id or exact title
        room: String,
    },
    /// Fetch one release's redacted export bundle (never annex content)
    #[command(
        after_help = "The bundle is the one `export` renders for that release (JSON unless --format markdown); it verifies with `trustroom-server manifest verify`. A release of another lane is not found."
    )]
    Fetch {
        /// Room id or exact title
        room: String,
        /// The release's manifest hash (as `lane releases` prints it)
        manifest: String,
        /// Write the bundle to FILE instead of stdout
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// json (verifiable) or markdown (for people)
        #[arg(long, default_value = "json", value_name = "json|markdown")]
        format: ExportFormat,
    },
    /// Record your intake decision on a release: --accept, or --return REASON
    Intake {
        /// Room id or exact title
        room: String,
        /// The release's manifest hash
        manifest: String,
        /// Accepted for intake
        #[arg(long, conflicts_with = "return_reason", required_unless_present = "return_reason")]
        accept: bool,
        /// Returned to the room, with why
        #[arg(long = "return", value_name = "REASON")]
        return_reason: Option<String>,
    },
    /// Report a finding on a release: opens a blocking objection in the room, marked found downstream
    Finding {
        /// Room id or exact title
        room: String,
        /// The release's manifest hash
        manifest: String,
        /// hidden-objection | stale-chronology | over-broad-annex-exposure | correction-needed
        #[arg(long)]
        kind: trustroom_shared::downstream::FindingKind,
        /// What was found (`-` reads stdin)
        #[arg(long, allow_hyphen_values = true)]
        text: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AnnexCommand {
    /// Print an annex's content (only with need-to-know access; every view is audited)
    View {
        /// Room id or exact title
        room: String,
        /// Annex id, code (A1) or exact title
        annex: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print a commented example config file
    Example,
    /// Print where the config file is looked for
    Path,
    /// Print the settings in effect and where each comes from (token masked)
    Show,
}

/// Arguments of `trustroom demo` (parsed in every build; a build without
/// the `demo` feature answers that it has no demo).
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Address to listen on (default: a free loopback port).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: String,
    /// Database URL (default: a fresh SQLite file in a temporary directory).
    #[arg(long)]
    pub db: Option<String>,
    /// Print the join commands and keep serving without opening the TUI.
    #[arg(long)]
    pub headless: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum KindArg {
    ExposureScope,
    EvidenceSufficiency,
    Wording,
    Sensitivity,
    Other,
}

impl From<KindArg> for ObjectionKind {
    fn from(k: KindArg) -> Self {
        match k {
            KindArg::ExposureScope => ObjectionKind::ExposureScope,
            KindArg::EvidenceSufficiency => ObjectionKind::EvidenceSufficiency,
            KindArg::Wording => ObjectionKind::Wording,
            KindArg::Sensitivity => ObjectionKind::Sensitivity,
            KindArg::Other => ObjectionKind::Other,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum StatusArg {
    /// Reopen an addressed objection
    Open,
    Addressed,
    Withdrawn,
    AcceptedResidual,
}

impl From<StatusArg> for ObjectionStatus {
    fn from(s: StatusArg) -> Self {
        match s {
            StatusArg::Open => ObjectionStatus::Open,
            StatusArg::Addressed => ObjectionStatus::Addressed,
            StatusArg::Withdrawn => ObjectionStatus::Withdrawn,
            StatusArg::AcceptedResidual => ObjectionStatus::AcceptedResidual,
        }
    }
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum LaneArg {
    Privacy,
    ProductSecurity,
    AccountGovernance,
}

impl From<LaneArg> for Lane {
    fn from(l: LaneArg) -> Self {
        match l {
            LaneArg::Privacy => Lane::Privacy,
            LaneArg::ProductSecurity => Lane::ProductSecurity,
            LaneArg::AccountGovernance => Lane::AccountGovernance,
        }
    }
}

/// Who downstream may read a release, narrow → wide.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum AudienceArg {
    /// Only the named downstream lane's reviewers
    LaneReviewers,
    /// The lane's reviewers and its accountable leads
    LaneAndLeads,
    /// Any internal team
    Organisation,
}

impl From<AudienceArg> for Audience {
    fn from(a: AudienceArg) -> Self {
        match a {
            AudienceArg::LaneReviewers => Audience::LaneReviewers,
            AudienceArg::LaneAndLeads => Audience::LaneAndLeads,
            AudienceArg::Organisation => Audience::Organisation,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn value_names_match_the_protocol() {
        // The clap names of the mirrors must be the protocol's kebab-case names.
        for k in KindArg::value_variants() {
            let name = k.to_possible_value().map(|v| v.get_name().to_string()).unwrap_or_default();
            assert_eq!(name, ObjectionKind::from(*k).to_string());
        }
        for s in StatusArg::value_variants() {
            let name = s.to_possible_value().map(|v| v.get_name().to_string()).unwrap_or_default();
            assert_eq!(name, ObjectionStatus::from(*s).to_string());
        }
        for l in LaneArg::value_variants() {
            let name = l.to_possible_value().map(|v| v.get_name().to_string()).unwrap_or_default();
            assert_eq!(name, Lane::from(*l).to_string());
        }
        for a in AudienceArg::value_variants() {
            let name = a.to_possible_value().map(|v| v.get_name().to_string()).unwrap_or_default();
            assert_eq!(name, Audience::from(*a).to_string());
        }
    }

    #[test]
    fn cosign_needs_a_lane_and_the_audience_defaults_to_lane_reviewers() {
        assert!(Cli::try_parse_from(["trustroom", "cosign", "Room"]).is_err(), "--lane is required");
        let cli = Cli::try_parse_from(["trustroom", "cosign", "Room", "--lane", "privacy"]).expect("parses");
        assert!(matches!(
            cli.command,
            Command::Cosign { lane: LaneArg::Privacy, audience: AudienceArg::LaneReviewers, .. }
        ));
        let cli = Cli::try_parse_from([
            "trustroom",
            "release",
            "Room",
            "--lane",
            "product-security",
            "--audience",
            "organisation",
        ])
        .expect("parses");
        assert!(matches!(
            cli.command,
            Command::Release { lane: Some(LaneArg::ProductSecurity), audience: AudienceArg::Organisation, .. }
        ));
        assert!(
            Cli::try_parse_from(["trustroom", "release", "Room", "--lane", "privacy", "--audience", "everyone"])
                .is_err()
        );
        let cli =
            Cli::try_parse_from(["trustroom", "release", "Room", "--lane", "privacy", "--packet-revision", "146"])
                .expect("parses");
        assert!(matches!(cli.command, Command::Release { packet_revision: Some(146), .. }));
        let cli = Cli::try_parse_from(["trustroom", "release", "status", "Room", "--out", "d"]).expect("parses");
        assert!(matches!(cli.command, Command::Release { action: Some(ReleaseAction::Status { .. }), .. }));
        let cli = Cli::try_parse_from(["trustroom", "release", "withdraw", "Room", "ab12", "--reason", "wrong tenant"])
            .expect("parses");
        assert!(matches!(cli.command, Command::Release { action: Some(ReleaseAction::Withdraw { .. }), .. }));
        assert!(Cli::try_parse_from(["trustroom", "release", "Room"]).is_err(), "a release needs its lane");
        assert!(Cli::try_parse_from(["trustroom", "release", "--lane", "privacy"]).is_err(), "and its room");
    }

    #[test]
    fn globals_work_after_the_subcommand() {
        let cli = Cli::try_parse_from(["trustroom", "show", "Room", "--json", "--url", "ws://h:1"]).expect("parses");
        assert!(cli.json);
        assert_eq!(cli.url.as_deref(), Some("ws://h:1"));
        let cli = Cli::try_parse_from(["trustroom", "reply", "R", "O-1", "-"]).expect("stdin marker");
        assert!(matches!(cli.command, Command::Reply { ref text, .. } if text == "-"));
    }
}
