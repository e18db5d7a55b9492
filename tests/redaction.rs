//! Redaction: secret-named keys lose their values before any output sees
//! them, in event fields, span fields and `log` key-values alike.

use crate::support::capture_with_guard;

#[test]
fn secret_keys_are_redacted_and_look_alikes_are_not() {
    let (records, stats) = capture_with_guard(otel_log_bridge::builder(), |_| {
        let span = tracing::info_span!("login", session.token = "abc", tenant = "acme");
        let _entered = span.enter();
        tracing::info!(
            password = "hunter2",
            http.request.header.authorization = "Bearer xyz",
            api_key = "k-123",
            token_count = 42,
            session_len = 7,
            secretary = "Ms. Moneypenny",
            "signing in"
        );
        log::info!(cookie = "id=1", account = "ada", db_password = "pw"; "from log");
        let error = std::io::Error::other("token=abc leaked in a message");
        // Deliberately a secret-named field: its redaction is under test.
        // otel-log-lint: allow(OLB005)
        tracing::error!(credential = &error as &dyn std::error::Error, "failed");
    });
    let first = &records[0]["attributes"];
    assert_eq!(first["password"], "[REDACTED]");
    assert_eq!(first["http.request.header.authorization"], "[REDACTED]");
    assert_eq!(first["api_key"], "[REDACTED]");
    assert_eq!(first["session.token"], "[REDACTED]", "span fields too");
    assert_eq!(first["token_count"], 42);
    assert_eq!(first["session_len"], 7);
    assert_eq!(first["secretary"], "Ms. Moneypenny");
    assert_eq!(first["tenant"], "acme");
    let second = &records[1]["attributes"];
    assert_eq!(second["cookie"], "[REDACTED]");
    assert_eq!(second["account"], "ada");
    assert_eq!(
        second["db_password"], "[REDACTED]",
        "a secret word ending a key"
    );
    let third = &records[2]["attributes"];
    assert_eq!(third["credential"], "[REDACTED]");
    assert!(third.get("exception.message").is_none(), "{third}");
    // password, authorization, api_key, session.token (once, when the span
    // recorded it), cookie, db_password, credential.
    assert_eq!(stats.redacted, 7);
}

#[test]
fn the_list_is_configurable_and_can_be_turned_off() {
    let (records, stats) = capture_with_guard(
        otel_log_bridge::builder().with_redacted_keys(["Pin"]),
        |_| tracing::info!(card.pin = 1234, password = "shown", "custom list"),
    );
    assert_eq!(records[0]["attributes"]["card.pin"], "[REDACTED]");
    assert_eq!(records[0]["attributes"]["password"], "shown");
    assert_eq!(stats.redacted, 1);
    let (records, stats) = capture_with_guard(
        otel_log_bridge::builder().with_redacted_keys(Vec::<String>::new()),
        |_| tracing::info!(password = "shown", "off"),
    );
    assert_eq!(records[0]["attributes"]["password"], "shown");
    assert_eq!(stats.redacted, 0);
}

#[test]
fn tokens_inside_bodies_and_values_are_redacted_when_asked() {
    let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl";
    let (records, stats) = capture_with_guard(
        otel_log_bridge::builder().with_value_redaction(true),
        |_| {
            // A token in the message is what this test redacts.
            // otel-log-lint: allow(OLB001, OLB005)
            tracing::warn!(header = "Bearer abcdefgh12345", "retrying with {jwt}");
            tracing::info!(note = "the bearer of bad news", "plain");
        },
    );
    assert_eq!(records[0]["body"], "retrying with [REDACTED]");
    assert_eq!(records[0]["attributes"]["header"], "Bearer [REDACTED]");
    assert_eq!(records[1]["attributes"]["note"], "the bearer of bad news");
    assert_eq!(stats.redacted, 2);
}

#[test]
fn secret_keys_inside_nested_values_are_redacted() {
    let (records, stats) = capture_with_guard(
        otel_log_bridge::builder().with_value_redaction(true),
        |_| {
            let login = serde_json::json!({
                "user": {"name": "ada", "password": "hunter2", "token_count": 3},
                "headers": [{"authorization": "Basic YWRhOmh1bnRlcjI="}],
                "note": "Bearer abc.def.ghi",
            });
            log::info!(login:serde = login; "nested secrets");
        },
    );
    assert_eq!(
        records[0]["attributes"]["login"],
        serde_json::json!({
            "user": {"name": "ada", "password": "[REDACTED]", "token_count": 3},
            "headers": [{"authorization": "[REDACTED]"}],
            "note": "Bearer [REDACTED]",
        })
    );
    assert_eq!(stats.redacted, 3, "{stats:?}");
}

/// Regression: tokens used as map keys (sessions by their token) were
/// exported in clear, values redacted or not.
#[test]
fn tokens_used_as_map_keys_are_redacted() {
    let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl";
    let (records, stats) = capture_with_guard(
        otel_log_bridge::builder().with_value_redaction(true),
        |_| {
            let sessions = serde_json::json!({
                "Bearer abcdefgh12345": {"user": "ada"},
                "Bearer zyxwvuts98765": {"user": "grace"},
                jwt: {"user": "alan"},
                "anonymous": {"user": null},
            });
            log::info!(sessions:serde = sessions; "active sessions");
        },
    );
    assert_eq!(
        records[0]["attributes"]["sessions"],
        serde_json::json!({
            "Bearer [REDACTED]": {"user": "ada"},
            "Bearer [REDACTED] (2)": {"user": "grace"},
            "[REDACTED]": {"user": "alan"},
            "anonymous": {"user": null},
        })
    );
    assert_eq!(stats.redacted, 3, "{stats:?}");
}

/// Regression: a sign-up form's `password1` and `password2`, keys with a
/// space or a colon before the secret word, and a session id (a bearer
/// credential, which the crate's own lint calls a secret) were exported in
/// clear.
#[test]
fn numbered_secret_keys_other_separators_and_session_ids_are_redacted() {
    let (records, stats) = capture_with_guard(otel_log_bridge::builder(), |_| {
        let form = serde_json::json!({
            "password1": "hunter2",
            "password2": "hunter2",
            "db:password": "pw",
            "new password": "x",
            "api_key_v2": "k",
            "username": "ada",
        });
        log::info!(form:serde = form; "signup");
        // Both spellings on purpose: one is a secret, the other is not.
        // otel-log-lint: allow(OLB004, OLB005)
        tracing::info!(
            session_id = "s3cr3t",
            session.id = "telemetry-session",
            "login"
        );
    });
    assert_eq!(
        records[0]["attributes"]["form"],
        serde_json::json!({
            "password1": "[REDACTED]",
            "password2": "[REDACTED]",
            "db:password": "[REDACTED]",
            "new password": "[REDACTED]",
            "api_key_v2": "[REDACTED]",
            "username": "ada",
        })
    );
    assert_eq!(records[1]["attributes"]["session_id"], "[REDACTED]");
    // The semantic convention's session id names a telemetry session.
    assert_eq!(records[1]["attributes"]["session.id"], "telemetry-session");
    assert_eq!(stats.redacted, 6, "{stats:?}");
}

/// Regression: what nests deeper than 16 levels is kept as its JSON text,
/// and it became text before the secret-named keys inside it were
/// redacted: a password 17 levels down was exported in clear.
#[test]
fn secret_keys_nested_deeper_than_the_tree_bound_or_under_odd_keys_are_redacted_too() {
    let mut deep = serde_json::json!({"password": "hunter2-deep", "ok": 1});
    for _ in 0..20 {
        deep = serde_json::json!({ "level": deep });
    }
    // Regression too: a map whose keys were not text failed to convert,
    // and its `Display` text was exported instead, secrets and all.
    let by_pair = std::collections::BTreeMap::from([(
        (1, 2),
        serde_json::json!({"password": "hunter2-pair"}),
    )]);
    let (records, stats) = capture_with_guard(otel_log_bridge::builder(), |_| {
        log::info!(deep:serde = deep; "deep secret");
        log::info!(by_pair:serde = by_pair; "secret under a pair");
    });
    let text = records[0]["attributes"]["deep"].to_string();
    assert!(!text.contains("hunter2"), "{text}");
    assert!(text.contains("[REDACTED]"), "{text}");
    assert_eq!(
        records[1]["attributes"]["by_pair"],
        serde_json::json!({"[1,2]": {"password": "[REDACTED]"}})
    );
    assert_eq!(stats.redacted, 2, "{stats:?}");
}

/// Regression: a dotted word of the list (`user.ssn`) and a word with
/// spaces around it never matched, and camelCase spellings of the default
/// compound names (`accessToken`) were left in clear.
#[test]
fn dotted_words_padded_words_and_camel_case_spellings_are_redacted() {
    let (records, stats) = capture_with_guard(
        otel_log_bridge::builder().with_redacted_keys(["user.ssn", " pin "]),
        |_| {
            tracing::info!(
                app.user.ssn = "123-45-6789",
                card.pin = 1234,
                user.id = 7,
                "custom list"
            )
        },
    );
    let attributes = &records[0]["attributes"];
    assert_eq!(attributes["app.user.ssn"], "[REDACTED]");
    assert_eq!(attributes["card.pin"], "[REDACTED]");
    assert_eq!(attributes["user.id"], 7);
    assert_eq!(stats.redacted, 2);
    let records = crate::support::capture(otel_log_bridge::builder(), || {
        log::info!(resp:serde = serde_json::json!({"accessToken": "abc", "expiresIn": 60}); "login");
    });
    assert_eq!(
        records[0]["attributes"]["resp"],
        serde_json::json!({"accessToken": "[REDACTED]", "expiresIn": 60})
    );
}

/// Regression: a `:serde` value whose `Serialize` impl fails was exported
/// as its formatted text, which the `log` crate makes by serializing it
/// again: everything written before the failure, secret-named keys
/// included, went out in clear.
#[test]
fn a_value_that_fails_to_serialize_is_not_exported_as_its_partial_text() {
    struct Unfinished;
    impl serde::Serialize for Unfinished {
        fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            use serde::ser::{Error as _, SerializeMap as _};
            let mut map = serializer.serialize_map(None)?;
            map.serialize_entry("user", "ada")?;
            map.serialize_entry("password", "hunter2")?;
            // An error may quote the value it refused.
            Err(S::Error::custom("the password hunter2 expired"))
        }
    }
    let (records, stats) = capture_with_guard(otel_log_bridge::builder(), |_| {
        log::info!(login:serde = Unfinished; "unfinished");
    });
    assert_eq!(
        records[0]["attributes"]["login"],
        "[withheld: serialization failed]"
    );
    assert_eq!(stats.redacted, 1, "{stats:?}");
    // With redaction turned off, nothing is withheld: the text is kept.
    let (records, _) = capture_with_guard(
        otel_log_bridge::builder().with_redacted_keys(Vec::<String>::new()),
        |_| log::info!(login:serde = Unfinished; "unfinished"),
    );
    let text = records[0]["attributes"]["login"].as_str().expect("text");
    assert!(text.contains("hunter2"), "{text}");
}
