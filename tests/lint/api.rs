//! The library API: `check_source`, `check_path`, `check_files`,
//! `assert_clean`, `Config`, rule names and the renderings.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::str::FromStr;

use otel_log_bridge::lint::{
    assert_clean, check_files, check_path, check_path_with, check_source, check_source_with,
    to_json, to_sarif, Config, Level, LintError, Rule,
};

use super::support::{positions, scratch_dir, tree_with_target_directories, write, INTERPOLATED};

#[test]
fn check_source_reports_rule_level_and_range() {
    let diagnostics = check_source("src/login.rs", INTERPOLATED);
    assert_eq!(diagnostics.len(), 1);
    let finding = &diagnostics[0];
    assert_eq!(finding.rule, Rule::InterpolatedMessage);
    assert_eq!(finding.level, Level::Warn);
    assert_eq!(finding.path, std::path::Path::new("src/login.rs"));
    assert_eq!(
        (
            finding.line,
            finding.column,
            finding.end_line,
            finding.end_column
        ),
        (4, 17, 4, 19)
    );
}

#[test]
fn findings_render_like_rustc() {
    let diagnostics = check_source("src/login.rs", INTERPOLATED);
    let expected = "\
warning[OLB001]: 1 value is formatted into the message: the body differs on every call and the values cannot be queried
 --> src/login.rs:4:17
  |
4 |     info!(\"user {} logged in\", user);
  |                 ^^
  |
  = help: keep the message constant and pass the values as fields: `%user, \"…\"`";
    assert_eq!(diagnostics[0].to_string(), expected);
}

#[test]
fn config_changes_levels() {
    let mut config = Config::new();
    config.set_level(Rule::InterpolatedMessage, Level::Allow);
    assert!(check_source_with("a.rs", INTERPOLATED, &config).is_empty());

    config.set_level(Rule::InterpolatedMessage, Level::Deny);
    assert_eq!(
        check_source_with("a.rs", INTERPOLATED, &config)[0].level,
        Level::Deny
    );

    let mut config = Config::new();
    config.deny_warnings();
    assert_eq!(config.level(Rule::InterpolatedMessage), Level::Deny);
    assert_eq!(config.level(Rule::MissingEventName), Level::Allow);
    config.set_all(Level::Warn);
    assert_eq!(config.level(Rule::MissingEventName), Level::Warn);
    assert_eq!(config.level(Rule::Secret), Level::Warn);
}

#[test]
fn default_levels_are_documented_ones() {
    let levels: Vec<(&str, Level)> = Rule::ALL
        .iter()
        .map(|rule| (rule.id(), rule.default_level()))
        .collect();
    assert_eq!(
        levels,
        vec![
            ("OLB000", Level::Warn),
            ("OLB001", Level::Warn),
            ("OLB002", Level::Warn),
            ("OLB003", Level::Deny),
            ("OLB004", Level::Warn),
            ("OLB005", Level::Deny),
            ("OLB006", Level::Warn),
            ("OLB007", Level::Warn),
            ("OLB008", Level::Warn),
            ("OLB009", Level::Allow),
            ("OLB010", Level::Allow),
            ("OLB011", Level::Deny),
            ("OLB012", Level::Deny),
            ("OLB013", Level::Warn),
        ]
    );
}

#[test]
fn rules_and_levels_parse_from_ids_and_names() {
    assert_eq!(Rule::from_str("OLB006"), Ok(Rule::ErrorAsString));
    assert_eq!(Rule::from_str("olb006"), Ok(Rule::ErrorAsString));
    assert_eq!(Rule::from_str("error-as-string"), Ok(Rule::ErrorAsString));
    assert_eq!(Rule::from_str("error_as_string"), Ok(Rule::ErrorAsString));
    let unknown = Rule::from_str("OLB999").unwrap_err();
    assert!(unknown.to_string().contains("`OLB999`"), "{unknown}");
    assert_eq!(Level::from_str("Deny"), Ok(Level::Deny));
    assert!(Level::from_str("fatal").is_err());
    for &rule in Rule::ALL {
        assert_eq!(Rule::from_str(rule.name()), Ok(rule));
        assert_eq!(rule.to_string(), rule.id());
    }
}

#[test]
fn json_has_one_object_per_finding() {
    let diagnostics = check_source("src/login.rs", INTERPOLATED);
    let json = to_json(&diagnostics);
    let object = &json[0];
    assert_eq!(json.as_array().map(Vec::len), Some(1));
    assert_eq!(object["rule"], "OLB001");
    assert_eq!(object["name"], "interpolated-message");
    assert_eq!(object["level"], "warning");
    assert_eq!(object["path"], "src/login.rs");
    assert_eq!(object["line"], 4);
    assert_eq!(object["column"], 17);
    assert_eq!(object["end_column"], 19);
    assert!(object["message"]
        .as_str()
        .is_some_and(|m| m.contains("formatted into the message")));
    assert!(object["help"]
        .as_str()
        .is_some_and(|h| h.contains("`%user")));
}

/// What `to_sarif` writes before a relative path given from the tests'
/// working directory (the crate's): its place in the git work tree it is
/// in, if any.
fn sarif_prefix() -> String {
    let directory = std::env::current_dir().expect("the working directory");
    let Some(root) = directory
        .ancestors()
        .find(|ancestor| ancestor.join(".git").exists())
    else {
        return String::new();
    };
    let place = directory.strip_prefix(root).expect("under its work tree");
    place
        .components()
        .map(|component| format!("{}/", component.as_os_str().to_string_lossy()))
        .collect()
}

#[test]
fn sarif_is_a_2_1_0_log_with_rules_and_regions() {
    let diagnostics = check_source("dir with space/login.rs", INTERPOLATED);
    let sarif = to_sarif(&diagnostics);
    assert_eq!(sarif["version"], "2.1.0");
    let run = &sarif["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "otel-log-lint");
    assert_eq!(run["columnKind"], "unicodeCodePoints");
    let rules = run["tool"]["driver"]["rules"].as_array().expect("rules");
    assert_eq!(rules.len(), Rule::ALL.len());
    assert_eq!(rules[1]["id"], "OLB001");
    assert_eq!(rules[9]["defaultConfiguration"]["level"], "none");
    let result = &run["results"][0];
    assert_eq!(result["ruleId"], "OLB001");
    assert_eq!(result["ruleIndex"], 1);
    assert_eq!(result["level"], "warning");
    let location = &result["locations"][0]["physicalLocation"];
    assert_eq!(
        location["artifactLocation"]["uri"],
        format!("{}dir%20with%20space/login.rs", sarif_prefix())
    );
    // Regression: relative paths had no base, so a log made in a crate
    // inside a workspace named files that GitHub looked for at the
    // repository's root.
    assert_eq!(location["artifactLocation"]["uriBaseId"], "%SRCROOT%");
    let base = run["originalUriBaseIds"]["%SRCROOT%"]["uri"]
        .as_str()
        .expect("the base's URI");
    assert!(
        base.starts_with("file:///") && base.ends_with('/'),
        "{base}"
    );
    assert_eq!(location["region"]["startLine"], 4);
    assert_eq!(location["region"]["startColumn"], 17);
    assert_eq!(location["region"]["endColumn"], 19);
}

#[test]
fn check_path_walks_directories_and_checks_a_crate_as_a_whole() {
    let root = scratch_dir("check_path_crate");
    write(&root, "Cargo.toml", "[package]\nname = \"demo\"\n");
    write(
        &root,
        "src/lib.rs",
        "#[macro_use]\nextern crate log;\nmod users;\n",
    );
    write(
        &root,
        "src/users.rs",
        "fn a(id: u64) {\n    info!(user_id = id; \"created\");\n    info!(user_id = id; \"updated\");\n}\n",
    );
    write(
        &root,
        "src/audit/mod.rs",
        "fn b(id: u64) {\n    info!(\"user.id\" = id; \"audited\");\n}\n",
    );
    write(
        &root,
        "target/skipped.rs",
        "use log::info; fn c(x: u8) { info!(\"{} x\", x); }",
    );
    write(
        &root,
        ".hidden/skipped.rs",
        "use log::info; fn c(x: u8) { info!(\"{} x\", x); }",
    );
    // `info!` in the modules refers to `log` through the crate root's
    // `#[macro_use]`, and `user.id` is the rarer of two spellings.
    let diagnostics = check_path(&root).expect("the directory is readable");
    assert_eq!(positions(&diagnostics), vec!["2:11 OLB004"]);
    assert!(diagnostics[0].path.ends_with("src/audit/mod.rs"));
    assert!(
        diagnostics[0].message.contains("spelled `user_id`"),
        "{}",
        diagnostics[0].message
    );
}

/// Regression: files were placed in their crate by their paths' text, so
/// `src/m.rs` beside `./src/lib.rs` was taken for another crate, and the
/// crate root's `#[macro_use]` did not reach it.
#[test]
fn a_crates_files_are_one_crate_however_their_paths_are_written() {
    let root = scratch_dir("crate_path_spellings");
    write(&root, "Cargo.toml", "[package]\nname = \"demo\"\n");
    let lib = write(
        &root,
        "src/lib.rs",
        "#[macro_use]\nextern crate log;\nmod m;\nfn a(u: u8) { info!(user_id = u; \"a\"); }\n",
    );
    let module = write(
        &root,
        "src/m.rs",
        "fn b(u: u8) {\n    info!(\"paid {}\", u);\n    info!(\"user.id\" = u; \"b\");\n}\n",
    );
    let here = std::env::current_dir().expect("the working directory");
    let relative = |path: &Path| {
        path.strip_prefix(&here)
            .expect("below the crate")
            .to_owned()
    };
    let dotted = |path: &Path| Path::new(".").join(relative(path));
    let spellings = [
        (lib.clone(), module.clone()),
        (relative(&lib), relative(&module)),
        (relative(&lib), dotted(&module)),
        (dotted(&lib), module.clone()),
    ];
    for (lib, module) in spellings {
        let report = check_files(&[&lib, &module], &Config::new());
        assert_eq!(
            positions(&report.diagnostics),
            vec!["2:17 OLB001", "3:11 OLB004"],
            "{} and {}",
            lib.display(),
            module.display()
        );
    }
}

#[test]
fn check_path_reports_a_missing_path() {
    let missing = scratch_dir("check_path_missing").join("nothing-here");
    match check_path(&missing) {
        Err(LintError::Io { path, .. }) => assert_eq!(path, missing),
        other => panic!("expected an I/O error, got {other:?}"),
    }
}

/// Runs `check` while a FIFO at `fifo` has a writer that gives it a
/// finding of its own, should `check` read it; then lets the writer go on
/// and returns what `check` returned.
#[cfg(unix)]
fn with_a_written_fifo<T>(fifo: &Path, check: impl FnOnce() -> T) -> T {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;

    let made = std::process::Command::new("mkfifo")
        .arg(fifo)
        .status()
        .expect("run mkfifo");
    assert!(made.success());
    let writer = {
        let fifo = fifo.to_owned();
        std::thread::spawn(move || {
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .open(&fifo)
                .expect("open the FIFO");
            // The reader may be gone by then.
            let _ = file.write_all(INTERPOLATED.as_bytes());
        })
    };
    let result = check();
    // Opening the FIFO for reading lets a writer still waiting for a
    // reader go on; without blocking, so that it returns at once when the
    // writer is done. It stays open until the writer has written.
    let _reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(fifo)
        .expect("open the FIFO for reading");
    writer.join().expect("the writer");
    result
}

/// Regression: the walk read anything named `*.rs` that was not a
/// directory: a FIFO held it until something wrote into the FIFO, and a
/// link to a directory failed the whole walk.
#[cfg(unix)]
#[test]
fn check_path_reads_regular_files_only() {
    let root = scratch_dir("check_path_regular_files");
    write(&root, "good.rs", INTERPOLATED);
    std::fs::create_dir(root.join("linked")).expect("create a directory");
    std::os::unix::fs::symlink(root.join("linked"), root.join("link.rs")).expect("symlink");
    std::os::unix::fs::symlink(root.join("good.rs"), root.join("link_to_file.rs"))
        .expect("symlink");
    let result = with_a_written_fifo(&root.join("fifo.rs"), || check_path(&root));
    let diagnostics = result.expect("the walk skips what it cannot read as a file");
    let mut files: Vec<String> = diagnostics
        .iter()
        .map(|diagnostic| {
            diagnostic
                .path
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    files.dedup();
    assert_eq!(files, ["good.rs", "link_to_file.rs"]);
}

/// Regression: a FIFO given as the path itself (not found by the walk) was
/// read as a file, which held the call until something wrote into it.
#[cfg(unix)]
#[test]
fn check_path_refuses_a_fifo_given_as_the_path() {
    let fifo = scratch_dir("check_path_fifo").join("fifo.rs");
    let result = with_a_written_fifo(&fifo, || check_path(&fifo));
    match result {
        Err(LintError::Io { path, source }) => {
            assert_eq!(path, fifo);
            assert_eq!(source.kind(), std::io::ErrorKind::InvalidInput);
        }
        other => panic!("expected an I/O error, got {other:?}"),
    }
}

/// Regression: a link to nothing under a Rust file's name was skipped
/// without a word by the library, where the command line fails the run.
#[cfg(unix)]
#[test]
fn check_path_reports_a_rust_file_link_to_nothing() {
    let root = scratch_dir("check_path_dangling");
    write(&root, "good.rs", INTERPOLATED);
    let dangling = root.join("dangling.rs");
    std::os::unix::fs::symlink(root.join("gone.rs"), &dangling).expect("symlink");
    match check_path(&root) {
        Err(LintError::Io { path, .. }) => assert_eq!(path, dangling),
        other => panic!("expected an I/O error, got {other:?}"),
    }
}

#[test]
fn check_files_keeps_going_past_unreadable_files() {
    let root = scratch_dir("check_files");
    let good = write(&root, "good.rs", INTERPOLATED);
    let binary = root.join("binary.rs");
    std::fs::write(&binary, [0x66, 0x6e, 0xff, 0xfe]).expect("write the file");
    let missing = root.join("missing.rs");
    let report = check_files(&[good, binary, missing.clone()], &Config::new());
    assert_eq!(report.files_checked, 2);
    assert_eq!(report.errors.len(), 1);
    assert!(matches!(&report.errors[0], LintError::Io { path, .. } if *path == missing));
    // Regression: the cause was in the text and in `source()` both, so
    // reporters that print the chain showed it twice.
    assert_eq!(
        report.errors[0].to_string(),
        format!("cannot read {}", missing.display())
    );
    assert!(std::error::Error::source(&report.errors[0]).is_some());
    assert_eq!(
        positions(&report.diagnostics),
        vec!["1:1 OLB000", "4:17 OLB001"]
    );
    assert!(report.diagnostics[0].message.contains("not valid UTF-8"));
}

#[test]
fn assert_clean_passes_on_clean_code_and_panics_with_the_findings() {
    let root = scratch_dir("assert_clean");
    write(
        &root,
        "clean/lib.rs",
        "use tracing::info;\nfn f(user: &str) { info!(user, \"logged in\"); }\n",
    );
    write(&root, "dirty/lib.rs", INTERPOLATED);
    assert_clean(root.join("clean"));
    let panic = catch_unwind(AssertUnwindSafe(|| assert_clean(root.join("dirty"))))
        .expect_err("findings must fail the assertion");
    let message = panic
        .downcast_ref::<String>()
        .expect("the panic carries a message");
    assert!(
        message.contains("otel-log-lint found 1 problem(s)"),
        "{message}"
    );
    assert!(message.contains("warning[OLB001]"), "{message}");
    assert!(message.contains("dirty/lib.rs:4:17"), "{message}");
    // Regression: a path that cannot be read panicked without saying why.
    let panic = catch_unwind(AssertUnwindSafe(|| assert_clean(root.join("missing"))))
        .expect_err("a missing path must fail the assertion");
    let message = panic
        .downcast_ref::<String>()
        .expect("the panic carries a message");
    let not_found = std::io::Error::from(std::io::ErrorKind::NotFound).to_string();
    assert!(message.contains("cannot read"), "{message}");
    assert!(
        message.contains("No such file") || message.contains(&not_found),
        "{message}"
    );
}

#[test]
fn long_lines_render_an_excerpt_with_the_caret_in_place() {
    let source = format!(
        "use tracing::info;\nfn f(user: &str) {{ let _pad = \"{}\"; info!(\"user {{}} in\", user); }}\n",
        "x".repeat(400)
    );
    let diagnostics = check_source("long.rs", &source);
    assert_eq!(positions(&diagnostics), vec!["2:447 OLB001"]);
    let finding = &diagnostics[0];
    assert_eq!(finding.source_column, 367);
    assert!(finding.source_line.chars().count() <= 240);
    let rendered = finding.to_string();
    let lines: Vec<&str> = rendered.lines().collect();
    assert!(lines[3].starts_with("2 | ...xxx"), "{rendered}");
    assert_eq!(lines[3].find("{}"), lines[4].find("^^"), "{rendered}");
}

/// Regression: the caret under a finding longer than a long line's
/// excerpt ran on past the excerpt's end.
#[test]
fn the_caret_ends_with_a_long_lines_excerpt() {
    let source = format!(
        "use tracing::info;\nfn f(user: &str) {{ info!(v = format!(\"{}{{}}\", user), \"m\"); }}\n",
        "a".repeat(400)
    );
    let diagnostics = check_source("long.rs", &source);
    let rules: Vec<Rule> = diagnostics.iter().map(|d| d.rule).collect();
    assert_eq!(rules, vec![Rule::PreformattedValue]);
    let rendered = diagnostics[0].to_string();
    let lines: Vec<&str> = rendered.lines().collect();
    let source_end = lines[3].trim_end().chars().count();
    let caret_end = lines[4].trim_end().chars().count();
    assert!(lines[4].trim_end().ends_with('^'), "{rendered}");
    assert!(caret_end <= source_end, "{rendered}");
}

/// Regression: a key's text went into the message as it was, so a key
/// holding an escape sequence (`"x\u{1b}[2J"`) cleared the screen of
/// whoever read the report; the source line is shown escaped too, its
/// caret still under the finding.
#[test]
fn a_findings_text_is_escaped_in_human_output() {
    let source = "use tracing::info;\n\nfn f(user: &str) {\n    info!(\"x\\u{1b}[2J\" = 1, \"\u{1b}[2J {}\", user);\n}\n";
    let diagnostics = check_source("src/lib.rs", source);
    let rendered: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
    assert!(!rendered.is_empty());
    for text in &rendered {
        assert!(!text.contains('\u{1b}'), "{text}");
    }
    let interpolated = diagnostics
        .iter()
        .find(|d| d.rule == Rule::InterpolatedMessage)
        .expect("OLB001")
        .to_string();
    let lines: Vec<&str> = interpolated.lines().collect();
    let placeholder = lines[3].find("{}").expect("the placeholder");
    assert_eq!(lines[4].find('^'), Some(placeholder), "{interpolated}");
}

/// Regression: only a space, `%`, `#` and `?` were percent-encoded, so a
/// path with other characters, or beyond ASCII, was no URI reference, and
/// `./a:b.rs` read as a URI of scheme `a`.
#[test]
fn sarif_uris_encode_what_a_uri_path_cannot_hold() {
    for (path, uri) in [
        ("src/café.rs", "src/caf%C3%A9.rs"),
        ("src/[id]/{x}|y^z`.rs", "src/%5Bid%5D/%7Bx%7D%7Cy%5Ez%60.rs"),
        ("./a:b.rs", "a%3Ab.rs"),
        ("100%/a#b?.rs", "100%25/a%23b%3F.rs"),
    ] {
        let sarif = to_sarif(&check_source(path, INTERPOLATED));
        assert_eq!(
            sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
                ["uri"],
            format!("{}{uri}", sarif_prefix()),
            "{path}"
        );
    }
}

#[test]
fn sarif_uses_file_uris_for_absolute_paths() {
    let absolute = std::env::temp_dir().join("login.rs");
    let sarif = to_sarif(&check_source(&absolute, INTERPOLATED));
    let uri = sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
        ["artifactLocation"]["uri"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(uri.starts_with("file:///"), "{uri}");
    assert!(uri.ends_with("/login.rs"), "{uri}");
    // An absolute URI may not have a base id.
    assert!(
        sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
            .get("uriBaseId")
            .is_none()
    );
}

/// A project's own test could not leave out what its `otel-log-lint.toml`
/// excludes (fixtures of deliberate findings, `trybuild` cases), so it
/// failed where the command passed.
#[test]
fn check_path_with_leaves_out_what_the_config_excludes() {
    let root = scratch_dir("check_path_excludes");
    for file in [
        "src/lib.rs",
        "src/generated.rs",
        "fixtures/bad.rs",
        "tests/ui/bad.rs",
        "tests/uikit.rs",
    ] {
        write(&root, file, INTERPOLATED);
    }
    // As written in a test next to `env!("CARGO_MANIFEST_DIR")`: with
    // `./`, absolute, and an empty path, which leaves nothing out.
    let mut config = Config::new();
    config
        .exclude("./fixtures")
        .exclude(root.join("tests/ui"))
        .exclude("src/generated.rs")
        .exclude("");
    let diagnostics = check_path_with(&root, &config).expect("the directory is readable");
    let mut files: Vec<String> = diagnostics
        .iter()
        .map(|diagnostic| {
            let relative = diagnostic.path.strip_prefix(&root).expect("under the root");
            relative.to_string_lossy().replace('\\', "/")
        })
        .collect();
    files.sort();
    assert_eq!(files, ["src/lib.rs", "tests/uikit.rs"]);
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn a_module_named_target_is_linted_and_only_cargos_build_directory_is_skipped() {
    let root = tree_with_target_directories("check_path_target");
    let diagnostics = check_path(&root).expect("the directory is readable");
    assert_eq!(positions(&diagnostics), vec!["4:17 OLB001"]);
    assert!(diagnostics[0].path.ends_with("src/target/mod.rs"));
    let _ = std::fs::remove_dir_all(&root);
}
