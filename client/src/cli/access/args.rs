//! The arguments of `trustroom access …`, `break-glass`, `promote`, `promotion`
//! and `check`.

use super::*;

/// `trustroom access …`
#[derive(Debug, Subcommand)]
pub enum AccessCommand {
    /// Ask for read access to annexes, with a reason and a duration
    #[command(after_help = "An overlapping request for an annex you already asked for (or hold) folds into \
        that one: the pending request keeps the longer duration; an active grant is never extended.")]
    Request {
        /// Room id or exact title
        room: String,
        /// Annex ids, codes (A1) or exact titles
        #[arg(required = true)]
        annexes: Vec<String>,
        /// Why you need it (the room may require e.g. a case id)
        #[arg(long)]
        reason: String,
        /// How long: 2h, 30m, 1h30m (default: the room's, 2h)
        #[arg(long = "for", value_name = "DURATION")]
        duration: Option<String>,
    },
    /// List requests and grants, break-glass, promotions and room checks
    List {
        /// Room id or exact title
        room: String,
    },
    /// Approve a request (an owner other than the requester)
    Approve {
        /// Request id or R-N
        request: String,
        /// Room id or exact title (needed for R-N when you are in several rooms)
        #[arg(long)]
        room: Option<String>,
        /// A note for the requester and the history
        #[arg(long)]
        note: Option<String>,
    },
    /// Deny a request (an owner other than the requester)
    Deny {
        /// Request id or R-N
        request: String,
        #[arg(long)]
        room: Option<String>,
        #[arg(long)]
        note: Option<String>,
    },
    /// Withdraw your own pending request
    Withdraw {
        /// Request id or R-N
        request: String,
        #[arg(long)]
        room: Option<String>,
    },
    /// End an active grant now (owner only); the member's clients drop the content at once
    Revoke {
        /// Grant (request) id or R-N
        grant: String,
        #[arg(long)]
        room: Option<String>,
        #[arg(long)]
        note: Option<String>,
    },
    /// Export the room's access history (owners and named auditors; audited)
    History {
        /// Room id or exact title
        room: String,
        #[arg(long, value_enum, default_value = "jsonl")]
        format: HistoryFormat,
    },
    /// Show or change the room's access policy (changes: owner only)
    Policy(PolicyArgs),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum HistoryFormat {
    Jsonl,
    Csv,
}

#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// Room id or exact title
    pub room: String,
    /// Shortest accepted reason, in characters
    #[arg(long, value_name = "N")]
    pub reason_min: Option<usize>,
    /// A regular expression every reason must contain (e.g. 'CASE-\d+'); "" clears it
    #[arg(long, value_name = "REGEX")]
    pub reason_pattern: Option<String>,
    /// Grant duration when a request names none (e.g. 2h)
    #[arg(long, value_name = "DURATION")]
    pub default_for: Option<String>,
    /// Longest grant a request may ask for (e.g. 24h)
    #[arg(long, value_name = "DURATION")]
    pub max_for: Option<String>,
    /// Members who may invoke break-glass (repeatable; replaces the list)
    #[arg(long = "break-glass", value_name = "NAME")]
    pub break_glass: Vec<String>,
    /// Empty the break-glass list
    #[arg(long, conflicts_with = "break_glass")]
    pub no_break_glass: bool,
    /// Members with the audit capability besides the owners (repeatable; replaces the list)
    #[arg(long = "auditor", value_name = "NAME")]
    pub auditors: Vec<String>,
    /// Empty the auditor list
    #[arg(long, conflicts_with = "auditors")]
    pub no_auditors: bool,
    /// Days after release or escalation until annex content is purged
    #[arg(long, value_name = "DAYS")]
    pub retention_days: Option<u32>,
}

/// `trustroom break-glass ROOM ANNEX… --reason R --for 30m`
#[derive(Debug, Args)]
#[command(after_help = "Only members on the room's break-glass list. At most 30 minutes, not renewable; every \
    member sees it while it lasts, and when it ends the room opens a blocking \"break-glass review\" \
    objection an owner must resolve before release. `--end BG-N` ends one early.")]
pub struct BreakGlassArgs {
    /// Room id or exact title
    pub room: String,
    /// Annex ids, codes (A1) or exact titles
    pub annexes: Vec<String>,
    /// Why (required to invoke)
    #[arg(long)]
    pub reason: Option<String>,
    /// How long, at most 30m (default 30m)
    #[arg(long = "for", value_name = "DURATION")]
    pub duration: Option<String>,
    /// End this invocation (id or BG-N) early instead
    #[arg(long, value_name = "BG", conflicts_with_all = ["reason", "duration"])]
    pub end: Option<String>,
}

/// `trustroom promote ROOM ANNEX SECTION --passage TEXT --reason R`
#[derive(Debug, Args)]
#[command(after_help = "The passage must occur verbatim in the annex (you need access to it). On an owner's \
    approval it is appended to the section as a new paragraph labeled [verified: annex:CODE], with its \
    provenance recorded. Prefer `--passage -` (stdin): arguments show up in `ps`.")]
pub struct PromoteArgs {
    /// Room id or exact title
    pub room: String,
    /// Annex id, code (A1) or exact title
    pub annex: String,
    /// Section id or exact title
    pub section: String,
    /// The exact passage (`-` reads stdin)
    #[arg(long, allow_hyphen_values = true)]
    pub passage: String,
    /// Why it belongs in the packet
    #[arg(long)]
    pub reason: String,
}

/// `trustroom promotion …`
#[derive(Debug, Subcommand)]
pub enum PromotionCommand {
    /// Print a pending promotion's passage (its deciders and requester; audited)
    Show {
        /// Promotion id or P-N
        promotion: String,
        #[arg(long)]
        room: Option<String>,
    },
    /// Approve: the passage is inserted with its provenance (an owner other than the requester)
    Approve {
        /// Promotion id or P-N
        promotion: String,
        #[arg(long)]
        room: Option<String>,
        #[arg(long)]
        note: Option<String>,
    },
    /// Deny a promotion
    Deny {
        /// Promotion id or P-N
        promotion: String,
        #[arg(long)]
        room: Option<String>,
        #[arg(long)]
        note: Option<String>,
    },
}

/// `trustroom check …`
#[derive(Debug, Subcommand)]
pub enum CheckCommand {
    /// Show the room checks: annex boundary, access validity, release rules
    List {
        /// Room id or exact title
        room: String,
    },
    /// Override one failing check with a rationale (owner only; audited; lapses when its text changes)
    Override {
        /// Room id or exact title
        room: String,
        /// annex_boundary | access_validity | release_rules
        check: String,
        #[arg(long)]
        rationale: String,
    },
}
