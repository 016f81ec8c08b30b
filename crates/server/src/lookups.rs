//! Credential lookups shared between concurrent requests, without reading stale rows.
//!
//! Every request reads its credential from the store, so a revocation committed before a
//! request arrives refuses that request on every server process. Under load most requests
//! carry the same few keys; reading each key once per request made half of the statements
//! PostgreSQL ran for single-statement ingest. Here requests for a key take turns in
//! rounds: the first request reads; requests that arrive while a read is in flight wait
//! for the next read, which one of them starts once the current one is done, and share
//! it. A read is only ever shared by requests that arrived before it started, so each
//! still sees everything committed before it arrived.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Mutex, PoisonError};

use store::{Credential, StoreError};
use tokio::sync::oneshot;

/// What one read of a credential gives.
pub type Lookup = Result<Option<Credential>, StoreError>;

/// What a waiting request is told: the read it waited for, or that it starts the next one
/// for itself and the requests given.
enum Turn {
    Read(Lookup),
    Lead(Vec<oneshot::Sender<Turn>>),
}

/// The rounds in progress, per key. A key is present while a read of it is in flight;
/// its value holds the requests waiting for the next read.
#[derive(Default)]
pub struct CredentialLookups {
    rounds: Mutex<HashMap<String, Vec<oneshot::Sender<Turn>>>>,
}

impl CredentialLookups {
    /// The credential under `key`, read by `read` now or shared from a read that started
    /// after this call.
    pub async fn credential<F, Fut>(&self, key: &str, read: F) -> Lookup
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Lookup>,
    {
        let waiting = {
            let mut rounds = self.rounds.lock().unwrap_or_else(PoisonError::into_inner);
            match rounds.get_mut(key) {
                Some(waiting) => {
                    let (turn, told) = oneshot::channel();
                    waiting.push(turn);
                    Some(told)
                }
                None => {
                    rounds.insert(key.to_string(), Vec::new());
                    None
                }
            }
        };
        let sharers = match waiting {
            None => Vec::new(),
            Some(told) => match told.await {
                Ok(Turn::Read(lookup)) => return lookup,
                Ok(Turn::Lead(sharers)) => sharers,
                // Never happens: a round hands on its turn even when dropped (see `Round`).
                Err(_) => return read().await,
            },
        };
        let round = Round { lookups: self, key, sharers };
        let lookup = read().await;
        round.finish(&lookup);
        lookup
    }

    /// Hands the next read to the first request that waits for one, or ends the key's
    /// rounds when none does.
    fn hand_on(&self, key: &str) {
        let mut rounds = self.rounds.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(waiting) = rounds.get_mut(key) else { return };
        let mut waiting = std::mem::take(waiting).into_iter();
        loop {
            let Some(next) = waiting.next() else {
                rounds.remove(key);
                return;
            };
            // A request that went away cannot lead: try the next one.
            match next.send(Turn::Lead(waiting.collect())) {
                Ok(()) => return,
                Err(Turn::Lead(rest)) => waiting = rest.into_iter(),
                Err(Turn::Read(_)) => unreachable!("a Lead turn comes back as sent"),
            }
        }
    }
}

/// A read in flight and the requests sharing it. Dropped before it finishes (its request
/// went away), it still hands the next read on, and those sharing it read for themselves.
struct Round<'a> {
    lookups: &'a CredentialLookups,
    key: &'a str,
    sharers: Vec<oneshot::Sender<Turn>>,
}

impl Round<'_> {
    fn finish(mut self, lookup: &Lookup) {
        for sharer in self.sharers.drain(..) {
            let _ = sharer.send(Turn::Read(lookup.clone()));
        }
    }
}

impl Drop for Round<'_> {
    fn drop(&mut self) {
        // Sharers left here were not answered: they lead a read each rather than wait.
        for sharer in self.sharers.drain(..) {
            let _ = sharer.send(Turn::Lead(Vec::new()));
        }
        self.lookups.hand_on(self.key);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use store::{CredentialReader, CredentialWriter, DEFAULT_STORE, SqliteStore};
    use tokio::sync::Semaphore;
    use xapi::Timestamp;

    use super::*;

    fn credential(key: &str) -> Credential {
        Credential {
            key: key.to_string(),
            store: DEFAULT_STORE,
            name: "LMS".to_string(),
            scopes: vec!["all".to_string()],
            secret_sha256: [7; 32],
            created: Timestamp::now(),
            revoked: false,
            acts_for: None,
        }
    }

    /// A real store whose credential reads are counted and, once read, answer only when
    /// the test lets them: the tests order reads and arrivals by waiting for them, not by
    /// the clock.
    struct Gated {
        store: SqliteStore,
        reads: AtomicUsize,
        answers: Semaphore,
    }

    impl Gated {
        async fn read(&self, key: &str) -> Lookup {
            let lookup = self.store.credential(key).await;
            self.reads.fetch_add(1, Ordering::SeqCst);
            self.answers.acquire().await.expect("never closed").forget();
            lookup
        }
    }

    /// A store holding the credential `lms`, read through a gate, and empty rounds.
    async fn gated_store() -> (Arc<Gated>, Arc<CredentialLookups>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        store.create_credential(credential("lms")).await.unwrap();
        let gated = Arc::new(Gated { store, reads: AtomicUsize::new(0), answers: Semaphore::new(0) });
        (gated, Arc::new(CredentialLookups::default()), dir)
    }

    fn look_up(lookups: &Arc<CredentialLookups>, gated: &Arc<Gated>) -> tokio::task::JoinHandle<Lookup> {
        let (lookups, gated) = (lookups.clone(), gated.clone());
        tokio::spawn(async move { lookups.credential("lms", || gated.read("lms")).await })
    }

    /// Returns once `reached` holds (within seconds).
    async fn until(reached: impl Fn() -> bool) {
        let waiting = async {
            while !reached() {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(10), waiting).await.expect("reached in time");
    }

    fn reads(gated: &Gated) -> usize {
        gated.reads.load(Ordering::SeqCst)
    }

    /// Requests waiting for the next read of `lms`.
    fn waiting(lookups: &CredentialLookups) -> usize {
        lookups.rounds.lock().unwrap().get("lms").map_or(0, Vec::len)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn requests_that_arrive_during_a_read_share_the_next_one() {
        let (gated, lookups, _dir) = gated_store().await;
        let first = look_up(&lookups, &gated);
        until(|| reads(&gated) == 1).await;
        let waiting_requests: Vec<_> = (0..20).map(|_| look_up(&lookups, &gated)).collect();
        until(|| waiting(&lookups) == 20).await;
        gated.answers.add_permits(2);
        assert!(first.await.unwrap().unwrap().is_some());
        for request in waiting_requests {
            assert_eq!(request.await.unwrap().unwrap().map(|c| c.key), Some("lms".to_string()));
        }
        assert_eq!(reads(&gated), 2, "one read, then one shared by the 20");
        assert!(lookups.rounds.lock().unwrap().is_empty(), "no round is left behind");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_request_after_a_revocation_never_gets_a_read_that_started_before_it() {
        let (gated, lookups, _dir) = gated_store().await;
        let before = look_up(&lookups, &gated);
        until(|| reads(&gated) == 1).await;
        // The first read has happened and has not answered yet: revoke meanwhile.
        assert!(gated.store.revoke_credential("lms").await.unwrap());
        let after = look_up(&lookups, &gated);
        until(|| waiting(&lookups) == 1).await;
        gated.answers.add_permits(2);
        assert!(!before.await.unwrap().unwrap().unwrap().revoked, "read before the revocation");
        assert!(after.await.unwrap().unwrap().unwrap().revoked, "the request after it reads again");
        assert_eq!(reads(&gated), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_request_that_goes_away_mid_read_leaves_no_one_waiting() {
        let (gated, lookups, _dir) = gated_store().await;
        let leader = look_up(&lookups, &gated);
        until(|| reads(&gated) == 1).await;
        let waiting_request = look_up(&lookups, &gated);
        until(|| waiting(&lookups) == 1).await;
        leader.abort();
        gated.answers.add_permits(1);
        let answered = tokio::time::timeout(Duration::from_secs(10), waiting_request).await;
        assert!(answered.expect("the waiting request is answered").unwrap().unwrap().is_some());
        assert_eq!(reads(&gated), 2, "the waiting request read for itself");
        assert!(lookups.rounds.lock().unwrap().is_empty());
    }
}
