//! ID tokens minted by the CI system the run is in, when a job's
//! `id_tokens:` variable is not set (outside GitLab): GitHub Actions,
//! Buildkite, CircleCI, Bitbucket Pipelines, or a command of the user's.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use ci_secrets_gitlab::id_tokens::{IdTokenError, IdTokenSource};
use ci_secrets_http::{HttpFactory, HttpSettings, RetryMode, block_on_own_runtime};
use ci_secrets_provider_api::ResolveContext;
use zeroize::Zeroizing;

/// The source for this run: `--id-token-command` when given, else the CI
/// system the environment shows, else none. `env` reads a variable.
pub fn detect(
    command: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<Arc<dyn IdTokenSource>> {
    let set = |name: &str| env(name).filter(|value| !value.is_empty());
    if let Some(command) = command {
        return Some(Arc::new(CommandSource {
            command: command.to_owned(),
        }));
    }
    if let (Some(url), Some(token)) = (
        set("ACTIONS_ID_TOKEN_REQUEST_URL"),
        set("ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
    ) {
        return Some(Arc::new(GitHubActions {
            url,
            token: Zeroizing::new(token),
        }));
    }
    if set("BUILDKITE").is_some_and(|value| value == "true") {
        return Some(Arc::new(Buildkite));
    }
    if let Some(token) = set("CIRCLE_OIDC_TOKEN_V2") {
        return Some(Arc::new(FixedToken {
            name: "CircleCI OIDC (CIRCLE_OIDC_TOKEN_V2, whose audience CircleCI sets)",
            token: Zeroizing::new(token),
        }));
    }
    if let Some(token) = set("BITBUCKET_STEP_OIDC_TOKEN") {
        return Some(Arc::new(FixedToken {
            name: "Bitbucket Pipelines OIDC (BITBUCKET_STEP_OIDC_TOKEN, whose audience Bitbucket sets)",
            token: Zeroizing::new(token),
        }));
    }
    None
}

fn error(source: &dyn IdTokenSource, message: impl Into<String>) -> IdTokenError {
    IdTokenError {
        source_name: source.describe(),
        message: message.into(),
    }
}

/// GitHub Actions' OIDC endpoint: `GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=AUD`
/// with `Authorization: bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN` (the job needs
/// `permissions: id-token: write`), answering `{"value": "<jwt>"}`.
struct GitHubActions {
    url: String,
    token: Zeroizing<String>,
}

impl std::fmt::Debug for GitHubActions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GitHubActions")
    }
}

impl IdTokenSource for GitHubActions {
    fn describe(&self) -> String {
        "GitHub Actions OIDC (ACTIONS_ID_TOKEN_REQUEST_URL)".to_owned()
    }

    fn mint(&self, audience: &str) -> Result<Zeroizing<String>, IdTokenError> {
        let mut url = url::Url::parse(&self.url)
            .map_err(|_| error(self, "ACTIONS_ID_TOKEN_REQUEST_URL is not a URL"))?;
        url.query_pairs_mut().append_pair("audience", audience);
        // The planner is synchronous and runs inside the binary's runtime.
        let client = HttpFactory::new(HttpSettings::default())
            .client(None)
            .map_err(|err| error(self, err.to_string()))?;
        let response = block_on_own_runtime(|| async {
            let ctx = ResolveContext::builder("id-token")
                .timeout(Duration::from_secs(30))
                .build();
            client
                .send(&ctx, "GET id token", RetryMode::Idempotent, |http| {
                    http.get(url.clone())
                        .header("Authorization", format!("bearer {}", self.token.as_str()))
                })
                .await
        })
        .map_err(|message| error(self, message))?
        .map_err(|err| error(self, err.to_string()))?;
        if !response.is_success() {
            return Err(error(
                self,
                format!("the endpoint answered HTTP {}", response.status),
            ));
        }
        #[derive(serde::Deserialize)]
        struct Answer {
            value: String,
        }
        let answer: Answer = response
            .json("the ID token answer")
            .map_err(|err| error(self, err.to_string()))?;
        // Moved, not copied, into memory zeroed on drop.
        Ok(Zeroizing::new(answer.value))
    }
}

/// `buildkite-agent oidc request-token --audience AUD`.
#[derive(Debug)]
struct Buildkite;

impl IdTokenSource for Buildkite {
    fn describe(&self) -> String {
        "Buildkite OIDC (buildkite-agent oidc request-token)".to_owned()
    }

    fn mint(&self, audience: &str) -> Result<Zeroizing<String>, IdTokenError> {
        let mut command = Command::new("buildkite-agent");
        command.args(["oidc", "request-token", "--audience", audience]);
        run_for_token(self, command)
    }
}

/// `--id-token-command`: run by `sh -c`, with the audience in
/// `CI_SECRETS_ID_TOKEN_AUDIENCE`; its standard output is the token.
#[derive(Debug)]
struct CommandSource {
    command: String,
}

impl IdTokenSource for CommandSource {
    fn describe(&self) -> String {
        "--id-token-command".to_owned()
    }

    fn mint(&self, audience: &str) -> Result<Zeroizing<String>, IdTokenError> {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(&self.command)
            .env("CI_SECRETS_ID_TOKEN_AUDIENCE", audience);
        run_for_token(self, command)
    }
}

/// Runs `command` and takes its trimmed standard output as the token. Its
/// standard error goes to ours (it is the tool's own diagnostics).
fn run_for_token(
    source: &dyn IdTokenSource,
    mut command: Command,
) -> Result<Zeroizing<String>, IdTokenError> {
    let output = command
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|err| error(source, format!("cannot run it: {err}")))?;
    let stdout = Zeroizing::new(output.stdout);
    if !output.status.success() {
        return Err(error(source, format!("it failed ({})", output.status)));
    }
    let text = std::str::from_utf8(&stdout)
        .map_err(|_| error(source, "its output is not UTF-8"))?
        .trim();
    if text.is_empty() || text.contains(char::is_whitespace) {
        return Err(error(source, "its output is not one token"));
    }
    Ok(Zeroizing::new(text.to_owned()))
}

/// A token the CI system puts in the environment (CircleCI, Bitbucket):
/// its audience is the system's choice, not the job's.
struct FixedToken {
    name: &'static str,
    token: Zeroizing<String>,
}

impl std::fmt::Debug for FixedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl IdTokenSource for FixedToken {
    fn describe(&self) -> String {
        self.name.to_owned()
    }

    fn mint(&self, _audience: &str) -> Result<Zeroizing<String>, IdTokenError> {
        Ok(self.token.clone())
    }
}
