use std::path::Path;

use super::*;

fn yaml(text: &str) -> Value {
    match serde_norway::from_str(text) {
        Ok(value) => value,
        Err(error) => panic!("{text}: {error}"),
    }
}

fn vars(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
    move |name: &str| {
        pairs
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| (*value).to_owned())
    }
}

fn job(rules: &str, ctx: &RuleContext<'_>) -> RulesOutcome {
    match evaluate_rules(&yaml(rules), ctx) {
        Ok(outcome) => outcome,
        Err(error) => panic!("{rules}: {error}"),
    }
}

fn job_error(rules: &str) -> String {
    let lookup = vars(&[]);
    match evaluate_rules(&yaml(rules), &RuleContext::new(&lookup)) {
        Ok(outcome) => panic!("{rules} gave {outcome:?}"),
        Err(error) => error.gitlab_message("jobs:deploy"),
    }
}

// spec/lib/gitlab/ci/build/rules_spec.rb: the first matching rule wins, its `when:` and
// `variables:` come with it, no match means `never`.
#[test]
fn rules_spec_first_match_wins() {
    let lookup = vars(&[("VAR", "present")]);
    let ctx = RuleContext::new(&lookup);
    let outcome = job(
        r#"
- if: $VAR == null
  when: never
- if: $VAR
  when: manual
  variables: {MY_VAR: my var}
- when: always
"#,
        &ctx,
    );
    let Some(matched) = &outcome.matched else {
        panic!("no match: {outcome:?}")
    };
    assert_eq!(matched.index, 1);
    assert_eq!(matched.when.as_deref(), Some("manual"));
    assert_eq!(matched.display, "rules[1]: if: $VAR, when: manual");
    assert_eq!(matched.variables["MY_VAR"].value, "my var");
    assert!(outcome.is_included());

    let none = job("- if: $UNDEFINED\n", &ctx);
    assert_eq!(none.matched, None);
    assert!(!none.is_included());
    assert_eq!(none.exclusion_reason().as_deref(), Some("no rule matched"));

    let never = job("- if: $VAR\n  when: never\n", &ctx);
    assert!(!never.is_included());
    assert_eq!(
        never.exclusion_reason().as_deref(),
        Some("rules[0]: if: $VAR, when: never matched (when: never)")
    );

    // A rule with no clause always matches; its `when:` is as written (none here).
    let bare = job("- variables: {A: b}\n", &ctx);
    assert_eq!(
        bare.matched.as_ref().map(|rule| rule.when.clone()),
        Some(None)
    );
    assert!(bare.is_included());
}

// spec/lib/gitlab/ci/config/entry/rules_spec.rb (nested arrays of rules, what
// `!reference [.base, rules]` gives): nested lists are flattened, indexes count the flat list.
#[test]
fn nested_rules_are_flattened() {
    let lookup = vars(&[("X", "2")]);
    let ctx = RuleContext::new(&lookup);
    let outcome = job(
        "- [{if: $X == '1'}, [{if: $Y}]]\n- if: $X == '2'\n  variables: {P: two}",
        &ctx,
    );
    assert_eq!(
        outcome.matched.map(|rule| (rule.index, rule.display)),
        Some((2, "rules[2]: if: $X == '2'".to_owned()))
    );
}

// spec/lib/gitlab/ci/config/entry/rules/rule_spec.rb and rules_spec.rb: GitLab's messages.
#[test]
fn rule_spec_validation_messages() {
    assert_eq!(
        job_error("- if: $VAR =="),
        "jobs:deploy:rules:rule if invalid expression syntax"
    );
    assert_eq!(
        job_error("- if: true"),
        "jobs:deploy:rules:rule if invalid expression syntax"
    );
    assert_eq!(
        job_error("- when: sometimes"),
        "jobs:deploy:rules:rule when unknown value: sometimes"
    );
    assert_eq!(
        job_error("- invalid: x"),
        "jobs:deploy:rules:rule config contains unknown keys: invalid"
    );
    assert_eq!(
        job_error("- [a, b]"),
        "jobs:deploy:rules:rule config should be a hash"
    );
    assert_eq!(
        job_error("- {}"),
        "jobs:deploy:rules:rule config can't be blank"
    );
    assert_eq!(
        job_error("{if: $A}"),
        "jobs:deploy:rules config should be an array"
    );
    assert_eq!(
        job_error("- changes: 1"),
        "jobs:deploy:rules:rule:changes should be an array or a hash"
    );
    assert_eq!(
        job_error("- changes: {compare_to: main}"),
        "jobs:deploy:rules:rule:changes config missing required keys: paths"
    );
    assert_eq!(
        job_error("- changes: {paths: [a], other: 1}"),
        "jobs:deploy:rules:rule:changes config contains unknown keys: other"
    );
    assert_eq!(
        job_error("- exists: 1"),
        "jobs:deploy:rules:rule:exists should be a string, an array of strings, or a hash"
    );
    assert_eq!(
        job_error("- exists: {paths: [a], ref: main}"),
        "jobs:deploy:rules:rule:exists config missing required keys: project"
    );
    assert_eq!(
        job_error("- when: delayed"),
        "jobs:deploy:rules:rule start in can't be blank"
    );
    assert_eq!(
        job_error("- when: manual\n  start_in: 1 hour"),
        "jobs:deploy:rules:rule config contains disallowed keys: start_in"
    );
    assert_eq!(
        job_error("- allow_failure: maybe"),
        "jobs:deploy:rules:rule allow failure should be a boolean value"
    );
    // The rest of rule_spec.rb's table.
    for valid in [
        "- when: manual",
        "- allow_failure: true",
        "- interruptible: true",
        "- {if: '$THIS || $THAT', when: manual, allow_failure: true, interruptible: true}",
        "- changes: [app/, lib/, spec/, other/*, paths/**/*.rb]",
        "- exists: 'paths/**/*.rb'",
        "- exists: null",
        "- exists: []",
        "- exists: {}",
        "- exists: {paths: [this.md], project: path/to/project, ref: refs/heads/branch1}",
        "- {if: '$THIS || $THAT', when: delayed, start_in: 2 days}",
        "- {if: '$THIS == \"that\"', interruptible: null}",
    ] {
        let lookup = vars(&[]);
        let outcome = evaluate_rules(&yaml(valid), &RuleContext::new(&lookup));
        assert!(outcome.is_ok(), "{valid}: {outcome:?}");
    }
    for (invalid, message) in [
        (
            "- if: ['$MY_VAR == \"this\"', '$YOUR_VAR == \"that\"']",
            "jobs:deploy:rules:rule if invalid expression syntax",
        ),
        (
            "- if: ['$MY_VAR ==']",
            "jobs:deploy:rules:rule if invalid expression syntax",
        ),
        (
            "- if: '$MY_VAR == 123'",
            "jobs:deploy:rules:rule if invalid expression syntax",
        ),
        (
            "- if: '$CI_COMMIT_REF =~ /^(?!master).+/'",
            "jobs:deploy:rules:rule if invalid expression syntax",
        ),
        (
            "- changes: a regular string",
            "jobs:deploy:rules:rule:changes should be an array or a hash",
        ),
        (
            "- changes: [1, 2]",
            "jobs:deploy:rules:rule:changes config should be an array of strings",
        ),
        (
            "- exists: [1, 2, 3]",
            "jobs:deploy:rules:rule:exists config should be an array of strings",
        ),
        (
            "- {if: '$THIS || $THAT', start_in: 15 minutes}",
            "jobs:deploy:rules:rule config contains disallowed keys: start_in",
        ),
        (
            "- {if: '$THIS == \"that\"', when: false}",
            "jobs:deploy:rules:rule when unknown value: false",
        ),
        (
            "- {if: '$THIS == \"that\"', when: explode}",
            "jobs:deploy:rules:rule when unknown value: explode",
        ),
        (
            "- {if: '$THIS == \"that\"', variables: hello}",
            "jobs:deploy:rules:rule:variables config should be a hash of key value pairs",
        ),
        (
            "- {if: '$THIS == \"that\"', interruptible: string}",
            "jobs:deploy:rules:rule interruptible should be a boolean value",
        ),
    ] {
        assert_eq!(job_error(invalid), message, "{invalid}");
    }
    let fifty_one = format!("- changes: {:?}", vec!["app/"; 51]);
    assert_eq!(
        job_error(&fifty_one),
        "jobs:deploy:rules:rule:changes config has too many entries (maximum 50)"
    );
    let fifty_one = format!("- exists: {:?}", vec!["app/*"; 51]);
    assert_eq!(
        job_error(&fifty_one),
        "jobs:deploy:rules:rule:exists config has too many entries (maximum 50)"
    );
    // rules_spec.rb: a single rule object is no list.
    assert_eq!(
        job_error("{if: $SKIP, when: never}"),
        "jobs:deploy:rules config should be an array"
    );

    // The kind says which error it is, and the index which rule.
    let lookup = vars(&[]);
    let error = evaluate_rules(
        &yaml("- when: always\n- if: $A = 1"),
        &RuleContext::new(&lookup),
    );
    assert!(error.as_ref().is_err_and(|error| {
        error.kind == RulesErrorKind::InvalidExpression && error.index == Some(1)
    }));
    assert_eq!(
        error.map_err(|error| error.to_string()),
        Err("rules:rule if invalid expression syntax (rules[1])".to_owned())
    );
}

// lib/gitlab/ci/config/entry/workflow.rb: `when:` is `always` or `never`; `variables:` are
// allowed.
#[test]
fn workflow_rules() {
    let lookup = vars(&[("CI_COMMIT_BRANCH", "main")]);
    let ctx = RuleContext::new(&lookup);
    let outcome = evaluate_workflow_rules(
        &yaml("- if: $CI_COMMIT_BRANCH == 'main'\n  variables: {DEPLOY: prod}\n- when: always"),
        &ctx,
    );
    assert!(outcome.is_ok_and(|outcome| {
        outcome
            .matched
            .is_some_and(|rule| rule.variables["DEPLOY"].value == "prod")
    }));
    let manual = evaluate_workflow_rules(&yaml("- when: manual"), &ctx);
    assert_eq!(
        manual.map_err(|error| error.gitlab_message("workflow")),
        Err("workflow:rules:rule when unknown value: manual".to_owned())
    );
}

// spec/lib/gitlab/ci/config/external/rules_spec.rb and
// spec/lib/gitlab/ci/config/entry/include/rules/rule_spec.rb.
#[test]
fn include_rules_spec() {
    let hello = vars(&[("MY_VAR", "hello")]);
    let invalid = vars(&[("MY_VAR", "invalid")]);
    let rules = yaml(r#"[{if: '$MY_VAR == "hello"'}]"#);
    assert_eq!(
        include_rules_match(&Value::Null, &RuleContext::new(&hello)),
        Ok(true)
    );
    assert_eq!(
        include_rules_match(&rules, &RuleContext::new(&hello)),
        Ok(true)
    );
    assert_eq!(
        include_rules_match(&rules, &RuleContext::new(&invalid)),
        Ok(false)
    );
    let never = yaml(r#"[{if: '$MY_VAR == "hello"', when: never}]"#);
    assert_eq!(
        include_rules_match(&never, &RuleContext::new(&hello)),
        Ok(false)
    );
    let always = yaml(r#"[{if: '$MY_VAR == "hello"', when: always}]"#);
    assert_eq!(
        include_rules_match(&always, &RuleContext::new(&hello)),
        Ok(true)
    );
    let bad_when = yaml("[{when: on_success}]");
    assert_eq!(
        include_rules_match(&bad_when, &RuleContext::new(&hello))
            .map_err(|error| error.gitlab_message("include")),
        Err("include:rule when unknown value: on_success".to_owned())
    );
    let bad_key = yaml("[{if: $A, variables: {A: b}}]");
    assert_eq!(
        include_rules_match(&bad_key, &RuleContext::new(&hello))
            .map_err(|error| error.gitlab_message("include")),
        Err("include:rule config contains unknown keys: variables".to_owned())
    );
    // spec/lib/gitlab/ci/config/entry/include/rules/rule_spec.rb
    let include_error = |rules: &str| {
        include_rules_match(&yaml(rules), &RuleContext::new(&hello))
            .map_err(|error| error.gitlab_message("include"))
    };
    for invalid_if in [
        "[{if: '$MY_VAR =='}]",
        "[{if: '$MY_VAR == 123'}]",
        "[{if: '$MY_VAR =~ /some ( thing/'}]",
        "[{if: '$CI_COMMIT_REF =~ /^(?!master).+/'}]",
        r#"[{if: ['$MY_VAR == "this"', '$YOUR_VAR == "that"']}]"#,
    ] {
        assert_eq!(
            include_error(invalid_if),
            Err("include:rule if invalid expression syntax".to_owned()),
            "{invalid_if}"
        );
    }
    for valid in [
        "[{if: '$THIS || $THAT', when: never}]",
        "[{if: '$THIS || $THAT', when: null}]",
        "[{exists: 'paths/**/*.rb'}]",
        "[{exists: null}]",
        "[{exists: []}]",
        "[{exists: {}}]",
        "[{exists: {paths: [this.md], project: path/to/project, ref: refs/heads/branch1}}]",
        "[{changes: {paths: [Dockerfile], compare_to: branch1}}]",
    ] {
        assert!(
            include_error(valid).is_ok(),
            "{valid}: {:?}",
            include_error(valid)
        );
    }
    let many: Vec<String> = (0..51).map(|_| "app/*".to_owned()).collect();
    assert!(
        include_error(&format!("[{{exists: {many:?}}}]")).is_ok(),
        "no limit"
    );
    assert_eq!(
        include_error("[{exists: [1, 2, 3]}]"),
        Err("include:rule:exists config should be an array of strings".to_owned())
    );
    assert_eq!(
        include_error("[{invalid: something}]"),
        Err("include:rule config contains unknown keys: invalid".to_owned())
    );
    assert_eq!(
        include_error("[{}]"),
        Err("include:rule config can't be blank".to_owned())
    );
    assert_eq!(
        include_error("[invalid]"),
        Err("include:rule config should be a hash".to_owned())
    );
    let bad_if = yaml("[{if: '$A = 1'}]");
    assert_eq!(
        include_rules_match(&bad_if, &RuleContext::new(&hello))
            .map_err(|error| error.gitlab_message("include")),
        Err("include:rule if invalid expression syntax".to_owned())
    );
}

fn project(files: &[&str]) -> tempfile::TempDir {
    let dir = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(error) => panic!("tempdir: {error}"),
    };
    for file in files {
        let path = dir.path().join(file);
        if let Some(parent) = path.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        if let Err(error) = std::fs::write(&path, "") {
            panic!("{file}: {error}");
        }
    }
    dir
}

fn exists_holds(glob: &str, files: &[&str], lookup: &dyn Fn(&str) -> Option<String>) -> bool {
    let dir = project(files);
    let ctx = RuleContext::new(lookup).with_project_dir(dir.path());
    let rules = Value::Sequence(vec![yaml(&format!("exists: [{glob:?}]"))]);
    match evaluate_rules(&rules, &ctx) {
        Ok(outcome) => outcome.matched.is_some(),
        Err(error) => panic!("{glob}: {error}"),
    }
}

// spec/lib/gitlab/ci/build/rules/rule/clause/exists_spec.rb (folder without git: every file).
#[test]
fn exists_spec() {
    let lookup = |name: &str| match name {
        "SUBDIR" => Some("subdir".to_owned()),
        "FULL_PATH_VALID" => Some("subdir/my_file.txt".to_owned()),
        "FULL_PATH_INVALID" => Some("subdir/does_not_exist.txt".to_owned()),
        "NESTED_FULL_PATH_VALID" => Some("$SUBDIR/my_file.txt".to_owned()),
        _ => None,
    };
    let files = ["subdir/my_file.txt"];
    assert!(exists_holds("$FULL_PATH_VALID", &files, &lookup));
    assert!(!exists_holds("$FULL_PATH_INVALID", &files, &lookup));
    assert!(exists_holds("$NESTED_FULL_PATH_VALID", &files, &lookup));
    assert!(exists_holds("$SUBDIR/**/*", &files, &lookup));
    assert!(!exists_holds("$UNKNOWN/**/*", &files, &lookup));
    // A path ending in `/` is a folder.
    assert!(exists_holds("subdir/", &files, &lookup));
    // `.git` is never part of the tree.
    assert!(!exists_holds(".git/config", &[".git/config"], &lookup));
    // "when there are no globs"; `exists: null` is no clause at all.
    let dir = project(&files);
    let ctx = RuleContext::new(&lookup).with_project_dir(dir.path());
    assert!(job("- exists: []", &ctx).matched.is_none());
    assert!(job("- exists: {}", &ctx).matched.is_none());
    assert!(job("- exists: null", &ctx).matched.is_some());
    // `project:` cannot be checked here: true, with a warning naming the project.
    let other = job("- exists: {paths: [file.txt], project: group/other}", &ctx);
    assert!(other.matched.is_some());
    assert_eq!(other.warnings.len(), 1);
    assert!(other.warnings[0].message.contains("group/other"));
}

// spec/lib/gitlab/ci/build/rules/rule/clause/changes_spec.rb.
#[test]
fn changes_spec() {
    let lookup = |name: &str| (name == "HELM_DIR").then(|| "helm".to_owned());
    let check = |glob: &str, files: &[&str]| {
        let files: Vec<String> = files.iter().map(|file| (*file).to_owned()).collect();
        let ctx = RuleContext::new(&lookup).with_changed_files(Some(&files));
        job(&format!("- changes: {{paths: [{glob:?}]}}"), &ctx)
            .matched
            .is_some()
    };
    assert!(check("Dockerfile", &["Dockerfile", "Gemfile"]));
    assert!(!check("Dockerfile", &["Gemfile"]));
    assert!(check(
        "src/**/*.go",
        &["src/gitlab.com/goproject/goproject.go"]
    ));
    assert!(!check("/*.go", &["main.go", "cmd/goproject/main.go"]));
    assert!(check("$HELM_DIR/**/*", &["helm/test.txt"]));
    assert!(check("path/with/$in/it/*", &["path/with/$in/it/file.txt"]));
    // Nothing changed: false.
    assert!(!check("*", &[]));
    // Unknown changes: true, with one warning.
    let ctx = RuleContext::new(&lookup);
    let unknown = job("- changes: [a]\n- when: never", &ctx);
    assert_eq!(unknown.matched.map(|rule| rule.index), Some(0));
    assert_eq!(unknown.warnings.len(), 1);
    assert_eq!(unknown.warnings[0].kind, WarningKind::ChangesUnknown);
}

fn git(dir: &Path, args: &[&str]) {
    let status = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
    assert!(status.is_ok_and(|status| status.success()), "git {args:?}");
}

// changes_spec.rb "when using compare_to" (its branch table, on a real repository): the diff
// is taken from the merge base, and an unknown ref is GitLab's ParseError.
#[test]
fn compare_to_uses_the_merge_base() {
    let dir = project(&["README.md"]);
    let root = dir.path();
    git(root, &["init", "-q", "-b", "master"]);
    git(root, &["add", "."]);
    git(root, &["commit", "-q", "-m", "readme"]);
    git(root, &["checkout", "-q", "-b", "feature_1"]);
    let _ = std::fs::write(root.join("file1.txt"), "file 1");
    git(root, &["add", "."]);
    git(root, &["commit", "-q", "-m", "file1"]);
    git(root, &["tag", "tag_1"]);
    let _ = std::fs::write(root.join("file2.txt"), "file 2");
    git(root, &["add", "."]);
    git(root, &["commit", "-q", "-m", "file2"]);
    let lookup = |name: &str| (name == "PREFIX").then(|| "feature_".to_owned());
    let ctx = RuleContext::new(&lookup).with_project_dir(root);
    let holds = |paths: &str, compare_to: &str| {
        job(
            &format!("- changes: {{paths: [{paths}], compare_to: '{compare_to}'}}"),
            &ctx,
        )
        .matched
        .is_some()
    };
    // HEAD is feature_1 (with file2 on it).
    assert!(holds("file1.txt", "master"));
    assert!(!holds("README.md", "master"));
    assert!(!holds("xyz.md", "master"));
    assert!(!holds("file1.txt", "tag_1"));
    assert!(holds("file2.txt", "tag_1"));
    git(root, &["checkout", "-q", "-b", "feature_2"]);
    git(root, &["tag", "-d", "tag_1"]);
    assert!(!holds("file1.txt", "${PREFIX}1"));
    let error = evaluate_rules(
        &yaml("- changes: {paths: [file1.txt], compare_to: xyz}"),
        &ctx,
    );
    assert!(
        error.is_err_and(|error| error.kind == RulesErrorKind::InvalidRef
            && error.message.starts_with("is not a valid ref"))
    );
}

// Validation alone gives the same errors as evaluation, and needs no variables.
#[test]
fn validate_rules_without_evaluating() {
    assert_eq!(
        validate_rules(&yaml("- if: $A == 'x'\n- when: never"), RulesKind::Job),
        Ok(())
    );
    assert_eq!(
        validate_rules(&yaml("- when: manual"), RulesKind::Workflow)
            .map_err(|error| error.gitlab_message("workflow")),
        Err("workflow:rules:rule when unknown value: manual".to_owned())
    );
    // Nothing is read: a `compare_to:` ref is not looked up.
    assert_eq!(
        validate_rules(
            &yaml("- changes: {paths: [a], compare_to: no-such-ref}"),
            RulesKind::Job
        ),
        Ok(())
    );
}
