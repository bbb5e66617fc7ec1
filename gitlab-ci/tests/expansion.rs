//! Variable expansion against GitLab Runner's own test rows (`runner-resolution.yaml`, every
//! `provider: none` / `layer: variables` row), plus property tests against a reference model.

// Tests fail loudly on unexpected states; unwrapping is the point.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use ci_secrets_gitlab::expand::expand;
use expansion_model::expand_model as model;
use proptest::prelude::*;
use serde_json::Value;

#[path = "support/expansion_model.rs"]
mod expansion_model;

/// Rows of `layer: variables` that do not test expansion, with the reason.
const NOT_RUN_HERE: &[(&str, &str)] = &[(
    "bool:",
    "JobVariables.Bool (feature-flag parsing) is not variable expansion; it belongs to the \
     variables layer, not to `expand`",
)];

/// GitLab Runner's `JobVariables`, as far as the rows use it, built on the real `expand`.
#[derive(Clone)]
struct RunnerVariables(Vec<RunnerVariable>);

#[derive(Clone)]
struct RunnerVariable {
    key: String,
    value: String,
    file: bool,
    raw: bool,
}

impl RunnerVariables {
    fn from_row(row: &Value) -> Self {
        Self(
            row["variables"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| RunnerVariable {
                    key: v["key"].as_str().unwrap().to_owned(),
                    value: v["value"].as_str().unwrap().to_owned(),
                    file: v["file"].as_bool().unwrap_or(false),
                    raw: v["raw"].as_bool().unwrap_or(false),
                })
                .collect(),
        )
    }

    /// `JobVariables.Get`: the last definition wins; a file variable gives its path.
    fn get(&self, key: &str) -> Option<String> {
        let variable = self.0.iter().rev().find(|v| v.key == key)?;
        if variable.file {
            let dir = self.get("RUNNER_TEMP_PROJECT_DIR").unwrap_or_default();
            return Some(format!("{dir}/{key}"));
        }
        Some(variable.value.clone())
    }

    /// `JobVariables.Value`: the content, also for a file variable.
    fn value(&self, key: &str) -> String {
        self.0
            .iter()
            .rev()
            .find(|v| v.key == key)
            .map(|v| v.value.clone())
            .unwrap_or_default()
    }

    fn expand_value(&self, input: &str) -> String {
        expand(input, |name| self.get(name))
    }

    /// `JobVariables.Expand`: one pass, every non-raw value against the original list.
    fn expand_all(&self) -> Self {
        Self(
            self.0
                .iter()
                .map(|v| RunnerVariable {
                    value: if v.raw {
                        v.value.clone()
                    } else {
                        self.expand_value(&v.value)
                    },
                    ..v.clone()
                })
                .collect(),
        )
    }
}

#[test]
fn runner_variable_rows() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data/gitlab/runner-resolution.yaml");
    let rows: Value = serde_norway::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let rows: Vec<&Value> = rows
        .as_array()
        .unwrap()
        .iter()
        .filter(|row| row["provider"] == "none" && row["layer"] == "variables")
        .collect();
    let mut run = 0;
    for row in &rows {
        let id = row["id"].as_str().unwrap();
        let op = row["op"].as_str().unwrap();
        if NOT_RUN_HERE
            .iter()
            .any(|(prefix, _)| op.starts_with(prefix))
        {
            continue;
        }
        let variables = RunnerVariables::from_row(row);
        let actual = if let Some(key) = op.strip_prefix("expand_all_then_get:") {
            variables.expand_all().get(key).unwrap_or_default()
        } else if let Some(key) = op.strip_prefix("expand_all_then_value:") {
            variables.expand_all().value(key)
        } else if op == "expand_all_then_expand_value" {
            variables
                .expand_all()
                .expand_value(row["input"].as_str().unwrap())
        } else if let Some(key) = op.strip_prefix("get:") {
            variables.get(key).unwrap_or_default()
        } else {
            panic!("{id}: unknown op {op}");
        };
        assert_eq!(actual, row["expected"].as_str().unwrap(), "{id}");
        run += 1;
    }
    assert!(run >= 19, "only {run} rows ran");
}

#[test]
fn go_os_expand_edge_cases() {
    let vars = |name: &str| match name {
        "A" => Some("a".to_owned()),
        "A_1" => Some("x".to_owned()),
        _ => None,
    };
    for (input, expected) in [
        ("$A", "a"),
        ("${A}", "a"),
        ("$A_1-$A", "x-a"),
        ("${A}_1", "a_1"),
        ("$$A", "$A"),
        ("$$$A", "$a"),
        ("$1$*$#$@$!$?$-$0", ""),
        ("${$}", "$"),
        ("$", "$"),
        ("a $ b", "a $ b"),
        ("$/dsa", "$/dsa"),
        ("${", ""),
        ("${A", "A"),
        ("x${}y", "xy"),
        ("$UNKNOWN!", "!"),
        ("€$A€", "€a€"),
    ] {
        assert_eq!(expand(input, vars), expected, "{input:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn expand_matches_the_reference_model(
        input in r"([a-zA-Z0-9_ ]|\$|\{|\}|[*#@!?-]|é|€){0,40}",
        vars in proptest::collection::vec((r"[a-zA-Z_][a-zA-Z0-9_]{0,3}|[0-9]|a b", r"[a-z$ {}]{0,6}"), 0..6),
    ) {
        let lookup = |name: &str| vars.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        prop_assert_eq!(expand(&input, lookup), model(&input, &vars));
    }

    #[test]
    fn expand_never_panics(input in any::<String>()) {
        let _ = expand(&input, |name| Some(name.repeat(2)));
    }
}
