//! Classification of single field keys: reserved keys (OLB003), key naming
//! (the per-key part of OLB004) and secrets (OLB005).
//!
//! This module needs no parser, so it is compiled without the `lint` feature:
//! the bridge's runtime callsite check calls [`check_key`] on every field name
//! of a callsite, and the static linter calls it on every literal key it finds.

use super::rule::Rule;
use crate::capture::redact::HOLDER_WORDS;

/// Where a key is recorded, because spans may use some keys that events may not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeySite {
    /// A field of an event (a log record).
    Event,
    /// A field of a span, including `#[instrument(fields(..))]`.
    Span,
}

/// One problem with one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyFinding {
    /// [`Rule::ReservedKey`], [`Rule::KeyNaming`] or [`Rule::Secret`].
    pub(crate) rule: Rule,
    /// What is wrong, naming the key.
    pub(crate) message: String,
    /// How to fix it.
    pub(crate) help: String,
}

/// Checks one key and yields at most one finding per rule, in rule order
/// (reserved, naming, secret).
///
/// `message` yields nothing: in `tracing` it is the field that carries the
/// message itself, so only its context makes it wrong: a second `message`
/// in the same call, which only the static linter sees, or a `message` key
/// in `log` key-values ([`log_message_key`]).
pub(crate) fn check_key(key: &str, site: KeySite) -> impl Iterator<Item = KeyFinding> {
    [
        reserved_key(key, site),
        badly_named_key(key),
        secret_key(key),
    ]
    .into_iter()
    .flatten()
}

/// A key among a `log` call's key-values that competes with its message:
/// `message`, which in `tracing` is the message itself.
pub(crate) fn log_message_key(key: &str) -> Option<KeyFinding> {
    (key == "message").then(|| KeyFinding {
        rule: Rule::ReservedKey,
        message: "key `message` in `log` key-values competes with the log message, which the bridge writes to the body".to_owned(),
        help: "rename it after what it holds, e.g. `reason` or `detail`".to_owned(),
    })
}

/// Fields that `tracing-opentelemetry` reads from spans to set the span's own
/// name, kind and status; they are the documented way to do so.
const SPAN_OTEL_FIELDS: [&str; 4] = [
    "otel.name",
    "otel.kind",
    "otel.status_code",
    "otel.status_description",
];

fn reserved_key(key: &str, site: KeySite) -> Option<KeyFinding> {
    let lower = key.to_ascii_lowercase();
    let help = if lower == "event.name" {
        "use the `name:` argument (`info!(name: \"order.created\", ..)`): the bridge writes it to `event.name`"
    } else if lower == "trace_id" || lower == "span_id" {
        "drop it: the bridge takes the trace and span ids from the current span; name an id from another system after its source, e.g. `upstream.trace_id`"
    } else if lower.starts_with("otel.") {
        if site == KeySite::Span && SPAN_OTEL_FIELDS.contains(&lower.as_str()) {
            return None;
        }
        "rename it: `otel.*` is reserved for OpenTelemetry's own attributes"
    } else if lower.starts_with("code.") {
        "drop it or rename it: the bridge writes `code.*` (`code.file.path`, `code.line.number`) from the callsite"
    } else if lower.starts_with("exception.") {
        "record the error itself as `error = &e as &dyn std::error::Error`: the bridge derives `exception.type`, `exception.message` and the source chain from it"
    } else if lower.starts_with("log.") {
        "rename it: `log.*` is OpenTelemetry's namespace for log attributes (`log.record.uid`, `log.iostream`, `log.file.*`), and the bridge reads `tracing-log`'s `log.target`, `log.file` and `log.line` as the scope and `code.*`"
    } else {
        return None;
    };
    Some(KeyFinding {
        rule: Rule::ReservedKey,
        message: format!(
            "key `{key}` is reserved by OpenTelemetry or written by the bridge; a backend reads it by that meaning, or it clashes with the bridge's own"
        ),
        help: help.to_owned(),
    })
}

fn badly_named_key(key: &str) -> Option<KeyFinding> {
    let problem = naming_problem(key)?;
    let suggestion = suggested_key(key);
    let rename = if suggestion.is_ascii() && suggestion != key {
        format!("name it `{suggestion}`")
    } else {
        "name it with lowercase ASCII letters, digits, `_` and `.` only".to_owned()
    };
    if let Some((prefix, _)) = convention_template(key) {
        return Some(KeyFinding {
            rule: Rule::KeyNaming,
            message: format!("key `{key}` does not follow its semantic convention ({problem})"),
            help: format!(
                "{rename}: the name after `{}` is written as its source writes it (an HTTP header's or metadata's in lowercase, with `-`)",
                &key[..prefix]
            ),
        });
    }
    Some(KeyFinding {
        rule: Rule::KeyNaming,
        message: format!("key `{key}` is not lowercase dot-separated snake_case ({problem})"),
        help: format!(
            "{rename}: OpenTelemetry attribute names are lowercase, with `.` between namespaces and `_` between words, so backends can group and query them"
        ),
    })
}

/// Whether a character may stand in the name that ends a conventional
/// template attribute (see [`convention_template`]).
type AllowedInName = fn(char) -> bool;

/// The semantic conventions' attributes whose last part is a name from
/// elsewhere, kept as written there: an HTTP header's or gRPC metadata's
/// (lowercase, with `-`: `http.request.header.content-type`), an
/// environment variable's (`process.environment_variable.PATH`). Returns
/// the prefix's length and the characters that name may hold.
fn convention_template(key: &str) -> Option<(usize, AllowedInName)> {
    // gRPC's metadata keys: `0-9 a-z _ - .`, which HTTP header names,
    // lowercase as the conventions write them, also allow.
    const HEADER: AllowedInName =
        |c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.');
    const VARIABLE: AllowedInName = |c| c.is_ascii_alphanumeric() || c == '_';
    for prefix in ["http.request.header.", "http.response.header."] {
        if key.starts_with(prefix) {
            return Some((prefix.len(), HEADER));
        }
    }
    let prefix = "process.environment_variable.";
    if key.starts_with(prefix) {
        return Some((prefix.len(), VARIABLE));
    }
    // `rpc.<system>.request.metadata.<key>`, and the response's.
    let mut parts = key.splitn(5, '.');
    let (rpc, system, direction, metadata) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let rest = parts.next()?;
    (rpc == "rpc"
        && naming_problem(system).is_none()
        && matches!(direction, "request" | "response")
        && metadata == "metadata")
        .then_some((key.len() - rest.len(), HEADER))
}

/// Says what keeps `key` from being lowercase dot-separated snake_case, or
/// `None` when it is. The name that ends a conventional template attribute
/// (see [`convention_template`]) need only be non-empty and hold the
/// characters its source allows.
fn naming_problem(key: &str) -> Option<String> {
    if let Some((prefix, allowed)) = convention_template(key) {
        let name = &key[prefix..];
        return match name.chars().find(|c| !allowed(*c)) {
            _ if name.is_empty() => Some("the name after the last dot is empty".to_owned()),
            Some(found) => Some(format!(
                "the name after `{}` contains `{found}`",
                &key[..prefix]
            )),
            None => None,
        };
    }
    if key.is_empty() {
        return Some("it is empty".to_owned());
    }
    if let Some(found) = key.chars().find(|c| c.is_uppercase()) {
        return Some(format!("it uses the upper-case letter `{found}`"));
    }
    if let Some(found) = key
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '.'))
    {
        return Some(match found {
            ' ' => "it contains a space".to_owned(),
            other if other.is_whitespace() => "it contains white space".to_owned(),
            other => format!("it contains `{other}`"),
        });
    }
    if key.split('.').any(str::is_empty) {
        return Some("it has an empty segment between dots".to_owned());
    }
    None
}

/// Rewrites a key as lowercase dot-separated snake_case: `:` and `.` separate
/// namespaces, and words (split at `_`, `-`, spaces and camelCase humps) are
/// joined with `_`.
pub(crate) fn suggested_key(key: &str) -> String {
    // A conventional template keeps its name's characters where they are
    // allowed, lowered where only that is, and `_` for the rest.
    if let Some((prefix, allowed)) =
        convention_template(key).filter(|(prefix, _)| *prefix < key.len())
    {
        let name: String = key[prefix..]
            .chars()
            .map(|c| match c.to_ascii_lowercase() {
                _ if allowed(c) => c,
                lower if allowed(lower) => lower,
                _ => '_',
            })
            .collect();
        return format!("{}{name}", &key[..prefix]);
    }
    let segments: Vec<String> = key
        .split(['.', ':'])
        .map(|segment| words(segment).join("_"))
        .filter(|segment| !segment.is_empty())
        .collect();
    if segments.is_empty() {
        "field".to_owned()
    } else {
        segments.join(".")
    }
}

/// Splits text into lowercase words at every character that is not a letter
/// or digit, and at camelCase humps (`userID` gives `user`, `id`; `HTTPServer`
/// gives `http`, `server`).
pub(crate) fn words(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut words = Vec::new();
    let mut current = String::new();
    for (index, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            continue;
        }
        let previous = index.checked_sub(1).and_then(|i| chars.get(i)).copied();
        let next = chars.get(index + 1).copied();
        let starts_hump = c.is_uppercase()
            && previous.is_some_and(|p| {
                p.is_lowercase()
                    || p.is_ascii_digit()
                    || (p.is_uppercase() && next.is_some_and(char::is_lowercase))
            });
        if starts_hump && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        current.extend(c.to_lowercase());
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// Words that name a secret when a key ends with them.
///
/// `tokens` is not one of them: as the last word (`max_tokens`,
/// `gen_ai.usage.input_tokens`) it counts language-model tokens.
const SECRET_WORDS: [&str; 20] = [
    "password",
    "passwords",
    "passwd",
    "passphrase",
    "secret",
    "secrets",
    "token",
    "apikey",
    "apikeys",
    "authorization",
    "cookie",
    "cookies",
    "credential",
    "credentials",
    "privatekey",
    "secretkey",
    "accesskey",
    "sessionid",
    "jwt",
    "bearer",
];

/// Two-word endings that name a secret although neither word does alone.
/// A session id is a bearer credential: whoever holds it is logged in.
const SECRET_PAIRS: [(&str, &str); 10] = [
    ("api", "key"),
    ("api", "keys"),
    ("private", "key"),
    ("secret", "key"),
    ("access", "key"),
    ("signing", "key"),
    ("encryption", "key"),
    ("session", "id"),
    ("session", "key"),
    ("session", "cookie"),
];

/// Whether a key or identifier names a secret.
///
/// The decision is made on words (split at `.`, `_`, `-`, spaces and camelCase
/// humps) and on the *last* word, because the last word of a name says what
/// the value is: `api_token`, `auth.token` and `password` are secrets, while
/// `token_count`, `token_type`, `password_len` and `session_len` only describe
/// one. `session_id` is a secret; see the rule documentation.
pub(crate) fn is_secret_name(name: &str) -> bool {
    !SEMANTIC_CONVENTION_KEYS.contains(&name) && names_secret(&words(name))
}

/// OpenTelemetry semantic-convention attributes whose words read like a
/// secret: `session.id` identifies a client's telemetry session, not a
/// login.
const SEMANTIC_CONVENTION_KEYS: [&str; 1] = ["session.id"];

fn names_secret(words: &[String]) -> bool {
    let mut words = words;
    // Holder words are peeled off one at a time, in a loop rather than by
    // recursion, because keys can come from run-time data.
    while let Some((last, rest)) = words.split_last() {
        // A number or a version at the end says which of several secrets
        // it is (`password2`, `api_key_v2`), not what it is: the words are
        // read without it, as redaction at run time reads them.
        let last = without_number(last);
        if last.is_empty() {
            words = rest;
            continue;
        }
        let is_pair = rest
            .last()
            .is_some_and(|previous| SECRET_PAIRS.contains(&(previous.as_str(), last)));
        if SECRET_WORDS.contains(&last) || is_pair {
            return true;
        }
        if !HOLDER_WORDS.contains(&last) {
            return false;
        }
        words = rest;
    }
    false
}

/// `word` without the digits it ends in, and without a `v` that only
/// those digits followed: `password2` is `password`, `v2` and `2` are
/// empty.
fn without_number(word: &str) -> &str {
    let letters = word.trim_end_matches(|c: char| c.is_ascii_digit());
    if letters.len() == word.len() {
        return word;
    }
    if letters == "v" {
        ""
    } else {
        letters
    }
}

fn secret_key(key: &str) -> Option<KeyFinding> {
    if !is_secret_name(key) {
        return None;
    }
    Some(KeyFinding {
        rule: Rule::Secret,
        message: format!(
            "key `{key}` names a secret; log records are copied to collectors and backends and kept for a long time"
        ),
        help: "drop the field, or record something that is not the secret, under a key that does not end in the secret's name (such keys are redacted at run time): whether it is set (`password_set`), its length (`password_len`), or a keyed hash".to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(key: &str, site: KeySite) -> Vec<Rule> {
        check_key(key, site).map(|finding| finding.rule).collect()
    }

    #[test]
    fn clean_keys_yield_nothing() {
        for key in [
            "user_id",
            "http.request.method",
            "token_count",
            "session_len",
            "password_len",
            "message",
            "code",
            "error",
        ] {
            assert_eq!(rules(key, KeySite::Event), Vec::<Rule>::new(), "{key}");
        }
    }

    #[test]
    fn secrets_are_decided_by_the_last_word() {
        for key in [
            "password",
            "api_token",
            "auth.token",
            "apiKey",
            "x-api-key",
            "session_id",
            "set_cookie",
            "authorization_header",
            "password2",
            "api_key_v2",
            "token_2",
            "apiKeyV2",
        ] {
            assert!(is_secret_name(key), "{key} should be a secret");
        }
        for key in [
            "token_count",
            "session_len",
            "token_type",
            "secret_name",
            "gen_ai.usage.input_tokens",
            "session.id",
            "v2",
            "2",
            "sha256",
            "token_count2",
        ] {
            assert!(!is_secret_name(key), "{key} should not be a secret");
        }
    }

    #[test]
    fn reserved_keys_depend_on_the_site() {
        assert_eq!(rules("otel.name", KeySite::Span), Vec::<Rule>::new());
        assert_eq!(rules("otel.name", KeySite::Event), vec![Rule::ReservedKey]);
        assert_eq!(rules("trace_id", KeySite::Span), vec![Rule::ReservedKey]);
        assert_eq!(
            rules("exception.message", KeySite::Event),
            vec![Rule::ReservedKey]
        );
    }

    #[test]
    fn naming_findings_suggest_snake_case() {
        let findings: Vec<KeyFinding> = check_key("userId", KeySite::Event).collect();
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].rule, Rule::KeyNaming);
        assert!(
            findings[0].help.contains("`user_id`"),
            "{}",
            findings[0].help
        );
        assert_eq!(suggested_key("HTTP Method"), "http_method");
        assert_eq!(suggested_key("db::statement"), "db.statement");
        assert_eq!(suggested_key("retry-count"), "retry_count");
        assert_eq!(suggested_key("a..b"), "a.b");
        assert_eq!(suggested_key("--"), "field");
        let unicode: Vec<KeyFinding> = check_key("ünïcödé", KeySite::Event).collect();
        assert!(
            unicode[0].help.starts_with("name it with lowercase ASCII"),
            "{}",
            unicode[0].help
        );
    }

    /// Regression: the semantic conventions' header attributes
    /// (`http.request.header.content-type`) were flagged for their `-`, and
    /// a rename away from the convention suggested.
    #[test]
    fn names_that_end_conventional_templates_keep_their_own_characters() {
        for fine in [
            "http.request.header.content-type",
            "http.response.header.x-forwarded-for",
            "rpc.grpc.request.metadata.x-request-id",
            "rpc.connect_rpc.response.metadata.my_key",
            "process.environment_variable.PATH",
            "http.request.header.x.custom",
        ] {
            assert_eq!(rules(fine, KeySite::Event), vec![], "{fine}");
        }
        for (bad, suggested) in [
            (
                "http.request.header.Content-Type",
                "http.request.header.content-type",
            ),
            (
                "rpc.grpc.request.metadata.a b",
                "rpc.grpc.request.metadata.a_b",
            ),
            (
                "process.environment_variable.MY-VAR",
                "process.environment_variable.MY_VAR",
            ),
        ] {
            let findings: Vec<KeyFinding> = check_key(bad, KeySite::Event).collect();
            assert_eq!(findings.len(), 1, "{bad}");
            assert_eq!(findings[0].rule, Rule::KeyNaming);
            assert!(
                findings[0].help.contains(&format!("`{suggested}`")),
                "{}",
                findings[0].help
            );
        }
        assert_eq!(
            rules("http.request.header.", KeySite::Event),
            vec![Rule::KeyNaming]
        );
        // Elsewhere a `-` is still a naming problem.
        assert_eq!(
            rules("http.request.content-type", KeySite::Event),
            vec![Rule::KeyNaming]
        );
        assert_eq!(
            rules("rpc.Grpc.request.metadata.x", KeySite::Event),
            vec![Rule::KeyNaming]
        );
    }

    #[test]
    fn one_key_can_break_several_rules() {
        assert_eq!(
            rules("log.Password", KeySite::Event),
            vec![Rule::ReservedKey, Rule::KeyNaming, Rule::Secret]
        );
    }
}
