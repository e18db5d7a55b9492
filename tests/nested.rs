//! Maps and lists from `log` key-values captured with `:serde` keep their
//! structure: nested JSON in the JSON lines, kvlist and array values in OTLP.

use std::collections::BTreeMap;

use serde_json::json;

use crate::support::capture;

fn log_nested() {
    let tags = vec!["checkout", "eu"];
    let limits = BTreeMap::from([("cpu", 2.5), ("memory_mib", 512.0)]);
    let items = vec![
        BTreeMap::from([("sku", json!("A-1")), ("qty", json!(2))]),
        BTreeMap::from([("sku", json!("B-7")), ("qty", json!(1))]),
    ];
    log::info!(tags:serde = tags, limits:serde = limits, items:serde = items, plain = "text"; "nested values");
}

#[test]
fn serde_values_become_nested_json() {
    let records = capture(otel_log_bridge::builder(), log_nested);
    let attributes = &records[0]["attributes"];
    assert_eq!(attributes["tags"], json!(["checkout", "eu"]));
    assert_eq!(
        attributes["limits"],
        json!({"cpu": 2.5, "memory_mib": 512.0})
    );
    assert_eq!(
        attributes["items"],
        json!([{"qty": 2, "sku": "A-1"}, {"qty": 1, "sku": "B-7"}])
    );
    assert_eq!(attributes["plain"], "text");
}

/// Regression: inside a map, an integer beyond `i64` was written as a bare
/// JSON number, which most readers round; outside one, it is a string.
#[test]
fn integers_beyond_i64_inside_maps_are_strings_as_outside_them() {
    let records = capture(otel_log_bridge::builder(), || {
        let ids = BTreeMap::from([("big", u64::MAX), ("small", 7)]);
        log::info!(ids:serde = ids, big = u64::MAX; "ids");
    });
    let attributes = &records[0]["attributes"];
    assert_eq!(attributes["big"], "18446744073709551615");
    assert_eq!(
        attributes["ids"],
        json!({"big": "18446744073709551615", "small": 7})
    );
}

/// Regression: a value captured with `:serde` that serializes as a number
/// or a bool (a newtype around one, or an `Option` of one) was exported as
/// its `Debug` text, `"UserId(42)"`, though inside a map the same value was
/// the number.
#[test]
fn serde_values_that_are_numbers_or_bools_keep_their_type_as_inside_maps() {
    #[derive(Debug, serde::Serialize)]
    struct UserId(u64);
    #[derive(Debug, serde::Serialize)]
    struct Ratio(f64);
    #[derive(Debug, serde::Serialize)]
    struct Flag(bool);
    #[derive(Debug, serde::Serialize)]
    struct Request {
        user: UserId,
    }
    let records = capture(otel_log_bridge::builder(), || {
        log::info!(
            owner:serde = UserId(42),
            parent:serde = Some(UserId(3)),
            huge:serde = UserId(u64::MAX),
            ratio:serde = Ratio(0.25),
            cached:serde = Flag(true),
            request:serde = Request { user: UserId(42) };
            "typed newtypes"
        );
    });
    let attributes = &records[0]["attributes"];
    assert_eq!(attributes["owner"], json!(42));
    assert_eq!(attributes["parent"], json!(3));
    assert_eq!(attributes["huge"], json!("18446744073709551615"));
    assert_eq!(attributes["ratio"], json!(0.25));
    assert_eq!(attributes["cached"], json!(true));
    assert_eq!(attributes["request"], json!({"user": 42}));
}

/// Regression: bytes captured with `:serde` (`serde_bytes`,
/// `bytes::Bytes`) became a list of integers, one per byte, where a
/// `tracing` field of the same bytes is a bytes value.
#[test]
fn serde_bytes_from_log_are_written_as_tracing_bytes_are() {
    struct Raw(&'static [u8]);
    impl serde::Serialize for Raw {
        fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            serializer.serialize_bytes(self.0)
        }
    }
    let records = capture(otel_log_bridge::builder(), || {
        log::info!(payload:serde = Raw(b"\x01\x02\xff"); "from log");
        tracing::info!(payload = &b"\x01\x02\xff"[..], "from tracing");
    });
    assert_eq!(
        records[0]["attributes"]["payload"],
        records[1]["attributes"]["payload"]
    );
    assert!(
        records[1]["attributes"]["payload"].is_string(),
        "{records:?}"
    );
}

/// Regression: inside a map, a NaN or infinite float became `null`, and an
/// integer beyond 64 bits turned the whole map into its text; outside one,
/// both are strings.
#[test]
fn non_finite_floats_and_wide_integers_inside_maps_are_strings_as_outside_them() {
    let records = capture(otel_log_bridge::builder(), || {
        let ratios = vec![1.5, f64::NAN, f64::INFINITY];
        let ids = BTreeMap::from([("big", u128::MAX), ("small", 7)]);
        log::info!(ratios:serde = ratios, ids:serde = ids, nan = f64::NAN; "odd numbers");
    });
    let attributes = &records[0]["attributes"];
    assert_eq!(attributes["nan"], "NaN");
    assert_eq!(attributes["ratios"], json!([1.5, "NaN", "Infinity"]));
    assert_eq!(
        attributes["ids"],
        json!({"big": u128::MAX.to_string(), "small": 7})
    );
}

/// Regression: the OTLP/JSON forms are made by decoding the protobuf
/// request, and a value nested deeper than the decoder allows failed the
/// whole request, with every other record in it.
#[cfg(feature = "otlp")]
#[test]
fn a_value_nested_too_deep_for_a_decoder_does_not_fail_its_request() {
    use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;

    let receiver = crate::support::receiver::Receiver::http();
    let mut deep = json!("bottom");
    for _ in 0..40 {
        deep = json!({ "a": deep });
    }
    let (_, stats) = crate::support::capture_with_guard(
        otel_log_bridge::builder()
            .with_otlp_endpoint(format!("{}/v1/logs", receiver.endpoint()))
            .with_otlp_protocol(otel_log_bridge::Protocol::HttpJson)
            .with_exporters([otel_log_bridge::Exporter::Otlp]),
        |_| {
            log::info!(doc:serde = deep; "deep");
            log::info!("its neighbour");
        },
    );
    assert_eq!((stats.exported, stats.failed), (2, 0));
    let records = receiver.records();
    assert_eq!(records.len(), 2);
    let mut value = records[0].record.attributes[0].value.clone();
    let mut maps = 0;
    while let Some(Any::KvlistValue(list)) = value.and_then(|v| v.value) {
        maps += 1;
        value = list.values[0].value.clone();
    }
    assert_eq!(maps, 16, "maps kept as maps");
}

#[cfg(feature = "otlp")]
#[test]
fn serde_values_become_kvlist_and_array_values_over_otlp() {
    use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue, KeyValueList};

    fn string(s: &str) -> Option<AnyValue> {
        Some(AnyValue {
            value: Some(Any::StringValue(s.into())),
        })
    }
    fn pair(key: &str, value: Any) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue { value: Some(value) }),
            ..KeyValue::default()
        }
    }

    let receiver = crate::support::receiver::Receiver::http();
    let _ = capture(
        otel_log_bridge::builder()
            .with_otlp_endpoint(format!("{}/v1/logs", receiver.endpoint()))
            .with_exporters([
                otel_log_bridge::Exporter::Otlp,
                otel_log_bridge::Exporter::Json,
            ]),
        log_nested,
    );
    let records = receiver.records();
    let attribute = |key: &str| {
        records[0]
            .record
            .attributes
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| kv.value.clone())
            .and_then(|v| v.value)
            .unwrap_or_else(|| panic!("attribute {key}"))
    };
    assert_eq!(
        attribute("tags"),
        Any::ArrayValue(ArrayValue {
            values: vec![string("checkout").unwrap(), string("eu").unwrap()],
        })
    );
    assert_eq!(
        attribute("limits"),
        Any::KvlistValue(KeyValueList {
            values: vec![
                pair("cpu", Any::DoubleValue(2.5)),
                pair("memory_mib", Any::DoubleValue(512.0)),
            ],
        })
    );
    match attribute("items") {
        Any::ArrayValue(array) => {
            assert_eq!(array.values.len(), 2);
            assert_eq!(
                array.values[0].value,
                Some(Any::KvlistValue(KeyValueList {
                    values: vec![
                        pair("qty", Any::IntValue(2)),
                        pair("sku", Any::StringValue("A-1".into()))
                    ],
                }))
            );
        }
        other => panic!("not an array: {other:?}"),
    }
}

#[cfg(all(tracing_unstable, feature = "valuable"))]
#[test]
fn valuable_fields_become_nested_json() {
    #[derive(valuable::Valuable)]
    struct User {
        name: String,
        roles: Vec<String>,
    }

    let user = User {
        name: "ada".into(),
        roles: vec!["admin".into(), "billing".into()],
    };
    let records = capture(otel_log_bridge::builder(), || {
        tracing::info!(account = tracing::field::valuable(&user), "signed in");
    });
    assert_eq!(
        records[0]["attributes"]["account"],
        json!({"name": "ada", "roles": ["admin", "billing"]})
    );
}

/// Regression: a `valuable` span field was recorded as its `Debug` text,
/// so a secret-named key inside it reached every record in clear.
#[cfg(all(tracing_unstable, feature = "valuable"))]
#[test]
fn valuable_span_fields_keep_their_structure_and_are_redacted_inside() {
    #[derive(valuable::Valuable)]
    struct Login {
        name: String,
        password: String,
    }

    let login = Login {
        name: "ada".into(),
        password: "hunter2".into(),
    };
    // One sink takes the direct path; a second sink the record path.
    for builder in [
        otel_log_bridge::builder(),
        otel_log_bridge::builder().with_console_writer(std::io::sink()),
    ] {
        let (records, stats) = crate::support::capture_with_guard(builder, |_| {
            let span = tracing::info_span!("login", login = tracing::field::valuable(&login));
            span.in_scope(|| {
                tracing::info!("checked");
                tracing::info!("checked again");
            });
        });
        for record in &records {
            assert_eq!(
                record["attributes"]["login"],
                json!({"name": "ada", "password": "[REDACTED]"})
            );
        }
        assert_eq!(
            stats.redacted, 1,
            "redacted once, when the span recorded it"
        );
    }
}

/// Regression: a secret-named `valuable` event field was converted, its
/// inside redacted and counted, and then redacted whole: one secret
/// counted as two in `Stats::redacted`.
#[cfg(all(tracing_unstable, feature = "valuable"))]
#[test]
fn a_secret_named_valuable_field_is_redacted_and_counted_once() {
    #[derive(valuable::Valuable)]
    struct Credentials {
        name: String,
        password: String,
    }

    let credentials = Credentials {
        name: "ada".into(),
        password: "hunter2".into(),
    };
    for (path, builder) in crate::support::builders_for_both_paths() {
        let (records, stats) = crate::support::capture_with_guard(builder, |_| {
            // otel-log-lint: allow(OLB005)
            tracing::info!(secret = tracing::field::valuable(&credentials), "signed in");
        });
        assert_eq!(records[0]["attributes"]["secret"], json!("[REDACTED]"));
        assert_eq!(stats.redacted, 1, "{path} path: one secret, counted once");
    }
}

/// A list nested `0` levels deep, made as it is serialized: a value that
/// deep held in memory would overflow the stack when dropped.
struct Nested(usize);

impl serde::Serialize for Nested {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq as _;
        let mut list = serializer.serialize_seq(Some(1))?;
        if self.0 > 1 {
            list.serialize_element(&Nested(self.0 - 1))?;
        }
        list.end()
    }
}

/// A value whose `Serialize` impl always fails.
struct Refused;

impl serde::Serialize for Refused {
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom("refused"))
    }
}

/// Regression: with redaction off, a `:serde` value that failed to
/// serialize was kept as its text, which the `log` crate makes by
/// serializing it again without the depth bound the tree has: a part
/// nested a million levels deep before the failure overflowed the logging
/// thread's stack, which aborts the process.
#[test]
fn a_value_that_fails_after_a_part_nested_too_deep_is_not_formatted() {
    let records = std::thread::Builder::new()
        .stack_size(1024 * 1024)
        .spawn(|| {
            let builder = otel_log_bridge::builder().with_redacted_keys(Vec::<String>::new());
            capture(builder, || {
                log::info!(deep:serde = (Nested(1_000_000), Refused); "deep and refused");
                log::info!(shallow:serde = (Nested(3), Refused); "shallow and refused");
            })
        })
        .expect("thread started")
        .join()
        .expect("no stack overflow");
    let attributes = |index: usize| &records[index]["attributes"];
    assert_eq!(attributes(0)["deep"], "[nested too deep]");
    // A value that went no deeper than the bound is still kept as its
    // text, up to the failure.
    let text = attributes(1)["shallow"].as_str().expect("text");
    assert!(text.starts_with("(["), "{text}");
}

/// Regression: a `valuable` value whose serialization failed (here a path
/// that is no UTF-8) was recorded as its `Debug` text, secret-named parts
/// in clear, where a `log` value that fails is withheld.
#[cfg(all(unix, tracing_unstable, feature = "valuable"))]
#[test]
fn a_valuable_value_that_fails_to_serialize_is_withheld() {
    use std::os::unix::ffi::OsStrExt as _;

    #[derive(valuable::Valuable)]
    struct Upload {
        file: std::path::PathBuf,
        password: String,
    }

    let upload = Upload {
        file: std::ffi::OsStr::from_bytes(b"/tmp/\xff").into(),
        password: "hunter2".into(),
    };
    for (path, builder) in crate::support::builders_for_both_paths() {
        let (records, stats) = crate::support::capture_with_guard(builder, |_| {
            tracing::info!(upload = tracing::field::valuable(&upload), "stored");
            let span = tracing::info_span!("upload", upload = tracing::field::valuable(&upload));
            span.in_scope(|| tracing::info!("checked"));
        });
        assert_eq!(records.len(), 2, "{path} path");
        for record in &records {
            assert_eq!(
                record["attributes"]["upload"],
                json!("[withheld: serialization failed]"),
                "{path} path"
            );
            assert!(
                !record.to_string().contains("hunter2"),
                "{path} path: {record}"
            );
        }
        assert_eq!(
            stats.redacted, 2,
            "{path} path: the event's value and the span's"
        );
    }
}
