//! OTLP/HTTP with a blocking client on the worker thread: no async runtime
//! is needed, and everything the HTTP stack logs happens on a suppressed
//! thread, so it is never exported.

use std::io::Write as _;
use std::time::SystemTime;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
use prost::Message as _;
use ureq::tls::{ClientCert, RootCerts, TlsConfig};

use crate::config::otlp::{endpoint_for_reports, Compression, OtlpSettings, Protocol, TlsFiles};
use crate::error::InitError;
use crate::export::failure::FailureCause;
use crate::export::otlp::proxy::proxy_for;
use crate::export::otlp::retry::parse_retry_after;
use crate::export::otlp::{
    partial_success, readable, write_otlp_json, Outcome, Transport, MAX_RESPONSE_BYTES,
    TARGET_REQUEST_BYTES, USER_AGENT,
};

/// The size of an encoded request an OTLP/JSON batch is cut before. Its JSON
/// form is several times larger: about five times for records of short
/// fields (quoted keys and field names, ids in hex, 64-bit integers as
/// strings), six for text of control characters (each escaped as
/// `\u00XX`). A batch cut at 4 MiB, as protobuf batches are, could so
/// pass the 20 MiB the collector's OTLP/HTTP receiver takes by default,
/// which refuses the request with `413` and the whole batch with it; cut
/// at 512 KiB it stays far below.
const JSON_REQUEST_TARGET: usize = TARGET_REQUEST_BYTES / 8;

/// Sends requests to one OTLP/HTTP endpoint.
pub(crate) struct HttpTransport {
    agent: ureq::Agent,
    endpoint: String,
    /// The endpoint as reports show it (`endpoint_for_reports`).
    shown_endpoint: String,
    json: bool,
    gzip: bool,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl HttpTransport {
    pub(crate) fn new(settings: &OtlpSettings) -> Result<HttpTransport, InitError> {
        // `None` (a timeout of 0 in the configuration) leaves the phases
        // unbounded.
        let timeout = settings.request_timeout();
        // `ureq` resolves the host name before every request, pooled
        // connection or not, and does so on a thread of its own whenever
        // the request has an overall (global or per-call) timeout, so that
        // it can give up on a slow answer: a thread started and torn down
        // per request, which cost more than encoding the request's 512
        // records. Each phase of a request is bounded instead; resolving
        // is bounded by the system resolver's own timeouts.
        let config = ureq::Agent::config_builder()
            .proxy(proxy_for(&settings.endpoint))
            .timeout_connect(timeout)
            .timeout_send_request(timeout)
            .timeout_send_body(timeout)
            .timeout_recv_response(timeout)
            .timeout_recv_body(timeout)
            // Status codes are classified here, by the OTLP retry rules.
            .http_status_as_error(false)
            // A redirect is not followed: `ureq` would resend a 301, 302
            // or 303 as a GET without the records, and carry the
            // configured headers (API keys) to whatever host it names.
            .max_redirects(0)
            .user_agent(USER_AGENT);
        // The TLS files serve secure connections only, as the specification
        // says and as over gRPC: a stale certificate variable must not stop
        // export to an `http://` collector.
        let config = if settings.endpoint.starts_with("https://") {
            config.tls_config(tls_config(&settings.tls)?)
        } else {
            config
        }
        .build();
        Ok(HttpTransport {
            agent: config.into(),
            endpoint: settings.endpoint.clone(),
            shown_endpoint: endpoint_for_reports(&settings.endpoint),
            json: settings.protocol == Protocol::HttpJson,
            gzip: settings.compression == Compression::Gzip,
            headers: settings.headers.clone(),
            body: Vec::new(),
        })
    }

    /// What goes on the wire for `request`: the request itself when it is
    /// sent as it is (uncompressed protobuf), else `self.body` filled with
    /// its JSON form and/or gzip.
    fn prepare_body<'a>(&'a mut self, request: &'a [u8]) -> Result<&'a [u8], String> {
        let payload: std::borrow::Cow<'_, [u8]> = if self.json {
            let mut json = Vec::new();
            write_otlp_json(request, &mut json)?;
            json.into()
        } else {
            request.into()
        };
        if !self.gzip {
            return Ok(match payload {
                std::borrow::Cow::Borrowed(request) => request,
                std::borrow::Cow::Owned(json) => {
                    self.body = json;
                    &self.body
                }
            });
        }
        self.body.clear();
        let mut encoder =
            flate2::write::GzEncoder::new(&mut self.body, flate2::Compression::fast());
        encoder
            .write_all(&payload)
            .and_then(|()| encoder.finish().map(drop))
            .map_err(|e| format!("gzip failed: {e}"))?;
        Ok(&self.body)
    }

    fn content_type(&self) -> &'static str {
        if self.json {
            "application/json"
        } else {
            "application/x-protobuf"
        }
    }

    fn read_accepted(&self, status: u16, body: &[u8], content_type: Option<&str>) -> Outcome {
        // An empty 200 body is an empty response message: full success.
        // The server should answer in the request's format; one that says
        // it answered in the other is read in that, so that its partial
        // success is not lost to the mismatch.
        let read = if answered_in_json(content_type).unwrap_or(self.json) {
            json_partial_success(body)
        } else {
            ExportLogsServiceResponse::decode(body)
                .ok()
                .and_then(partial_success)
        };
        let (rejected, message) = read.unwrap_or_else(|| {
            // A web server that is no collector (a wrong path behind a
            // proxy, a login page) answers 200 as well: the records were
            // likely not ingested, which nothing else would tell.
            // Said once per endpoint, status and content type: nothing in
            // the text varies from one answer to the next.
            crate::diag::warn(format_args!(
                "{} answered HTTP {status} with a body that is not an OTLP response (Content-Type: {}); the records are counted as exported, but the endpoint may not be an OTLP/HTTP logs receiver",
                self.shown_endpoint,
                readable(content_type.unwrap_or("none")),
            ));
            (0, String::new())
        });
        Outcome::Accepted { rejected, message }
    }
}

/// Whether a response's `Content-Type` names OTLP/JSON (`Some(true)`) or
/// OTLP/protobuf (`Some(false)`); `None` for any other type, or none.
fn answered_in_json(content_type: Option<&str>) -> Option<bool> {
    let media_type = content_type?.split(';').next()?.trim();
    if media_type.eq_ignore_ascii_case("application/json") {
        Some(true)
    } else if media_type.eq_ignore_ascii_case("application/x-protobuf")
        || media_type.eq_ignore_ascii_case("application/protobuf")
    {
        Some(false)
    } else {
        None
    }
}

/// The rejected count and message of an OTLP/JSON response's partial
/// success. The count is a 64-bit integer, which proto3 JSON writes as a
/// decimal string (as the collector does) and readers must also accept as a
/// number; field names may be in lowerCamelCase or as in the proto file,
/// and a `null` field is one not set. `opentelemetry-proto`'s serde type
/// reads only the number, so the response is read field by field. `None`
/// when the body is not such a response: not JSON, not an object, or a
/// partial success whose parts have other types (a count that is negative
/// or no number), which would otherwise pass for a full success.
fn json_partial_success(body: &[u8]) -> Option<(u64, String)> {
    use serde_json::Value;
    if body.is_empty() {
        return Some((0, String::new()));
    }
    let Value::Object(response) = serde_json::from_slice::<Value>(body).ok()? else {
        return None;
    };
    let field = |object: &'_ serde_json::Map<String, Value>, camel: &str, snake: &str| {
        object
            .get(camel)
            .or_else(|| object.get(snake))
            .filter(|value| !value.is_null())
            .cloned()
    };
    let partial = match field(&response, "partialSuccess", "partial_success") {
        None => return Some((0, String::new())),
        Some(Value::Object(partial)) => partial,
        Some(_) => return None,
    };
    let rejected = match field(&partial, "rejectedLogRecords", "rejected_log_records") {
        None => 0,
        Some(Value::Number(count)) => count.as_u64()?,
        Some(Value::String(count)) => count.trim().parse().ok()?,
        Some(_) => return None,
    };
    let message = match field(&partial, "errorMessage", "error_message") {
        None => String::new(),
        Some(Value::String(message)) => message,
        Some(_) => return None,
    };
    Some((rejected, message))
}

impl Transport for HttpTransport {
    fn request_target(&self) -> usize {
        if self.json {
            JSON_REQUEST_TARGET
        } else {
            TARGET_REQUEST_BYTES
        }
    }

    fn send(&mut self, request: &[u8]) -> Outcome {
        let mut call = self
            .agent
            .post(&self.endpoint)
            .header("Content-Type", self.content_type());
        if self.gzip {
            call = call.header("Content-Encoding", "gzip");
        }
        for (name, value) in &self.headers {
            call = call.header(name.as_str(), value.as_str());
        }
        let body = match self.prepare_body(request) {
            Ok(body) => body,
            Err(reason) => {
                return Outcome::Failed {
                    reason,
                    about_endpoint: false,
                    cause: FailureCause::INTERNAL_ERROR,
                }
            }
        };
        let sent = call.send(body);
        // The room a huge request's body took (its JSON form can be several
        // times its 64 MiB bound) is not kept for the rest of the process;
        // a body of the usual size (a gzipped request, or the JSON of one
        // cut at `JSON_REQUEST_TARGET`, a few times that) keeps its buffer
        // for the next.
        self.body.clear();
        self.body.shrink_to(TARGET_REQUEST_BYTES);
        let mut response = match sent {
            Ok(response) => response,
            Err(error) => return classify_transport_error(error),
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| parse_retry_after(value, SystemTime::now()));
        let content_type = response
            .headers()
            .get("content-type")
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
        let location = response
            .headers()
            .get("location")
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
        let read = response
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE_BYTES as u64)
            .read_to_vec();
        let body = read.as_deref().unwrap_or_default();
        match status {
            200..=299 => match &read {
                Ok(body) => self.read_accepted(status, body, content_type.as_deref()),
                Err(_) => {
                    // The error would name the size read so far, which
                    // varies: the text is said once.
                    crate::diag::warn(format_args!(
                        "{} answered HTTP {status} with a response that could not be read, or larger than the {MAX_RESPONSE_BYTES} bytes read; the records are counted as exported, without any partial success it may have told",
                        self.shown_endpoint,
                    ));
                    Outcome::Accepted {
                        rejected: 0,
                        message: String::new(),
                    }
                }
            },
            429 | 502 | 503 | 504 => Outcome::Retry {
                after: retry_after,
                reason: format!("HTTP {status} from {}", self.shown_endpoint),
                cause: FailureCause::HttpStatus(status),
            },
            300..=399 => Outcome::Failed {
                about_endpoint: true,
                cause: FailureCause::HttpStatus(status),
                reason: format!(
                    "HTTP {status} from {}: redirects are not followed; configure the endpoint it names ({})",
                    self.shown_endpoint,
                    // Shown as the endpoint is: a redirect keeps the
                    // request's query, a token in it included.
                    location.as_deref().map_or_else(
                        || "no Location given".to_owned(),
                        |location| readable(&endpoint_for_reports(location))
                    )
                ),
            },
            // A request the collector found malformed or too large is
            // refused for what it holds; anything else (no such path,
            // credentials, a failing server) refuses every request.
            _ => Outcome::Failed {
                about_endpoint: !matches!(status, 400 | 413),
                cause: FailureCause::HttpStatus(status),
                reason: format!(
                    "HTTP {status} from {}: {}",
                    self.shown_endpoint,
                    // In the format the answer names, as for a success.
                    readable(&error_message(
                        body,
                        answered_in_json(content_type.as_deref()).unwrap_or(self.json)
                    ))
                ),
            },
        }
    }
}

/// What a collector says about a refused request: the `message` of the
/// `google.rpc.Status` the specification asks for in the body (protobuf,
/// or JSON for OTLP/JSON), else the body as text, as a proxy's page is.
fn error_message(body: &[u8], json: bool) -> String {
    let message = if json {
        serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|status| status.get("message")?.as_str().map(str::to_owned))
    } else {
        RpcStatus::decode(body).ok().map(|status| status.message)
    };
    match message {
        Some(message) if !message.is_empty() => message,
        _ => String::from_utf8_lossy(body).into_owned(),
    }
}

/// The part of `google.rpc.Status` an error report shows.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(string, tag = "2")]
    message: String,
}

/// Connection problems are retried, TLS failures included (the
/// specification retries a collector it cannot connect to, and a
/// certificate may be renewed meanwhile); a request that can never succeed
/// (a malformed URL) is not.
fn classify_transport_error(error: ureq::Error) -> Outcome {
    let cause = match &error {
        ureq::Error::Timeout(_) => FailureCause::TIMEOUT,
        ureq::Error::HostNotFound | ureq::Error::ConnectionFailed => {
            FailureCause::Named("connection_failed")
        }
        ureq::Error::Io(io) => FailureCause::of_sources(io).unwrap_or(FailureCause::OTHER),
        ureq::Error::Rustls(tls) => FailureCause::of_tls(tls),
        ureq::Error::Tls(_) | ureq::Error::Pem(_) => FailureCause::Named("tls_handshake_failed"),
        ureq::Error::Protocol(_) => FailureCause::Named("protocol_error"),
        ureq::Error::BadUri(_)
        | ureq::Error::InvalidProxyUrl
        | ureq::Error::RequireHttpsOnly(_) => FailureCause::Named("invalid_endpoint"),
        _ => FailureCause::OTHER,
    };
    match error {
        ureq::Error::BadUri(_)
        | ureq::Error::InvalidProxyUrl
        | ureq::Error::RequireHttpsOnly(_) => Outcome::Failed {
            reason: readable(&error.to_string()),
            about_endpoint: true,
            cause,
        },
        _ => Outcome::Retry {
            after: None,
            reason: readable(&error.to_string()),
            cause,
        },
    }
}

/// TLS from the `…_CERTIFICATE`, `…_CLIENT_CERTIFICATE` and `…_CLIENT_KEY`
/// PEM files; the Mozilla roots built into the crate (`webpki-roots`) when none is given.
fn tls_config(files: &TlsFiles) -> Result<TlsConfig, InitError> {
    let mut builder = TlsConfig::builder();
    if let Some(file) = &files.certificate {
        let (_, certificates) = file.trust_anchors()?;
        builder = builder.root_certs(RootCerts::new_with_certs(&certificates));
    }
    if let Some(identity) = files.checked_client_identity()? {
        builder = builder.client_cert(Some(ClientCert::new_with_certs(
            &identity.chain,
            identity.key,
        )));
    }
    Ok(builder.build())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    use crate::config::otlp::OtlpOptions;
    use crate::config::Env;

    fn cause(outcome: Outcome) -> FailureCause {
        match outcome {
            Outcome::Retry { cause, .. } | Outcome::Failed { cause, .. } => cause,
            other => panic!("not a failure: {other:?}"),
        }
    }

    /// A request that failed before any status says why in `error.type`:
    /// its time ran out, the connection was refused, the URL is unusable.
    #[test]
    fn transport_failures_name_their_cause() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        for (error, expected) in [
            (ureq::Error::Timeout(ureq::Timeout::Global), "timeout"),
            (ureq::Error::Io(refused), "connection_refused"),
            (ureq::Error::HostNotFound, "connection_failed"),
            (ureq::Error::BadUri("x".to_owned()), "invalid_endpoint"),
            (
                ureq::Error::Rustls(rustls::Error::InvalidCertificate(
                    rustls::CertificateError::Expired,
                )),
                "server_certificate_invalid",
            ),
            (ureq::Error::Tls("no TLS provider"), "tls_handshake_failed"),
        ] {
            assert_eq!(
                cause(classify_transport_error(error)).error_type(),
                expected
            );
        }
    }

    /// Regression: the collector writes the count as a string, which
    /// `opentelemetry-proto`'s serde type could not read, so a partial
    /// success over OTLP/HTTP JSON was counted as a full one.
    #[test]
    fn a_json_partial_success_is_read_with_its_count_as_a_string_or_a_number() {
        let cases: [(&str, Option<(u64, &str)>); 15] = [
            (
                r#"{"partialSuccess":{"rejectedLogRecords":"3","errorMessage":"too old"}}"#,
                Some((3, "too old")),
            ),
            (
                r#"{"partialSuccess":{"rejectedLogRecords":2}}"#,
                Some((2, "")),
            ),
            (
                r#"{"partial_success":{"rejected_log_records":"4","error_message":"m"}}"#,
                Some((4, "m")),
            ),
            (
                r#"{"partialSuccess":{"errorMessage":"slow down"}}"#,
                Some((0, "slow down")),
            ),
            ("{}", Some((0, ""))),
            ("", Some((0, ""))),
            (r#"{"partialSuccess":null}"#, Some((0, ""))),
            ("<html>not json</html>", None),
            // Regression: JSON that is no response object, or a partial
            // success of the wrong shape, passed for a full success
            // without a word.
            ("[]", None),
            ("null", None),
            (r#"{"partialSuccess":5}"#, None),
            (r#"{"partialSuccess":{"rejectedLogRecords":"many"}}"#, None),
            (r#"{"partialSuccess":{"rejectedLogRecords":-1}}"#, None),
            (r#"{"partialSuccess":{"rejectedLogRecords":true}}"#, None),
            (r#"{"partialSuccess":{"errorMessage":["m"]}}"#, None),
        ];
        for (body, expected) in cases {
            let got = json_partial_success(body.as_bytes());
            assert_eq!(
                got.as_ref()
                    .map(|(rejected, message)| (*rejected, message.as_str())),
                expected,
                "{body}"
            );
        }
    }

    /// An encoded request of one record whose body is `text`.
    fn one_record_request(text: &str) -> Vec<u8> {
        use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
        use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue};
        use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
        use prost::Message as _;
        ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                scope_logs: vec![ScopeLogs {
                    log_records: vec![LogRecord {
                        body: Some(AnyValue {
                            value: Some(any_value::Value::StringValue(text.to_owned())),
                        }),
                        ..LogRecord::default()
                    }],
                    ..ScopeLogs::default()
                }],
                ..ResourceLogs::default()
            }],
        }
        .encode_to_vec()
    }

    /// Regression: the gzip buffer kept the room of the largest request
    /// ever sent, for as long as the process lived.
    #[test]
    fn the_room_a_huge_body_took_is_not_kept() {
        let (endpoint, requests) = answering(answer("200 OK", "", b""));
        for protocol in [Protocol::HttpProtobuf, Protocol::HttpJson] {
            let mut transport = transport_to(endpoint.clone(), protocol);
            transport.gzip = true;
            // Bytes gzip cannot shrink, in a request that decodes: one
            // record whose body is that text.
            let text: String = (0..8 * 1024 * 1024)
                .map(|index: u32| {
                    char::from(b'!' + (index.wrapping_mul(2_654_435_761) >> 25) as u8)
                })
                .collect();
            let request = one_record_request(&text);
            assert!(matches!(transport.send(&request), Outcome::Accepted { .. }));
            assert!(
                transport.body.capacity() <= TARGET_REQUEST_BYTES,
                "{protocol:?}: {} bytes kept",
                transport.body.capacity()
            );
        }
        assert_eq!(requests.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    /// Answers every request with `response`, written as it is, and
    /// counts the requests.
    fn answering(response: Vec<u8>) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        use std::io::{BufRead as _, Read as _};
        use std::sync::atomic::{AtomicUsize, Ordering};

        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let address = listener.local_addr().expect("address");
        let requests = std::sync::Arc::new(AtomicUsize::new(0));
        let counted = std::sync::Arc::clone(&requests);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { break };
                let Ok(read_half) = stream.try_clone() else {
                    break;
                };
                let mut reader = std::io::BufReader::new(read_half);
                let mut length = 0;
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|read| read > 2) {
                    if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = value.trim().parse().unwrap_or(0);
                    }
                    line.clear();
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                counted.fetch_add(1, Ordering::SeqCst);
                let _ = stream.write_all(&response);
            }
        });
        (format!("http://{address}/v1/logs"), requests)
    }

    fn transport_to(endpoint: String, protocol: Protocol) -> HttpTransport {
        let options = OtlpOptions {
            endpoint: Some(endpoint),
            protocol: Some(protocol),
            ..OtlpOptions::default()
        };
        let settings = OtlpSettings::resolve(&options, &Env::from_pairs(&[])).expect("settings");
        HttpTransport::new(&settings).expect("transport")
    }

    fn answer(status: &str, headers: &str, body: &[u8]) -> Vec<u8> {
        let mut response = format!(
            "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .into_bytes();
        response.extend_from_slice(body);
        response
    }

    /// Regression: a redirect was followed: a 301 was resent as a GET
    /// without the records (and reported as the 405 that got), with the
    /// configured headers, to whatever host it named.
    #[test]
    fn a_redirect_is_not_followed_and_names_where_it_points() {
        let (endpoint, requests) = answering(answer(
            "301 Moved Permanently",
            "Location: http://127.0.0.1:9/elsewhere?api_key=SECRET\r\n",
            b"",
        ));
        let mut transport = transport_to(endpoint, Protocol::HttpProtobuf);
        match transport.send(b"") {
            Outcome::Failed { reason, .. } => assert!(
                reason.contains("HTTP 301")
                    && reason.contains("http://127.0.0.1:9/elsewhere?…")
                    && !reason.contains("SECRET"),
                "{reason}"
            ),
            outcome => panic!("{outcome:?}"),
        }
        assert_eq!(requests.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    /// Regression: a report showed the endpoint as configured, a token in
    /// its query included, on stderr.
    #[test]
    fn a_report_shows_the_endpoint_without_its_query() {
        let (endpoint, _) = answering(answer("503 Service Unavailable", "", b""));
        let mut transport =
            transport_to(format!("{endpoint}?api_key=SECRET"), Protocol::HttpProtobuf);
        match transport.send(b"") {
            Outcome::Retry { reason, .. } => {
                assert!(reason.ends_with("/v1/logs?…"), "{reason}");
                assert!(!reason.contains("SECRET"), "{reason}");
            }
            outcome => panic!("{outcome:?}"),
        }
    }

    /// The wait a `Retry-After` asks for reaches the retry: seconds, and an
    /// HTTP date already past (no wait beyond the backoff's).
    #[test]
    fn retry_after_reaches_the_retry() {
        for (header, after) in [
            ("Retry-After: 7\r\n", Some(Duration::from_secs(7))),
            (
                "Retry-After: Wed, 21 Oct 2015 07:28:00 GMT\r\n",
                Some(Duration::ZERO),
            ),
            ("", None),
        ] {
            let (endpoint, _) = answering(answer("503 Service Unavailable", header, b""));
            let mut transport = transport_to(endpoint, Protocol::HttpProtobuf);
            match transport.send(b"") {
                Outcome::Retry { after: waited, .. } => assert_eq!(waited, after, "{header:?}"),
                outcome => panic!("{outcome:?}"),
            }
        }
    }

    /// Regression: a refusal's `google.rpc.Status` was read in the
    /// request's format whatever the answer's `Content-Type` said, and a
    /// JSON status answered to a protobuf request was shown as raw text.
    #[test]
    fn a_refusal_is_read_in_the_format_the_answer_names() {
        let (endpoint, _) = answering(answer(
            "400 Bad Request",
            "Content-Type: application/json\r\n",
            br#"{"code":3,"message":"field 9 is unknown"}"#,
        ));
        let mut transport = transport_to(endpoint, Protocol::HttpProtobuf);
        match transport.send(b"") {
            Outcome::Failed { reason, .. } => {
                assert!(reason.ends_with(": field 9 is unknown"), "{reason}");
            }
            outcome => panic!("{outcome:?}"),
        }
    }

    /// Regression: a response was read in the request's format whatever
    /// its `Content-Type` said, so a partial success answered in the
    /// other format counted as a full success (with a warning that the
    /// endpoint might be no collector).
    #[test]
    fn a_partial_success_is_read_in_the_format_the_response_names() {
        let protobuf = ExportLogsServiceResponse {
            partial_success: Some(
                opentelemetry_proto::tonic::collector::logs::v1::ExportLogsPartialSuccess {
                    rejected_log_records: 2,
                    error_message: "too old".into(),
                },
            ),
        }
        .encode_to_vec();
        let json = br#"{"partialSuccess":{"rejectedLogRecords":"3","errorMessage":"too new"}}"#;
        let cases: [(Protocol, &str, &[u8], u64, &str); 6] = [
            (
                Protocol::HttpProtobuf,
                "application/json; charset=utf-8",
                json,
                3,
                "too new",
            ),
            (
                Protocol::HttpProtobuf,
                "Application/JSON",
                json,
                3,
                "too new",
            ),
            (
                Protocol::HttpJson,
                "application/x-protobuf",
                &protobuf,
                2,
                "too old",
            ),
            (
                Protocol::HttpJson,
                "application/protobuf",
                &protobuf,
                2,
                "too old",
            ),
            // Another type, or none, leaves the request's format.
            (
                Protocol::HttpProtobuf,
                "text/plain",
                &protobuf,
                2,
                "too old",
            ),
            (Protocol::HttpJson, "", json, 3, "too new"),
        ];
        for (protocol, content_type, body, rejected, message) in cases {
            let header = if content_type.is_empty() {
                String::new()
            } else {
                format!("Content-Type: {content_type}\r\n")
            };
            let (endpoint, _) = answering(answer("200 OK", &header, body));
            match transport_to(endpoint, protocol).send(b"") {
                Outcome::Accepted {
                    rejected: got,
                    message: got_message,
                } => assert_eq!(
                    (got, got_message.as_str()),
                    (rejected, message),
                    "{protocol:?}, {content_type}"
                ),
                outcome => panic!("{protocol:?}, {content_type}: {outcome:?}"),
            }
        }
    }

    /// A refusal tells whether it is about the request (malformed, too
    /// large) or the endpoint (no such path, credentials, a failing
    /// server): only the second pauses the spool's replay.
    #[test]
    fn a_refusal_says_whether_it_is_about_the_endpoint() {
        for (status, about) in [
            ("400 Bad Request", false),
            ("413 Payload Too Large", false),
            ("401 Unauthorized", true),
            ("404 Not Found", true),
            ("500 Internal Server Error", true),
            ("308 Permanent Redirect", true),
        ] {
            let (endpoint, _) = answering(answer(status, "", b""));
            match transport_to(endpoint, Protocol::HttpProtobuf).send(b"") {
                Outcome::Failed { about_endpoint, .. } => {
                    assert_eq!(about_endpoint, about, "{status}");
                }
                outcome => panic!("{status}: {outcome:?}"),
            }
        }
    }

    /// Regression: a refusal's body, a protobuf `google.rpc.Status`, was
    /// shown as raw bytes, control characters and all, on stderr.
    #[test]
    fn a_refusal_shows_the_status_message_with_control_characters_escaped() {
        let status = RpcStatus {
            message: "quota \u{1b}[31mexceeded".into(),
        };
        let (endpoint, _) = answering(answer("400 Bad Request", "", &status.encode_to_vec()));
        match transport_to(endpoint, Protocol::HttpProtobuf).send(b"") {
            Outcome::Failed { reason, .. } => {
                assert!(reason.ends_with(": quota \\u{1b}[31mexceeded"), "{reason}")
            }
            outcome => panic!("{outcome:?}"),
        }
        let (endpoint, _) = answering(answer(
            "400 Bad Request",
            "",
            br#"{"code": 3, "message": "bad \n request"}"#,
        ));
        match transport_to(endpoint, Protocol::HttpJson).send(b"") {
            Outcome::Failed { reason, .. } => {
                assert!(reason.ends_with(": bad \\n request"), "{reason}")
            }
            outcome => panic!("{outcome:?}"),
        }
        let page = format!("<html>{}</html>", "x".repeat(500));
        let (endpoint, _) = answering(answer("418 I'm a teapot", "", page.as_bytes()));
        match transport_to(endpoint, Protocol::HttpProtobuf).send(b"") {
            Outcome::Failed { reason, .. } => {
                assert!(
                    reason.ends_with(&format!(": <html>{}…", "x".repeat(194))),
                    "{reason}"
                )
            }
            outcome => panic!("{outcome:?}"),
        }
    }

    /// Regression: an unreadable TLS file was reported as "invalid OTLP
    /// exporter", naming neither the variable nor the method that gave it.
    #[test]
    fn a_bad_tls_file_names_the_setting_it_came_from() {
        // A transport to an `https://` endpoint with `options` and `vars`.
        let start = |options: &OtlpOptions, vars: &[(&str, &str)]| {
            let vars = [
                &[("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4318")],
                vars,
            ]
            .concat();
            let settings =
                OtlpSettings::resolve(options, &Env::from_pairs(&vars)).expect("valid settings");
            HttpTransport::new(&settings)
        };
        let error_of = |options: &OtlpOptions, vars: &[(&str, &str)]| match start(options, vars) {
            Err(crate::InitError::InvalidConfig {
                setting, message, ..
            }) => (setting, message),
            Err(other) => panic!("{other}"),
            Ok(_) => panic!("a transport from {vars:?}"),
        };
        let (setting, message) = error_of(
            &OtlpOptions::default(),
            &[("OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE", "/nonexistent/ca.pem")],
        );
        assert_eq!(setting, "OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE");
        assert!(
            message.starts_with("reading /nonexistent/ca.pem: "),
            "{message}"
        );
        let (setting, message) = error_of(
            &OtlpOptions::default(),
            &[("OTEL_EXPORTER_OTLP_CLIENT_KEY", "/nonexistent/client.key")],
        );
        assert_eq!(setting, "OTEL_EXPORTER_OTLP_CLIENT_KEY");
        assert_eq!(
            message,
            "a client certificate and a client key must be given together"
        );
        let not_pem = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
        let options = OtlpOptions {
            certificate: Some(not_pem.into()),
            ..OtlpOptions::default()
        };
        let (setting, message) = error_of(&options, &[]);
        assert_eq!(setting, "Builder::with_otlp_certificate");
        assert!(message.ends_with("holds no PEM certificate"), "{message}");
        // Regression: a client key that does not go with its certificate
        // was accepted, and `ureq` panicked at the first handshake, which
        // stopped the export worker for good.
        let fixture = |name: &str| format!("{}/fixtures/tls/{name}", env!("CARGO_MANIFEST_DIR"));
        let (setting, message) = error_of(
            &OtlpOptions::default(),
            &[
                (
                    "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
                    &fixture("client.pem"),
                ),
                ("OTEL_EXPORTER_OTLP_CLIENT_KEY", &fixture("server.key")),
            ],
        );
        assert_eq!(setting, "OTEL_EXPORTER_OTLP_CLIENT_KEY");
        assert!(
            message.contains("cannot be used with the client certificate"),
            "{message}"
        );
        assert!(!message.contains("(given by"), "{message}");
        // The certificate from the logs-specific variable and the key from
        // the generic one: the message names both settings.
        let (setting, message) = error_of(
            &OtlpOptions::default(),
            &[
                (
                    "OTEL_EXPORTER_OTLP_LOGS_CLIENT_CERTIFICATE",
                    &fixture("client.pem"),
                ),
                ("OTEL_EXPORTER_OTLP_CLIENT_KEY", &fixture("server.key")),
            ],
        );
        assert_eq!(setting, "OTEL_EXPORTER_OTLP_CLIENT_KEY");
        assert!(
            message.contains("(given by OTEL_EXPORTER_OTLP_LOGS_CLIENT_CERTIFICATE)"),
            "{message}"
        );
        // Regression: a CA certificate that does not parse was skipped by
        // `ureq`, leaving nothing to trust and every handshake failing.
        let (setting, message) = error_of(
            &OtlpOptions::default(),
            &[(
                "OTEL_EXPORTER_OTLP_CERTIFICATE",
                &fixture("not-a-certificate.pem"),
            )],
        );
        assert_eq!(setting, "OTEL_EXPORTER_OTLP_CERTIFICATE");
        assert!(
            message.contains("certificate 1 cannot be trusted"),
            "{message}"
        );
        // A bundle with one such certificate among good ones works at the
        // handshake, the bad one skipped, and so it still starts.
        let bundle = std::env::temp_dir().join(format!(
            "otel-log-bridge-ca-bundle-{}.pem",
            std::process::id()
        ));
        let text = [fixture("not-a-certificate.pem"), fixture("ca.pem")]
            .map(|file| std::fs::read_to_string(file).expect("fixture"))
            .concat();
        std::fs::write(&bundle, text).expect("bundle written");
        let started = start(
            &OtlpOptions::default(),
            &[(
                "OTEL_EXPORTER_OTLP_CERTIFICATE",
                bundle.to_str().expect("UTF-8 path"),
            )],
        );
        let _ = std::fs::remove_file(&bundle);
        assert!(started.is_ok(), "a bundle with a good certificate");
    }

    /// Regression: with an overall timeout, `ureq` started a thread to
    /// resolve the endpoint's host name for every export request.
    /// The agent's timeouts for the configuration `vars`: the overall ones
    /// (global, per call, resolve), then those of each phase (connect,
    /// send the request, send the body, receive the response and its body).
    fn agent_timeouts(vars: &[(&str, &str)]) -> (Vec<Option<Duration>>, Vec<Option<Duration>>) {
        let settings = OtlpSettings::resolve(&OtlpOptions::default(), &Env::from_pairs(vars))
            .expect("valid settings");
        let transport = HttpTransport::new(&settings).expect("transport");
        let timeouts = transport.agent.config().timeouts();
        (
            vec![timeouts.global, timeouts.per_call, timeouts.resolve],
            vec![
                timeouts.connect,
                timeouts.send_request,
                timeouts.send_body,
                timeouts.recv_response,
                timeouts.recv_body,
            ],
        )
    }

    #[test]
    fn the_agent_bounds_each_phase_and_sets_no_overall_timeout() {
        let (overall, phases) = agent_timeouts(&[("OTEL_EXPORTER_OTLP_TIMEOUT", "2500")]);
        // The timeouts `ureq` bounds name resolution by, with a thread.
        assert_eq!(overall, [None; 3]);
        // Every other phase is bounded by the export timeout.
        assert_eq!(phases, [Some(Duration::from_millis(2500)); 5]);
    }

    #[test]
    fn a_zero_timeout_leaves_every_phase_unbounded() {
        let (overall, phases) = agent_timeouts(&[
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "0"),
            ("OTEL_BLRP_EXPORT_TIMEOUT", "0"),
        ]);
        assert_eq!(overall, [None; 3]);
        assert_eq!(phases, [None; 5]);
    }
}
