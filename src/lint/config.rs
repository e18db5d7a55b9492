//! Rule levels chosen by a project.

use super::rule::{Level, Rule};

/// The level of every rule, starting from each rule's
/// [default level](Rule::default_level).
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
}

impl Config {
    /// Every rule at its default level.
    #[must_use]
    pub fn new() -> Self {
        Config {
            levels: std::array::from_fn(|index| Rule::ALL[index].default_level()),
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
