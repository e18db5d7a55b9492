//! An OTLP/gRPC server that writes its answers' HTTP/2 frames itself, for
//! answers a gRPC server library would never send: status details that
//! are not base64 or a status message that is not UTF-8 (in the headers
//! of an answer without a message, or in the trailers of one), or a
//! connection lost right after the answer's headers. Once its script is
//! used up, it accepts every request, as a collector does, answering in
//! the request's compression whether or not the client said it accepts
//! it, as `grpc-go` (the collector's gRPC server) does.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::io::{Read as _, Write as _};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use http_body_util::BodyExt as _;
use hyper::body::{Body, Bytes, Frame, Incoming};
use hyper::header::{HeaderName, HeaderValue};
use hyper::HeaderMap;
use hyper_util::rt::{TokioExecutor, TokioIo};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use prost::Message as _;
use tokio::sync::Notify;

/// One scripted answer.
pub enum RawAnswer {
    /// A trailers-only answer: these headers (`grpc-status` among them),
    /// and no message.
    TrailersOnly(Vec<(&'static str, &'static str)>),
    /// An answer with no message whose trailers are these (`grpc-status`
    /// among them).
    Trailers(Vec<(&'static str, &'static str)>),
    /// The answer's headers and the start of its message, then the
    /// connection closes, as when the collector's process ends mid-answer.
    HeadersThenHangUp,
}

struct State {
    script: Mutex<VecDeque<RawAnswer>>,
    attempts: AtomicU64,
    accepted_records: AtomicU64,
}

/// The server; it stops with its runtime when dropped.
pub struct RawGrpcServer {
    endpoint: String,
    state: Arc<State>,
    _runtime: tokio::runtime::Runtime,
}

impl RawGrpcServer {
    /// Starts a server on a free loopback port that answers the first
    /// requests from `script`.
    pub fn start(script: impl IntoIterator<Item = RawAnswer>) -> RawGrpcServer {
        let state = Arc::new(State {
            script: Mutex::new(script.into_iter().collect()),
            attempts: AtomicU64::new(0),
            accepted_records: AtomicU64::new(0),
        });
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime for the raw gRPC server");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        listener
            .set_nonblocking(true)
            .expect("a non-blocking socket");
        let endpoint = format!("http://{}", listener.local_addr().expect("its address"));
        let serving = Arc::clone(&state);
        runtime.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve_connection(stream, Arc::clone(&serving)));
            }
        });
        RawGrpcServer {
            endpoint,
            state,
            _runtime: runtime,
        }
    }

    /// The endpoint to export to.
    pub fn endpoint(&self) -> String {
        self.endpoint.clone()
    }

    /// How many requests came.
    pub fn attempts(&self) -> u64 {
        self.state.attempts.load(Ordering::SeqCst)
    }

    /// How many records the accepted requests held.
    pub fn accepted_records(&self) -> u64 {
        self.state.accepted_records.load(Ordering::SeqCst)
    }
}

/// Serves one connection until the client closes it or an answer hangs
/// up, which drops the connection and so closes its socket.
async fn serve_connection(stream: tokio::net::TcpStream, state: Arc<State>) {
    let hang_up = Arc::new(Notify::new());
    let notify = Arc::clone(&hang_up);
    let service = hyper::service::service_fn(move |request| {
        answer(Arc::clone(&state), request, Arc::clone(&notify))
    });
    let connection = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
        .serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        _ = connection => {}
        () = hang_up.notified() => {}
    }
}

async fn answer(
    state: Arc<State>,
    request: hyper::Request<Incoming>,
    hang_up: Arc<Notify>,
) -> Result<hyper::Response<AnswerBody>, Infallible> {
    let gzip = request
        .headers()
        .get("grpc-encoding")
        .is_some_and(|encoding| encoding == "gzip");
    let body = request
        .into_body()
        .collect()
        .await
        .map(|collected| collected.to_bytes())
        .unwrap_or_default();
    state.attempts.fetch_add(1, Ordering::SeqCst);
    let scripted = state.script.lock().expect("the script").pop_front();
    let mut response = hyper::Response::builder()
        .status(200)
        .header("content-type", "application/grpc");
    let body = match scripted {
        Some(RawAnswer::TrailersOnly(headers)) => {
            for (name, value) in headers {
                response = response.header(name, value);
            }
            AnswerBody::Done
        }
        Some(RawAnswer::Trailers(headers)) => {
            let mut trailers = HeaderMap::new();
            for (name, value) in headers {
                trailers.insert(
                    HeaderName::from_static(name),
                    HeaderValue::from_static(value),
                );
            }
            AnswerBody::Message {
                message: None,
                trailers: Some(trailers),
            }
        }
        // The start of a message that never ends: its compression flag
        // and a length of 10 bytes, none of which follow.
        Some(RawAnswer::HeadersThenHangUp) => AnswerBody::HangUp {
            start: Some(Bytes::from_static(&[0, 0, 0, 0, 10])),
            hang_up,
        },
        None => {
            // A gRPC message is a compression flag and a length before
            // the protobuf bytes.
            let message = match (body.first(), body.get(5..)) {
                (Some(1), Some(compressed)) => {
                    let mut message = Vec::new();
                    GzDecoder::new(compressed)
                        .read_to_end(&mut message)
                        .map(|_| message)
                        .ok()
                }
                (_, message) => message.map(<[u8]>::to_vec),
            };
            let records = message
                .and_then(|message| ExportLogsServiceRequest::decode(&message[..]).ok())
                .map_or(0, |request| {
                    request
                        .resource_logs
                        .iter()
                        .flat_map(|resource| &resource.scope_logs)
                        .map(|scope| scope.log_records.len() as u64)
                        .sum()
                });
            state.accepted_records.fetch_add(records, Ordering::SeqCst);
            let mut trailers = HeaderMap::new();
            trailers.insert(
                HeaderName::from_static("grpc-status"),
                HeaderValue::from_static("0"),
            );
            // An empty `ExportLogsServiceResponse`: a message of 0 bytes,
            // compressed as the request was (`grpc-go` answers so when
            // the server has no compressor of its own configured).
            let message = if gzip {
                response = response.header("grpc-encoding", "gzip");
                let mut encoder = GzEncoder::new(Vec::new(), flate2::Compression::default());
                let compressed = encoder
                    .flush()
                    .and_then(|()| encoder.finish())
                    .expect("gzip into memory");
                let length = u32::try_from(compressed.len()).expect("a short message");
                let mut message = vec![1];
                message.extend_from_slice(&length.to_be_bytes());
                message.extend_from_slice(&compressed);
                Bytes::from(message)
            } else {
                Bytes::from_static(&[0, 0, 0, 0, 0])
            };
            AnswerBody::Message {
                message: Some(message),
                trailers: Some(trailers),
            }
        }
    };
    Ok(response.body(body).expect("a valid answer"))
}

/// The body of an answer.
enum AnswerBody {
    /// Nothing after the headers.
    Done,
    /// A message, then trailers.
    Message {
        message: Option<Bytes>,
        trailers: Option<HeaderMap>,
    },
    /// The start of a message, after which the connection is closed
    /// under it: `hyper` polls a body only once the headers are on their
    /// way, so they reach the client first.
    HangUp {
        start: Option<Bytes>,
        hang_up: Arc<Notify>,
    },
}

impl Body for AnswerBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            AnswerBody::Done => Poll::Ready(None),
            AnswerBody::HangUp { start, hang_up } => match start.take() {
                Some(start) => {
                    let hang_up = Arc::clone(hang_up);
                    tokio::spawn(async move {
                        // Time for the frames to leave.
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        hang_up.notify_one();
                    });
                    Poll::Ready(Some(Ok(Frame::data(start))))
                }
                None => Poll::Pending,
            },
            AnswerBody::Message { message, trailers } => {
                if let Some(message) = message.take() {
                    return Poll::Ready(Some(Ok(Frame::data(message))));
                }
                Poll::Ready(
                    trailers
                        .take()
                        .map(|trailers| Ok(Frame::trailers(trailers))),
                )
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, AnswerBody::Done)
    }
}
