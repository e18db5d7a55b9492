//! Randomised round trips (deterministic seeds): whatever the keys, values
//! and bodies, every JSON line parses back to the same values, and every
//! OTLP-JSON line decodes to the same records the protobuf path sends.

use log::kv::{Key, Source, Value as KvValue, VisitSource};
use serde_json::Value;

use crate::support::{capture, SharedBuf};

const RECORDS: usize = 300;

/// Text drawn from a mix of ASCII, JSON metacharacters, control
/// characters, multi-byte and line-separator characters.
fn random_text(rng: &mut fastrand::Rng) -> String {
    const PIECES: [&str; 16] = [
        "a", "Z", "0", " ", "\"", "\\", "\n", "\r", "\t", "\u{0}", "\u{1b}", "\u{7f}", "\u{85}",
        "\u{2028}", "é", "😀",
    ];
    let len = rng.usize(0..40);
    (0..len)
        .map(|_| PIECES[rng.usize(..PIECES.len())])
        .collect()
}

#[derive(Clone, Debug)]
enum Random {
    Int(i64),
    Float(f64),
    Bool(bool),
    Text(String),
}

impl Random {
    fn draw(rng: &mut fastrand::Rng) -> Random {
        match rng.u8(0..4) {
            0 => Random::Int(rng.i64(..)),
            // Any bit pattern is rarely a special value: those come an
            // eighth of the time.
            1 if rng.u8(0..8) == 0 => Random::Float(match rng.u8(0..5) {
                0 => f64::NAN,
                1 => f64::INFINITY,
                2 => f64::NEG_INFINITY,
                3 => -0.0,
                _ => f64::MIN_POSITIVE / 2.0,
            }),
            1 => Random::Float(f64::from_bits(rng.u64(..))),
            2 => Random::Bool(rng.bool()),
            _ => Random::Text(random_text(rng)),
        }
    }

    fn expected_json(&self) -> Value {
        match self {
            Random::Int(i) => Value::from(*i),
            Random::Float(f) if f.is_nan() => Value::from("NaN"),
            Random::Float(f) if f.is_infinite() && *f > 0.0 => Value::from("Infinity"),
            Random::Float(f) if f.is_infinite() => Value::from("-Infinity"),
            Random::Float(f) => Value::from(*f),
            Random::Bool(b) => Value::from(*b),
            Random::Text(s) => Value::from(s.as_str()),
        }
    }
}

struct Pairs(Vec<(String, Random)>);

impl Source for Pairs {
    fn visit<'kvs>(&'kvs self, visitor: &mut dyn VisitSource<'kvs>) -> Result<(), log::kv::Error> {
        for (key, value) in &self.0 {
            let value = match value {
                Random::Int(i) => KvValue::from(*i),
                Random::Float(f) => KvValue::from(*f),
                Random::Bool(b) => KvValue::from(*b),
                Random::Text(s) => KvValue::from(s.as_str()),
            };
            visitor.visit_pair(Key::from_str(key), value)?;
        }
        Ok(())
    }
}

/// Random records as `(body, unique key-values)`.
fn random_records(seed: u64) -> Vec<(String, Vec<(String, Random)>)> {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..RECORDS)
        .map(|_| {
            let body = random_text(&mut rng);
            let mut pairs: Vec<(String, Random)> = Vec::new();
            for _ in 0..rng.usize(0..8) {
                // Prefixed so that no random key collides with a bridge
                // attribute or a redacted word.
                let key = format!("k{}{}", pairs.len(), random_text(&mut rng));
                pairs.push((key, Random::draw(&mut rng)));
            }
            (body, pairs)
        })
        .collect()
}

fn log_all(records: &[(String, Vec<(String, Random)>)]) {
    for (body, pairs) in records {
        let pairs = Pairs(pairs.clone());
        log::logger().log(
            &log::Record::builder()
                .level(log::Level::Info)
                .target("random")
                .args(format_args!("{body}"))
                .key_values(&pairs)
                .build(),
        );
    }
}

#[test]
fn random_records_survive_the_json_lines_round_trip() {
    for seed in [1, 2, 3] {
        let records = random_records(seed);
        let lines = capture(
            otel_log_bridge::builder()
                .with_redacted_keys(Vec::<String>::new())
                .with_thread_attributes(false),
            || log_all(&records),
        );
        assert_eq!(lines.len(), RECORDS, "one line per record (seed {seed})");
        for ((body, pairs), line) in records.iter().zip(&lines) {
            assert_eq!(line["body"], body.as_str(), "seed {seed}");
            for (key, value) in pairs {
                assert_eq!(
                    line["attributes"][key],
                    value.expected_json(),
                    "seed {seed}, key {key:?}"
                );
            }
        }
    }
}

#[cfg(feature = "otlp")]
#[test]
fn random_records_decode_the_same_from_otlp_json_lines() {
    use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
    use opentelemetry_proto::tonic::logs::v1::LogsData;

    for seed in [4, 5] {
        let records = random_records(seed);
        let out = SharedBuf::default();
        let _ = capture(
            otel_log_bridge::builder()
                .with_redacted_keys(Vec::<String>::new())
                .with_exporters([otel_log_bridge::Exporter::OtlpJson])
                .with_otlp_json_writer(out.clone()),
            || log_all(&records),
        );
        let mut decoded = Vec::new();
        for line in out.contents().lines() {
            let data: LogsData = serde_json::from_str(line).expect("each line is LogsData");
            for resource_logs in data.resource_logs {
                for scope_logs in resource_logs.scope_logs {
                    decoded.extend(scope_logs.log_records);
                }
            }
        }
        assert_eq!(decoded.len(), RECORDS, "seed {seed}");
        for ((body, pairs), record) in records.iter().zip(&decoded) {
            let got_body = record.body.as_ref().and_then(|b| b.value.clone());
            assert_eq!(
                got_body,
                Some(Any::StringValue(body.clone())),
                "seed {seed}"
            );
            for (key, value) in pairs {
                let got = record
                    .attributes
                    .iter()
                    .find(|kv| &kv.key == key)
                    .and_then(|kv| kv.value.as_ref())
                    .and_then(|v| v.value.clone());
                let matches = match (value, &got) {
                    (Random::Int(i), Some(Any::IntValue(g))) => i == g,
                    (Random::Float(f), Some(Any::DoubleValue(g))) => f.to_bits() == g.to_bits(),
                    // OTLP-JSON writes a non-finite double as its text
                    // (see the README's mapping table).
                    (Random::Float(f), Some(Any::StringValue(g))) if !f.is_finite() => {
                        value.expected_json() == g.as_str()
                    }
                    (Random::Bool(b), Some(Any::BoolValue(g))) => b == g,
                    (Random::Text(s), Some(Any::StringValue(g))) => s == g,
                    _ => false,
                };
                assert!(
                    matches,
                    "seed {seed}, key {key:?}: sent {value:?}, got {got:?}"
                );
            }
        }
    }
}
