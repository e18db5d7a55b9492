//! Findings and their rustc-style, JSON and SARIF renderings.

use std::error::Error;
use std::fmt;
use std::path::{Path, PathBuf};

use percent_encoding::{percent_encode, AsciiSet, CONTROLS};
use serde_json::{json, Value};

use super::rule::{Level, Rule};

/// One finding: a rule, where it applies, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Diagnostic {
    /// The rule that found it.
    pub rule: Rule,
    /// [`Level::Warn`] or [`Level::Deny`], from the [`Config`](super::Config).
    pub level: Level,
    /// The file, as it was given or found while walking.
    pub path: PathBuf,
    /// The line, counted from 1.
    pub line: usize,
    /// The column of the first character, counted from 1 in characters.
    pub column: usize,
    /// The line of the end of the range.
    pub end_line: usize,
    /// The column just past the last character of the range.
    pub end_column: usize,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub help: String,
    /// The text of line [`line`](Self::line), for rendering; of a line
    /// longer than 240 characters, an excerpt around the finding.
    pub source_line: String,
    /// The column of the first character of
    /// [`source_line`](Self::source_line): 1 unless it is an excerpt.
    pub source_column: usize,
}

impl fmt::Display for Diagnostic {
    /// Renders the finding the way rustc renders a lint:
    ///
    /// ```text
    /// warning[OLB001]: 1 value is formatted into the message: …
    ///   --> src/main.rs:12:22
    ///    |
    /// 12 |     info!("user {} logged in", user);
    ///    |                 ^^
    ///    |
    ///    = help: keep the message constant and pass the values as fields: `%user, "…"`
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let number = self.line.to_string();
        let gutter = " ".repeat(number.len());
        // The message (a key from the source), the path and the line are
        // the program's text: what a terminal would act on is escaped, so
        // that a key holding an escape sequence cannot rewrite the screen.
        writeln!(
            f,
            "{}[{}]: {}",
            self.level.label(),
            self.rule.id(),
            crate::diag::escaped(&self.message)
        )?;
        writeln!(
            f,
            "{gutter}--> {}:{}:{}",
            crate::diag::escaped(&self.path.display().to_string()),
            self.line,
            self.column
        )?;
        writeln!(f, "{gutter} |")?;
        // An excerpt of a long line is marked, and the caret counts from
        // where the excerpt starts.
        let marker = if self.source_column > 1 { "..." } else { "" };
        writeln!(f, "{number} | {marker}{}", shown_source(&self.source_line))?;
        // Tabs stay tabs under the caret so it lines up however the
        // terminal expands them; an escaped character is as wide as its
        // escape.
        let before: String = self
            .source_line
            .chars()
            .take(self.column.saturating_sub(self.source_column))
            .collect();
        let indent: String = marker
            .chars()
            .map(|_| ' ')
            .chain(
                shown_source(&before)
                    .chars()
                    .map(|c| if c == '\t' { '\t' } else { ' ' }),
            )
            .collect();
        let columns = if self.end_line == self.line && self.end_column > self.column {
            self.end_column - self.column
        } else {
            1
        };
        // The caret spans what is shown of the range: no further than the
        // excerpt of a long line, and as wide as the escapes shown in it.
        let underlined: String = self
            .source_line
            .chars()
            .skip(self.column.saturating_sub(self.source_column))
            .take(columns)
            .collect();
        let width = shown_source(&underlined).chars().count().max(1);
        writeln!(f, "{gutter} | {indent}{}", "^".repeat(width))?;
        writeln!(f, "{gutter} |")?;
        write!(f, "{gutter} = help: {}", crate::diag::escaped(&self.help))
    }
}

/// A source line as a terminal should show it: tabs kept, for the caret
/// to line up, and anything else a terminal would act on escaped.
fn shown_source(line: &str) -> String {
    line.split('\t')
        .map(crate::diag::escaped)
        .collect::<Vec<_>>()
        .join("\t")
}

/// Renders findings as a JSON array; each object has `rule`, `name`,
/// `level` (`"warning"` or `"error"`), `path`, `line`, `column`, `end_line`,
/// `end_column`, `message` and `help`.
#[must_use]
pub fn to_json(diagnostics: &[Diagnostic]) -> Value {
    Value::Array(
        diagnostics
            .iter()
            .map(|diagnostic| {
                json!({
                    "rule": diagnostic.rule.id(),
                    "name": diagnostic.rule.name(),
                    "level": diagnostic.level.label(),
                    "path": portable_path(&diagnostic.path),
                    "line": diagnostic.line,
                    "column": diagnostic.column,
                    "end_line": diagnostic.end_line,
                    "end_column": diagnostic.end_column,
                    "message": diagnostic.message,
                    "help": diagnostic.help,
                })
            })
            .collect(),
    )
}

/// Renders findings as a SARIF 2.1.0 log that GitHub code scanning accepts:
/// one run, every rule described under `tool.driver.rules`, and one result
/// per finding with its region in Unicode code points. Inside a git work
/// tree, paths are written relative to its root (the nearest directory
/// above the working directory, or itself, that holds `.git`), which is
/// how code scanning reads a relative path: run from a crate inside a
/// workspace, its findings name their files from the repository's root. A
/// file outside the work tree keeps an absolute `file://` URI. Outside one,
/// paths are written as given, a relative one relative to the working
/// directory. The run names the directory relative paths start from as the
/// base id `%SRCROOT%`.
#[must_use]
pub fn to_sarif(diagnostics: &[Diagnostic]) -> Value {
    let working_directory = std::env::current_dir().ok();
    let work_tree = working_directory.as_deref().and_then(work_tree_root);
    let rules: Vec<Value> = Rule::ALL
        .iter()
        .map(|rule| {
            json!({
                "id": rule.id(),
                "name": rule.name(),
                "shortDescription": { "text": rule.summary() },
                "fullDescription": { "text": rule.summary() },
                "help": {
                    "text": format!("{} See the documentation of `otel_log_bridge::lint`, section {}.", rule.summary(), rule.id())
                },
                "defaultConfiguration": { "level": sarif_level(rule.default_level()) },
            })
        })
        .collect();
    let results: Vec<Value> = diagnostics
        .iter()
        .map(|diagnostic| {
            json!({
                "ruleId": diagnostic.rule.id(),
                "ruleIndex": diagnostic.rule.index(),
                "level": sarif_level(diagnostic.level),
                "message": { "text": format!("{}\nhelp: {}", diagnostic.message, diagnostic.help) },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": artifact_location(&match (&working_directory, work_tree) {
                            (Some(working_directory), Some(root)) => {
                                relative_to_root(&diagnostic.path, working_directory, root)
                            }
                            _ => diagnostic.path.clone(),
                        }),
                        "region": {
                            "startLine": diagnostic.line,
                            "startColumn": diagnostic.column,
                            "endLine": diagnostic.end_line,
                            "endColumn": diagnostic.end_column,
                        }
                    }
                }],
            })
        })
        .collect();
    let mut run = json!({
        "tool": {
            "driver": {
                "name": "otel-log-lint",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }
        },
        "columnKind": "unicodeCodePoints",
        "results": results,
    });
    // Without a working directory, relative paths keep the base id
    // unresolved, which consumers resolve against the checkout.
    let source_root = work_tree.or(working_directory.as_deref());
    if let (Some(source_root), Some(run)) = (source_root, run.as_object_mut()) {
        let mut base = uri_reference(source_root);
        if !base.ends_with('/') {
            base.push('/');
        }
        run.insert(
            "originalUriBaseIds".to_owned(),
            json!({ SOURCE_ROOT: { "uri": base } }),
        );
    }
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [run]
    })
}

/// The base id of relative paths in SARIF logs: the conventional name of
/// the directory the sources were checked out in.
const SOURCE_ROOT: &str = "%SRCROOT%";

/// The root of the git work tree `working_directory` is in, if any (see
/// [`to_sarif`]).
fn work_tree_root(working_directory: &Path) -> Option<&Path> {
    working_directory
        .ancestors()
        .find(|directory| directory.join(".git").exists())
}

/// `path`, relative to `working_directory` or absolute, as a path relative
/// to `root` when it lies under it (`..` taken by name, as the linter read
/// it), else absolute.
fn relative_to_root(path: &Path, working_directory: &Path, root: &Path) -> PathBuf {
    let absolute = lexically_normal(&working_directory.join(path));
    match absolute.strip_prefix(root) {
        Ok(relative) => relative.to_path_buf(),
        Err(_) => absolute,
    }
}

/// `path` with `.` and `..` resolved by its text, not by the file system
/// (a `..` after a link goes back up the link's own path): the linter, and
/// the command's exclude patterns, take paths as written.
#[doc(hidden)]
#[must_use]
pub fn lexically_normal(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut normal = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                normal.pop();
            }
            other => normal.push(other),
        }
    }
    normal
}

/// A SARIF `artifactLocation`: a relative path carries the base id it is
/// relative to; an absolute one is a `file://` URI and may not.
fn artifact_location(path: &Path) -> Value {
    let uri = uri_reference(path);
    if path.is_absolute() {
        json!({ "uri": uri })
    } else {
        json!({ "uri": uri, "uriBaseId": SOURCE_ROOT })
    }
}

fn sarif_level(level: Level) -> &'static str {
    match level {
        Level::Deny => "error",
        Level::Warn => "warning",
        Level::Allow => "none",
    }
}

/// A path with `/` separators and without a leading `./`, as reports show it
/// on every platform. Only on Windows is a `\\` a separator: elsewhere it
/// may be part of a file's name.
fn portable_path(path: &Path) -> String {
    let text = path.to_string_lossy();
    let text = if cfg!(windows) {
        text.replace('\\', "/")
    } else {
        text.into_owned()
    };
    text.strip_prefix("./").map(str::to_owned).unwrap_or(text)
}

/// The bytes a URI's path cannot hold as they are (RFC 3986): controls,
/// space, and the delimiters and other characters outside `pchar` but `/`.
/// Bytes beyond ASCII are always percent-encoded.
const URI_PATH: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// As [`URI_PATH`], and `:`: in a relative reference, a colon in the first
/// segment would make it read as a scheme (`a:b.rs`).
const RELATIVE_URI_PATH: &AsciiSet = &URI_PATH.add(b':');

/// A URI reference for a path: relative paths stay relative (SARIF
/// consumers such as GitHub resolve them against the checkout), absolute
/// ones become `file://` URIs, and every byte a URI cannot hold as it is
/// is percent-encoded, as are a name's bytes that are not UTF-8 (on Unix).
fn uri_reference(path: &Path) -> String {
    let bytes = uri_path_bytes(path);
    let bytes = bytes.strip_prefix(b"./").unwrap_or(&bytes);
    let mut uri = String::new();
    let set = if path.is_absolute() {
        uri.push_str("file://");
        if !bytes.starts_with(b"/") {
            // A Windows path such as `C:/src` needs the empty authority's
            // slash before it.
            uri.push('/');
        }
        URI_PATH
    } else {
        RELATIVE_URI_PATH
    };
    uri.extend(percent_encode(bytes, set));
    uri
}

/// A path's bytes with `/` between its components. On Unix a name may
/// hold a backslash and need not be UTF-8: the bytes are the name's own.
#[cfg(unix)]
fn uri_path_bytes(path: &Path) -> std::borrow::Cow<'_, [u8]> {
    use std::os::unix::ffi::OsStrExt as _;
    std::borrow::Cow::Borrowed(path.as_os_str().as_bytes())
}

/// A path's bytes with `/` between its components.
#[cfg(not(unix))]
fn uri_path_bytes(path: &Path) -> std::borrow::Cow<'_, [u8]> {
    std::borrow::Cow::Owned(path.to_string_lossy().replace('\\', "/").into_bytes())
}

/// An error that stopped the linter from reading a file or directory.
#[derive(Debug)]
#[non_exhaustive]
pub enum LintError {
    /// Reading `path` failed.
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The thread that checks `path` could not start (each file is checked
    /// on a thread with a large stack, which a low memory limit can
    /// refuse); the file was not checked.
    Thread {
        /// The file.
        path: PathBuf,
        /// Why the thread did not start.
        source: std::io::Error,
    },
}

impl fmt::Display for LintError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // The cause is the error's `source()`: reporters that print
            // the chain would otherwise show it twice.
            LintError::Io { path, .. } => write!(f, "cannot read {}", path.display()),
            LintError::Thread { path, .. } => {
                write!(f, "cannot start the thread that checks {}", path.display())
            }
        }
    }
}

impl Error for LintError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            LintError::Io { source, .. } | LintError::Thread { source, .. } => Some(source),
        }
    }
}
