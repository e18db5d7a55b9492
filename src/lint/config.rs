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
    /// `tests/ui`), or absolute. It is a path, not a pattern: unlike the
    /// `exclude` list of `otel-log-lint.toml`, which the command reads and
    /// these functions do not, it matches no other place and no wildcard.
    /// An empty path leaves nothing out.
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
        // `./fixtures` is `fixtures`.
        let path = super::diagnostic::lexically_normal(path.as_ref());
        if !path.as_os_str().is_empty() {
            self.excluded.push(path);
        }
        self
    }

    /// What a walk of `root` leaves out, relative to it (see
    /// [`Config::exclude`]): an absolute path is taken relative to where
    /// `root` is, and left aside when it is not under it.
    #[cfg(feature = "lint")]
    pub(super) fn excluded_under(&self, root: &Path) -> Vec<PathBuf> {
        let absolute_root = std::path::absolute(root).ok();
        self.excluded
            .iter()
            .filter_map(|excluded| {
                if excluded.is_absolute() {
                    let relative = excluded.strip_prefix(absolute_root.as_ref()?).ok()?;
                    // The root itself, excluded: everything under it.
                    Some(relative.to_path_buf())
                } else {
                    Some(excluded.clone())
                }
            })
            .collect()
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
