//! The auditors' read-only endpoints: an export of the tamper-evident log and its verification.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::api::Api;

pub async fn export(State(_api): State<Api>) -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, "audit export: not wired yet").into_response()
}

pub async fn verify(State(_api): State<Api>) -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, "audit verify: not wired yet").into_response()
}
