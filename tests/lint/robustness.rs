//! No input may panic the linter or overflow its stack: a bounded,
//! deterministic sample of the sources of the crates `Cargo.lock` names,
//! from the Cargo registry (with truncated and mangled copies of some), a
//! generated corpus of
//! logging calls, and hostile texts.
//!
//! A panic inside the parser thread is caught by the linter and reported as
//! an `OLB000` "internal error" finding, so the tests also assert that no
//! such finding appears.

use std::path::{Path, PathBuf};

use otel_log_bridge::lint::{check_source, Diagnostic, Rule};

/// At most this many registry files are sampled.
const MAX_REGISTRY_FILES: usize = 3_000;

/// How many bytes of registry sources one run reads: an unoptimised build
/// parses about 2 MB/s, which keeps this test well under a minute on two
/// cores; an optimised build takes the full sample.
const REGISTRY_BYTE_BUDGET: usize = if cfg!(debug_assertions) {
    16 << 20
} else {
    512 << 20
};

/// Checks one text and asserts the linter did not fail on it.
fn assert_survives(name: &str, text: &str) -> Vec<Diagnostic> {
    let diagnostics = check_source(name, text);
    let internal: Vec<&Diagnostic> = diagnostics
        .iter()
        .filter(|d| d.rule == Rule::UnparsableFile && d.message.contains("internal error"))
        .collect();
    assert!(internal.is_empty(), "the linter failed on {name}");
    for diagnostic in &diagnostics {
        assert!(
            diagnostic.line >= 1 && diagnostic.column >= 1,
            "{name}: {diagnostic}"
        );
    }
    diagnostics
}

fn registry_sources() -> Option<PathBuf> {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cargo")))?;
    let sources = cargo_home.join("registry").join("src");
    sources.is_dir().then_some(sources)
}

fn rust_files_under(directory: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(directory) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        match entry.file_type() {
            Ok(kind) if kind.is_dir() => rust_files_under(&path, files),
            Ok(kind) if kind.is_file() && path.extension().is_some_and(|ext| ext == "rs") => {
                files.push(path);
            }
            _ => {}
        }
    }
}

/// The `name-version` directories of the crates `Cargo.lock` names, as
/// the registry keeps their sources.
fn locked_crates() -> std::collections::BTreeSet<String> {
    let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.lock"))
        .expect("Cargo.lock");
    let mut crates = std::collections::BTreeSet::new();
    let mut name = None;
    for line in lock.lines() {
        if let Some(value) = line.strip_prefix("name = ") {
            name = Some(value.trim_matches('"').to_owned());
        } else if let Some(value) = line.strip_prefix("version = ") {
            if let Some(name) = name.take() {
                crates.insert(format!("{name}-{}", value.trim_matches('"')));
            }
        }
    }
    crates
}

/// An evenly spread, deterministic sample of the `.rs` files of the
/// registry's crates that `Cargo.lock` names: the same files on every
/// machine that built this crate, whatever else its registry holds.
fn registry_sample(sources: &Path) -> Vec<(String, String)> {
    let locked = locked_crates();
    let mut files = Vec::new();
    for index in std::fs::read_dir(sources).into_iter().flatten().flatten() {
        for krate in std::fs::read_dir(index.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            if locked.contains(krate.file_name().to_string_lossy().as_ref()) {
                rust_files_under(&krate.path(), &mut files);
            }
        }
    }
    // Sorted by the path below the registry's index directory, whose name
    // differs between machines.
    let below_index = |path: &PathBuf| -> PathBuf {
        let relative = path.strip_prefix(sources).unwrap_or(path);
        relative.components().skip(1).collect()
    };
    files.sort_by_cached_key(below_index);
    let stride = files.len().div_ceil(MAX_REGISTRY_FILES).max(1);
    let mut budget = REGISTRY_BYTE_BUDGET;
    let mut sample = Vec::new();
    for path in files.iter().step_by(stride) {
        // Files that are not UTF-8 are covered by `check_files`; here only
        // texts matter.
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        let Some(rest) = budget.checked_sub(text.len()) else {
            continue;
        };
        budget = rest;
        sample.push((path.display().to_string(), text));
    }
    sample
}

/// Copies of a text that no longer parse, or parse differently: cut short
/// at a third, with every seventh closing bracket removed, and with every
/// `{}` placeholder half-deleted.
fn mangled(text: &str) -> Vec<String> {
    let cut = text
        .char_indices()
        .map(|(index, _)| index)
        .nth(text.chars().count() / 3)
        .unwrap_or(0);
    let mut closing = 0;
    let unbalanced: String = text
        .chars()
        .filter(|c| {
            if matches!(c, ')' | ']' | '}') {
                closing += 1;
                closing % 7 != 0
            } else {
                true
            }
        })
        .collect();
    vec![
        text.get(..cut).unwrap_or_default().to_owned(),
        unbalanced,
        text.replace("{}", "{"),
    ]
}

#[test]
fn registry_sources_or_a_generated_corpus_lint_without_failing() {
    let corpus = registry_sources()
        .map(|sources| registry_sample(&sources))
        .filter(|sample| !sample.is_empty())
        .unwrap_or_else(|| generated_corpus(400));
    assert!(!corpus.is_empty(), "nothing to lint");
    for (index, (name, text)) in corpus.iter().enumerate() {
        assert_survives(name, text);
        if index % 16 == 0 {
            for variant in mangled(text) {
                assert_survives(name, &variant);
            }
        }
    }
}

#[test]
fn a_generated_corpus_of_logging_calls_lints_without_failing() {
    let mut findings = 0;
    for (name, text) in generated_corpus(150) {
        findings += assert_survives(&name, &text).len();
        for variant in mangled(&text) {
            assert_survives(&name, &variant);
        }
    }
    // The corpus is full of flagged calls; finding none would mean the
    // generated calls were not recognised at all.
    assert!(findings > 300, "only {findings} findings");
}

/// Regression: the recursion estimate took `|` and `<` for a closure's
/// and a generic's brackets wherever they came, so long generated tables
/// of flags, shifts and or-patterns were reported as nesting too deeply,
/// and not linted.
#[test]
fn generated_tables_of_operators_are_not_taken_for_deep_nesting() {
    let entries = |entry: &dyn Fn(usize) -> String| (0..2_000).map(entry).collect::<String>();
    let tables = [
        format!(
            "static T: [u32; 2000] = [{}];",
            entries(&|i| format!("A | B{i}, "))
        ),
        format!(
            "static T: [u64; 2000] = [{}];",
            entries(&|i| format!("1 << {}, ", i % 64))
        ),
        format!(
            "static T: [bool; 2000] = [{}];",
            entries(&|i| format!("a{i} <= b, "))
        ),
        // A shift compared: its `>` closes no qualified path.
        format!(
            "static T: [bool; 2000] = [{}];",
            entries(&|i| format!("a{i} << 1 > b, "))
        ),
        format!(
            "enum E {{ {} }}",
            entries(&|i| format!("A{i} = 1 << {}, ", i % 64))
        ),
        format!(
            "fn f(k: K) -> F {{ match k {{ {} }} }}",
            entries(&|i| format!("K::X{i} => F::A | F::B, "))
        ),
        format!(
            "fn f() {{ g({}); }}",
            entries(&|i| format!("|a, b| a{i} || b, "))
        ),
    ];
    for (index, text) in tables.iter().enumerate() {
        let diagnostics = check_source(format!("table_{index}.rs"), text);
        assert!(
            diagnostics.iter().all(|d| d.rule != Rule::UnparsableFile),
            "table {index}: {:?}",
            diagnostics.first().map(|d| &d.message)
        );
    }
}

#[test]
fn hostile_texts_yield_at_most_one_parse_finding() {
    let deep = |open: &str, close: &str, depth: usize| {
        format!(
            "fn f() {{ let x = {}1{}; }}",
            open.repeat(depth),
            close.repeat(depth)
        )
    };
    let hostile = [
        String::new(),
        "\u{feff}".to_owned(),
        "#!".to_owned(),
        "#![".to_owned(),
        "\"".to_owned(),
        "r#\"".to_owned(),
        "/*".to_owned(),
        "'".to_owned(),
        "\0".to_owned(),
        "use tracing::info; fn f() { info!(\"{\"); info!(\"}\"); info!(\"{:\"); info!(\"{0x}\"); }".to_owned(),
        "use tracing::info; fn f() { info!(); info!(,); info!(=); info!(a =); info!(?); info!(%); }".to_owned(),
        "use log::info; fn f() { info!(;); info!(k:; \"m\"); info!(k = ; \"m\"); info!(target:); }".to_owned(),
        "use tracing::info; fn f() { info!(\"\\u{7b}\\u{7d}\\\n   {}\", 1); info!(r##\"{}\"##, x); }".to_owned(),
        format!("use tracing::info; fn f() {{ {} }}", "info!(\"{} x\", y); ".repeat(20_000)),
        deep("(", ")", 100_000),
        deep("[", "]", 5_000),
        deep("-", "", 200_000),
        deep("|| ", "", 50_000),
        format!("type T = {}u8{};", "Vec<".repeat(50_000), ">".repeat(50_000)),
        // Regression: commas inside a closure's parameters or a generic's
        // arguments were taken for the end of a chain, so these chains
        // went to the parser, whose stack overflowed.
        deep("|a, b| ", "", 50_000),
        format!("type T = {}u8{};", "X<u8, ".repeat(50_000), ",>".repeat(50_000)),
        // Regression: a qualified path's `>` closed the generic around it
        // (`X< <A as T>::Y, ..`, and `X<<A as T>::Y, ..`, whose `<<` reads
        // as a shift), so these chains went to the parser too.
        format!("type T = {}u8{};", "X< <A as T>::Y, ".repeat(30_000), ", u8>".repeat(30_000)),
        format!("type T = {}u8{};", "X<<A as T>::Y, ".repeat(30_000), ", u8>".repeat(30_000)),
        deep("Vec::<<A as T>::Y, ", ">", 30_000),
        // Nor a block inside them, nor an operator after a block.
        format!("type T = {}u8{};", "X<{0}, ".repeat(50_000), ">".repeat(50_000)),
        deep("|a: X<{0}>, b| ", "", 50_000),
        deep("|| {} + ", "", 50_000),
        format!("fn f() {{ {} }}", "if a {} else ".repeat(50_000) + "{}"),
        format!("use tracing::info; fn f() {{ info!({}\"m\"); }}", "a = 1, ".repeat(10_000)),
        // Many distinct values in one message: each was compared with every
        // one before it.
        format!(
            "use tracing::info; fn f() {{ info!(\"{}\"); }}",
            (0..20_000).map(|i| format!("{{a{i}}}")).collect::<String>()
        ),
    ];
    for (index, text) in hostile.iter().enumerate() {
        let diagnostics = assert_survives(&format!("hostile_{index}.rs"), text);
        let parse_findings = diagnostics
            .iter()
            .filter(|d| d.rule == Rule::UnparsableFile)
            .count();
        assert!(
            parse_findings <= 1,
            "hostile text {index}: {parse_findings} parse findings"
        );
    }
}

/// What tells a generic's `<` from a shift must not take a long table of
/// shifts, or of qualified paths, for one deep chain.
#[test]
fn long_tables_of_shifts_and_qualified_paths_are_parsed() {
    let shifts: String = (0..4096).map(|i| format!("1 << {}, ", i % 64)).collect();
    let paths: String = (0..4096).map(|_| "<A as T>::N << 2, ").collect();
    for source in [
        format!("const MASKS: [u64; 4096] = [{shifts}];\n"),
        format!("const N: [u64; 4096] = [{paths}];\n"),
        format!("fn f() {{ let v = x << n as u32; let w: Vec<<A as T>::Y> = g(v, {shifts}); }}\n"),
    ] {
        let diagnostics = assert_survives("tables.rs", &source);
        assert!(
            diagnostics.iter().all(|d| d.rule != Rule::UnparsableFile),
            "{:?}",
            diagnostics.first().map(|d| &d.message)
        );
    }
}

#[test]
fn a_deep_chain_inside_an_attribute_is_reported_instead_of_overflowing_the_stack() {
    // `syn` parses the value of `#[name = value]`, and the linter the
    // fields of `#[instrument(..)]`, by recursive descent.
    let chain = "-".repeat(200_000);
    for source in [
        format!("#[doc = {chain}1]\nfn f() {{}}\n"),
        format!("use tracing::instrument;\n#[instrument(fields(a = {chain}1))]\nfn f() {{}}\n"),
        // Regression: inside a `format!`, whose body `syn` keeps as tokens,
        // the chain was parsed unchecked and overflowed the stack.
        format!(
            "use tracing::instrument;\n#[instrument(fields(a = format!(\"{{}}\", {chain}1)))]\nfn f() {{}}\n"
        ),
    ] {
        let diagnostics = assert_survives("attribute.rs", &source);
        assert_eq!(diagnostics.len(), 1);
        assert_eq!(diagnostics[0].rule, Rule::UnparsableFile);
        assert!(
            diagnostics[0].message.contains("more than 4096 levels"),
            "{}",
            diagnostics[0].message
        );
    }
}

/// Regression: a file cut short (a function with no body at its end) was
/// reported at 1:1, far from what is missing: the parser's error at the end
/// of its input has no position of its own.
#[test]
fn a_file_cut_short_is_reported_at_its_end() {
    let diagnostics = assert_survives("cut.rs", "fn f() {}\n\nfn g(x: u8)\n");
    assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
    let diagnostic = &diagnostics[0];
    assert_eq!(diagnostic.rule, Rule::UnparsableFile);
    assert!(
        diagnostic.message.contains("unexpected end of input"),
        "{diagnostic}"
    );
    assert_eq!(
        (diagnostic.line, diagnostic.column),
        (3, 12),
        "{diagnostic}"
    );
}

/// Pieces of `tracing` and `log` calls, valid and not, to combine.
const MACROS: [&str; 14] = [
    "info",
    "warn",
    "error",
    "debug",
    "tracing::info",
    "tracing::event",
    "tracing::info_span",
    "tracing::span",
    "log::warn",
    "log::log",
    "tr::error",
    "i",
    "defmt::info",
    "select",
];
const PREFIXES: [&str; 8] = [
    "",
    "",
    "target: \"app\", ",
    "name: \"app.event\", ",
    "parent: &span, ",
    "logger: my_logger, ",
    "Level::INFO, ",
    "log::Level::Warn, ",
];
const KEYS: [&str; 16] = [
    "user",
    "user.id",
    "user_id",
    "userId",
    "\"http method\"",
    "{ KEY }",
    "r#type",
    "password",
    "token_count",
    "message",
    "otel.name",
    "trace_id",
    "(computed)",
    "a.b.c",
    "e",
    "self",
];
const VALUES: [&str; 16] = [
    "1",
    "%e",
    "?req",
    "format!(\"{:?}\", x)",
    "x.to_string()",
    "&e as &dyn std::error::Error",
    "creds.password",
    "tracing::field::Empty",
    "|| 1",
    "{ 1 }",
    "vec![1, 2]",
    "\"text\"",
    "?",
    "%",
    "",
    "info!(\"nested {}\", x)",
];
const MESSAGES: [&str; 14] = [
    "\"plain\"",
    "\"{}\", x",
    "\"{} and {x}\", y",
    "\"{{}} {0:?}\", req",
    "\"{\"",
    "\"}\"",
    "\"{:>width$}\", x, width = 3",
    "\"{:.*}\", 2, 1.5",
    "r#\"raw {}\"#, e",
    "\"\\u{7b}{}\", err",
    "\"multi\nline {}\", password",
    "concat!(\"a\", \"b\")",
    "\"✓ {} ✓\", x.to_string()",
    "\"{name}\", name = format!(\"{}\", e)",
];
const SEPARATORS: [&str; 5] = [", ", ", ", "; ", " ", ","];

fn pick<'a>(rng: &mut fastrand::Rng, items: &[&'a str]) -> &'a str {
    items
        .get(rng.usize(..items.len()))
        .copied()
        .unwrap_or_default()
}

/// One generated call such as `log::warn!(target: "app", e = %e; "{}", x);`.
fn generated_call(rng: &mut fastrand::Rng) -> String {
    let mut call = format!("{}!({}", pick(rng, &MACROS), pick(rng, &PREFIXES));
    for _ in 0..rng.usize(0..5) {
        let sigil = pick(rng, &["", "", "?", "%"]);
        call.push_str(sigil);
        call.push_str(pick(rng, &KEYS));
        if rng.bool() {
            call.push_str(" = ");
            call.push_str(pick(rng, &VALUES));
        }
        call.push_str(pick(rng, &SEPARATORS));
    }
    if rng.usize(0..4) != 0 {
        call.push_str(pick(rng, &MESSAGES));
    }
    call.push_str(");");
    call
}

/// Files of generated calls inside functions, impls, attributes and other
/// macros; about one file in ten is also cut off somewhere.
fn generated_corpus(files: usize) -> Vec<(String, String)> {
    let mut rng = fastrand::Rng::with_seed(0x07E1_0A11);
    (0..files)
        .map(|index| {
            let mut text = String::from(
                "use tracing::{debug, error, info, warn, Level};\nuse tracing as tr;\nuse tracing::info as i;\n\n",
            );
            for function in 0..rng.usize(1..8) {
                let wrapper = rng.usize(0..5);
                match wrapper {
                    0 => text.push_str("impl LogExporter for Exporter {\n"),
                    1 => text.push_str("#[tracing::instrument(skip(a), fields(user.id = %a, ?b))]\n"),
                    _ => {}
                }
                text.push_str(&format!("fn f{function}(req: Request, password: &str, e: Error) {{\n"));
                for _ in 0..rng.usize(1..12) {
                    let call = generated_call(&mut rng);
                    if rng.usize(0..6) == 0 {
                        text.push_str(&format!("    tokio::select! {{ _ = tick() => {{ {call} }} }}\n"));
                    } else {
                        text.push_str(&format!("    {call}\n"));
                    }
                }
                text.push_str("}\n");
                if wrapper == 0 {
                    text.push_str("}\n");
                }
            }
            if rng.usize(0..10) == 0 {
                let cut = rng.usize(0..=text.len());
                let boundary = (0..=cut).rev().find(|at| text.is_char_boundary(*at)).unwrap_or(0);
                text.truncate(boundary);
            }
            (format!("generated_{index}.rs"), text)
        })
        .collect()
}
