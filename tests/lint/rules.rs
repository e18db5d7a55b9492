//! Rule decisions found wrong in review, each checked on the smallest
//! source that showed it: secrets hidden or invented by the names and
//! types around them, the suppression guard of OLB011, wide macro bodies,
//! suggested fixes that must compile, and constant format arguments.

use otel_log_bridge::lint::{check_source, Diagnostic, Rule};

use super::support::{positions, rendered};

/// The findings of one function body, with `tracing`'s macros imported.
fn check_body(body: &str) -> Vec<Diagnostic> {
    let source =
        format!("use tracing::{{debug, info, instrument, warn}};\n\nfn f() {{\n{body}\n}}\n");
    check_source("src/lib.rs", &source)
}

fn rules(diagnostics: &[Diagnostic]) -> Vec<Rule> {
    diagnostics.iter().map(|d| d.rule).collect()
}

/// Checks the helps of `diagnostics`, in order.
fn assert_helps(diagnostics: &[Diagnostic], expected: &[&str]) {
    let helps: Vec<&str> = diagnostics.iter().map(|d| d.help.as_str()).collect();
    assert_eq!(helps, expected, "{}", rendered(diagnostics));
}

/// Checks that each call, alone in a function body, is found to break
/// `expected` and nothing else (nothing at all for an empty list).
fn assert_each_finds(calls: &[&str], expected: &[Rule]) {
    for call in calls {
        let diagnostics = check_body(call);
        assert_eq!(
            rules(&diagnostics),
            expected,
            "{call}\n{}",
            rendered(&diagnostics)
        );
    }
}

/// Regression: a `tracing` call with more than 32 fields was denied, as
/// if a callsite could hold no more; `tracing` has taken any number since
/// 0.1.39. (Before that, `log` calls were held to the same bound.)
#[test]
fn a_call_with_many_fields_is_no_finding() {
    let keys: Vec<String> = (0..40).map(|i| format!("k{i} = {i}")).collect();
    let source = format!(
        "fn f() {{\n    tracing::info!({}, \"wide\");\n    log::info!({}; \"wide\");\n}}\n",
        keys.join(", "),
        keys.join(", ")
    );
    let diagnostics = check_source("src/lib.rs", &source);
    assert!(diagnostics.is_empty(), "{}", rendered(&diagnostics));
}

#[test]
fn a_mask_word_inside_an_identifier_does_not_hide_a_secret() {
    assert_each_finds(
        &[
            // `account` contains `count`, `challenge` contains `len`.
            r#"info!(api_key = %account.api_key, "a");"#,
            r#"info!(token = %challenge.token, "a");"#,
            // `unmasked` contains `mask`, `hashmap` contains `hash`.
            r#"info!(password = %unmasked_password, "c");"#,
            r#"info!(token = ?token_hashmap.get("k"), "d");"#,
            r#"info!("signed in with {}", account.password);"#,
        ],
        &[Rule::Secret],
    );
}

#[test]
fn a_mask_as_a_word_or_a_call_still_hides_a_secret() {
    assert_each_finds(
        &[
            r#"info!(token = tokens.len(), "a");"#,
            r#"info!(password = password.is_empty(), "a");"#,
            r#"info!(token = token.is_some(), "a");"#,
            r#"info!(token = %hash(&token), "a");"#,
            r#"info!(password = %mask(&password), "a");"#,
            r#"info!(token = %redact(&token), "a");"#,
            r#"info!(token = %token_hash, "a");"#,
            r#"info!(password = %creds.passwordHash, "a");"#,
            r#"info!(password = %hashed_password, "a");"#,
            r#"info!(api_key = key_count, "a");"#,
        ],
        &[],
    );
}

#[test]
fn enum_variants_and_constants_are_not_secret_values() {
    assert_each_finds(
        &[
            r#"info!(scheme = ?AuthScheme::Bearer, "x");"#,
            r#"warn!(header = %header::AUTHORIZATION, "missing required header");"#,
            r#"info!(scheme = %http::AuthScheme::Bearer, "x");"#,
        ],
        &[],
    );
    // A variable, a field or a value read through a path still counts, and
    // so does a single-segment `SCREAMING_CASE` name: it may be a static
    // read at run time (`static SESSION_COOKIE: LazyLock<String>`).
    assert_each_finds(
        &[
            r#"info!(header = %bearer, "x");"#,
            r#"info!(header = %creds.bearer, "x");"#,
            r#"info!(value = %self::token, "x");"#,
            r#"info!(cookie_name = SESSION_COOKIE, "configured");"#,
        ],
        &[Rule::Secret],
    );
}

#[test]
fn an_instrumented_argument_whose_type_holds_no_secret_text_is_not_a_secret() {
    let source = "\
use tokio_util::sync::CancellationToken;
use tracing::instrument;

#[instrument]
async fn run(shutdown_token: CancellationToken, parser_token: &Token, cancel_token: Option<Arc<CancellationToken>>) {}

#[instrument]
fn login(password: &str) {}

#[instrument]
fn call(api_key: Option<String>, token: Vec<u8>, session_id: u64) {}

#[instrument]
fn generic<T: AsRef<str>>(token: T, secret: impl AsRef<str>, cookie: Box<dyn Display>) {}

#[instrument]
fn wrapped(password: SecretString, credentials: Arc<Mutex<Cow<'static, str>>>) {}
";
    let diagnostics = check_source("src/lib.rs", source);
    assert_eq!(
        positions(&diagnostics),
        vec![
            "8:10 OLB005",
            "11:9 OLB005",
            "11:34 OLB005",
            "11:50 OLB005",
            "14:27 OLB005",
            "14:37 OLB005",
            "14:62 OLB005",
            "17:12 OLB005",
            "17:36 OLB005",
        ],
        "{}",
        rendered(&diagnostics)
    );
}

#[test]
fn a_telemetry_suppressed_scope_guard_allows_logging_in_an_exporter() {
    let source = "\
use opentelemetry::Context;
use tracing::debug;

impl LogExporter for Stdout {
    async fn export(&self, batch: LogBatch<'_>) -> OTelSdkResult {
        debug!(\"before the guard\");
        let _guard = opentelemetry::Context::enter_telemetry_suppressed_scope();
        debug!(records = batch.len(), \"exporting\");
        if batch.is_empty() {
            debug!(\"in a nested block\");
        }
        Ok(())
    }

    fn shutdown(&self) -> OTelSdkResult {
        {
            let _guard = Context::enter_telemetry_suppressed_scope();
        }
        debug!(\"after the guard's block\");
        let _ = Context::enter_telemetry_suppressed_scope();
        debug!(\"after a guard dropped at once\");
        Ok(())
    }
}
";
    let diagnostics = check_source("src/exporter.rs", source);
    assert_eq!(
        positions(&diagnostics),
        vec!["6:9 OLB011", "19:9 OLB011", "21:9 OLB011"],
        "{}",
        rendered(&diagnostics)
    );
}

#[test]
fn a_wide_but_shallow_macro_body_does_not_stop_the_file_from_being_linted() {
    // 600 nested elements: thousands of tokens, but few brackets.
    let elements =
        "<div class=\"row\"><span>".repeat(600) + "{ \"cell\" }" + &"</span></div>".repeat(600);
    let source = format!(
        "use tracing::info;\n\nfn view() -> Html {{\n    html! {{ {elements} }}\n}}\n\nfn f(user: &str) {{\n    info!(\"user {{}} logged in\", user);\n}}\n"
    );
    let diagnostics = check_source("src/view.rs", &source);
    assert_eq!(
        positions(&diagnostics),
        vec!["8:17 OLB001"],
        "{}",
        rendered(&diagnostics)
    );
}

#[test]
fn a_deep_chain_inside_a_logging_call_is_reported_instead_of_parsed() {
    let chain = "-".repeat(200_000);
    // Neither half is too deep alone; the call's body is parsed on top of
    // the expression around it.
    let half = "-".repeat(3_000);
    for source in [
        format!("use tracing::info;\nfn f() {{ info!(a = {chain}1, \"m\"); }}\n"),
        format!("use tracing::info;\nfn f() {{ let x = {half}info!(a = {half}1, \"m\"); }}\n"),
        format!("use tracing::info;\nfn f() {{ html! {{ <p> {{ info!(a = {chain}1, \"m\") }} </p> }} }}\n"),
        format!("use tracing::info;\nfn f() {{ info!(a = format!(\"{{}}\", {chain}1), \"m\"); }}\n"),
    ] {
        let diagnostics = check_source("src/deep.rs", &source);
        assert_eq!(
            rules(&diagnostics),
            vec![Rule::UnparsableFile],
            "{}",
            rendered(&diagnostics)
        );
        assert!(
            diagnostics[0].message.contains("more than 4096 levels"),
            "{}",
            diagnostics[0].message
        );
    }
}

#[test]
fn log_field_suggestions_quote_keys_that_are_not_identifiers() {
    let source = "\
fn f(user: &User, amount: u64) {
    log::info!(\"paid by {} {}\", user.name, amount);
    log::info!(\"paid by {:?}\", user.name);
    log::info!(id = user.id.to_string(); \"paid\");
    log::info!(\"user.id\" = format!(\"{}\", user.id); \"paid\");
    log::info!(pair = format!(\"{} {}\", user.id, amount); \"paid\");
}
";
    let diagnostics = check_source("src/lib.rs", source);
    assert_helps(
        &diagnostics,
        &[
            "keep the message constant and pass the values as fields: `\"user.name\":% = user.name, amount:%; \"…\"`",
            "keep the message constant and pass the values as fields: `\"user.name\":? = user.name; \"…\"`",
            "record the value itself: `id:% = user.id` (no allocation when the event is filtered out)",
            "record the value itself: `\"user.id\":% = user.id`",
            "record each value as its own field instead of one formatted string (`a:% = a, b:% = b`), or, to keep this text, format it only when the record is kept: `pair:% = format_args!(…)` with the same arguments",
        ],
    );
}

/// Regression: `tracing` fixes wrote a string-literal key bare
/// (`user-agent = %ua`, which does not parse) and a computed key as
/// `value`, renaming the field.
#[test]
fn tracing_field_suggestions_keep_quoted_and_computed_keys() {
    let source = "\
fn f(ua: &str, id: u64, e: std::io::Error) {
    tracing::info!(\"user-agent\" = ua.to_string(), \"request\");
    tracing::info!({ KEY } = id.to_string(), \"request\");
    tracing::info!(http.route = format!(\"{}\", ua), \"request\");
    tracing::warn!(\"read error\" = %e, \"failed\");
}
";
    let diagnostics = check_source("src/lib.rs", source);
    // The keys' own naming findings are beside the point here.
    let helps: Vec<&str> = diagnostics
        .iter()
        .filter(|d| d.rule != Rule::KeyNaming)
        .map(|d| d.help.as_str())
        .collect();
    assert_eq!(
        helps,
        vec![
            "record the value itself: `\"user-agent\" = %ua` (no allocation when the event is filtered out)",
            "record the value itself: `{ KEY } = %id` (no allocation when the event is filtered out)",
            "record the value itself: `http.route = %ua`",
            "record the error itself: `\"read error\" = &e as &dyn std::error::Error` keeps its type, message and source chain (for a `Box<dyn Error>`, `anyhow::Error` or `eyre::Report`, which do not implement `Error` themselves: `\"read error\" = &*e as &dyn std::error::Error`)",
        ],
        "{}",
        rendered(&diagnostics)
    );
}

/// Regression: a value formatted with a radix, precision or width was
/// offered as the value itself (`format!(\"{:x}\", id)` as `%id`), whose
/// text is another.
#[test]
fn a_formatted_value_with_a_spec_is_not_offered_as_the_value_itself() {
    let source = "\
fn f(id: u64, ratio: f64) {
    tracing::info!(id = format!(\"{:x}\", id), \"request\");
    tracing::info!(ratio = format!(\"{:.2}\", ratio), \"request\");
    tracing::info!(plain = format!(\"{:?}\", id), \"request\");
}
";
    let diagnostics = check_source("src/lib.rs", source);
    assert_helps(
        &diagnostics,
        &[
            "record each value as its own field instead of one formatted string (`a = %a, b = %b`), or, to keep this text, format it only when the record is kept: `id = format_args!(…)` with the same arguments",
            "record each value as its own field instead of one formatted string (`a = %a, b = %b`), or, to keep this text, format it only when the record is kept: `ratio = format_args!(…)` with the same arguments",
            "record the value itself: `plain = ?id`",
        ],
    );
}

#[test]
fn the_error_fix_also_covers_boxed_and_dynamic_errors() {
    let source = "\
fn f(err: anyhow::Error) {
    tracing::warn!(error = %err, \"failed\");
    log::warn!(error:% = err; \"failed\");
}
";
    let diagnostics = check_source("src/lib.rs", source);
    assert_helps(
        &diagnostics,
        &[
            "record the error itself: `error = &err as &dyn std::error::Error` keeps its type, message and source chain (for a `Box<dyn Error>`, `anyhow::Error` or `eyre::Report`, which do not implement `Error` themselves: `error = &*err as &dyn std::error::Error`)",
            "record the error itself with the `err` capture: `error:err = err;` keeps its type, message and source chain (for a reference to an error, and for a `Box<dyn Error>`, `anyhow::Error` or `eyre::Report`, which do not implement `Error` themselves: `error:err = *err;`)",
        ],
    );
}

#[test]
fn a_value_formatted_twice_is_suggested_as_one_field() {
    let diagnostics = check_body(r#"    info!("{0} and again {0}, then {1}", x, y);"#);
    assert_eq!(rules(&diagnostics), vec![Rule::InterpolatedMessage]);
    assert_eq!(
        diagnostics[0].message,
        "2 values are formatted into the message: the body differs on every call and the values cannot be queried"
    );
    assert_eq!(
        diagnostics[0].help,
        "keep the message constant and pass the values as fields: `%x, %y, \"…\"`"
    );
}

/// Regression: a value written over several lines was taken as the text
/// `value`, so two such values counted as one and the fix read `%value`.
#[test]
fn values_written_over_several_lines_are_told_apart_and_suggested_whole() {
    let diagnostics = check_body(
        "    info!(\"a {} b {}\", compute(\n        1,\n    ), other(\n        2)\n        .len());",
    );
    assert_eq!(rules(&diagnostics), vec![Rule::InterpolatedMessage]);
    assert!(
        diagnostics[0].message.starts_with("2 values are formatted"),
        "{}",
        diagnostics[0].message
    );
    assert_eq!(
        diagnostics[0].help,
        "keep the message constant and pass the values as fields: `value = %compute(1,), len = %other(2).len(), \"…\"`"
    );
}

/// Regression: the fix could give a value a key the call already had, a
/// duplicate key (OLB012) of its own.
#[test]
fn a_suggested_key_is_not_one_the_call_already_has() {
    let diagnostics = check_body(r#"    info!(user = %id, "paid by {}", user);"#);
    assert_eq!(
        diagnostics[0].help,
        "keep the message constant and pass the values as fields: `user_2 = %user, \"…\"`"
    );
    let source = "fn f(user: u8, id: u8) {\n    log::info!(user:% = id; \"{} paid\", user);\n}\n";
    let diagnostics = check_source("src/lib.rs", source);
    assert_eq!(
        diagnostics[0].help,
        "keep the message constant and pass the values as fields: `user_2:% = user; \"…\"`"
    );
}

/// Regression: a value the call records as a field already was given a
/// second, numbered field (`user_2 = %user`) where the message only has
/// to leave it out.
#[test]
fn a_value_formatted_into_the_message_that_is_a_field_already_gets_no_second_field() {
    let diagnostics = check_body(r#"    info!(user = %user, "paid by {}", user);"#);
    assert_eq!(rules(&diagnostics), vec![Rule::InterpolatedMessage]);
    assert_eq!(
        diagnostics[0].help,
        "keep the message constant: `user` is recorded as the field `user` already, so leave it out of the message"
    );
    let diagnostics = check_body(
        r#"    info!(?order.id, who = &buyer, "{:?} paid by {buyer} at {}", order.id, shop);"#,
    );
    assert_eq!(
        diagnostics[0].message,
        "3 values are formatted into the message: the body differs on every call and the values cannot be queried"
    );
    assert_eq!(
        diagnostics[0].help,
        "keep the message constant and pass the values as fields: `%shop, \"…\"`; `order.id`, `buyer` are recorded as the fields `order.id`, `who` already, so leave them out of the message"
    );
    // A reference, or `display(..)` around the field's value, is the same
    // value; two calls written alike need not be.
    assert_helps(
        &check_body(
            r#"    info!(user = display(&user), "paid by {}", &user);
    info!(id = next_id(), "assigned {}", next_id());"#,
        ),
        &[
            "keep the message constant: `&user` is recorded as the field `user` already, so leave it out of the message",
            "keep the message constant and pass the values as fields: `value = %next_id(), \"…\"`",
        ],
    );
    let source = "fn f(user: u8) {\n    log::info!(user:%; \"{user} paid\");\n}\n";
    assert_helps(
        &check_source("src/lib.rs", source),
        &["keep the message constant: `user` is recorded as the field `user` already, so leave it out of the message"],
    );
}

#[test]
fn literal_format_arguments_are_not_interpolation() {
    assert_each_finds(
        &[
            r#"info!(retries = n, "retrying after {}ms", 5);"#,
            r#"info!("retrying after {}ms and {:?}", -5, "later");"#,
            r#"info!("{x}", x = 1);"#,
        ],
        &[],
    );
    let diagnostics = check_body(r#"    info!("{x} {y}", y = 1);"#);
    assert_eq!(positions(&diagnostics), vec!["4:12 OLB001"]);
    assert_eq!(
        diagnostics[0].message,
        "1 value is formatted into the message: the body differs on every call and the values cannot be queried"
    );
    assert_eq!(
        diagnostics[0].help,
        "keep the message constant and pass the values as fields: `%x, \"…\"`"
    );
}

#[test]
fn an_instrumented_argument_typed_by_the_enclosing_impl_or_trait_parameter_is_a_secret() {
    let source = "\
use tracing::instrument;

struct C<T>(T);

impl<T: AsRef<str>> C<T> {
    #[instrument(skip(self))]
    fn login(&self, password: T) {}
}

impl<S: Store> Vault<S> {
    #[instrument(skip(self))]
    fn unlock(&self, password: S::Password, secret: Option<&S::Secret>) {}
}

trait Auth<P> {
    type Token;

    #[instrument(skip(self))]
    fn login(&self, password: P, token: Self::Token) {}
}

impl C<String> {
    #[instrument(skip(self))]
    fn not_open(&self, token: T::Token, cancel_token: CancellationToken) {}
}
";
    let diagnostics = check_source("src/lib.rs", source);
    // The last impl declares no `T`: `T::Token` there is a path like any
    // other, and `CancellationToken` a named type.
    assert_eq!(
        positions(&diagnostics),
        vec![
            "7:21 OLB005",
            "12:22 OLB005",
            "12:45 OLB005",
            "19:21 OLB005",
            "19:34 OLB005",
        ],
        "{}",
        rendered(&diagnostics)
    );
}

#[test]
fn an_instrumented_map_set_result_tuple_array_or_slice_of_text_is_a_secret() {
    let source = "\
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use tracing::instrument;

#[instrument]
fn maps(secrets: HashMap<String, String>, session_cookies: BTreeMap<UserId, Vec<u8>>, api_keys: IndexMap<&str, Key, S>) {}

#[instrument]
fn sets(passwords: HashSet<String>, cookies: BTreeSet<Cookie>) {}

#[instrument]
fn results(token: Result<String, Error>, password: Result<Login, String>) {}

#[instrument]
fn elements(credentials: (UserId, String), api_key: [u8; 32], secret: &[u8], token: (Session, Handle)) {}

#[instrument]
fn named(secret: HashMap<Name, Handle>, token: Result<Token, Error>, password: [Hash; 2]) {}
";
    let diagnostics = check_source("src/lib.rs", source);
    // Maps, sets and results of named types (`Token`, `Cookie`, `Handle`)
    // print those types' own `Debug`, as the types alone would.
    assert_eq!(
        positions(&diagnostics),
        vec![
            "5:9 OLB005",
            "5:43 OLB005",
            "5:87 OLB005",
            "8:9 OLB005",
            "11:12 OLB005",
            "11:42 OLB005",
            "14:13 OLB005",
            "14:44 OLB005",
            "14:63 OLB005",
        ],
        "{}",
        rendered(&diagnostics)
    );
}

#[test]
fn a_screaming_case_static_is_a_secret_value_unless_reached_through_a_path() {
    // `static API_KEY: LazyLock<String> = LazyLock::new(|| env::var(..))`
    // holds a credential read at run time; only a literal or a path to a
    // variant or an associated or module constant names one.
    assert_each_finds(
        &[
            r#"info!(api_key = %API_KEY, "x");"#,
            r#"info!(value = %API_KEY, "x");"#,
            r#"info!("using {}", API_KEY);"#,
            r#"info!(header = %(AUTH_TOKEN), "x");"#,
        ],
        &[Rule::Secret],
    );
    assert_each_finds(
        &[
            r#"info!(api_key = %config::API_KEY_HEADER, "x");"#,
            r#"info!(token = "<redacted>", "x");"#,
            r#"info!(password = -1, "x");"#,
        ],
        &[],
    );
    // For OLB001 a `SCREAMING_CASE` argument is still text of the message.
    assert_each_finds(&[r#"info!("retrying after {}ms", RETRY_DELAY_MS);"#], &[]);
}

#[test]
fn a_suppression_guard_does_not_cover_a_closure_or_async_block_that_runs_elsewhere() {
    let source = "\
use opentelemetry::Context;

impl LogExporter for Stdout {
    async fn export(&self, batch: LogBatch<'_>) -> OTelSdkResult {
        let _guard = Context::enter_telemetry_suppressed_scope();
        tracing::debug!(\"directly after the guard\");
        std::thread::spawn(move || {
            tracing::warn!(name: \"x\", \"in a thread\");
        });
        tokio::spawn(async move {
            tracing::warn!(name: \"y\", \"in a task\");
        });
        let log = || tracing::debug!(\"in a closure\");
        tracing::debug!(\"after the closures\");
        Ok(())
    }
}
";
    let diagnostics = check_source("src/exporter.rs", source);
    assert_eq!(
        positions(&diagnostics),
        vec!["8:13 OLB011", "11:13 OLB011", "13:22 OLB011"],
        "{}",
        rendered(&diagnostics)
    );
}

#[test]
fn a_field_that_replaces_an_argument_is_not_reported_as_the_argument() {
    // `tracing-attributes` drops an argument that a field of the same
    // single-segment name replaces.
    let replaced = "\
use tracing::instrument;

#[instrument(fields(password = password.len()))]
fn login(user: &str, password: &str) {}

#[instrument(fields(req = %req.uri()))]
fn h(req: Request) {}
";
    let diagnostics = check_source("src/lib.rs", replaced);
    assert!(diagnostics.is_empty(), "{}", rendered(&diagnostics));
    // A dotted field or a `{ CONST }` key replaces nothing.
    let kept = "\
use tracing::instrument;

#[instrument(fields(password.len = 1))]
fn f(password: &str) {}

#[instrument(fields({ PASSWORD } = 1))]
fn g(password: &str) {}
";
    let diagnostics = check_source("src/lib.rs", kept);
    assert_eq!(
        positions(&diagnostics),
        vec!["4:6 OLB005", "7:6 OLB005"],
        "{}",
        rendered(&diagnostics)
    );
}

/// Regression: `tracing-attributes` takes a sigil before a key given a
/// value (`fields(?peer = conn.peer)`); the linter failed to parse the
/// attribute and checked nothing of it, not even a `password` argument.
#[test]
fn a_sigil_before_a_field_key_does_not_hide_the_instrument_attribute() {
    let source = "\
use tracing::instrument;

#[instrument(fields(?peer = conn.peer))]
fn connect(conn: &Conn, password: &str) {}

#[instrument(fields(%host = conn.host, ?port = %conn.port, token = conn.token))]
fn reconnect(conn: &Conn) {}
";
    let diagnostics = check_source("src/lib.rs", source);
    assert_eq!(
        positions(&diagnostics),
        vec!["4:25 OLB005", "6:60 OLB005"],
        "{}",
        rendered(&diagnostics)
    );
}

#[test]
fn a_span_name_given_as_a_bare_string_does_not_hide_the_instrument_attribute() {
    // `tracing-attributes` takes a string literal anywhere as the span's
    // name, and only warns about a token it does not expect.
    let source = "\
#[tracing::instrument(\"login\")]
fn login(user: &str, password: &str) {}

#[tracing::instrument(level = \"debug\", \"login\", err(Debug))]
fn late_name(password: &str) {}

#[tracing::instrument(skip(user), 42, unknown = a b, ret)]
fn unexpected_tokens(user: &str, password: &str) {}
";
    let diagnostics = check_source("src/lib.rs", source);
    assert_eq!(
        positions(&diagnostics),
        vec!["2:22 OLB005", "5:14 OLB005", "8:34 OLB005"],
        "{}",
        rendered(&diagnostics)
    );
}

#[test]
fn destructured_instrument_arguments_are_checked_like_plain_ones() {
    let destructured = "\
#[tracing::instrument]
async fn get(State(config): State<Config>, Path(trace_id): Path<String>) {}

#[tracing::instrument]
fn f((user, password): (&str, &str)) {}

#[tracing::instrument]
fn g(Login { user, password }: Login, &(ref token, count): &(Handle, u64)) {}

#[tracing::instrument(skip(config))]
fn h(State(config): State<Config>, Path((req, secret)): Path<(String, String)>) {}
";
    let plain = "\
#[tracing::instrument]
async fn get(config: Config, trace_id: String) {}
";
    let diagnostics = check_source("src/lib.rs", destructured);
    // A tuple pattern against a tuple type has its elements' types, so
    // `token: Handle` holds no secret text; the other bindings' types are
    // unknown: they may hold one, and are recorded with `Debug`.
    assert_eq!(
        positions(&diagnostics),
        vec![
            "2:20 OLB007",
            "2:49 OLB003",
            "5:13 OLB005",
            "8:20 OLB005",
            "11:42 OLB007",
            "11:47 OLB005",
        ],
        "{}",
        rendered(&diagnostics)
    );
    let rules_of = |diagnostics: &[Diagnostic]| -> Vec<(Rule, String)> {
        diagnostics
            .iter()
            .map(|d| (d.rule, d.message.clone()))
            .collect()
    };
    assert_eq!(
        rules_of(&diagnostics[..2]),
        rules_of(&check_source("src/lib.rs", plain))
    );
}

#[test]
fn an_inline_screaming_case_constant_is_not_interpolation() {
    assert_each_finds(
        &[
            r#"info!("giving up after {MAX_RETRIES} retries");"#,
            r#"info!("giving up after {} retries", MAX_RETRIES);"#,
        ],
        &[],
    );
    // An inline capture of a variable still is, and a `SCREAMING_CASE`
    // secret is still a secret.
    assert_each_finds(
        &[r#"info!("giving up after {max_retries} retries");"#],
        &[Rule::InterpolatedMessage],
    );
    assert_each_finds(&[r#"info!("using {API_KEY}");"#], &[Rule::Secret]);
}

#[test]
fn a_trailing_suppression_comment_does_not_cover_the_next_line() {
    let source = "\
use tracing::info;

fn f(user: &str) {
    info!(\"first {}\", user); // otel-log-lint: allow(OLB001)
    info!(\"second {}\", user);
    info!(\"third {}\", user); // otel-log-lint: allow(OLB001)
    info!(
        \"fourth {}\",
        user
    );
    info!( // otel-log-lint: allow(OLB001)
        \"fifth {}\",
        user
    );
    // otel-log-lint: allow(OLB001)
    info!(
        \"sixth {}\",
        user
    );
}
";
    let diagnostics = check_source("src/lib.rs", source);
    assert_eq!(
        positions(&diagnostics),
        vec!["5:19 OLB001", "8:17 OLB001"],
        "{}",
        rendered(&diagnostics)
    );
}

/// Regression: a suppression comment naming no rule (a typo) allowed
/// nothing, without a word, leaving its author to wonder why the finding
/// stayed. The names that are rules still apply.
/// Regression: text inside a string literal that read like a suppression
/// comment was taken for one. A string holding `// otel-log-lint:
/// allow(OLB001)` allowed that rule on its line, or, standing on a line of
/// its own inside a multi-line string, on the line below; and a typo in
/// such a string was reported as OLB013. A doc comment that quoted the
/// marker after a `//` of its own (as this one does) was checked as a
/// comment, reported as OLB013 and allowed what it named: a doc comment is
/// prose, and allows nothing.
#[test]
fn text_inside_a_string_literal_is_no_suppression_comment() {
    // Split, so that this file's own lint does not read the comments.
    let allow = concat!("otel-log-", "lint: allow");
    let source = format!(
        "\
use tracing::info;

fn f(user: &str) -> [&'static str; 3] {{
    info!(\"first {{}}\", user); let one = \"// {allow}(OLB001)\";
    let two = \"
// {allow}(OLB001)\";
    info!(\"second {{}}\", user);
    let three = r#\"
    // {allow}(OLB05)
    \"#;
    info!(\"third // {{}}\", user); // {allow}(OLB001)
    [one, two, three]
}}

/// Write `// {allow}(OLB05)` above the call, or `// {allow}(OLB001)`.
fn g(user: &str) {{ info!(\"fourth {{}}\", user); }}

fn h(user: &str) {{
    let url = \"file:///tmp\"; // {allow}(OLB05)
    info!(\"fifth {{}} {{}}\", url, user);
}}
"
    );
    let diagnostics = check_source("src/lib.rs", &source);
    assert_eq!(
        positions(&diagnostics),
        vec![
            "4:18 OLB001",
            "7:19 OLB001",
            "16:34 OLB001",
            "19:54 OLB013",
            "20:18 OLB001"
        ],
        "{}",
        rendered(&diagnostics)
    );
}

#[test]
fn a_suppression_comment_naming_no_rule_is_reported() {
    // Split, so that this file's own lint does not read the typos.
    let allow = concat!("otel-log-", "lint: allow");
    let source = format!(
        "\
use tracing::info;

fn f(user: &str, password: &str) {{
    // {allow}(OLB05, secret)
    info!(password, \"login\");
    info!(\"first {{}}\", user); // {allow}( interpolated-mesage )
    info!(\"second {{}}\", user); // {allow}(OLB001, all, …)
    info!(\"third {{}}\", password); // {allow}(OLB001) and {allow}(secret)
    // {allow}(OLB001 OLB005)
    info!(password, \"fourth\");
    // {allow}(OLB001
    info!(\"fifth {{}}\", user);
}}

/// Prose is not checked: write {allow}(RULE) above the call.
fn g() -> &'static str {{
    \"see https://example.com {allow}(RULE)\"
}}
"
    );
    let diagnostics = check_source("src/lib.rs", &source);
    assert_eq!(
        positions(&diagnostics),
        vec![
            "4:29 OLB013",
            "6:18 OLB001",
            "6:55 OLB013",
            "9:29 OLB013",
            "10:11 OLB005",
            "11:8 OLB013",
            "12:18 OLB001"
        ],
        "{}",
        rendered(&diagnostics)
    );
    let typo = &diagnostics[0];
    assert!(
        typo.message.contains("`OLB05` is no otel-log-lint rule"),
        "{}",
        typo.message
    );
    assert_eq!(typo.end_column - typo.column, "OLB05".len());
    assert!(
        diagnostics[3]
            .message
            .contains("a comma missing between rules?"),
        "{}",
        diagnostics[3].message
    );
    assert!(
        diagnostics[5]
            .message
            .contains("is not `allow(RULE, …)`, so it allows nothing"),
        "{}",
        diagnostics[5].message
    );
}

/// Regression: a secret turned into a string before it was logged
/// (`token.to_string()`, `format!("Bearer {token}")`) was only a
/// pre-formatted value (OLB002), a warning, where the same secret logged
/// as it is, or with `.clone()`, is an error (OLB005).
#[test]
fn a_secret_formatted_before_it_is_logged_is_still_a_secret() {
    let diagnostics = check_body(
        r#"    info!(auth = %token.to_string(), "calling");
    info!(creds = %format!("{}:{}", user, password), "login");
    info!(auth = format!("Bearer {token}"), "call");
    info!("login with {}", password.to_string());"#,
    );
    assert_eq!(
        rules(&diagnostics),
        vec![Rule::Secret; 4],
        "{}",
        rendered(&diagnostics)
    );
    assert_each_finds(
        &[r#"info!(token_len = token.to_string().len(), "calling");"#],
        &[],
    );
}

/// Regression: two interpolated values named alike were both suggested as
/// one key (`len = %done.len(), len = %total.len()`), and the suggested fix
/// was itself an error (OLB012).
#[test]
fn interpolated_values_named_alike_are_suggested_as_distinct_keys() {
    let diagnostics = check_body(
        r#"    info!("processed {} of {}", done.len(), total.len());
    info!("{} -> {} -> {}", a.name(), b.name(), 2 * c);"#,
    );
    assert_helps(
        &diagnostics,
        &[
            "keep the message constant and pass the values as fields: `len = %done.len(), total_len = %total.len(), \"…\"`",
            "keep the message constant and pass the values as fields: `name = %a.name(), b_name = %b.name(), value = %2 * c, \"…\"`",
        ],
    );
}

/// Regression: values fixed at compile time (`env!`, `module_path!`,
/// `file!`, `line!`) were taken for values interpolated into the message.
#[test]
fn compile_time_macros_are_not_interpolation() {
    assert_each_finds(
        &[
            r#"info!("starting {} v{}", env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"));"#,
            r#"info!("in {} at {}:{}:{}", module_path!(), file!(), line!(), column!());"#,
        ],
        &[],
    );
}

/// Regression: `#[instrument]` behind `cfg_attr`, as libraries with
/// optional tracing write it, was not checked at all.
#[test]
fn an_instrument_attribute_behind_cfg_attr_is_checked() {
    let source = "\
#[cfg_attr(feature = \"tracing\", tracing::instrument(skip(self)))]
fn login(&self, password: &str) {}

#[cfg_attr(all(), cfg_attr(feature = \"tracing\", tracing::instrument))]
fn nested(token: &str) {}

#[cfg_attr(feature = \"tracing\", tracing::instrument(skip(token)))]
fn skipped(token: &str) {}
";
    let diagnostics = check_source("src/lib.rs", source);
    assert_eq!(
        positions(&diagnostics),
        vec!["2:17 OLB005", "5:11 OLB005"],
        "{}",
        rendered(&diagnostics)
    );
}

/// Regression: a yes or no about an error or a secret (`res.is_err()`,
/// `user.has_password()`, a `bool` field named `is_error`) was taken for
/// the error or the secret itself: an error formatted as a string, or a
/// secret denied outright.
#[test]
fn a_predicate_about_an_error_or_a_secret_is_neither() {
    assert_each_finds(
        &[
            r#"    info!(failed = res.is_err(), "request done");"#,
            r#"    info!(password_required = user.requires_password(), "login");"#,
            r#"    info!(set = state.has_api_key, "configured");"#,
            r#"    info!(set = user.hasPassword(), "login");"#,
            r#"    info!(failed = reply.isError, "reply");"#,
        ],
        &[],
    );
    assert_each_finds(
        &[
            r#"    info!("request done, failed={}", res.is_err());"#,
            r#"    info!("{} requests, errors: {}", stats.total, stats.is_error);"#,
            r#"    info!("login, password required: {}", user.requires_password());"#,
        ],
        &[Rule::InterpolatedMessage],
    );
    // The key still names the secret, as the redaction at run time reads
    // it: its help says how to name such a field.
    let diagnostics = check_body(r#"    info!(has_password = user.has_password(), "login");"#);
    assert_eq!(rules(&diagnostics), [Rule::Secret]);
    assert!(
        diagnostics[0].help.contains("`password_set`"),
        "{}",
        diagnostics[0].help
    );
}

/// Regression: a secret passed through a method that returns a view of it
/// (`password.as_bytes()`, `token.trim()`), a function that shows it whole
/// (`Some(..)`, `String::from_utf8_lossy`, `hex::encode`), or inside a
/// tuple or an array was not found, and OLB001 suggested recording it as
/// a field.
#[test]
fn a_secret_behind_a_view_a_wrapper_or_a_tuple_is_found() {
    assert_each_finds(
        &[
            r#"    debug!("password bytes {:?}", password.as_bytes());"#,
            r#"    debug!("secret {}", String::from_utf8_lossy(&secret));"#,
            r#"    debug!("secret {}", hex::encode(&secret));"#,
            r#"    debug!(value = %token.trim(), "token");"#,
            r#"    debug!(value = ?Some(&token), "token");"#,
            r#"    debug!("credentials {:?}", (creds.user, creds.password));"#,
            r#"    debug!(values = ?[token.clone()], "tokens");"#,
        ],
        &[Rule::Secret],
    );
    // A hash of the secret is what the rule's help asks for.
    assert_each_finds(
        &[r#"    debug!(fingerprint = %hex::encode(sha256(&secret)), "secret set");"#],
        &[],
    );
}

/// Regression: the suggested fixes of OLB006 and OLB007 named the value by
/// its last name (`last_error`, `unwrap_err`, `config`), a variable that
/// does not exist, where the expression (`state.last_error`) was meant.
#[test]
fn a_suggested_fix_writes_the_expression_it_replaces() {
    let diagnostics = check_body(
        r#"    warn!(error = %state.last_error, "request failed");
    warn!("request failed: {:?}", r.unwrap_err());
    info!(cfg = ?state.config, "loaded");"#,
    );
    assert_helps(
        &diagnostics,
        &[
            "record the error itself: `error = &state.last_error as &dyn std::error::Error` keeps its type, message and source chain (for a `Box<dyn Error>`, `anyhow::Error` or `eyre::Report`, which do not implement `Error` themselves: `error = &*state.last_error as &dyn std::error::Error`)",
            "record the error itself: `error = &r.unwrap_err() as &dyn std::error::Error` keeps its type, message and source chain (for a `Box<dyn Error>`, `anyhow::Error` or `eyre::Report`, which do not implement `Error` themselves: `error = &*r.unwrap_err() as &dyn std::error::Error`)",
            "record only the parts you need, each as its own field, e.g. `config.timeout_ms = state.config.timeout.as_millis()`",
        ],
    );
}

/// Regression: a key a comment allows (a benchmark's reference event,
/// spelled as published) still counted as a spelling, and flagged the
/// conventional spelling everywhere else in the crate.
#[test]
fn a_key_allowed_where_it_is_used_does_not_flag_the_others() {
    assert_each_finds(
        &["    // otel-log-lint: allow(OLB004)\n    info!(user_id = 1, \"a\");\n    info!(user.id = 2, \"b\");\n    info!(thread = 3, \"c\");\n    // otel-log-lint: allow(OLB004)\n    info!(thread.name = \"x\", \"d\");"],
        &[],
    );
    let diagnostics = check_body("    info!(user_id = 1, \"a\");\n    info!(user.id = 2, \"b\");");
    assert_eq!(positions(&diagnostics), vec!["5:11 OLB004"]);
    // An allowance above a call spread over lines reaches the keys of its
    // first line only, for this count: the others still count.
    let diagnostics = check_body(
        "    // otel-log-lint: allow(OLB004)\n    info!(userID = 1,\n        request.id = 2, \"a\");\n    info!(request_id = 3, \"b\");",
    );
    assert_eq!(positions(&diagnostics), vec!["7:11 OLB004"]);
}

/// Regression: the fix for `res.err()`, an `Option`, cast it to an error,
/// which does not compile.
#[test]
fn the_fix_for_an_optional_error_records_the_error_inside_it() {
    assert_helps(
        &check_body(
            r#"    warn!(cause = ?res.err(), "request failed");
    warn!("request failed: {:?}", res.as_ref().err());"#,
        ),
        &[
            "`res.err()` is an `Option`, not an error: record the error itself, `cause = res.as_ref().err().map(|e| e as &dyn std::error::Error)` (no field when there is none), or `cause = e as &dyn std::error::Error` inside `if let Err(e) = &res`; either keeps its type, message and source chain (for a `Box<dyn Error>`, `anyhow::Error` or `eyre::Report`, which do not implement `Error` themselves: `|e| &**e as &dyn std::error::Error`, `cause = &**e as &dyn std::error::Error`)",
            "`res.as_ref().err()` is an `Option`, not an error: record the error itself, `error = res.as_ref().err().map(|e| e as &dyn std::error::Error)` (no field when there is none), or `error = e as &dyn std::error::Error` inside `if let Err(e) = &res`; either keeps its type, message and source chain (for a `Box<dyn Error>`, `anyhow::Error` or `eyre::Report`, which do not implement `Error` themselves: `|e| &**e as &dyn std::error::Error`, `error = &**e as &dyn std::error::Error`)",
        ],
    );
    let source = "fn f(res: Result<(), std::io::Error>) {\n    log::warn!(cause:? = res.err(); \"failed\");\n}\n";
    assert_helps(
        &check_source("src/lib.rs", source),
        &["`res.err()` is an `Option`, not an error: record the error itself with the `err` capture inside `if let Err(e) = &res`: `cause:err = *e;` keeps its type, message and source chain (for a `Box<dyn Error>`, `anyhow::Error` or `eyre::Report`, which do not implement `Error` themselves: `cause:err = **e;`)"],
    );
}

/// Regression: a prefix written without a space before its value
/// (`parent:&span`) was read as the start of a path, and the call was
/// skipped, its findings lost.
#[test]
fn a_prefix_joined_to_its_value_is_still_a_prefix() {
    let source = "\
fn f(span: &tracing::Span, user: &str) {
    tracing::info!(parent:&span, \"user {}\", user);
    tracing::info!(target:\"jobs\", \"user {}\", user);
    tracing::info!(parent::f(), \"user\");
    log::info!(target:% = user; \"user {}\", user);
}
";
    let diagnostics = check_source("src/lib.rs", source);
    let lines: Vec<(Rule, usize)> = diagnostics.iter().map(|d| (d.rule, d.line)).collect();
    assert_eq!(
        lines,
        vec![
            (Rule::InterpolatedMessage, 2),
            (Rule::InterpolatedMessage, 3),
            (Rule::InterpolatedMessage, 5)
        ],
        "{}",
        rendered(&diagnostics)
    );
}

/// Regression: OLB008's message and fixes for `event!(Level::INFO, n)` left
/// out the level (and a `target:` or `parent:` before the field), so the
/// suggested calls did not compile.
#[test]
fn a_bare_identifier_fix_keeps_what_comes_before_the_field() {
    let source = "\
use tracing::{event, info, Level};

fn f(n: u64) {
    event!(Level::INFO, n);
    info!(target: \"jobs\", n);
    event!(
        Level::WARN,
        n
    );
    info!(n);
}
";
    let diagnostics = check_source("src/lib.rs", source);
    let shown: Vec<(&str, &str)> = diagnostics
        .iter()
        .filter(|d| d.rule == Rule::BareIdentifierMessage)
        .map(|d| (d.message.as_str(), d.help.as_str()))
        .collect();
    assert_eq!(
        shown,
        vec![
            (
                "`event!(Level::INFO, n)` records a field named `n` and leaves the message empty",
                "if `n` is the message, write `event!(Level::INFO, \"{n}\")`; if it is a value, add a constant message: `event!(Level::INFO, n, \"…\")`",
            ),
            (
                "`info!(target: \"jobs\", n)` records a field named `n` and leaves the message empty",
                "if `n` is the message, write `info!(target: \"jobs\", \"{n}\")`; if it is a value, add a constant message: `info!(target: \"jobs\", n, \"…\")`",
            ),
            (
                "`event!(Level::WARN, n)` records a field named `n` and leaves the message empty",
                "if `n` is the message, write `event!(Level::WARN, \"{n}\")`; if it is a value, add a constant message: `event!(Level::WARN, n, \"…\")`",
            ),
            (
                "`info!(n)` records a field named `n` and leaves the message empty",
                "if `n` is the message, write `info!(\"{n}\")`; if it is a value, add a constant message: `info!(n, \"…\")`",
            ),
        ],
        "{}",
        rendered(&diagnostics)
    );
}

/// Regression: a builder's chain of 1400 method calls, which the parser
/// reads in a loop, counted four levels a call, so the whole file was
/// reported as too deep and left unlinted.
#[test]
fn a_long_flat_method_chain_does_not_stop_the_file_from_being_linted() {
    let chain = ".arg(\"a\")".repeat(1_400);
    let fields = ".0".repeat(1_400);
    let source = format!(
        "use tracing::info;\n\nfn f(user: &str) {{\n    info!(\"user {{}} logged in\", user);\n    let command = Command::new(\"x\"){chain};\n    let field = nested{fields};\n}}\n"
    );
    let diagnostics = check_source("src/build.rs", &source);
    assert_eq!(
        positions(&diagnostics),
        vec!["4:17 OLB001"],
        "{}",
        rendered(&diagnostics)
    );
}
