//! A progress bar for long resolutions, on a terminal only.
//!
//! It shows when more than [`ProgressReporter::THRESHOLD`] secrets are
//! resolved, stderr is a terminal, and the process is not in CI (`CI` or
//! `GITLAB_CI` set): a CI log would keep every redraw. Everything else gets
//! a hidden reporter whose calls cost next to nothing, so callers never
//! branch.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex, OnceLock};

use ci_secrets_core::progress::{NoProgress, Progress};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressFinish, ProgressStyle, WeakProgressBar};

use super::settings::{Env, process_env};

/// The bar on screen now, so that log lines can be written around it.
static ACTIVE: Mutex<Option<WeakProgressBar>> = Mutex::new(None);

/// Counts resolved secrets, drawing a bar on stderr when that helps.
/// Clones share one bar; it disappears when finished or when the last
/// clone is dropped.
#[derive(Debug, Clone)]
pub struct ProgressReporter {
    bar: ProgressBar,
}

impl ProgressReporter {
    /// Bars show only for more secrets than this.
    pub const THRESHOLD: u64 = 20;

    /// A reporter for `total` secrets, visible only where it should be
    /// (see the module docs).
    ///
    /// ```
    /// use ci_secrets_telemetry::ProgressReporter;
    ///
    /// let progress = ProgressReporter::start(3); // 3 <= THRESHOLD: hidden
    /// assert!(!progress.is_visible());
    /// progress.inc(2);
    /// progress.inc(1);
    /// progress.finish();
    /// ```
    pub fn start(total: u64) -> Self {
        if !should_show(total, std::io::stderr().is_terminal(), &process_env) {
            return Self::hidden();
        }
        // The template is a constant, so it parses; fall back to the
        // default style rather than fail a run over a progress bar.
        let style = ProgressStyle::with_template(
            "{spinner} resolving secrets [{bar:30}] {pos}/{len} ({elapsed})",
        )
        .map(|style| style.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr())
            .with_style(style)
            .with_finish(ProgressFinish::AndClear);
        *lock_active() = Some(bar.downgrade());
        Self { bar }
    }

    /// A reporter that never draws (for `--quiet`, say).
    pub fn hidden() -> Self {
        Self {
            bar: ProgressBar::hidden(),
        }
    }

    /// Whether a bar is drawn.
    pub fn is_visible(&self) -> bool {
        !self.bar.is_hidden()
    }

    /// Counts `resolved` more secrets (resolved or failed: done either way).
    pub fn inc(&self, resolved: u64) {
        self.bar.inc(resolved);
    }

    /// Removes the bar; later calls are ignored.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// The core's [`Progress`] drawn as a [`ProgressReporter`]: the bar is
/// created when the resolution says how many secrets it has, and shows only
/// where [`ProgressReporter::start`] shows it.
#[derive(Debug, Default)]
pub struct TerminalProgress {
    reporter: OnceLock<ProgressReporter>,
}

impl TerminalProgress {
    /// The progress a run reports to: a bar where one helps when `show`
    /// (not `--quiet`), nothing otherwise.
    ///
    /// ```
    /// use ci_secrets_telemetry::TerminalProgress;
    ///
    /// let progress = TerminalProgress::for_run(true);
    /// progress.start(3); // 3 secrets: too few for a bar
    /// progress.inc(3);
    /// progress.finish();
    /// ```
    pub fn for_run(show: bool) -> Arc<dyn Progress> {
        if show {
            Arc::new(Self::default())
        } else {
            Arc::new(NoProgress)
        }
    }

    /// Whether a bar is drawn.
    pub fn is_visible(&self) -> bool {
        self.reporter
            .get()
            .is_some_and(ProgressReporter::is_visible)
    }
}

impl Progress for TerminalProgress {
    fn start(&self, total: u64) {
        // Only the first start draws; a resolution starts once.
        self.reporter.get_or_init(|| ProgressReporter::start(total));
    }

    fn inc(&self, done: u64) {
        if let Some(reporter) = self.reporter.get() {
            reporter.inc(done);
        }
    }

    fn finish(&self) {
        if let Some(reporter) = self.reporter.get() {
            reporter.finish();
        }
    }
}

/// Runs `write` with the visible bar (if any) taken off the screen, so
/// that a line written to stderr is not drawn over. Log writers call this.
pub fn suspend_progress<R>(write: impl FnOnce() -> R) -> R {
    let active = lock_active().as_ref().and_then(WeakProgressBar::upgrade);
    match active {
        Some(bar) if !bar.is_finished() => bar.suspend(write),
        _ => write(),
    }
}

fn lock_active() -> std::sync::MutexGuard<'static, Option<WeakProgressBar>> {
    // The slot holds a weak handle only; a poisoned lock leaves it usable.
    ACTIVE.lock().unwrap_or_else(|poison| poison.into_inner())
}

fn should_show(total: u64, stderr_is_terminal: bool, env: Env<'_>) -> bool {
    let in_ci = env("CI").is_some() || env("GITLAB_CI").is_some();
    total > ProgressReporter::THRESHOLD && stderr_is_terminal && !in_ci
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn more_than_twenty_secrets_on_a_terminal_outside_ci_show_a_bar() {
        assert!(should_show(21, true, &no_env));
        assert!(!should_show(20, true, &no_env));
        assert!(!should_show(500, false, &no_env));
    }

    #[test]
    fn never_in_ci_logs_even_on_a_terminal() {
        for variable in ["CI", "GITLAB_CI"] {
            let env = |name: &str| (name == variable).then(|| "true".to_string());
            assert!(!should_show(500, true, &env), "{variable}");
        }
    }

    #[test]
    fn terminal_progress_draws_nothing_before_start_or_for_few_secrets() {
        let progress = TerminalProgress::default();
        progress.inc(1);
        progress.finish();
        assert!(!progress.is_visible());
        progress.start(ProgressReporter::THRESHOLD);
        assert!(!progress.is_visible());
        progress.inc(ProgressReporter::THRESHOLD);
        progress.finish();
    }

    #[test]
    fn a_hidden_reporter_counts_silently() {
        let progress = ProgressReporter::hidden();
        progress.inc(5);
        assert!(!progress.is_visible());
        assert_eq!(suspend_progress(|| 7), 7);
        progress.finish();
    }
}
