//! The auditors' read-only endpoints (served on `api.auditor_socket` only): an export of the
//! tamper-evident log with what is needed to verify it offline, and the verification of the live
//! chain, and the router of that socket. Nothing here writes anything but the `audit_export`
//! entry the export itself logs.

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde::Deserialize;

use super::api::{unix_caller, Api, Caller};
use crate::wire::{AuditVerification, AuditorHealth, ErrorBody, HealthStatus};
use crate::audit::{self, ExportFormat, ExportOptions, VerifyOptions};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    from: Option<String>,
    to: Option<String>,
    format: Option<String>,
}

fn bad(code: StatusCode, msg: impl Into<String>) -> Response {
    (code, Json(ErrorBody { error: msg.into() })).into_response()
}

/// The auditors' routes: read-only, nothing else (no verification, no import, no maintenance).
pub fn auditor_router(api: Api) -> Router {
    Router::new()
        .route("/v1/health", get(|| async { Json(AuditorHealth { status: HealthStatus::Ok, socket: "auditor".into() }) }))
        .route("/v1/audit/export", get(export))
        .route("/v1/audit/verify", get(verify))
        .fallback(|| async { bad(StatusCode::NOT_FOUND, "the auditor socket serves /v1/audit/export and /v1/audit/verify only") })
        .with_state(api)
        .layer(middleware::from_fn(unix_caller))
}

/// `GET /v1/audit/export?from=&to=&format=jsonl|csv`.
pub async fn export(State(api): State<Api>, Extension(caller): Extension<Caller>, q: Result<Query<ExportQuery>, axum::extract::rejection::QueryRejection>) -> Response {
    let Ok(Query(q)) = q else { return bad(StatusCode::BAD_REQUEST, "query: expected from, to, format") };
    let format = match q.format.as_deref().map(ExportFormat::parse) {
        None => ExportFormat::Jsonl,
        Some(Some(f)) => f,
        Some(None) => return bad(StatusCode::BAD_REQUEST, "format: expected jsonl or csv"),
    };
    let parse = |t: &Option<String>| t.as_deref().map(audit::entry::parse_user_time).transpose();
    let (from, to) = match (parse(&q.from), parse(&q.to)) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(e), _) | (_, Err(e)) => return bad(StatusCode::BAD_REQUEST, format!("time: {e}")),
    };
    let options = ExportOptions { from, to, format, requested_by: format!("auditor-socket:{}", caller.0) };
    let shared = api.shared.clone();
    let out = tokio::task::spawn_blocking(move || {
        let key = shared.station_key.clone();
        shared.read_store(|s| {
            let mut buf = Vec::new();
            audit::export(s, &options, key.as_deref(), &mut buf).map(|_| buf)
        })
    })
    .await;
    match out {
        Ok(Ok(body)) => {
            let ctype = match format {
                ExportFormat::Jsonl => "application/x-ndjson",
                ExportFormat::Csv => "text/csv; charset=utf-8",
            };
            ([(header::CONTENT_TYPE, ctype)], body).into_response()
        }
        Ok(Err(e)) => bad(StatusCode::SERVICE_UNAVAILABLE, e),
        Err(e) => bad(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// `GET /v1/audit/verify`: the live chain checked like an export; `200` when it holds, `409`
/// with the first bad entry otherwise.
pub async fn verify(State(api): State<Api>) -> Response {
    let shared = api.shared.clone();
    let options = VerifyOptions { expected_key: shared.station_key.as_ref().map(|k| k.public_key_hex()) };
    let report = tokio::task::spawn_blocking(move || shared.read_store(|s| Ok::<_, String>(audit::verify_db(s, &options)))).await;
    match report {
        Ok(Ok(r)) => {
            let first = r.first_problem().map(|p| format!("{p:?}"));
            let body = AuditVerification {
                intact: r.intact(),
                entries: r.entries,
                first_seq: r.first_seq,
                last_seq: r.last_seq,
                valid_checkpoints: r.valid_checkpoints,
                signed_through: r.signed_through,
                unsigned_tail: r.unsigned_tail,
                station_key: r.station_key.clone(),
                first_problem: first,
                problems: r.problems.len() as u64 + r.more_problems,
            };
            let code = if r.intact() { StatusCode::OK } else { StatusCode::CONFLICT };
            (code, Json(body)).into_response()
        }
        Ok(Err(e)) => bad(StatusCode::SERVICE_UNAVAILABLE, e),
        Err(e) => bad(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}
