//! Running the checks over files: reading them, isolating each parse on a
//! thread of its own, the key checks that span a whole crate, suppression
//! comments and levels.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use proc_macro2::LineColumn;

use super::check::{check_file, declared_macro_use, prepare_source, FileOutcome, Finding, KeyUse};
use super::config::Config;
use super::diagnostic::{Diagnostic, LintError};
use super::grammar::Range;
use super::imports::FlavorSet;
use super::keys::{check_key, KeySite};
use super::rule::{Level, Rule};
use super::text::Lines;

/// The stack of the thread that parses one file. Parsing recurses once per
/// nesting level, and unoptimised builds use much more stack per level than
/// the 2 MiB a spawned thread gets by default.
const WORKER_STACK_BYTES: usize = 256 * 1024 * 1024;

/// What checking a set of files produced.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct Report {
    /// The findings, sorted by path, line, column and rule.
    pub diagnostics: Vec<Diagnostic>,
    /// The files that could not be read, or not checked because their
    /// checking thread could not start; the others were still checked.
    pub errors: Vec<LintError>,
    /// How many files were checked.
    pub files_checked: usize,
}

/// One file being checked.
struct SourceFile {
    /// The path as it was given, which findings show.
    path: PathBuf,
    /// The path made absolute, which places the file in its crate and
    /// below its crate root's directory however the path was written
    /// (`src/m.rs`, `./src/m.rs`, `/work/src/m.rs`).
    place: PathBuf,
    /// The text with its byte-order mark and shebang blanked.
    text: String,
    /// The group of files that crate-wide checks compare, usually the
    /// directory of the nearest `Cargo.toml`.
    crate_root: Option<PathBuf>,
}

/// Checks one source text as a crate of its own.
pub(super) fn check_one(path: &Path, source: &str, config: &Config) -> Vec<Diagnostic> {
    let file = SourceFile {
        path: path.to_owned(),
        place: absolute(path),
        text: prepare_source(source),
        crate_root: None,
    };
    let (mut diagnostics, not_started) = check_sources(vec![file], config);
    let level = config.level(Rule::UnparsableFile);
    if level != Level::Allow {
        diagnostics.extend(not_started.into_iter().map(|(path, error)| Diagnostic {
            rule: Rule::UnparsableFile,
            level,
            path,
            line: 1,
            column: 1,
            end_line: 1,
            end_column: 1,
            message: format!(
                "the linter could not start its thread for this file ({error}), so it was not linted"
            ),
            help: format!(
                "the linter's thread asks for a {} MiB stack; give the process more memory",
                WORKER_STACK_BYTES >> 20
            ),
            source_line: String::new(),
            source_column: 1,
        }));
    }
    diagnostics
}

/// Reads and checks files, grouping them into crates by the nearest
/// `Cargo.toml` for the crate-wide key checks.
pub(super) fn check_files<P: AsRef<Path>>(paths: &[P], config: &Config) -> Report {
    let mut report = Report::default();
    let mut roots = CrateRoots::default();
    let mut files = Vec::new();
    let mut unreadable = Vec::new();
    for path in paths {
        let path = path.as_ref();
        match std::fs::read(path) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => {
                    let place = absolute(path);
                    files.push(SourceFile {
                        path: path.to_owned(),
                        text: prepare_source(&text),
                        crate_root: roots.of(&place),
                        place,
                    });
                }
                Err(_) => unreadable.push(not_utf8(path, config)),
            },
            Err(source) => report.errors.push(LintError::Io {
                path: path.to_owned(),
                source,
            }),
        }
    }
    report.files_checked = files.len() + unreadable.len();
    let (mut diagnostics, not_started) = check_sources(files, config);
    report.files_checked = report.files_checked.saturating_sub(not_started.len());
    report.errors.extend(
        not_started
            .into_iter()
            .map(|(path, source)| LintError::Thread { path, source }),
    );
    diagnostics.extend(unreadable.into_iter().flatten());
    sort(&mut diagnostics);
    report.diagnostics = diagnostics;
    report
}

/// `path` made absolute against the working directory, without resolving
/// links; as it is when the working directory cannot be read.
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

fn not_utf8(path: &Path, config: &Config) -> Option<Diagnostic> {
    let level = config.level(Rule::UnparsableFile);
    (level != Level::Allow).then(|| Diagnostic {
        rule: Rule::UnparsableFile,
        level,
        path: path.to_owned(),
        line: 1,
        column: 1,
        end_line: 1,
        end_column: 1,
        message: "this file is not valid UTF-8, so it was not linted".to_owned(),
        help: "save it as UTF-8, or exclude it from linting".to_owned(),
        source_line: String::new(),
        source_column: 1,
    })
}

/// Finds and caches the directory of the nearest `Cargo.toml` above a file.
#[derive(Default)]
struct CrateRoots {
    by_directory: HashMap<PathBuf, Option<PathBuf>>,
}

impl CrateRoots {
    fn of(&mut self, file: &Path) -> Option<PathBuf> {
        let directory = file.parent()?.to_owned();
        if let Some(root) = self.by_directory.get(&directory) {
            return root.clone();
        }
        let root = directory
            .ancestors()
            .find(|ancestor| ancestor.join("Cargo.toml").is_file())
            .map(Path::to_owned);
        self.by_directory.insert(directory, root.clone());
        root
    }
}

/// Checks the files as crates; returns the findings, and the files that
/// were not checked because no thread could be started for them (with
/// why): an error of the run, not of the file.
fn check_sources(
    files: Vec<SourceFile>,
    config: &Config,
) -> (Vec<Diagnostic>, Vec<(PathBuf, std::io::Error)>) {
    let mut not_started = Vec::new();
    // `#[macro_use] extern crate log;` in a crate root makes `info!` refer to
    // `log` in every module below it, so find those roots first.
    let macro_use_roots: Vec<(PathBuf, Option<PathBuf>, FlavorSet)> = files
        .iter()
        .filter(|file| file.text.contains("macro_use"))
        .filter_map(|file| {
            let text = file.text.clone();
            // A panic is the file's own check's to report, below. A thread
            // that cannot start is the run's error: the crate root is then
            // not checked either (below), and the files under it are
            // checked without its macros.
            let flavors = match isolated(move || declared_macro_use(&text)) {
                Ok(flavors) => flavors.unwrap_or_default(),
                Err(error) => {
                    not_started.push((file.path.clone(), error));
                    FlavorSet::default()
                }
            };
            (!flavors.is_empty()).then(|| {
                (
                    file.place.parent().map(Path::to_owned).unwrap_or_default(),
                    file.crate_root.clone(),
                    flavors,
                )
            })
        })
        .collect();

    let mut checked = Vec::with_capacity(files.len());
    for file in &files {
        let inherited = macro_use_roots
            .iter()
            .filter(|(directory, root, _)| {
                *root == file.crate_root && file.place.starts_with(directory)
            })
            .fold(FlavorSet::default(), |flavors, (_, _, more)| {
                flavors.union(*more)
            });
        if not_started.iter().any(|(path, _)| *path == file.path) {
            checked.push(FileOutcome::default());
            continue;
        }
        let text = file.text.clone();
        let outcome = match isolated(move || check_file(&text, inherited, Suppressions::MARKER)) {
            Ok(Some(outcome)) => outcome,
            Ok(None) => FileOutcome {
                findings: vec![Finding {
                    rule: Rule::UnparsableFile,
                    range: Range {
                        start: proc_macro2::LineColumn { line: 1, column: 0 },
                        end: proc_macro2::LineColumn { line: 1, column: 0 },
                    },
                    anchor_line: 1,
                    message:
                        "the linter failed on this file (internal error), so it was not linted"
                            .to_owned(),
                    help: "please report this file to the otel-log-bridge maintainers".to_owned(),
                }],
                ..FileOutcome::default()
            },
            Err(error) => {
                not_started.push((file.path.clone(), error));
                FileOutcome::default()
            }
        };
        checked.push(outcome);
    }

    let mut crates: BTreeMap<Option<&Path>, Vec<usize>> = BTreeMap::new();
    for (index, file) in files.iter().enumerate() {
        crates
            .entry(file.crate_root.as_deref())
            .or_default()
            .push(index);
    }
    let suppressions: Vec<Suppressions> = files
        .iter()
        .zip(&checked)
        .map(|(file, outcome)| Suppressions::parse(&file.text, &outcome.marker_literals))
        .collect();
    let mut crate_findings: Vec<(usize, Finding)> = Vec::new();
    for members in crates.values() {
        crate_findings.extend(crate_key_findings(members, &files, &checked, &suppressions));
    }

    let lines: Vec<Lines<'_>> = files.iter().map(|file| Lines::new(&file.text)).collect();
    let mut diagnostics = Vec::new();
    let mut emit = |index: usize, finding: &Finding, suppressions: &Suppressions| {
        let level = config.level(finding.rule);
        if level == Level::Allow || suppressions.covers(finding) {
            return;
        }
        let (Some(file), Some(lines)) = (files.get(index), lines.get(index)) else {
            return;
        };
        let column = finding.range.start.column + 1;
        let (source_line, source_column) = lines.excerpt(finding.range.start.line, column);
        diagnostics.push(Diagnostic {
            rule: finding.rule,
            level,
            path: file.path.clone(),
            line: finding.range.start.line,
            column,
            end_line: finding.range.end.line,
            end_column: finding.range.end.column + 1,
            message: finding.message.clone(),
            help: finding.help.clone(),
            source_line,
            source_column,
        });
    };
    for (index, outcome) in checked.iter().enumerate() {
        for finding in &outcome.findings {
            emit(index, finding, &suppressions[index]);
        }
    }
    for (index, finding) in &crate_findings {
        emit(*index, finding, &suppressions[*index]);
    }
    for (index, file_suppressions) in suppressions.iter().enumerate() {
        for finding in &file_suppressions.unknown {
            emit(index, finding, file_suppressions);
        }
    }
    sort(&mut diagnostics);
    (diagnostics, not_started)
}

fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by(|a, b| {
        (&a.path, a.line, a.column, a.rule, &a.message)
            .cmp(&(&b.path, b.line, b.column, b.rule, &b.message))
    });
}

/// Runs `work` on a thread with a large stack. Returns `None` if it
/// panicked, which is a bug in the linter: the caller reports the file
/// instead of failing the whole run. An error is a thread that could not
/// start (a memory limit too low for its stack), which is the run's
/// failure, not the file's.
fn isolated<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> std::io::Result<Option<T>> {
    let thread = std::thread::Builder::new()
        .name("otel-log-lint".to_owned())
        .stack_size(WORKER_STACK_BYTES)
        .spawn(work)?;
    Ok(thread.join().ok())
}

/// OLB004 across a crate: keys used both as a value and as a namespace, and
/// one key spelled two ways. A key where a comment allows OLB004 is a
/// deliberate exception: it is neither reported nor counted against the
/// others.
fn crate_key_findings(
    members: &[usize],
    files: &[SourceFile],
    checked: &[FileOutcome],
    suppressions: &[Suppressions],
) -> Vec<(usize, Finding)> {
    let uses: Vec<(usize, &KeyUse)> = members
        .iter()
        .filter_map(|index| Some((*index, checked.get(*index)?)))
        .flat_map(|(index, outcome)| outcome.key_uses.iter().map(move |key_use| (index, key_use)))
        .filter(|(index, key_use)| {
            // Only a comment that reaches the key's own line: one above a
            // call spread over lines would take every key of the call out.
            let line = key_use.range.start.line;
            !suppressions
                .get(*index)
                .is_some_and(|suppressions| suppressions.allows(Rule::KeyNaming, line, line))
        })
        .filter(|(_, key_use)| {
            check_key(&key_use.key, KeySite::Event).all(|finding| finding.rule != Rule::KeyNaming)
        })
        .collect();
    let place = |index: usize, key_use: &KeyUse| {
        let path = files
            .get(index)
            .map(|file| file.path.display().to_string())
            .unwrap_or_default();
        format!("{path}:{}", key_use.range.start.line)
    };
    let mut findings = Vec::new();

    let mut namespaces: HashMap<&str, (usize, &KeyUse)> = HashMap::new();
    for (index, key_use) in &uses {
        for (position, _) in key_use.key.match_indices('.') {
            if let Some(prefix) = key_use.key.get(..position) {
                namespaces.entry(prefix).or_insert((*index, *key_use));
            }
        }
    }
    for (index, key_use) in &uses {
        // The bridge turns an `error` field into `exception.*` attributes,
        // so it never sits next to `error.type` in a record.
        if key_use.key == "error" {
            continue;
        }
        if let Some((other_index, other)) = namespaces.get(key_use.key.as_str()) {
            findings.push((
                *index,
                Finding {
                    rule: Rule::KeyNaming,
                    range: key_use.range,
                    anchor_line: key_use.anchor_line,
                    message: format!(
                        "key `{}` is also used as a namespace, in `{}` at {}",
                        key_use.key,
                        other.key,
                        place(*other_index, other)
                    ),
                    help: format!(
                        "move the value into the namespace (e.g. `{}.value`) or rename one of them: backends that nest dotted keys cannot store `{}` as both a value and an object",
                        key_use.key, key_use.key
                    ),
                },
            ));
        }
    }

    let mut spellings: BTreeMap<String, Vec<(usize, &KeyUse)>> = BTreeMap::new();
    for (index, key_use) in &uses {
        let fingerprint: String = key_use
            .key
            .chars()
            .filter(|c| c.is_alphanumeric())
            .collect();
        spellings
            .entry(fingerprint)
            .or_default()
            .push((*index, *key_use));
    }
    for group in spellings.values() {
        // Count each spelling and remember where it was first seen; the most
        // used spelling (the earliest on a tie) is the one to keep.
        let mut counts: Vec<(&str, usize, usize)> = Vec::new();
        for (order, (_, key_use)) in group.iter().enumerate() {
            match counts.iter_mut().find(|(key, _, _)| *key == key_use.key) {
                Some((_, count, _)) => *count += 1,
                None => counts.push((key_use.key.as_str(), 1, order)),
            }
        }
        if counts.len() < 2 {
            continue;
        }
        let Some(&(kept, _, first)) = counts
            .iter()
            .max_by(|a, b| a.1.cmp(&b.1).then(b.2.cmp(&a.2)))
        else {
            continue;
        };
        let Some((kept_index, kept_use)) = group.get(first) else {
            continue;
        };
        for (index, key_use) in group {
            if key_use.key != kept {
                findings.push((
                    *index,
                    Finding {
                        rule: Rule::KeyNaming,
                        range: key_use.range,
                        anchor_line: key_use.anchor_line,
                        message: format!(
                            "key `{}` is spelled `{kept}` elsewhere in this crate ({})",
                            key_use.key,
                            place(*kept_index, kept_use)
                        ),
                        help: format!(
                            "use one spelling, `{kept}`, everywhere: one attribute split across two names cannot be queried as one"
                        ),
                    },
                ));
            }
        }
    }
    findings
}

/// The `// otel-log-lint: allow(OLB001, …)` comments of one file, by line.
#[derive(Default)]
struct Suppressions {
    by_line: HashMap<usize, Allowance>,
    /// Names in those comments that are no rule (a typo, a rule of
    /// another tool): the comment silently allowing nothing would leave
    /// its author wondering why the finding stays.
    unknown: Vec<Finding>,
}

/// What one suppression comment allows, and where.
struct Allowance {
    rules: Vec<Rule>,
    /// Whether the comment stands on a line of its own. Only such a comment
    /// reaches the line below: a comment after code belongs to that code.
    standalone: bool,
}

impl Suppressions {
    pub(super) const MARKER: &'static str = "otel-log-lint:";

    /// Reads the suppression comments of `text`, leaving out markers inside
    /// the string literals at `literals`, which are no comments however
    /// much they read like one.
    fn parse(text: &str, literals: &[Range]) -> Suppressions {
        let mut suppressions = Suppressions::default();
        // Literals do not overlap: sorted by where they start, the one a
        // marker may be in is the last that starts before it, found by a
        // binary search. Looking through them all for each marker took
        // time quadratic in a file of many strings that hold the marker
        // (the crate's own test data).
        let mut literals = literals.to_vec();
        literals.sort_unstable_by_key(|literal| literal.start);
        // Every marker of a line counts: two tools' comments, or two
        // allowances, may share one.
        for (index, line) in text.lines().enumerate() {
            for (position, _) in line.match_indices(Self::MARKER) {
                let at = LineColumn {
                    line: index + 1,
                    column: line.get(..position).unwrap_or_default().chars().count(),
                };
                let starts_before = literals.partition_point(|literal| literal.start <= at);
                let in_literal = starts_before
                    .checked_sub(1)
                    .and_then(|index| literals.get(index))
                    .is_some_and(|literal| at < literal.end);
                if !in_literal {
                    Self::parse_one(&mut suppressions, index + 1, line, position);
                }
            }
        }
        suppressions
    }

    /// Reads the allowance whose marker starts at byte `position` of
    /// `line`, numbered `line_number`.
    fn parse_one(suppressions: &mut Suppressions, line_number: usize, line: &str, position: usize) {
        let before = line.get(..position).unwrap_or_default();
        // A doc comment is prose, even where it shows the syntax after a
        // `//` of its own: it allows nothing.
        if !before.contains("//") || is_doc_comment_line(line) {
            return;
        }
        // Only a comment that starts with the marker is checked for
        // mistakes: elsewhere (a URL's `//` before a string's text) it may
        // be prose.
        let checked = {
            let opener = before.trim_end();
            opener.ends_with("//") && !opener.ends_with("///")
        };
        let after_marker = position + Self::MARKER.len();
        let rest = line.get(after_marker..).unwrap_or_default();
        let list_start = after_marker + (rest.len() - rest.trim_start().len()) + "allow(".len();
        let Some((list, _)) = rest
            .trim_start()
            .strip_prefix("allow(")
            .and_then(|rest| rest.split_once(')'))
        else {
            if checked {
                let marker = Self::MARKER.trim_end_matches(':');
                suppressions.unknown.push(problem_at(
                    line_number,
                    line,
                    position..after_marker,
                    format!("this {marker} comment is not `allow(RULE, …)`, so it allows nothing"),
                ));
            }
            return;
        };
        let allowance = suppressions
            .by_line
            .entry(line_number)
            .or_insert_with(|| Allowance {
                rules: Vec::new(),
                standalone: line.trim_start().starts_with("//"),
            });
        let mut name_start = list_start;
        for written in list.split(',') {
            let name = written.trim();
            let at = name_start + (written.len() - written.trim_start().len());
            name_start += written.len() + 1;
            if name.eq_ignore_ascii_case("all") {
                allowance.rules.extend_from_slice(Rule::ALL);
            } else if let Ok(rule) = Rule::from_str(name) {
                allowance.rules.push(rule);
            } else if checked && is_rule_like(name) {
                let message = if name.contains(char::is_whitespace) {
                    format!("`{name}` is no otel-log-lint rule (a comma missing between rules?), so this comment does not allow it")
                } else {
                    format!("`{name}` is no otel-log-lint rule, so this comment does not allow it")
                };
                suppressions.unknown.push(problem_at(
                    line_number,
                    line,
                    at..at + name.len(),
                    message,
                ));
            }
        }
    }

    /// Whether a comment allows the finding's rule: any comment on the
    /// finding's line or on the first line of its call, or a comment on a
    /// line of its own just above either of them.
    fn covers(&self, finding: &Finding) -> bool {
        self.allows(finding.rule, finding.range.start.line, finding.anchor_line)
    }

    /// Whether a comment allows `rule` for what starts on `line`, in a call
    /// that starts on `anchor` (see [`Suppressions::covers`]).
    fn allows(&self, rule: Rule, line: usize, anchor: usize) -> bool {
        let on = [Some(line), Some(anchor)].map(|line| (line, false));
        let above = [line.checked_sub(1), anchor.checked_sub(1)].map(|line| (line, true));
        on.into_iter()
            .chain(above)
            .filter_map(|(line, needs_standalone)| {
                let allowance = self.by_line.get(&line?)?;
                (allowance.standalone || !needs_standalone).then_some(allowance)
            })
            .any(|allowance| allowance.rules.contains(&rule))
    }
}

/// Whether `line` is a line of a doc comment (`///` or `//!`; `////` is a
/// plain comment).
fn is_doc_comment_line(line: &str) -> bool {
    let text = line.trim_start();
    (text.starts_with("///") && !text.starts_with("////")) || text.starts_with("//!")
}

/// Whether `name` is written as rules would be: words of letters, digits,
/// `-` and `_`, each starting with a letter. Text that is not, such as
/// `…`, is not taken for a typo.
fn is_rule_like(name: &str) -> bool {
    !name.is_empty()
        && name.split_whitespace().all(|word| {
            word.starts_with(|c: char| c.is_ascii_alphabetic())
                && word
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
}

/// An OLB013 finding for the bytes `bytes` of `line`, numbered
/// `line_number`.
fn problem_at(
    line_number: usize,
    line: &str,
    bytes: std::ops::Range<usize>,
    message: String,
) -> Finding {
    let position = |byte: usize| proc_macro2::LineColumn {
        line: line_number,
        column: line.get(..byte).map_or(0, |before| before.chars().count()),
    };
    Finding {
        rule: Rule::UnknownAllowance,
        range: Range {
            start: position(bytes.start),
            end: position(bytes.end),
        },
        anchor_line: line_number,
        message,
        help: "write `allow(` then rules' ids (`OLB005`) or names (`secret`) separated by commas, or `all`, then `)`; `otel-log-lint --list-rules` lists the rules".to_owned(),
    }
}

/// Lists the `.rs` files under `path` (or `path` itself when it is a file),
/// sorted, skipping hidden entries, Cargo's build directories (see
/// [`is_cargo_target_dir`]) and what `config` excludes.
///
/// This walker does not read `.gitignore`; the `otel-log-lint` command does,
/// through the `ignore` crate.
pub(super) fn rust_files(path: &Path, config: &Config) -> Result<Vec<PathBuf>, LintError> {
    let io_error = |source| LintError::Io {
        path: path.to_owned(),
        source,
    };
    let metadata = std::fs::metadata(path).map_err(io_error)?;
    if metadata.is_file() {
        return Ok(vec![path.to_owned()]);
    }
    if !metadata.is_dir() {
        // A pipe or a device would be read until its writer stops, which
        // may be never.
        return Err(io_error(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "neither a regular file nor a directory",
        )));
    }
    let excluded = config.excluded_under(path);
    let mut files = Vec::new();
    let mut pending = vec![path.to_owned()];
    while let Some(directory) = pending.pop() {
        let entries = std::fs::read_dir(&directory).map_err(|source| LintError::Io {
            path: directory.clone(),
            source,
        })?;
        for entry in entries {
            let entry = entry.map_err(|source| LintError::Io {
                path: directory.clone(),
                source,
            })?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') {
                continue;
            }
            // Symbolic links to directories are not followed, so a link
            // cycle cannot make the walk endless.
            let file_type = entry.file_type().map_err(|source| LintError::Io {
                path: entry.path(),
                source,
            })?;
            let entry_path = entry.path();
            if entry_path.strip_prefix(path).is_ok_and(|relative| {
                excluded
                    .iter()
                    .any(|excluded| relative.starts_with(excluded))
            }) {
                continue;
            }
            if file_type.is_dir() {
                if !is_cargo_target_dir(&entry.path()) {
                    pending.push(entry.path());
                }
            } else if name.ends_with(".rs") && is_regular_file(&file_type, &entry.path())? {
                files.push(entry.path());
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Whether a directory entry is a regular file, or a symbolic link to one.
/// Anything else named `*.rs` is skipped, as the command line's walk skips
/// it: reading a FIFO would wait for a writer for ever, and a link to a
/// directory cannot be read as a file. A link to nothing is an error, as
/// on the command line: a Rust file that cannot be read is not one that
/// passed.
fn is_regular_file(file_type: &std::fs::FileType, path: &Path) -> Result<bool, LintError> {
    if !file_type.is_symlink() {
        return Ok(file_type.is_file());
    }
    std::fs::metadata(path)
        .map(|target| target.is_file())
        .map_err(|source| LintError::Io {
            path: path.to_owned(),
            source,
        })
}

/// Whether a directory is Cargo's build directory: one that Cargo tagged
/// with `CACHEDIR.TAG`, whatever its name (`[build] target-dir` and
/// `CARGO_TARGET_DIR` may call it anything), or a `target` that sits next
/// to a `Cargo.toml`, which Cargo may not have tagged yet. Any other
/// directory named `target` (a module, `src/target/mod.rs`) is source. The
/// command line's walk skips the same directories.
#[doc(hidden)]
pub fn is_cargo_target_dir(directory: &Path) -> bool {
    let tag = directory.join("CACHEDIR.TAG");
    let named_target = directory.file_name().is_some_and(|name| name == "target");
    if !tag.is_file() {
        return named_target
            && directory
                .parent()
                .is_some_and(|parent| parent.join("Cargo.toml").is_file());
    }
    // The tag's specification says how one starts; a file of that name
    // that does not is not taken for one, but next to the name `target`.
    const SIGNATURE: &[u8] = b"Signature: 8a477f597d28d172789f06886806bc55";
    let mut start = [0; SIGNATURE.len()];
    let signed = std::fs::File::open(&tag)
        .and_then(|mut file| std::io::Read::read_exact(&mut file, &mut start))
        .is_ok_and(|()| start == SIGNATURE);
    named_target || signed
}
