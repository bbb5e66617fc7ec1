//! The command-line contract. Users, scripts and tests rely on it.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Resolve the `secrets:` block of a GitLab CI job outside GitLab Runner.
#[derive(Debug, Parser)]
#[command(name = "ci-secrets", version, about, long_about = None, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags accepted before or after the subcommand.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// More diagnostics on stderr (-v info, -vv debug, -vvv trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Configuration file, instead of ./ci-secrets.toml.
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Diagnostics format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Resolve a job's secrets and print them.
    Resolve(ResolveArgs),
    /// Resolve a job's secrets, then run a command with them in its environment.
    Exec(ExecArgs),
    /// Validate `secrets:` as GitLab does, without any network call.
    Validate(ValidateArgs),
    /// Show how a job's secrets would be resolved (identities, items,
    /// deliveries, expected API calls), without any network call or value.
    Plan(PlanArgs),
    /// Move the secrets GitLab no longer resolves (`akeyless:`) out of the
    /// pipeline into secrets files, and rewrite the jobs to load them with
    /// ci-secrets (`--check`: only report, exit 1 when there is work).
    Migrate(MigrateArgs),
    /// Check each identity of a job (DNS, TCP, TLS, login, permission to
    /// describe each item) without fetching any value.
    Doctor(DoctorArgs),
    /// List the providers built into this binary and the keys each accepts.
    Providers(FormatArgs),
    /// Show the effective configuration and where each value comes from.
    Config(FormatArgs),
    /// Serve a local Akeyless API emulator.
    Emulator(akeyless_emulator::EmulatorArgs),
    /// Print a shell completion script (e.g. `ci-secrets completions bash >
    /// /etc/bash_completion.d/ci-secrets`).
    Completions(CompletionsArgs),
    /// Print the manual page (roff; `ci-secrets man | man -l -`).
    Man,
    /// Resolve an example pipeline against an in-process emulator.
    Demo,
}

/// Which job's secrets, and the variables around them.
#[derive(Debug, Args)]
pub struct SelectionArgs {
    /// The pipeline file.
    #[arg(
        long,
        value_name = "PATH",
        default_value = ".gitlab-ci.yml",
        conflicts_with = "secrets"
    )]
    pub ci_file: PathBuf,
    /// The repository root that local includes are relative to (default: the
    /// git top level of --ci-file, else its folder).
    #[arg(long, value_name = "DIR", conflicts_with = "secrets")]
    pub project_dir: Option<PathBuf>,
    #[command(flatten)]
    pub includes: IncludeArgs,
    /// A pipeline input for a --ci-file with a `spec:` header, cast by the
    /// input's type as GitLab casts inputs given as text. Repeatable.
    #[arg(long = "input", value_name = "NAME=VALUE", value_parser = parse_input, conflicts_with = "secrets")]
    pub inputs: Vec<(String, String)>,
    /// The job to resolve (with --ci-file).
    #[arg(long, value_name = "NAME", required_unless_present = "secrets")]
    pub job: Option<String>,
    /// A YAML file holding one job's `secrets:` (and optional `variables:`,
    /// `id_tokens:`), instead of --ci-file/--job.
    #[arg(long, value_name = "PATH")]
    pub secrets: Option<PathBuf>,
    /// Set a variable (highest precedence). Repeatable.
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// Read variables from a dotenv file.
    #[arg(long, value_name = "PATH")]
    pub env_file: Option<PathBuf>,
    /// Outside GitLab: the command that prints an ID token for an unset
    /// `id_tokens:` variable (run by `sh -c`, the audience in
    /// `CI_SECRETS_ID_TOKEN_AUDIENCE`). Without it, GitHub Actions, Buildkite,
    /// CircleCI and Bitbucket Pipelines are recognised from their environment.
    #[arg(long, value_name = "COMMAND")]
    pub id_token_command: Option<String>,
    /// Overall deadline in seconds (default 60, or the config's).
    #[arg(long, value_name = "SECONDS")]
    pub deadline: Option<f64>,
    /// A provider block that refers to a variable that is not set, or a job
    /// GitLab would not create (its `rules:`), is an error (exit 1), not a
    /// warning.
    #[arg(long)]
    pub strict: bool,
    /// Evaluate `rules: changes:` against the files changed since REF
    /// (`git diff --name-only REF...HEAD` in the project folder); without
    /// it, `changes:` is treated as true, with a warning.
    #[arg(long, value_name = "REF", conflicts_with = "secrets")]
    pub changes_base: Option<String>,
}

/// Where `project:`, `template:`, `component:` and `remote:` includes come from.
#[derive(Debug, Clone, Args)]
pub struct IncludeArgs {
    /// The GitLab instance that `project:`, `template:` and `component:`
    /// includes are fetched from (default: `CI_SERVER_URL`, set in a job).
    /// A `GITLAB_TOKEN` access token, else the job's `CI_JOB_TOKEN`, is sent
    /// to it.
    #[arg(long, value_name = "URL", env = "CI_SECRETS_GITLAB_URL")]
    pub gitlab_url: Option<url::Url>,
    /// Fetch no include: every non-local include is skipped with a warning,
    /// and the jobs that need one are reported as unchecked.
    #[arg(long)]
    pub offline: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ResolveFormat {
    Json,
    Dotenv,
    Shell,
    /// GitLab's `artifacts: reports: dotenv:` dialect, for a later job.
    GitlabDotenv,
}

#[derive(Debug, Args)]
pub struct ResolveArgs {
    #[command(flatten)]
    pub selection: SelectionArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ResolveFormat::Dotenv)]
    pub format: ResolveFormat,
    /// Where dotenv and shell output write file secrets (default:
    /// $RUNNER_TEMP_PROJECT_DIR, else a new private directory).
    #[arg(long, value_name = "DIR")]
    pub files_dir: Option<PathBuf>,
    /// Print values even when stdout is a terminal.
    #[arg(long)]
    pub reveal: bool,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    #[command(flatten)]
    pub selection: SelectionArgs,
    /// Do not mask secret values in the command's output.
    #[arg(long)]
    pub no_mask: bool,
    /// The command and its arguments.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<OsString>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub selection: SelectionArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub selection: SelectionArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The pipeline file.
    #[arg(
        long,
        value_name = "PATH",
        default_value = ".gitlab-ci.yml",
        conflicts_with = "secrets"
    )]
    pub ci_file: PathBuf,
    /// The repository root that local includes are relative to (default: the
    /// git top level of --ci-file, else its folder).
    #[arg(long, value_name = "DIR", conflicts_with = "secrets")]
    pub project_dir: Option<PathBuf>,
    #[command(flatten)]
    pub includes: IncludeArgs,
    /// Jobs that cannot be checked (they need a skipped include) are errors
    /// (exit 1), not warnings.
    #[arg(long)]
    pub strict: bool,
    /// A pipeline input for a --ci-file with a `spec:` header, cast by the
    /// input's type as GitLab casts inputs given as text. Repeatable.
    #[arg(long = "input", value_name = "NAME=VALUE", value_parser = parse_input, conflicts_with = "secrets")]
    pub inputs: Vec<(String, String)>,
    /// Validate only this job.
    #[arg(long, value_name = "NAME")]
    pub job: Option<String>,
    /// Validate a secrets file instead.
    #[arg(long, value_name = "PATH")]
    pub secrets: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MigrateStyle {
    /// `script:` runs under `ci-secrets exec --secrets FILE --` (values masked in the log).
    Exec,
    /// `script:` starts with `eval "$(ci-secrets resolve --secrets FILE --format shell)"`
    /// (values unmasked).
    Shell,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MigrateShell {
    /// `sh -ec`.
    Sh,
    /// `bash -eo pipefail -c`.
    Bash,
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The pipeline file.
    #[arg(long, value_name = "PATH", default_value = ".gitlab-ci.yml")]
    pub ci_file: PathBuf,
    /// The repository root that local includes, and --out-dir, are relative
    /// to (default: the git top level of --ci-file, else its folder).
    #[arg(long, value_name = "DIR")]
    pub project_dir: Option<PathBuf>,
    #[command(flatten)]
    pub includes: IncludeArgs,
    /// A pipeline input for a --ci-file with a `spec:` header. Repeatable.
    #[arg(long = "input", value_name = "NAME=VALUE", value_parser = parse_input)]
    pub inputs: Vec<(String, String)>,
    /// Where the secrets files go, relative to the project folder.
    #[arg(long, value_name = "DIR", default_value = "ci/secrets")]
    pub out_dir: PathBuf,
    /// The providers whose secrets move (comma-separated); GitLab 18.3
    /// refuses `akeyless`, and still resolves the others.
    #[arg(
        long = "provider",
        value_name = "KEY",
        value_delimiter = ',',
        default_value = "akeyless"
    )]
    pub providers: Vec<String>,
    /// How a migrated job loads its secrets file.
    #[arg(long, value_enum, default_value_t = MigrateStyle::Exec)]
    pub style: MigrateStyle,
    /// The shell that runs a migrated job's script lines (`exec` style).
    #[arg(long, value_enum, default_value_t = MigrateShell::Sh)]
    pub shell: MigrateShell,
    /// How the jobs call ci-secrets (a name on the image's PATH, or a path).
    #[arg(long, value_name = "COMMAND", default_value = "ci-secrets")]
    pub command: String,
    /// Write nothing: report what would change, and exit 1 when something would.
    #[arg(long)]
    pub check: bool,
    /// Print the edited pipeline files and the secrets files, in full, on
    /// stdout (with --check: what would be written).
    #[arg(long)]
    pub show: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
}

#[derive(Debug, Args)]
pub struct FormatArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
}

/// `--input NAME=VALUE`: split at the first `=`; the name may not be empty.
fn parse_input(raw: &str) -> Result<(String, String), String> {
    match raw.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_owned(), value.to_owned())),
        _ => Err(format!("expected NAME=VALUE, got `{raw}`")),
    }
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}
