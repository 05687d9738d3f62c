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

impl ClientId {
    /// The client id the server uses for `claimed` from `user`: a
    /// deterministic id bound to the authenticated user (UUID v8 from
    /// SHA-256 of both). Resends are deduplicated by this id, so another
    /// user who claims the same client id gets a different one and can
    /// never answer for — or suppress — this user's requests. The same
    /// user claiming the same id again (a reconnect) gets the same one.
    pub fn bound(user: UserId, claimed: ClientId) -> ClientId {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(b"trustroom client id\0");
        h.update(user.0.as_bytes());
        h.update(claimed.0.as_bytes());
        let digest = h.finalize();
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        ClientId(uuid::Builder::from_custom_bytes(bytes).into_uuid())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bound_client_ids_differ_per_user_and_are_stable() {
        let (a, b, c) = (UserId::new(), UserId::new(), ClientId::new());
        assert_eq!(ClientId::bound(a, c), ClientId::bound(a, c));
        assert_ne!(ClientId::bound(a, c), ClientId::bound(b, c));
        assert_ne!(ClientId::bound(a, c), c);
        // Claiming someone's bound id gives yet another id.
        assert_ne!(ClientId::bound(b, ClientId::bound(a, c)), ClientId::bound(a, c));
    }
}
