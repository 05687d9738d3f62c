//! The ledger of requests waiting for their answer (helix-lsp's transport):
//! each request gets an id, its answer is matched to it by that id, and when
//! the connection ends every entry is drained with
//! [`RequestError::Disconnected`], so no caller waits forever.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::Value;
use tokio::sync::oneshot;
use trustroom_shared::protocol::ErrorCode;

/// Why a request failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RequestError {
    #[error("error[{code}]: {message}")]
    Server { code: ErrorCode, message: String },
    #[error("disconnected from the server")]
    Disconnected,
}

impl RequestError {
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            RequestError::Server { code, .. } => Some(*code),
            RequestError::Disconnected => None,
        }
    }
}

/// What a request resolves to.
pub type Answer = Result<Value, RequestError>;

/// Where a request's answer arrives.
pub type AnswerRx = oneshot::Receiver<Answer>;

/// Pending requests by id, shared by the connection's handle (which
/// registers them) and its reader task (which resolves and drains them).
#[derive(Clone, Debug, Default)]
pub struct Ledger {
    waiting: Arc<Mutex<HashMap<String, oneshot::Sender<Answer>>>>,
}

impl Ledger {
    /// Registers request `id`; the receiver gets its answer.
    pub fn register(&self, id: String) -> AnswerRx {
        let (tx, rx) = oneshot::channel();
        self.lock().insert(id, tx);
        rx
    }

    /// Hands `answer` to the request `id`. Gives the answer back when no
    /// request waits under that id (an answer to nothing we asked).
    pub fn resolve(&self, id: &str, answer: Answer) -> Result<(), Answer> {
        match self.lock().remove(id) {
            Some(tx) => {
                // The caller may have stopped waiting: nothing to do then.
                let _ = tx.send(answer);
                Ok(())
            }
            None => Err(answer),
        }
    }

    /// Forgets request `id` (it could not be sent).
    pub fn forget(&self, id: &str) {
        self.lock().remove(id);
    }

    /// The connection is gone: every waiting request learns it.
    pub fn drain(&self) {
        let waiting: Vec<_> = self.lock().drain().map(|(_, tx)| tx).collect();
        for tx in waiting {
            let _ = tx.send(Err(RequestError::Disconnected));
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, oneshot::Sender<Answer>>> {
        // The map stays consistent whatever a panicking holder did.
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn answers_match_by_id_and_drain_resolves_the_rest() {
        let ledger = Ledger::default();
        let a = ledger.register("r1".into());
        let b = ledger.register("r2".into());
        assert!(ledger.resolve("r2", Ok(Value::from(2))).is_ok());
        assert!(ledger.resolve("r9", Ok(Value::from(9))).is_err(), "an answer to nothing is handed back");
        ledger.drain();
        assert!(matches!(a.await, Ok(Err(RequestError::Disconnected))));
        assert!(matches!(b.await, Ok(Ok(v)) if v == 2));
        assert!(ledger.resolve("r1", Ok(Value::from(1))).is_err(), "drained entries are gone");
    }
}
