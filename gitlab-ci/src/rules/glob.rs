//! Ruby's `File.fnmatch?(glob, path, FNM_PATHNAME | FNM_DOTMATCH | FNM_EXTGLOB)`, the
//! matching GitLab uses for `rules:exists` and `rules:changes`.
//!
//! - `*` matches any run of characters except `/` (a leading `.` included: `FNM_DOTMATCH`);
//!   `?` one character except `/`;
//! - `**/` at the start of a path segment matches any number of directories, none included
//!   (`src/**/*.go` matches `src/a.go` and `src/a/b/c.go`); elsewhere `**` is `*`;
//! - `[abc]`, `[a-z]`, `[!a]`, `[^a]` match one character (never `/`);
//! - `{a,b}` matches either alternative (`FNM_EXTGLOB`), nested braces included;
//! - `\x` matches `x` literally.
//!
//! A glob is translated once into an anchored regular expression (linear-time matching).
//! Braces become alternations instead of being expanded, so `{a,b}{c,d}...` cannot explode.

use regex::{Regex, RegexBuilder};

/// Compiled size limit for one glob.
const SIZE_LIMIT: usize = 1 << 20;

/// A compiled glob.
#[derive(Debug, Clone)]
pub struct Glob {
    regex: Regex,
}

impl Glob {
    /// Compiles `glob`; `None` only when the translation exceeds the size limit.
    pub fn new(glob: &str) -> Option<Self> {
        let chars: Vec<char> = glob.chars().collect();
        let mut translator = Translator {
            chars: &chars,
            at: 0,
        };
        let body = translator.sequence(false);
        let regex = RegexBuilder::new(&format!("^(?s:{body})$"))
            .size_limit(SIZE_LIMIT)
            .build()
            .ok()?;
        Some(Self { regex })
    }

    /// Whether `path` (relative, `/`-separated) matches.
    pub fn matches(&self, path: &str) -> bool {
        self.regex.is_match(path)
    }
}

/// `File.fnmatch?` with GitLab's flags; a glob too large to compile matches nothing.
pub fn fnmatch(glob: &str, path: &str) -> bool {
    Glob::new(glob).is_some_and(|glob| glob.matches(path))
}

struct Translator<'a> {
    chars: &'a [char],
    at: usize,
}

impl Translator<'_> {
    /// Translates up to the end, or (inside braces) up to the `,` or `}` that ends the
    /// alternative, which is left unconsumed.
    fn sequence(&mut self, in_braces: bool) -> String {
        let mut out = String::new();
        while let Some(&c) = self.chars.get(self.at) {
            let segment_start = self.at == 0 || self.chars.get(self.at - 1) == Some(&'/');
            match c {
                ',' | '}' if in_braces => break,
                '*' => {
                    if segment_start
                        && self.chars.get(self.at + 1) == Some(&'*')
                        && self.chars.get(self.at + 2) == Some(&'/')
                    {
                        out.push_str("(?:[^/]+/)*");
                        self.at += 3;
                    } else {
                        while self.chars.get(self.at) == Some(&'*') {
                            self.at += 1;
                        }
                        out.push_str("[^/]*");
                    }
                }
                '?' => {
                    out.push_str("[^/]");
                    self.at += 1;
                }
                '[' => match self.bracket() {
                    Some(class) => out.push_str(&class),
                    None => {
                        out.push_str(&regex::escape("["));
                        self.at += 1;
                    }
                },
                '{' => match self.braces() {
                    Some(group) => out.push_str(&group),
                    None => {
                        out.push_str(&regex::escape("{"));
                        self.at += 1;
                    }
                },
                '\\' => {
                    let escaped = self.chars.get(self.at + 1).copied().unwrap_or('\\');
                    out.push_str(&regex::escape(&escaped.to_string()));
                    self.at += 2;
                }
                other => {
                    out.push_str(&regex::escape(&other.to_string()));
                    self.at += 1;
                }
            }
        }
        out
    }

    /// `{a,b,...}` starting at `self.at`; `None` (nothing consumed) when it is not closed.
    fn braces(&mut self) -> Option<String> {
        let start = self.at;
        self.at += 1;
        let mut alternatives = Vec::new();
        loop {
            alternatives.push(self.sequence(true));
            match self.chars.get(self.at) {
                Some(',') => self.at += 1,
                Some('}') => {
                    self.at += 1;
                    return Some(format!("(?:{})", alternatives.join("|")));
                }
                _ => {
                    self.at = start;
                    return None;
                }
            }
        }
    }

    /// `[...]` starting at `self.at`; `None` (nothing consumed) when it is not closed.
    fn bracket(&mut self) -> Option<String> {
        let mut at = self.at + 1;
        let negated = matches!(self.chars.get(at), Some('!' | '^'));
        if negated {
            at += 1;
        }
        let mut class = String::new();
        let mut first = true;
        loop {
            let c = *self.chars.get(at)?;
            if c == ']' && !first {
                break;
            }
            first = false;
            let c = if c == '\\' {
                at += 1;
                *self.chars.get(at)?
            } else {
                c
            };
            if self.chars.get(at + 1) == Some(&'-')
                && self.chars.get(at + 2).is_some_and(|&e| e != ']')
            {
                let end = self.chars.get(at + 2).copied()?;
                if c <= end {
                    class.push_str(&format!("{}-{}", class_char(c), class_char(end)));
                }
                at += 3;
            } else {
                class.push_str(&class_char(c));
                at += 1;
            }
        }
        self.at = at + 1;
        // With `FNM_PATHNAME` a class never matches `/`.
        Some(match (negated, class.is_empty()) {
            // `[z-a]`: an empty range matches nothing.
            (false, true) => "[^\\s\\S]".to_owned(),
            (true, true) => "[^/]".to_owned(),
            (false, false) => format!("[{class}&&[^/]]"),
            (true, false) => format!("[^/{class}]"),
        })
    }
}

/// A character escaped for use inside a regex class.
fn class_char(c: char) -> String {
    match c {
        '\\' | ']' | '[' | '^' | '-' | '&' | '~' => format!("\\{c}"),
        _ => c.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::fnmatch;

    // spec/support/shared_examples/ci/rules/glob_matching_rule (`a glob matching rule`, used
    // by spec/lib/gitlab/ci/build/rules/rule/clause/exists_spec.rb): glob, files, matches.
    #[test]
    fn glob_matching_rule_table() {
        let table: [(&str, &[&str], bool); 18] = [
            ("Dockerfile", &["Dockerfile", "Gemfile"], true),
            ("Dockerfile", &["Gemfile"], false),
            ("Docker*", &["Dockerfile", "Gemfile"], true),
            ("Docker*", &["Gemfile"], false),
            (
                "project/build.properties",
                &["project/build.properties"],
                true,
            ),
            ("project/build.properties", &["project/README.md"], false),
            (
                "src/**/*.go",
                &["src/gitlab.com/goproject/goproject.go"],
                true,
            ),
            (
                "src/**/*.go",
                &["src/gitlab.com/goproject/README.md"],
                false,
            ),
            ("*.go", &["main.go", "cmd/goproject/main.go"], true),
            ("**/*.so.1", &["lib/lib64/lib.so.1"], true),
            ("*.go", &["cmd/goproject/main.go"], false),
            ("/*.go", &["main.go", "cmd/goproject/main.go"], false),
            ("**/*.xcodeproj/*", &["a.xcodeproj/x.pbxproj"], true),
            ("**/*.xcodeproj/*", &["main/x.pbxproj"], false),
            ("*.xcodeproj/*", &["a.xcodeproj/x.pbxproj"], true),
            ("*.xcodeproj/*", &["main/x.pbxproj"], false),
            ("**/*.y*ml", &["hello/world.yml"], true),
            ("**/*.y*ml", &["hello/world.yaml"], true),
        ];
        for (glob, files, expected) in table {
            let matched = files.iter().any(|file| fnmatch(glob, file));
            assert_eq!(matched, expected, "{glob} on {files:?}");
        }
    }

    // Not from a spec: `{}` alternatives (FNM_EXTGLOB) and dot files (FNM_DOTMATCH).
    #[test]
    fn braces_and_dot_files() {
        assert!(fnmatch("helm/**/*", "helm/values.yml"));
        assert!(fnmatch("{README.md,file.md}", "README.md"));
        assert!(fnmatch("{README.md,file.md}", "file.md"));
        assert!(!fnmatch("{README.md,file.md}", "other.md"));
        assert!(fnmatch("**/*", ".gitlab-ci.yml"));
        assert!(fnmatch("*", ".hidden"));
    }

    // Ruby's File.fnmatch documentation (the examples that hold with these flags).
    #[test]
    fn ruby_fnmatch_documentation() {
        assert!(fnmatch("cat", "cat"));
        assert!(!fnmatch("cat", "category"));
        assert!(fnmatch("c?t", "cat"));
        assert!(!fnmatch("c??t", "cat"));
        assert!(fnmatch("c*", "cats"));
        assert!(!fnmatch("c*t", "c/a/b/t"));
        assert!(fnmatch("ca[a-z]", "cat"));
        assert!(!fnmatch("ca[^t]", "cat"));
        assert!(!fnmatch("ca[!t]", "cat"));
        assert!(fnmatch("\\?", "?"));
        assert!(!fnmatch("\\a", "\\a"));
        assert!(fnmatch("\\a", "a"));
        assert!(fnmatch("[\\?]", "?"));
        assert!(!fnmatch("*", "dave/.profile"));
        assert!(fnmatch("**/foo", "a/b/c/foo"));
        assert!(fnmatch("**/foo", "foo"));
        assert!(fnmatch("**/foo", "a/.b/c/foo"));
        assert!(!fnmatch("**/foo", "c/a/b/cfoo"));
        assert!(fnmatch("c{at,ub}s", "cats"));
        assert!(fnmatch("c{at,ub}s", "cubs"));
        assert!(!fnmatch("c{at,ub}s", "cs"));
        assert!(!fnmatch("ca[/]t", "ca/t"));
    }

    proptest::proptest! {
        // On repository paths (relative, `/`-separated, no empty segment): a glob without
        // metacharacters is an exact path (GitLab's `exact_glob?` shortcut relies on it), and
        // `**/*` matches every path.
        #[test]
        fn literal_globs_match_only_themselves(
            path in "[a-zA-Z0-9._-]{1,8}(/[a-zA-Z0-9._-]{1,8}){0,3}",
            other in "[a-zA-Z0-9._-]{1,8}(/[a-zA-Z0-9._-]{1,8}){0,3}",
        ) {
            proptest::prop_assert!(fnmatch(&path, &path));
            proptest::prop_assert_eq!(fnmatch(&path, &other), path == other);
            proptest::prop_assert!(fnmatch("**/*", &path));
        }
    }

    // Not from a spec: unclosed brackets and braces are literal; hostile globs stay bounded.
    #[test]
    fn literal_and_hostile_globs() {
        assert!(fnmatch("a[b", "a[b"));
        assert!(fnmatch("a{b", "a{b"));
        assert!(fnmatch("{a,{b,c}}d", "cd"));
        let hostile = "{a,b}".repeat(200);
        assert!(!fnmatch(&hostile, "c"));
    }
}
