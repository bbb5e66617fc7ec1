//! A collapsible section of the GitLab job log, so that ci-secrets'
//! diagnostics fold away under one header line.
//!
//! GitLab recognises two markers on a line of its own
//! (`\e[0K` erases what the marker printed on a plain terminal):
//!
//! ```text
//! \e[0Ksection_start:<unix seconds>:<name>[collapsed=true]\r\e[0K<header>
//! \e[0Ksection_end:<unix seconds>:<name>\r\e[0K
//! ```

use std::io::{Stderr, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use super::settings::{Env, process_env};

/// The section name ci-secrets uses.
pub const SECTION_NAME: &str = "ci_secrets";

/// An open section; dropping it (or [`close`](Self::close)) ends it.
///
/// Open it before the diagnostics (the `-v` log and the summary line) and
/// close it before anything the user must see unfolded: an error, or the
/// output of the command `exec` runs.
#[derive(Debug)]
pub struct GitLabSection<W: Write = Stderr> {
    name: String,
    writer: W,
}

impl GitLabSection<Stderr> {
    /// Opens a collapsed section on stderr when running inside GitLab CI
    /// (`GITLAB_CI=true`); `None` anywhere else, where the markers would be
    /// noise.
    ///
    /// ```
    /// use ci_secrets_telemetry::GitLabSection;
    ///
    /// let section = GitLabSection::open_in_gitlab("Resolving secrets");
    /// eprintln!("3 secrets from 1 provider in 42 ms (1 login, 2 API calls, 0 retries)");
    /// drop(section);
    /// ```
    pub fn open_in_gitlab(header: &str) -> Option<Self> {
        in_gitlab(&process_env).then(|| Self::open(std::io::stderr(), SECTION_NAME, header))
    }
}

impl<W: Write> GitLabSection<W> {
    /// Writes the start marker on `writer`. `name` keeps only the
    /// characters GitLab accepts (letters, digits, `_`, `.`, `-`); `header`
    /// loses control characters, which would break the marker line.
    ///
    /// ```
    /// use ci_secrets_telemetry::GitLabSection;
    ///
    /// let mut log = Vec::new();
    /// GitLabSection::open(&mut log, "ci_secrets", "Resolving secrets").close();
    /// let text = String::from_utf8(log).unwrap();
    /// assert!(text.starts_with("\x1b[0Ksection_start:"));
    /// assert!(text.contains(":ci_secrets[collapsed=true]\r\x1b[0KResolving secrets\n"));
    /// assert!(text.ends_with(":ci_secrets\r\x1b[0K\n"));
    /// ```
    pub fn open(mut writer: W, name: &str, header: &str) -> Self {
        let name: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let header: String = header.chars().filter(|c| !c.is_control()).collect();
        // The job log is best effort: a closed stderr must not fail the job.
        let _ = write!(
            writer,
            "\x1b[0Ksection_start:{}:{name}[collapsed=true]\r\x1b[0K{header}\n",
            unix_seconds()
        );
        let _ = writer.flush();
        Self { name, writer }
    }

    /// Ends the section now.
    pub fn close(self) {
        drop(self);
    }
}

impl<W: Write> Drop for GitLabSection<W> {
    fn drop(&mut self) {
        let _ = write!(
            self.writer,
            "\x1b[0Ksection_end:{}:{}\r\x1b[0K\n",
            unix_seconds(),
            self.name
        );
        let _ = self.writer.flush();
    }
}

/// Whether this process runs in a GitLab CI job.
pub(crate) fn in_gitlab(env: Env<'_>) -> bool {
    env("GITLAB_CI").is_some_and(|value| value == "true")
}

fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_section_wraps_what_is_written_inside_it() {
        let mut log = Vec::new();
        {
            let section = GitLabSection::open(&mut log, "ci secrets!", "Secrets:\r\n\x1b[31mred");
            writeln!(section.writer, "2 secrets from 1 provider").unwrap();
        }
        let text = String::from_utf8(log).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text:?}");
        let start = lines[0].strip_prefix("\x1b[0Ksection_start:").unwrap();
        let (start_time, rest) = start.split_once(':').unwrap();
        assert!(start_time.parse::<u64>().unwrap() > 1_600_000_000);
        assert_eq!(rest, "ci_secrets_[collapsed=true]\r\x1b[0KSecrets:[31mred");
        assert_eq!(lines[1], "2 secrets from 1 provider");
        let end = lines[2].strip_prefix("\x1b[0Ksection_end:").unwrap();
        let (end_time, rest) = end.split_once(':').unwrap();
        assert!(end_time.parse::<u64>().unwrap() >= start_time.parse::<u64>().unwrap());
        assert_eq!(rest, "ci_secrets_\r\x1b[0K");
    }

    #[test]
    fn only_gitlab_ci_true_counts_as_gitlab() {
        assert!(in_gitlab(
            &|name: &str| (name == "GITLAB_CI").then(|| "true".to_string())
        ));
        assert!(!in_gitlab(
            &|name: &str| (name == "GITLAB_CI").then(|| "false".to_string())
        ));
        assert!(!in_gitlab(&|_: &str| None));
    }
}
