//! The `spec:` header and the values given for its inputs, checked as GitLab
//! checks them.
//!
//! The header is validated like GitLab's `Header::Root`, `Header::Spec` and
//! `Header::Input` entries (a node's children are checked only when the node
//! itself is valid, as in `Configurable#compose!`). The values are checked and
//! cast like GitLab's `Ci::Inputs` classes: a value given as text is cast as
//! JSON for `number`, `boolean` and `array` inputs (`"42"` is the number 42),
//! anything given to a `string` input becomes its text, and the default is
//! checked whenever there is one.

use serde_norway::{Mapping, Value};

use super::value::{parse_json, ruby_eq, ruby_eql, to_s};

/// GitLab's `Header::Input::ALLOWED_OPTIONS_LIMIT`.
pub const MAX_OPTIONS: usize = 50;

/// The keys an input definition may hold. GitLab also knows `rules`, handled
/// apart (see [`InputSpec::rules`]).
const INPUT_KEYS: [&str; 5] = ["default", "description", "options", "regex", "type"];

/// GitLab's input types, in the order its messages list them.
const TYPE_NAMES: [&str; 4] = ["array", "boolean", "number", "string"];

/// An input's type (`type:`; `string` when absent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum InputType {
    Array,
    Boolean,
    Number,
    String,
}

impl InputType {
    fn name(self) -> &'static str {
        match self {
            Self::Array => "array",
            Self::Boolean => "boolean",
            Self::Number => "number",
            Self::String => "string",
        }
    }
}

/// One input of `spec: inputs:`, after the header was found valid.
#[derive(Debug, Clone)]
pub(super) struct InputSpec {
    pub name: String,
    /// `None` when the definition names a type GitLab has no input class for
    /// (`type: null`), which GitLab reports when the values are checked.
    pub kind: Option<InputType>,
    /// `Some(Value::Null)` for `default: null`: the input is then optional.
    pub default: Option<Value>,
    pub options: Option<Vec<Value>>,
    /// `Some(None)` for `regex: null`.
    pub regex: Option<Option<String>>,
    /// Whether the definition has `rules:` (conditional options and defaults).
    pub rules: bool,
}

/// Validates the header document (a hash that has a `spec` key) and returns
/// its inputs in file order, or GitLab's errors.
pub(super) fn parse_header(header: &Mapping) -> Result<Vec<InputSpec>, Vec<String>> {
    let unknown = unknown_keys(header, &["spec"]);
    if !unknown.is_empty() {
        return Err(vec![format!(
            "header config contains unknown keys: {unknown}"
        )]);
    }
    let spec = match header.get("spec") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Mapping(spec)) => spec,
        Some(_) => return Err(vec!["header:spec config should be a hash".to_owned()]),
    };
    // `include` (input definitions from other files) is behind GitLab's
    // `ci_file_inputs` feature flag, which reports it as unknown when off.
    let unknown = unknown_keys(spec, &["inputs", "component"]);
    if !unknown.is_empty() {
        return Err(vec![format!(
            "header:spec config contains unknown keys: {unknown}"
        )]);
    }
    let component_errors = check_component(spec.get("component"));
    if !component_errors.is_empty() {
        return Err(component_errors);
    }
    let inputs = match spec.get("inputs") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Mapping(inputs)) => inputs,
        Some(_) => {
            return Err(vec![
                "header:spec:inputs config should be a hash".to_owned(),
            ]);
        }
    };
    let mut errors = Vec::new();
    let mut specs = Vec::with_capacity(inputs.len());
    for (key, definition) in inputs {
        let name = to_s(key);
        let location = format!("header:spec:inputs:{name}");
        let before = errors.len();
        let empty = Mapping::new();
        let definition = match definition {
            Value::Null => &empty,
            Value::Mapping(definition) => definition,
            _ => {
                errors.push(format!("{location} config should be a hash"));
                &empty
            }
        };
        let mut allowed = INPUT_KEYS.to_vec();
        allowed.push("rules");
        let unknown = unknown_keys(definition, &allowed);
        if !unknown.is_empty() {
            errors.push(format!(
                "{location} config contains unknown keys: {unknown}"
            ));
        }
        if !key.is_string() {
            errors.push(format!("{location} key must be an alphanumeric string"));
        }
        if let Some(description) = definition.get("description")
            && !(description.is_null() || description.is_string())
        {
            errors.push(format!(
                "{location} input description must be an alphanumeric string"
            ));
        }
        if let Some(regex) = definition.get("regex")
            && !(regex.is_null() || regex.is_string())
        {
            errors.push(format!("{location} input regex should be a string"));
        }
        let kind = match definition.get("type") {
            None => Some(InputType::String),
            Some(Value::Null) => None,
            Some(Value::String(name)) if TYPE_NAMES.contains(&name.as_str()) => {
                Some(match name.as_str() {
                    "array" => InputType::Array,
                    "boolean" => InputType::Boolean,
                    "number" => InputType::Number,
                    _ => InputType::String,
                })
            }
            Some(other) => {
                errors.push(format!(
                    "{location} input type unknown value: {}",
                    to_s(other)
                ));
                None
            }
        };
        let options = match definition.get("options") {
            None | Some(Value::Null) => None,
            Some(Value::Sequence(options)) => Some(options.clone()),
            Some(_) => {
                errors.push(format!("{location} input options should be an array"));
                None
            }
        };
        if options
            .as_ref()
            .is_some_and(|options| options.len() > MAX_OPTIONS)
        {
            errors.push(format!(
                "{location} config cannot define more than {MAX_OPTIONS} options"
            ));
        }
        if errors.len() > before {
            continue;
        }
        specs.push(InputSpec {
            name,
            kind,
            default: definition.get("default").cloned(),
            options,
            regex: definition
                .get("regex")
                .map(|regex| regex.as_str().map(str::to_owned)),
            rules: definition.contains_key("rules"),
        });
    }
    if errors.is_empty() {
        Ok(specs)
    } else {
        Err(errors)
    }
}

/// GitLab's `Header::Component::ALLOWED_VALUES`: the component context a
/// component's template may read.
const COMPONENT_VALUES: [&str; 4] = ["name", "sha", "version", "reference"];

/// `spec: component:`, checked as GitLab's `Header::Component` entry.
fn check_component(component: Option<&Value>) -> Vec<String> {
    const LOCATION: &str = "header:spec:component";
    match component {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Sequence(items)) => {
            if !items.iter().all(Value::is_string) {
                return vec![format!("{LOCATION} config should be an array of strings")];
            }
            let unknown: Vec<&str> = items
                .iter()
                .filter_map(Value::as_str)
                .filter(|item| !COMPONENT_VALUES.contains(item))
                .collect();
            if unknown.is_empty() {
                Vec::new()
            } else {
                vec![format!(
                    "{LOCATION} config contains unknown values: {}",
                    unknown.join(", ")
                )]
            }
        }
        Some(_) => vec![
            format!("{LOCATION} config should be an array"),
            format!("{LOCATION} config should be an array of strings"),
        ],
    }
}

/// The keys of `map` that are not in `allowed`, as GitLab lists them.
fn unknown_keys(map: &Mapping, allowed: &[&str]) -> String {
    map.keys()
        .filter(|key| !key.as_str().is_some_and(|key| allowed.contains(&key)))
        .map(to_s)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Checks the given `args` against `specs` and returns every input's value
/// (given, else its default), by name, or GitLab's errors: unknown
/// arguments first, then each input's, in the order of the header.
pub(super) fn resolve(specs: &[InputSpec], args: &Mapping) -> Result<Mapping, Vec<String>> {
    let mut errors = Vec::new();
    let unknown: Vec<String> = args
        .keys()
        .filter(|key| {
            !key.as_str()
                .is_some_and(|key| specs.iter().any(|spec| spec.name == key))
        })
        .map(to_s)
        .collect();
    if !unknown.is_empty() {
        errors.push(format!("unknown input arguments: {}", unknown.join(", ")));
    }
    let mut input_errors = Vec::new();
    let mut resolved = Mapping::with_capacity(specs.len());
    for spec in specs {
        let Some(kind) = spec.kind else {
            errors.push(format!(
                "unknown input specification for `{}` (valid types: {})",
                spec.name,
                TYPE_NAMES.join(", ")
            ));
            continue;
        };
        if spec.rules {
            // Conditional options and defaults need GitLab's expression
            // language over the other inputs; refused rather than guessed.
            input_errors.push(format!(
                "`{}` input: `rules:` in an input definition are not supported by ci-secrets",
                spec.name
            ));
            continue;
        }
        let given = args
            .get(spec.name.as_str())
            .filter(|value| !value.is_null());
        let mut check = Check {
            spec,
            kind,
            errors: &mut input_errors,
        };
        match (given, &spec.default) {
            (None, None) => check.error("required value has not been provided"),
            (given, default) => {
                if let Some(default) = default {
                    check.run(default, true);
                }
                if let Some(given) = given {
                    check.run(given, false);
                }
                let value = given.or(default.as_ref()).unwrap_or(&Value::Null);
                resolved.insert(Value::String(spec.name.clone()), coerce(kind, value));
            }
        }
    }
    errors.append(&mut input_errors);
    if errors.is_empty() {
        Ok(resolved)
    } else {
        Err(errors)
    }
}

/// GitLab's cast of a value before it is checked and used: the text of
/// anything for a `string` input, else the JSON a text holds (`"42"` is 42).
fn coerce(kind: InputType, value: &Value) -> Value {
    match (kind, value) {
        (InputType::String, value) => Value::String(to_s(value)),
        (_, Value::String(text)) => parse_json(text).unwrap_or_else(|| value.clone()),
        (_, value) => value.clone(),
    }
}

/// The checks of one input's value.
struct Check<'a> {
    spec: &'a InputSpec,
    kind: InputType,
    errors: &'a mut Vec<String>,
}

impl Check<'_> {
    fn error(&mut self, message: impl std::fmt::Display) {
        self.errors
            .push(format!("`{}` input: {message}", self.spec.name));
    }

    /// Type, options and regex checks of the given value or (`default`) the
    /// default, after GitLab's cast.
    fn run(&mut self, value: &Value, default: bool) {
        let value = coerce(self.kind, value);
        let which = if default { "default" } else { "provided" };
        let type_ok = match self.kind {
            InputType::String => true,
            InputType::Number => value.is_number(),
            InputType::Boolean => value.is_bool(),
            InputType::Array => value.is_sequence(),
        };
        if !type_ok {
            let article = if self.kind == InputType::Array {
                "an"
            } else {
                "a"
            };
            self.error(format_args!(
                "{which} value is not {article} {}",
                self.kind.name()
            ));
        }
        self.check_options(&value);
        self.check_regex(&value, which);
    }

    fn check_options(&mut self, value: &Value) {
        let Some(options) = &self.spec.options else {
            return;
        };
        match self.kind {
            InputType::String => {
                let text = to_s(value);
                if !options.iter().any(|option| to_s(option) == text) {
                    self.error(format_args!(
                        "`{text}` cannot be used because it is not in the list of allowed options"
                    ));
                }
            }
            InputType::Number => {
                if !options.iter().any(|option| ruby_eq(option, value)) {
                    self.error(format_args!(
                        "`{}` cannot be used because it is not in the list of the allowed options",
                        to_s(value)
                    ));
                }
            }
            InputType::Array => {
                let Value::Sequence(items) = value else {
                    return;
                };
                let invalid: Vec<String> = items
                    .iter()
                    .filter(|item| !options.iter().any(|option| ruby_eql(option, item)))
                    .map(to_s)
                    .collect();
                if !invalid.is_empty() {
                    self.error(format_args!(
                        "{} cannot be used because it is not in the list of allowed options",
                        invalid.join(", ")
                    ));
                }
            }
            InputType::Boolean => {
                self.error("Options can only be used with string and number inputs");
            }
        }
    }

    fn check_regex(&mut self, value: &Value, which: &str) {
        let Some(regex) = &self.spec.regex else {
            return;
        };
        if self.kind != InputType::String {
            self.error("RegEx validation can only be used with string inputs");
            return;
        }
        // GitLab matches with RE2 (`Gitlab::UntrustedRegexp`): linear time,
        // like the `regex` crate, whose syntax is RE2's for what both accept.
        let compiled = regex
            .as_deref()
            .filter(|regex| crate::re2::accepts(regex))
            .and_then(|regex| {
                regex::RegexBuilder::new(regex)
                    .size_limit(1 << 20)
                    .build()
                    .ok()
            });
        match compiled {
            None => self.error("invalid regular expression"),
            Some(compiled) if !compiled.is_match(&to_s(value)) => self.error(format_args!(
                "{which} value does not match required RegEx pattern"
            )),
            Some(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Tests fail loudly by design.

    use super::*;

    fn yaml(text: &str) -> Value {
        serde_norway::from_str(text).unwrap()
    }

    fn mapping(text: &str) -> Mapping {
        match yaml(text) {
            Value::Mapping(map) => map,
            Value::Null => Mapping::new(),
            other => panic!("not a hash: {other:?}"),
        }
    }

    fn header_errors(text: &str) -> Vec<String> {
        parse_header(&mapping(text)).unwrap_err()
    }

    /// Resolves `args` against a header holding `inputs`.
    fn resolve_with(inputs: &str, args: &str) -> Result<Mapping, Vec<String>> {
        let header = mapping(&format!("spec: {{inputs: {inputs}}}"));
        resolve(&parse_header(&header).unwrap(), &mapping(args))
    }

    /// After GitLab's `spec/lib/gitlab/ci/config/header/root_spec.rb`,
    /// `spec_spec.rb` and `input_spec.rb` (with the `header` root key the
    /// interpolator gives), and `external/file/base_spec.rb`.
    #[test]
    fn header_errors_are_gitlabs() {
        assert_eq!(
            header_errors("{spec: {inputs: {}}, test: 123}"),
            ["header config contains unknown keys: test"]
        );
        assert_eq!(
            header_errors("{spec: {a: abc}}"),
            ["header:spec config contains unknown keys: a"]
        );
        assert_eq!(
            header_errors("{spec: {arguments: {website: null}}}"),
            ["header:spec config contains unknown keys: arguments"]
        );
        assert_eq!(
            header_errors("{spec: abcd}"),
            ["header:spec config should be a hash"]
        );
        assert_eq!(
            header_errors("{spec: {inputs: {foo: {bad: value}}}}"),
            ["header:spec:inputs:foo config contains unknown keys: bad"]
        );
        assert_eq!(
            header_errors("{spec: {inputs: {foo: {type: datetime}}}}"),
            ["header:spec:inputs:foo input type unknown value: datetime"]
        );
        assert_eq!(
            header_errors("{spec: {inputs: {foo: {regex: []}}}}"),
            ["header:spec:inputs:foo input regex should be a string"]
        );
        assert_eq!(
            header_errors("{spec: {inputs: {123: {}}}}"),
            ["header:spec:inputs:123 key must be an alphanumeric string"]
        );
        // After `header/component_spec.rb`.
        assert!(
            parse_header(&mapping(
                "spec: {component: [name, sha, version, reference]}"
            ))
            .is_ok()
        );
        assert!(parse_header(&mapping("spec: {component: []}")).is_ok());
        assert_eq!(
            header_errors("{spec: {component: [name, invalid_key, version]}}"),
            ["header:spec:component config contains unknown values: invalid_key"]
        );
        assert_eq!(
            header_errors("{spec: {component: [name, 123, version]}}"),
            ["header:spec:component config should be an array of strings"]
        );
        assert!(
            header_errors("{spec: {component: {name: true}}}")
                .contains(&"header:spec:component config should be an array".to_owned())
        );
        let options: Vec<String> = (0..=MAX_OPTIONS).map(|i| format!("value{i}")).collect();
        assert_eq!(
            header_errors(&format!(
                "{{spec: {{inputs: {{foo: {{default: value1, options: [{}]}}}}}}}}",
                options.join(", ")
            )),
            ["header:spec:inputs:foo config cannot define more than 50 options"]
        );
    }

    /// After `root_spec.rb` and `spec_spec.rb`: minimal and required inputs.
    #[test]
    fn minimal_headers_are_valid() {
        assert!(
            parse_header(&mapping("spec: {inputs: null}"))
                .unwrap()
                .is_empty()
        );
        assert!(parse_header(&mapping("spec:")).unwrap().is_empty());
        let specs = parse_header(&mapping(
            "spec: {inputs: {test: {}, foo: {default: bar}, baz: null}}",
        ))
        .unwrap();
        let names: Vec<&str> = specs.iter().map(|spec| spec.name.as_str()).collect();
        assert_eq!(names, ["test", "foo", "baz"]);
        for input in [
            "{default: 6.66}",
            "{default: true}",
            "{description: bar}",
            "{regex: '\\w+'}",
        ] {
            parse_header(&mapping(&format!("spec: {{inputs: {{foo: {input}}}}}"))).unwrap();
        }
        for kind in TYPE_NAMES {
            parse_header(&mapping(&format!(
                "spec: {{inputs: {{foo: {{type: {kind}}}}}}}"
            )))
            .unwrap();
        }
    }

    /// After GitLab's `spec/lib/ci/inputs/string_input_spec.rb`.
    #[test]
    fn string_inputs() {
        let value =
            |inputs: &str, args: &str| resolve_with(inputs, args).map(|map| map["x"].clone());
        assert_eq!(
            value("{x: {default: test}}", "{x: value}").unwrap(),
            yaml("value")
        );
        // Coerced to a string, no error.
        assert_eq!(
            value("{x: {default: test}}", "{x: 123}").unwrap(),
            yaml("'123'")
        );
        assert_eq!(
            value("{x: {default: test}}", "{x: true}").unwrap(),
            yaml("'true'")
        );
        assert_eq!(
            value("{x: {default: default}}", "{}").unwrap(),
            yaml("default")
        );
        assert_eq!(
            value("{x: {default: a, options: [a, b, c]}}", "{x: b}").unwrap(),
            yaml("b")
        );
        assert_eq!(
            value("{x: {default: a, options: [a, b, c]}}", "{x: d}").unwrap_err(),
            ["`x` input: `d` cannot be used because it is not in the list of allowed options"]
        );
        assert!(value("{x: {default: a, options: [a, b, c]}}", "{x: null}").is_ok());
        assert!(value("{x: {default: test, regex: '^[a-z]+$'}}", "{x: hello}").is_ok());
        assert_eq!(
            value("{x: {default: test, regex: '^[a-z]+$'}}", "{x: hello123}").unwrap_err(),
            ["`x` input: provided value does not match required RegEx pattern"]
        );
        assert_eq!(
            value("{x: {default: test123, regex: '^[a-z]+$'}}", "{}").unwrap_err(),
            ["`x` input: default value does not match required RegEx pattern"]
        );
        assert_eq!(
            value("{x: {regex: '['}}", "{x: value}").unwrap_err(),
            ["`x` input: invalid regular expression"]
        );
        assert!(value("{x: {default: '', regex: '^$'}}", "{x: ''}").is_ok());
        assert!(value("{x: {default: '123', regex: '^[0-9]+$'}}", "{x: 123}").is_ok());
    }

    /// After `number_input_spec.rb` and `builder_spec.rb`.
    #[test]
    fn number_inputs() {
        let value =
            |inputs: &str, args: &str| resolve_with(inputs, args).map(|map| map["x"].clone());
        assert_eq!(
            value("{x: {type: number, default: 42}}", "{x: 42}").unwrap(),
            yaml("42")
        );
        assert!(value("{x: {type: number, default: 3.14}}", "{x: 3.14}").is_ok());
        assert_eq!(
            value("{x: {type: number, default: not a number}}", "{}").unwrap_err(),
            ["`x` input: default value is not a number"]
        );
        assert_eq!(
            value("{x: {type: number, default: 42}}", "{x: not a number}").unwrap_err(),
            ["`x` input: provided value is not a number"]
        );
        assert!(
            value(
                "{x: {type: number, default: 1, options: [1, 2, 3]}}",
                "{x: 2}"
            )
            .is_ok()
        );
        assert_eq!(
            value(
                "{x: {type: number, default: 1, options: [1, 2, 3]}}",
                "{x: 5}"
            )
            .unwrap_err(),
            ["`x` input: `5` cannot be used because it is not in the list of the allowed options"]
        );
        // Text is cast as JSON.
        assert_eq!(
            value("{x: {type: number}}", "{x: '123'}").unwrap(),
            yaml("123")
        );
        assert_eq!(
            value("{x: {type: number, default: 1}}", "{x: '42'}").unwrap(),
            yaml("42")
        );
        assert_eq!(
            value("{x: {type: number}}", "{x: abc}").unwrap_err(),
            ["`x` input: provided value is not a number"]
        );
        assert_eq!(
            value("{x: {type: number}}", "{}").unwrap_err(),
            ["`x` input: required value has not been provided"]
        );
    }

    /// After `array_input_spec.rb`.
    #[test]
    fn array_inputs() {
        let value =
            |inputs: &str, args: &str| resolve_with(inputs, args).map(|map| map["x"].clone());
        let options = "{x: {type: array, default: [dev], options: [dev, staging, production]}}";
        assert!(
            value(
                "{x: {type: array, default: [item1]}}",
                "{x: [item1, item2]}"
            )
            .is_ok()
        );
        assert_eq!(
            value("{x: {type: array, default: [item1]}}", "{x: not_an_array}").unwrap_err(),
            ["`x` input: provided value is not an array"]
        );
        assert_eq!(
            value(options, "{x: dev}").unwrap_err(),
            ["`x` input: provided value is not an array"]
        );
        assert!(value(options, "{x: [dev, production]}").is_ok());
        assert_eq!(
            value(options, "{x: [dev, invalid]}").unwrap_err(),
            ["`x` input: invalid cannot be used because it is not in the list of allowed options"]
        );
        assert!(value(options, "{x: null}").is_ok());
        assert!(value(options, "{x: []}").is_ok());
        assert_eq!(
            value(
                "{x: {type: array, default: [invalid], options: [dev, staging, production]}}",
                "{}"
            )
            .unwrap_err(),
            ["`x` input: invalid cannot be used because it is not in the list of allowed options"]
        );
        assert_eq!(
            value("{x: {type: array}}", "{x: '[\"a\", 1]'}").unwrap(),
            yaml("[a, 1]")
        );
    }

    /// After GitLab's boolean input and `yaml/loader_spec.rb` (the three
    /// input errors joined), with today's cast of `"true"` to `true`.
    #[test]
    fn boolean_inputs_and_error_order() {
        let value =
            |inputs: &str, args: &str| resolve_with(inputs, args).map(|map| map["x"].clone());
        assert_eq!(
            value("{x: {type: boolean}}", "{x: 'true'}").unwrap(),
            Value::Bool(true)
        );
        assert_eq!(
            value("{x: {type: boolean}}", "{x: 'yes please'}").unwrap_err(),
            ["`x` input: provided value is not a boolean"]
        );
        assert_eq!(
            value("{x: {type: boolean, default: true, options: [true]}}", "{}").unwrap_err(),
            ["`x` input: Options can only be used with string and number inputs"]
        );
        assert_eq!(
            value("{x: {type: boolean, default: true, regex: a}}", "{}").unwrap_err(),
            ["`x` input: RegEx validation can only be used with string inputs"]
        );
        let errors = resolve_with(
            "{coverage_enabled: {type: boolean, default: false}, \
              deploy_strategy: {options: [rolling, blue-green], default: rolling}, job_stage: null}",
            "{coverage_enabled: 'maybe', deploy_strategy: not-an-option, version: test-version}",
        )
        .unwrap_err();
        assert_eq!(
            errors,
            [
                "unknown input arguments: version",
                "`coverage_enabled` input: provided value is not a boolean",
                "`deploy_strategy` input: `not-an-option` cannot be used because it is not in the list of allowed options",
                "`job_stage` input: required value has not been provided",
            ]
        );
    }

    /// After GitLab's `interpolation/inputs_spec.rb` (the cases today's
    /// casting does not change).
    #[test]
    fn interpolation_inputs_vectors() {
        let errors = |inputs: &str, args: &str| {
            let mut errors = resolve_with(inputs, args).unwrap_err();
            errors.sort();
            errors
        };
        let value = |inputs: &str, args: &str| resolve_with(inputs, args).unwrap();
        assert_eq!(
            value(
                "{foo: {default: one, options: [one, two, three]}}",
                "{foo: two}"
            ),
            mapping("foo: two")
        );
        assert_eq!(
            value("{foo: {default: one, options: [one, two, three]}}", "{}"),
            mapping("foo: one")
        );
        assert_eq!(
            errors(
                "{foo: {default: 1, options: [1, 2, 3, 4, 5], type: number}}",
                "{foo: word}"
            ),
            [
                "`foo` input: `word` cannot be used because it is not in the list of the allowed options",
                "`foo` input: provided value is not a number",
            ]
        );
        assert_eq!(
            value(
                "{foo: {default: 1, options: [1, 2, 3, 4, 5], type: number}}",
                "{foo: 2}"
            ),
            mapping("foo: 2")
        );
        assert_eq!(
            errors(
                "{foo: {default: true, options: [true, false], type: boolean}}",
                "{}"
            ),
            ["`foo` input: Options can only be used with string and number inputs"]
        );
        assert_eq!(
            errors("{foo: {default: coop, options: [one, two, three]}}", "{}"),
            ["`foo` input: `coop` cannot be used because it is not in the list of allowed options"]
        );
        assert_eq!(
            errors(
                "{foo: {default: one, options: [one, two, three]}}",
                "{foo: niet}"
            ),
            ["`foo` input: `niet` cannot be used because it is not in the list of allowed options"]
        );
        assert_eq!(
            errors("{foo: null}", "{foo: bar, test: bar}"),
            ["unknown input arguments: test"]
        );
        assert_eq!(
            errors("{foo: null}", "{test: bar, gitlab: '1'}"),
            [
                "`foo` input: required value has not been provided",
                "unknown input arguments: test, gitlab",
            ]
        );
        assert_eq!(
            value(
                "{integer: {type: number}, float: {type: number}}",
                "{integer: 6, float: 6.6}"
            ),
            mapping("{integer: 6, float: 6.6}")
        );
        assert_eq!(
            errors("{number_input: {type: number}}", "{number_input: false}"),
            ["`number_input` input: provided value is not a number"]
        );
        assert_eq!(
            errors("{number_input: {default: NaN, type: number}}", "{}"),
            ["`number_input` input: default value is not a number"]
        );
        assert_eq!(
            value(
                "{truthy: {type: boolean}, falsey: {type: boolean}}",
                "{truthy: true, falsey: false}"
            ),
            mapping("{truthy: true, falsey: false}")
        );
        assert_eq!(
            errors("{boolean_input: {default: string, type: boolean}}", "{}"),
            ["`boolean_input` input: default value is not a boolean"]
        );
        assert_eq!(
            value("{array_input: {default: [], type: array}}", "{}"),
            mapping("array_input: []")
        );
        assert_eq!(
            errors("{array_input: {default: string, type: array}}", "{}"),
            ["`array_input` input: default value is not an array"]
        );
        assert_eq!(
            value(
                "{test_input: {default: input_value, regex: '^input_value$'}}",
                "{}"
            ),
            mapping("test_input: input_value")
        );
        assert_eq!(
            errors(
                "{test_input: {regex: '^input_value$'}}",
                "{test_input: input}"
            ),
            ["`test_input` input: provided value does not match required RegEx pattern"]
        );
        assert_eq!(
            errors(
                "{test_input: {regex: '^input_value$', type: number}}",
                "{test_input: 999}"
            ),
            ["`test_input` input: RegEx validation can only be used with string inputs"]
        );
        // Not RE2 (a possessive quantifier): refused as GitLab refuses it.
        assert_eq!(
            errors(
                "{test_input: {regex: 'a++'}}",
                "{test_input: aaaaaaaaaaaaaaaaaaaaa}"
            ),
            ["`test_input` input: invalid regular expression"]
        );
    }

    /// After `builder_spec.rb`: a type GitLab has no input class for.
    #[test]
    fn null_type_is_an_unknown_specification() {
        assert_eq!(
            resolve_with("{x: {type: null}}", "{}").unwrap_err(),
            ["unknown input specification for `x` (valid types: array, boolean, number, string)"]
        );
    }
}
