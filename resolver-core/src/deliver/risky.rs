//! Secret names that change how a shell, the dynamic loader or an
//! interpreter runs. Delivering a secret under such a name is allowed (a
//! pipeline may mean it), but it changes every program the job starts, so
//! it earns a warning that names the variable.

use crate::dispatch::ResolvedSecret;

/// What setting the variable changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Effect {
    /// Read by a shell at start-up or while it runs.
    Shell,
    /// Read by the dynamic loader before any program code runs.
    Loader,
    /// Where programs and libraries are looked up.
    Search,
    /// Read by an interpreter or tool at start-up to load code or options.
    Interpreter,
}

impl std::fmt::Display for Effect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Effect::Shell => "it changes how a shell runs",
            Effect::Loader => "it changes how the dynamic loader starts every program",
            Effect::Search => "it changes where programs or libraries are found",
            Effect::Interpreter => "it makes an interpreter load code or options at start-up",
        })
    }
}

/// A secret whose name is one of those, as a printable warning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RiskyName {
    /// The variable.
    pub variable: String,
    /// What it changes.
    pub effect: Effect,
}

impl std::fmt::Display for RiskyName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the secret {} is delivered under a name that {}; check that the pipeline means it",
            self.variable, self.effect
        )
    }
}

const SHELL: &[&str] = &[
    "BASH_ENV",
    "ENV",
    "IFS",
    "PROMPT_COMMAND",
    "PS1",
    "PS2",
    "PS4",
    "SHELLOPTS",
    "BASHOPTS",
    "CDPATH",
    "GLOBIGNORE",
    "HISTFILE",
    "ZDOTDIR",
    "BASH_XTRACEFD",
    "EXECIGNORE",
];

const SEARCH: &[&str] = &["PATH", "GCONV_PATH", "LOCPATH", "NLSPATH", "HOSTALIASES"];

const INTERPRETER: &[&str] = &[
    "PYTHONPATH",
    "PYTHONSTARTUP",
    "PYTHONHOME",
    "PYTHONINSPECT",
    "PERL5LIB",
    "PERL5OPT",
    "PERLLIB",
    "RUBYLIB",
    "RUBYOPT",
    "NODE_OPTIONS",
    "NODE_PATH",
    "JAVA_TOOL_OPTIONS",
    "_JAVA_OPTIONS",
    "JDK_JAVA_OPTIONS",
    "GIT_SSH_COMMAND",
    "GIT_SSH",
    "GIT_EXEC_PATH",
    "GIT_CONFIG_GLOBAL",
    "GIT_ASKPASS",
    "SSH_ASKPASS",
    "EDITOR",
    "VISUAL",
    "PAGER",
];

/// What setting `name` would change, if it is one of the names above or
/// belongs to the loader (`LD_*`, and `DYLD_*` on macOS).
pub fn effect_of(name: &str) -> Option<Effect> {
    if name.starts_with("LD_") || name.starts_with("DYLD_") || name.starts_with("MALLOC_") {
        Some(Effect::Loader)
    } else if SHELL.contains(&name) {
        Some(Effect::Shell)
    } else if SEARCH.contains(&name) {
        Some(Effect::Search)
    } else if INTERPRETER.contains(&name) {
        Some(Effect::Interpreter)
    } else {
        None
    }
}

/// The secrets, in order, whose names change how programs run.
pub fn risky_names(secrets: &[ResolvedSecret]) -> Vec<RiskyName> {
    secrets
        .iter()
        .filter_map(|secret| {
            effect_of(&secret.variable).map(|effect| RiskyName {
                variable: secret.variable.clone(),
                effect,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_loader_and_interpreter_names_are_flagged_and_ordinary_ones_are_not() {
        for (name, effect) in [
            ("BASH_ENV", Effect::Shell),
            ("ENV", Effect::Shell),
            ("IFS", Effect::Shell),
            ("PROMPT_COMMAND", Effect::Shell),
            ("LD_PRELOAD", Effect::Loader),
            ("LD_LIBRARY_PATH", Effect::Loader),
            ("LD_AUDIT", Effect::Loader),
            ("DYLD_INSERT_LIBRARIES", Effect::Loader),
            ("PATH", Effect::Search),
            ("NODE_OPTIONS", Effect::Interpreter),
            ("PERL5OPT", Effect::Interpreter),
        ] {
            assert_eq!(effect_of(name), Some(effect), "{name}");
        }
        for name in [
            "DB_PASSWORD",
            "ENVIRONMENT",
            "MY_PATH",
            "path",
            "TOKEN",
            "LD",
        ] {
            assert_eq!(effect_of(name), None, "{name}");
        }
    }
}
