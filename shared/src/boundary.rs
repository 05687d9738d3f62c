//! The room's boundary rules: what a suggestion must not drift into.
//!
//! The room never decides disclosure, never contacts customers, never
//! changes anyone's privileges and never runs remediation (DESIGN.md). A
//! suggestion whose inserted text or rationale reads like one of those is
//! *flagged* out-of-bounds: it is still stored (a human decides), but the
//! flags travel with it and every client shows them to the accepting human.
//!
//! Rules are per room (the owner replaces them with `set_boundary_rules`);
//! a room that never set any uses [`default_rules`]. A rule matches on
//! phrases (case-insensitive, whitespace-normalised substrings) and on
//! regular expressions (the `regex` crate, matched case-insensitively).

use regex::RegexBuilder;
use serde::{Deserialize, Serialize};

/// Longest rule list a room may set.
pub const MAX_RULES: usize = 64;
/// Most phrases plus patterns in one rule.
pub const MAX_MATCHERS_PER_RULE: usize = 64;
/// Longest phrase or pattern, in chars.
pub const MAX_MATCHER_CHARS: usize = 200;
/// Compiled size limit for one pattern (bytes), so a hostile pattern
/// cannot make the server build a huge automaton.
const MAX_REGEX_SIZE: usize = 256 * 1024;

/// What kind of out-of-bounds drift a rule catches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BoundaryCategory {
    /// Recommending disclosure, naming authorities, regulator notification.
    Disclosure,
    /// Drafting communication to customers or tenants.
    CustomerCommunication,
    /// Directing privilege, role or access changes.
    PrivilegeChange,
    /// Issuing remediation commands (rotate, revoke, delete, run…).
    Remediation,
    /// Anything else the owner configured.
    Other,
}

impl BoundaryCategory {
    /// Human label shown next to a flag.
    pub fn label(&self) -> &'static str {
        match self {
            BoundaryCategory::Disclosure => "recommends disclosure / regulator notification",
            BoundaryCategory::CustomerCommunication => "drafts customer communication",
            BoundaryCategory::PrivilegeChange => "directs privilege or role changes",
            BoundaryCategory::Remediation => "issues remediation commands",
            BoundaryCategory::Other => "outside the room's remit",
        }
    }
}

/// One rule: a name, a category, phrases and patterns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoundaryRule {
    /// Short stable name (`disclosure-authority`).
    pub id: String,
    pub category: BoundaryCategory,
    /// Case-insensitive phrases (whitespace runs match any whitespace run).
    #[serde(default)]
    pub phrases: Vec<String>,
    /// Regular expressions, matched case-insensitively.
    #[serde(default)]
    pub patterns: Vec<String>,
}

/// A rule that matched a suggestion.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoundaryFlag {
    /// The rule's id.
    pub rule: String,
    pub category: BoundaryCategory,
    /// Where it matched: `text` (inserted text) or `rationale`.
    pub field: String,
    /// The matched words (at most 80 chars), for the accepting human.
    pub matched: String,
}

/// Why a rule set was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("too many rules: {0} (limit {MAX_RULES})")]
    TooMany(usize),
    #[error("rule {0:?}: {1}")]
    Bad(String, String),
}

fn rule(id: &str, category: BoundaryCategory, phrases: &[&str], patterns: &[&str]) -> BoundaryRule {
    BoundaryRule {
        id: id.to_string(),
        category,
        phrases: phrases.iter().map(|s| s.to_string()).collect(),
        patterns: patterns.iter().map(|s| s.to_string()).collect(),
    }
}

/// The rules a room has until its owner sets others.
pub fn default_rules() -> Vec<BoundaryRule> {
    use BoundaryCategory::*;
    vec![
        rule(
            "disclosure-authority",
            Disclosure,
            &[
                "notify the regulator",
                "notify regulators",
                "regulator notification",
                "notify the ico",
                "notify the dpa",
                "supervisory authority",
                "data protection authority",
                "report to the authorities",
                "report this to the",
                "breach notification",
                "must be disclosed",
                "should be disclosed",
                "we recommend disclosure",
                "recommend disclosing",
                "file a report with",
            ],
            &[
                r"\b(notify|inform|report to|alert)\s+(the\s+)?(regulator|regulators|authorit(y|ies)|ico|cnil|dpa|ftc|sec)\b",
                r"\b(gdpr\s+)?art(icle)?\.?\s*(33|34)\b",
                r"\bwithin\s+72\s+hours\b",
            ],
        ),
        rule(
            "customer-communication",
            CustomerCommunication,
            &[
                "dear customer",
                "dear valued customer",
                "we are writing to inform you",
                "we sincerely apologi",
                "email the customer",
                "email the tenant",
                "contact the customer",
                "contact the affected customer",
                "send the following message",
                "draft email to",
                "customer notice",
                "notify the affected tenant",
                "notify affected customers",
            ],
            &[
                r"\b(dear|hello|hi)\s+(customer|tenant|team at|valued)\b",
                r"\b(send|email|write|message)\s+(to\s+)?(the\s+)?(affected\s+)?(customer|customers|tenant|tenants|client)s?\b",
                r"\bsubject:\s",
            ],
        ),
        rule(
            "privilege-change",
            PrivilegeChange,
            &[
                "revoke access for",
                "revoke their access",
                "remove admin rights",
                "remove their admin",
                "grant admin",
                "grant elevated",
                "downgrade the engineer",
                "suspend the engineer",
                "disable the account of",
                "change the role of",
                "promote to admin",
            ],
            &[
                r"\b(revoke|remove|suspend|disable|downgrade|strip)\s+(the\s+)?(engineer'?s?|user'?s?|agent'?s?|their|his|her|all)\s+(access|privileges?|rights?|roles?|permissions?|accounts?)\b",
                r"\b(grant|give|elevate|escalate)\s+(\w+\s+){0,4}(admin|root|elevated|privileged)\s+(access|rights|privileges?|role)\b",
            ],
        ),
        rule(
            "remediation-command",
            Remediation,
            &[
                "rotate the keys",
                "rotate all credentials",
                "rotate the credentials",
                "reset all passwords",
                "purge the logs",
                "delete the session recording",
                "delete the recording",
                "wipe the",
                "run the following",
                "execute the following",
                "kill the session",
                "terminate all sessions",
            ],
            &[
                r"(?m)^\s*(\$|#)\s*(sudo|kubectl|rm|curl|psql|mysql|aws|gcloud|az)\b",
                r"\b(sudo|kubectl\s+(delete|drain|exec)|rm\s+-rf|drop\s+table|truncate\s+table)\b",
                r"\b(immediately|now)\s+(rotate|revoke|delete|purge|wipe|reset|disable)\b",
            ],
        ),
    ]
}

/// Validates a rule set: sizes, ids, and that every pattern compiles.
pub fn validate(rules: &[BoundaryRule]) -> Result<(), RuleError> {
    if rules.len() > MAX_RULES {
        return Err(RuleError::TooMany(rules.len()));
    }
    let mut ids = std::collections::BTreeSet::new();
    for r in rules {
        let bad = |m: &str| RuleError::Bad(r.id.chars().take(40).collect(), m.to_string());
        if r.id.trim().is_empty() || r.id.chars().count() > 64 {
            return Err(bad("an id must have 1..=64 characters"));
        }
        if !ids.insert(r.id.clone()) {
            return Err(bad("duplicate rule id"));
        }
        if r.phrases.is_empty() && r.patterns.is_empty() {
            return Err(bad("a rule needs at least one phrase or pattern"));
        }
        if r.phrases.len() + r.patterns.len() > MAX_MATCHERS_PER_RULE {
            return Err(bad("too many phrases and patterns"));
        }
        for m in r.phrases.iter().chain(&r.patterns) {
            if m.trim().is_empty() || m.chars().count() > MAX_MATCHER_CHARS {
                return Err(bad("phrases and patterns must have 1..=200 characters"));
            }
        }
        for p in &r.patterns {
            compile(p).map_err(|e| bad(&format!("pattern {p:?} does not compile: {e}")))?;
        }
    }
    Ok(())
}

fn compile(pattern: &str) -> Result<regex::Regex, regex::Error> {
    RegexBuilder::new(pattern).case_insensitive(true).size_limit(MAX_REGEX_SIZE).build()
}

/// Lower-case with every whitespace run collapsed to one space.
fn normalise(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

fn shown(s: &str) -> String {
    let t: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if t.chars().count() > 80 { t.chars().take(79).chain(['…']).collect() } else { t }
}

/// The flags `rules` raise on a suggestion's inserted text and rationale:
/// at most one flag per rule and field, in rule order. Patterns that do not
/// compile (never stored: [`validate`] refuses them) are skipped.
pub fn evaluate(rules: &[BoundaryRule], inserted: &str, rationale: &str) -> Vec<BoundaryFlag> {
    let mut flags = Vec::new();
    for (field, text) in [("text", inserted), ("rationale", rationale)] {
        if text.trim().is_empty() {
            continue;
        }
        let norm = normalise(text);
        for r in rules {
            let phrase = r.phrases.iter().find_map(|p| {
                let p = normalise(p);
                norm.find(&p).map(|i| norm[i..i + p.len()].to_string())
            });
            let matched = phrase.or_else(|| {
                r.patterns
                    .iter()
                    .find_map(|p| compile(p).ok().and_then(|re| re.find(text).map(|m| m.as_str().to_string())))
            });
            if let Some(m) = matched {
                flags.push(BoundaryFlag {
                    rule: r.id.clone(),
                    category: r.category,
                    field: field.to_string(),
                    matched: shown(&m),
                });
            }
        }
    }
    flags
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flagged(text: &str) -> Vec<BoundaryCategory> {
        evaluate(&default_rules(), text, "").into_iter().map(|f| f.category).collect()
    }

    #[test]
    fn defaults_are_valid() {
        validate(&default_rules()).expect("default rules validate");
    }

    #[test]
    fn out_of_bounds_examples_are_flagged() {
        use BoundaryCategory::*;
        let cases: &[(&str, BoundaryCategory)] = &[
            ("Given the scope we should notify the regulator within 72 hours.", Disclosure),
            ("This meets the GDPR Article 33 threshold; inform the ICO.", Disclosure),
            ("We recommend disclosure to both tenants' data protection authority.", Disclosure),
            ("Dear customer, we are writing to inform you of an incident.", CustomerCommunication),
            ("Email the affected tenant today with the summary below.", CustomerCommunication),
            ("Subject: Important security notice about your account", CustomerCommunication),
            ("Revoke the engineer's access and remove admin rights from the support pool.", PrivilegeChange),
            ("Grant the privacy reviewer admin access to the tenant console.", PrivilegeChange),
            ("Immediately rotate the keys for both tenants.", Remediation),
            ("Run the following:\n$ kubectl delete pod support-bridge-7", Remediation),
            ("Purge the logs of session S-19 and delete the recording.", Remediation),
        ];
        for (text, want) in cases {
            let got = flagged(text);
            assert!(got.contains(want), "{text:?} should be flagged {want:?}, got {got:?}");
        }
    }

    #[test]
    fn normal_packet_text_passes() {
        let normal = [
            "[verified: TL-0412, SL-0088] The engineer opened remote session S-19 at 09:14 UTC.",
            "[contested: O-3] Only the ticket list of one tenant was visible for about four minutes.",
            "The downstream privacy review decides whether any notification is required.",
            "[restricted] Full tenant identifiers: see [[annex:A1]].",
            "Session logs show the shared console was closed at 09:18; no export was run.",
            "The support engineer's role allowed cross-tenant console access at the time.",
            "Chronology: 09:02 ticket escalated; 09:14 session opened; 09:18 session closed.",
        ];
        for text in normal {
            assert!(flagged(text).is_empty(), "{text:?} flagged: {:?}", evaluate(&default_rules(), text, ""));
        }
    }

    #[test]
    fn rationale_is_evaluated_and_flags_name_the_field() {
        let flags = evaluate(&default_rules(), "Adds the 09:14 entry.", "so we can notify the regulator");
        assert_eq!(flags.len(), 1);
        assert_eq!(flags[0].field, "rationale");
        assert_eq!(flags[0].rule, "disclosure-authority");
        assert_eq!(flags[0].matched, "notify the regulator");
    }

    #[test]
    fn phrases_match_across_whitespace_and_case() {
        let flags = evaluate(&default_rules(), "DEAR\n  Customer,", "");
        assert_eq!(flags.len(), 1);
        assert_eq!(flags[0].category, BoundaryCategory::CustomerCommunication);
    }

    #[test]
    fn room_rules_replace_defaults() {
        let rules = vec![rule("no-names", BoundaryCategory::Other, &["acme corp"], &[r"\bT-\d{4}\b"])];
        validate(&rules).expect("valid");
        assert_eq!(evaluate(&rules, "Notify the regulator", "").len(), 0);
        assert_eq!(evaluate(&rules, "tenant T-4821 saw it", "").len(), 1);
        assert_eq!(evaluate(&rules, "ACME  Corp saw it", "").len(), 1);
    }

    #[test]
    fn bad_rule_sets_are_refused() {
        let bad_pattern = vec![rule("x", BoundaryCategory::Other, &[], &["(unclosed"])];
        assert!(matches!(validate(&bad_pattern), Err(RuleError::Bad(..))));
        let empty = vec![rule("x", BoundaryCategory::Other, &[], &[])];
        assert!(validate(&empty).is_err());
        let dup =
            vec![rule("x", BoundaryCategory::Other, &["a"], &[]), rule("x", BoundaryCategory::Other, &["b"], &[])];
        assert!(validate(&dup).is_err());
        let huge = vec![rule("x", BoundaryCategory::Other, &[], &[r"\w{1000}\w{1000}\w{1000}"])];
        assert!(validate(&huge).is_err(), "size limit refuses huge automata");
        let many: Vec<BoundaryRule> =
            (0..=MAX_RULES).map(|i| rule(&format!("r{i}"), BoundaryCategory::Other, &["a"], &[])).collect();
        assert!(matches!(validate(&many), Err(RuleError::TooMany(_))));
    }
}
