//! Who a secret is read as, and the login cache.
//!
//! Secrets with the same identity (API URL, gateway CA, access type, access
//! id and credential) share one login (D1). The login is made once even when
//! many secrets ask for it at the same moment: each identity has one slot
//! behind an async mutex, so the first asker logs in and the others wait for
//! its token. Tokens are cached until shortly before they expire. A 401 on a
//! data call with a token from a login invalidates that token once, so an
//! expired token costs exactly one new login.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use ci_secrets_provider_api::ResolveContext;
use secrecy::{ExposeSecret, SecretString};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tracing::Instrument as _;
use zeroize::Zeroizing;

use crate::api::{AkeylessApi, AuthOutput};
use crate::auth::{self, Credential};
use crate::block::AkeylessBlock;
use crate::error::{Failure, Operation};

/// Token lifetime assumed when `/auth` gives no expiry (K8s auth tokens
/// default to 300 s; ESO caches for 4 minutes).
const DEFAULT_LIFETIME: Duration = Duration::from_secs(240);
/// Refresh this long before expiry at most, so a token does not expire
/// between the cache check and the server.
const MAX_REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// How a secret gets its Akeyless token.
#[derive(Debug)]
pub(crate) enum Identity {
    /// `akeyless_token` was given: no login at all.
    Given(SecretString),
    /// Log in as `access_id` with `credential`.
    Login {
        access_id: String,
        credential: Credential,
    },
}

/// What makes two secrets share a login and a describe. Holds credentials,
/// so `Debug` shows only the public parts.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct IdentityKey {
    pub api_url: String,
    pub gateway_ca: Option<Vec<u8>>,
    access_type: &'static str,
    access_id: String,
    credential: Zeroizing<String>,
}

impl std::hash::Hash for IdentityKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.api_url.hash(state);
        self.gateway_ca.hash(state);
        self.access_type.hash(state);
        self.access_id.hash(state);
        self.credential.as_str().hash(state);
    }
}

impl fmt::Debug for IdentityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentityKey")
            .field("api_url", &self.api_url)
            .field("gateway_ca", &self.gateway_ca.is_some())
            .field("access_type", &self.access_type)
            .field("access_id", &self.access_id)
            .finish_non_exhaustive()
    }
}

impl Identity {
    /// The identity of a parsed block. `access_id` is `AKEYLESS_ACCESS_ID`;
    /// `token` is the secret's expanded `token:`.
    pub(crate) fn of(
        block: &AkeylessBlock,
        access_id: &str,
        token: Option<&SecretString>,
    ) -> Result<(IdentityKey, Identity), Failure> {
        let (access_type, credential_key, identity) = match &block.akeyless_token {
            Some(given) => (
                "token",
                Zeroizing::new(given.expose_secret().to_string()),
                Identity::Given(given.clone()),
            ),
            None => {
                let credential = Credential::of(block, token)?;
                (
                    block.access_type.wire_name(),
                    credential.key_material(),
                    Identity::Login {
                        access_id: access_id.to_string(),
                        credential,
                    },
                )
            }
        };
        let key = IdentityKey {
            api_url: block.api_url.clone(),
            gateway_ca: block.gateway_ca_pem.clone(),
            access_type,
            access_id: access_id.to_string(),
            credential: credential_key,
        };
        Ok((key, identity))
    }
}

/// A token and where it came from.
#[derive(Clone)]
pub(crate) struct Token {
    pub secret: SecretString,
    /// The login that produced it; `None` for a given `akeyless_token`.
    generation: Option<u64>,
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

struct CachedLogin {
    token: SecretString,
    generation: u64,
    refresh_at: Instant,
}

type Slot = Arc<tokio::sync::Mutex<Option<CachedLogin>>>;

/// Logins of one provider, shared by every resolution it makes.
#[derive(Default)]
pub(crate) struct LoginCache {
    slots: Mutex<HashMap<IdentityKey, Slot>>,
    generations: AtomicU64,
}

impl fmt::Debug for LoginCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        f.debug_struct("LoginCache")
            .field("identities", &slots.len())
            .finish()
    }
}

/// The tokens of one identity within one resolution.
#[derive(Debug)]
pub(crate) struct Session<'a> {
    cache: &'a LoginCache,
    key: &'a IdentityKey,
    identity: &'a Identity,
    api: &'a AkeylessApi,
}

impl<'a> Session<'a> {
    pub(crate) fn new(
        cache: &'a LoginCache,
        key: &'a IdentityKey,
        identity: &'a Identity,
        api: &'a AkeylessApi,
    ) -> Self {
        Self {
            cache,
            key,
            identity,
            api,
        }
    }

    /// A valid token: the given one, a cached one, or a new login.
    pub(crate) async fn token(&self, ctx: &ResolveContext) -> Result<Token, Failure> {
        self.token_replacing(ctx, None).await
    }

    /// Whether a 401 answered with `token` may be cured by logging in again.
    pub(crate) fn can_refresh(&self, token: &Token) -> bool {
        token.generation.is_some()
    }

    /// A token newer than `stale`, which the server refused. Concurrent
    /// callers with the same stale token share one new login.
    pub(crate) async fn refresh(
        &self,
        ctx: &ResolveContext,
        stale: &Token,
    ) -> Result<Token, Failure> {
        self.token_replacing(ctx, stale.generation).await
    }

    /// Runs a data call with a valid token. On a 401 with a token from a
    /// login, logs in again (once, shared with concurrent callers) and runs
    /// the call once more: the token may have expired mid-run.
    pub(crate) async fn call<T, F, Fut>(&self, ctx: &ResolveContext, call: F) -> Result<T, Failure>
    where
        F: Fn(SecretString) -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let token = self.token(ctx).await?;
        match call(token.secret.clone()).await {
            Err(failure) if failure.is_unauthorized() && self.can_refresh(&token) => {
                tracing::debug!("akeyless answered 401; logging in again once");
                let fresh = self.refresh(ctx, &token).await?;
                call(fresh.secret).await
            }
            outcome => outcome,
        }
    }

    async fn token_replacing(
        &self,
        ctx: &ResolveContext,
        stale: Option<u64>,
    ) -> Result<Token, Failure> {
        let (access_id, credential) = match self.identity {
            Identity::Given(token) => {
                return Ok(Token {
                    secret: token.clone(),
                    generation: None,
                });
            }
            Identity::Login {
                access_id,
                credential,
            } => (access_id, credential),
        };
        let slot = self.slot();
        let mut cached = slot.lock().await;
        if let Some(login) = cached.as_ref() {
            let fresh = Instant::now() < login.refresh_at;
            if fresh && stale != Some(login.generation) {
                ctx.metrics().record_cache_hit();
                return Ok(Token {
                    secret: login.token.clone(),
                    generation: Some(login.generation),
                });
            }
        }
        let span = tracing::info_span!(
            "akeyless.login",
            api_url = %self.api.base_url(),
            access_type = credential.access_type().wire_name(),
            access_id = %access_id,
            relogin = stale.is_some(),
        );
        let output = auth::login(ctx, self.api, access_id, credential)
            .instrument(span)
            .await?;
        ctx.metrics().record_login();
        let (token, lifetime) = token_and_lifetime(output)?;
        let generation = self.cache.generations.fetch_add(1, Ordering::Relaxed);
        let margin = MAX_REFRESH_MARGIN.min(lifetime / 2);
        *cached = Some(CachedLogin {
            token: token.clone(),
            generation,
            refresh_at: Instant::now() + lifetime.saturating_sub(margin),
        });
        Ok(Token {
            secret: token,
            generation: Some(generation),
        })
    }

    fn slot(&self) -> Slot {
        let mut slots = self
            .cache
            .slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        slots.entry(self.key.clone()).or_default().clone()
    }
}

fn token_and_lifetime(output: AuthOutput) -> Result<(SecretString, Duration), Failure> {
    let token = output
        .token
        .filter(|token| !token.is_empty())
        .ok_or_else(|| Failure::Malformed {
            operation: Operation::Auth,
            detail: "answered without a token".to_string(),
        })?;
    let expires_at = output
        .expiration
        .as_deref()
        .and_then(parse_expiration)
        .or_else(|| {
            output
                .creds
                .and_then(|creds| creds.expiry)
                .and_then(unix_expiry)
        });
    let lifetime = expires_at
        .map(|at| {
            at.duration_since(SystemTime::now())
                .unwrap_or(Duration::ZERO)
        })
        .unwrap_or(DEFAULT_LIFETIME);
    Ok((SecretString::from(token), lifetime))
}

/// `creds.expiry`: unix seconds (milliseconds when implausibly large).
fn unix_expiry(expiry: i64) -> Option<SystemTime> {
    let seconds = if expiry > 100_000_000_000 {
        expiry / 1000
    } else {
        expiry
    };
    let seconds = u64::try_from(seconds).ok()?;
    SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(seconds))
}

/// `expiration` in the layouts real clients accept: RFC 3339 (with or
/// without fractions) and Go's `2006-01-02 15:04:05 -0700 [MST]`.
fn parse_expiration(text: &str) -> Option<SystemTime> {
    let text = text.trim();
    let parsed = OffsetDateTime::parse(text, &Rfc3339).ok().or_else(|| {
        let go_layout = time::macros::format_description!(
            "[year]-[month]-[day] [hour]:[minute]:[second][optional [.[subsecond]]] [offset_hour sign:mandatory][offset_minute]"
        );
        // Go's layout may end in a zone abbreviation, which carries no
        // information beyond the offset.
        let without_zone = match text.rsplit_once(' ') {
            Some((head, zone)) if zone.chars().all(|c| c.is_ascii_alphabetic()) => head,
            _ => text,
        };
        OffsetDateTime::parse(without_zone, go_layout).ok()
    })?;
    Some(SystemTime::from(parsed))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn expirations_in_every_known_layout() {
        let expected = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_599);
        for text in [
            "2025-12-31T23:59:59Z",
            "2025-12-31T23:59:59.000000Z",
            "2025-12-31T23:59:59+00:00",
            "2025-12-31 23:59:59 +0000 UTC",
            "2025-12-31 23:59:59 +0000",
            "2026-01-01 00:59:59 +0100 CET",
        ] {
            assert_eq!(parse_expiration(text), Some(expected), "{text}");
        }
        assert_eq!(parse_expiration("tomorrow"), None);
        assert_eq!(unix_expiry(1_767_225_599), Some(expected));
        assert_eq!(unix_expiry(1_767_225_599_000), Some(expected));
    }

    #[test]
    fn lifetime_falls_back_to_the_default_and_needs_a_token() {
        let output = AuthOutput {
            token: Some("t-1".into()),
            expiration: None,
            creds: None,
        };
        let (_, lifetime) = token_and_lifetime(output).unwrap();
        assert_eq!(lifetime, DEFAULT_LIFETIME);
        let empty = AuthOutput {
            token: Some(String::new()),
            expiration: None,
            creds: None,
        };
        assert!(token_and_lifetime(empty).is_err());
    }
}
