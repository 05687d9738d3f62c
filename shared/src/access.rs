//! Annex access governance as room records that only ever move forward:
//! access requests and the grants they become, break-glass invocations,
//! promotions of annex passages into the packet, the room's access policy
//! and the retention purge. Plus the pure rules the server applies: reason
//! and duration rules, folding of overlapping requests, who may decide,
//! and who may read which annex right now.
//!
//! Lifecycles (one-way; records are never deleted):
//! - access request: `requested` → `approved` | `denied` | `withdrawn`;
//!   `approved` → `expired` | `revoked`. An approved request *is* the grant
//!   (same id, shown as `R-N`).
//! - break-glass: active → ended (expired, ended early, member left); the
//!   end opens a blocking "break-glass review" objection.
//! - promotion: `requested` → `approved` | `denied`.
//!
//! Access to an annex = its need-to-know list, OR an active grant, OR an
//! active break-glass naming it. A grant never counts as break-glass and
//! break-glass never becomes a grant.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::change::{ApplyError, Change, Revision};
use crate::checks::{CheckOverride, CheckResult};
use crate::ids::{AccessRequestId, AnnexId, BreakGlassId, ObjectionId, PromotionId, SectionId, UserId};
use crate::objection::{Anchor, Objection, ObjectionKind, ObjectionStatus};
use crate::policy::{Capability, capabilities};
use crate::release::ReleaseState;
use crate::role::{ParseEnumError, Role, kebab_enum_text};
use crate::room::RoomState;

/// Author of changes the room makes by itself (expiry, reviews, holds).
pub const SYSTEM: UserId = UserId(uuid::Uuid::nil());

pub const SECOND_MS: u64 = 1_000;
pub const MINUTE_MS: u64 = 60 * SECOND_MS;
pub const HOUR_MS: u64 = 60 * MINUTE_MS;
pub const DAY_MS: u64 = 24 * HOUR_MS;

/// Break-glass lasts at most this long (hard limit, not configurable).
pub const BREAK_GLASS_MAX_MS: u64 = 30 * MINUTE_MS;
/// Default grant duration.
pub const DEFAULT_GRANT_MS: u64 = 2 * HOUR_MS;
/// Default longest grant.
pub const DEFAULT_MAX_GRANT_MS: u64 = 24 * HOUR_MS;
/// No policy may allow grants longer than this.
pub const CEILING_GRANT_MS: u64 = 30 * DAY_MS;
/// Default shortest reason, in chars.
pub const DEFAULT_REASON_MIN_CHARS: usize = 10;
/// Default retention after release or escalation, in days.
pub const DEFAULT_RETENTION_DAYS: u32 = 30;
/// Longest reason pattern accepted.
pub const MAX_PATTERN_CHARS: usize = 200;

// ---------------------------------------------------------------------------
// Sealed text
// ---------------------------------------------------------------------------

/// Annex text travelling in a request or held by the server (a passage to
/// promote). Serializes as a plain string; its `Debug` never shows the
/// text, so logging a request cannot leak annex content.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Sealed(pub String);

impl Sealed {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sealed(<{} chars>)", self.0.chars().count())
    }
}

// ---------------------------------------------------------------------------
// Policy
// ---------------------------------------------------------------------------

/// The room's access policy (owner- and admin-settable).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AccessPolicy {
    /// Shortest accepted reason, in chars (after trimming).
    pub reason_min_chars: usize,
    /// A regular expression every reason must contain a match of (e.g. a
    /// case id: `CASE-\d+`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason_pattern: Option<String>,
    /// Grant duration when a request names none.
    pub default_duration_ms: u64,
    /// Longest grant a request may ask for.
    pub max_duration_ms: u64,
    /// Members who may invoke break-glass.
    pub break_glass: Vec<UserId>,
    /// Members besides the owners with the audit capability (access history).
    pub auditors: Vec<UserId>,
    /// Days after release or escalation until annex content is purged.
    pub retention_days: u32,
}

impl Default for AccessPolicy {
    fn default() -> Self {
        Self {
            reason_min_chars: DEFAULT_REASON_MIN_CHARS,
            reason_pattern: None,
            default_duration_ms: DEFAULT_GRANT_MS,
            max_duration_ms: DEFAULT_MAX_GRANT_MS,
            break_glass: Vec::new(),
            auditors: Vec::new(),
            retention_days: DEFAULT_RETENTION_DAYS,
        }
    }
}

impl AccessPolicy {
    /// Checks the policy is coherent; the message says what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=500).contains(&self.reason_min_chars) {
            return Err("reason_min_chars must be 1..=500".into());
        }
        if let Some(p) = &self.reason_pattern {
            if p.chars().count() > MAX_PATTERN_CHARS {
                return Err(format!("reason_pattern is longer than {MAX_PATTERN_CHARS} characters"));
            }
            regex::RegexBuilder::new(p)
                .size_limit(1 << 20)
                .build()
                .map_err(|e| format!("reason_pattern is not a valid regular expression: {e}"))?;
        }
        if self.default_duration_ms == 0 || self.max_duration_ms == 0 {
            return Err("durations must be positive".into());
        }
        if self.max_duration_ms > CEILING_GRANT_MS {
            return Err(format!("max_duration_ms may not exceed {} (30 days)", format_duration(CEILING_GRANT_MS)));
        }
        if self.default_duration_ms > self.max_duration_ms {
            return Err("default_duration_ms exceeds max_duration_ms".into());
        }
        if !(1..=3650).contains(&self.retention_days) {
            return Err("retention_days must be 1..=3650".into());
        }
        Ok(())
    }

    /// Member lists sorted and deduplicated.
    pub fn normalized(mut self) -> Self {
        self.break_glass.sort();
        self.break_glass.dedup();
        self.auditors.sort();
        self.auditors.dedup();
        self
    }
}

/// A partial policy change (`set_access_policy`): absent fields stay.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessPolicyUpdate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_min_chars: Option<usize>,
    /// An empty string clears the pattern.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_pattern: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_duration_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_duration_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub break_glass: Option<Vec<UserId>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auditors: Option<Vec<UserId>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_days: Option<u32>,
}

impl AccessPolicyUpdate {
    pub fn is_empty(&self) -> bool {
        *self == AccessPolicyUpdate::default()
    }

    /// The policy after this update (not yet validated).
    pub fn applied_to(&self, policy: &AccessPolicy) -> AccessPolicy {
        let mut p = policy.clone();
        if let Some(v) = self.reason_min_chars {
            p.reason_min_chars = v;
        }
        if let Some(v) = &self.reason_pattern {
            p.reason_pattern = if v.trim().is_empty() { None } else { Some(v.clone()) };
        }
        if let Some(v) = self.default_duration_ms {
            p.default_duration_ms = v;
        }
        if let Some(v) = self.max_duration_ms {
            p.max_duration_ms = v;
        }
        if let Some(v) = &self.break_glass {
            p.break_glass = v.clone();
        }
        if let Some(v) = &self.auditors {
            p.auditors = v.clone();
        }
        if let Some(v) = self.retention_days {
            p.retention_days = v;
        }
        p.normalized()
    }
}

/// Checks a reason against the policy; returns it trimmed.
pub fn check_reason(policy: &AccessPolicy, reason: &str) -> Result<String, String> {
    let reason = reason.trim();
    let chars = reason.chars().count();
    if chars < policy.reason_min_chars {
        return Err(format!(
            "a reason of at least {} characters is required (got {chars}): say why you need it, e.g. the case id",
            policy.reason_min_chars
        ));
    }
    let mut distinct: Vec<char> = reason.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < 3 {
        return Err("the reason must be words, not punctuation or one repeated character".into());
    }
    if let Some(p) = &policy.reason_pattern {
        let re = regex::RegexBuilder::new(p)
            .size_limit(1 << 20)
            .build()
            .map_err(|e| format!("the room's reason pattern is invalid ({e}); ask an owner to fix it"))?;
        if !re.is_match(reason) {
            return Err(format!("the reason must contain a match of the room's pattern {p:?} (e.g. a case id)"));
        }
    }
    Ok(reason.to_string())
}

/// The duration of a grant: the request's, or the policy default; refused
/// above the policy maximum.
pub fn grant_duration(policy: &AccessPolicy, requested: Option<u64>) -> Result<u64, String> {
    let d = requested.unwrap_or(policy.default_duration_ms);
    if d == 0 {
        return Err("the duration must be positive".into());
    }
    if d > policy.max_duration_ms {
        return Err(format!(
            "{} is longer than this room allows ({} at most)",
            format_duration(d),
            format_duration(policy.max_duration_ms)
        ));
    }
    Ok(d)
}

/// The duration of a break-glass invocation: at most 30 minutes (default).
pub fn break_glass_duration(requested: Option<u64>) -> Result<u64, String> {
    let d = requested.unwrap_or(BREAK_GLASS_MAX_MS);
    if d == 0 {
        return Err("the duration must be positive".into());
    }
    if d > BREAK_GLASS_MAX_MS {
        return Err(format!("break-glass lasts at most 30 minutes (asked for {})", format_duration(d)));
    }
    Ok(d)
}

/// Parses `2h`, `30m`, `45s`, `1h30m`, `1d`, or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("empty duration".into());
    }
    if let Ok(secs) = t.parse::<u64>() {
        return secs.checked_mul(SECOND_MS).ok_or_else(|| "duration too long".to_string());
    }
    let mut total: u64 = 0;
    let mut number = String::new();
    for c in t.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            'd' => DAY_MS,
            'h' => HOUR_MS,
            'm' => MINUTE_MS,
            's' => SECOND_MS,
            _ => return Err(format!("bad duration {t:?}: use e.g. 2h, 30m, 1h30m, 45s")),
        };
        let n: u64 = number.parse().map_err(|_| format!("bad duration {t:?}: a number must precede {c:?}"))?;
        number.clear();
        total = n.checked_mul(unit).and_then(|v| total.checked_add(v)).ok_or("duration too long")?;
    }
    if !number.is_empty() {
        return Err(format!("bad duration {t:?}: the last number has no unit (d, h, m, s)"));
    }
    Ok(total)
}

/// `2h`, `1h30m`, `30m`, `45s`, `2d`.
pub fn format_duration(ms: u64) -> String {
    let mut secs = ms / SECOND_MS;
    if secs == 0 {
        return format!("{ms}ms");
    }
    let mut out = String::new();
    for (unit, name) in [(86_400, "d"), (3_600, "h"), (60, "m"), (1, "s")] {
        if secs >= unit {
            out.push_str(&format!("{}{name}", secs / unit));
            secs %= unit;
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Records
// ---------------------------------------------------------------------------

/// What a request asks to do with an annex. Only reading exists today.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AccessScope {
    #[default]
    Read,
}

/// An access request's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RequestStatus {
    Requested,
    Approved,
    Denied,
    Withdrawn,
    Expired,
    Revoked,
}

kebab_enum_text!(RequestStatus, "request status", [
    RequestStatus::Requested => "requested",
    RequestStatus::Approved => "approved",
    RequestStatus::Denied => "denied",
    RequestStatus::Withdrawn => "withdrawn",
    RequestStatus::Expired => "expired",
    RequestStatus::Revoked => "revoked",
]);

/// Whether `from → to` is a legal move (one-way lifecycle).
pub fn request_move_allowed(from: RequestStatus, to: RequestStatus) -> bool {
    use RequestStatus::*;
    matches!((from, to), (Requested, Approved | Denied | Withdrawn) | (Approved, Expired | Revoked))
}

/// Who decided, with an optional note, and when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decided {
    pub by: UserId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub at_ms: i64,
}

/// Why a grant or break-glass ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EndCause {
    /// Its time ran out (enforced by the server's clock).
    Expired,
    /// An owner revoked the grant.
    Revoked,
    /// The member left (or was removed from) the room.
    MemberLeft,
    /// The invoker or an owner ended a break-glass early.
    EndedEarly,
}

kebab_enum_text!(EndCause, "end cause", [
    EndCause::Expired => "expired",
    EndCause::Revoked => "revoked",
    EndCause::MemberLeft => "member-left",
    EndCause::EndedEarly => "ended-early",
]);

/// How a grant or break-glass ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ended {
    pub at_ms: i64,
    /// Who ended it ([`SYSTEM`] for expiry and departures).
    pub by: UserId,
    pub cause: EndCause,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// What a later, overlapping request folded into.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FoldInto {
    /// A pending request: its duration becomes the longer of the two.
    Pending,
    /// An active grant: nothing changes (timers never stack).
    Grant,
}

/// A later request for the same member, annex and scope, folded into an
/// existing record instead of becoming a second one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fold {
    pub reason: String,
    pub duration_ms: u64,
    pub at_ms: i64,
    pub into: FoldInto,
}

/// A request for access to one annex; once approved, the grant it became.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRequest {
    pub id: AccessRequestId,
    /// Per-room number, shown as `R-N`.
    pub number: u32,
    pub requester: UserId,
    pub annex: AnnexId,
    #[serde(default)]
    pub scope: AccessScope,
    pub reason: String,
    pub duration_ms: u64,
    pub at_ms: i64,
    pub status: RequestStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided: Option<Decided>,
    /// Set on approval: the grant ends here at the latest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<Ended>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub folds: Vec<Fold>,
}

impl AccessRequest {
    /// `R-N`.
    pub fn code(&self) -> String {
        format!("R-{}", self.number)
    }

    pub fn is_pending(&self) -> bool {
        self.status == RequestStatus::Requested
    }

    /// An approved grant not yet ended; with `now`, also not past its expiry.
    pub fn is_active_grant(&self, now: Option<i64>) -> bool {
        self.status == RequestStatus::Approved
            && now.is_none_or(|n| self.expires_at.is_some_and(|e| n < e))
    }
}

/// One break-glass invocation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakGlass {
    pub id: BreakGlassId,
    /// Per-room number, shown as `BG-N`.
    pub number: u32,
    pub user: UserId,
    pub annexes: Vec<AnnexId>,
    pub reason: String,
    pub at_ms: i64,
    pub ends_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<Ended>,
    /// The "break-glass review" objection opened when it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review: Option<ObjectionId>,
}

impl BreakGlass {
    /// `BG-N`.
    pub fn code(&self) -> String {
        format!("BG-{}", self.number)
    }

    /// Not ended; with `now`, also not past its end.
    pub fn is_active(&self, now: Option<i64>) -> bool {
        self.ended.is_none() && now.is_none_or(|n| n < self.ends_at)
    }
}

/// A promotion's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PromotionStatus {
    Requested,
    Approved,
    Denied,
}

kebab_enum_text!(PromotionStatus, "promotion status", [
    PromotionStatus::Requested => "requested",
    PromotionStatus::Approved => "approved",
    PromotionStatus::Denied => "denied",
]);

/// Where promoted text came from: kept with the promotion and shown with
/// the passage in the packet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    pub annex: AnnexId,
    pub annex_code: String,
    /// SHA-256 (hex) of the promoted text.
    pub passage_hash: String,
    pub approver: UserId,
    pub approved_at_ms: i64,
    /// The revision of the edit that inserted the passage.
    pub inserted_revision: u64,
}

/// A request to move an exact annex passage into a packet section.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Promotion {
    pub id: PromotionId,
    /// Per-room number, shown as `P-N`.
    pub number: u32,
    pub requester: UserId,
    pub annex: AnnexId,
    pub section: SectionId,
    pub reason: String,
    pub passage_chars: usize,
    /// SHA-256 of the passage; only shown once approved (a hash of a short
    /// pending passage would let anyone confirm a guess).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passage_hash: Option<String>,
    /// The passage itself: held by the server only, purged by retention.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passage: Option<Sealed>,
    pub at_ms: i64,
    pub status: PromotionStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided: Option<Decided>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Provenance>,
}

impl Promotion {
    /// `P-N`.
    pub fn code(&self) -> String {
        format!("P-{}", self.number)
    }

    /// The copy that may leave the server.
    pub fn redacted(&self) -> Promotion {
        let approved = self.status == PromotionStatus::Approved;
        Promotion {
            passage: None,
            passage_hash: if approved { self.passage_hash.clone() } else { None },
            ..self.clone()
        }
    }
}

/// The retention purge, once it ran.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Purge {
    pub at_ms: i64,
    /// When retention made it due (release/escalation + retention period).
    pub due_ms: i64,
    /// Annexes whose content (and sensitive patterns) were removed.
    pub annexes: Vec<AnnexId>,
    /// Promotion passages removed from the server's records.
    pub passages: usize,
}

/// Everything about annex access a room holds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessState {
    #[serde(default)]
    pub policy: AccessPolicy,
    #[serde(default)]
    pub requests: BTreeMap<AccessRequestId, AccessRequest>,
    #[serde(default)]
    pub break_glass: BTreeMap<BreakGlassId, BreakGlass>,
    #[serde(default)]
    pub promotions: BTreeMap<PromotionId, Promotion>,
    /// The room checks that fail right now (passing ones are not listed),
    /// as the server last evaluated them.
    #[serde(default)]
    pub checks: Vec<CheckResult>,
    /// Every check override, active and lapsed.
    #[serde(default)]
    pub overrides: Vec<CheckOverride>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purged: Option<Purge>,
}

impl AccessState {
    /// The copy that may leave the server (no promotion passages).
    pub fn redacted(&self) -> AccessState {
        let mut out = self.clone();
        for p in out.promotions.values_mut() {
            *p = p.redacted();
        }
        out
    }

    pub fn next_request_number(&self) -> u32 {
        self.requests.values().map(|r| r.number).max().unwrap_or(0) + 1
    }

    pub fn next_break_glass_number(&self) -> u32 {
        self.break_glass.values().map(|b| b.number).max().unwrap_or(0) + 1
    }

    pub fn next_promotion_number(&self) -> u32 {
        self.promotions.values().map(|p| p.number).max().unwrap_or(0) + 1
    }

    /// A request by id or `R-N`.
    pub fn request_by_name(&self, name: &str) -> Option<&AccessRequest> {
        let t = name.trim();
        if let Ok(id) = t.parse::<AccessRequestId>() {
            return self.requests.get(&id);
        }
        let n = number_of(t, &["R-", "r-", "R", "r"])?;
        self.requests.values().find(|r| r.number == n)
    }

    /// A break-glass invocation by id or `BG-N`.
    pub fn break_glass_by_name(&self, name: &str) -> Option<&BreakGlass> {
        let t = name.trim();
        if let Ok(id) = t.parse::<BreakGlassId>() {
            return self.break_glass.get(&id);
        }
        let n = number_of(t, &["BG-", "bg-", "BG", "bg"])?;
        self.break_glass.values().find(|b| b.number == n)
    }

    /// A promotion by id or `P-N`.
    pub fn promotion_by_name(&self, name: &str) -> Option<&Promotion> {
        let t = name.trim();
        if let Ok(id) = t.parse::<PromotionId>() {
            return self.promotions.get(&id);
        }
        let n = number_of(t, &["P-", "p-", "P", "p"])?;
        self.promotions.values().find(|p| p.number == n)
    }
}

fn number_of(text: &str, prefixes: &[&str]) -> Option<u32> {
    prefixes.iter().find_map(|p| text.strip_prefix(p)).and_then(|d| d.parse().ok()).filter(|n| *n > 0)
}

// ---------------------------------------------------------------------------
// Who may do and read what
// ---------------------------------------------------------------------------

/// How a member reads an annex.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "via", rename_all = "snake_case")]
pub enum Via {
    NeedToKnow,
    Grant { grant: AccessRequestId },
    BreakGlass { invocation: BreakGlassId },
}

impl Via {
    pub fn describe(&self) -> String {
        match self {
            Via::NeedToKnow => "need_to_know".into(),
            Via::Grant { grant } => format!("grant:{grant}"),
            Via::BreakGlass { invocation } => format!("break_glass:{invocation}"),
        }
    }
}

/// Whether (and how) `user` may read `annex`. With `now`, grants and
/// break-glass past their end no longer count even before the server's
/// timer recorded the end (the server always passes its clock).
pub fn access_via(state: &RoomState, user: UserId, annex: AnnexId, now: Option<i64>) -> Option<Via> {
    state.member(user)?;
    let a = state.annexes.get(&annex)?;
    if a.allows(user) {
        return Some(Via::NeedToKnow);
    }
    if let Some(g) = state
        .access
        .requests
        .values()
        .find(|r| r.requester == user && r.annex == annex && r.is_active_grant(now))
    {
        return Some(Via::Grant { grant: g.id });
    }
    state
        .access
        .break_glass
        .values()
        .find(|b| b.user == user && b.annexes.contains(&annex) && b.is_active(now))
        .map(|b| Via::BreakGlass { invocation: b.id })
}

/// The annexes `user` may read per the room's records (snapshot `me.annex_access`).
pub fn annex_access(state: &RoomState, user: UserId) -> Vec<AnnexId> {
    state.annexes.keys().copied().filter(|a| access_via(state, user, *a, None).is_some()).collect()
}

/// Owners, and members the owners gave the audit capability.
pub fn is_auditor(state: &RoomState, user: UserId) -> bool {
    match state.member(user) {
        Some(m) => m.role == Role::Owner || state.access.policy.auditors.contains(&user),
        None => false,
    }
}

/// A member's capabilities: the role's, plus `audit` when delegated.
pub fn capabilities_of(state: &RoomState, user: UserId, role: &Role) -> Vec<Capability> {
    let mut caps = capabilities(role);
    if !caps.contains(&Capability::Audit) && state.access.policy.auditors.contains(&user) {
        caps.push(Capability::Audit);
    }
    if !caps.contains(&Capability::DecideSuggestion) && crate::suggestion::may_decide(&state.suggestions, user, role).is_ok() {
        caps.push(Capability::DecideSuggestion);
    }
    caps
}

/// Why a member may not decide a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecideRefusal {
    /// Only owners approve and deny.
    NotOwner,
    /// Nobody decides their own request; another owner must.
    OwnRequest,
}

/// Whether `approver` may decide a request (or promotion) by `requester`.
/// Self-approval is impossible by construction: an owner's own request
/// waits for another owner.
pub fn may_decide(state: &RoomState, approver: UserId, requester: UserId) -> Result<(), DecideRefusal> {
    match state.member(approver) {
        Some(m) if m.role == Role::Owner => {}
        _ => return Err(DecideRefusal::NotOwner),
    }
    if approver == requester {
        return Err(DecideRefusal::OwnRequest);
    }
    Ok(())
}

/// Owners other than `requester` who could decide their request.
pub fn possible_approvers(state: &RoomState, requester: UserId) -> Vec<UserId> {
    state.owners().map(|m| m.user).filter(|u| *u != requester).collect()
}

/// The record a new request for (`requester`, `annex`, `scope`) folds into:
/// a pending request, or an active grant.
pub fn fold_target(
    state: &RoomState,
    requester: UserId,
    annex: AnnexId,
    scope: AccessScope,
    now: i64,
) -> Option<(AccessRequestId, FoldInto)> {
    let same = |r: &&AccessRequest| r.requester == requester && r.annex == annex && r.scope == scope;
    if let Some(r) = state.access.requests.values().filter(same).find(|r| r.is_pending()) {
        return Some((r.id, FoldInto::Pending));
    }
    state
        .access
        .requests
        .values()
        .filter(same)
        .find(|r| r.is_active_grant(Some(now)))
        .map(|r| (r.id, FoldInto::Grant))
}

/// Active break-glass invocations (per the records).
pub fn active_break_glass(state: &RoomState) -> impl Iterator<Item = &BreakGlass> {
    state.access.break_glass.values().filter(|b| b.is_active(None))
}

/// The break-glass whose review objection this is.
pub fn review_of(state: &RoomState, objection: ObjectionId) -> Option<&BreakGlass> {
    state.access.break_glass.values().find(|b| b.review == Some(objection))
}

// ---------------------------------------------------------------------------
// Time
// ---------------------------------------------------------------------------

/// When retention makes the room's annex content due for purging.
pub fn retention_due_at(state: &RoomState) -> Option<i64> {
    if state.access.purged.is_some() {
        return None;
    }
    let since = match &state.release {
        ReleaseState::Released { at_ms, .. } | ReleaseState::Escalated { at_ms, .. } => *at_ms,
        _ => return None,
    };
    let period = i64::from(state.access.policy.retention_days).saturating_mul(DAY_MS as i64);
    Some(since.saturating_add(period))
}

/// The next moment the room must act by itself: a grant's expiry, a
/// break-glass end, or the retention purge.
pub fn next_deadline(state: &RoomState) -> Option<i64> {
    let grants = state.access.requests.values().filter(|r| r.is_active_grant(None)).filter_map(|r| r.expires_at);
    let glass = active_break_glass(state).map(|b| b.ends_at);
    grants.chain(glass).chain(retention_due_at(state)).min()
}

/// Approved grants whose time is up at `now`.
pub fn due_grants(state: &RoomState, now: i64) -> Vec<AccessRequestId> {
    state
        .access
        .requests
        .values()
        .filter(|r| r.status == RequestStatus::Approved && r.expires_at.is_some_and(|e| e <= now))
        .map(|r| r.id)
        .collect()
}

/// Active break-glass invocations whose time is up at `now`.
pub fn due_break_glass(state: &RoomState, now: i64) -> Vec<BreakGlassId> {
    active_break_glass(state).filter(|b| b.ends_at <= now).map(|b| b.id).collect()
}

/// The blocking "break-glass review" objection opened when `bg` ends.
pub fn review_objection(state: &RoomState, bg: &BreakGlass, ended: &Ended, id: ObjectionId) -> Objection {
    let who = state.member(bg.user).map_or_else(|| bg.user.to_string(), |m| m.name.clone());
    let codes: Vec<String> =
        bg.annexes.iter().map(|a| state.annexes.get(a).map_or_else(|| a.to_string(), |x| x.code.clone())).collect();
    let minutes = (ended.at_ms - bg.at_ms).max(0) / MINUTE_MS as i64;
    let section = state.sections.first().map_or(SectionId(uuid::Uuid::nil()), |s| s.id);
    Objection {
        id,
        number: state.next_objection_number(),
        author: SYSTEM,
        anchor: Anchor { section, statement: None, quote: None },
        kind: ObjectionKind::Sensitivity,
        blocking: true,
        text: format!(
            "Break-glass review: {who} used {} ({}) to read {} for {minutes} min, ended: {}. Reason given: {} — \
             an owner must resolve this (addressed, or accepted-residual with a rationale) before release.",
            bg.code(),
            bg.id,
            codes.join(", "),
            ended.cause,
            bg.reason
        ),
        status: ObjectionStatus::Open,
        rationale: None,
        replies: Vec::new(),
        history: Vec::new(),
        at_ms: ended.at_ms,
    }
}

// ---------------------------------------------------------------------------
// Promotions
// ---------------------------------------------------------------------------

/// SHA-256 (hex) of a passage.
pub fn passage_hash(passage: &str) -> String {
    crate::canonical::sha256_hex(passage.as_bytes())
}

/// The text appended to the section on approval: a new paragraph labeled
/// with the annex as its evidence, then the exact passage.
pub fn promotion_insert(annex_code: &str, passage: &str, body: &str) -> String {
    let sep = if body.is_empty() || body.ends_with("\n\n") {
        ""
    } else if body.ends_with('\n') {
        "\n"
    } else {
        "\n\n"
    };
    format!("{sep}[verified: annex:{annex_code}] {passage}")
}

/// Approved promotions whose passage the server still holds, by section.
pub fn promoted_passages(state: &RoomState) -> Vec<(SectionId, &str)> {
    state
        .access
        .promotions
        .values()
        .filter(|p| p.status == PromotionStatus::Approved)
        .filter_map(|p| p.passage.as_ref().map(|t| (p.section, t.expose())))
        .filter(|(_, t)| !t.is_empty())
        .collect()
}

// ---------------------------------------------------------------------------
// Retention
// ---------------------------------------------------------------------------

/// The salt a purged annex keeps instead of its real one: the server's
/// records say the content was there (and its boundary was checked) but is
/// gone. Never sent to clients (salts are redacted).
pub const PURGED_SALT: &str = "purged";

/// Whether the server purged this annex's content under retention.
pub fn is_purged(annex: &crate::annex::Annex) -> bool {
    annex.salt.as_deref() == Some(PURGED_SALT)
}

/// Removes annex content, salts and sensitive patterns, and promotion
/// passages from a state. Returns what was removed.
pub fn scrub_state(state: &mut RoomState) -> (Vec<AnnexId>, usize) {
    let mut annexes = Vec::new();
    for a in state.annexes.values_mut() {
        if a.content.is_some() || !is_purged(a) || !a.sensitive.is_empty() {
            annexes.push(a.id);
        }
        a.content = None;
        a.salt = Some(PURGED_SALT.into());
        a.sensitive.clear();
    }
    let mut passages = 0;
    for p in state.access.promotions.values_mut() {
        if p.passage.take().is_some() {
            passages += 1;
        }
    }
    (annexes, passages)
}

/// [`scrub_state`] for one stored change.
pub fn scrub_change(change: &mut Change) {
    match change {
        Change::AnnexAdded { annex } => {
            annex.content = None;
            annex.salt = Some(PURGED_SALT.into());
            annex.sensitive.clear();
        }
        Change::PromotionRequested { promotion } => promotion.passage = None,
        _ => {}
    }
}

/// Scrubs any stored JSON (a revision body, a snapshot, a queued admin
/// command): every annex-shaped object loses `content`, `salt` and
/// `sensitive`; every promotion-shaped object loses `passage`. Returns
/// whether anything changed.
pub fn scrub_json(value: &mut Value) -> bool {
    let mut changed = false;
    match value {
        Value::Object(map) => {
            let is_annex = map.contains_key("content_hash") && map.contains_key("classification");
            if is_annex {
                changed |= map.remove("content").is_some();
                if map.get("salt").and_then(Value::as_str) != Some(PURGED_SALT) {
                    map.insert("salt".into(), Value::String(PURGED_SALT.into()));
                    changed = true;
                }
                if map.get("sensitive").and_then(Value::as_array).is_some_and(|a| !a.is_empty()) {
                    map.insert("sensitive".into(), Value::Array(Vec::new()));
                    changed = true;
                }
            }
            if map.contains_key("passage_chars") {
                changed |= map.remove("passage").is_some();
            }
            for v in map.values_mut() {
                changed |= scrub_json(v);
            }
        }
        Value::Array(items) => {
            for v in items {
                changed |= scrub_json(v);
            }
        }
        _ => {}
    }
    changed
}

// ---------------------------------------------------------------------------
// Applying access changes
// ---------------------------------------------------------------------------

fn request_mut<'a>(state: &'a mut RoomState, id: &AccessRequestId) -> Result<&'a mut AccessRequest, ApplyError> {
    state.access.requests.get_mut(id).ok_or_else(|| ApplyError::NotFound(format!("access request {id}")))
}

fn move_request(r: &mut AccessRequest, to: RequestStatus) -> Result<(), ApplyError> {
    if !request_move_allowed(r.status, to) {
        return Err(ApplyError::Conflict(format!("request {} is {} and cannot become {to}", r.code(), r.status)));
    }
    r.status = to;
    Ok(())
}

/// Applies one access-governance change (called by [`crate::change::apply`]).
pub fn apply(state: &mut RoomState, rev: &Revision) -> Result<(), ApplyError> {
    match &rev.change {
        Change::AccessRequested { request } => {
            if state.access.requests.contains_key(&request.id) {
                return Err(ApplyError::Conflict(format!("access request {} already exists", request.id)));
            }
            if !state.annexes.contains_key(&request.annex) {
                return Err(ApplyError::NotFound(format!("annex {}", request.annex)));
            }
            if request.status != RequestStatus::Requested {
                return Err(ApplyError::Invalid("a new request starts as requested".into()));
            }
            state.access.requests.insert(request.id, request.clone());
        }
        Change::AccessFolded { request, fold } => {
            let r = request_mut(state, request)?;
            match fold.into {
                FoldInto::Pending if r.is_pending() => r.duration_ms = r.duration_ms.max(fold.duration_ms),
                FoldInto::Grant if r.status == RequestStatus::Approved => {}
                _ => return Err(ApplyError::Conflict(format!("request {} is {}; nothing to fold into", r.code(), r.status))),
            }
            r.folds.push(fold.clone());
        }
        Change::AccessDecided { request, approved, decided, expires_at } => {
            let r = request_mut(state, request)?;
            if *approved {
                let Some(expires) = expires_at else {
                    return Err(ApplyError::Invalid("an approval needs an expiry".into()));
                };
                move_request(r, RequestStatus::Approved)?;
                r.expires_at = Some(*expires);
            } else {
                move_request(r, RequestStatus::Denied)?;
            }
            r.decided = Some(decided.clone());
        }
        Change::AccessWithdrawn { request, at_ms } => {
            let r = request_mut(state, request)?;
            move_request(r, RequestStatus::Withdrawn)?;
            r.decided = Some(Decided { by: r.requester, note: Some("withdrawn by the requester".into()), at_ms: *at_ms });
        }
        Change::GrantEnded { grant, ended } => {
            let r = request_mut(state, grant)?;
            let to = if ended.cause == EndCause::Expired { RequestStatus::Expired } else { RequestStatus::Revoked };
            move_request(r, to)?;
            r.ended = Some(ended.clone());
        }
        Change::BreakGlassInvoked { invocation } => {
            if state.access.break_glass.contains_key(&invocation.id) {
                return Err(ApplyError::Conflict(format!("break-glass {} already exists", invocation.id)));
            }
            if invocation.ended.is_some() || invocation.ends_at <= invocation.at_ms {
                return Err(ApplyError::Invalid("a break-glass invocation starts active".into()));
            }
            if (invocation.ends_at - invocation.at_ms) as u64 > BREAK_GLASS_MAX_MS {
                return Err(ApplyError::Invalid("break-glass lasts at most 30 minutes".into()));
            }
            state.access.break_glass.insert(invocation.id, invocation.clone());
        }
        Change::BreakGlassEnded { invocation, ended, review } => {
            if state.objections.contains_key(&review.id) {
                return Err(ApplyError::Conflict(format!("objection {} already exists", review.id)));
            }
            let bg = state
                .access
                .break_glass
                .get_mut(invocation)
                .ok_or_else(|| ApplyError::NotFound(format!("break-glass {invocation}")))?;
            if bg.ended.is_some() {
                return Err(ApplyError::Conflict(format!("{} already ended", bg.code())));
            }
            bg.ended = Some(ended.clone());
            bg.review = Some(review.id);
            state.objections.insert(review.id, review.clone());
        }
        Change::PromotionRequested { promotion } => {
            if state.access.promotions.contains_key(&promotion.id) {
                return Err(ApplyError::Conflict(format!("promotion {} already exists", promotion.id)));
            }
            if promotion.status != PromotionStatus::Requested {
                return Err(ApplyError::Invalid("a new promotion starts as requested".into()));
            }
            state.access.promotions.insert(promotion.id, promotion.clone());
        }
        Change::PromotionDecided { promotion, decided, provenance } => {
            let p = state
                .access
                .promotions
                .get_mut(promotion)
                .ok_or_else(|| ApplyError::NotFound(format!("promotion {promotion}")))?;
            if p.status != PromotionStatus::Requested {
                return Err(ApplyError::Conflict(format!("promotion {} is already {}", p.code(), p.status)));
            }
            match provenance {
                Some(prov) => {
                    p.status = PromotionStatus::Approved;
                    p.passage_hash = Some(prov.passage_hash.clone());
                    p.provenance = Some(prov.clone());
                }
                None => p.status = PromotionStatus::Denied,
            }
            p.decided = Some(decided.clone());
        }
        Change::AccessPolicySet { policy } => {
            policy.validate().map_err(ApplyError::Invalid)?;
            state.access.policy = policy.clone().normalized();
        }
        Change::ChecksEvaluated { checks } => {
            state.access.checks = checks.clone();
        }
        Change::CheckOverridden { check_override } => {
            if state.access.overrides.iter().any(|o| o.check == check_override.check && o.is_active()) {
                return Err(ApplyError::Conflict(format!("check {} is already overridden", check_override.check)));
            }
            state.access.overrides.push(check_override.clone());
            for c in state.access.checks.iter_mut().filter(|c| c.check == check_override.check) {
                c.overridden = c.covered == check_override.covered;
            }
        }
        Change::CheckOverrideLapsed { check } => {
            let o = state
                .access
                .overrides
                .iter_mut()
                .find(|o| o.check == *check && o.is_active())
                .ok_or_else(|| ApplyError::NotFound(format!("active override of {check}")))?;
            o.lapsed_at = Some(rev.revision);
            for c in state.access.checks.iter_mut().filter(|c| c.check == *check) {
                c.overridden = false;
            }
        }
        Change::ContentPurged { purge } => {
            scrub_state(state);
            state.access.purged = Some(purge.clone());
        }
        other => return Err(ApplyError::Invalid(format!("{} is not an access change", other.kind_name()))),
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Answers
// ---------------------------------------------------------------------------

/// What happened to one annex of a `request_access`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestOutcome {
    pub annex: AnnexId,
    pub annex_code: String,
    /// The request (new, or the one it folded into).
    pub request: AccessRequestId,
    /// `R-N`.
    pub code: String,
    /// `new`, or what it folded into: `pending` or `grant`.
    pub outcome: String,
    pub status: RequestStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

/// `ok` result of `request_access`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestAccessResult {
    /// The revision of the last change recorded.
    pub revision: u64,
    #[serde(default)]
    pub duplicate: bool,
    #[serde(default)]
    pub requests: Vec<RequestOutcome>,
}

/// `ok` result of `break_glass`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakGlassResult {
    pub revision: u64,
    pub invocation: BreakGlassId,
    /// `BG-N`.
    pub code: String,
    pub ends_at: i64,
}

/// `ok` result of `request_promotion`, `approve_promotion`, `deny_promotion`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromotionResult {
    pub revision: u64,
    pub promotion: PromotionId,
    /// `P-N`.
    pub code: String,
    pub status: PromotionStatus,
}

/// `ok` result of `view_promotion` (annex content: shown to the deciders).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromotionPassage {
    pub promotion: PromotionId,
    pub code: String,
    pub annex: AnnexId,
    pub annex_code: String,
    pub section: SectionId,
    pub section_title: String,
    pub reason: String,
    pub passage: Sealed,
    /// This view is in the audit log.
    pub logged: bool,
}

/// `ok` result of `access_history`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistoryResult {
    pub room: crate::ids::RoomId,
    pub entries: Vec<crate::access_history::HistoryEntry>,
}

/// Parses a check or status name case-insensitively with `-` or `_`.
pub fn normalize_name(text: &str) -> String {
    text.trim().to_lowercase().replace('-', "_")
}

impl FromStr for AccessScope {
    type Err = ParseEnumError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "read" => Ok(AccessScope::Read),
            _ => Err(ParseEnumError { what: "access scope", value: s.into(), expected: "read" }),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
