//! Self-tests of the in-process OTLP receiver (`support::receiver`): what it
//! decodes must equal what was sent, field by field, over every protocol it
//! speaks, and its scripted answers must reach the client as scripted.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use flate2::write::GzEncoder;
use flate2::Compression;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs, SeverityNumber};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use tonic::codec::CompressionEncoding;
use tonic_types::StatusExt;

use crate::support::receiver::{Protocol, ReceivedRecord, Receiver, Response};

/// Long enough for a loaded two-core machine, short enough to keep a hang
/// from stalling the suite.
const PATIENCE: Duration = Duration::from_secs(5);

/// How long the delayed receivers wait before listening: the first connection
/// attempt must come before that, even on a busy machine.
const LISTEN_DELAY: Duration = Duration::from_secs(3);

/// Between two tries while waiting for a delayed receiver to listen.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

fn key_value(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn resource(service: &str) -> Resource {
    Resource {
        attributes: vec![
            key_value("service.name", Value::StringValue(service.to_owned())),
            key_value("process.pid", Value::IntValue(4242)),
        ],
        dropped_attributes_count: 1,
        ..Default::default()
    }
}

fn scope(name: &str) -> InstrumentationScope {
    InstrumentationScope {
        name: name.to_owned(),
        version: "1.2.3".to_owned(),
        attributes: vec![key_value(
            "scope.kind",
            Value::StringValue("test".to_owned()),
        )],
        dropped_attributes_count: 0,
    }
}

/// A record using every field and every attribute value type.
fn full_record(body: &str) -> LogRecord {
    LogRecord {
        time_unix_nano: 1_764_085_364_123_456_789,
        observed_time_unix_nano: 1_764_085_364_123_456_999,
        severity_number: SeverityNumber::Warn as i32,
        severity_text: "WARN".to_owned(),
        body: Some(AnyValue {
            value: Some(Value::StringValue(body.to_owned())),
        }),
        attributes: vec![
            key_value("text", Value::StringValue("héllo \"quoted\"\n".to_owned())),
            key_value("flag", Value::BoolValue(true)),
            key_value("count", Value::IntValue(i64::MIN)),
            key_value("ratio", Value::DoubleValue(-3.5e-7)),
            key_value("raw", Value::BytesValue(vec![0, 1, 0xfe, 0xff])),
            key_value(
                "list",
                Value::ArrayValue(ArrayValue {
                    values: vec![
                        AnyValue {
                            value: Some(Value::IntValue(1)),
                        },
                        AnyValue {
                            value: Some(Value::StringValue("two".to_owned())),
                        },
                    ],
                }),
            ),
            key_value(
                "map",
                Value::KvlistValue(KeyValueList {
                    values: vec![key_value("inner", Value::BoolValue(false))],
                }),
            ),
        ],
        dropped_attributes_count: 2,
        flags: 1,
        trace_id: (1..=16).collect(),
        span_id: (1..=8).collect(),
        event_name: "test.event".to_owned(),
    }
}

/// Two resources, the first with two scopes: three records in all, so the
/// flattening in `records()` is exercised along both axes.
fn sample_request() -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![
            ResourceLogs {
                resource: Some(resource("first")),
                scope_logs: vec![
                    ScopeLogs {
                        scope: Some(scope("app::a")),
                        log_records: vec![full_record("one")],
                        schema_url: String::new(),
                    },
                    ScopeLogs {
                        scope: Some(scope("app::b")),
                        log_records: vec![full_record("two")],
                        schema_url: String::new(),
                    },
                ],
                schema_url: "https://opentelemetry.io/schemas/1.30.0".to_owned(),
            },
            ResourceLogs {
                resource: Some(resource("second")),
                scope_logs: vec![ScopeLogs {
                    scope: None,
                    log_records: vec![full_record("three")],
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            },
        ],
    }
}

fn expected_records() -> Vec<ReceivedRecord> {
    vec![
        ReceivedRecord {
            resource: Some(resource("first")),
            scope: Some(scope("app::a")),
            record: full_record("one"),
        },
        ReceivedRecord {
            resource: Some(resource("first")),
            scope: Some(scope("app::b")),
            record: full_record("two"),
        },
        ReceivedRecord {
            resource: Some(resource("second")),
            scope: None,
            record: full_record("three"),
        },
    ]
}

/// Compares record by record, so a mismatch names the record that differs.
fn assert_records_eq(actual: &[ReceivedRecord], expected: &[ReceivedRecord]) {
    assert_eq!(actual.len(), expected.len(), "record count");
    for (index, (actual, expected)) in actual.iter().zip(expected).enumerate() {
        assert_eq!(
            actual.resource, expected.resource,
            "resource of record {index}"
        );
        assert_eq!(actual.scope, expected.scope, "scope of record {index}");
        assert_eq!(actual.record, expected.record, "record {index}");
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).expect("compress in memory");
    encoder.finish().expect("compress in memory")
}

/// A minimal OTLP/HTTP client: one POST, the answer whatever its status.
struct Posted {
    status: u16,
    content_type: Option<String>,
    retry_after: Option<String>,
    body: Vec<u8>,
}

fn post(url: &str, headers: &[(&str, &str)], body: &[u8]) -> Result<Posted, ureq::Error> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .timeout_global(Some(PATIENCE))
        .build()
        .into();
    let mut request = agent.post(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let mut response = request.send(body)?;
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|value| value.to_str().expect("ASCII header").to_owned())
    };
    let (content_type, retry_after) = (header("content-type"), header("retry-after"));
    Ok(Posted {
        status: response.status().as_u16(),
        content_type,
        retry_after,
        body: response.body_mut().read_to_vec()?,
    })
}

fn logs_url(receiver: &Receiver) -> String {
    format!("{}/v1/logs", receiver.endpoint())
}

fn post_protobuf(receiver: &Receiver, request: &ExportLogsServiceRequest) -> Posted {
    post(
        &logs_url(receiver),
        &[("content-type", Protocol::HttpProtobuf.content_type())],
        &request.encode_to_vec(),
    )
    .expect("receiver answers")
}

fn socket_address(receiver: &Receiver) -> SocketAddr {
    let endpoint = receiver.endpoint();
    let authority = endpoint.strip_prefix("http://").expect("http:// endpoint");
    authority.parse().expect("IP:port endpoint")
}

fn connection_refused(receiver: &Receiver) -> bool {
    match TcpStream::connect_timeout(&socket_address(receiver), PATIENCE) {
        Ok(_) => false,
        Err(error) => error.kind() == std::io::ErrorKind::ConnectionRefused,
    }
}

/// Runs a future on a fresh runtime, like a test without one would.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("test runtime")
        .block_on(future)
}

async fn grpc_client(receiver: &Receiver) -> LogsServiceClient<tonic::transport::Channel> {
    let channel = tonic::transport::Endpoint::from_shared(receiver.endpoint())
        .expect("valid endpoint")
        .connect_timeout(PATIENCE)
        .timeout(PATIENCE)
        .connect()
        .await
        .expect("connect to the gRPC receiver");
    LogsServiceClient::new(channel)
}

#[test]
fn http_protobuf_request_is_decoded_field_by_field() {
    let receiver = Receiver::http();
    let sent = sample_request();

    let posted = post(
        &logs_url(&receiver),
        &[
            ("content-type", "application/x-protobuf"),
            ("api-key", "secret-1"),
        ],
        &sent.encode_to_vec(),
    )
    .expect("receiver answers");

    assert_eq!(posted.status, 200);
    assert_eq!(
        posted.content_type.as_deref(),
        Some("application/x-protobuf")
    );
    let answer = ExportLogsServiceResponse::decode(&posted.body[..]).expect("protobuf answer");
    assert_eq!(answer, ExportLogsServiceResponse::default());
    assert_eq!(receiver.requests(), vec![sent]);
    assert_records_eq(&receiver.records(), &expected_records());
    assert_eq!(receiver.attempts(), 1);
    assert_eq!(receiver.content_types(), ["application/x-protobuf"]);
    assert_eq!(receiver.content_encodings(), [None]);
    assert_eq!(receiver.headers()[0]["api-key"], "secret-1");
}

#[test]
fn http_json_request_is_decoded_field_by_field() {
    let receiver = Receiver::for_protocol(Protocol::HttpJson);
    let sent = sample_request();
    let json = serde_json::to_vec(&sent).expect("OTLP/JSON");

    let posted = post(
        &logs_url(&receiver),
        &[("content-type", "application/json; charset=utf-8")],
        &json,
    )
    .expect("receiver answers");

    assert_eq!(posted.status, 200);
    assert_eq!(posted.content_type.as_deref(), Some("application/json"));
    let answer: ExportLogsServiceResponse =
        serde_json::from_slice(&posted.body).expect("JSON answer");
    assert_eq!(answer, ExportLogsServiceResponse::default());
    assert_records_eq(&receiver.records(), &expected_records());
    assert_eq!(
        receiver.content_types(),
        ["application/json; charset=utf-8"]
    );
}

/// OTLP/JSON as the specification writes it (and as an exporter writing JSON
/// by hand would): lowerCamelCase keys, 64-bit integers as strings, ids as
/// hex, enums as numbers.
#[test]
fn http_json_in_specification_form_is_decoded() {
    let receiver = Receiver::http();
    let json = r#"{"resourceLogs":[{
        "resource":{"attributes":[{"key":"service.name","value":{"stringValue":"svc"}}]},
        "scopeLogs":[{"scope":{"name":"app"},"logRecords":[{
            "timeUnixNano":"1764085364123456789",
            "observedTimeUnixNano":"1764085364123456790",
            "severityNumber":9,"severityText":"INFO",
            "body":{"stringValue":"request handled"},
            "attributes":[{"key":"user.id","value":{"intValue":"42"}},
                          {"key":"latency_ms","value":{"doubleValue":3.5}}],
            "traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174",
            "flags":1}]}]}]}"#;

    let posted = post(
        &logs_url(&receiver),
        &[("content-type", "application/json")],
        json.as_bytes(),
    )
    .expect("receiver answers");

    assert_eq!(
        posted.status,
        200,
        "{}",
        String::from_utf8_lossy(&posted.body)
    );
    let records = receiver.records();
    assert_eq!(records.len(), 1);
    let record = &records[0].record;
    assert_eq!(record.time_unix_nano, 1_764_085_364_123_456_789);
    assert_eq!(record.observed_time_unix_nano, 1_764_085_364_123_456_790);
    assert_eq!(record.severity_number, SeverityNumber::Info as i32);
    assert_eq!(record.severity_text, "INFO");
    assert_eq!(
        record.body,
        Some(AnyValue {
            value: Some(Value::StringValue("request handled".to_owned()))
        })
    );
    assert_eq!(
        record.attributes,
        [
            key_value("user.id", Value::IntValue(42)),
            key_value("latency_ms", Value::DoubleValue(3.5)),
        ]
    );
    assert_eq!(
        record.trace_id,
        [
            0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f,
            0xc6, 0x0c
        ]
    );
    assert_eq!(
        record.span_id,
        [0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74]
    );
    assert_eq!(record.flags, 1);
    assert_eq!(
        records[0].scope.as_ref().map(|s| s.name.as_str()),
        Some("app")
    );
    assert_eq!(
        records[0].resource.as_ref().map(|r| r.attributes.clone()),
        Some(vec![key_value(
            "service.name",
            Value::StringValue("svc".to_owned())
        )])
    );
}

#[test]
fn gzip_bodies_are_decompressed() {
    let receiver = Receiver::http();
    let sent = sample_request();

    let protobuf = post(
        &logs_url(&receiver),
        &[
            ("content-type", "application/x-protobuf"),
            ("content-encoding", "gzip"),
        ],
        &gzip(&sent.encode_to_vec()),
    )
    .expect("receiver answers");
    let json = post(
        &logs_url(&receiver),
        &[
            ("content-type", "application/json"),
            ("content-encoding", "gzip"),
        ],
        &gzip(&serde_json::to_vec(&sent).expect("OTLP/JSON")),
    )
    .expect("receiver answers");

    assert_eq!((protobuf.status, json.status), (200, 200));
    assert_eq!(receiver.requests(), vec![sent.clone(), sent]);
    assert_eq!(
        receiver.content_encodings(),
        [Some("gzip".to_owned()), Some("gzip".to_owned())]
    );
    assert!(receiver.wait_for_records(6, PATIENCE));
}

#[test]
fn scripted_answers_are_given_in_order_then_success() {
    let receiver = Receiver::http();
    receiver.respond_with([
        Response::Status {
            code: 503,
            retry_after: Some("7".to_owned()),
        },
        Response::PartialSuccess {
            rejected: 2,
            message: "two records too large".to_owned(),
        },
    ]);
    receiver.respond_with([Response::Status {
        code: 429,
        retry_after: None,
    }]);
    let sent = sample_request();

    let unavailable = post_protobuf(&receiver, &sent);
    assert_eq!(unavailable.status, 503);
    assert_eq!(unavailable.retry_after.as_deref(), Some("7"));
    let status = tonic_types::Status::decode(&unavailable.body[..]).expect("google.rpc.Status");
    assert_eq!(status.code, tonic::Code::Unavailable as i32);
    assert!(receiver.records().is_empty(), "a 503 accepts nothing");
    assert_eq!(receiver.attempts(), 1);

    let partial = post(
        &logs_url(&receiver),
        &[("content-type", "application/json")],
        &serde_json::to_vec(&sent).expect("OTLP/JSON"),
    )
    .expect("receiver answers");
    assert_eq!(partial.status, 200);
    // As a collector writes it: the 64-bit count as a decimal string.
    let answer: serde_json::Value = serde_json::from_slice(&partial.body).expect("JSON answer");
    assert_eq!(
        answer,
        serde_json::json!({"partialSuccess": {
            "rejectedLogRecords": "2",
            "errorMessage": "two records too large",
        }})
    );

    let throttled = post_protobuf(&receiver, &sent);
    assert_eq!((throttled.status, throttled.retry_after), (429, None));

    let accepted = post_protobuf(&receiver, &sent);
    assert_eq!(accepted.status, 200);

    assert_eq!(receiver.attempts(), 4);
    assert!(receiver.wait_for_attempts(4, PATIENCE));
    assert_eq!(receiver.requests(), vec![sent.clone(), sent]);
    assert_eq!(receiver.records().len(), 6);
}

#[test]
fn malformed_requests_get_an_error_and_record_nothing() {
    let receiver = Receiver::http();
    let protobuf = [("content-type", "application/x-protobuf")];
    // Field 1, length-delimited, announcing 100 bytes and carrying one.
    let truncated = post(&logs_url(&receiver), &protobuf, &[0x0a, 0x64, 0x01]).expect("answer");
    let bad_json = post(
        &logs_url(&receiver),
        &[("content-type", "application/json")],
        b"{\"resourceLogs\": [",
    )
    .expect("answer");
    let not_gzip = post(
        &logs_url(&receiver),
        &[
            ("content-type", "application/x-protobuf"),
            ("content-encoding", "gzip"),
        ],
        &sample_request().encode_to_vec(),
    )
    .expect("answer");
    let unknown_encoding = post(
        &logs_url(&receiver),
        &[
            ("content-type", "application/x-protobuf"),
            ("content-encoding", "br"),
        ],
        b"",
    )
    .expect("answer");
    let unknown_type = post(
        &logs_url(&receiver),
        &[("content-type", "text/plain")],
        b"hello",
    )
    .expect("answer");
    let wrong_path = post(
        &format!("{}/v1/traces", receiver.endpoint()),
        &protobuf,
        &sample_request().encode_to_vec(),
    )
    .expect("answer");

    assert_eq!(truncated.status, 400);
    assert_eq!(
        truncated.content_type.as_deref(),
        Some("application/x-protobuf")
    );
    let status = tonic_types::Status::decode(&truncated.body[..]).expect("google.rpc.Status");
    assert_eq!(status.code, tonic::Code::InvalidArgument as i32);
    assert!(!status.message.is_empty());
    assert_eq!(bad_json.status, 400);
    let json_status: serde_json::Value =
        serde_json::from_slice(&bad_json.body).expect("JSON error body");
    assert_eq!(json_status["code"], tonic::Code::InvalidArgument as i32);
    assert_eq!(not_gzip.status, 400);
    assert_eq!(unknown_encoding.status, 415);
    assert_eq!(unknown_type.status, 415);
    assert_eq!(wrong_path.status, 404);
    assert!(receiver.requests().is_empty());
    assert_eq!(receiver.attempts(), 6);
    assert!(!receiver.wait_for_records(1, Duration::from_millis(20)));

    // The server survived all of it.
    assert_eq!(post_protobuf(&receiver, &sample_request()).status, 200);
    assert_eq!(receiver.records().len(), 3);
}

#[test]
fn grpc_export_is_decoded_field_by_field() {
    let receiver = Receiver::for_protocol(Protocol::Grpc);
    let sent = sample_request();

    let answer = block_on(async {
        let mut client = grpc_client(&receiver)
            .await
            .send_compressed(CompressionEncoding::Gzip);
        let mut request = tonic::Request::new(sent.clone());
        request
            .metadata_mut()
            .insert("api-key", "secret-2".parse().expect("ASCII value"));
        client.export(request).await
    })
    .expect("export succeeds");

    assert_eq!(answer.into_inner(), ExportLogsServiceResponse::default());
    assert_eq!(receiver.requests(), vec![sent]);
    assert_records_eq(&receiver.records(), &expected_records());
    assert_eq!(receiver.content_types(), [Protocol::Grpc.content_type()]);
    assert_eq!(receiver.content_encodings(), [Some("gzip".to_owned())]);
    assert_eq!(receiver.headers()[0]["api-key"], "secret-2");
}

#[test]
fn grpc_scripted_answers_carry_codes_retry_info_and_partial_success() {
    let receiver = Receiver::grpc();
    receiver.respond_with([
        Response::Grpc {
            code: tonic::Code::Unavailable,
            retry_after: Some(Duration::from_secs(3)),
        },
        Response::PartialSuccess {
            rejected: 1,
            message: "one record dropped".to_owned(),
        },
    ]);
    let sent = sample_request();

    let (unavailable, partial) = block_on(async {
        let mut client = grpc_client(&receiver).await;
        let unavailable = client.export(sent.clone()).await;
        let partial = client.export(sent.clone()).await;
        (unavailable, partial)
    });

    let status = unavailable.expect_err("scripted failure");
    assert_eq!(status.code(), tonic::Code::Unavailable);
    let retry_info = status.get_details_retry_info().expect("RetryInfo detail");
    assert_eq!(retry_info.retry_delay, Some(Duration::from_secs(3)));
    let partial_success = partial
        .expect("partial success is a success")
        .into_inner()
        .partial_success
        .expect("partial success in the answer");
    assert_eq!(partial_success.rejected_log_records, 1);
    assert_eq!(partial_success.error_message, "one record dropped");
    assert_eq!(receiver.attempts(), 2);
    assert_eq!(receiver.requests(), vec![sent]);
    assert_eq!(receiver.content_encodings(), [None, None]);
}

#[test]
fn http_later_refuses_connections_until_it_listens() {
    let receiver = Receiver::http_later(LISTEN_DELAY);
    assert!(connection_refused(&receiver), "nothing listens yet");

    let deadline = Instant::now() + PATIENCE;
    let posted = loop {
        match post(
            &logs_url(&receiver),
            &[("content-type", "application/x-protobuf")],
            &sample_request().encode_to_vec(),
        ) {
            Ok(posted) => break posted,
            Err(error) if Instant::now() < deadline => {
                assert!(
                    matches!(error, ureq::Error::Io(_) | ureq::Error::ConnectionFailed),
                    "only connecting may fail: {error}"
                );
                std::thread::sleep(POLL_INTERVAL);
            }
            Err(error) => panic!("still not listening after {PATIENCE:?}: {error}"),
        }
    };
    assert_eq!(posted.status, 200);
    assert!(receiver.wait_for_records(3, PATIENCE));
    assert_eq!(
        receiver.attempts(),
        1,
        "refused connections are no attempts"
    );
}

#[test]
fn grpc_later_refuses_connections_until_it_listens() {
    let receiver = Receiver::grpc_later(LISTEN_DELAY);
    assert!(connection_refused(&receiver), "nothing listens yet");

    let deadline = Instant::now() + PATIENCE;
    while connection_refused(&receiver) {
        assert!(
            Instant::now() < deadline,
            "still not listening after {PATIENCE:?}"
        );
        std::thread::sleep(POLL_INTERVAL);
    }
    let answer = block_on(async { grpc_client(&receiver).await.export(sample_request()).await });
    assert!(answer.is_ok(), "{answer:?}");
    assert_eq!(receiver.records().len(), 3);
}

#[test]
fn protocols_name_their_environment_value_and_content_type() {
    let names: Vec<_> = Protocol::ALL
        .iter()
        .map(|p| (p.env_value(), p.content_type()))
        .collect();
    assert_eq!(
        names,
        [
            ("http/protobuf", "application/x-protobuf"),
            ("http/json", "application/json"),
            ("grpc", "application/grpc"),
        ]
    );
}

#[test]
#[should_panic(expected = "gRPC answer scripted on an HTTP receiver")]
fn grpc_answer_on_http_receiver_is_refused_where_scripted() {
    Receiver::http().respond_with([Response::Grpc {
        code: tonic::Code::Unavailable,
        retry_after: None,
    }]);
}

#[test]
#[should_panic(expected = "HTTP status scripted on a gRPC receiver")]
fn http_status_on_grpc_receiver_is_refused_where_scripted() {
    Receiver::grpc().respond_with([Response::Status {
        code: 503,
        retry_after: None,
    }]);
}

#[test]
fn a_counting_receiver_counts_records_without_keeping_them() {
    let receiver = crate::support::receiver::Receiver::http_counting();
    let (layer, guard) = otel_log_bridge::builder()
        .with_otlp_endpoint(format!("{}/v1/logs", receiver.endpoint()))
        .layer()
        .expect("valid configuration");
    let subscriber =
        tracing_subscriber::layer::SubscriberExt::with(tracing_subscriber::registry(), layer);
    tracing::subscriber::with_default(subscriber, || {
        for i in 0..25 {
            tracing::info!(i, "counted");
        }
    });
    let stats = guard.shutdown();
    assert_eq!(stats.exported, 25);
    assert_eq!(receiver.record_count(), 25);
    assert!(receiver.records().is_empty());
}
