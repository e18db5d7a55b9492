//! OTLP/gRPC through `tonic`, on a single-threaded `tokio` runtime that the
//! export worker owns. The application needs no runtime, an application
//! runtime is never blocked, and whatever `tonic`, `hyper` or `h2` log
//! happens on the (suppressed) worker thread.

use std::time::Duration;

use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use tonic::codec::{BufferSettings, Codec, CompressionEncoding, EncodeBuf, Encoder};
use tonic::metadata::{MetadataKey, MetadataValue};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tonic::{Code, Status};
use tonic_types::StatusExt as _;

use crate::config::otlp::{endpoint_for_reports, Compression, OtlpSettings, TlsFiles};
use crate::error::InitError;
use crate::export::failure::FailureCause;
use crate::export::otlp::{
    partial_success, readable, Outcome, Transport, MAX_RESPONSE_BYTES, USER_AGENT,
};

const EXPORT_PATH: &str = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";

/// The most of a collector's answer the gRPC client reads: a little more
/// than [`MAX_RESPONSE_BYTES`], and no round number. `tonic` words a
/// server's refusal of a request larger than the server reads as it words
/// its client's refusal of an answer larger than this, and only the limit
/// each names tells the two apart (see [`answer_too_large`]): no server is
/// configured with this one, where 1 MiB is a common setting.
const GRPC_MAX_RESPONSE_BYTES: usize = MAX_RESPONSE_BYTES + 7;

/// How long after `send` gives up a connection attempt, and the
/// deadline a request carries, end (see `GrpcTransport::new`).
const DEADLINE_MARGIN: Duration = Duration::from_millis(50);

/// Sends requests to one OTLP/gRPC endpoint.
pub(crate) struct GrpcTransport {
    /// Taken when the transport is dropped (see its `Drop`).
    runtime: Option<tokio::runtime::Runtime>,
    client: tonic::client::Grpc<ReadableStatus>,
    /// What the client connects with, to connect afresh (see `send`).
    connection: Endpoint,
    gzip: bool,
    /// The endpoint as reports show it (`endpoint_for_reports`).
    shown_endpoint: String,
    /// What bounds one export, connecting and the TLS handshake included.
    timeout: Option<Duration>,
    headers: Vec<(
        MetadataKey<tonic::metadata::Ascii>,
        MetadataValue<tonic::metadata::Ascii>,
    )>,
}

impl GrpcTransport {
    pub(crate) fn new(settings: &OtlpSettings) -> Result<GrpcTransport, InitError> {
        let mut endpoint = Endpoint::from_shared(settings.endpoint.clone()).map_err(|e| {
            InitError::invalid(
                "OTLP endpoint",
                format!(
                    "{:?} is not a gRPC endpoint: {e}",
                    endpoint_for_reports(&settings.endpoint)
                ),
            )
        })?;
        // `tonic` adds its own name after this one.
        endpoint = endpoint
            .user_agent(USER_AGENT)
            .map_err(|e| InitError::invalid("OTLP user agent", e.to_string()))?;
        // No timeout configured (0) means the request may wait indefinitely.
        // `send` bounds the whole export. The connect timeout bounds the
        // TCP connection, and the TLS timeout the handshake: a connection
        // `send` gave up on is then closed too, where a handshake a peer
        // never answered held its socket for good, in a channel `send` had
        // dropped. They, and the deadline a request carries, end
        // `DEADLINE_MARGIN` after `send`'s: expiring in the same tick,
        // either could win and report a failure (`UNAVAILABLE`,
        // `CANCELLED`) the collector never sent instead of the timeout.
        let timeout = settings.request_timeout();
        let connection_timeout = timeout.map(|timeout| timeout.saturating_add(DEADLINE_MARGIN));
        if let Some(connection_timeout) = connection_timeout {
            endpoint = endpoint.connect_timeout(connection_timeout);
        }
        if settings.endpoint.starts_with("https://") {
            endpoint = endpoint
                .tls_config(tls_config(&settings.tls, connection_timeout)?)
                .map_err(|e| InitError::invalid("OTLP TLS files", e.to_string()))?;
        }
        let gzip = settings.compression == Compression::Gzip;
        let mut headers = Vec::new();
        for (name, value) in &settings.headers {
            let invalid = |why: &str| InitError::invalid("OTLP headers", format!("{name:?} {why}"));
            let key = MetadataKey::from_bytes(name.to_ascii_lowercase().as_bytes())
                .map_err(|_| invalid("is not a valid gRPC metadata key"))?;
            let value = MetadataValue::try_from(value.as_str())
                .map_err(|_| invalid("has a value that is not valid gRPC metadata"))?;
            headers.push((key, value));
        }
        // The runtime comes once the settings are known to be good: one
        // dropped on the way out of a configuration error would shut down
        // its blocking pool on the caller's thread, which panics inside an
        // application's own tokio runtime instead of returning the error.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(InitError::Worker)?;
        let client = connect(&runtime, &endpoint, gzip);
        Ok(GrpcTransport {
            runtime: Some(runtime),
            client,
            connection: endpoint,
            gzip,
            shown_endpoint: endpoint_for_reports(&settings.endpoint),
            timeout,
            headers,
        })
    }
}

impl Transport for GrpcTransport {
    fn send(&mut self, request: &[u8]) -> Outcome {
        let request_len = request.len();
        let mut call = tonic::Request::new(request.to_vec());
        for (key, value) in &self.headers {
            // Appended, as over HTTP: a name given twice sends both values.
            call.metadata_mut().append(key.clone(), value.clone());
        }
        let client = &mut self.client;
        let timeout = self.timeout;
        let started = tokio::time::Instant::now();
        let export = async move {
            client.ready().await.map_err(|error| {
                // The error stays the status's source: it tells what
                // failed (a refused connection, a certificate).
                let mut status = Status::unavailable(error.to_string());
                status.set_source(std::sync::Arc::new(error));
                status
            })?;
            // The collector is told the time left (`grpc-timeout`), so
            // that it stops working on a request given up on, whose retry
            // would otherwise deliver its records twice; a little more
            // than `send` waits, which is to end the attempt.
            if let Some(limit) = timeout {
                let left = limit.saturating_sub(started.elapsed());
                call.set_timeout(left.saturating_add(DEADLINE_MARGIN));
            }
            let path = http::uri::PathAndQuery::from_static(EXPORT_PATH);
            client.unary(call, path, PreEncodedCodec).await
        };
        let Some(runtime) = &self.runtime else {
            return Outcome::Failed {
                reason: "the gRPC runtime is gone".to_owned(),
                about_endpoint: true,
                cause: FailureCause::INTERNAL_ERROR,
            };
        };
        let (result, timed_out) = runtime.block_on(async move {
            match timeout {
                // A peer that takes the connection and never answers the
                // TLS handshake would hold the worker for good otherwise.
                Some(limit) => match tokio::time::timeout(limit, export).await {
                    // A thread held up past both deadlines may find
                    // `tonic`'s own (`CANCELLED`) ended the request first:
                    // it is still this timeout.
                    Ok(result) if result.is_ok() || started.elapsed() < limit => (result, false),
                    _ => (
                        Err(Status::deadline_exceeded(format!(
                            "no answer within {limit:?}"
                        ))),
                        true,
                    ),
                },
                None => (export.await, false),
            }
        });
        if result
            .as_ref()
            .is_err_and(|status| status.code() == Code::DeadlineExceeded)
        {
            // A connection stuck before it carried anything (a peer that
            // never answers the TLS handshake) stays stuck inside the
            // channel, and every later request would wait behind it:
            // the next attempt connects afresh.
            self.client = connect(runtime, &self.connection, self.gzip);
        }
        match result {
            Ok(response) => match partial_success(response.into_inner()) {
                Some((rejected, message)) => Outcome::Accepted { rejected, message },
                None => {
                    // Said once: the text names nothing that varies.
                    crate::diag::warn(format_args!(
                        "{} answered with a partial success whose rejected count is negative; the records are counted as exported, but the endpoint may not be a working OTLP/gRPC logs receiver",
                        self.shown_endpoint
                    ));
                    Outcome::Accepted {
                        rejected: 0,
                        message: String::new(),
                    }
                }
            },
            Err(status) if answer_too_large(&status, request_len) => {
                // Said once: the text names nothing that varies.
                crate::diag::warn(format_args!(
                    "{} answered with a response larger than the {} bytes read; the records are counted as exported, without any partial success it may have told",
                    self.shown_endpoint, GRPC_MAX_RESPONSE_BYTES
                ));
                Outcome::Accepted {
                    rejected: 0,
                    message: String::new(),
                }
            }
            Err(status) => classify(&status, &self.shown_endpoint, timed_out),
        }
    }
}

/// A client of `endpoint` that connects when first used: a collector that
/// is down at start-up must not fail initialisation; the first export
/// connects (and retries).
fn connect(
    runtime: &tokio::runtime::Runtime,
    endpoint: &Endpoint,
    gzip: bool,
) -> tonic::client::Grpc<ReadableStatus> {
    let channel = {
        let _entered = runtime.enter();
        endpoint.connect_lazy()
    };
    // Compressed answers are accepted whether or not requests are
    // compressed: `grpc-go`, the collector's gRPC server, answers a
    // compressed request in the same compression without asking, and
    // `tonic` takes an answer in a compression it was not told to accept
    // for a failure (`UNIMPLEMENTED`), although the collector took the
    // records.
    let mut client = tonic::client::Grpc::new(ReadableStatus(channel))
        .accept_compressed(CompressionEncoding::Gzip);
    if gzip {
        client = client.send_compressed(CompressionEncoding::Gzip);
    }
    client.max_decoding_message_size(GRPC_MAX_RESPONSE_BYTES)
}

/// A channel whose answers have their gRPC status made readable before
/// `tonic` reads it (see [`make_status_readable`]), in the headers of an
/// answer without a message and in the trailers of one with.
#[derive(Clone)]
struct ReadableStatus(Channel);

type Answer = http::Response<ReadableTrailers>;

impl tower_service::Service<http::Request<tonic::body::Body>> for ReadableStatus {
    type Response = Answer;
    type Error = tonic::transport::Error;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Answer, tonic::transport::Error>> + Send>,
    >;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let answer = self.0.call(request);
        Box::pin(async move {
            let mut answer = answer.await?;
            make_status_readable(answer.headers_mut());
            Ok(answer.map(ReadableTrailers))
        })
    }
}

/// An answer's body whose trailers are made readable (see
/// [`make_status_readable`]).
struct ReadableTrailers(tonic::body::Body);

impl http_body::Body for ReadableTrailers {
    type Data = prost::bytes::Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Status>>> {
        std::pin::Pin::new(&mut self.0).poll_frame(cx).map(|frame| {
            frame.map(|frame| {
                frame.map(|mut frame| {
                    if let Some(trailers) = frame.trailers_mut() {
                        make_status_readable(trailers);
                    }
                    frame
                })
            })
        })
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.0.size_hint()
    }
}

/// Makes an answer's gRPC status readable for `tonic`, which panics on
/// status details that are not base64 (a panic that would stop the export
/// worker, and every later record with it) and turns a status whose
/// message is not UTF-8 into `UNKNOWN`, the code lost (a proxy that cut
/// the message mid-character made an `UNAVAILABLE` final). Malformed
/// details are left out: they are read only for a `RetryInfo`, which they
/// cannot hold. A message that is not UTF-8 keeps what it says, with
/// U+FFFD for what is not text.
fn make_status_readable(headers: &mut http::HeaderMap) {
    use base64::Engine as _;
    use percent_encoding::{percent_decode, utf8_percent_encode};

    let details_malformed = headers
        .get(STATUS_DETAILS)
        .is_some_and(|details| STATUS_DETAILS_BASE64.decode(details.as_bytes()).is_err());
    if details_malformed {
        headers.remove(STATUS_DETAILS);
    }
    let readable_message = headers.get(STATUS_MESSAGE).and_then(|message| {
        let decoded = percent_decode(message.as_bytes());
        if decoded.clone().decode_utf8().is_ok() {
            return None;
        }
        let text = decoded.decode_utf8_lossy().into_owned();
        let encoded = utf8_percent_encode(&text, MESSAGE_ENCODED).to_string();
        Some(http::HeaderValue::from_str(&encoded))
    });
    match readable_message {
        Some(Ok(message)) => {
            headers.insert(STATUS_MESSAGE, message);
        }
        Some(Err(_)) => {
            headers.remove(STATUS_MESSAGE);
        }
        None => {}
    }
}

/// What gRPC percent-encodes in a status message: every byte outside
/// printable ASCII, and `%`.
const MESSAGE_ENCODED: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS.add(b'%');

const STATUS_DETAILS: &str = "grpc-status-details-bin";
const STATUS_MESSAGE: &str = "grpc-message";

/// Base64 as `tonic` reads status details: the standard alphabet, with or
/// without padding.
const STATUS_DETAILS_BASE64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

/// Whether `status` is `tonic`'s own, for an answer larger than the client
/// reads: `OUT_OF_RANGE`, which the retry table would take for the
/// collector's and retry, or, for a compressed answer, `RESOURCE_EXHAUSTED`,
/// which it would take for the collector's refusal. The collector did
/// answer: the request was processed, and sending it again would duplicate
/// its records. A `tonic` server refuses a request larger than it reads
/// with the same texts: they name the server's limit (and the request's
/// size, `request_len`), where the client's own name this client's limit
/// (and the answer's size).
fn answer_too_large(status: &Status, request_len: usize) -> bool {
    let message = status.message();
    match status.code() {
        Code::OutOfRange => {
            message.starts_with("Error, decoded message length too large")
                && message.ends_with(&format!("the limit is: {GRPC_MAX_RESPONSE_BYTES} bytes"))
                && !message.contains(&format!("found {request_len} bytes"))
        }
        Code::ResourceExhausted => {
            message
                == format!(
                    "Error decompressing: size limit, of {GRPC_MAX_RESPONSE_BYTES} bytes, exceeded while decompressing message"
                )
        }
        _ => false,
    }
}

impl Drop for GrpcTransport {
    /// Leaves what the runtime still runs (a host name lookup that outlived
    /// its request's timeout) to finish in the background: dropping the
    /// runtime would wait for it, and with it the worker's exit and the
    /// guard's shutdown, past any deadline.
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// The OTLP specification's gRPC retry table: these codes are retried,
/// `RESOURCE_EXHAUSTED` only when the server sends a `RetryInfo` (with a
/// delay or without, when the backoff decides), all
/// others fail for good. A request whose connection failed under it (lost,
/// or refused by the collector's TLS with an alert) got no status from the
/// collector at all: `tonic` reports it as `UNKNOWN` with the I/O error
/// among its sources, and it is retried, as an HTTP request that failed on
/// the network is.
///
/// `timed_out`: the request's own time ran out, which is no status the
/// collector answered.
fn classify(status: &Status, endpoint: &str, timed_out: bool) -> Outcome {
    let retry_info = status.get_details_retry_info();
    let retry_after: Option<Duration> = retry_info.as_ref().and_then(|info| info.retry_delay);
    let code = http2_code(status).unwrap_or(status.code());
    let mut reason = format!(
        "gRPC {code:?} from {endpoint}: {}",
        readable(status.message())
    );
    // A status made from a transport failure says only "transport error";
    // its sources say what failed (a refused connection, a TLS alert).
    // Those that repeat what the reason already says are left out.
    let mut source = std::error::Error::source(status);
    while let Some(error) = source {
        let text = readable(&error.to_string());
        if !reason.contains(&text) {
            reason.push_str(": ");
            reason.push_str(&text);
        }
        source = error.source();
    }
    let retryable = (code == Code::Unknown && connection_failed(status))
        || match code {
            Code::Cancelled
            | Code::DeadlineExceeded
            | Code::Aborted
            | Code::OutOfRange
            | Code::Unavailable
            | Code::DataLoss => true,
            Code::ResourceExhausted => retry_info.is_some(),
            _ => false,
        };
    // The collector's status, unless none came from it: the request's
    // time ran out, or the connection failed under it.
    let cause = if timed_out {
        FailureCause::TIMEOUT
    } else {
        std::error::Error::source(status)
            .and_then(FailureCause::of_sources)
            .unwrap_or(FailureCause::GrpcStatus(code as i32))
    };
    if retryable {
        Outcome::Retry {
            after: retry_after,
            reason,
            cause,
        }
    } else {
        Outcome::Failed {
            reason,
            cause,
            // A request the collector found malformed, or too large (a
            // `RESOURCE_EXHAUSTED` without `RetryInfo`), is refused for
            // what it holds; any other code refuses every request.
            about_endpoint: !matches!(code, Code::InvalidArgument | Code::ResourceExhausted),
        }
    }
}

/// The code of a status that an HTTP/2 error ended, as gRPC over HTTP/2
/// maps it (`PROTOCOL-HTTP2.md` in the gRPC repository, "Errors"): a stream
/// the collector refused (`REFUSED_STREAM`, as a proxy or a collector
/// shutting down answers) is `UNAVAILABLE`, one it cancelled `CANCELLED`,
/// and one it left unprocessed when it went away (`GOAWAY`, a graceful
/// restart) was never seen by it, so it too is `UNAVAILABLE`. `tonic` maps
/// resets only when built with its `server` feature, which this crate does
/// not enable: without it they came as `UNKNOWN`, and the batch was lost.
/// With it, a `GOAWAY` came as `INTERNAL`, lost as well.
fn http2_code(status: &Status) -> Option<Code> {
    let mut source = std::error::Error::source(status);
    while let Some(error) = source {
        if let Some(error) = error.downcast_ref::<h2::Error>() {
            if error.is_go_away() && error.is_remote() {
                return Some(Code::Unavailable);
            }
            return error.reason().map(|reason| match reason {
                h2::Reason::REFUSED_STREAM => Code::Unavailable,
                h2::Reason::CANCEL => Code::Cancelled,
                h2::Reason::ENHANCE_YOUR_CALM => Code::ResourceExhausted,
                h2::Reason::INADEQUATE_SECURITY => Code::PermissionDenied,
                _ => Code::Internal,
            });
        }
        source = error.source();
    }
    None
}

/// Whether an I/O error is among the sources of `status`: the connection
/// failed (was reset, closed, or ended by a TLS alert), so the collector
/// never answered. After the answer's headers, `hyper` passes the HTTP/2
/// error on as it is, with the I/O error inside it but not among its
/// sources.
fn connection_failed(status: &Status) -> bool {
    let mut source = std::error::Error::source(status);
    while let Some(error) = source {
        if error.is::<std::io::Error>()
            || error
                .downcast_ref::<h2::Error>()
                .is_some_and(h2::Error::is_io)
        {
            return true;
        }
        source = error.source();
    }
    false
}

/// TLS from the `…_CERTIFICATE`, `…_CLIENT_CERTIFICATE` and `…_CLIENT_KEY`
/// PEM files. A configured certificate is the only one trusted, as over
/// HTTP; the web roots are trusted only when none is given.
fn tls_config(
    files: &TlsFiles,
    handshake_timeout: Option<Duration>,
) -> Result<ClientTlsConfig, InitError> {
    let mut config = ClientTlsConfig::new();
    if let Some(timeout) = handshake_timeout {
        config = config.timeout(timeout);
    }
    // The files are checked as over HTTP: `tonic` would skip a file with
    // no certificate in it, leaving nothing to trust, and report a bad key
    // only without naming its setting.
    match &files.certificate {
        Some(file) => {
            config = config.ca_certificate(Certificate::from_pem(file.trust_anchors()?.0))
        }
        None => config = config.with_webpki_roots(),
    }
    if let Some(identity) = files.checked_client_identity()? {
        config = config.identity(Identity::from_pem(
            identity.certificate_pem,
            identity.key_pem,
        ));
    }
    Ok(config)
}

/// Sends the request bytes the worker already encoded as they are, and
/// decodes the response with `opentelemetry-proto`'s type.
#[derive(Clone, Copy, Debug, Default)]
struct PreEncodedCodec;

impl Codec for PreEncodedCodec {
    type Encode = Vec<u8>;
    type Decode = ExportLogsServiceResponse;
    type Encoder = PreEncodedEncoder;
    type Decoder = tonic_prost::ProstDecoder<ExportLogsServiceResponse>;

    fn encoder(&mut self) -> Self::Encoder {
        PreEncodedEncoder
    }

    fn decoder(&mut self) -> Self::Decoder {
        tonic_prost::ProstCodec::<ExportLogsServiceRequest, ExportLogsServiceResponse>::raw_decoder(
            BufferSettings::default(),
        )
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct PreEncodedEncoder;

impl Encoder for PreEncodedEncoder {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        use prost::bytes::BufMut as _;
        dst.put_slice(&item);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::sync::Mutex;

    /// A failure with no status from the collector says why in
    /// `error.type`: the request's time ran out, or the connection failed
    /// under it; otherwise the collector's status names it.
    #[test]
    fn failures_name_their_cause() {
        let cause = |outcome| match outcome {
            Outcome::Retry { cause, .. } | Outcome::Failed { cause, .. } => cause.error_type(),
            other => panic!("not a failure: {other:?}"),
        };
        let mut refused = Status::unavailable("tcp connect error");
        refused.set_source(std::sync::Arc::new(std::io::Error::from(
            std::io::ErrorKind::ConnectionRefused,
        )));
        assert_eq!(
            cause(classify(&refused, "http://collector", false)),
            "connection_refused"
        );
        let late = Status::deadline_exceeded("no answer within 10s");
        assert_eq!(cause(classify(&late, "http://collector", true)), "timeout");
        assert_eq!(
            cause(classify(&late, "http://collector", false)),
            "DEADLINE_EXCEEDED"
        );
        let refused_for_content = Status::invalid_argument("bad");
        assert_eq!(
            cause(classify(&refused_for_content, "http://collector", false)),
            "INVALID_ARGUMENT"
        );
    }

    /// Only what `tonic` cannot read is changed: valid status details
    /// (padded or not) and UTF-8 messages stay as they came.
    #[test]
    fn only_an_unreadable_status_is_changed() {
        let readable = |details: &str, message: &str| {
            let mut headers = http::HeaderMap::new();
            headers.insert(STATUS_DETAILS, details.parse().expect("a header value"));
            headers.insert(STATUS_MESSAGE, message.parse().expect("a header value"));
            make_status_readable(&mut headers);
            let text = |name| {
                headers
                    .get(name)
                    .map(|value: &http::HeaderValue| value.to_str().expect("ASCII").to_owned())
            };
            (text(STATUS_DETAILS), text(STATUS_MESSAGE))
        };
        let kept =
            |details: &str, message: &str| (Some(details.to_owned()), Some(message.to_owned()));
        assert_eq!(readable("AAA=", "ok%20then"), kept("AAA=", "ok%20then"));
        assert_eq!(readable("AAA", "caf%C3%A9"), kept("AAA", "caf%C3%A9"));
        for malformed in ["*", "A A", "AAB="] {
            assert_eq!(readable(malformed, "m").0, None, "{malformed}");
        }
        assert_eq!(
            readable("AAA=", "cut%E2%82").1.as_deref(),
            Some("cut%EF%BF%BD")
        );
    }

    use hyper_util::rt::{TokioExecutor, TokioIo};

    use super::*;
    use crate::config::otlp::TlsFile;
    use crate::config::otlp::{OtlpOptions, Protocol};
    use crate::config::Env;

    /// A transport to a plaintext gRPC collector at `address`.
    fn plaintext_transport_to(address: std::net::SocketAddr) -> GrpcTransport {
        let options = OtlpOptions {
            endpoint: Some(format!("http://{address}")),
            protocol: Some(Protocol::Grpc),
            ..OtlpOptions::default()
        };
        let settings = OtlpSettings::resolve(&options, &Env::from_pairs(&[])).expect("settings");
        GrpcTransport::new(&settings).expect("transport")
    }

    /// Regression: a connection that closed under a request (a collector
    /// that crashed or restarted) came back from `tonic` as `UNKNOWN`,
    /// which the retry table does not retry, and the batch was lost.
    #[test]
    fn a_connection_lost_mid_request_is_retried() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let address = listener.local_addr().expect("address");
        // An HTTP/2 server that takes each request and then drops its
        // connection without answering.
        runtime.spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (seen, request_seen) = tokio::sync::oneshot::channel::<()>();
                    let seen = Mutex::new(Some(seen));
                    let service = hyper::service::service_fn(move |_request| {
                        if let Some(seen) = seen.lock().ok().and_then(|mut seen| seen.take()) {
                            let _ = seen.send(());
                        }
                        std::future::pending::<Result<hyper::Response<String>, Infallible>>()
                    });
                    let connection = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service);
                    tokio::select! {
                        _ = connection => {}
                        _ = request_seen => {}
                    }
                });
            }
        });
        let outcome = plaintext_transport_to(address).send(&[]);
        assert!(matches!(outcome, Outcome::Retry { .. }), "{outcome:?}");
    }

    /// Regression: a peer that took the connection and never answered the
    /// TLS handshake held the worker for good; only the request after it
    /// and the TCP connection were bounded.
    #[test]
    fn a_peer_that_never_answers_the_handshake_is_timed_out_and_retried() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let address = listener.local_addr().expect("address");
        let options = OtlpOptions {
            endpoint: Some(format!("https://{address}")),
            protocol: Some(Protocol::Grpc),
            timeout: Some(Duration::from_millis(200)),
            ..OtlpOptions::default()
        };
        let settings = OtlpSettings::resolve(&options, &Env::from_pairs(&[])).expect("settings");
        let mut transport = GrpcTransport::new(&settings).expect("transport");
        // The listener takes connections into its backlog and never reads
        // them: each handshake waits for good.
        for _ in 0..3 {
            match transport.send(&[]) {
                Outcome::Retry { reason, .. } => {
                    assert!(reason.contains("DeadlineExceeded"), "{reason}")
                }
                outcome => panic!("{outcome:?}"),
            }
        }
        // Regression: the stuck connection stayed in the channel, and the
        // next attempt waited behind it instead of connecting afresh.
        listener.set_nonblocking(true).expect("non-blocking");
        let mut connections: Vec<std::net::TcpStream> = (1..=3)
            .map(|attempt| match listener.accept() {
                Ok((connection, _)) => connection,
                Err(error) => panic!("no connection for attempt {attempt}: {error}"),
            })
            .collect();
        // Regression: a connection given up on stayed open for good, its
        // handshake waiting in a channel nobody used any more: one socket
        // lost per attempt while the collector hung. Each is closed once
        // the transport's runtime runs again, as it does for the next
        // attempt (the last attempt's, when the transport is dropped). The
        // read's timeout only keeps a failure from hanging the tests.
        connections.pop();
        for (attempt, mut connection) in connections.into_iter().enumerate() {
            connection.set_nonblocking(false).expect("blocking");
            connection
                .set_read_timeout(Some(Duration::from_secs(60)))
                .expect("a read timeout");
            let mut hello = Vec::new();
            let closed = std::io::Read::read_to_end(&mut connection, &mut hello);
            assert!(
                closed.is_ok(),
                "attempt {}'s connection is still open: {closed:?}",
                attempt + 1
            );
        }
    }

    /// A connection the collector's TLS ended with an alert (here: it
    /// wanted a client certificate) comes back as `UNKNOWN` with the I/O
    /// error behind it: the collector never answered, so it is retried,
    /// and the alert is in the reason.
    #[test]
    fn an_unknown_status_from_a_failed_connection_is_retried_with_its_cause() {
        let alert = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "received fatal alert: CertificateRequired",
        );
        let status = Status::from_error(Box::new(alert));
        match classify(&status, "https://collector", false) {
            Outcome::Retry { reason, .. } => assert_eq!(
                reason,
                "gRPC Unknown from https://collector: received fatal alert: CertificateRequired"
            ),
            outcome => panic!("{outcome:?}"),
        }
    }

    /// Regression: over gRPC, a CA file with no certificate in it was
    /// accepted (leaving nothing to trust), and a bad key was reported
    /// without the setting that gave it.
    #[test]
    fn a_bad_tls_file_names_the_setting_it_came_from() {
        let fixture = |name: &str| format!("{}/fixtures/tls/{name}", env!("CARGO_MANIFEST_DIR"));
        let not_pem = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
        let file = |path: &str, setting: &str| Some(TlsFile::new(path, setting));
        let setting_of = |files: TlsFiles| match tls_config(&files, None) {
            Err(crate::InitError::InvalidConfig { setting, .. }) => setting,
            Err(other) => panic!("{other}"),
            Ok(_) => panic!("accepted {files:?}"),
        };
        let ca = "OTEL_EXPORTER_OTLP_CERTIFICATE";
        let client_pem = fixture("client.pem");
        let client = file(&client_pem, "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE");
        let key = "OTEL_EXPORTER_OTLP_CLIENT_KEY";
        let logs_key = "OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY";
        let no_certificate = TlsFiles {
            certificate: file(not_pem, ca),
            ..TlsFiles::default()
        };
        assert_eq!(setting_of(no_certificate), ca);
        let bad_key = TlsFiles {
            client_certificate: client.clone(),
            client_key: file(not_pem, logs_key),
            ..TlsFiles::default()
        };
        assert_eq!(setting_of(bad_key), logs_key);
        let mismatched_key = TlsFiles {
            client_certificate: client.clone(),
            client_key: file(&fixture("server.key"), key),
            ..TlsFiles::default()
        };
        assert_eq!(setting_of(mismatched_key), key);
        let unparsable = TlsFiles {
            certificate: file(&fixture("not-a-certificate.pem"), ca),
            ..TlsFiles::default()
        };
        assert_eq!(setting_of(unparsable), ca);
        let good = TlsFiles {
            certificate: file(&fixture("ca.pem"), ca),
            client_certificate: client,
            client_key: file(&fixture("client.key"), key),
        };
        assert!(tls_config(&good, None).is_ok());
    }

    /// Regression: a configured CA certificate was trusted beside the web
    /// roots over gRPC, while HTTP trusts only it.
    #[test]
    fn a_configured_certificate_replaces_the_web_roots() {
        let with_certificate = tls_config(
            &TlsFiles {
                certificate: Some(TlsFile::new(
                    concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/tls/ca.pem"),
                    "OTEL_EXPORTER_OTLP_CERTIFICATE",
                )),
                ..TlsFiles::default()
            },
            None,
        )
        .expect("config");
        // `ClientTlsConfig` shows its settings only through `Debug`.
        assert!(
            format!("{with_certificate:?}").contains("with_webpki_roots: false"),
            "{with_certificate:?}"
        );
        let without = tls_config(&TlsFiles::default(), None).expect("config");
        assert!(format!("{without:?}").contains("with_webpki_roots: true"));
    }

    /// Regression: a `RetryInfo` without a delay was taken for no
    /// `RetryInfo` at all, and the batch was dropped instead of retried.
    #[test]
    fn resource_exhausted_with_a_retry_info_is_retried_with_or_without_a_delay() {
        use tonic_types::ErrorDetails;
        let status = |delay| {
            Status::with_error_details(
                Code::ResourceExhausted,
                "slow down",
                ErrorDetails::with_retry_info(delay),
            )
        };
        let outcome = classify(&status(None), "http://collector", false);
        assert!(
            matches!(outcome, Outcome::Retry { after: None, .. }),
            "{outcome:?}"
        );
        let delay = Some(Duration::from_secs(2));
        let outcome = classify(&status(delay), "http://collector", false);
        assert!(
            matches!(outcome, Outcome::Retry { after, .. } if after == delay),
            "{outcome:?}"
        );
        let without = Status::resource_exhausted("full");
        let outcome = classify(&without, "http://collector", false);
        assert!(matches!(outcome, Outcome::Failed { .. }), "{outcome:?}");
    }

    /// `tonic`'s refusal of an answer larger than this client reads is
    /// told from a server's refusal of a request by the limit it names,
    /// whether the answer came compressed or not.
    #[test]
    fn only_the_clients_own_refusal_of_a_large_answer_is_taken_for_one() {
        let limit = GRPC_MAX_RESPONSE_BYTES;
        let request_len = 2_000_000;
        for (status, ours) in [
            (
                Status::out_of_range(format!(
                    "Error, decoded message length too large: found 5242890 bytes, the limit is: {limit} bytes"
                )),
                true,
            ),
            (
                Status::resource_exhausted(format!(
                    "Error decompressing: size limit, of {limit} bytes, exceeded while decompressing message"
                )),
                true,
            ),
            // A server's refusals of the request: its limit, or the
            // request's own size.
            (
                Status::out_of_range(format!(
                    "Error, decoded message length too large: found {request_len} bytes, the limit is: {limit} bytes"
                )),
                false,
            ),
            (
                Status::resource_exhausted(
                    "Error decompressing: size limit, of 1048576 bytes, exceeded while decompressing message",
                ),
                false,
            ),
            (
                Status::out_of_range(
                    "Error, decoded message length too large: found 5242890 bytes, the limit is: 1048576 bytes",
                ),
                false,
            ),
        ] {
            assert_eq!(answer_too_large(&status, request_len), ours, "{status:?}");
        }
    }

    /// A refusal tells whether it is about the request (malformed, too
    /// large) or the endpoint: only the second pauses the spool's replay.
    #[test]
    fn a_refusal_says_whether_it_is_about_the_endpoint() {
        for (status, about) in [
            (Status::invalid_argument("bad"), false),
            (Status::resource_exhausted("too large"), false),
            (Status::unauthenticated("token expired"), true),
            (Status::permission_denied("no"), true),
            (Status::unimplemented("no logs service"), true),
        ] {
            match classify(&status, "http://collector", false) {
                Outcome::Failed { about_endpoint, .. } => {
                    assert_eq!(about_endpoint, about, "{status:?}");
                }
                outcome => panic!("{status:?}: {outcome:?}"),
            }
        }
    }

    /// Regression: a stream the collector reset came back from `tonic` as
    /// `UNKNOWN`, not retried, and the batch was lost. `tonic` maps HTTP/2
    /// resets to codes only with its `server` feature, which the tests'
    /// own dependencies switch on for the crate too; the status here is
    /// built as `tonic` builds it without: `UNKNOWN`, with the reset among
    /// its sources.
    #[test]
    fn a_stream_the_collector_refused_or_cancelled_is_retried() {
        #[derive(Debug)]
        struct TransportError(h2::Error);
        impl std::fmt::Display for TransportError {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("transport error")
            }
        }
        impl std::error::Error for TransportError {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let reset = |reason| Status::from_error(Box::new(TransportError(h2::Error::from(reason))));
        assert_eq!(reset(h2::Reason::REFUSED_STREAM).code(), Code::Unknown);
        for (reason, code) in [
            (h2::Reason::REFUSED_STREAM, "Unavailable"),
            (h2::Reason::CANCEL, "Cancelled"),
        ] {
            match classify(&reset(reason), "http://collector", false) {
                Outcome::Retry { reason, .. } => assert!(
                    reason.starts_with(&format!("gRPC {code} from http://collector")),
                    "{reason}"
                ),
                outcome => panic!("{reason:?}: {outcome:?}"),
            }
        }
        for reason in [
            h2::Reason::PROTOCOL_ERROR,
            h2::Reason::ENHANCE_YOUR_CALM,
            h2::Reason::INADEQUATE_SECURITY,
        ] {
            let outcome = classify(&reset(reason), "http://collector", false);
            assert!(
                matches!(outcome, Outcome::Failed { .. }),
                "{reason:?}: {outcome:?}"
            );
        }
    }

    /// Regression: a request that a collector going away left unprocessed
    /// (a `GOAWAY` whose last stream is below the request's) was not
    /// retried, though the collector never saw it: `UNKNOWN` from `tonic`
    /// as the crate builds it, `INTERNAL` as the tests build it.
    #[test]
    fn a_request_a_collector_going_away_left_unprocessed_is_retried() {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let address = listener.local_addr().expect("address");
        // An HTTP/2 peer that answers the first request's headers with a
        // `GOAWAY` whose last processed stream is 0.
        std::thread::spawn(move || {
            let Ok((mut stream, _)) = listener.accept() else {
                return;
            };
            // Its (empty) settings, then the client's preface.
            let _ = stream.write_all(&[0, 0, 0, 4, 0, 0, 0, 0, 0]);
            let mut preface = [0; 24];
            if stream.read_exact(&mut preface).is_err() {
                return;
            }
            let mut header = [0; 9];
            while stream.read_exact(&mut header).is_ok() {
                let length = u32::from_be_bytes([0, header[0], header[1], header[2]]);
                let mut payload = vec![0; length as usize];
                if stream.read_exact(&mut payload).is_err() {
                    return;
                }
                const HEADERS: u8 = 1;
                if header[3] == HEADERS {
                    let go_away = [0, 0, 8, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
                    let _ = stream.write_all(&go_away);
                }
            }
        });
        match plaintext_transport_to(address).send(&[]) {
            Outcome::Retry { reason, .. } => assert!(reason.contains("Unavailable"), "{reason}"),
            outcome => panic!("{outcome:?}"),
        }
    }

    /// The collector's own `UNKNOWN` (no lost connection behind it) is
    /// not retried: the retry table stands.
    #[test]
    fn an_unknown_status_from_the_collector_is_not_retried() {
        let outcome = classify(
            &Status::unknown("collector says no"),
            "http://collector",
            false,
        );
        assert!(matches!(outcome, Outcome::Failed { .. }), "{outcome:?}");
    }
}
