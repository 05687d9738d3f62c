//! Typed identifiers. Every id is a UUID v7, so ids sort by creation time.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh time-ordered id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

id_type!(/// A room: one protected packet and everything around it.
    RoomId);
id_type!(/// A person or agent known to the server (holds a token).
    UserId);
id_type!(/// A section of the packet.
    SectionId);
id_type!(/// An objection in the disagreement register.
    ObjectionId);
id_type!(/// A reply in an objection's thread.
    ReplyId);
id_type!(/// A restricted annex.
    AnnexId);
id_type!(/// One client process (chosen by the client, stable across reconnects).
    ClientId);
id_type!(/// A request for annex access; once approved, the grant it became.
    AccessRequestId);
id_type!(/// One break-glass invocation.
    BreakGlassId);
id_type!(/// A request to promote an annex passage into the packet.
    PromotionId);
id_type!(/// A suggestion: a proposed section edit or register change.
    SuggestionId);
