//! The `otel-log-lint` command: output formats, levels, configuration,
//! `.gitignore`, suppression and exit statuses.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use super::support::{
    scratch_dir, scratch_dir_outside_git, tree_with_target_directories, write, INTERPOLATED,
};

const SECRET: &str =
    "use tracing::info;\n\nfn f(password: &str) {\n    info!(password, \"login\");\n}\n";

fn run(directory: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_otel-log-lint"))
        .args(args)
        .current_dir(directory)
        .output()
        .expect("run otel-log-lint")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).expect("the output is JSON")
}

#[test]
fn human_output_is_rustc_style_and_warnings_exit_zero() {
    let root = scratch_dir("cli_human");
    write(&root, "src/login.rs", INTERPOLATED);
    let output = run(&root, &["src"]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        stdout(&output),
        "\
warning[OLB001]: 1 value is formatted into the message: the body differs on every call and the values cannot be queried
 --> src/login.rs:4:17
  |
4 |     info!(\"user {} logged in\", user);
  |                 ^^
  |
  = help: keep the message constant and pass the values as fields: `%user, \"…\"`

"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("0 error(s), 1 warning(s) in 1 file"),
        "{stderr}"
    );
}

/// Regression: a file named by two of the paths given (`src src/login.rs`,
/// `. src`) was checked, and each of its findings reported, twice.
#[test]
fn a_file_named_by_overlapping_paths_is_checked_once() {
    let root = scratch_dir("cli_overlap");
    write(&root, "src/login.rs", INTERPOLATED);
    for args in [
        &["src", "src/login.rs"][..],
        &[".", "src"],
        &["src", "./src"],
    ] {
        let output = run(&root, args);
        assert_eq!(
            stdout(&output).matches("warning[OLB001]").count(),
            1,
            "{args:?}"
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("0 error(s), 1 warning(s) in 1 file"),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn a_denied_finding_exits_one() {
    let root = scratch_dir("cli_deny");
    write(&root, "src/login.rs", SECRET);
    let output = run(&root, &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).starts_with("error[OLB005]"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn level_flags_apply_in_command_line_order() {
    let root = scratch_dir("cli_levels");
    write(&root, "login.rs", INTERPOLATED);
    assert_eq!(run(&root, &["--deny", "OLB001"]).status.code(), Some(1));
    assert_eq!(
        run(&root, &["-D", "OLB001", "-A", "interpolated-message"])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(stdout(&run(&root, &["-D", "OLB001", "-A", "OLB001"])), "");
    assert_eq!(
        run(&root, &["-A", "all", "-D", "OLB001"]).status.code(),
        Some(1)
    );
    assert_eq!(run(&root, &["--deny", "warnings"]).status.code(), Some(1));
    // Regression: `--allow warnings` was refused as an unknown rule.
    let only_denied = run(&root, &["--allow", "warnings", "--deny", "OLB001"]);
    assert_eq!(only_denied.status.code(), Some(1));
    let quiet = run(&root, &["--allow", "warnings"]);
    assert_eq!(quiet.status.code(), Some(0));
    assert_eq!(stdout(&quiet), "");
    let unknown = run(&root, &["--deny", "OLB999"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("unknown lint rule `OLB999`"));
}

#[test]
fn json_output_lists_every_finding() {
    let root = scratch_dir("cli_json");
    write(&root, "login.rs", INTERPOLATED);
    write(&root, "secret.rs", SECRET);
    let output = run(&root, &["--format", "json", "."]);
    assert_eq!(output.status.code(), Some(1));
    let findings = json(&output);
    let summary: Vec<(String, String, u64, u64, String)> = findings
        .as_array()
        .expect("an array")
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap_or_default().to_owned(),
                f["path"].as_str().unwrap_or_default().to_owned(),
                f["line"].as_u64().unwrap_or_default(),
                f["column"].as_u64().unwrap_or_default(),
                f["level"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                "OLB001".to_owned(),
                "login.rs".to_owned(),
                4,
                17,
                "warning".to_owned()
            ),
            (
                "OLB005".to_owned(),
                "secret.rs".to_owned(),
                4,
                11,
                "error".to_owned()
            ),
        ]
    );
    assert!(findings[0]["message"].is_string());
}

/// Regression: a `.rs` file reached through a symbolic link inside a
/// directory was skipped without a word, where `lint::check_path` checks
/// it.
#[cfg(unix)]
#[test]
fn a_linked_rust_file_in_a_directory_is_checked() {
    let root = scratch_dir("cli_symlink");
    write(&root, "elsewhere/login.rs", INTERPOLATED);
    std::fs::create_dir_all(root.join("src")).expect("src");
    std::os::unix::fs::symlink(root.join("elsewhere/login.rs"), root.join("src/linked.rs"))
        .expect("a link");
    let output = run(&root, &["--format", "json", "src"]);
    let paths: Vec<String> = json(&output)
        .as_array()
        .expect("an array")
        .iter()
        .map(|f| f["path"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(paths, ["src/linked.rs"]);
    let library = otel_log_bridge::lint::check_path(root.join("src")).expect("checked");
    assert_eq!(library.len(), 1);
}

/// Regression: a link to a directory named on the command line was walked,
/// and then also reported as "neither a file nor a directory", which
/// failed the run.
#[cfg(unix)]
#[test]
fn a_linked_directory_named_on_the_command_line_is_checked() {
    let root = scratch_dir("cli_linked_directory");
    write(&root, "real/login.rs", INTERPOLATED);
    std::os::unix::fs::symlink(root.join("real"), root.join("linked")).expect("a link");
    let output = run(&root, &["--format", "json", "linked"]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(json(&output).as_array().map(Vec::len), Some(1));
}

/// Regression: excludes were matched against the paths' text, so a path
/// given through a linked directory (`/tmp` on macOS, a checkout under a
/// link), or a configuration file named through one, excluded nothing.
#[cfg(unix)]
#[test]
fn an_exclude_matches_a_path_given_through_a_linked_directory() {
    let root = scratch_dir("cli_exclude_linked");
    write(
        &root,
        "project/otel-log-lint.toml",
        "exclude = [\"src/gen/\"]\n",
    );
    write(&root, "project/src/gen/out.rs", INTERPOLATED);
    write(&root, "project/src/ok.rs", "fn main() {}\n");
    std::os::unix::fs::symlink(root.join("project"), root.join("linked")).expect("a link");
    let linked = root.join("linked");
    let linked_src = linked.join("src");
    let linked_config = linked.join("otel-log-lint.toml");
    let project = root.join("project");
    let runs: [(&Path, Vec<&str>); 2] = [
        (&project, vec![linked_src.to_str().expect("UTF-8")]),
        (
            &root,
            vec![
                "--config",
                linked_config.to_str().expect("UTF-8"),
                "project/src",
            ],
        ),
    ];
    for (directory, args) in runs {
        let output = run(directory, &[&["--format", "json"][..], &args].concat());
        assert_eq!(output.status.code(), Some(0), "{args:?}");
        assert_eq!(json(&output), serde_json::json!([]), "{args:?}");
    }
}

/// Regression: the `.ignore` files of search tools (ripgrep, fd) hid
/// source files from the lint, which `--help` says honours `.gitignore`.
#[test]
fn files_hidden_from_search_tools_are_still_checked() {
    let root = scratch_dir_outside_git("cli_dot_ignore");
    write(&root, ".ignore", "src/\n");
    write(&root, "src/login.rs", INTERPOLATED);
    let output = run(&root, &["--format", "json", "."]);
    assert_eq!(json(&output).as_array().map(Vec::len), Some(1));
}

/// Regression: what one person's git ignores (the global excludes file,
/// `.git/info/exclude`) hid files from the lint, so the same command
/// checked other files on a developer's machine than in CI.
#[test]
fn files_only_one_persons_git_ignores_are_still_checked() {
    let root = scratch_dir_outside_git("cli_personal_ignores");
    let home = root.join("home");
    write(&home, ".config/git/ignore", "*.rs\n");
    write(&home, ".gitconfig", "");
    let repository = root.join("repository");
    write(&repository, ".git/info/exclude", "src/\n");
    write(&repository, "src/login.rs", INTERPOLATED);
    write(&repository, "lib.rs", INTERPOLATED);
    let output = Command::new(env!("CARGO_BIN_EXE_otel-log-lint"))
        .args(["--format", "json", "."])
        .current_dir(&repository)
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .output()
        .expect("run otel-log-lint");
    assert_eq!(
        json(&output).as_array().map(Vec::len),
        Some(2),
        "{}",
        stdout(&output)
    );
}

/// Regression: reports turned a `\\` in a file's name into a `/`, naming a
/// file that does not exist; it separates directories only on Windows.
#[cfg(unix)]
#[test]
fn a_backslash_in_a_file_name_is_kept_in_reports() {
    let root = scratch_dir("cli_backslash");
    write(&root, "src/back\\slash.rs", INTERPOLATED);
    let output = run(&root, &["--format", "json", "src"]);
    assert_eq!(json(&output)[0]["path"], "src/back\\slash.rs");
}

/// Regression: `otel-log-lint -` (standard input is not read), a pipe or
/// a link to nothing under a Rust file's name was skipped without a word,
/// and the run passed having checked nothing.
#[cfg(unix)]
#[test]
fn a_path_that_cannot_be_checked_fails_the_run() {
    let root = scratch_dir("cli_unreadable");
    let stdin = run(&root, &["-"]);
    assert_eq!(stdin.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&stdin.stderr).contains("neither a file nor a directory"));
    std::fs::create_dir_all(root.join("src")).expect("src");
    std::os::unix::fs::symlink(root.join("gone.rs"), root.join("src/dangling.rs")).expect("a link");
    let dangling = run(&root, &["src"]);
    assert_eq!(dangling.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&dangling.stderr).contains("src/dangling.rs"));
}

/// Regression: a path that could not be read was said only on stderr; the
/// SARIF log, which CI jobs upload even when the step fails, showed a
/// clean scan, and the summary said "no findings".
#[test]
fn a_run_that_could_not_read_a_path_says_so_in_sarif_and_the_summary() {
    let root = scratch_dir("cli_sarif_unread");
    write(&root, "src/login.rs", INTERPOLATED);
    let output = run(&root, &["--format", "sarif", "src", "missing.rs"]);
    assert_eq!(output.status.code(), Some(2));
    let invocation = &json(&output)["runs"][0]["invocations"][0];
    assert_eq!(invocation["executionSuccessful"], false);
    let notification = &invocation["toolExecutionNotifications"][0];
    assert_eq!(notification["level"], "error");
    assert!(
        notification["message"]["text"]
            .as_str()
            .is_some_and(|text| text.contains("missing.rs")),
        "{notification}"
    );
    let clean = json(&run(&root, &["--format", "sarif", "src"]));
    assert_eq!(
        clean["runs"][0]["invocations"][0]["executionSuccessful"],
        true
    );
    let human = run(&root, &["src", "missing.rs"]);
    assert!(
        String::from_utf8_lossy(&human.stderr)
            .contains("1 warning(s) in 1 file; 1 path could not be read or checked"),
        "{}",
        String::from_utf8_lossy(&human.stderr)
    );
}

/// A mistyped path in a CI job checked nothing and passed without a word.
#[test]
fn a_run_that_finds_no_rust_file_says_so() {
    let root = scratch_dir("cli_no_rust");
    write(&root, "docs/guide.md", "# guide\n");
    let output = run(&root, &["docs"]);
    assert_eq!(output.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no Rust file found to check"));
}

#[test]
fn sarif_output_is_a_2_1_0_log() {
    let root = scratch_dir_outside_git("cli_sarif");
    write(&root, "src/login.rs", INTERPOLATED);
    let output = run(&root, &["--format", "sarif"]);
    assert_eq!(output.status.code(), Some(0));
    let sarif = json(&output);
    assert_eq!(sarif["version"], "2.1.0");
    let result = &sarif["runs"][0]["results"][0];
    assert_eq!(result["ruleId"], "OLB001");
    assert_eq!(
        result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "src/login.rs"
    );
    // Outside a git work tree, a path given absolute stays absolute, as
    // consumers resolve it without a base.
    let absolute = root.join("src");
    let output = run(
        &root,
        &[
            "--format",
            "sarif",
            absolute.to_str().expect("a UTF-8 path"),
        ],
    );
    let uri = json(&output)["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
        ["artifactLocation"]["uri"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        uri.starts_with("file:///") && uri.ends_with("/src/login.rs"),
        "{uri}"
    );
}

/// Regression: paths were written relative to the working directory, and
/// GitHub code scanning, which reads a relative path from the repository's
/// root, looked for `src/login.rs` when a job linted a crate of a
/// workspace from the crate's directory.
#[test]
fn sarif_paths_start_at_the_root_of_the_work_tree() {
    let root = scratch_dir_outside_git("cli_sarif_work_tree");
    std::fs::create_dir(root.join(".git")).expect("a work tree's .git");
    write(&root, "crates/api/src/login.rs", INTERPOLATED);
    write(&root, "crates/shared/src/audit.rs", INTERPOLATED);
    let output = run(
        &root.join("crates/api"),
        &["--format", "sarif", "src", "../shared/src"],
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let sarif = json(&output);
    let run = &sarif["runs"][0];
    let mut uris: Vec<&str> = run["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|result| {
            result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .unwrap_or_default()
        })
        .collect();
    uris.sort_unstable();
    assert_eq!(
        uris,
        ["crates/api/src/login.rs", "crates/shared/src/audit.rs"]
    );
    let base = run["originalUriBaseIds"]["%SRCROOT%"]["uri"]
        .as_str()
        .expect("the base's URI");
    let root_name = root
        .file_name()
        .and_then(|name| name.to_str())
        .expect("a name");
    assert!(base.ends_with(&format!("/{root_name}/")), "{base}");
}

#[test]
fn configuration_file_sets_levels_and_excludes() {
    let root = scratch_dir("cli_config");
    write(
        &root,
        "otel-log-lint.toml",
        "exclude = [\"generated/\"]\n\n[rules]\nOLB001 = \"deny\"\nsecret = \"allow\"\n",
    );
    write(&root, "src/login.rs", INTERPOLATED);
    write(&root, "src/secret.rs", SECRET);
    write(&root, "generated/out.rs", INTERPOLATED);
    let output = run(&root, &["--format", "json"]);
    assert_eq!(output.status.code(), Some(1));
    let findings = json(&output);
    let rules: Vec<(&str, &str)> = findings
        .as_array()
        .expect("an array")
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap_or_default(),
                f["path"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(rules, vec![("OLB001", "src/login.rs")]);

    // The command line overrides the file, and the file is found from a
    // subdirectory too.
    let nested = run(&root.join("src"), &["--allow", "OLB001"]);
    assert_eq!(nested.status.code(), Some(0));

    write(&root, "broken.toml", "[rules]\nOLB001 = \"sometimes\"\n");
    let broken = run(&root, &["--config", "broken.toml"]);
    assert_eq!(broken.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&broken.stderr).contains("unknown lint level `sometimes`"));
}

#[test]
fn gitignore_is_honoured_outside_a_repository() {
    let root = scratch_dir_outside_git("cli_gitignore");
    write(&root, ".gitignore", "vendored/\n");
    write(&root, "vendored/login.rs", INTERPOLATED);
    write(&root, "src/ok.rs", "fn main() {}\n");
    let output = run(&root, &["--format", "json"]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(json(&output), serde_json::json!([]));
    // A file named on the command line is checked even when ignored.
    let named = run(&root, &["--format", "json", "vendored/login.rs"]);
    assert_eq!(json(&named)[0]["rule"], "OLB001");
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn inline_suppression_silences_a_finding() {
    let root = scratch_dir("cli_suppression");
    write(
        &root,
        "login.rs",
        "use tracing::info;\n\nfn f(password: &str) {\n    // otel-log-lint: allow(OLB005)\n    info!(password, \"login\");\n}\n",
    );
    let output = run(&root, &[]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(stdout(&output), "");
}

#[test]
fn usage_and_io_errors_exit_two() {
    let root = scratch_dir("cli_errors");
    let missing = run(&root, &["no-such-dir"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(!missing.stderr.is_empty());
    assert_eq!(run(&root, &["--format", "xml"]).status.code(), Some(2));
    assert_eq!(run(&root, &["--no-such-flag"]).status.code(), Some(2));
    assert_eq!(run(&root, &["--help"]).status.code(), Some(0));
}

/// Regression: a bad level or rule in a file given with `--config` was
/// reported as being in `otel-log-lint.toml`.
#[test]
fn a_configuration_error_names_the_file_given() {
    let root = scratch_dir("cli_config_name");
    write(&root, "lint.toml", "[rules]\nOLB001 = \"loud\"\n");
    let output = run(&root, &["--config", "lint.toml", "."]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("lint.toml: "), "{stderr}");
    assert!(!stderr.contains("otel-log-lint.toml"), "{stderr}");
}

#[test]
fn list_rules_shows_effective_levels() {
    let root = scratch_dir("cli_list");
    let output = run(&root, &["--list-rules", "--warn", "OLB009"]);
    assert_eq!(output.status.code(), Some(0));
    let listing = stdout(&output);
    assert_eq!(listing.lines().count(), 14);
    assert!(listing
        .lines()
        .any(|line| line.starts_with("OLB009  missing-event-name") && line.contains(" warn ")));
    assert!(listing
        .lines()
        .any(|line| line.starts_with("OLB010") && line.contains(" allow ")));
}

/// Runs the command on a report too large for a pipe buffer, and closes the
/// pipe after the first bytes so that the command is still writing when the
/// reader goes away; returns the exit status.
fn status_with_a_closed_pipe(root: &Path, args: &[&str]) -> Option<i32> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_otel-log-lint"))
        .args(args)
        .current_dir(root)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run otel-log-lint");
    let mut stdout = child.stdout.take().expect("a piped stdout");
    let mut first = [0_u8; 16];
    stdout
        .read_exact(&mut first)
        .expect("read the start of the report");
    drop(stdout);
    child.wait().expect("wait for otel-log-lint").code()
}

/// Regression: with standard error closed, the command panicked at its
/// first message, so its status no longer said whether a finding was
/// denied.
#[test]
fn a_closed_stderr_does_not_change_the_status() {
    let root = scratch_dir("cli_closed_stderr");
    write(&root, "src/login.rs", SECRET);
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    let output = Command::new(env!("CARGO_BIN_EXE_otel-log-lint"))
        .arg("src")
        .current_dir(&root)
        .stderr(writer)
        .output()
        .expect("run otel-log-lint");
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).contains("error[OLB005]"),
        "{}",
        stdout(&output)
    );
}

/// With both streams sent to one place, the summary comes after the
/// findings, as a compiler's does.
#[test]
fn the_summary_comes_after_the_findings() {
    let root = scratch_dir("cli_summary_last");
    write(&root, "src/login.rs", INTERPOLATED);
    let (mut reader, writer) = std::io::pipe().expect("a pipe");
    let mut child = Command::new(env!("CARGO_BIN_EXE_otel-log-lint"))
        .arg("src")
        .current_dir(&root)
        .stdout(writer.try_clone().expect("a second writer"))
        .stderr(writer)
        .spawn()
        .expect("run otel-log-lint");
    let mut both = String::new();
    reader.read_to_string(&mut both).expect("read the output");
    assert_eq!(child.wait().expect("wait").code(), Some(0));
    assert!(both.starts_with("warning[OLB001]"), "{both}");
    assert!(
        both.ends_with("otel-log-lint: 0 error(s), 1 warning(s) in 1 file\n"),
        "{both}"
    );
}

#[test]
fn a_closed_stdout_pipe_does_not_hide_denied_findings() {
    let root = scratch_dir("cli_pipe");
    let mut source = String::from("use tracing::info;\nfn f(user: &str) {\n");
    for _ in 0..3_000 {
        source.push_str("    info!(\"user {} logged in\", user);\n");
    }
    source.push_str("}\n");
    write(&root, "many.rs", &source);
    // A reader that went away is not an error of its own, but the status
    // still says whether a finding is denied.
    assert_eq!(
        status_with_a_closed_pipe(&root, &["--deny", "OLB001"]),
        Some(1)
    );
    assert_eq!(status_with_a_closed_pipe(&root, &[]), Some(0));
}

#[test]
fn configuration_rules_apply_in_file_order() {
    let root = scratch_dir("cli_config_order");
    write(
        &root,
        "src/alert.rs",
        "use tracing::warn;\n\nfn f() {\n    warn!(\"disk almost full\");\n}\n",
    );
    write(
        &root,
        "otel-log-lint.toml",
        "[rules]\nall = \"deny\"\nOLB009 = \"allow\"\n",
    );
    let output = run(&root, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert_eq!(stdout(&output), "");

    write(
        &root,
        "otel-log-lint.toml",
        "[rules]\nmissing-event-name = \"allow\"\nall = \"deny\"\n",
    );
    let output = run(&root, &[]);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    assert!(
        stdout(&output).starts_with("error[OLB009]"),
        "{}",
        stdout(&output)
    );
}

/// Also for a file named on the command line.
#[test]
fn an_exclude_matches_a_path_given_with_dot_dot() {
    let root = scratch_dir("cli_exclude_dot_dot");
    // A pattern with a slash is anchored at the configuration file's
    // directory, so it only matches once `src/..` is resolved.
    write(
        &root,
        "otel-log-lint.toml",
        "exclude = [\"generated/**\"]\n",
    );
    write(&root, "generated/out.rs", INTERPOLATED);
    write(&root, "src/ok.rs", "fn main() {}\n");
    let src = root.join("src");
    let runs: [(&Path, &[&str]); 6] = [
        (&src, &[".."]),
        (&src, &["../generated"]),
        (&src, &["../src/../generated"]),
        (&root, &["--config", "src/../otel-log-lint.toml"]),
        // Regression: a file named on the command line (as pre-commit
        // hooks name them) was checked although excluded.
        (&root, &["generated/out.rs"]),
        (&src, &["../generated/out.rs", "ok.rs"]),
    ];
    for (directory, args) in runs {
        let output = run(directory, &[&["--format", "json"][..], args].concat());
        assert_eq!(output.status.code(), Some(0), "{args:?}");
        assert_eq!(json(&output), serde_json::json!([]), "{args:?}");
    }
}

#[test]
fn a_module_named_target_is_linted_and_only_cargos_build_directory_is_skipped() {
    let root = tree_with_target_directories("cli_target");
    let output = run(&root, &["--format", "json"]);
    assert_eq!(output.status.code(), Some(0));
    let findings = json(&output);
    let paths: Vec<&str> = findings
        .as_array()
        .expect("an array")
        .iter()
        .map(|f| f["path"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(paths, vec!["src/target/mod.rs"]);
    let _ = std::fs::remove_dir_all(&root);
}
