//! The test's control over its editors: the server's URL, stop, bursts, the catch-up target, who is joined.

use super::*;

/// Control shared by the test and its editors.
#[derive(Clone)]
pub struct Control {
    /// The server's current URL (changes on every restart).
    pub url: watch::Receiver<String>,
    /// Set to stop generating new operations (outstanding ones still finish).
    pub stop: watch::Receiver<bool>,
    /// Bumped to make every editor pipeline a burst of objections now.
    pub burst: watch::Receiver<u64>,
    pub fanout: Arc<Fanout>,
    /// Editors that stopped and have nothing outstanding.
    pub idle: Arc<std::sync::atomic::AtomicUsize>,
    /// The revision to catch up to before finishing (set once all are idle).
    pub target: watch::Receiver<Option<u64>>,
    /// Editors joined right now.
    pub joined: Arc<std::sync::atomic::AtomicUsize>,
}

/// The test's side of [`Control`].
pub struct Steering {
    pub url: watch::Sender<String>,
    pub stop: watch::Sender<bool>,
    pub burst: watch::Sender<u64>,
    pub target: watch::Sender<Option<u64>>,
    pub idle: Arc<std::sync::atomic::AtomicUsize>,
    pub joined: Arc<std::sync::atomic::AtomicUsize>,
}

/// A control for editors and the test's handle on it.
pub fn control(url: &str) -> (Control, Steering) {
    let (url_tx, url) = watch::channel(url.to_string());
    let (stop_tx, stop) = watch::channel(false);
    let (burst_tx, burst) = watch::channel(0u64);
    let (target_tx, target) = watch::channel(None);
    let idle = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let joined = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    (
        Control {
            url,
            stop,
            burst,
            fanout: Arc::new(Fanout::default()),
            idle: idle.clone(),
            target,
            joined: joined.clone(),
        },
        Steering { url: url_tx, stop: stop_tx, burst: burst_tx, target: target_tx, idle, joined },
    )
}

impl Steering {
    /// Waits until `n` editors are joined (or `wait` passes).
    pub async fn all_joined(&self, n: usize, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        while self.joined.load(std::sync::atomic::Ordering::SeqCst) < n {
            if Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        true
    }

    /// Waits until no editor is joined: each has read its connection to
    /// the end (or `wait` passes).
    pub async fn none_joined(&self, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        while self.joined.load(std::sync::atomic::Ordering::SeqCst) > 0 {
            if Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        true
    }

    /// Stops the editors: they finish what is outstanding, then catch up
    /// to the room's final revision (read by a fresh client) and end.
    pub async fn finish(
        &self,
        tasks: Vec<tokio::task::JoinHandle<EditorReport>>,
        token: &str,
        room: RoomId,
    ) -> anyhow::Result<(Vec<EditorReport>, RoomState)> {
        self.stop.send_replace(true);
        let n = tasks.len();
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.idle.load(std::sync::atomic::Ordering::SeqCst) < n {
            if tasks.iter().all(|t| t.is_finished()) || Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let url = self.url.borrow().clone();
        let state = fetch_state(&url, token, room).await?;
        self.target.send_replace(Some(state.revision));
        let mut reports = Vec::new();
        for t in tasks {
            reports.push(t.await?);
        }
        Ok((reports, state))
    }
}
