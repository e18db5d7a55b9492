//! Rule levels chosen by a project.

#[cfg(feature = "lint")]
use std::path::{Path, PathBuf};

use super::rule::{Level, Rule};

/// The level of every rule, starting from each rule's
/// [default level](Rule::default_level), and what a walk of a directory
/// leaves out.
///
/// ```
/// use otel_log_bridge::lint::{Config, Level, Rule};
///
/// let mut config = Config::new();
/// config
///     .set_level(Rule::MissingEventName, Level::Warn)
///     .set_level(Rule::InterpolatedMessage, Level::Deny);
/// assert_eq!(config.level(Rule::MissingEventName), Level::Warn);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    levels: [Level; Rule::COUNT],
    #[cfg(feature = "lint")]
    excluded: Vec<PathBuf>,
}

impl Config {
    /// Every rule at its default level.
    #[must_use]
    pub fn new() -> Self {
        Config {
            levels: std::array::from_fn(|index| Rule::ALL[index].default_level()),
            #[cfg(feature = "lint")]
            excluded: Vec::new(),
        }
    }

    /// The level of `rule`.
    #[must_use]
    pub fn level(&self, rule: Rule) -> Level {
        self.levels[rule.index()]
    }

    /// Sets the level of `rule`.
    pub fn set_level(&mut self, rule: Rule, level: Level) -> &mut Self {
        self.levels[rule.index()] = level;
        self
    }

    /// Sets the level of every rule, including those that are off by default.
    pub fn set_all(&mut self, level: Level) -> &mut Self {
        self.levels = [level; Rule::COUNT];
        self
    }

    /// Leaves `path` out of the walk of [`check_path_with`] and
    /// [`assert_clean_with`]: a file, or a directory and everything in it,
    /// given relative to the directory they check (`fixtures`,
    /// `tests/ui`). The `otel-log-lint` command reads its excludes from
    /// `otel-log-lint.toml` instead, which these functions do not read.
    ///
    /// ```no_run
    /// # #[cfg(feature = "lint")]
    /// #[test]
    /// fn logging_calls_keep_their_structure() {
    ///     let mut config = otel_log_bridge::lint::Config::new();
    ///     config.exclude("fixtures").exclude("tests/ui");
    ///     otel_log_bridge::lint::assert_clean_with(".", &config);
    /// }
    /// ```
    ///
    /// [`check_path_with`]: super::check_path_with
    /// [`assert_clean_with`]: super::assert_clean_with
    #[cfg(feature = "lint")]
    pub fn exclude(&mut self, path: impl AsRef<Path>) -> &mut Self {
        self.excluded.push(path.as_ref().to_owned());
        self
    }

    /// Whether `path`, relative to the directory being checked, is left
    /// out (see [`Config::exclude`]).
    #[cfg(feature = "lint")]
    pub(super) fn excludes(&self, relative: &Path) -> bool {
        self.excluded
            .iter()
            .any(|excluded| relative.starts_with(excluded))
    }

    /// Raises every rule that is currently at [`Level::Warn`] to
    /// [`Level::Deny`], as `rustc -D warnings` does.
    pub fn deny_warnings(&mut self) -> &mut Self {
        for level in &mut self.levels {
            if *level == Level::Warn {
                *level = Level::Deny;
            }
        }
        self
    }
}

impl Default for Config {
    fn default() -> Self {
        Config::new()
    }
}
