//! The room's access policy, the reason rule and grant durations.

use serde::{Deserialize, Serialize};

use crate::ids::UserId;

pub const SECOND_MS: u64 = 1_000;
pub const MINUTE_MS: u64 = 60 * SECOND_MS;
pub const HOUR_MS: u64 = 60 * MINUTE_MS;
pub const DAY_MS: u64 = 24 * HOUR_MS;

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

/// The durations a front end offers for an access request (the CLI's
/// `--for`): 15m, 1h, 4h and 1d, plus the room's default, none longer than
/// the room's longest grant — which is offered itself when shorter than a
/// day. Shortest first; the default is among them.
pub fn duration_choices(policy: &AccessPolicy) -> Vec<u64> {
    let max = policy.max_duration_ms.max(1);
    let mut out: Vec<u64> = [15 * MINUTE_MS, HOUR_MS, 4 * HOUR_MS, DAY_MS, policy.default_duration_ms]
        .into_iter()
        .filter(|d| *d > 0 && *d <= max)
        .collect();
    if max < DAY_MS {
        out.push(max);
    }
    out.sort_unstable();
    out.dedup();
    out
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
