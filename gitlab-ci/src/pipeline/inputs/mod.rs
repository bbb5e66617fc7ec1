//! `spec:` headers, `inputs:` and `$[[ inputs.name ]]` interpolation, as
//! GitLab's `Interpolation::Interpolator` applies them to a file that has a
//! header document:
//!
//! 1. inputs given to a file without a header are an error;
//! 2. the header is validated ([`spec`]);
//! 3. the given inputs are checked and cast, defaults filled in ([`spec`]);
//! 4. the blocks of the content document are replaced ([`interpolate`]),
//!    with the functions of [`functions`].
//!
//! GitLab reports at most three errors, joined by `, `; so does
//! [`InputsError`]'s message.

mod functions;
mod interpolate;
mod spec;
mod value;

use std::fmt;

use indexmap::IndexMap;
use serde_norway::{Mapping, Value};

pub use interpolate::{
    MAX_ACCESS_BYTES, MAX_BLOCKS, MAX_FUNCTIONS, MAX_NODE_BYTES,
    MAX_NODES as MAX_INTERPOLATION_NODES,
};
pub use spec::MAX_OPTIONS;

use super::ExpansionLimit;
use super::budget::ExpansionBudget;

/// What interpolation reads beyond the file and its inputs: the CI/CD
/// variables `expand_vars` expands.
///
/// GitLab's `expand_vars` sees the pipeline's CI/CD variables (project,
/// group and instance variables and the predefined ones; never the file's
/// own `variables:`), and refuses masked ones. ci-secrets is given these
/// variables by name and value; names listed with [`Self::with_masked`] are
/// refused as GitLab refuses masked variables.
#[derive(Clone, Copy)]
pub struct InterpolationContext<'a> {
    variables: &'a IndexMap<String, String>,
    masked: &'a [String],
}

impl<'a> InterpolationContext<'a> {
    /// A context whose `expand_vars` reads `variables`.
    pub fn new(variables: &'a IndexMap<String, String>) -> Self {
        Self {
            variables,
            masked: &[],
        }
    }

    /// The same context, with `masked` the names of masked variables.
    pub fn with_masked(self, masked: &'a [String]) -> Self {
        Self { masked, ..self }
    }

    fn variable(&self, name: &str) -> Option<&'a str> {
        self.variables.get(name).map(String::as_str)
    }

    fn is_masked(&self, name: &str) -> bool {
        self.masked.iter().any(|masked| masked == name)
    }
}

/// Debug lists variable names only: their values may be credentials.
impl fmt::Debug for InterpolationContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InterpolationContext")
            .field("variables", &self.variables.keys().collect::<Vec<_>>())
            .field("masked", &self.masked)
            .finish()
    }
}

/// Why a file's inputs or interpolation failed, with GitLab's messages.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InputsError {
    /// Inputs were given to a file that has no `spec:` header.
    #[error("Given inputs not defined in the `spec` section of the included configuration file")]
    NoSpec,
    /// The `spec:` header is invalid.
    #[error("{}", Joined(.0))]
    Header(Vec<String>),
    /// An input is missing, unknown, or has a wrong value.
    #[error("{}", Joined(.0))]
    Inputs(Vec<String>),
    /// A `$[[ ... ]]` block cannot be evaluated, or a limit was reached.
    #[error("{}", Joined(.0))]
    Interpolation(Vec<String>),
}

impl InputsError {
    /// Every error GitLab would list (the message shows the first three).
    pub fn messages(&self) -> Vec<String> {
        match self {
            Self::NoSpec => vec![self.to_string()],
            Self::Header(errors) | Self::Inputs(errors) | Self::Interpolation(errors) => {
                errors.clone()
            }
        }
    }
}

/// GitLab's `errors.first(3).join(', ')`.
struct Joined<'a>(&'a [String]);

impl fmt::Display for Joined<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, error) in self.0.iter().take(3).enumerate() {
            if index > 0 {
                f.write_str(", ")?;
            }
            f.write_str(error)?;
        }
        Ok(())
    }
}

/// Why [`apply`] failed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// GitLab's error.
    Inputs(InputsError),
    /// Inserting the values went over the load's expansion budget.
    Budget(ExpansionLimit),
}

/// The content document of a file, its header's inputs applied: `header`
/// is the first document when it is a hash with a `spec` key (see
/// [`super::source`]), `args` the inputs given to the file.
pub(crate) fn apply(
    header: Option<&Mapping>,
    content: Value,
    args: Option<&Mapping>,
    context: &InterpolationContext<'_>,
    budget: &ExpansionBudget,
) -> Result<Value, Failure> {
    let empty = Mapping::new();
    let args = args.unwrap_or(&empty);
    let Some(header) = header else {
        if args.is_empty() {
            return Ok(content);
        }
        return Err(Failure::Inputs(InputsError::NoSpec));
    };
    let specs = spec::parse_header(header)
        .map_err(|errors| Failure::Inputs(InputsError::Header(errors)))?;
    let inputs = spec::resolve(&specs, args)
        .map_err(|errors| Failure::Inputs(InputsError::Inputs(errors)))?;
    interpolate::interpolate(content, &inputs, context, budget).map_err(|stop| match stop {
        interpolate::Stop::Errors(errors) => Failure::Inputs(InputsError::Interpolation(errors)),
        interpolate::Stop::Budget(limit) => Failure::Budget(limit),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Tests fail loudly by design.

    use super::*;

    fn mapping(text: &str) -> Mapping {
        match serde_norway::from_str(text).unwrap() {
            Value::Mapping(map) => map,
            Value::Null => Mapping::new(),
            other => panic!("not a hash: {other:?}"),
        }
    }

    fn run(header: Option<&str>, content: &str, args: &str) -> Result<Value, String> {
        let variables = IndexMap::new();
        let header = header.map(mapping);
        apply(
            header.as_ref(),
            serde_norway::from_str(content).unwrap(),
            Some(&mapping(args)),
            &InterpolationContext::new(&variables),
            &ExpansionBudget::new(),
        )
        .map_err(|failure| match failure {
            Failure::Inputs(error) => error.to_string(),
            Failure::Budget(limit) => limit.to_string(),
        })
    }

    /// After GitLab's `interpolation/interpolator_spec.rb`.
    #[test]
    fn interpolator() {
        let header = Some("spec: {inputs: {website: null}}");
        assert_eq!(
            run(
                header,
                "test: 'deploy $[[ inputs.website ]]'",
                "{website: gitlab.com}"
            )
            .unwrap(),
            serde_norway::from_str::<Value>("test: deploy gitlab.com").unwrap()
        );
        assert_eq!(
            run(None, "test: echo", "{foo: bar}").unwrap_err(),
            "Given inputs not defined in the `spec` section of the included configuration file"
        );
        assert_eq!(
            run(
                Some("spec: {arguments: {website: null}}"),
                "test: 'deploy $[[ inputs.website ]]'",
                "{website: gitlab.com}"
            )
            .unwrap_err(),
            "header:spec config contains unknown keys: arguments"
        );
        assert_eq!(
            run(
                header,
                "test: 'deploy $[[ inputs.abc ]]'",
                "{website: gitlab.com}"
            )
            .unwrap_err(),
            "unknown interpolation key: `abc`"
        );
        assert_eq!(
            run(
                header,
                "test: 'deploy $[[ inputs.something.abc ]] $[[ inputs.cde ]] $[[ efg ]]'",
                "{website: gitlab.com}"
            )
            .unwrap_err(),
            "unknown interpolation key: `something`"
        );
        assert_eq!(
            run(None, "test: deploy production", "{}").unwrap(),
            serde_norway::from_str::<Value>("test: deploy production").unwrap()
        );
    }

    /// After GitLab's `yaml/loader_spec.rb`: at most three errors, joined.
    #[test]
    fn three_errors_at_most() {
        let header = "spec: {inputs: {a: null, b: null, c: null, d: null}}";
        assert_eq!(
            run(Some(header), "x: y", "{}").unwrap_err(),
            "`a` input: required value has not been provided, \
             `b` input: required value has not been provided, \
             `c` input: required value has not been provided"
        );
    }
}
