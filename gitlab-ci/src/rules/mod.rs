//! GitLab's `rules:` (jobs, `workflow:`, `include:`).
pub mod expression;
