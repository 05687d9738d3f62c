//! Roles of room members. Capabilities come from the role (see `policy`),
//! never from what a client claims.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::release::Lane;

/// A reviewer's discipline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Discipline {
    SupportTrust,
    Privacy,
    Legal,
    SupportEngineering,
}

/// What an agent member does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AgentRole {
    Chronology,
    ObjectionNormaliser,
    TraceKeeper,
}

/// A member's role in one room.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "kebab-case")]
pub enum Role {
    Owner,
    Reviewer {
        discipline: Discipline,
    },
    Agent {
        agent_role: AgentRole,
    },
    Observer,
    /// A downstream reviewer of one lane: reads only its lane's releases,
    /// decides their intake and reports findings (`downstream.rs`); never
    /// joins the room.
    Downstream {
        lane: Lane,
    },
}

impl Role {
    /// Short name: `owner`, `reviewer`, `agent`, `observer`, `downstream`.
    pub fn name(&self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Reviewer { .. } => "reviewer",
            Role::Agent { .. } => "agent",
            Role::Observer => "observer",
            Role::Downstream { .. } => "downstream",
        }
    }

    /// Human label including discipline or agent role.
    pub fn label(&self) -> String {
        match self {
            Role::Owner => "owner".into(),
            Role::Reviewer { discipline } => format!("reviewer/{discipline}"),
            Role::Agent { agent_role } => format!("agent/{agent_role}"),
            Role::Observer => "observer".into(),
            Role::Downstream { lane } => format!("downstream/{lane}"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown {what} {value:?} (expected one of: {expected})")]
pub struct ParseEnumError {
    pub what: &'static str,
    pub value: String,
    pub expected: &'static str,
}

macro_rules! kebab_enum_text {
    ($ty:ty, $what:literal, [$($variant:path => $text:literal),+ $(,)?]) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(match self { $($variant => $text),+ })
            }
        }
        impl FromStr for $ty {
            type Err = ParseEnumError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($variant),)+
                    _ => Err(ParseEnumError {
                        what: $what,
                        value: s.to_string(),
                        expected: concat!($($text, " "),+),
                    }),
                }
            }
        }
    };
}
pub(crate) use kebab_enum_text;

kebab_enum_text!(Discipline, "discipline", [
    Discipline::SupportTrust => "support-trust",
    Discipline::Privacy => "privacy",
    Discipline::Legal => "legal",
    Discipline::SupportEngineering => "support-engineering",
]);

kebab_enum_text!(AgentRole, "agent role", [
    AgentRole::Chronology => "chronology",
    AgentRole::ObjectionNormaliser => "objection-normaliser",
    AgentRole::TraceKeeper => "trace-keeper",
]);

/// A role from its label, as [`Role::label`] writes it: `owner`,
/// `reviewer/DISCIPLINE`, `agent/AGENT-ROLE`, `observer` or `downstream/LANE`.
impl FromStr for Role {
    type Err = ParseEnumError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once('/') {
            None if s == "owner" => Ok(Role::Owner),
            None if s == "observer" => Ok(Role::Observer),
            Some(("reviewer", discipline)) => Ok(Role::Reviewer { discipline: discipline.parse()? }),
            Some(("agent", agent_role)) => Ok(Role::Agent { agent_role: agent_role.parse()? }),
            Some(("downstream", lane)) => Ok(Role::Downstream { lane: lane.parse()? }),
            _ => Err(ParseEnumError {
                what: "role",
                value: s.to_string(),
                expected: "owner reviewer/DISCIPLINE agent/AGENT-ROLE observer downstream/LANE",
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_parses_from_its_label() {
        let mut roles = vec![Role::Owner, Role::Observer];
        for discipline in
            [Discipline::SupportTrust, Discipline::Privacy, Discipline::Legal, Discipline::SupportEngineering]
        {
            roles.push(Role::Reviewer { discipline });
        }
        for agent_role in [AgentRole::Chronology, AgentRole::ObjectionNormaliser, AgentRole::TraceKeeper] {
            roles.push(Role::Agent { agent_role });
        }
        for lane in Lane::ALL {
            roles.push(Role::Downstream { lane });
        }
        for role in roles {
            assert_eq!(role.label().parse::<Role>().ok(), Some(role), "{}", role.label());
        }
        for bad in ["", "admin", "reviewer", "reviewer/tax", "agent/", "owner/x", "downstream", "downstream/tax"] {
            assert!(bad.parse::<Role>().is_err(), "{bad:?}");
        }
    }
}
