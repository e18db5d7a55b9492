//! Lint helpers: find `tracing` and `log` calls that lose structure on the
//! way to OpenTelemetry.
//!
//! A log record reaches OpenTelemetry as a body and a set of attributes.
//! Backends group, filter and alert on attributes and on a stable body; a
//! value formatted into the message, an error turned into a string or a
//! request dumped with `Debug` arrives as text that nothing can query. The
//! rules below find those calls in source code. They ship three ways:
//!
//! * the `otel-log-lint` command (feature `cli`): `otel-log-lint [PATHS…]`;
//! * this module (feature `lint`): `check_source`, `check_path` and
//!   `assert_clean` for a project's own `cargo test`;
//! * the bridge's runtime check of each callsite's keys, which names the
//!   same [`Rule`]s (it needs no feature).
//!
//! ```
//! # #[cfg(feature = "lint")] {
//! use otel_log_bridge::lint::{check_source, Rule};
//!
//! let findings = check_source(
//!     "src/payment.rs",
//!     "use tracing::info;\nfn pay(user: &str) { info!(\"paid by {}\", user); }\n",
//! );
//! assert_eq!(findings.len(), 1);
//! assert_eq!(findings[0].rule, Rule::InterpolatedMessage);
//! assert_eq!((findings[0].line, findings[0].column), (2, 37));
//! # }
//! ```
//!
//! # Which calls are linted
//!
//! The events (`trace!` … `error!`, `event!`) and spans (`*_span!`, `span!`)
//! of `tracing`, `#[instrument]`, and the macros of `log` (`trace!` …
//! `error!`, `log!`), with every form of their grammars: `name:`, `target:`,
//! `parent:` and `logger:` prefixes, `%` and `?` sigils, dotted,
//! string-literal and `{ CONST }` keys, `log`'s `key:capture = value;`
//! key-values, and format strings with `{{` escapes, positional, indexed,
//! named and inline arguments. Calls inside other macros (`tokio::select!`,
//! `assert!`, `vec!` …) are found in their token streams; the bodies of
//! `macro_rules!` definitions are templates and are skipped.
//!
//! Other crates have macros named `info!` too (`defmt`, a local
//! `macro_rules! info`), so a call is linted only when it is written with a
//! `tracing::` or `log::` path (or an alias: `use tracing as t;`), or when
//! the file imports the name from them: `use tracing::info;`,
//! `use log::{info as i};`, `use tracing::*;`, or
//! `#[macro_use] extern crate log;`. A `#[macro_use] extern crate` in a
//! crate root also covers the files below it when a directory is checked.
//! A bare `info!` with none of these is not linted, since nothing says which
//! crate it is from; a `macro_rules!` of the same name in the file wins over
//! any import, and an explicit `use other::info;` wins over a glob import.
//!
//! # Levels and suppression
//!
//! Each rule has a [default level](Rule::default_level): `deny` for rules
//! whose findings lose or leak data, `warn` for the rest, and `allow` (off)
//! for OLB009 and OLB010, which a project turns on when it adopts the
//! convention. [`Config`] changes levels; the command line also reads
//! the `[rules]` of `otel-log-lint.toml` and takes `--deny`, `--warn` and
//! `--allow`, each in the order written, so that a later entry overrides an
//! earlier one: `all = "deny"` followed by `OLB009 = "allow"` denies every
//! rule but OLB009.
//!
//! A comment `// otel-log-lint: allow(OLB001)` (ids or names, comma
//! separated, or `all`) silences those rules. After code, it covers its own
//! line and a call that starts on it, however many lines the call spans; the
//! next line is not covered. On a line of its own, it covers that line and
//! the line below it, and above a call that spans several lines it covers
//! the whole call. A line may hold several such comments. A name in one
//! that is no rule is reported (OLB013). Text inside a string literal is
//! no comment, however much it reads like one, and a doc comment is prose:
//! neither allows anything. A key where OLB004 is allowed is a deliberate
//! exception: it does not count as a spelling or a namespace against the
//! crate's other keys either.
//!
//! # OLB000 unparsable file
//!
//! **Catches** a file that is not valid UTF-8 or Rust as `syn` parses it,
//! or that could make the parser recurse more than 4096 levels deep
//! (brackets nested about a thousand deep, or a chain of thousands of
//! operators or closures; a method call or field access in a chain counts
//! one level, so a builder's chain of a few thousand calls passes); the
//! body of a macro that `syn` keeps as tokens (`html! { .. }`) counts only
//! its brackets. A `tracing` or `log` call
//! that is too deep to parse is reported the same way at the call, and the
//! rest of the file is still linted. **Why:** nothing in it was linted, and
//! a silent skip would look like a clean result. **Fix:** fix the syntax,
//! or exclude the file (generated code, test data). Default: `warn`.
//!
//! # OLB001 interpolated message
//!
//! **Catches** values formatted into the message: `info!("user {} paid
//! {}", user, amount)`, inline `{user}` captures and named `{user}`
//! arguments. A message made of one `Display` placeholder alone
//! (`info!("{line}")`) is taken as a message built elsewhere and is not
//! flagged; one `Debug` placeholder alone (`debug!("{order:?}")`) is a
//! value's dump as the whole body, and is; `{{` and `}}` are
//! text, and so is a constant argument (`"retrying after {}ms", 5`, or a
//! `SCREAMING_CASE` name, as an argument or captured inline:
//! `"giving up after {MAX_RETRIES} retries"`), which is the same on every
//! call. **Why:** the body becomes a different string
//! on every call, so backends cannot group records by message, and the
//! values are buried in text where no query reaches them. **Fix:** keep the
//! message constant and pass the values as fields: `info!(user, amount,
//! "payment received")`, or with `log`: `info!(user:%, amount; "payment
//! received")` (a `log` key is one token, so a dotted one is quoted:
//! `"user.name":% = user.name`); a value the call records as a field
//! already (`info!(user, "user {user} paid")`) is only left out of the
//! message. Errors, secrets and dumps formatted into a
//! message are reported by OLB006, OLB005 and OLB007 instead. Default:
//! `warn`.
//!
//! # OLB002 pre-formatted values
//!
//! **Catches** `format!(..)` or `.to_string()` used as a field value or as
//! a message argument, such as `peer = format!("{:?}", addr)` or
//! `id = id.to_string()`. **Why:** the value arrives as a string whatever
//! its type (numbers stop being numbers), and the string is built even when
//! the event is filtered out. **Fix:** record the value with a sigil:
//! `peer = ?addr`, `id = %id` (`log`: `id:% = id`); record several values
//! as several fields. Default: `warn`.
//!
//! # OLB003 reserved or bridge-owned keys
//!
//! **Catches** keys that OpenTelemetry reserves or that the bridge writes
//! itself: `otel.*`, `code.*`, `exception.*`, `log.*`, `event.name`,
//! `trace_id`, `span_id`, and `message` as a `log` key-value. On spans the
//! fields `tracing-opentelemetry` reads (`otel.name`, `otel.kind`,
//! `otel.status_code`, `otel.status_description`) are allowed; the bridge
//! does not copy them onto the span's records. A `tracing` field named `message` *is* the message, so it
//! is only wrong next to a format string (OLB012). **Why:** where the
//! bridge writes the key too, the record would carry two conflicting values
//! for one attribute, and one of them is silently dropped or overwritten;
//! elsewhere a backend reads the key by the meaning OpenTelemetry gives it,
//! which the value does not have. **Fix:** use `name:` for `event.name`,
//! pass errors as `error = &e as &dyn std::error::Error` for `exception.*`,
//! let the bridge fill trace ids, and rename anything else (an id from
//! another system: `upstream.trace_id`). Default: `deny`.
//!
//! # OLB004 key naming
//!
//! **Catches** keys that are not lowercase dot-separated snake_case
//! (`userId`, `retry-count`, `"http method"`, `"db::statement"`); across a
//! crate, a key also used as a namespace (`http` next to `http.method`);
//! and one key spelled two ways (`user_id` and `user.id`). **Why:**
//! OpenTelemetry attribute names are lowercase with `.` between namespaces;
//! backends that nest dotted keys cannot store `http` as both a value and an
//! object; and an attribute split over two spellings cannot be queried as
//! one. The key `error` is not compared with namespaces: the bridge turns
//! an error field into `exception.*` attributes, so it never sits next to
//! `error.type`. The name that ends one of the semantic conventions'
//! template attributes is kept as its source writes it: a header's or
//! metadata's in lowercase with `-` (`http.request.header.content-type`,
//! `rpc.grpc.request.metadata.x-request-id`), an environment variable's as
//! it is (`process.environment_variable.PATH`). **Fix:** rename as the help
//! says (the most used spelling wins).
//! Default: `warn`.
//!
//! # OLB005 secrets
//!
//! **Catches** keys, format arguments, field values and `#[instrument]`
//! arguments that name a secret: password, passwd, passphrase, secret,
//! token, api key, authorization, cookie, credential, private key,
//! session id, JWT, bearer. **Why:** log records are copied to collectors
//! and backends, kept for months and read by many people; a leaked
//! credential there is a breach. **Fix:** do not log it; log whether it is
//! set, its length, or a keyed hash.
//!
//! The decision is made per word, on the *last* word of the name (split at
//! `.`, `_`, `-` and camelCase), because the last word says what a value
//! is: `password`, `api_token`, `auth.token` and `apiKey` are secrets, while
//! `token_count`, `token_type`, `password_len` and `session_len` only
//! describe one and are not flagged. Words like `value`, `header` or `str`
//! at the end defer to the word before them (`token_value`,
//! `authorization_header` are secrets). A number or version at the end is
//! read past, as redaction at run time reads it: `password2` and
//! `api_key_v2` are secrets. `session_id` is a secret: a session
//! id is a bearer credential, and whoever holds it is logged in; only the
//! exact semantic-convention key `session.id`, which identifies a client's
//! telemetry session, is not flagged. `tokens` at the end is not a secret
//! word, as in `max_tokens` it counts language-model tokens.
//!
//! A value that is a constant is not flagged: a literal, or a path of more
//! than one segment to an enum variant or an associated or module constant
//! (`AuthScheme::Bearer`, `header::AUTHORIZATION`); these name a scheme, a
//! header or a cookie rather than hold a credential. A lone
//! `SCREAMING_CASE` name (`API_KEY`, `SESSION_COOKIE`) is flagged: it may
//! be a `static` read from the environment at run time. Nor is a value that
//! visibly is not the raw secret: one with an identifier that has `len`,
//! `length`, `count`, `hash`, `hashed`, `digest`, `fingerprint`, `redact`,
//! `redacted`, `mask`, `masked`, `present` or `presence` as a whole word
//! (`token.len()`, `password_hash`, `hash(&token)`), or that calls
//! `is_some`, `is_none` or `is_empty`. A word inside another does not
//! count: `account.api_key` and `challenge.token` are flagged.
//!
//! A value is named after what it shows: `password.as_bytes()`,
//! `token.trim()`, `Some(&token)`, `String::from_utf8_lossy(&secret)`,
//! `hex::encode(&api_key)`, and a tuple or an array that holds a secret, are
//! flagged (a function that is not known to show its argument whole, such
//! as a hash, is not). A value whose name says whether something holds,
//! its first word being `is`, `has`, `had`, `was`, `can`, `should`,
//! `needs`, `requires`, `uses` or `contains` (`user.has_password()`,
//! `res.is_err()`), is neither a secret nor an error (OLB006). A key is
//! judged by its name alone, as the redaction at run time judges it:
//! `has_password` is flagged, and the help suggests a key such as
//! `password_set`.
//!
//! An `#[instrument]` argument is flagged by its name only when its type
//! can hold a secret: text, bytes, integers and `Uuid`s (also behind
//! references, `Option`, `Box`, `Arc` and the like, and inside a `Vec`, a
//! `HashMap`, `BTreeMap`, `HashSet`, `BTreeSet`, `IndexMap`, a `Result`, a
//! tuple, an array or a slice when any of its type arguments or elements
//! can: their `Debug` prints them all), a type left open (a type parameter
//! of the function or of the impl or trait around it, an associated type
//! of one such as `S::Password`, `Self::Token` in a trait, `impl Trait`,
//! `dyn Trait`), or a `Secret…` wrapper. Any other named type, such as a
//! `CancellationToken` or a lexer's `Token`, is recorded with its own
//! `Debug`, which its author writes, so `shutdown_token: CancellationToken`
//! is not flagged while `password: &str` and `secrets: HashMap<String,
//! String>` are.
//!
//! `#[instrument]` records what `tracing-attributes` records: not an
//! argument that `skip(..)` names, nor one that a field of `fields(..)`
//! with the same single-segment name replaces (`fields(password =
//! password.len())`; a dotted field such as `password.len` replaces
//! nothing). A destructured argument (`State(config): State<Config>`,
//! `(user, password): (&str, &str)`) records each of its bindings with
//! `Debug`, and each is checked as an argument of its own; its type counts
//! as unknown, so it may hold a secret, unless a tuple pattern meets a
//! tuple type, whose elements give the bindings' types. Default: `deny`.
//!
//! # OLB006 error as string
//!
//! **Catches** an error recorded as text: `%e`, `?err`, `error =
//! e.to_string()`, `format!("{e}")`, or an error formatted into the message
//! (`error!("failed: {}", e)`). A value is taken as an error when its name
//! is `e`, `err`, `error` or ends in `_err` / `_error`. **Why:** the bridge
//! turns an error value into `exception.type`, `exception.message` and the
//! source chain; as text, the type and the causes are gone. **Fix:**
//! `error = &e as &dyn std::error::Error` with `tracing`, `error:err = e;`
//! with `log`; a `Box<dyn Error>`, an `anyhow::Error` or an `eyre::Report`
//! does not implement `Error` itself, so it is dereferenced first:
//! `error = &*e as &dyn std::error::Error`, `error:err = *e;`; a
//! `res.err()` is an `Option`, so the error is taken out of it:
//! `error = res.as_ref().err().map(|e| e as &dyn std::error::Error)`, or
//! the error of `if let Err(e) = &res`. Default:
//! `warn`. Not flagged: `#[instrument(err)]`, which `tracing-attributes`
//! expands to an event recording the error with `Display` (`err(Debug)`:
//! `Debug`); the attribute has no form that records the error value
//! itself, so log the error in the function where the structure matters.
//!
//! # OLB007 opaque Debug dumps
//!
//! **Catches** `Debug` dumps of requests, responses, header maps,
//! configurations and whole structs: `?req`, `?headers`, `?config`,
//! `?self`, `{:?}` of them in a message, and `#[instrument]` on a method
//! without `skip(self)` (it records `self` with `Debug`) or on a function
//! whose `req`/`config`/`headers` argument is recorded (not skipped nor
//! replaced by a field of the same name, and also when destructured:
//! `State(config): State<Config>`). **Why:** one
//! large string per record: nothing in it can be filtered or aggregated,
//! it often carries secrets, and it costs storage on every call. **Fix:**
//! record the parts you need as fields (`http.request.method =
//! %req.method()`), and `skip` the rest. Default: `warn`.
//!
//! # OLB008 bare identifier as message
//!
//! **Catches** `info!(msg)`: in `tracing` a lone identifier is a field
//! shorthand, so this records a field `msg` and an empty message. **Why:**
//! the record's body is empty. **Fix:** `info!("{msg}")` if it is the
//! message, or add a constant message if it is a value. Default: `warn`.
//!
//! # OLB009 warn and error events without a name
//!
//! **Catches** `tracing` `warn!` and `error!` events (and `event!` at those
//! levels) without `name:`. **Why:** the bridge writes the name to
//! `event.name`, the stable identifier backends alert on; without it an
//! alert has to match message text. **Fix:** `warn!(name:
//! "payment.declined", ..)`. Default: `allow` (enable it per project).
//!
//! # OLB010 error events without an error
//!
//! **Catches** error-level events (both crates) with no field whose key
//! has `error`, `err` or `exception` among its words (`error`,
//! `db.error`, and also `error_count`, which this rule cannot tell from an
//! error) or whose value is cast to `&dyn Error`, and no `log` `:err`
//! capture. **Why:** an error record without the error has no
//! `exception.*` attributes to group by. **Fix:** attach the error:
//! `error = &e as &dyn std::error::Error`. Default: `allow` (enable it per
//! project).
//!
//! # OLB011 logging inside the telemetry pipeline
//!
//! **Catches** logging calls, spans and `#[instrument]` inside
//! implementations of `LogExporter`, `LogProcessor`, `SpanExporter` and
//! `PushMetricExporter`. **Why:** each export can log, and each log record
//! is exported: a failing exporter floods itself or deadlocks on its own
//! lock. **Fix:** return the error (the SDK reports it), or emit inside
//! `let _guard = opentelemetry::Context::enter_telemetry_suppressed_scope();`:
//! calls after such a `let` in the same block or an enclosing one are not
//! flagged. The guard must be bound to a name; `let _ = ..` drops it at
//! once. It does not cover closures and `async` blocks, which may run
//! later on another thread or task (`thread::spawn(|| ..)`,
//! `tokio::spawn(async move { .. })`) without it: take a guard inside them.
//! Default: `deny`.
//!
//! # OLB012 field lists
//!
//! **Catches** a key repeated in one call (including a `message` field
//! next to a format string) and `log` key-values whose key is computed at
//! run time (`(name) = value`). **Why:** a repeated key keeps only one
//! value; a computed key cannot be checked or found in the source. **Fix:**
//! rename or drop the repeated key, write keys literally. A call with many
//! fields is no finding: `tracing` callsites have taken any number since
//! `tracing` 0.1.39. Default: `deny`.
//!
//! # OLB013 unknown allowance
//!
//! **Catches** a name in an `otel-log-lint: allow(…)` comment that is no
//! rule's id or name (`allow(OLB05)`, `allow(interpolated_mesage)`,
//! `allow(OLB001 OLB005)` without its comma), and such a comment that is
//! not `allow(…)` at all (`allow(OLB001` without its `)`). **Why:** such a
//! comment allows nothing, and the finding it was meant for stays without
//! saying why. Only a `//` comment that starts with the marker is checked:
//! doc comments and other text that mention it (`allow(RULE)` in prose, a
//! URL in a string, a string's lines) are not, nor is text not written as
//! a rule would be (`allow(OLB001, …)`). **Fix:** write the rules' ids or names, as
//! `otel-log-lint --list-rules` shows them, separated by commas, or `all`.
//! Default: `warn`.

mod config;
pub(crate) mod keys;
mod rule;

pub use config::Config;
pub use rule::{Level, Rule, UnknownLevel, UnknownRule};

#[cfg(feature = "lint")]
mod check;
#[cfg(feature = "lint")]
mod diagnostic;
#[cfg(feature = "lint")]
mod engine;
#[cfg(feature = "lint")]
mod format;
#[cfg(feature = "lint")]
mod grammar;
#[cfg(feature = "lint")]
mod imports;
#[cfg(feature = "lint")]
mod text;

#[cfg(feature = "lint")]
#[doc(hidden)]
pub use diagnostic::lexically_normal;
#[cfg(feature = "lint")]
pub use diagnostic::{to_json, to_sarif, Diagnostic, LintError};
#[cfg(feature = "lint")]
#[doc(hidden)]
pub use engine::is_cargo_target_dir;
#[cfg(feature = "lint")]
pub use engine::Report;

#[cfg(feature = "lint")]
use std::path::Path;

/// Checks one Rust source text with the default [`Config`]. `path` is only
/// used in the findings. Never panics, whatever the text.
#[cfg(feature = "lint")]
#[must_use]
pub fn check_source(path: impl AsRef<Path>, source: &str) -> Vec<Diagnostic> {
    check_source_with(path, source, &Config::default())
}

/// Checks one Rust source text with `config`.
#[cfg(feature = "lint")]
#[must_use]
pub fn check_source_with(path: impl AsRef<Path>, source: &str, config: &Config) -> Vec<Diagnostic> {
    engine::check_one(path.as_ref(), source, config)
}

/// Checks a file, or every `.rs` file under a directory, with the default
/// [`Config`].
///
/// Directories are walked in sorted order, skipping hidden entries and
/// Cargo's build directories (a `target` directory that holds a
/// `CACHEDIR.TAG` or sits next to a `Cargo.toml`; a module named `target`
/// is linted); this walk does not read `.gitignore` (the `otel-log-lint`
/// command does). Files are grouped into crates by their
/// nearest `Cargo.toml` for the crate-wide checks of OLB004.
///
/// # Errors
///
/// [`LintError::Io`] when `path` or a file or directory under it cannot be
/// read, or when `path` is neither a regular file nor a directory (a pipe
/// would be read until its writer stops); [`LintError::Thread`] when a
/// file's checking thread cannot start.
#[cfg(feature = "lint")]
pub fn check_path(path: impl AsRef<Path>) -> Result<Vec<Diagnostic>, LintError> {
    check_path_with(path, &Config::default())
}

/// Checks a file, or every `.rs` file under a directory, with `config`.
///
/// # Errors
///
/// [`LintError::Io`] when `path` or a file or directory under it cannot be
/// read, or when `path` is neither a regular file nor a directory (a pipe
/// would be read until its writer stops); [`LintError::Thread`] when a
/// file's checking thread cannot start.
#[cfg(feature = "lint")]
pub fn check_path_with(
    path: impl AsRef<Path>,
    config: &Config,
) -> Result<Vec<Diagnostic>, LintError> {
    let files = engine::rust_files(path.as_ref(), config)?;
    let report = engine::check_files(&files, config);
    match report.errors.into_iter().next() {
        Some(error) => Err(error),
        None => Ok(report.diagnostics),
    }
}

/// Checks the given files (whatever their extension), reading each one; a
/// file that cannot be read is listed in [`Report::errors`] and the others
/// are still checked.
#[cfg(feature = "lint")]
#[must_use]
pub fn check_files<P: AsRef<Path>>(files: &[P], config: &Config) -> Report {
    engine::check_files(files, config)
}

/// Asserts that a file or directory has no findings at the default levels,
/// for a project's own test suite:
///
/// ```no_run
/// #[test]
/// fn logging_calls_keep_their_structure() {
///     otel_log_bridge::lint::assert_clean("src");
/// }
/// ```
///
/// Unlike the `otel-log-lint` command, it fails on warnings too, and reads
/// neither `otel-log-lint.toml` nor `.gitignore`: give the levels and what
/// to leave out ([`Config::exclude`]) to [`assert_clean_with`] instead.
/// `allow` comments apply.
///
/// # Panics
///
/// When there are findings (the message renders all of them as the
/// command line does) or when `path` cannot be read.
#[cfg(feature = "lint")]
#[track_caller]
pub fn assert_clean(path: impl AsRef<Path>) {
    assert_clean_with(path, &Config::default());
}

/// Like [`assert_clean`], with `config`.
///
/// # Panics
///
/// When there are findings or when `path` cannot be read.
#[cfg(feature = "lint")]
#[track_caller]
pub fn assert_clean_with(path: impl AsRef<Path>, config: &Config) {
    let path = path.as_ref();
    match check_path_with(path, config) {
        Ok(diagnostics) if diagnostics.is_empty() => {}
        Ok(diagnostics) => {
            let rendered: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
            panic!(
                "otel-log-lint found {} problem(s) in {}:\n\n{}\n",
                diagnostics.len(),
                path.display(),
                rendered.join("\n\n")
            );
        }
        Err(error) => {
            // With its cause: the error's own text leaves it to `source()`.
            let cause = std::error::Error::source(&error)
                .map(|cause| format!(": {cause}"))
                .unwrap_or_default();
            panic!(
                "otel-log-lint could not check {}: {error}{cause}",
                path.display()
            )
        }
    }
}
