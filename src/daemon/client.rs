//! A small HTTP/1.1 client (hyper) for the daemon's Unix sockets: what `idcheck maintenance`
//! and `idcheck qc run` use, and what the integration tests drive the real server with. Typed
//! in and out ([`Client::call`]: a `wire` request, the `wire` answer or the daemon's
//! [`ErrorBody`](crate::wire::ErrorBody)); raw JSON for tests of the wire format itself
//! ([`Client::get`], [`Client::post`]); server-sent events read as a line stream, each parsed
//! into its `wire` type with [`Sse::parse`]. Blocking facade over a current-thread tokio
//! runtime, so synchronous callers (the CLI, `#[test]`s) need no runtime of their own.

use std::path::{Path, PathBuf};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use tokio::net::UnixStream;

use crate::wire::ErrorBody;

/// A failed exchange with the daemon.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot connect to {path}: {source} (is `idcheck serve` running?)")]
    Connect { path: PathBuf, source: std::io::Error },
    #[error("{0}")]
    Http(String),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The daemon answered with an error status (its `{"error": ...}` text).
    #[error("HTTP {status}: {error}")]
    Refused { status: StatusCode, error: String },
    /// The answer is not the shape the API promises.
    #[error("{what}: unexpected answer: {source}")]
    Decode { what: String, source: serde_json::Error },
}

/// A client of one Unix socket.
pub struct Client {
    socket: PathBuf,
    rt: tokio::runtime::Runtime,
    timeout: Duration,
}

impl Client {
    pub fn new(socket: &Path) -> Result<Client, ClientError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ClientError::Http(format!("cannot start a runtime: {e}")))?;
        Ok(Client { socket: socket.to_path_buf(), rt, timeout: Duration::from_secs(120) })
    }

    /// Bound on one whole request (default 120 s).
    pub fn with_timeout(mut self, t: Duration) -> Client {
        self.timeout = t;
        self
    }

    pub fn get(&self, path: &str) -> Result<(StatusCode, Value), ClientError> {
        self.request(Method::GET, path, None)
    }

    pub fn post(&self, path: &str, body: &Value) -> Result<(StatusCode, Value), ClientError> {
        self.request(Method::POST, path, Some(body))
    }

    /// One typed exchange: `body` (if any) as JSON, the answer read as `T` on success and as the
    /// daemon's error body ([`ClientError::Refused`]) otherwise.
    pub fn call<T: DeserializeOwned>(&self, method: Method, path: &str, body: Option<&impl Serialize>) -> Result<(StatusCode, T), ClientError> {
        let body = body
            .map(serde_json::to_value)
            .transpose()
            .map_err(|source| ClientError::Decode { what: format!("request {path}"), source })?;
        let (status, v) = self.request(method, path, body.as_ref())?;
        if !status.is_success() {
            let error = serde_json::from_value::<ErrorBody>(v).map(|e| e.error).unwrap_or_default();
            return Err(ClientError::Refused { status, error });
        }
        let t = serde_json::from_value(v).map_err(|source| ClientError::Decode { what: path.to_string(), source })?;
        Ok((status, t))
    }

    /// `GET path`, typed (see [`Client::call`]).
    pub fn get_as<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.call(Method::GET, path, None::<&()>).map(|(_, t)| t)
    }

    /// `POST path` with a typed body, typed answer (see [`Client::call`]).
    pub fn post_as<T: DeserializeOwned>(&self, path: &str, body: &impl Serialize) -> Result<T, ClientError> {
        self.call(Method::POST, path, Some(body)).map(|(_, t)| t)
    }

    /// One request; the answer's status and JSON body (`Value::Null` when the body is not JSON).
    pub fn request(&self, method: Method, path: &str, body: Option<&Value>) -> Result<(StatusCode, Value), ClientError> {
        let fut = async {
            let resp = send(&self.socket, method, path, body).await?;
            let status = resp.status();
            let bytes = resp.into_body().collect().await.map_err(|e| ClientError::Http(format!("reading the answer: {e}")))?.to_bytes();
            let v = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            Ok((status, v))
        };
        self.rt.block_on(async { tokio::time::timeout(self.timeout, fut).await.map_err(|_| ClientError::Timeout(self.timeout))? })
    }

    /// Opens the event stream (`GET /v1/events`).
    pub fn events(&self) -> Result<EventStream<'_>, ClientError> {
        let resp = self.rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(10), send(&self.socket, Method::GET, "/v1/events", None))
                .await
                .map_err(|_| ClientError::Timeout(Duration::from_secs(10)))?
        })?;
        if resp.status() != StatusCode::OK {
            return Err(ClientError::Http(format!("events: HTTP {}", resp.status())));
        }
        Ok(EventStream { client: self, body: resp.into_body(), buf: String::new() })
    }
}

async fn send(socket: &Path, method: Method, path: &str, body: Option<&Value>) -> Result<hyper::Response<Incoming>, ClientError> {
    let stream = UnixStream::connect(socket).await.map_err(|source| ClientError::Connect { path: socket.to_path_buf(), source })?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| ClientError::Http(format!("handshake: {e}")))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let bytes = match body {
        Some(v) => Bytes::from(serde_json::to_vec(v).map_err(|e| ClientError::Http(e.to_string()))?),
        None => Bytes::new(),
    };
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header(hyper::header::HOST, "idcheck")
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(Full::new(bytes))
        .map_err(|e| ClientError::Http(e.to_string()))?;
    sender.send_request(req).await.map_err(|e| ClientError::Http(format!("request {path}: {e}")))
}

/// One server-sent event.
#[derive(Debug, Clone, PartialEq)]
pub struct Sse {
    pub event: String,
    pub data: Value,
}

impl Sse {
    /// The event's data as its `wire` type: [`DaemonEvent`](crate::wire::DaemonEvent) for the
    /// daemon's events, [`Hello`](crate::wire::Hello) or [`Lagged`](crate::wire::Lagged) for the
    /// stream's own.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, ClientError> {
        serde_json::from_value(self.data.clone()).map_err(|source| ClientError::Decode { what: format!("event {}", self.event), source })
    }
}

/// The event stream of a `Client`.
pub struct EventStream<'a> {
    client: &'a Client,
    body: Incoming,
    buf: String,
}

impl EventStream<'_> {
    /// The next event within `within`; `Ok(None)` on timeout, an error when the stream ended.
    pub fn next(&mut self, within: Duration) -> Result<Option<Sse>, ClientError> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(ev) = self.take_event() {
                return Ok(Some(ev));
            }
            let body = &mut self.body;
            let frame = self.client.rt.block_on(async { tokio::time::timeout_at(deadline, body.frame()).await });
            match frame {
                Err(_) => return Ok(None),
                Ok(None) => return Err(ClientError::Http("event stream ended".into())),
                Ok(Some(Err(e))) => return Err(ClientError::Http(format!("event stream: {e}"))),
                Ok(Some(Ok(f))) => {
                    if let Some(d) = f.data_ref() {
                        self.buf.push_str(&String::from_utf8_lossy(d));
                    }
                }
            }
        }
    }

    /// Waits for an event of kind `kind` satisfying `pred`, skipping others.
    pub fn wait_for(&mut self, kind: &str, within: Duration, pred: impl Fn(&Value) -> bool) -> Result<Option<Sse>, ClientError> {
        let deadline = std::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            match self.next(left)? {
                None => return Ok(None),
                Some(e) if e.event == kind && pred(&e.data) => return Ok(Some(e)),
                Some(_) => {}
            }
        }
    }

    fn take_event(&mut self) -> Option<Sse> {
        loop {
            let end = self.buf.find("\n\n")?;
            let block: String = self.buf.drain(..end + 2).collect();
            let mut event = String::from("message");
            let mut data = String::new();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    event = v.trim().to_string();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push_str(v.strip_prefix(' ').unwrap_or(v));
                }
            }
            if data.is_empty() {
                continue; // keep-alive comment
            }
            return Some(Sse { event, data: serde_json::from_str(&data).unwrap_or(Value::String(data)) });
        }
    }
}
