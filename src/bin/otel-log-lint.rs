//! `otel-log-lint`: find `tracing` and `log` calls that lose structure on
//! the way to OpenTelemetry.
//!
//! ```text
//! otel-log-lint [OPTIONS] [PATHS]...
//! ```
//!
//! Exits 0 when no finding is at level `deny`, 1 when one is, and 2 on a
//! usage error or when a file cannot be read. The rules are documented in
//! `otel_log_bridge::lint`.

use std::collections::BTreeMap;
use std::error::Error as _;
use std::io::{self, ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, ValueEnum};
use ignore::gitignore::{Gitignore, GitignoreBuilder};
use ignore::WalkBuilder;
use otel_log_bridge::lint::{self, Config, Diagnostic, Level, Rule};
use serde::Deserialize;

/// The name of the configuration file looked up from the current directory
/// upwards.
const CONFIG_FILE_NAME: &str = "otel-log-lint.toml";

/// Find tracing and log calls that lose structure on the way to
/// OpenTelemetry: values formatted into messages, errors and requests
/// turned into strings, secrets, reserved or inconsistent keys.
#[derive(Debug, Parser)]
#[command(name = "otel-log-lint", version, after_help = AFTER_HELP)]
struct Cli {
    /// Files or directories to check. Directories are walked honouring the
    /// .gitignore files in and above them (not the global excludes file or
    /// .git/info/exclude), skipping hidden entries and Cargo's build
    /// directories. Defaults to the current directory.
    paths: Vec<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    format: OutputFormat,

    /// Report RULE as an error (exit 1). RULE is an id (OLB001), a name
    /// (interpolated-message), `all`, or `warnings` (every rule now at warn).
    #[arg(short = 'D', long = "deny", value_name = "RULE")]
    deny: Vec<String>,

    /// Report RULE as a warning.
    #[arg(short = 'W', long = "warn", value_name = "RULE")]
    warn: Vec<String>,

    /// Do not report RULE (`warnings`: every rule now at warn, so that
    /// only denied findings are shown).
    #[arg(short = 'A', long = "allow", value_name = "RULE")]
    allow: Vec<String>,

    /// Read rule levels and excludes from FILE instead of the nearest
    /// otel-log-lint.toml.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// List the rules with their levels, then exit.
    #[arg(long)]
    list_rules: bool,
}

const AFTER_HELP: &str = "\
Levels apply in this order: each rule's default, then the [rules] of
otel-log-lint.toml in the order written, then --deny/--warn/--allow in the order
given; a later entry wins. The configuration file looks like:

    exclude = [\"generated/**\"]   # gitignore syntax, relative to this file;
                                 # files named on the command line too

    [rules]
    all = \"deny\"                 # every rule, then the exceptions
    OLB009 = \"warn\"
    interpolated-message = \"allow\"

A comment `// otel-log-lint: allow(OLB001)` silences a rule on its line (and in
a call that starts there); on a line of its own it also covers the line or call
below. Exit status: 0 clean or warnings only, 1 a denied finding, 2 usage or
I/O error.";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OutputFormat {
    /// rustc-style text.
    Human,
    /// A JSON array of findings.
    Json,
    /// SARIF 2.1.0, for GitHub code scanning.
    Sarif,
}

/// `otel-log-lint.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    /// Rule id or name (or `all`, `warnings`) to level. The keys keep
    /// their place in the file, as entries apply in the order written.
    #[serde(default)]
    rules: BTreeMap<toml::Spanned<String>, String>,
    /// Paths to skip, in gitignore syntax, relative to the configuration file.
    #[serde(default)]
    exclude: Vec<String>,
}

/// Why the run stopped before checking anything.
#[derive(Debug)]
struct UsageError(String);

/// Writes a line to standard error, as `eprintln!` does, but goes on when
/// standard error is closed: `eprintln!` would panic, and the exit status
/// would no longer say whether a finding is denied.
macro_rules! say {
    ($($arg:tt)*) => {{
        let _ = writeln!(io::stderr(), $($arg)*);
    }};
}

fn main() -> ExitCode {
    let matches = match Cli::command().try_get_matches() {
        Ok(matches) => matches,
        Err(error) => {
            // Help and version go to stdout and exit 0; usage errors exit 2.
            let _ = error.print();
            return ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(2));
        }
    };
    match run(&matches) {
        Ok(code) => code,
        Err(UsageError(message)) => {
            say!("error: {message}");
            ExitCode::from(2)
        }
    }
}

fn run(matches: &ArgMatches) -> Result<ExitCode, UsageError> {
    let cli = Cli::from_arg_matches(matches).map_err(|error| UsageError(error.to_string()))?;
    let (config_file, config_dir, config_path) = load_config_file(cli.config.as_deref())?;
    // Errors in the file name the file that was read.
    let config_name = config_path.map_or_else(
        || CONFIG_FILE_NAME.to_owned(),
        |path| path.display().to_string(),
    );
    let mut config = Config::new();
    // A later entry overrides an earlier one (`all = "deny"`, then
    // `OLB009 = "allow"`); the map lost the file's order, the spans of its
    // keys give it back.
    let mut rules: Vec<_> = config_file.rules.iter().collect();
    rules.sort_by_key(|(name, _)| name.span().start);
    for (name, level) in rules {
        let name = name.get_ref();
        let level: Level = level
            .parse()
            .map_err(|error| UsageError(format!("{config_name}: {error}")))?;
        apply_level(&mut config, name, level)
            .map_err(|message| UsageError(format!("{config_name}: {message}")))?;
    }
    for (level, name) in level_flags_in_order(matches) {
        apply_level(&mut config, &name, level).map_err(UsageError)?;
    }

    if cli.list_rules {
        let listing: String = Rule::ALL
            .iter()
            .map(|rule| {
                format!(
                    "{}  {:<26} {:<6} {}\n",
                    rule.id(),
                    rule.name(),
                    config.level(*rule).as_str(),
                    rule.summary()
                )
            })
            .collect();
        return Ok(write_stdout(&listing, ExitCode::SUCCESS));
    }

    let excluded = exclusion_matcher(&config_file.exclude, &config_dir)?;
    let paths = if cli.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        cli.paths.clone()
    };
    let (files, mut errors) = rust_files(&paths, excluded);
    let report = lint::check_files(&files, &config);
    if files.is_empty() && errors.is_empty() {
        // A mistyped path in a CI job would otherwise pass as a clean run.
        say!("warning: no Rust file found to check");
    }
    // The error's own text names the file; its source says why.
    errors.extend(report.errors.iter().map(|error| match error.source() {
        Some(cause) => format!("{error}: {cause}"),
        None => error.to_string(),
    }));
    for error in &errors {
        say!("error: {error}");
    }

    let output = match cli.format {
        OutputFormat::Human => human(&report.diagnostics),
        OutputFormat::Json => json_text(&lint::to_json(&report.diagnostics)),
        OutputFormat::Sarif => json_text(&sarif(&report.diagnostics, &errors)),
    };
    let denied = report.diagnostics.iter().any(|d| d.level == Level::Deny);
    let code = if !errors.is_empty() {
        ExitCode::from(2)
    } else if denied {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    };
    let code = write_stdout(&output, code);
    // After the findings, as a compiler's summary comes, also when both
    // streams go to one place.
    if cli.format == OutputFormat::Human {
        say!(
            "{}",
            summary(&report.diagnostics, report.files_checked, errors.len())
        );
    }
    Ok(code)
}

/// Writes the report; a reader that went away (`| head`) is not an error,
/// so a closed pipe ends the run with the status of the findings: a denied
/// finding still fails a pipeline whose reader stopped early.
fn write_stdout(text: &str, code: ExitCode) -> ExitCode {
    let mut stdout = io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => code,
        Err(error) if error.kind() == ErrorKind::BrokenPipe => code,
        Err(error) => {
            say!("error: cannot write the report: {error}");
            ExitCode::from(2)
        }
    }
}

fn human(diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(|diagnostic| format!("{diagnostic}\n\n"))
        .collect()
}

fn json_text(value: &serde_json::Value) -> String {
    // Serialising a `Value` to a string cannot fail: its keys are strings.
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}

/// The findings as SARIF, with the run's invocation: a run that could not
/// read some of its paths says so, so that a scan uploaded after a failed
/// step does not show as clean.
fn sarif(diagnostics: &[Diagnostic], errors: &[String]) -> serde_json::Value {
    let mut log = lint::to_sarif(diagnostics);
    let notifications: Vec<serde_json::Value> = errors
        .iter()
        .map(|error| serde_json::json!({ "level": "error", "message": { "text": error } }))
        .collect();
    if let Some(run) = log
        .pointer_mut("/runs/0")
        .and_then(serde_json::Value::as_object_mut)
    {
        run.insert(
            "invocations".to_owned(),
            serde_json::json!([{
                "executionSuccessful": errors.is_empty(),
                "toolExecutionNotifications": notifications,
            }]),
        );
    }
    log
}

/// What the run found, and what it could not read.
fn summary(diagnostics: &[Diagnostic], files: usize, unread: usize) -> String {
    let errors = diagnostics
        .iter()
        .filter(|d| d.level == Level::Deny)
        .count();
    let warnings = diagnostics.len() - errors;
    let files = if files == 1 {
        "1 file".to_owned()
    } else {
        format!("{files} files")
    };
    let found = if diagnostics.is_empty() {
        format!("otel-log-lint: no findings in {files}")
    } else {
        format!("otel-log-lint: {errors} error(s), {warnings} warning(s) in {files}")
    };
    match unread {
        0 => found,
        1 => format!("{found}; 1 path could not be read or checked (see above)"),
        _ => format!("{found}; {unread} paths could not be read or checked (see above)"),
    }
}

/// Sets the level of the rule `name`, or of several rules for `all` and
/// `warnings` (every rule at warn when the entry applies).
fn apply_level(config: &mut Config, name: &str, level: Level) -> Result<(), String> {
    if name.eq_ignore_ascii_case("all") {
        config.set_all(level);
    } else if name.eq_ignore_ascii_case("warnings") {
        for &rule in Rule::ALL {
            if config.level(rule) == Level::Warn {
                config.set_level(rule, level);
            }
        }
    } else {
        let rule: Rule = name.parse().map_err(|error| format!("{error}"))?;
        config.set_level(rule, level);
    }
    Ok(())
}

/// The `--deny`/`--warn`/`--allow` values in command-line order, so that a
/// later flag overrides an earlier one as with rustc.
fn level_flags_in_order(matches: &ArgMatches) -> Vec<(Level, String)> {
    let mut flags: Vec<(usize, Level, String)> = Vec::new();
    for (id, level) in [
        ("deny", Level::Deny),
        ("warn", Level::Warn),
        ("allow", Level::Allow),
    ] {
        if let (Some(values), Some(indices)) =
            (matches.get_many::<String>(id), matches.indices_of(id))
        {
            flags.extend(
                indices
                    .zip(values)
                    .map(|(index, value)| (index, level, value.clone())),
            );
        }
    }
    flags.sort_by_key(|(index, _, _)| *index);
    flags
        .into_iter()
        .map(|(_, level, value)| (level, value))
        .collect()
}

/// Reads the configuration file given with `--config`, or the nearest
/// `otel-log-lint.toml` from the current directory upwards, and returns it
/// with the directory its excludes are relative to and its path (none
/// when there is no file).
fn load_config_file(
    explicit: Option<&Path>,
) -> Result<(ConfigFile, PathBuf, Option<PathBuf>), UsageError> {
    let current = std::env::current_dir()
        .map_err(|error| UsageError(format!("cannot read the current directory: {error}")))?;
    let found = match explicit {
        Some(path) => Some(current.join(path)),
        None => current
            .ancestors()
            .map(|directory| directory.join(CONFIG_FILE_NAME))
            .find(|candidate| candidate.is_file()),
    };
    let Some(path) = found else {
        return Ok((ConfigFile::default(), current, None));
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|error| UsageError(format!("cannot read {}: {error}", path.display())))?;
    let config: ConfigFile = toml::from_str(&text)
        .map_err(|error| UsageError(format!("{}: {error}", path.display())))?;
    // The excludes are matched against normalized paths, so their root is
    // normalized too (`--config src/../otel-log-lint.toml`).
    // Links on the way are resolved, as they are in the paths matched.
    let directory = path.parent().map_or(current, |parent| {
        std::fs::canonicalize(parent).unwrap_or_else(|_| lint::lexically_normal(parent))
    });
    Ok((config, directory, Some(path)))
}

fn exclusion_matcher(patterns: &[String], root: &Path) -> Result<Option<Gitignore>, UsageError> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut builder = GitignoreBuilder::new(root);
    for pattern in patterns {
        builder
            .add_line(None, pattern)
            .map_err(|error| UsageError(format!("exclude pattern `{pattern}`: {error}")))?;
    }
    builder
        .build()
        .map(Some)
        .map_err(|error| UsageError(format!("exclude patterns: {error}")))
}

/// Walks the paths honouring `.gitignore` (also outside a git repository)
/// and the configured excludes, and lists the files to check: `.rs` files,
/// and any file named on the command line. Cargo's build directories below
/// the paths are skipped, as `check_path` skips them. Returns the files,
/// and what went wrong with each path that could not be read.
fn rust_files(paths: &[PathBuf], excluded: Option<Gitignore>) -> (Vec<PathBuf>, Vec<String>) {
    let Some((first, rest)) = paths.split_first() else {
        return (Vec::new(), Vec::new());
    };
    let mut builder = WalkBuilder::new(first);
    for path in rest {
        builder.add(path);
    }
    // `.gitignore` files, as `--help` says, but not the `.ignore` files of
    // search tools: a file hidden from searches is still source to check.
    // Nor what one person's git ignores (the global excludes file,
    // `.git/info/exclude`): the same command checks the same files on every
    // machine, a developer's as CI's.
    builder
        .standard_filters(true)
        .ignore(false)
        .git_global(false)
        .git_exclude(false)
        .require_git(false)
        .sort_by_file_name(|a, b| a.cmp(b));
    // The walker filters only what it finds below the paths, never the
    // paths themselves: an excluded file named on the command line (as
    // pre-commit hooks name the files they check) is skipped below.
    let excluded = excluded.map(std::sync::Arc::new);
    let excluded_below = excluded.clone();
    // One filter: a second `filter_entry` would replace the first.
    builder.filter_entry(move |entry| {
        let is_dir = entry.file_type().is_some_and(|kind| kind.is_dir());
        let is_build_dir = is_dir && entry.depth() > 0 && lint::is_cargo_target_dir(entry.path());
        let is_excluded = excluded_below
            .as_ref()
            .is_some_and(|matcher| is_excluded(matcher, entry.path(), is_dir));
        !is_build_dir && !is_excluded
    });
    let mut files = Vec::new();
    // Paths that overlap (`src src/lib.rs`, `. src`) name some files more
    // than once; each is checked once, under the first name it came by.
    let mut seen = std::collections::HashSet::new();
    let mut errors = Vec::new();
    for entry in builder.build() {
        match entry {
            Ok(entry) => {
                // A `.gitignore` the walker could not read or parse in
                // full: its other patterns still apply, but what the
                // broken ones would have left out is checked.
                if let Some(error) = entry.error() {
                    say!("warning: {error}");
                }
                // A link to a file is checked, as `lint::check_path` checks
                // it; links to directories are not followed.
                let target = std::fs::metadata(entry.path());
                let is_link = entry.file_type().is_some_and(|kind| kind.is_symlink());
                let is_file = entry.file_type().is_some_and(|kind| {
                    kind.is_file() || (is_link && target.as_ref().is_ok_and(|meta| meta.is_file()))
                });
                // A link to a directory named on the command line is
                // walked, as the directory would be.
                let is_dir = entry.file_type().is_some_and(|kind| {
                    kind.is_dir()
                        || (entry.depth() == 0
                            && is_link
                            && target.as_ref().is_ok_and(|meta| meta.is_dir()))
                });
                if entry.depth() == 0
                    && excluded
                        .as_ref()
                        .is_some_and(|matcher| is_excluded(matcher, entry.path(), is_dir))
                {
                    continue;
                }
                let is_rust = entry.path().extension().is_some_and(|ext| ext == "rs");
                // A path that cannot be checked is an error, not a run that
                // checked nothing and passed: `-` (standard input), a pipe,
                // a device, and a link to nothing under a Rust file's name.
                if entry.depth() == 0 && !is_file && !is_dir {
                    errors.push(format!(
                        "{} is neither a file nor a directory (standard input and pipes are not read)",
                        entry.path().display()
                    ));
                    continue;
                }
                if is_rust && is_link {
                    if let Err(error) = &target {
                        errors.push(format!("cannot read {}: {error}", entry.path().display()));
                        continue;
                    }
                }
                let identity =
                    std::fs::canonicalize(entry.path()).unwrap_or_else(|_| entry.path().to_owned());
                if is_file && (is_rust || entry.depth() == 0) && seen.insert(identity) {
                    files.push(entry.into_path());
                }
            }
            Err(error) => errors.push(error.to_string()),
        }
    }
    (files, errors)
}

fn is_excluded(matcher: &Gitignore, path: &Path, is_dir: bool) -> bool {
    let Ok(absolute) = std::path::absolute(path) else {
        return false;
    };
    // The patterns are matched by text: `src/../generated/out.rs` must
    // match `generated/**`.
    let absolute = lint::lexically_normal(&absolute);
    // The matcher only answers for paths under its root.
    let matches = |path: &Path| {
        path.starts_with(matcher.path())
            && matcher
                .matched_path_or_any_parents(path, is_dir)
                .is_ignore()
    };
    if absolute.starts_with(matcher.path()) {
        return matches(&absolute);
    }
    // Else with the links on its way resolved, as the root's are: a path
    // given through a linked directory (`/tmp` on macOS, a checkout under a
    // link) names the same file. Looked up only then: it costs a look at
    // the file system for every path walked.
    absolute
        .parent()
        .and_then(|parent| std::fs::canonicalize(parent).ok())
        .zip(absolute.file_name())
        .is_some_and(|(parent, name)| matches(&parent.join(name)))
}
