//! `ci-secrets plan` and `ci-secrets doctor` for Vault.
//!
//! A job's Vault secrets share its server, auth path, role and namespace;
//! they log in once per distinct JWT (the identity), then each distinct path
//! is one `GET`, which the secrets of that path share. The doctor logs in and asks `sys/capabilities-self` whether the
//! token may read each secret's path: that answers with capabilities, never
//! with secret data.

use ci_secrets_provider_api::diagnostics::{Check, Identity, PlannedCall, SecretPlan};
use ci_secrets_provider_api::{ErrorKind, ResolveContext, SecretRequest};
use futures::future::join_all;

use crate::client::VaultClient;
use crate::config::VaultConfig;
use crate::connection::{ca_pem, connect};
use crate::jwt::Jwt;
use crate::request::VaultRequest;
use crate::settings::ServerSettings;

/// The login path as shown: `PUT /v1/auth/<path>/login` (GitLab Runner's method).
fn login_call(settings: &ServerSettings) -> String {
    format!("PUT /v1/{}", settings.login_segments().join("/"))
}

/// What `plan` shows of the identity of the `ordinal`-th distinct JWT.
fn identity(
    settings: &ServerSettings,
    ca_pem: Option<&[u8]>,
    jwt: &Jwt,
    ordinal: usize,
) -> Identity {
    let role = settings
        .role
        .as_deref()
        .unwrap_or("(the auth method's default role)");
    let mut label = format!(
        "vault {} auth/{} role {role}",
        settings.url, settings.auth_path
    );
    if let Some(namespace) = &settings.namespace {
        label.push_str(&format!(" namespace {namespace}"));
    }
    if ordinal > 1 {
        label.push_str(&format!(" #{ordinal}"));
    }
    let mut shown = Identity::new(label)
        .with_field("server", settings.url.as_str())
        .with_field("auth path", format!("auth/{}", settings.auth_path))
        .with_field("role", role)
        .with_field(
            "namespace",
            settings.namespace.as_deref().unwrap_or("(none)"),
        )
        .with_field("JWT", jwt.source.to_string())
        .with_field(
            "TLS roots",
            if ca_pem.is_some() {
                "system roots + VAULT_CACERT / [providers.vault] ca_cert"
            } else {
                "system roots"
            },
        )
        .with_endpoint(settings.url.clone())
        .with_ca_setting("VAULT_CACERT")
        .with_login(login_call(settings));
    if let Some(ca) = ca_pem {
        shown = shown.with_ca_pem(ca.to_vec());
    }
    shown
}

/// The plan of every request (`Provider::plan`).
pub(crate) fn plan(
    config: &VaultConfig,
    ctx: &ResolveContext,
    requests: &[SecretRequest],
) -> Vec<SecretPlan> {
    let settings = match ServerSettings::from_variables(ctx.variables()) {
        Ok(settings) => settings,
        Err(err) => return requests.iter().map(|_| SecretPlan::invalid(&err)).collect(),
    };
    let ca = match ca_pem(config, &settings) {
        Ok(ca) => ca,
        Err(err) => return requests.iter().map(|_| SecretPlan::invalid(&err)).collect(),
    };
    // Distinct JWTs in first-seen order; each is one login.
    let mut logins: Vec<(Jwt, Identity)> = Vec::new();
    requests
        .iter()
        .map(|request| {
            let parsed = match VaultRequest::parse(ctx, request) {
                Ok(parsed) => parsed,
                Err(err) => return SecretPlan::invalid(&err),
            };
            let position = logins.iter().position(|(jwt, _)| *jwt == parsed.jwt);
            let position = position.unwrap_or_else(|| {
                let shown = identity(&settings, ca.as_deref(), &parsed.jwt, logins.len() + 1);
                logins.push((parsed.jwt.clone(), shown));
                logins.len() - 1
            });
            let shown = logins[position].1.clone();
            let path = parsed.reference.api_segments().join("/");
            let mut plan = SecretPlan::new()
                .with_item(parsed.reference.to_string())
                .with_call(PlannedCall::shared(
                    format!("GET /v1/{path}"),
                    format!("{} {path}", shown.label),
                ));
            if config.revoke_token {
                plan = plan.with_call(PlannedCall::shared(
                    "POST /v1/auth/token/revoke-self",
                    format!("{} revoke", shown.label),
                ));
            }
            plan.with_identity(shown)
        })
        .collect()
}

/// The checks of one identity (`Provider::diagnose`): a login, then the
/// token's capabilities on each secret's path. No secret is read.
pub(crate) async fn diagnose(
    config: &VaultConfig,
    ctx: &ResolveContext,
    requests: &[SecretRequest],
) -> Vec<Check> {
    let mut checks = Vec::new();
    let (settings, client) =
        match connect(config, ctx) {
            Ok(pair) => pair,
            Err(err) => {
                checks.push(Check::fail("configuration", err.message()).with_hint(
                    "Set VAULT_SERVER_URL (and VAULT_CACERT for a private CA) correctly",
                ));
                return checks;
            }
        };
    let mut parsed = Vec::new();
    for request in requests {
        match VaultRequest::parse(ctx, request) {
            Ok(entry) => parsed.push(entry),
            Err(err) => checks.push(
                Check::fail(
                    format!("configuration of {}", request.variable),
                    err.message(),
                )
                .with_hint("Fix the secret's vault: block or its token:"),
            ),
        }
    }
    let Some(first) = parsed.first() else {
        return checks;
    };
    let token = match client.login(ctx, &settings, &first.jwt.value).await {
        Ok(token) => {
            checks.push(Check::pass(
                "login",
                format!(
                    "{} with {} returned a token",
                    login_call(&settings),
                    first.jwt.source
                ),
            ));
            token
        }
        Err(err) => {
            let hint = match err.kind() {
                ErrorKind::Auth => format!(
                    "Check VAULT_AUTH_ROLE and that the role of auth/{} accepts this JWT (bound_audiences, bound_claims)",
                    settings.auth_path
                ),
                ErrorKind::Tls => {
                    "Set VAULT_CACERT to the CA that signed the server's certificate".to_string()
                }
                _ => "Check VAULT_SERVER_URL and VAULT_AUTH_PATH".to_string(),
            };
            checks.push(Check::fail("login", err.message()).with_hint(hint));
            return checks;
        }
    };
    let mut paths: Vec<String> = Vec::new();
    for entry in &parsed {
        let path = entry.reference.api_segments().join("/");
        if !paths.contains(&path) {
            paths.push(path);
        }
    }
    let outcomes = join_all(paths.iter().map(|path| {
        let (client, token) = (&client, &token);
        async move { (path, capability_check(ctx, client, token, path).await) }
    }))
    .await;
    checks.extend(outcomes.into_iter().map(|(_, check)| check));
    if config.revoke_token
        && let Err(err) = client.revoke_self(ctx, &token).await
    {
        tracing::warn!(error = %err, "could not revoke the doctor's Vault token");
    }
    checks
}

async fn capability_check(
    ctx: &ResolveContext,
    client: &VaultClient,
    token: &crate::client::VaultToken,
    path: &str,
) -> Check {
    let name = format!("read permission on {path}");
    let response = match client.capabilities_self(ctx, token, path).await {
        Ok(response) => response,
        Err(err) => return Check::fail(name, err.message()),
    };
    if !response.is_success() {
        return Check::fail(
            name,
            format!(
                "sys/capabilities-self answered HTTP {}",
                response.status
            ),
        )
        .with_hint("The token may not call sys/capabilities-self (Vault's default policy allows it); the permission could not be checked");
    }
    let capabilities = match response.json::<serde_json::Value>("sys/capabilities-self") {
        Ok(answer) => capabilities_of(&answer, path),
        Err(err) => return Check::fail(name, err.message()),
    };
    if capabilities.iter().any(|c| c == "read" || c == "root") {
        Check::pass(name, format!("capabilities: {}", capabilities.join(", ")))
    } else {
        let shown = if capabilities.is_empty() {
            "none".to_string()
        } else {
            capabilities.join(", ")
        };
        Check::fail(
            name,
            format!("the token may not read it (capabilities: {shown})"),
        )
        .with_hint(format!(
            "Add a policy with `path \"{path}\" {{ capabilities = [\"read\"] }}` to the role"
        ))
    }
}

/// The capabilities of `path` in an answer of `sys/capabilities-self`:
/// under `data` or at the top level, by path or as `capabilities`.
fn capabilities_of(answer: &serde_json::Value, path: &str) -> Vec<String> {
    let scopes = [answer.get("data"), Some(answer)];
    scopes
        .into_iter()
        .flatten()
        .flat_map(|scope| [scope.get(path), scope.get("capabilities")])
        .flatten()
        .find_map(serde_json::Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(serde_json::Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_are_found_in_every_answer_shape() {
        let by_path =
            serde_json::json!({"kv/data/db": ["read", "list"], "capabilities": ["read", "list"]});
        assert_eq!(capabilities_of(&by_path, "kv/data/db"), ["read", "list"]);
        let wrapped = serde_json::json!({"data": {"capabilities": ["deny"]}});
        assert_eq!(capabilities_of(&wrapped, "kv/data/db"), ["deny"]);
        assert!(capabilities_of(&serde_json::json!({}), "x").is_empty());
    }
}
