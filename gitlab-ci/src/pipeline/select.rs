//! Which top-level entries one job needs: the job, the global `default:` and `variables:`,
//! and, transitively, every entry they name in `extends:` or in a `!reference`. Loading one job
//! expands only these, so a pipeline of thousands of jobs costs what that job costs.

use std::collections::HashSet;

use serde_norway::{Mapping, Value};

use super::source::REFERENCE_TAG;

/// Global keywords a job reads from (`default:` for `id_tokens:`, the global `variables:`).
pub(crate) const GLOBALS_A_JOB_READS: [&str; 2] = ["default", "variables"];

/// The entries of `config` that job `job` needs, `job` first.
pub(crate) fn needed_by(config: &Mapping, job: &str) -> Vec<String> {
    let mut needed: Vec<String> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut pending: Vec<String> = std::iter::once(job)
        .chain(GLOBALS_A_JOB_READS)
        .map(str::to_owned)
        .collect();
    pending.reverse();
    while let Some(name) = pending.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let Some(value) = config.get(name.as_str()) else {
            continue;
        };
        needed.push(name);
        let mut named = Vec::new();
        if let Some(parents) = value.as_mapping().and_then(|entry| entry.get("extends")) {
            match parents {
                Value::String(parent) => named.push(parent.clone()),
                Value::Sequence(items) => {
                    named.extend(items.iter().filter_map(Value::as_str).map(str::to_owned));
                }
                _ => {}
            }
        }
        referenced_entries(value, &mut named);
        pending.extend(named.into_iter().rev());
    }
    needed
}

/// Adds the top-level entry every `!reference` in `value` starts from.
fn referenced_entries(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Tagged(tagged) if tagged.tag == REFERENCE_TAG => {
            if let Some(first) = tagged
                .value
                .as_sequence()
                .and_then(|path| path.first())
                .and_then(Value::as_str)
            {
                found.push(first.to_owned());
            }
        }
        Value::Tagged(tagged) => referenced_entries(&tagged.value, found),
        Value::Sequence(items) => items
            .iter()
            .for_each(|item| referenced_entries(item, found)),
        Value::Mapping(map) => map
            .values()
            .for_each(|item| referenced_entries(item, found)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::needed_by;
    use serde_norway::{Mapping, Value};

    fn config(yaml: &str) -> Mapping {
        match serde_norway::from_str(yaml) {
            Ok(Value::Mapping(map)) => map,
            other => panic!("not a mapping: {other:?}"),
        }
    }

    #[test]
    fn a_job_needs_its_ancestors_what_they_reference_and_the_globals() {
        let config = config(
            "variables: {A: 1}\n.base: {extends: .root, script: !reference [.setup, script]}\n\
             .root: {}\n.setup: {script: [x]}\n.unused: {}\nother: {extends: .unused}\n\
             job: {extends: [.base], variables: {B: !reference [.vars, B]}}\n.vars: {B: 2}\n",
        );
        let mut needed = needed_by(&config, "job");
        needed.sort();
        assert_eq!(
            needed,
            [".base", ".root", ".setup", ".vars", "job", "variables"]
        );
    }
}
