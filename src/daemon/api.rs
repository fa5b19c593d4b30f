//! The local HTTP/JSON API (axum): the kiosk / QC socket (a Unix socket whose group decides who
//! may use it; optionally a loopback TCP port behind a bearer token) and the auditors' read-only
//! socket. Owns routing, who-is-asking (peer credentials or token), the error kinds and their HTTP
//! statuses, and the server-sent event stream; every body it reads or writes is a `crate::wire`
//! type (no JSON built by hand). The auditor socket's routes and handlers are `audit_api`'s; they
//! use this module's `Api`, `Caller` and `unix_caller`, never the reverse. Handlers only translate: jobs run in `jobs`, decisions are made
//! in `state` and `verify`, SQL stays in `store`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::connect_info::{ConnectInfo, Connected};
use axum::extract::{Path as UrlPath, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::IncomingStream;
use axum::{Extension, Json, Router};
use serde::Deserialize;
use tokio::net::UnixListener;

use super::events::DaemonEvent;
use super::jobs::{self, JobError, Jobs};
use super::state::{Maintenance, Shared};
use crate::wire::{
    BatchClosed, BatchCreated, BatchListing, BatchRequest, Batches, CardInfo, ErrorBody, Health, HealthStatus, Hello, ImportRequest,
    ImportResult, JobAccepted, JobStatus, Lagged, MaintenanceChanged, MaintenanceRequest, MaintenanceStatus, PcscHealth, ReaderInfo,
    Readers, RecordInfo, Records, StoreHealth, TrustReloaded, VerificationQuery, VerificationRequest, VerificationView, Verifications,
};
use idcheck_store::{ImportOutcome, VerificationFilter};

/// Everything a handler needs.
#[derive(Clone)]
pub struct Api {
    pub shared: Arc<Shared>,
    pub jobs: Arc<Jobs>,
}

/// Who is asking, as logged with each verification ("unix:uid=1000(kiosk)", "tcp:token").
#[derive(Debug, Clone)]
pub struct Caller(pub String);

/// Peer credentials of a Unix-socket client.
#[derive(Debug, Clone)]
pub struct UnixPeer {
    pub uid: Option<u32>,
    pub pid: Option<i32>,
}

impl Connected<IncomingStream<'_, UnixListener>> for UnixPeer {
    fn connect_info(stream: IncomingStream<'_, UnixListener>) -> Self {
        match stream.io().peer_cred() {
            Ok(c) => UnixPeer { uid: Some(c.uid()), pid: c.pid() },
            Err(_) => UnixPeer { uid: None, pid: None },
        }
    }
}

/// An error answer: `{"error": "..."}` ([`ErrorBody`]), with the HTTP status its kind maps to
/// ([`ApiError::status`], the one place).
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed (body, query, a value out of its set).
    #[error("{0}")]
    BadRequest(String),
    /// No or a wrong bearer token.
    #[error("{0}")]
    Unauthorized(String),
    /// No such endpoint, job, verification, batch or photo.
    #[error("{0}")]
    NotFound(String),
    /// Well-formed but not usable (a record or surface that does not load, a bad reader).
    #[error("{0}")]
    Unprocessable(String),
    /// No card came in time.
    #[error("{0}")]
    Timeout(String),
    /// The station cannot answer now: store unavailable, shutting down, busy.
    #[error("{0}")]
    Unavailable(String),
    /// A bug or an unexpected failure inside the daemon.
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Timeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status(), Json(ErrorBody { error: self.to_string() })).into_response()
    }
}

impl From<JobError> for ApiError {
    fn from(e: JobError) -> Self {
        let text = e.to_string();
        match e {
            JobError::RecordNotFound(_) => ApiError::NotFound(text),
            JobError::BadSurface(_) | JobError::BadReader(_) => ApiError::Unprocessable(text),
            JobError::NoCard { .. } => ApiError::Timeout(text),
            JobError::Busy(_) | JobError::Aborted(_) => ApiError::Unavailable(text),
            JobError::Internal(_) => ApiError::Internal(text),
        }
    }
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(e.to_string())
}

/// The kiosk / QC routes.
pub fn routes(api: Api) -> Router {
    Router::new()
        .route("/v1/health", get(health))
        .route("/v1/readers", get(readers))
        .route("/v1/verifications", post(create_verification).get(list_verifications))
        .route("/v1/verifications/{id}", get(get_verification))
        .route("/v1/verifications/{id}/view", get(get_view))
        .route("/v1/verifications/{id}/photos/{name}", get(get_photo))
        .route("/v1/qc/batches", get(list_batches).post(create_batch))
        .route("/v1/qc/batches/{id}", get(get_batch))
        .route("/v1/qc/batches/{id}/close", post(close_batch))
        .route("/", get(ui_asset))
        .route("/ui/{*file}", get(ui_asset))
        .route("/v1/jobs/{job}", get(get_job))
        .route("/v1/records", get(list_records))
        .route("/v1/records/import", post(import_records))
        .route("/v1/maintenance", get(get_maintenance).post(set_maintenance))
        .route("/v1/trust/reload", post(reload_trust))
        .route("/v1/events", get(events))
        .fallback(|| async { ApiError::NotFound("no such endpoint; see the README, \"The local API\"".into()) })
        .with_state(api)
}

/// The Unix-socket router: the caller is the peer's uid.
pub fn unix_router(api: Api) -> Router {
    routes(api).layer(middleware::from_fn(unix_caller))
}

pub(super) async fn unix_caller(ConnectInfo(peer): ConnectInfo<UnixPeer>, mut req: Request, next: Next) -> Response {
    let who = match peer.uid {
        Some(uid) => {
            let name = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)).ok().flatten().map(|u| u.name);
            match name {
                Some(n) => format!("unix:uid={uid}({n})"),
                None => format!("unix:uid={uid}"),
            }
        }
        None => "unix:unknown".into(),
    };
    req.extensions_mut().insert(Caller(who));
    next.run(req).await
}

/// The TCP router: every request must carry `Authorization: Bearer <token>`.
pub fn tcp_router(api: Api, token: Arc<String>) -> Router {
    let login_token = token.clone();
    let login = Router::new().route(
        "/ui/login",
        get(move |q: Query<LoginQuery>| {
            let token = login_token.clone();
            async move { ui_login(q.0, &token) }
        }),
    );
    let guarded = routes(api).layer(middleware::from_fn(move |req: Request, next: Next| {
        let token = token.clone();
        async move {
            let bearer = req
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::trim)
                .map(str::to_string);
            let cookie = req
                .headers()
                .get_all(header::COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(';'))
                .filter_map(|c| c.trim().strip_prefix(&format!("{COOKIE}=")).map(str::to_string))
                .next();
            let given = bearer.or(cookie);
            let given = given.as_deref();
            // compare digests: equal-time in the token's content
            let ok = given.is_some_and(|g| {
                ring::digest::digest(&ring::digest::SHA256, g.as_bytes()).as_ref()
                    == ring::digest::digest(&ring::digest::SHA256, token.as_bytes()).as_ref()
            });
            if !ok {
                return ApiError::Unauthorized("missing or wrong bearer token".into()).into_response();
            }
            let mut req = req;
            req.extensions_mut().insert(Caller("tcp:token".into()));
            next.run(req).await
        }
    }));
    login.merge(guarded)
}

/// The cookie a browser on the loopback port carries instead of the bearer header.
const COOKIE: &str = "idcheck_token";

#[derive(Deserialize)]
struct LoginQuery {
    token: String,
    #[serde(default)]
    next: Option<String>,
}

/// `GET /ui/login?token=...&next=#/live`: checks the token once, then keeps it in an HttpOnly,
/// SameSite=Strict cookie so the page's own requests are authorised.
fn ui_login(q: LoginQuery, token: &str) -> Response {
    let ok = ring::digest::digest(&ring::digest::SHA256, q.token.trim().as_bytes()).as_ref()
        == ring::digest::digest(&ring::digest::SHA256, token.as_bytes()).as_ref();
    if !ok {
        return ApiError::Unauthorized("wrong token".into()).into_response();
    }
    let next = q.next.filter(|n| n.starts_with('#')).unwrap_or_else(|| "#/live".into());
    Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header(header::SET_COOKIE, format!("{COOKIE}={}; HttpOnly; SameSite=Strict; Path=/", token))
        .header(header::LOCATION, format!("/{next}"))
        .body(axum::body::Body::empty())
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

// ------------------------------------------------------------------------------------ handlers

async fn health(State(api): State<Api>) -> Json<Health> {
    let s = &api.shared;
    let reason = s.unavailable_reason(None);
    Json(Health {
        status: if reason.is_some() { HealthStatus::Unavailable } else { HealthStatus::Ok },
        reason,
        version: env!("CARGO_PKG_VERSION").to_string(),
        maintenance: s.maintenance(),
        pcsc: match s.pcsc_down() {
            Some(r) => PcscHealth { up: false, reason: Some(r) },
            None => PcscHealth { up: true, reason: None },
        },
        store: match s.store_fault() {
            Some(r) => StoreHealth { ok: false, reason: Some(r) },
            None => StoreHealth { ok: true, reason: None },
        },
        readers: s.readers().len(),
        pending_jobs: api.jobs.pending(),
    })
}

fn reader_info(name: &str, card: &super::state::CardState, busy: bool) -> ReaderInfo {
    ReaderInfo {
        name: name.to_string(),
        card: CardInfo { present: card.present, atr: card.atr.as_ref().map(hex::encode_upper), unresponsive: card.unresponsive },
        busy,
    }
}

async fn readers(State(api): State<Api>) -> Json<Readers> {
    let readers = api.shared.readers().iter().map(|(n, c, b)| reader_info(n, c, *b)).collect();
    Json(Readers { readers, pcsc_up: api.shared.pcsc_down().is_none() })
}

async fn create_verification(
    State(api): State<Api>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<VerificationRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body.map_err(|e| ApiError::BadRequest(format!("request body: {}", e.body_text())))?;
    if api.shared.shutting_down() {
        return Err(ApiError::Unavailable("the station is shutting down".into()));
    }
    let max = api.shared.config().jobs.max_pending;
    let (job, pending) = api.jobs.admit(max, &body.record_id)?;
    let (shared, jobs) = (api.shared.clone(), api.jobs.clone());
    let run_async = body.run_async;
    let task = tokio::spawn(async move {
        let out = jobs::run(shared, jobs, job, body.into(), caller.0).await;
        drop(pending);
        out
    });
    if run_async {
        return Ok((StatusCode::ACCEPTED, Json(JobAccepted { job, poll: format!("/v1/jobs/{job}") })).into_response());
    }
    // the job runs to its end even if this client goes away: the verdict is stored either way
    let out = task.await.map_err(internal)??;
    Ok(Json(out).into_response())
}

async fn get_job(State(api): State<Api>, UrlPath(job): UrlPath<u64>) -> Result<Json<JobStatus>, ApiError> {
    let status = api.jobs.get(job).ok_or_else(|| ApiError::NotFound(format!("no job {job}")))?;
    Ok(Json(JobStatus { job, status }))
}

async fn list_verifications(
    State(api): State<Api>,
    q: Result<Query<VerificationQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Verifications>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let status = match q.status.as_deref().map(str::parse::<idcheck_core::verdict::Status>) {
        None => None,
        Some(Ok(s)) => Some(s),
        Some(Err(e)) => return Err(ApiError::BadRequest(format!("status: {e}"))),
    };
    let filter = VerificationFilter { status, record_id: q.record_id, limit: Some(q.limit.unwrap_or(100).min(10_000)) };
    let sh = api.shared.clone();
    let list = tokio::task::spawn_blocking(move || sh.read_store(|s| s.list_verifications(&filter)))
        .await
        .map_err(internal)?
        .map_err(ApiError::Unavailable)?;
    Ok(Json(Verifications { verifications: list.iter().map(Into::into).collect() }))
}

async fn get_verification(State(api): State<Api>, UrlPath(id): UrlPath<i64>) -> Result<Json<crate::wire::StoredVerification>, ApiError> {
    let sh = api.shared.clone();
    let found = tokio::task::spawn_blocking(move || sh.read_store(|s| s.get_verification(id)))
        .await
        .map_err(internal)?
        .map_err(ApiError::Unavailable)?;
    found.map(|v| Json((&v).into())).ok_or_else(|| ApiError::NotFound(format!("no verification {id}")))
}

async fn list_records(State(api): State<Api>) -> Result<Json<Records>, ApiError> {
    let sh = api.shared.clone();
    let list = tokio::task::spawn_blocking(move || sh.read_store(|s| s.list_records()))
        .await
        .map_err(internal)?
        .map_err(ApiError::Unavailable)?;
    // summaries only: ids and dates, no names (personal text stays in the store)
    Ok(Json(Records { records: list.iter().map(RecordInfo::from).collect() }))
}

async fn import_records(
    State(api): State<Api>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<ImportRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<ImportResult>, ApiError> {
    let Json(body) = body.map_err(|e| ApiError::BadRequest(format!("request body: {}", e.body_text())))?;
    let sh = api.shared.clone();
    let path = body.path.clone();
    let by = caller.0.clone();
    let out = tokio::task::spawn_blocking(move || -> Result<ImportResult, ApiError> {
        let loaded = idcheck_core::records::acceptance::load_any(&path).map_err(|e| ApiError::Unprocessable(e.to_string()))?;
        let (mut inserted, mut replaced, mut unchanged) = (0u32, 0u32, 0u32);
        let mut errors = Vec::new();
        for r in loaded {
            match r {
                Err(e) => errors.push(e.to_string()),
                Ok(rec) => match sh.with_store(|s| s.import_record(&rec, &by)) {
                    Ok(ImportOutcome::Inserted) => inserted += 1,
                    Ok(ImportOutcome::Replaced) => replaced += 1,
                    Ok(ImportOutcome::Unchanged) => unchanged += 1,
                    Err(e) => errors.push(format!("record {}: {e}", rec.application_id)),
                },
            }
        }
        Ok(ImportResult { inserted, replaced, unchanged, errors })
    })
    .await
    .map_err(internal)??;
    let result = serde_json::to_string(&out).unwrap_or_default();
    tracing::info!(caller = %caller.0, path = %body.path.display(), %result, "records imported");
    Ok(Json(out))
}

async fn get_maintenance(State(api): State<Api>) -> Json<MaintenanceStatus> {
    let m = api.shared.maintenance();
    Json(MaintenanceStatus { on: m.is_some(), maintenance: m })
}

async fn set_maintenance(
    State(api): State<Api>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<MaintenanceRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<MaintenanceChanged>, ApiError> {
    let Json(body) = body.map_err(|e| ApiError::BadRequest(format!("request body: {}", e.body_text())))?;
    let s = &api.shared;
    let warning = if body.on {
        let reason = body.reason.map(|r| r.trim().to_string()).filter(|r| !r.is_empty());
        let Some(reason) = reason else {
            return Err(ApiError::BadRequest("maintenance on needs a reason".into()));
        };
        let m = Maintenance { reason: reason.clone(), by: caller.0.clone(), since: now_rfc3339() };
        let w = s.set_maintenance(Some(m)).err();
        tracing::info!(by = %caller.0, %reason, "maintenance on");
        super::audit_log(s, crate::audit::AuditEvent::MaintenanceOn { reason: reason.clone(), by: caller.0.clone() });
        s.emit(DaemonEvent::MaintenanceOn { reason, by: caller.0 });
        w
    } else {
        let ended = s.maintenance().map(|m| m.reason).unwrap_or_default();
        let w = s.set_maintenance(None).err();
        tracing::info!(by = %caller.0, "maintenance off");
        super::audit_log(s, crate::audit::AuditEvent::MaintenanceOff { reason: ended, by: caller.0.clone() });
        s.emit(DaemonEvent::MaintenanceOff { by: caller.0 });
        w
    };
    let m = s.maintenance();
    Ok(Json(MaintenanceChanged { on: m.is_some(), maintenance: m, warning }))
}

/// `POST /v1/trust/reload`: re-read the trust directory (what `idcheck pki import-*` asks after
/// an import). Logged (`trust_reload`) and announced (`trust_reloaded`); a directory that does not
/// load is `422` and the running trust store stays.
async fn reload_trust(State(api): State<Api>, Extension(caller): Extension<Caller>) -> Result<Json<TrustReloaded>, ApiError> {
    let sh = api.shared.clone();
    let (directory, cscas, crls) = tokio::task::spawn_blocking(move || sh.reload_trust()).await.map_err(internal)?.map_err(|e| {
        tracing::error!(error = %e, by = %caller.0, "trust reload refused: the running trust store stays");
        ApiError::Unprocessable(format!("trust directory not reloaded: {e}"))
    })?;
    tracing::info!(by = %caller.0, directory = %directory.display(), cscas, crls, "trust store reloaded");
    let s = api.shared.clone();
    let event = crate::audit::AuditEvent::TrustReload {
        directory: directory.display().to_string(),
        cscas: cscas as u64,
        crls: crls as u64,
        by: caller.0.clone(),
    };
    tokio::task::spawn_blocking(move || super::audit_log(&s, event)).await.map_err(internal)?;
    api.shared.emit(DaemonEvent::TrustReloaded { cscas, crls });
    Ok(Json(TrustReloaded { directory, cscas, crls }))
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// `GET /v1/events`: first a `hello` event with the readers and the station's state, then every
/// event as it happens. Ends when the daemon shuts down.
async fn events(State(api): State<Api>) -> Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>> {
    let s = api.shared.clone();
    let hello = Hello {
        readers: s.readers().iter().map(|(n, c, b)| reader_info(n, c, *b)).collect(),
        maintenance: s.maintenance(),
        unavailable: s.unavailable_reason(None),
    };
    let first = Event::default().event("hello").data(serde_json::to_string(&hello).unwrap_or_default());
    let rx = s.events.subscribe();
    let shutdown = s.shutdown_signal();
    let stream = futures_util::stream::unfold((Some(first), rx, shutdown), |(first, mut rx, mut shutdown)| async move {
        if let Some(f) = first {
            return Some((Ok(f), (None, rx, shutdown)));
        }
        enum Next {
            Event(Event),
            End,
        }
        let next = tokio::select! {
            r = rx.recv() => match r {
                Ok(e) => Next::Event(Event::default().event(e.kind()).data(serde_json::to_string(&e).unwrap_or_default())),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    Next::Event(Event::default().event("lagged").data(serde_json::to_string(&Lagged { missed: n }).unwrap_or_default()))
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => Next::End,
            },
            _ = shutdown.wait_for(|s| *s) => Next::End,
        };
        match next {
            Next::Event(ev) => Some((Ok(ev), (None, rx, shutdown))),
            Next::End => None,
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

/// Binds a Unix socket at `path` (replacing a stale socket file, never another kind of file),
/// then sets its mode and group.
pub fn bind_unix(path: &std::path::Path, mode: u32, group: Option<&str>) -> Result<UnixListener, String> {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if meta.file_type().is_socket() {
            std::fs::remove_file(path).map_err(|e| format!("cannot remove stale socket {}: {e}", path.display()))?;
        } else {
            return Err(format!("{} exists and is not a socket", path.display()));
        }
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let l = UnixListener::bind(path).map_err(|e| format!("cannot listen on {}: {e}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(|e| format!("cannot chmod {}: {e}", path.display()))?;
    if let Some(g) = group {
        let grp = nix::unistd::Group::from_name(g)
            .map_err(|e| format!("group {g:?}: {e}"))?
            .ok_or_else(|| format!("group {g:?} does not exist"))?;
        std::os::unix::fs::chown(path, None, Some(grp.gid.as_raw())).map_err(|e| format!("cannot give {} to group {g}: {e}", path.display()))?;
    }
    Ok(l)
}

/// The token TCP clients must send: the first line of the file, at least 16 characters.
pub fn read_token(path: &std::path::Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("token file {}: {e}", path.display()))?;
    let t = text.lines().next().unwrap_or("").trim().to_string();
    if t.len() < 16 {
        return Err(format!("token file {}: the token must have at least 16 characters", path.display()));
    }
    Ok(t)
}

/// Where the sockets are, for `serve`'s log line.
pub fn describe(socket: &std::path::Path, tcp: Option<std::net::SocketAddr>) -> String {
    match tcp {
        Some(a) => format!("{} and http://{a}", socket.display()),
        None => socket.display().to_string(),
    }
}

// ------------------------------------------------------------------------------------ QC station

async fn ui_asset(uri: axum::http::Uri) -> Response {
    match crate::web::asset(uri.path()) {
        Some((ctype, body)) => (
            [(header::CONTENT_TYPE, ctype), (header::CACHE_CONTROL, "no-cache"), (header::X_CONTENT_TYPE_OPTIONS, "nosniff")],
            body,
        )
            .into_response(),
        None => ApiError::NotFound(format!("no page {}", uri.path())).into_response(),
    }
}

async fn get_view(State(api): State<Api>, UrlPath(id): UrlPath<i64>) -> Result<Json<VerificationView>, ApiError> {
    let sh = api.shared.clone();
    let (row, view, photos) = tokio::task::spawn_blocking(move || {
        sh.read_store(|s| -> Result<_, idcheck_store::StoreError> { Ok((s.get_verification(id)?, s.evidence_view(id)?, s.evidence_photo_names(id)?)) })
    })
    .await
    .map_err(internal)?
    .map_err(ApiError::Unavailable)?;
    let row = row.ok_or_else(|| ApiError::NotFound(format!("no verification {id}")))?;
    Ok(Json(super::qc::view_value(&row, view.as_deref(), &photos)))
}

async fn get_photo(State(api): State<Api>, UrlPath((id, name)): UrlPath<(i64, String)>) -> Result<Response, ApiError> {
    let sh = api.shared.clone();
    let n2 = name.clone();
    let png = tokio::task::spawn_blocking(move || sh.read_store(|s| s.evidence_photo(id, &n2)))
        .await
        .map_err(internal)?
        .map_err(ApiError::Unavailable)?
        .ok_or_else(|| ApiError::NotFound(format!("no {name} photo for verification {id}")))?;
    Ok(([(header::CONTENT_TYPE, "image/png"), (header::CACHE_CONTROL, "private, max-age=3600")], png).into_response())
}

async fn create_batch(
    State(api): State<Api>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<BatchRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body.map_err(|e| ApiError::BadRequest(format!("request body: {}", e.body_text())))?;
    if api.shared.shutting_down() {
        return Err(ApiError::Unavailable("the station is shutting down".into()));
    }
    let created: BatchCreated = super::qc::create(api.shared.clone(), api.jobs.clone(), body, caller.0)
        .await
        .map_err(ApiError::Unprocessable)?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

async fn list_batches(State(api): State<Api>) -> Result<Json<Batches>, ApiError> {
    let sh = api.shared.clone();
    let batches = tokio::task::spawn_blocking(move || {
        sh.read_store(|s| -> Result<Vec<BatchListing>, idcheck_store::StoreError> {
            let mut out = Vec::new();
            for b in s.list_batches()? {
                let full = s.batch(b.id)?.unwrap_or(b);
                let items = s.batch_items(full.id)?;
                out.push(BatchListing::from(&super::qc::batch_value(&full, &items)));
            }
            Ok(out)
        })
    })
    .await
    .map_err(internal)?
    .map_err(ApiError::Unavailable)?;
    Ok(Json(Batches { batches }))
}

async fn get_batch(State(api): State<Api>, UrlPath(id): UrlPath<i64>) -> Result<Json<crate::wire::Batch>, ApiError> {
    let sh = api.shared.clone();
    tokio::task::spawn_blocking(move || super::qc::batch_json(&sh, id))
        .await
        .map_err(internal)?
        .map_err(ApiError::Unavailable)?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no batch {id}")))
}

async fn close_batch(State(api): State<Api>, UrlPath(id): UrlPath<i64>) -> Result<Json<BatchClosed>, ApiError> {
    let sh = api.shared.clone();
    tokio::task::spawn_blocking(move || sh.with_store(|s| s.close_batch(id)))
        .await
        .map_err(internal)?
        .map_err(ApiError::Unavailable)?;
    Ok(Json(BatchClosed { id, closed: true }))
}
