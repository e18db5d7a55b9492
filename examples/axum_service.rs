//! A tokio HTTP service: one span per request, the caller's W3C
//! `traceparent` continued so the service's logs carry the caller's trace
//! id, and the bridge's own metrics served on `/metrics`.
//!
//! ```sh
//! cargo run --example axum_service
//! curl -H 'traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' localhost:3000/orders/7
//! curl localhost:3000/metrics
//! ```
//!
//! Pass `--smoke` to serve one request to itself, check the answer and
//! shut down gracefully.

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use otel_log_bridge::{Guard, TraceContext};
use tracing::Instrument as _;

/// Wraps each request in a span that continues the caller's trace.
async fn request_span(request: Request, next: Next) -> Response {
    let span = tracing::info_span!(
        "request",
        http.request.method = %request.method(),
        url.path = request.uri().path(),
    );
    let parent = request
        .headers()
        .get("traceparent")
        .and_then(|value| value.to_str().ok())
        .and_then(TraceContext::from_traceparent);
    if let Some(parent) = parent {
        if !otel_log_bridge::continue_trace(&span, parent) {
            tracing::debug!(
                "the request span is not tracked by the bridge: it starts its own trace"
            );
        }
    }
    async move {
        let response = next.run(request).await;
        tracing::info!(
            http.response.status_code = response.status().as_u16(),
            "request handled"
        );
        response
    }
    .instrument(span)
    .await
}

async fn order(Path(id): Path<u64>) -> String {
    tracing::info!(order.id = id, "order looked up");
    // A call to another service would carry the trace on in its headers.
    let span = tracing::info_span!("inventory.lookup", order.id = id);
    if let Some(context) = otel_log_bridge::trace_context(&span) {
        let traceparent = context.to_traceparent();
        span.in_scope(|| tracing::info!(traceparent, "inventory called"));
    }
    format!("order {id}\n")
}

async fn metrics(State(guard): State<Arc<Guard>>) -> String {
    guard.stats().to_prometheus()
}

/// Resolves on Ctrl-C, or on SIGTERM on Unix.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut terminate) => {
                terminate.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    tracing::info!("shutting down");
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let guard = Arc::new(
        otel_log_bridge::builder()
            .with_service_name("axum-service")
            .init(),
    );
    let app = Router::new()
        .route("/orders/{id}", get(order))
        .route("/metrics", get(metrics))
        .layer(middleware::from_fn(request_span))
        .with_state(Arc::clone(&guard));
    let smoke = std::env::args().any(|arg| arg == "--smoke");
    let address = if smoke {
        "127.0.0.1:0"
    } else {
        "127.0.0.1:3000"
    };
    let listener = tokio::net::TcpListener::bind(address).await?;
    let local = listener.local_addr()?;
    tracing::info!(server.address = %local, "listening");
    // On Ctrl-C (or SIGTERM, from an orchestrator) the server stops taking
    // requests and `main` returns, dropping the guard, which exports what
    // is still queued. The smoke run stops it the same way when done.
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                tokio::select! {
                    () = shutdown_signal() => {}
                    _ = stopped => {}
                }
            })
            .await
    });
    if smoke {
        // One request to ourselves, with a caller's trace context.
        let mut stream = tokio::net::TcpStream::connect(local).await?;
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        stream
            .write_all(b"GET /orders/7 HTTP/1.1\r\nhost: localhost\r\ntraceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\nconnection: close\r\n\r\n")
            .await?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await?;
        if !answer.starts_with("HTTP/1.1 200") {
            return Err(format!("unexpected answer: {answer}").into());
        }
        let _ = stop.send(());
        server.await??;
        return Ok(());
    }
    server.await??;
    // Dropped only now: a dropped sender would stop the server as well.
    drop(stop);
    Ok(())
}
