//! Session tokens issued by `/auth`: random `t-...` strings that expire. Reads take a shared lock
//! for a hash lookup only; nothing holds the lock across an await.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use rand::distr::{Alphanumeric, SampleString as _};

/// A live or expired session.
#[derive(Clone, Debug)]
pub(crate) struct Session {
    pub(crate) access_id: Arc<str>,
    pub(crate) expires_at: SystemTime,
}

/// Why a token is not accepted.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TokenRejection {
    Unknown,
    Expired,
}

#[derive(Debug)]
pub(crate) struct TokenStore {
    ttl: Duration,
    sessions: RwLock<HashMap<String, Session>>,
}

impl TokenStore {
    pub(crate) fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            sessions: RwLock::new(HashMap::new()),
        }
    }

    /// Issues a fresh token for `access_id`, valid for the TTL from `now`.
    pub(crate) fn issue(&self, access_id: Arc<str>, now: SystemTime) -> (String, Session) {
        let token = format!("t-{}", Alphanumeric.sample_string(&mut rand::rng(), 32));
        let session = Session {
            access_id,
            expires_at: now + self.ttl,
        };
        let mut sessions = self
            .sessions
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        // Benchmarks log in many times: drop expired sessions now and then instead of growing.
        if sessions.len() >= 100_000 {
            sessions.retain(|_, s| s.expires_at > now);
        }
        sessions.insert(token.clone(), session.clone());
        (token, session)
    }

    /// The session of a token that exists and has not expired at `now`.
    pub(crate) fn check(&self, token: &str, now: SystemTime) -> Result<Session, TokenRejection> {
        let sessions = self.sessions.read().unwrap_or_else(PoisonError::into_inner);
        match sessions.get(token) {
            None => Err(TokenRejection::Unknown),
            Some(s) if s.expires_at <= now => Err(TokenRejection::Expired),
            Some(s) => Ok(s.clone()),
        }
    }

    /// Like [`Self::check`], but an expired session is returned too (for `/validate-token`).
    pub(crate) fn lookup(&self, token: &str) -> Option<Session> {
        let sessions = self.sessions.read().unwrap_or_else(PoisonError::into_inner);
        sessions.get(token).cloned()
    }

    /// Expires every token issued so far, as if their TTL had passed, so tests can exercise
    /// re-authentication without waiting.
    pub(crate) fn expire_all(&self, now: SystemTime) {
        let mut sessions = self
            .sessions
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        for session in sessions.values_mut() {
            session.expires_at = session.expires_at.min(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_expire_after_the_ttl_and_on_demand() {
        let store = TokenStore::new(Duration::from_secs(60));
        let now = SystemTime::now();
        let (token, session) = store.issue(Arc::from("p-x"), now);
        assert!(token.starts_with("t-"));
        assert_eq!(session.expires_at, now + Duration::from_secs(60));
        assert_eq!(&*store.check(&token, now).unwrap().access_id, "p-x");
        assert_eq!(
            store
                .check(&token, now + Duration::from_secs(60))
                .unwrap_err(),
            TokenRejection::Expired
        );
        assert_eq!(
            store.check("t-nope", now).unwrap_err(),
            TokenRejection::Unknown
        );
        store.expire_all(now);
        assert_eq!(
            store.check(&token, now).unwrap_err(),
            TokenRejection::Expired
        );
    }
}
