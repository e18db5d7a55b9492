//! An in-process OTLP logs receiver for the integration tests: a stand-in
//! for an OpenTelemetry Collector that records what an exporter sent.
//!
//! # Shape
//!
//! One receiver serves one protocol family on its own port of 127.0.0.1:
//!
//! - OTLP/HTTP from [`Receiver::http`]: `POST /v1/logs` with an
//!   `ExportLogsServiceRequest` as `application/x-protobuf` or as OTLP/JSON
//!   (`application/json`), either one optionally `Content-Encoding: gzip`.
//!   The answer uses the request's content type.
//! - OTLP/gRPC from [`Receiver::grpc`]:
//!   `opentelemetry.proto.collector.logs.v1.LogsService/Export`, gzip
//!   accepted.
//!
//! [`Receiver::https`] and [`Receiver::grpcs`] serve OTLP/HTTP and
//! OTLP/gRPC over TLS as `localhost`, with the certificate in
//! `fixtures/tls/`, and can require a client certificate signed by the same
//! authority.
//!
//! [`Receiver::http_later`] and [`Receiver::grpc_later`] reserve the port at
//! once but listen only after a delay, like a collector that is still
//! starting: connections are refused until then.
//!
//! Each receiver runs its own single-threaded tokio runtime on a background
//! thread, so tests need no runtime. Dropping the receiver stops it and
//! closes every connection.
//!
//! # What it records
//!
//! Every request received counts as an *attempt* ([`Receiver::attempts`]),
//! and its content type, content encoding and headers are kept in arrival
//! order. A request is *accepted* when it decodes and its answer is a
//! success (200, a scripted 2xx, a partial success, or gRPC `OK`); only
//! accepted requests show in [`Receiver::requests`] and
//! [`Receiver::records`]. A request that does not decode gets 400 (415 for
//! an unknown content type or encoding, 404/405 for another path or method)
//! and is not accepted. A gRPC message that does not decode is answered by
//! tonic itself and never reaches the receiver, so it is no attempt.
//!
//! # Scripted answers
//!
//! [`Receiver::respond_with`] queues answers that are handed out one per
//! decoded request, in order; once the queue is empty every request gets the
//! plain success answer.
//!
//! ```ignore
//! let receiver = Receiver::http();
//! receiver.respond_with([Response::Status { code: 503, retry_after: Some("1".into()) }]);
//! // ... point the exporter at receiver.endpoint() and log something ...
//! assert!(receiver.wait_for_records(1, Duration::from_secs(5)));
//! assert_eq!(receiver.attempts(), 2); // the 503, then the retry
//! ```

use std::collections::VecDeque;
use std::convert::Infallible;
use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, TcpListener as StdTcpListener};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use flate2::read::GzDecoder;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderName, HeaderValue, CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER};
use hyper::{HeaderMap, Method, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;
use tonic::codec::CompressionEncoding;
use tonic::transport::server::{ServerTlsConfig, TcpIncoming};
use tonic::transport::{Certificate, Identity};
use tonic_types::{ErrorDetails, StatusExt};

/// The largest request body accepted, before and after decompression. Far
/// above any batch an exporter sends; it only stops a broken client from
/// exhausting memory.
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// How many connections wait for the receiver to accept them.
const BACKLOG: i32 = 1024;

/// The OTLP protocols an exporter can speak (`OTEL_EXPORTER_OTLP_PROTOCOL`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    HttpProtobuf,
    HttpJson,
    Grpc,
}

impl Protocol {
    pub const ALL: [Protocol; 3] = [Protocol::HttpProtobuf, Protocol::HttpJson, Protocol::Grpc];

    /// The value of `OTEL_EXPORTER_OTLP_PROTOCOL` that selects this protocol.
    pub fn env_value(self) -> &'static str {
        match self {
            Protocol::HttpProtobuf => "http/protobuf",
            Protocol::HttpJson => "http/json",
            Protocol::Grpc => "grpc",
        }
    }

    /// The `Content-Type` of a request in this protocol, as recorded by
    /// [`Receiver::content_types`].
    pub fn content_type(self) -> &'static str {
        match self {
            Protocol::HttpProtobuf => "application/x-protobuf",
            Protocol::HttpJson => "application/json",
            Protocol::Grpc => "application/grpc",
        }
    }
}

/// A scripted answer to one request.
#[derive(Clone, Debug, PartialEq)]
pub enum Response {
    /// The plain success answer (also the answer once the script is empty).
    Ok,
    /// HTTP only: this status code, with a `Retry-After` header when given
    /// (seconds or an HTTP date, sent as is). A 2xx code accepts the request.
    Status {
        code: u16,
        retry_after: Option<String>,
    },
    /// Success carrying an `ExportLogsPartialSuccess`; the request is
    /// accepted (the exporter cannot resend the rejected part anyway).
    PartialSuccess { rejected: i64, message: String },
    /// gRPC only: this status code, with a `google.rpc.RetryInfo` detail when
    /// `retry_after` is given. `Code::Ok` accepts the request.
    Grpc {
        code: tonic::Code,
        retry_after: Option<Duration>,
    },
    /// HTTP only: `200 OK` with an HTML page of this many bytes (at least
    /// 48), as a web server that is no collector answers; the request is
    /// kept.
    Page { bytes: usize },
    /// gRPC only: this status code with this message and nothing else, as
    /// a server's own refusal reads (`tonic`'s, for a request larger than
    /// it reads, names its limit).
    GrpcText { code: tonic::Code, message: String },
    /// Either protocol: no answer for this long, then a refusal (503 or
    /// `UNAVAILABLE`); the request is not kept. A collector that hangs.
    Stall(Duration),
    /// Either protocol: the request is dropped without an answer (HTTP:
    /// the connection closes; gRPC: the stream is reset) and not kept. The
    /// handler panics to do it, so a "scripted disconnect" panic message
    /// in the test output is expected.
    Disconnect,
}

impl Response {
    fn accepts_request(&self) -> bool {
        match self {
            Response::Ok | Response::PartialSuccess { .. } | Response::Page { .. } => true,
            Response::Status { code, .. } => (200..300).contains(code),
            Response::Grpc { code, .. } | Response::GrpcText { code, .. } => {
                *code == tonic::Code::Ok
            }
            Response::Stall(_) | Response::Disconnect => false,
        }
    }

    fn success_body(&self) -> ExportLogsServiceResponse {
        let partial_success = match self {
            Response::PartialSuccess { rejected, message } => Some(ExportLogsPartialSuccess {
                rejected_log_records: *rejected,
                error_message: message.clone(),
            }),
            _ => None,
        };
        ExportLogsServiceResponse { partial_success }
    }
}

/// One accepted log record with the resource and scope it came under.
#[derive(Clone, Debug, PartialEq)]
pub struct ReceivedRecord {
    pub resource: Option<Resource>,
    pub scope: Option<InstrumentationScope>,
    pub record: LogRecord,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    Http,
    Grpc,
}

/// An OTLP logs receiver on 127.0.0.1; see the module documentation.
pub struct Receiver {
    family: Family,
    endpoint: String,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    server_thread: Option<JoinHandle<()>>,
}

impl Receiver {
    /// An OTLP/HTTP receiver (protobuf and JSON, gzip or not), listening now.
    pub fn http() -> Receiver {
        Receiver::start(Family::Http, Duration::ZERO)
    }

    /// An OTLP/HTTP protobuf receiver that only counts the records it
    /// accepts, without building them, so that it takes as little CPU as
    /// possible from the exporter being measured. [`Receiver::records`] and
    /// [`Receiver::requests`] stay empty; [`Receiver::record_count`] counts.
    pub fn http_counting() -> Receiver {
        let receiver = Receiver::start(Family::Http, Duration::ZERO);
        receiver.shared.lock().count_only = true;
        receiver
    }

    /// How many records were accepted.
    pub fn record_count(&self) -> usize {
        self.shared.lock().accepted_records
    }

    /// An OTLP/HTTP receiver over TLS, at `https://localhost:PORT`, with
    /// the certificate `fixtures/tls/server.pem` (signed by
    /// `fixtures/tls/ca.pem`); with `client_certificate`, it accepts only
    /// clients with a certificate signed by that authority.
    pub fn https(client_certificate: bool) -> Receiver {
        Receiver::start_with(
            Family::Http,
            Duration::ZERO,
            Some(Tls { client_certificate }),
        )
    }

    /// An OTLP/gRPC receiver, listening now.
    pub fn grpc() -> Receiver {
        Receiver::start(Family::Grpc, Duration::ZERO)
    }

    /// An OTLP/gRPC receiver over TLS, with the certificates of
    /// [`Receiver::https`].
    pub fn grpcs(client_certificate: bool) -> Receiver {
        Receiver::start_with(
            Family::Grpc,
            Duration::ZERO,
            Some(Tls { client_certificate }),
        )
    }

    /// An OTLP/HTTP receiver whose port is known now but which listens only
    /// after `delay`; connections are refused until then.
    pub fn http_later(delay: Duration) -> Receiver {
        Receiver::start(Family::Http, delay)
    }

    /// An OTLP/gRPC receiver that listens only after `delay`.
    pub fn grpc_later(delay: Duration) -> Receiver {
        Receiver::start(Family::Grpc, delay)
    }

    /// The receiver that serves `protocol`: [`Receiver::http`] for both HTTP
    /// encodings, [`Receiver::grpc`] for gRPC.
    pub fn for_protocol(protocol: Protocol) -> Receiver {
        match protocol {
            Protocol::HttpProtobuf | Protocol::HttpJson => Receiver::http(),
            Protocol::Grpc => Receiver::grpc(),
        }
    }

    /// [`Receiver::for_protocol`] over TLS: [`Receiver::https`] or
    /// [`Receiver::grpcs`].
    pub fn for_protocol_over_tls(protocol: Protocol, client_certificate: bool) -> Receiver {
        match protocol {
            Protocol::HttpProtobuf | Protocol::HttpJson => Receiver::https(client_certificate),
            Protocol::Grpc => Receiver::grpcs(client_certificate),
        }
    }

    fn start(family: Family, delay: Duration) -> Receiver {
        Receiver::start_with(family, delay, None)
    }

    fn start_with(family: Family, delay: Duration, tls: Option<Tls>) -> Receiver {
        // Bound now, listening now or after the delay: a socket that is
        // bound but not listening holds its port, so that no other test
        // can take it meanwhile, and connections to it are refused, as
        // when no collector runs.
        let socket = reserve_port();
        if delay.is_zero() {
            // Listening before this returns: the test may connect at once.
            socket.listen(BACKLOG).expect("listen");
        }
        let address = socket
            .local_addr()
            .ok()
            .and_then(|address| address.as_socket())
            .expect("bound address");
        // The server certificate names `localhost`, not the address.
        let endpoint = match tls {
            Some(_) => format!("https://localhost:{}", address.port()),
            None => format!("http://{address}"),
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("receiver runtime");
        let shared = Arc::new(Shared::default());
        let (stop, stopped) = oneshot::channel();
        let server_shared = Arc::clone(&shared);
        let server_thread = std::thread::Builder::new()
            .name(format!("otlp-receiver-{}", address.port()))
            .spawn(move || {
                runtime.block_on(async move {
                    tokio::select! {
                        _ = stopped => {}
                        () = run_server(family, socket, address, delay, tls, server_shared) => {}
                    }
                });
                // Dropping the runtime here cancels every connection task.
            })
            .expect("spawn the receiver thread");
        Receiver {
            family,
            endpoint,
            shared,
            stop: Some(stop),
            server_thread: Some(server_thread),
        }
    }

    /// The base URL, `http://127.0.0.1:PORT` for HTTP and gRPC alike
    /// (`https://localhost:PORT` over TLS); an HTTP exporter appends
    /// `/v1/logs`.
    pub fn endpoint(&self) -> String {
        self.endpoint.clone()
    }

    /// Queues answers for the next decoded requests, after any still queued.
    ///
    /// Panics on an answer the receiver's protocol cannot give (an HTTP
    /// status on a gRPC receiver, a gRPC code on an HTTP one, an HTTP code
    /// outside 100..=599), so a mistaken script fails the test where it is
    /// written.
    pub fn respond_with(&self, responses: impl IntoIterator<Item = Response>) {
        let responses: Vec<Response> = responses.into_iter().collect();
        for response in &responses {
            match (self.family, response) {
                (Family::Http, Response::Grpc { .. } | Response::GrpcText { .. }) => {
                    panic!("a gRPC answer scripted on an HTTP receiver: {response:?}")
                }
                (Family::Grpc, Response::Status { .. } | Response::Page { .. }) => {
                    panic!("an HTTP status scripted on a gRPC receiver: {response:?}")
                }
                (Family::Http, Response::Status { code, .. }) => {
                    assert!(
                        (100..=599).contains(code),
                        "not an HTTP status code: {code}"
                    );
                }
                _ => {}
            }
        }
        self.shared.lock().script.extend(responses);
    }

    /// Drops the answers still queued: from now on every request is
    /// accepted, as when a collector that was failing recovers.
    pub fn recover(&self) {
        self.shared.lock().script.clear();
    }

    /// The accepted requests, decoded, in arrival order.
    pub fn requests(&self) -> Vec<ExportLogsServiceRequest> {
        self.shared.lock().accepted.clone()
    }

    /// The log records of the accepted requests, each with its resource and
    /// scope, in the order they were sent.
    pub fn records(&self) -> Vec<ReceivedRecord> {
        let state = self.shared.lock();
        let mut records = Vec::with_capacity(state.accepted_records);
        for request in &state.accepted {
            for resource_logs in &request.resource_logs {
                for scope_logs in &resource_logs.scope_logs {
                    for record in &scope_logs.log_records {
                        records.push(ReceivedRecord {
                            resource: resource_logs.resource.clone(),
                            scope: scope_logs.scope.clone(),
                            record: record.clone(),
                        });
                    }
                }
            }
        }
        records
    }

    /// Every request received, accepted or not.
    pub fn attempts(&self) -> usize {
        self.shared.lock().received.len()
    }

    /// The `Content-Type` of every request received (`""` when absent),
    /// parameters included.
    pub fn content_types(&self) -> Vec<String> {
        let state = self.shared.lock();
        state
            .received
            .iter()
            .map(|r| r.content_type.clone())
            .collect()
    }

    /// The compression of every request received: `Content-Encoding` for
    /// HTTP, `grpc-encoding` for gRPC; `None` when absent.
    pub fn content_encodings(&self) -> Vec<Option<String>> {
        let state = self.shared.lock();
        state
            .received
            .iter()
            .map(|r| r.content_encoding.clone())
            .collect()
    }

    /// The headers of every request received (gRPC: its metadata).
    pub fn headers(&self) -> Vec<HeaderMap> {
        let state = self.shared.lock();
        state.received.iter().map(|r| r.headers.clone()).collect()
    }

    /// Waits until at least `n` records were accepted; `false` if `timeout`
    /// passed first.
    pub fn wait_for_records(&self, n: usize, timeout: Duration) -> bool {
        self.shared
            .wait_until(timeout, |state| state.accepted_records >= n)
    }

    /// Waits until at least `n` requests were received, accepted or not;
    /// `false` if `timeout` passed first. For retries against scripted
    /// failures, which leave no records to wait for.
    pub fn wait_for_attempts(&self, n: usize, timeout: Duration) -> bool {
        self.shared
            .wait_until(timeout, |state| state.received.len() >= n)
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            // The server may have ended already; then there is nothing to stop.
            let _ = stop.send(());
        }
        if let Some(thread) = self.server_thread.take() {
            // Never panic in drop: a test may be unwinding already.
            let _ = thread.join();
        }
    }
}

/// What the server thread and the test share.
#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    /// Notified whenever a request was received or accepted.
    changed: Condvar,
}

#[derive(Default)]
struct State {
    script: VecDeque<Response>,
    received: Vec<RequestInfo>,
    accepted: Vec<ExportLogsServiceRequest>,
    accepted_records: usize,
    /// Set by [`Receiver::http_counting`].
    count_only: bool,
}

struct RequestInfo {
    content_type: String,
    content_encoding: Option<String>,
    headers: HeaderMap,
}

impl Shared {
    /// Locks the state. A test that panicked while holding the lock must
    /// not take the server down with it, so poisoning is ignored.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wait_until(&self, timeout: Duration, done: impl Fn(&State) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = self.lock();
        while !done(&state) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            state = self
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        true
    }

    fn note_received(&self, info: RequestInfo) {
        self.lock().received.push(info);
        self.changed.notify_all();
    }

    /// Takes the next scripted answer for a decoded request and keeps the
    /// request if that answer accepts it.
    fn answer(&self, request: ExportLogsServiceRequest) -> Response {
        let mut state = self.lock();
        let response = state.script.pop_front().unwrap_or(Response::Ok);
        if response.accepts_request() {
            state.accepted_records += count_records(&request);
            state.accepted.push(request);
            drop(state);
            self.changed.notify_all();
        }
        response
    }
}

fn count_records(request: &ExportLogsServiceRequest) -> usize {
    request
        .resource_logs
        .iter()
        .flat_map(|resource_logs| &resource_logs.scope_logs)
        .map(|scope_logs| scope_logs.log_records.len())
        .sum()
}

async fn run_server(
    family: Family,
    socket: socket2::Socket,
    address: SocketAddr,
    delay: Duration,
    tls: Option<Tls>,
    shared: Arc<Shared>,
) {
    let listening = if delay.is_zero() {
        Ok(())
    } else {
        tokio::time::sleep(delay).await;
        socket.listen(BACKLOG)
    };
    let listening = listening
        .and_then(|()| socket.set_nonblocking(true))
        .and_then(|()| TcpListener::from_std(StdTcpListener::from(socket)));
    let listener = match listening {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("otlp receiver: cannot listen on {address}: {error}");
            return;
        }
    };
    match family {
        Family::Http => serve_http(listener, tls.map(Tls::acceptor), shared).await,
        Family::Grpc => serve_grpc(listener, tls, shared).await,
    }
}

/// A TCP socket bound to a free port of 127.0.0.1, not listening: it holds
/// the port, and connections to it are refused until it listens.
pub fn reserve_port() -> socket2::Socket {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
        .expect("a TCP socket");
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    socket
        .bind(&address.into())
        .expect("bind an ephemeral port on 127.0.0.1");
    socket
}

// ----------------------------------------------------------------- TLS ---

/// How a receiver serves TLS: as `localhost`, with the certificate
/// `fixtures/tls/server.pem` signed by `fixtures/tls/ca.pem`.
#[derive(Clone, Copy, Debug)]
struct Tls {
    /// Whether only clients with a certificate signed by that authority are
    /// accepted.
    client_certificate: bool,
}

/// The path of a file of `fixtures/tls/`.
pub fn tls_fixture(name: &str) -> String {
    format!("{}/fixtures/tls/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn read_tls_fixture(name: &str) -> Vec<u8> {
    std::fs::read(tls_fixture(name)).unwrap_or_else(|error| panic!("fixtures/tls/{name}: {error}"))
}

impl Tls {
    /// The TLS side of [`Receiver::https`].
    fn acceptor(self) -> TlsAcceptor {
        let chain: Vec<CertificateDer<'static>> =
            CertificateDer::pem_file_iter(tls_fixture("server.pem"))
                .expect("fixtures/tls/server.pem")
                .collect::<Result<_, _>>()
                .expect("PEM certificates");
        let key = PrivateKeyDer::from_pem_file(tls_fixture("server.key"))
            .expect("fixtures/tls/server.key");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .expect("TLS versions");
        let builder = if self.client_certificate {
            let mut roots = rustls::RootCertStore::empty();
            for certificate in
                CertificateDer::pem_file_iter(tls_fixture("ca.pem")).expect("fixtures/tls/ca.pem")
            {
                roots
                    .add(certificate.expect("PEM certificate"))
                    .expect("a CA certificate");
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .expect("client certificate verifier");
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let config = builder
            .with_single_cert(chain, key)
            .expect("the server certificate and key");
        TlsAcceptor::from(Arc::new(config))
    }

    /// The TLS side of [`Receiver::grpcs`], in tonic's terms.
    fn grpc_config(self) -> ServerTlsConfig {
        let identity = Identity::from_pem(
            read_tls_fixture("server.pem"),
            read_tls_fixture("server.key"),
        );
        let config = ServerTlsConfig::new().identity(identity);
        if self.client_certificate {
            config.client_ca_root(Certificate::from_pem(read_tls_fixture("ca.pem")))
        } else {
            config
        }
    }
}

// ---------------------------------------------------------------- HTTP ---

async fn serve_http(listener: TcpListener, tls: Option<TlsAcceptor>, shared: Arc<Shared>) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                // Typically out of file descriptors: back off instead of
                // spinning, the test will notice the missing requests.
                eprintln!("otlp receiver: accept failed: {error}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let shared = Arc::clone(&shared);
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                None => serve_http_connection(stream, shared).await,
                // A failed handshake (the client did not trust this server,
                // or this server the client) makes no request, no attempt.
                Some(tls) => {
                    if let Ok(stream) = tls.accept(stream).await {
                        serve_http_connection(stream, shared).await;
                    }
                }
            }
        });
    }
}

/// Serves the requests of one connection, in the clear or over TLS.
async fn serve_http_connection(
    stream: impl AsyncRead + AsyncWrite + Unpin + Send + 'static,
    shared: Arc<Shared>,
) {
    let service =
        hyper::service::service_fn(move |request| serve_http_request(Arc::clone(&shared), request));
    // HTTP/1.1, and HTTP/2 with prior knowledge, like a collector. A
    // connection error only means the client went away.
    let _ = auto::Builder::new(TokioExecutor::new())
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

/// The two OTLP/HTTP encodings.
#[derive(Clone, Copy)]
enum HttpEncoding {
    Protobuf,
    Json,
}

impl HttpEncoding {
    fn of(content_type: &str) -> Option<HttpEncoding> {
        let media_type = content_type.split(';').next().unwrap_or_default().trim();
        if media_type.eq_ignore_ascii_case(Protocol::HttpProtobuf.content_type()) {
            Some(HttpEncoding::Protobuf)
        } else if media_type.eq_ignore_ascii_case(Protocol::HttpJson.content_type()) {
            Some(HttpEncoding::Json)
        } else {
            None
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            HttpEncoding::Protobuf => Protocol::HttpProtobuf.content_type(),
            HttpEncoding::Json => Protocol::HttpJson.content_type(),
        }
    }

    fn decode(self, body: &[u8]) -> Result<ExportLogsServiceRequest, String> {
        match self {
            HttpEncoding::Protobuf => {
                ExportLogsServiceRequest::decode(body).map_err(|e| e.to_string())
            }
            HttpEncoding::Json => serde_json::from_slice(body).map_err(|e| e.to_string()),
        }
    }

    fn encode_response(self, response: &ExportLogsServiceResponse) -> Vec<u8> {
        match self {
            HttpEncoding::Protobuf => response.encode_to_vec(),
            // As a collector writes it: an absent partial success left
            // out rather than sent as `null`, and the 64-bit count as a
            // decimal string, as proto3 JSON has it.
            HttpEncoding::Json => match &response.partial_success {
                None => b"{}".to_vec(),
                Some(partial) => serde_json::json!({
                    "partialSuccess": {
                        "rejectedLogRecords": partial.rejected_log_records.to_string(),
                        "errorMessage": partial.error_message,
                    }
                })
                .to_string()
                .into_bytes(),
            },
        }
    }

    /// A `google.rpc.Status` body, which OTLP/HTTP sends with every error.
    fn encode_error(self, status: StatusCode, message: &str) -> Vec<u8> {
        let code = grpc_code_for(status) as i32;
        match self {
            HttpEncoding::Protobuf => tonic_types::Status {
                code,
                message: message.to_owned(),
                details: Vec::new(),
            }
            .encode_to_vec(),
            HttpEncoding::Json => serde_json::json!({ "code": code, "message": message })
                .to_string()
                .into_bytes(),
        }
    }
}

/// The gRPC code matching an HTTP error status, for the `google.rpc.Status`
/// of an OTLP/HTTP error body.
fn grpc_code_for(status: StatusCode) -> tonic::Code {
    match status.as_u16() {
        400 => tonic::Code::InvalidArgument,
        401 => tonic::Code::Unauthenticated,
        403 => tonic::Code::PermissionDenied,
        404 => tonic::Code::NotFound,
        429 => tonic::Code::ResourceExhausted,
        500..=599 => tonic::Code::Unavailable,
        _ => tonic::Code::Unknown,
    }
}

type HttpResponse = hyper::Response<Full<Bytes>>;

async fn serve_http_request(
    shared: Arc<Shared>,
    request: hyper::Request<Incoming>,
) -> Result<HttpResponse, Infallible> {
    let (parts, body) = request.into_parts();
    let content_type = header_text(&parts.headers, &CONTENT_TYPE).unwrap_or_default();
    let content_encoding = header_text(&parts.headers, &CONTENT_ENCODING);
    shared.note_received(RequestInfo {
        content_type: content_type.clone(),
        content_encoding: content_encoding.clone(),
        headers: parts.headers,
    });

    let Some(encoding) = HttpEncoding::of(&content_type) else {
        return Ok(plain_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("unsupported content type {content_type:?}"),
        ));
    };
    let error = |status: StatusCode, message: &str| {
        http_response(encoding, status, encoding.encode_error(status, message))
    };
    if parts.uri.path() != "/v1/logs" {
        return Ok(error(StatusCode::NOT_FOUND, "logs are taken at /v1/logs"));
    }
    if parts.method != Method::POST {
        return Ok(error(StatusCode::METHOD_NOT_ALLOWED, "use POST"));
    }
    let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) => return Ok(error(StatusCode::BAD_REQUEST, &format!("body: {e}"))),
    };
    let body = match decompress(content_encoding.as_deref(), body) {
        Ok(body) => body,
        Err(BodyError::UnsupportedEncoding(name)) => {
            let message = format!("unsupported content encoding {name:?}");
            return Ok(error(StatusCode::UNSUPPORTED_MEDIA_TYPE, &message));
        }
        Err(BodyError::Malformed(message)) => {
            return Ok(error(StatusCode::BAD_REQUEST, &message));
        }
    };
    if shared.lock().count_only {
        return Ok(count_only(&shared, encoding, &body));
    }
    let export_request = match encoding.decode(&body) {
        Ok(export_request) => export_request,
        Err(message) => {
            let message = format!("not an ExportLogsServiceRequest: {message}");
            return Ok(error(StatusCode::BAD_REQUEST, &message));
        }
    };

    let response = shared.answer(export_request);
    if let Response::Stall(delay) = response {
        tokio::time::sleep(delay).await;
        return Ok(error(StatusCode::SERVICE_UNAVAILABLE, "stalled"));
    }
    if response == Response::Disconnect {
        // The connection's task ends with this panic and the connection
        // closes: what the client sees when a collector fails mid-request.
        panic!("scripted disconnect");
    }
    if let Response::Page { bytes } = response {
        let body = "<!DOCTYPE html><html><body>Welcome</body></html>";
        let padding = " ".repeat(bytes.saturating_sub(body.len()));
        let mut page = plain_response(StatusCode::OK, format!("{body}{padding}"));
        page.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("text/html"));
        return Ok(page);
    }
    if let Response::Status { code, retry_after } = &response {
        // Validated by `respond_with`; a bad code still must not panic here.
        let status = StatusCode::from_u16(*code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if !status.is_success() {
            let mut reply = error(status, &format!("scripted {code}"));
            if let Some(value) = retry_after.as_deref().and_then(header_value) {
                reply.headers_mut().insert(RETRY_AFTER, value);
            }
            return Ok(reply);
        }
        let body = encoding.encode_response(&ExportLogsServiceResponse::default());
        return Ok(http_response(encoding, status, body));
    }
    let body = encoding.encode_response(&response.success_body());
    Ok(http_response(encoding, StatusCode::OK, body))
}

/// The envelope of an `ExportLogsServiceRequest` down to its log records,
/// which are kept as undecoded bytes: enough to count them cheaply.
#[derive(Clone, PartialEq, prost::Message)]
struct CountingRequest {
    #[prost(message, repeated, tag = "1")]
    resource_logs: Vec<CountingResourceLogs>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct CountingResourceLogs {
    #[prost(message, repeated, tag = "2")]
    scope_logs: Vec<CountingScopeLogs>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct CountingScopeLogs {
    #[prost(bytes = "bytes", repeated, tag = "2")]
    log_records: Vec<Bytes>,
}

fn count_only(shared: &Shared, encoding: HttpEncoding, body: &Bytes) -> HttpResponse {
    match CountingRequest::decode(body.clone()) {
        Ok(request) => {
            let records: usize = request
                .resource_logs
                .iter()
                .flat_map(|r| &r.scope_logs)
                .map(|s| s.log_records.len())
                .sum();
            shared.lock().accepted_records += records;
            shared.changed.notify_all();
            let body = encoding.encode_response(&ExportLogsServiceResponse::default());
            http_response(encoding, StatusCode::OK, body)
        }
        Err(e) => http_response(
            encoding,
            StatusCode::BAD_REQUEST,
            encoding.encode_error(StatusCode::BAD_REQUEST, &e.to_string()),
        ),
    }
}

enum BodyError {
    UnsupportedEncoding(String),
    Malformed(String),
}

fn decompress(content_encoding: Option<&str>, body: Bytes) -> Result<Bytes, BodyError> {
    match content_encoding.map(str::trim) {
        None => Ok(body),
        Some(name) if name.eq_ignore_ascii_case("identity") => Ok(body),
        Some(name) if name.eq_ignore_ascii_case("gzip") => {
            let mut inflated = Vec::new();
            // One byte past the limit tells "too large" from "exactly full".
            GzDecoder::new(&body[..])
                .take(MAX_BODY_BYTES as u64 + 1)
                .read_to_end(&mut inflated)
                .map_err(|e| BodyError::Malformed(format!("gzip: {e}")))?;
            if inflated.len() > MAX_BODY_BYTES {
                return Err(BodyError::Malformed("gzip: body too large".to_owned()));
            }
            Ok(Bytes::from(inflated))
        }
        Some(name) => Err(BodyError::UnsupportedEncoding(name.to_owned())),
    }
}

fn header_text(headers: &HeaderMap, name: &HeaderName) -> Option<String> {
    headers
        .get(name)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
}

fn header_value(text: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(text).ok()
}

fn http_response(encoding: HttpEncoding, status: StatusCode, body: Vec<u8>) -> HttpResponse {
    let mut response = hyper::Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static(encoding.content_type()),
    );
    response
}

fn plain_response(status: StatusCode, message: String) -> HttpResponse {
    let mut response = hyper::Response::new(Full::new(Bytes::from(message)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    response
}

// ---------------------------------------------------------------- gRPC ---

async fn serve_grpc(listener: TcpListener, tls: Option<Tls>, shared: Arc<Shared>) {
    let service = LogsServiceServer::new(GrpcLogs { shared })
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(MAX_BODY_BYTES);
    let mut server = tonic::transport::Server::builder();
    if let Some(tls) = tls {
        server = server
            .tls_config(tls.grpc_config())
            .expect("the receiver's TLS configuration");
    }
    let served = server
        .add_service(service)
        .serve_with_incoming(TcpIncoming::from(listener))
        .await;
    if let Err(error) = served {
        eprintln!("otlp receiver: gRPC server stopped: {error}");
    }
}

struct GrpcLogs {
    shared: Arc<Shared>,
}

#[tonic::async_trait]
impl LogsService for GrpcLogs {
    async fn export(
        &self,
        request: tonic::Request<ExportLogsServiceRequest>,
    ) -> Result<tonic::Response<ExportLogsServiceResponse>, tonic::Status> {
        let headers = request.metadata().clone().into_headers();
        self.shared.note_received(RequestInfo {
            content_type: header_text(&headers, &CONTENT_TYPE).unwrap_or_default(),
            content_encoding: header_text(&headers, &HeaderName::from_static("grpc-encoding")),
            headers,
        });
        let response = self.shared.answer(request.into_inner());
        if let Response::Stall(delay) = response {
            tokio::time::sleep(delay).await;
            return Err(tonic::Status::unavailable("stalled"));
        }
        if response == Response::Disconnect {
            // The stream's task ends with this panic and the stream is
            // reset: what the client sees when a collector fails mid-request.
            panic!("scripted disconnect");
        }
        match response {
            Response::GrpcText { code, message } if code != tonic::Code::Ok => {
                Err(tonic::Status::new(code, message))
            }
            Response::Grpc { code, retry_after } if code != tonic::Code::Ok => {
                let message = format!("scripted {code:?}");
                Err(match retry_after {
                    Some(delay) => tonic::Status::with_error_details(
                        code,
                        message,
                        ErrorDetails::with_retry_info(Some(delay)),
                    ),
                    None => tonic::Status::new(code, message),
                })
            }
            response => Ok(tonic::Response::new(response.success_body())),
        }
    }
}
