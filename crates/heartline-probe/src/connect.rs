//! Opening a session phase by phase — DNS, TCP, TLS, HTTP upgrade — each timed and each
//! bounded by the one handshake deadline.

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use http::header::{
    HeaderName, HeaderValue, RETRY_AFTER, SEC_WEBSOCKET_EXTENSIONS, SEC_WEBSOCKET_PROTOCOL,
};
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio::time::timeout_at;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::WebSocketStream;
use tokio_util::either::Either;

use heartline_core::{
    Endpoint, FailedPhase, Handshake, HandshakeFailure, Phase, Phases, Redactor, Target,
};

use crate::{Error, Result};

/// The byte stream under a session: plain TCP or TLS over TCP.
/// TLS state is boxed so that a plain `ws://` session does not carry it inline.
pub type Transport = Either<Box<TlsStream<TcpStream>>, TcpStream>;
/// An open WebSocket session.
pub type WsStream = WebSocketStream<Transport>;

/// Turns a host name into addresses. The system resolver is the default; tests inject others.
pub trait Resolve: Send + Sync + fmt::Debug {
    fn resolve<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> BoxFuture<'a, io::Result<Vec<SocketAddr>>>;
}

/// The operating system's resolver (`getaddrinfo` on a blocking thread).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> BoxFuture<'a, io::Result<Vec<SocketAddr>>> {
        Box::pin(async move { Ok(tokio::net::lookup_host((host, port)).await?.collect()) })
    }
}

/// Longest part of a refused upgrade's HTTP body quoted in its error.
const BODY_QUOTE: usize = 200;

/// Everything needed to open sessions to one endpoint, prepared once.
///
/// What it hands back is already fit to keep and show: every text that came from the server
/// or the network (HTTP status text and body quote of a refused upgrade, TLS, DNS and I/O error
/// strings, the accepted subprotocol and extensions) is cleaned with the endpoint's
/// [`Redactor`] — its secrets masked, its length bounded — before it leaves `connect`.
/// Control characters are kept; whoever renders the text for a person escapes them.
#[derive(Clone)]
pub struct Connector {
    target: Target,
    headers: Vec<(HeaderName, HeaderValue)>,
    subprotocols: Option<HeaderValue>,
    tls: Option<TlsConnector>,
    config: WebSocketConfig,
    handshake_timeout: Duration,
    resolver: Arc<dyn Resolve>,
    /// The endpoint's secrets, to mask in what servers send back. Shared with the watch's
    /// reporter rather than copied.
    redactor: Arc<Redactor>,
}

impl fmt::Debug for Connector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header values may be secrets: only names are shown.
        f.debug_struct("Connector")
            .field("target", &self.target)
            .field(
                "headers",
                &self
                    .headers
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>(),
            )
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

impl Connector {
    /// Prepares the connector; the endpoint must validate and its TLS files must load.
    pub fn new(endpoint: &Endpoint, resolver: Arc<dyn Resolve>) -> Result<Self> {
        endpoint.validate().map_err(Error::Invalid)?;
        let target = endpoint.target().map_err(|problem| {
            Error::Invalid(heartline_core::ConfigErrors(vec![
                heartline_core::FieldError {
                    field: "url".into(),
                    problem,
                },
            ]))
        })?;
        let mut headers = Vec::with_capacity(endpoint.headers.len());
        for h in &endpoint.headers {
            // Validation already checked these; the error names the header, never the value.
            let name = HeaderName::from_bytes(h.name.as_bytes())
                .map_err(|_| Error::Header(h.name.clone()))?;
            let mut value =
                HeaderValue::from_str(&h.value).map_err(|_| Error::Header(h.name.clone()))?;
            value.set_sensitive(h.secret);
            headers.push((name, value));
        }
        // A protocol preset that needs a subprotocol offers it when none is configured.
        let offered = endpoint.offered_subprotocols();
        let subprotocols = if offered.is_empty() {
            None
        } else {
            Some(
                HeaderValue::from_str(&offered.join(", "))
                    .map_err(|_| Error::Header("Sec-WebSocket-Protocol".into()))?,
            )
        };
        let tls = if target.secure {
            Some(TlsConnector::from(crate::tls::client_config(
                &endpoint.tls,
            )?))
        } else {
            None
        };
        Ok(Connector {
            target,
            headers,
            subprotocols,
            tls,
            config: session_config(endpoint),
            handshake_timeout: endpoint.handshake_timeout,
            resolver,
            redactor: Arc::new(Redactor::for_endpoint(endpoint)),
        })
    }

    /// The endpoint's redactor: what a caller that reads the session itself (beyond
    /// `connect`) cleans server-supplied text with.
    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    pub(crate) fn shared_redactor(&self) -> Arc<Redactor> {
        self.redactor.clone()
    }

    /// Opens one session, timing each phase.
    ///
    /// The failure's `error` and the handshake's subprotocol and extensions come back cleaned
    /// with [`Connector::redactor`]: a server that echoes the credential it was sent (`401
    /// invalid credentials: Bearer …`) gets it masked here, before any event, store or screen
    /// sees it.
    #[tracing::instrument(skip_all, fields(host = %self.target.host, port = self.target.port))]
    /// The stream comes boxed: it is moved into a session that lives for hours, and a box
    /// keeps it from being copied into every future on the way.
    pub async fn connect(
        &self,
    ) -> std::result::Result<(Box<WsStream>, Handshake), HandshakeFailure> {
        match self.open().await {
            Ok((ws, mut handshake)) => {
                if let Some(p) = &mut handshake.subprotocol {
                    *p = self.redactor.clean(p);
                }
                for e in &mut handshake.extensions {
                    *e = self.redactor.clean(e);
                }
                Ok((ws, handshake))
            }
            Err(mut failure) => {
                failure.error = self.redactor.clean(&failure.error);
                Err(failure)
            }
        }
    }

    /// `connect` before its results are cleaned.
    async fn open(&self) -> std::result::Result<(Box<WsStream>, Handshake), HandshakeFailure> {
        let start = Instant::now();
        let deadline = tokio::time::Instant::from_std(start + self.handshake_timeout);
        let fail = |phase: FailedPhase, error: String| HandshakeFailure {
            phase,
            error,
            elapsed: start.elapsed(),
        };
        let timed_out = |during: Phase| {
            fail(
                FailedPhase::Timeout { during },
                format!(
                    "no progress within the {} handshake timeout",
                    heartline_core::format_duration(self.handshake_timeout)
                ),
            )
        };

        // DNS (none for an IP literal)
        let t = Instant::now();
        let (addrs, dns) = match self.target.host.parse::<IpAddr>() {
            Ok(ip) => (vec![SocketAddr::new(ip, self.target.port)], Duration::ZERO),
            Err(_) => {
                match timeout_at(
                    deadline,
                    self.resolver.resolve(&self.target.host, self.target.port),
                )
                .await
                {
                    Err(_) => return Err(timed_out(Phase::Dns)),
                    Ok(Err(e)) => {
                        return Err(fail(FailedPhase::Dns, format!("{}: {e}", self.target.host)))
                    }
                    Ok(Ok(addrs)) if addrs.is_empty() => {
                        return Err(fail(
                            FailedPhase::Dns,
                            format!("{}: no addresses", self.target.host),
                        ))
                    }
                    Ok(Ok(addrs)) => (addrs, t.elapsed()),
                }
            }
        };

        // TCP: each address in turn until one answers.
        let t = Instant::now();
        let mut last_error = None;
        let mut tcp = None;
        for addr in &addrs {
            match timeout_at(deadline, TcpStream::connect(addr)).await {
                Err(_) => return Err(timed_out(Phase::Tcp)),
                Ok(Ok(stream)) => {
                    tcp = Some((stream, *addr));
                    break;
                }
                Ok(Err(e)) => last_error = Some(format!("{addr}: {e}")),
            }
        }
        let Some((stream, peer)) = tcp else {
            return Err(fail(
                FailedPhase::Tcp,
                last_error.unwrap_or_else(|| "no address".into()),
            ));
        };
        // Pings are tiny: never let Nagle hold one back.
        let _ = stream.set_nodelay(true);
        let tcp_time = t.elapsed();

        // TLS
        let (transport, tls_time) = match &self.tls {
            None => (Either::Right(stream), None),
            Some(connector) => {
                let t = Instant::now();
                let name = ServerName::try_from(self.target.host.clone())
                    .map_err(|e| fail(FailedPhase::Tls, format!("invalid server name: {e}")))?;
                match timeout_at(deadline, connector.connect(name, stream)).await {
                    Err(_) => return Err(timed_out(Phase::Tls)),
                    Ok(Err(e)) => return Err(fail(FailedPhase::Tls, tls_error_text(&e))),
                    Ok(Ok(tls)) => (Either::Left(Box::new(tls)), Some(t.elapsed())),
                }
            }
        };

        // HTTP upgrade
        let t = Instant::now();
        let request = self.request().map_err(|e| {
            fail(
                FailedPhase::Http {
                    status: None,
                    retry_after: None,
                },
                e,
            )
        })?;
        let upgraded = timeout_at(
            deadline,
            tokio_tungstenite::client_async_with_config(request, transport, Some(self.config)),
        )
        .await;
        let (ws, response) = match upgraded {
            Err(_) => return Err(timed_out(Phase::Upgrade)),
            Ok(Err(e)) => return Err(upgrade_failure(e, start, &self.redactor)),
            Ok(Ok(pair)) => pair,
        };
        let upgrade = t.elapsed();

        let header_text = |name| {
            response
                .headers()
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
        };
        // Heartline offers no extension, and RFC 6455 §4.1 says a client fails the connection
        // when the server accepts one it did not offer. tungstenite lets it through (and would
        // then refuse the first compressed frame); refusing here says why, before any frame.
        let extensions = header_text(SEC_WEBSOCKET_EXTENSIONS);
        if !extensions.is_empty() {
            let named = self.redactor.clean(&extensions.join(", "));
            return Err(HandshakeFailure {
                phase: FailedPhase::Http {
                    status: Some(101),
                    retry_after: None,
                },
                error: format!(
                    "invalid upgrade response: the server accepted an extension that was not offered ({named})"
                ),
                elapsed: start.elapsed(),
            });
        }
        let handshake = Handshake {
            phases: Phases {
                dns,
                tcp: tcp_time,
                tls: tls_time,
                upgrade,
            },
            peer,
            subprotocol: header_text(SEC_WEBSOCKET_PROTOCOL).into_iter().next(),
            extensions,
        };
        Ok((Box::new(ws), handshake))
    }

    fn request(&self) -> std::result::Result<http::Request<()>, String> {
        let mut request = self
            .target
            .url
            .as_str()
            .into_client_request()
            .map_err(|e| format!("cannot build the upgrade request: {e}"))?;
        let headers = request.headers_mut();
        for (name, value) in &self.headers {
            headers.append(name.clone(), value.clone());
        }
        if let Some(protocols) = &self.subprotocols {
            headers.insert(SEC_WEBSOCKET_PROTOCOL, protocols.clone());
        }
        Ok(request)
    }
}

/// Buffers and limits that keep one idle session at a few KiB whatever the server sends.
fn session_config(endpoint: &Endpoint) -> WebSocketConfig {
    let limits = endpoint.limits;
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
        .max_write_buffer_size(limits.max_message_size.saturating_mul(2).max(64 << 10))
        .max_message_size(Some(limits.max_message_size))
        .max_frame_size(Some(limits.max_frame_size))
}

/// A refused or broken upgrade as a failure. The body quote is cut at [`BODY_QUOTE`] bytes by
/// the redactor, which masks a secret before cutting: one that straddles the cut cannot leave a
/// readable prefix behind.
fn upgrade_failure(e: WsError, start: Instant, redactor: &Redactor) -> HandshakeFailure {
    let (status, retry_after, error) = match e {
        WsError::Http(response) => {
            let status = response.status();
            let retry_after = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            // Room past the quote for the longest secret form, so a secret that starts
            // inside the quote is still whole when it is masked.
            let room = BODY_QUOTE + redactor.needles().first().map_or(0, String::len);
            let body = response
                .body()
                .as_deref()
                .map(|b| {
                    let text = String::from_utf8_lossy(&b[..b.len().min(room)]);
                    redactor.clean_to(text.trim(), BODY_QUOTE)
                })
                .filter(|b| !b.is_empty());
            let words = status.canonical_reason().unwrap_or("unexpected status");
            let error = match body {
                Some(body) => format!("{} {words}: {body}", status.as_u16()),
                None => format!("{} {words}", status.as_u16()),
            };
            (Some(status.as_u16()), retry_after, error)
        }
        WsError::Protocol(p) => (Some(101), None, format!("invalid upgrade response: {p}")),
        WsError::Io(e) => (
            None,
            None,
            format!("connection failed during the upgrade: {e}"),
        ),
        WsError::ConnectionClosed | WsError::AlreadyClosed => (
            None,
            None,
            "connection closed during the upgrade".to_owned(),
        ),
        other => (None, None, other.to_string()),
    };
    HandshakeFailure {
        phase: FailedPhase::Http {
            status,
            retry_after,
        },
        error,
        elapsed: start.elapsed(),
    }
}

/// rustls errors arrive wrapped in io::Error; unwrap them for a readable cause, with the UNIX
/// times rustls writes ("not valid after 1580515200 (UNIX)") as dates.
fn tls_error_text(e: &io::Error) -> String {
    let text = match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(tls) => tls.to_string(),
        None => e.to_string(),
    };
    heartline_core::error_text::readable_times(&text).into_owned()
}
