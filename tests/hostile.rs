//! Inputs that try to break the JSON lines: every line must parse back and
//! there must be exactly one line per event.

use log::kv::{Key, Source, Value as KvValue, VisitSource};

use tracing_subscriber::prelude::*;

use crate::support::{capture, stats_after};

/// 200 key-values with awkward keys, given to `log` directly.
struct ManyPairs;

impl Source for ManyPairs {
    fn visit<'kvs>(&'kvs self, visitor: &mut dyn VisitSource<'kvs>) -> Result<(), log::kv::Error> {
        for i in 0..200 {
            let key = match i % 4 {
                0 => format!("key with spaces {i}"),
                1 => format!("ключ.{i}"),
                2 => format!("quote\"and\\backslash{i}"),
                _ => format!("line\nbreak{i}"),
            };
            visitor.visit_pair(
                Key::from_str(Box::leak(key.into_boxed_str())),
                KvValue::from(i),
            )?;
        }
        Ok(())
    }
}

#[test]
fn hostile_values_stay_on_one_line_and_parse_back() {
    let huge = "x".repeat(1024 * 1024);
    let forged = "ok\"}\n{\"severity_text\":\"FATAL\",\"body\":\"forged";
    // The default limit of 128 attributes would cut the 200 pairs; that
    // limit has its own test below.
    let builder = otel_log_bridge::builder().with_attribute_count_limit(1000);
    let records = capture(builder, || {
        tracing::info!(
            text = "line1\nline2\r\u{1b}[31mred\u{0}\u{7f}\u{85}\u{2028}",
            "new\nline"
        );
        tracing::info!(forged, "{forged}");
        tracing::info!(
            nan = f64::NAN,
            inf = f64::INFINITY,
            ninf = f64::NEG_INFINITY
        );
        tracing::info!(huge = huge.as_str(), "1 MB value");
        // Deliberately awkward keys: the output must stay valid whatever the key.
        // otel-log-lint: allow(OLB004)
        tracing::info!("weird key" = 1, "ünïcödé.κλειδί" = 2, "literal keys");
        log_many_pairs();
    });
    assert_eq!(records.len(), 6, "one line per event");
    assert_eq!(
        records[0]["attributes"]["text"],
        "line1\nline2\r\u{1b}[31mred\u{0}\u{7f}\u{85}\u{2028}"
    );
    assert_eq!(records[0]["body"], "new\nline");
    assert_eq!(records[1]["body"], forged);
    assert_eq!(records[1]["severity_text"], "INFO");
    assert_eq!(records[2]["attributes"]["nan"], "NaN");
    assert_eq!(records[2]["attributes"]["inf"], "Infinity");
    assert_eq!(records[2]["attributes"]["ninf"], "-Infinity");
    assert_eq!(
        records[3]["attributes"]["huge"].as_str().map(str::len),
        Some(huge.len())
    );
    assert_eq!(records[4]["attributes"]["weird key"], 1);
    assert_eq!(records[4]["attributes"]["ünïcödé.κλειδί"], 2);
    let pairs = records[5]["attributes"].as_object().expect("attributes");
    assert_eq!(pairs["key with spaces 0"], 0);
    assert_eq!(pairs["line\nbreak199"], 199);
    assert_eq!(
        pairs
            .keys()
            .filter(|k| !k.starts_with("code.") && !k.starts_with("thread."))
            .count(),
        200
    );
}

fn log_many_pairs() {
    let record = log::Record::builder()
        .level(log::Level::Info)
        .target("hostile")
        .args(format_args!("200 pairs"))
        .key_values(&ManyPairs)
        .build();
    log::logger().log(&record);
}

/// How often a value was formatted.
static FORMATTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A value that counts how often it is formatted.
struct CountsFormatting;

impl std::fmt::Display for CountsFormatting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        FORMATTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        f.write_str("formatted")
    }
}

/// 10 000 pairs whose values count their formatting.
struct ManyFormattedPairs;

impl Source for ManyFormattedPairs {
    fn visit<'kvs>(&'kvs self, visitor: &mut dyn VisitSource<'kvs>) -> Result<(), log::kv::Error> {
        for i in 0..10_000 {
            let key = Box::leak(format!("key{i}").into_boxed_str());
            visitor.visit_pair(Key::from_str(key), KvValue::from_display(&CountsFormatting))?;
        }
        Ok(())
    }
}

/// Regression: every value of a `log` record was formatted into the
/// record before the count limit dropped it, so a record of a great many
/// pairs held all their values in memory, to keep 128.
#[test]
fn values_past_the_count_limit_are_not_formatted() {
    let records = capture(otel_log_bridge::builder(), || {
        let record = log::Record::builder()
            .level(log::Level::Info)
            .target("hostile")
            .args(format_args!("10 000 pairs"))
            .key_values(&ManyFormattedPairs)
            .build();
        log::logger().log(&record);
    });
    assert_eq!(FORMATTED.load(std::sync::atomic::Ordering::Relaxed), 128);
    assert_eq!(records[0]["attributes"]["key127"], "formatted");
    // 10 000 pairs and the two thread attributes, for 128 places.
    assert_eq!(records[0]["dropped_attributes_count"], 10_002 - 128);
}

/// An error with a cause, so that it maps to two `exception.*` attributes.
#[derive(Debug)]
struct Failed(std::io::Error);

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("request failed")
    }
}

impl std::error::Error for Failed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// Regression: on a full record, a `log` error value was counted as one
/// dropped attribute of its own key, where the same error through
/// `tracing` is the record's exception, whose attributes are what the
/// count limit drops.
#[test]
fn an_error_past_the_count_limit_counts_alike_from_log_and_tracing() {
    let error = || Failed(std::io::Error::other("disk full"));
    let builder = || otel_log_bridge::builder().with_attribute_count_limit(2);
    let from_log = capture(builder(), || {
        log::error!(a = 1, b = 2, err:err = error(); "failed");
    });
    let from_tracing = capture(builder(), || {
        tracing::error!(
            a = 1,
            b = 2,
            err = &error() as &dyn std::error::Error,
            "failed"
        );
    });
    assert_eq!(
        from_log[0]["dropped_attributes_count"],
        from_tracing[0]["dropped_attributes_count"]
    );
    // `exception.message`, `exception.stacktrace`, `thread.id`,
    // `thread.name`, and the `tracing` event's `code.*` or the `log`
    // record's, which has them too.
    assert!(from_log[0]["dropped_attributes_count"].as_u64() >= Some(4));
}

#[test]
fn attributes_past_the_default_limit_are_dropped_and_counted() {
    let records = capture(otel_log_bridge::builder(), log_many_pairs);
    let attributes = records[0]["attributes"].as_object().expect("attributes");
    assert_eq!(attributes.len(), 128);
    // 200 pairs, then thread.id and thread.name (the hand-built record has
    // no file or line): 202 attributes for 128 places.
    assert_eq!(records[0]["dropped_attributes_count"], 74);
}

#[test]
fn long_values_are_cut_on_character_boundaries() {
    let builder = otel_log_bridge::builder().with_attribute_value_length_limit(4);
    let records = capture(builder, || {
        tracing::info!(
            text = "ünïcödé",
            bytes = &b"0123456789"[..],
            number = 123456789,
            "limits"
        );
    });
    let attributes = &records[0]["attributes"];
    assert_eq!(attributes["text"], "ünïc");
    assert_eq!(
        attributes["bytes"], "MDEyMw==",
        "base64 of the first 4 bytes"
    );
    assert_eq!(attributes["number"], 123456789, "numbers are not cut");
    assert_eq!(records[0]["body"], "limits", "the body is not an attribute");
}

/// Regression: an integer beyond the `i64` range, written as its decimal
/// text, was cut by the value length limit like a string, into another
/// number (`18446744073709551615` became `1844`), at the top level only:
/// inside a map the same number was left whole.
#[test]
fn integers_beyond_i64_are_not_cut_into_other_numbers() {
    let builder = otel_log_bridge::builder().with_attribute_value_length_limit(4);
    let records = capture(builder, || {
        let span = tracing::info_span!("request", span_big = u64::MAX);
        let _entered = span.enter();
        let nested = std::collections::BTreeMap::from([("big", u64::MAX)]);
        tracing::info!(
            big = u64::MAX,
            negative = i128::MIN,
            wide = u128::MAX,
            "limits"
        );
        let wide = (u128::MAX, i128::MIN, f64::INFINITY, "a long text");
        log::info!(log_big = u64::MAX, nested:serde = nested, wide:serde = wide; "limits");
        // A newtype around such a number is the number, as it is inside a
        // map; `log` hands it over as a `serde` value, not as a `u128`.
        #[derive(serde::Serialize)]
        struct Id(u128);
        #[derive(serde::Serialize)]
        struct Ratio(f64);
        log::info!(id:serde = Id(u128::MAX), ratio:serde = Ratio(f64::NEG_INFINITY); "newtypes");
    });
    let attributes = &records[0]["attributes"];
    assert_eq!(attributes["big"], u64::MAX.to_string());
    assert_eq!(attributes["negative"], i128::MIN.to_string());
    assert_eq!(attributes["wide"], u128::MAX.to_string());
    assert_eq!(attributes["span_big"], u64::MAX.to_string());
    let attributes = &records[1]["attributes"];
    assert_eq!(attributes["log_big"], u64::MAX.to_string());
    assert_eq!(attributes["nested"]["big"], u64::MAX.to_string());
    assert_eq!(attributes["span_big"], u64::MAX.to_string());
    // Inside a list too, numbers JSON cannot hold are strings, and whole;
    // the text beside them is cut.
    assert_eq!(
        attributes["wide"],
        serde_json::json!([
            u128::MAX.to_string(),
            i128::MIN.to_string(),
            "Infinity",
            "a lo"
        ])
    );
    let attributes = &records[2]["attributes"];
    assert_eq!(attributes["id"], u128::MAX.to_string());
    assert_eq!(attributes["ratio"], "-Infinity");
}

/// Regression: a `log` value captured with `:%` or `:?` whose text read as
/// a number was taken for a number JSON cannot hold, and the length limit
/// left it whole.
#[test]
fn text_that_reads_as_a_number_is_cut_by_the_length_limit() {
    let builder = otel_log_bridge::builder().with_attribute_value_length_limit(4);
    let records = capture(builder, || {
        log::info!(
            shown:% = "4111111111111111",
            debugged:? = 4_111_111_111_111_111_u64,
            plain = "4111111111111111";
            "card"
        );
    });
    let attributes = &records[0]["attributes"];
    for key in ["shown", "debugged", "plain"] {
        assert_eq!(attributes[key], "4111", "{key}: {attributes}");
    }
}

/// An error that is its own source.
#[derive(Debug)]
struct Looping;

impl std::fmt::Display for Looping {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("looping")
    }
}

impl std::error::Error for Looping {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self)
    }
}

/// Regression: an error whose `source()` chain loops held the logging
/// thread for good, appending causes until memory ran out.
#[test]
fn an_error_whose_source_chain_loops_is_cut() {
    // One sink takes the direct path; a second sink the record path.
    for builder in [
        otel_log_bridge::builder(),
        otel_log_bridge::builder().with_console_writer(std::io::sink()),
    ] {
        let records = capture(builder, || {
            tracing::error!(error = &Looping as &dyn std::error::Error, "failed");
        });
        let stacktrace = records[0]["attributes"]["exception.stacktrace"]
            .as_str()
            .expect("a stack trace");
        let causes: Vec<&str> = stacktrace.lines().skip(1).collect();
        assert_eq!(causes.len(), 33, "{stacktrace}");
        assert_eq!(causes[0], "caused by: looping");
        assert_eq!(causes[32], "caused by: … (further causes left out)");
    }
}

/// Takes everything up to the record whose body starts with "second" and
/// a few bytes of it, then fails once (a disk that filled up), then takes
/// everything.
struct FailsPartWay {
    out: crate::support::SharedBuf,
    state: PartWay,
}

#[derive(PartialEq)]
enum PartWay {
    BeforeTheFailure,
    Cut,
    Failed,
}

impl std::io::Write for FailsPartWay {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.state {
            PartWay::BeforeTheFailure => {
                let cut = buf
                    .windows(6)
                    .position(|window| window == b"second")
                    .map(|at| at + 3);
                if cut.is_some() {
                    self.state = PartWay::Cut;
                }
                self.out.write(&buf[..cut.unwrap_or(buf.len())])
            }
            PartWay::Cut => {
                self.state = PartWay::Failed;
                Err(std::io::Error::other("no space left on device"))
            }
            PartWay::Failed => self.out.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Regression: OTLP-JSON lines were written with serde_json's plain
/// formatter, which leaves DEL, the C1 controls and U+2028/U+2029 raw; a
/// reader that splits lines on them (Python's `splitlines`, say) cut one
/// request into several, and a C1 control reached the terminal.
#[cfg(feature = "otlp")]
#[test]
fn otlp_json_lines_escape_what_breaks_line_oriented_readers() {
    use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
    use opentelemetry_proto::tonic::logs::v1::LogsData;

    let text = "a\u{2028}b\u{2029}c\u{85}d\u{9b}31me\u{7f}";
    let out = crate::support::SharedBuf::default();
    let builder = otel_log_bridge::builder().with_otlp_json_writer(out.clone());
    let stats = stats_after(builder, |_| tracing::info!(text, "{text}"));
    assert_eq!(stats.exported, 1, "{stats:?}");
    let output = out.contents();
    let line_breaks = ['\n', '\r', '\u{85}', '\u{2028}', '\u{2029}'];
    let lines: Vec<&str> = output
        .split(&line_breaks[..])
        .filter(|line| !line.is_empty())
        .collect();
    assert_eq!(lines.len(), 1, "{output:?}");
    assert!(!output.contains(['\u{7f}', '\u{9b}']), "{output:?}");
    let data: LogsData = serde_json::from_str(lines[0]).expect("one LogsData");
    let record = &data.resource_logs[0].scope_logs[0].log_records[0];
    let body = record.body.as_ref().and_then(|body| body.value.clone());
    assert_eq!(body, Some(Any::StringValue(text.to_owned())));
}

/// Regression: the JSON lines left the marks that change the direction
/// text is shown in as they were, so a value could make a line shown in a
/// terminal read as something else than it holds (`account=admin` followed by
/// U+202E and `exe.txt` shows as `txt.exe`). They are `\u` escapes now, in
/// values and keys alike, and parse back to the same text.
#[test]
fn json_lines_escape_direction_marks() {
    let value = "admin\u{202e}exe.txt\u{2066}\u{61c}\u{200e}";
    for (path, builder) in crate::support::builders_for_both_paths() {
        let out = crate::support::SharedBuf::default();
        let (layer, guard) = builder
            .with_json_writer(out.clone())
            .layer()
            .expect("valid configuration");
        tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
            tracing::info!(account = value, debugged = ?value, "{value}");
        });
        drop(guard);
        let output = out.contents();
        assert!(
            !output.contains(['\u{202e}', '\u{2066}', '\u{61c}', '\u{200e}']),
            "{path}: {output:?}"
        );
        assert!(
            output.contains(r"admin\u202eexe.txt\u2066\u061c\u200e"),
            "{path}: {output:?}"
        );
        let line = &out.lines()[0];
        assert_eq!(line["body"], value, "{path}");
        assert_eq!(line["attributes"]["account"], value, "{path}");
        assert_eq!(
            line["attributes"]["debugged"],
            format!("{value:?}"),
            "{path}"
        );
    }
}

/// Regression: a batch was written as one OTLP-JSON line whatever its
/// size, and 512 records of a few KiB made a line of several MiB. The
/// collector's file readers cut a line longer than 1 MiB into pieces by
/// default, and no piece is JSON: every record of the batch was lost.
/// Lines now hold at most 1 MiB; a record longer than that alone has a
/// line of its own.
#[cfg(feature = "otlp")]
#[test]
fn otlp_json_lines_stay_short_enough_for_collector_file_readers() {
    use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
    use opentelemetry_proto::tonic::logs::v1::LogsData;

    const LINE_LIMIT: usize = 1024 * 1024;
    let out = crate::support::SharedBuf::default();
    let builder = otel_log_bridge::builder().with_otlp_json_writer(out.clone());
    // Control characters take six bytes each in JSON (`\u0001`).
    let text = |index: usize| format!("{index}:{}", "\u{1}".repeat(4096));
    let huge = "h".repeat(LINE_LIMIT + 1);
    let stats = stats_after(builder, |guard| {
        for index in 0..512 {
            tracing::info!("{}", text(index));
        }
        let _ = guard.flush();
        tracing::info!("before");
        tracing::info!("{huge}");
        tracing::info!("after");
    });
    assert_eq!((stats.exported, stats.failed), (515, 0), "{stats:?}");
    let output = out.contents();
    let mut bodies = Vec::new();
    let mut lines = 0;
    for line in output.lines() {
        lines += 1;
        let data: LogsData = serde_json::from_str(line).expect("a LogsData line");
        let records: Vec<_> = data
            .resource_logs
            .iter()
            .flat_map(|resource| &resource.scope_logs)
            .flat_map(|scope| &scope.log_records)
            .collect();
        assert!(
            line.len() < LINE_LIMIT || records.len() == 1,
            "a line of {} bytes holds {} records",
            line.len(),
            records.len()
        );
        for record in records {
            match record.body.as_ref().and_then(|body| body.value.clone()) {
                Some(Any::StringValue(body)) => bodies.push(body),
                other => panic!("{other:?}"),
            }
        }
    }
    let expected: Vec<String> = (0..512)
        .map(text)
        .chain(["before".to_owned(), huge, "after".to_owned()])
        .collect();
    assert!(
        bodies == expected,
        "the records are not all there, in order"
    );
    // 512 records of 24 KiB of JSON each need 12 lines at least.
    assert!(lines > 12, "{lines} lines");
}

/// Regression: a failed OTLP-JSON write left its line open, and the next
/// request was written onto it: neither line parsed, and the second
/// request counted as exported.
#[cfg(feature = "otlp")]
#[test]
fn an_otlp_json_write_that_fails_part_way_keeps_the_next_request_on_a_line_of_its_own() {
    use opentelemetry_proto::tonic::logs::v1::LogsData;

    let out = crate::support::SharedBuf::default();
    let writer = FailsPartWay {
        out: out.clone(),
        state: PartWay::BeforeTheFailure,
    };
    let builder = otel_log_bridge::builder().with_otlp_json_writer(writer);
    let stats = stats_after(builder, |guard| {
        tracing::info!("first");
        tracing::info!("second, cut");
        let _ = guard.flush();
        tracing::info!("third");
    });
    let text = out.contents();
    let (whole, cut): (Vec<&str>, Vec<&str>) = text
        .lines()
        .partition(|line| serde_json::from_str::<LogsData>(line).is_ok());
    assert_eq!(cut.len(), 1, "{text}");
    let records = |line: &&str| -> Vec<String> {
        let data: LogsData = serde_json::from_str(line).expect("LogsData");
        data.resource_logs
            .iter()
            .flat_map(|resource| &resource.scope_logs)
            .flat_map(|scope| &scope.log_records)
            .map(|record| format!("{:?}", record.body))
            .collect()
    };
    let exported: Vec<String> = whole.iter().flat_map(records).collect();
    assert!(
        exported.last().is_some_and(|body| body.contains("third")),
        "{text}"
    );
    assert_eq!(stats.exported, exported.len() as u64, "{stats:?}");
    assert_eq!(stats.exported + stats.failed, 3, "{stats:?}");
}

/// Regression: a write that failed part way counted all of its records
/// as failed, those written whole too, and left the cut record's line
/// open, so the next record ran into it and neither parsed.
#[test]
fn a_write_that_fails_part_way_keeps_the_next_record_on_a_line_of_its_own() {
    let out = crate::support::SharedBuf::default();
    let writer = FailsPartWay {
        out: out.clone(),
        state: PartWay::BeforeTheFailure,
    };
    let builder = otel_log_bridge::builder().with_json_writer(writer);
    let stats = stats_after(builder, |guard| {
        tracing::info!("first");
        tracing::info!("second, cut");
        tracing::info!("third, lost");
        let _ = guard.flush();
        tracing::info!("fourth");
    });
    // Which records share a write depends on when the worker runs; the cut
    // record and the failure do not.
    let text = out.contents();
    let (whole, cut): (Vec<&str>, Vec<&str>) = text
        .lines()
        .partition(|line| serde_json::from_str::<serde_json::Value>(line).is_ok());
    assert_eq!(cut.len(), 1, "{text}");
    assert!(cut[0].ends_with("\"sec"), "the cut record: {}", cut[0]);
    let body = |line: &&str| {
        serde_json::from_str::<serde_json::Value>(line).expect("JSON")["body"].clone()
    };
    assert_eq!(whole.first().map(body), Some("first".into()));
    assert_eq!(whole.last().map(body), Some("fourth".into()));
    assert_eq!(stats.emitted, 4);
    assert_eq!(stats.exported, whole.len() as u64);
    assert_eq!(stats.exported + stats.failed, 4);
}

/// A writer that flushes the guard it is given, from the export worker
/// that runs it, and keeps what each flush said.
struct FlushingWriter {
    guard: std::sync::Arc<std::sync::Mutex<Option<otel_log_bridge::Guard>>>,
    results: std::sync::Arc<std::sync::Mutex<Vec<Result<(), otel_log_bridge::FlushError>>>>,
}

impl std::io::Write for FlushingWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Some(guard) = &*self.guard.lock().unwrap() {
            self.results.lock().unwrap().push(guard.flush());
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Regression: a flush asked for on the export worker (by a writer, an
/// exporter or a panic hook running there) waited for that very worker
/// until the timeout, and then said the records were still on their way.
#[test]
fn a_flush_asked_for_on_the_export_worker_fails_instead_of_waiting_for_itself() {
    let guard_slot = std::sync::Arc::default();
    let results = std::sync::Arc::default();
    let writer = FlushingWriter {
        guard: std::sync::Arc::clone(&guard_slot),
        results: std::sync::Arc::clone(&results),
    };
    let (layer, guard) = otel_log_bridge::builder()
        .with_json_writer(writer)
        .with_shutdown_timeout(std::time::Duration::from_millis(300))
        .layer()
        .expect("valid configuration");
    *guard_slot.lock().unwrap() = Some(guard);
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        tracing::info!("written by a writer that flushes");
    });
    // The worker writes on its next cycle; this waits for it, bounded.
    for _ in 0..1000 {
        if !results.lock().unwrap().is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let guard = guard_slot.lock().unwrap().take().expect("the guard");
    guard.shutdown();
    let results = results.lock().unwrap();
    match results.first() {
        Some(Err(otel_log_bridge::FlushError::Failed(reason))) => {
            assert!(reason.contains("own threads"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
}

/// Regression: the console format wrote doubles through `Display`, which
/// never uses an exponent: `1e300` took 301 characters, the smallest
/// double more than 300.
#[test]
fn console_doubles_of_any_magnitude_stay_short() {
    let out = crate::support::SharedBuf::default();
    let builder = otel_log_bridge::builder().with_console_writer(out.clone());
    stats_after(builder, |_| {
        tracing::info!(
            huge = 1e300,
            tiny = f64::MIN_POSITIVE,
            plain = 3.25,
            nan = f64::NAN,
            "doubles"
        );
    });
    let line = out.contents();
    for expected in [
        "huge=1e300",
        "tiny=2.2250738585072014e-308",
        "plain=3.25",
        "nan=NaN",
    ] {
        assert!(line.contains(expected), "{expected} in {line}");
    }
    assert!(line.len() < 300, "{line}");
}

/// Regression: the console escaped direction marks in the body and keys
/// but wrote string and nested values through the JSON escaping, which
/// leaves them as they are: a right-to-left override in a value reversed
/// the rest of the line on a terminal. A key with a space or `=` read as
/// two fields.
#[test]
fn console_values_and_keys_cannot_rearrange_their_line() {
    let out = crate::support::SharedBuf::default();
    let builder = otel_log_bridge::builder().with_console_writer(out.clone());
    stats_after(builder, |_| {
        // A badly named key is what this test writes.
        // otel-log-lint: allow(OLB004)
        tracing::info!(file = "invoice\u{202e}fdp.exe", "a=1 b" = "v", "upload");
    });
    let line = out.contents();
    let terminal_marks: Vec<char> = line
        .trim_end_matches('\n')
        .chars()
        .filter(|&ch| {
            ch.is_control()
                || "\u{61c}\u{200e}\u{200f}\u{2028}\u{2029}".contains(ch)
                || ('\u{202a}'..='\u{202e}').contains(&ch)
                || ('\u{2066}'..='\u{2069}').contains(&ch)
        })
        .collect();
    assert!(terminal_marks.is_empty(), "{terminal_marks:?} in {line}");
    assert!(line.contains(r#"file="invoice\u202efdp.exe""#), "{line}");
    assert!(line.contains(r#" "a=1 b"="v""#), "{line}");
}

/// A value whose `Debug` and `Display` write a little, then fail, as a
/// buggy impl may.
struct FailsPartWayThrough;

impl std::fmt::Debug for FailsPartWayThrough {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("partial")?;
        Err(std::fmt::Error)
    }
}

impl std::fmt::Display for FailsPartWayThrough {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}

impl std::error::Error for FailsPartWayThrough {}

/// An error whose message is fine and whose source fails.
#[derive(Debug)]
struct FailingSource;

impl std::fmt::Display for FailingSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("outer")
    }
}

impl std::error::Error for FailingSource {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&FailsPartWayThrough)
    }
}

/// Regression: a `Display` or `Debug` impl that returned an error panicked
/// the logging call wherever the value was formatted with `to_string` or
/// `format!`: a `log` key-value captured with `:?` or `:%`, a span field,
/// and a `TypedError`'s message or source. Event fields and messages kept
/// what the impl wrote before failing; now every value does.
#[test]
fn a_value_whose_formatting_fails_keeps_what_it_wrote_instead_of_panicking() {
    for (path, builder) in crate::support::builders_for_both_paths() {
        let records = capture(builder, || {
            log::info!(debug:? = FailsPartWayThrough, display:% = FailsPartWayThrough; "log");
            let span = tracing::info_span!(
                "request",
                debug = ?FailsPartWayThrough,
                display = %FailsPartWayThrough,
                cause = &FailsPartWayThrough as &dyn std::error::Error,
                late = tracing::field::Empty,
            );
            span.record("late", tracing::field::debug(&FailsPartWayThrough));
            span.in_scope(|| {
                let typed = otel_log_bridge::TypedError::new(&FailingSource);
                tracing::info!(error = &typed as &dyn std::error::Error, "typed");
                let typed = otel_log_bridge::TypedError::new(&FailsPartWayThrough);
                tracing::info!(error = &typed as &dyn std::error::Error, "in span");
            });
        });
        assert_eq!(records.len(), 3, "{path} path: {records:?}");
        for record in &records[..1] {
            assert_eq!(record["attributes"]["debug"], "partial", "{path} path");
            assert_eq!(record["attributes"]["display"], "partial", "{path} path");
        }
        for record in &records[1..] {
            for key in ["debug", "display", "cause", "late"] {
                assert_eq!(record["attributes"][key], "partial", "{path} path: {key}");
            }
        }
        let typed = &records[1]["attributes"];
        assert_eq!(typed["exception.message"], "outer", "{path} path");
        assert!(
            typed["exception.stacktrace"]
                .as_str()
                .is_some_and(|trace| trace.contains("partial")),
            "{path} path: {typed}"
        );
        assert_eq!(
            records[2]["attributes"]["exception.message"], "partial",
            "{path} path"
        );
    }
}
