//! The job's variables, layered from every source GitLab knows, highest
//! precedence first: `--var`, `--env-file`, the process environment (which
//! inside a GitLab job holds the CI/CD variables), job `variables:`, global
//! `variables:`.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use ci_secrets_provider_api::JobVariables;
use indexmap::IndexMap;

use crate::expand::expand;
use crate::pipeline::VariableDef;
use crate::validate::is_valid_variable_name as is_valid_name;

/// Errors in the variable sources the user gave.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VariableError {
    /// `--var` without `=`.
    #[error("--var {0:?} is not NAME=VALUE")]
    MissingEquals(String),
    /// A name that is not `[A-Za-z_][A-Za-z0-9_]*`.
    #[error("{origin}: {name:?} is not a valid variable name")]
    InvalidName {
        /// Where it came from (`--var`, the env file path).
        origin: String,
        /// The offending name.
        name: String,
    },
    /// A NUL byte cannot be passed through an environment.
    #[error("{origin}: the value of {name} contains a NUL byte")]
    NulInValue {
        /// Where it came from.
        origin: String,
        /// The variable.
        name: String,
    },
    /// A pipeline variable holds a NUL (from a `"\0"` escape), which no
    /// environment can carry.
    #[error("the {scope} variable {name} contains a NUL byte")]
    NulInPipelineVariable {
        /// `global` or `job`.
        scope: &'static str,
        /// The variable.
        name: String,
    },
    /// The env file is larger than any env file needs to be (`/dev/zero`,
    /// a log given by mistake): refused before it fills memory.
    #[error("--env-file {path}: larger than {limit} bytes; an env file holds variables, not data")]
    EnvFileTooLarge {
        /// The file.
        path: PathBuf,
        /// The largest size accepted.
        limit: u64,
    },
    /// The env file could not be read or parsed.
    #[error("--env-file {path}: {message}")]
    EnvFile {
        /// The file.
        path: PathBuf,
        /// What went wrong (never a value).
        message: String,
    },
}

/// The sources of variables outside the pipeline file.
#[derive(Debug, Clone, Default)]
pub struct VariableSources {
    /// `--var NAME=VALUE`, in command-line order (a later one wins).
    pub cli: Vec<(String, String)>,
    /// `--env-file PATH`.
    pub env_file: Option<PathBuf>,
    /// Whether to read the process environment (tests turn it off).
    pub process_env: bool,
    /// Where an `id_tokens:` variable that no source sets comes from
    /// (outside GitLab); `None`: it stays unset.
    pub id_token_source: Option<std::sync::Arc<dyn crate::id_tokens::IdTokenSource>>,
    /// Whether to mint such tokens now (`resolve`, `exec`), or only say
    /// which source would (`plan`).
    pub mint_id_tokens: bool,
}

impl VariableSources {
    /// Parses `--var` arguments.
    pub fn parse_cli_vars(args: &[String]) -> Result<Vec<(String, String)>, VariableError> {
        args.iter()
            .map(|arg| {
                let (name, value) = arg
                    .split_once('=')
                    .ok_or_else(|| VariableError::MissingEquals(redact_arg(arg)))?;
                check_entry("--var", name, value)?;
                Ok((name.to_string(), value.to_string()))
            })
            .collect()
    }
}

/// `--var` arguments may hold a value by mistake; show only what looks like a name.
fn redact_arg(arg: &str) -> String {
    if is_valid_name(arg) {
        arg.to_string()
    } else {
        format!("{}…", arg.chars().take(3).collect::<String>())
    }
}

fn check_entry(origin: &str, name: &str, value: &str) -> Result<(), VariableError> {
    if !is_valid_name(name) {
        return Err(VariableError::InvalidName {
            origin: origin.to_string(),
            name: name.to_string(),
        });
    }
    if value.contains('\0') {
        return Err(VariableError::NulInValue {
            origin: origin.to_string(),
            name: name.to_string(),
        });
    }
    Ok(())
}

/// The largest `--env-file` read: far above any real list of variables,
/// far below what would strain memory.
pub const MAX_ENV_FILE_BYTES: u64 = 1024 * 1024;

fn read_env_file(path: &Path) -> Result<Vec<(String, String)>, VariableError> {
    let env_error = |message: String| VariableError::EnvFile {
        path: path.to_path_buf(),
        message,
    };
    let file = std::fs::File::open(path).map_err(|err| env_error(err.to_string()))?;
    // Read at most one byte past the limit: enough to know it is too large,
    // whatever the file is (a device, a pipe, a growing log).
    let mut content = zeroize::Zeroizing::new(Vec::new());
    file.take(MAX_ENV_FILE_BYTES + 1)
        .read_to_end(&mut content)
        .map_err(|err| env_error(err.to_string()))?;
    if content.len() as u64 > MAX_ENV_FILE_BYTES {
        return Err(VariableError::EnvFileTooLarge {
            path: path.to_path_buf(),
            limit: MAX_ENV_FILE_BYTES,
        });
    }
    let mut entries = Vec::new();
    for item in dotenvy::from_read_iter(&content[..]) {
        let (name, value) = item.map_err(|err| env_error(describe_dotenv(&err)))?;
        check_entry(&path.display().to_string(), &name, &value)?;
        entries.push((name, value));
    }
    Ok(entries)
}

/// dotenvy's parse errors quote the offending line, which may hold a value.
fn describe_dotenv(err: &dotenvy::Error) -> String {
    match err {
        dotenvy::Error::LineParse(_, index) => format!("cannot parse the line at byte {index}"),
        dotenvy::Error::Io(io) => io.to_string(),
        dotenvy::Error::EnvVar(_) => "invalid variable".to_string(),
        _ => "cannot read the file".to_string(),
    }
}

/// Builds the job's variables from all sources.
///
/// The variables that do not come from the pipeline file, later sources
/// winning: the process environment (inside a GitLab job, the CI/CD and
/// predefined variables), the env file, then `--var`. GitLab expands
/// `include:` paths with these alone.
pub fn ci_cd_variables(
    sources: &VariableSources,
) -> Result<IndexMap<String, String>, VariableError> {
    let mut variables: IndexMap<String, String> = IndexMap::new();
    if sources.process_env {
        for (name, value) in std::env::vars_os() {
            if let (Ok(name), Ok(value)) = (name.into_string(), value.into_string()) {
                variables.insert(name, value);
            }
        }
    }
    if let Some(path) = &sources.env_file {
        variables.extend(read_env_file(path)?);
    }
    variables.extend(sources.cli.iter().cloned());
    Ok(variables)
}

/// The job's variable set is assembled first, as GitLab does: global
/// `variables:`, then the job's (a job definition replaces a global one),
/// then the environment, the env file and `--var`, each later source winning.
/// Then every pipeline variable that does not say `expand: false` is
/// expanded once against that whole set, as GitLab Runner's
/// `JobVariables.Expand` does: a reference gets the raw value of the
/// variable's winning definition, wherever it is written, and what it
/// inserts is not expanded again. Values from the environment, the env file
/// and `--var` are taken literally (inside a job the runner has expanded
/// them already).
pub fn layer(
    global: &IndexMap<String, VariableDef>,
    job: &IndexMap<String, VariableDef>,
    sources: &VariableSources,
) -> Result<JobVariables, VariableError> {
    layer_over(&IndexMap::new(), global, job, ci_cd_variables(sources)?)
}

/// [`layer`] over `predefined` (GitLab's predefined variables, derived
/// outside a job: see [`crate::predefined`]), which every other source
/// overrides, with `overrides` already read ([`ci_cd_variables`]), so a
/// caller that needs them for `include:` paths too reads them once.
pub fn layer_over(
    predefined: &IndexMap<String, String>,
    global: &IndexMap<String, VariableDef>,
    job: &IndexMap<String, VariableDef>,
    overrides: IndexMap<String, String>,
) -> Result<JobVariables, VariableError> {
    let mut definitions: IndexMap<&str, &VariableDef> = IndexMap::new();
    for (scope, scoped) in [("global", global), ("job", job)] {
        for (name, definition) in scoped {
            if definition.value.contains('\0') {
                return Err(VariableError::NulInPipelineVariable {
                    scope,
                    name: name.clone(),
                });
            }
            definitions.insert(name, definition);
        }
    }
    let raw = |reference: &str| {
        overrides
            .get(reference)
            .cloned()
            .or_else(|| definitions.get(reference).map(|def| def.value.clone()))
            .or_else(|| predefined.get(reference).cloned())
    };
    let mut values: IndexMap<String, String> = predefined.clone();
    values.extend(definitions.iter().map(|(name, definition)| {
        let value = if definition.expand {
            expand(&definition.value, raw)
        } else {
            definition.value.clone()
        };
        (name.to_string(), value)
    }));
    values.extend(overrides);
    Ok(values.into_iter().collect())
}

/// The variables `rules:` see (GitLab's `variables_hash`): the same sources and precedence
/// as [`layer_over`], but every value as written, not expanded. GitLab evaluates `rules:if`
/// in Rails, before any runner expands anything: `$URL == "https://$HOST"` compares the text
/// `https://$HOST`.
pub fn rule_variables(
    predefined: &IndexMap<String, String>,
    global: &IndexMap<String, VariableDef>,
    job: &IndexMap<String, VariableDef>,
    overrides: &IndexMap<String, String>,
) -> IndexMap<String, String> {
    let mut values = predefined.clone();
    for scoped in [global, job] {
        values.extend(
            scoped
                .iter()
                .map(|(name, definition)| (name.clone(), definition.value.clone())),
        );
    }
    values.extend(
        overrides
            .iter()
            .map(|(name, value)| (name.clone(), value.clone())),
    );
    values
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(value: &str) -> VariableDef {
        VariableDef {
            value: value.to_string(),
            expand: true,
        }
    }

    #[test]
    fn precedence_cli_over_env_file_over_job_over_global() {
        let global = IndexMap::from([("A".to_string(), def("global")), ("B".into(), def("g"))]);
        let job = IndexMap::from([("A".to_string(), def("job")), ("C".into(), def("job-c"))]);
        let dir = tempfile::tempdir().unwrap();
        let env_file = dir.path().join(".env");
        std::fs::write(&env_file, "C=from-file\nD=file-d\n").unwrap();
        let sources = VariableSources {
            cli: vec![("D".into(), "cli-d".into())],
            env_file: Some(env_file),
            process_env: false,
            ..VariableSources::default()
        };
        let vars = layer(&global, &job, &sources).unwrap();
        assert_eq!(vars.get("A"), Some("job"));
        assert_eq!(vars.get("B"), Some("g"));
        assert_eq!(vars.get("C"), Some("from-file"));
        assert_eq!(vars.get("D"), Some("cli-d"));
    }

    /// Issue 15's example: a job variable that refers to a variable the
    /// same job overrides gets the job's value, wherever either is written.
    #[test]
    fn a_reference_gets_the_winning_definition_in_any_order() {
        let global = IndexMap::from([("BASE".to_string(), def("https://global.example"))]);
        for job in [
            IndexMap::from([
                ("URL".to_string(), def("$BASE/api")),
                ("BASE".to_string(), def("https://job.example")),
            ]),
            IndexMap::from([
                ("BASE".to_string(), def("https://job.example")),
                ("URL".to_string(), def("$BASE/api")),
            ]),
        ] {
            let vars = layer(&global, &job, &VariableSources::default()).unwrap();
            assert_eq!(vars.get("URL"), Some("https://job.example/api"));
            assert_eq!(vars.get("BASE"), Some("https://job.example"));
        }
    }

    /// A global variable may refer to one defined after it, or in the job,
    /// and `--var` wins over both for every reference.
    #[test]
    fn references_see_the_whole_set_and_overrides_win() {
        let global = IndexMap::from([
            ("URL".to_string(), def("$HOST/$PATH_PART")),
            ("HOST".to_string(), def("https://global.example")),
        ]);
        let job = IndexMap::from([("PATH_PART".to_string(), def("v2"))]);
        let vars = layer(&global, &job, &VariableSources::default()).unwrap();
        assert_eq!(vars.get("URL"), Some("https://global.example/v2"));
        let sources = VariableSources {
            cli: vec![("HOST".into(), "https://cli.example".into())],
            ..VariableSources::default()
        };
        let vars = layer(&global, &job, &sources).unwrap();
        assert_eq!(vars.get("URL"), Some("https://cli.example/v2"));
    }

    /// One pass, as the runner: a reference inserts the raw value of what
    /// it names, which is not expanded again.
    #[test]
    fn an_inserted_value_is_not_expanded_again() {
        let global = IndexMap::from([
            ("A".to_string(), def("$B")),
            ("B".to_string(), def("$C")),
            ("C".to_string(), def("c")),
        ]);
        let vars = layer(&global, &IndexMap::new(), &VariableSources::default()).unwrap();
        assert_eq!(vars.get("A"), Some("$C"));
        assert_eq!(vars.get("B"), Some("c"));
    }

    #[test]
    fn pipeline_variables_expand_once_unless_raw() {
        let global = IndexMap::from([("BASE".to_string(), def("https://x"))]);
        let job = IndexMap::from([
            ("URL".to_string(), def("$BASE/api")),
            (
                "RAW".to_string(),
                VariableDef {
                    value: "$BASE".into(),
                    expand: false,
                },
            ),
        ]);
        let vars = layer(&global, &job, &VariableSources::default()).unwrap();
        assert_eq!(vars.get("URL"), Some("https://x/api"));
        assert_eq!(vars.get("RAW"), Some("$BASE"));
    }

    #[test]
    fn an_env_file_past_the_limit_is_refused_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let env_file = dir.path().join("big.env");
        let line = "A=0123456789012345678901234567890123456789\n";
        let lines = (MAX_ENV_FILE_BYTES as usize) / line.len() + 1;
        std::fs::write(&env_file, line.repeat(lines)).unwrap();
        for path in [env_file.as_path(), Path::new("/dev/zero")] {
            let sources = VariableSources {
                env_file: Some(path.to_path_buf()),
                ..VariableSources::default()
            };
            let err = layer(&IndexMap::new(), &IndexMap::new(), &sources).unwrap_err();
            assert!(
                matches!(err, VariableError::EnvFileTooLarge { .. }),
                "{err}"
            );
            assert!(
                err.to_string().contains(&path.display().to_string()),
                "{err}"
            );
        }
        // At the limit it is read.
        std::fs::write(&env_file, line.repeat(lines - 1)).unwrap();
        let sources = VariableSources {
            env_file: Some(env_file),
            ..VariableSources::default()
        };
        assert!(layer(&IndexMap::new(), &IndexMap::new(), &sources).is_ok());
    }

    #[test]
    fn cli_var_needs_equals_and_a_valid_name() {
        assert!(matches!(
            VariableSources::parse_cli_vars(&["NOEQUALS".into()]),
            Err(VariableError::MissingEquals(_))
        ));
        assert!(matches!(
            VariableSources::parse_cli_vars(&["1A=x".into()]),
            Err(VariableError::InvalidName { .. })
        ));
        assert!(matches!(
            VariableSources::parse_cli_vars(&["A=x\0y".into()]),
            Err(VariableError::NulInValue { .. })
        ));
        let parsed = VariableSources::parse_cli_vars(&["A=b=c".into()]).unwrap();
        assert_eq!(parsed, vec![("A".to_string(), "b=c".to_string())]);
    }

    #[test]
    fn missing_equals_error_does_not_echo_a_value_like_argument() {
        let err = VariableSources::parse_cli_vars(&["s3cr3t-token-value".into()]).unwrap_err();
        assert!(!err.to_string().contains("s3cr3t-token-value"));
    }
}
