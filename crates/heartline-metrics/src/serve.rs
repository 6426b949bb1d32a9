//! The `/metrics` HTTP endpoint Prometheus scrapes.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, ALLOW, CONTENT_TYPE as CONTENT_TYPE_HEADER};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::{Error, Metrics, Result};

/// The content type of `/metrics`: OpenMetrics text, which is what prometheus-client's text
/// encoder writes and what Prometheus asks for first.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Binds the metrics listener, with an error that says what the address was for.
/// Bind before starting anything else so a taken port fails the program at once.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|error| Error::Bind { addr, error })
}

/// Serves `GET /metrics` (and `GET /` with a one-line pointer to it; 404 for anything else) on
/// `listener` until `shutdown` resolves, then closes idle connections, lets in-flight scrapes
/// finish for a moment, and returns. The caller binds, so it can use port 0 and learn the
/// address from `listener.local_addr()`, and so a taken port is reported before serving.
pub async fn serve(
    metrics: Arc<Metrics>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "serving metrics at http://{addr}/metrics");
    }
    let (stop, stopped) = watch::channel(false);
    let mut http = http1::Builder::new();
    // A client that opens a connection and never finishes its request is cut off.
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let mut connections = JoinSet::new();
    let mut shutdown = pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    connections.spawn(connection(
                        http.clone(),
                        stream,
                        peer,
                        metrics.clone(),
                        stopped.clone(),
                    ));
                }
                Err(e) => {
                    // Usually transient (out of file descriptors, a reset before accept):
                    // keep serving, but do not spin on it.
                    tracing::warn!(error = %e, "accepting a metrics connection failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
            Some(joined) = connections.join_next(), if !connections.is_empty() => {
                if let Err(e) = joined {
                    tracing::warn!(error = %e, "a metrics connection task failed");
                }
            }
        }
    }
    drop(listener);
    let _ = stop.send(true);
    let drained = tokio::time::timeout(DRAIN_DEADLINE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::debug!("metrics connections did not finish in time; dropping them");
        connections.abort_all();
    }
    Ok(())
}

/// How long a client may take to send its request headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause after a failed accept, so a persistent failure does not burn a core.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);
/// How long in-flight scrapes may take to finish once shutdown starts.
const DRAIN_DEADLINE: Duration = Duration::from_secs(1);

async fn connection(
    http: http1::Builder,
    stream: TcpStream,
    peer: SocketAddr,
    metrics: Arc<Metrics>,
    mut stopped: watch::Receiver<bool>,
) {
    let service = service_fn(move |req: Request<Incoming>| {
        let response = respond(&metrics, &req);
        async move { Ok::<_, Infallible>(response) }
    });
    let mut conn = pin!(http.serve_connection(TokioIo::new(stream), service));
    let stopping = async move {
        // A dropped sender also means stop.
        let _ = stopped.wait_for(|stop| *stop).await;
    };
    let result = tokio::select! {
        result = conn.as_mut() => result,
        () = stopping => {
            // Finish the response in flight, if any, then close; idle keep-alives close now.
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(%peer, error = %e, "metrics connection ended with an error");
    }
}

fn respond(metrics: &Metrics, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let readable = matches!(*req.method(), Method::GET | Method::HEAD);
    match (req.uri().path(), readable) {
        ("/metrics", true) => reply(StatusCode::OK, CONTENT_TYPE, metrics.encode()),
        ("/", true) => reply(
            StatusCode::OK,
            TEXT,
            "Heartline metrics: scrape /metrics\n".to_owned(),
        ),
        ("/metrics" | "/", false) => {
            let mut response = reply(
                StatusCode::METHOD_NOT_ALLOWED,
                TEXT,
                "only GET and HEAD are supported\n".to_owned(),
            );
            response
                .headers_mut()
                .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
            response
        }
        _ => reply(
            StatusCode::NOT_FOUND,
            TEXT,
            "not found; metrics are at /metrics\n".to_owned(),
        ),
    }
}

const TEXT: &str = "text/plain; charset=utf-8";

fn reply(status: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE_HEADER, HeaderValue::from_static(content_type));
    response
}
