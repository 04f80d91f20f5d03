//! Request bodies within limits: JSON only, at most `max_body_bytes`, and
//! within a server-wide budget of bytes held at once, so that many large
//! requests together cannot exhaust memory; and [`HoldingBody`], a response
//! body that keeps a value alive until the answer has been written.
//!
//! A request takes its share of the budget (its `Content-Length`, or the
//! body limit when the length is not declared) before its body is read, and
//! keeps it until its answer is complete: the body's copies live on in the
//! store, the agent and the model request for as long as the turn runs. A
//! request that does not fit waits, unread, in line.

use crate::error::ApiError;
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use bytes::Bytes;
use futures_util::StreamExt;
use hyper::body::{Frame, SizeHint};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The budget is counted in KiB, so that a `u32` permit count covers any
/// body size.
const UNIT: usize = 1024;

/// Checks that the body is declared as JSON: `application/json` (with any
/// parameters, such as a charset) or a `+json` type. Without this a form or
/// a text body would be parsed as JSON all the same.
pub(crate) fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let essence = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    match essence.as_deref() {
        Some("application/json") => Ok(()),
        Some(t) if t.starts_with("application/") && t.ends_with("+json") => Ok(()),
        _ => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_request_error",
            "unsupported_media_type",
            "The request body must be JSON, sent with 'Content-Type: application/json'.",
        )),
    }
}

/// The server-wide budget of request-body bytes held at once.
#[derive(Debug)]
pub(crate) struct BodyBudget {
    units: Arc<Semaphore>,
    max_body_bytes: usize,
}

/// A request's share of the [`BodyBudget`], returned when dropped.
#[derive(Debug)]
pub(crate) struct BudgetShare {
    _permit: OwnedSemaphorePermit,
}

impl BodyBudget {
    /// `budget_bytes` must be at least `max_body_bytes` (the configuration
    /// is validated), so every accepted body fits.
    pub(crate) fn new(budget_bytes: usize, max_body_bytes: usize) -> Self {
        let units = units(budget_bytes.max(max_body_bytes)).min(Semaphore::MAX_PERMITS);
        Self {
            units: Arc::new(Semaphore::new(units)),
            max_body_bytes,
        }
    }

    /// Reads the whole body once its share of the budget is granted. A
    /// declared length over the limit is refused before anything is read.
    pub(crate) async fn read(
        &self,
        headers: &HeaderMap,
        body: Body,
    ) -> Result<(Vec<u8>, BudgetShare), ApiError> {
        let declared = match headers.get(header::CONTENT_LENGTH) {
            None => None,
            Some(value) => Some(
                value
                    .to_str()
                    .ok()
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .ok_or_else(|| {
                        ApiError::bad_request("invalid_body", "The Content-Length is not a number.")
                    })?,
            ),
        };
        if declared.is_some_and(|len| len > self.max_body_bytes) {
            return Err(self.too_large());
        }
        let reserved = units(declared.unwrap_or(self.max_body_bytes));
        let mut permit = Arc::clone(&self.units)
            .acquire_many_owned(u32::try_from(reserved).unwrap_or(u32::MAX))
            .await
            .map_err(|_| ApiError::bad_request("invalid_body", "The server is stopping."))?;
        let mut bytes = Vec::with_capacity(declared.unwrap_or(0));
        let mut frames = body.into_data_stream();
        while let Some(chunk) = frames.next().await {
            let chunk = chunk.map_err(|e| {
                tracing::debug!(error = %e, "reading a request body failed");
                ApiError::bad_request("invalid_body", "Could not read the request body.")
            })?;
            if bytes.len() + chunk.len() > self.max_body_bytes {
                return Err(self.too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        // A body of undeclared length reserved the limit; keep what it used.
        let used = units(bytes.len()).max(1);
        if permit.num_permits() > used {
            drop(permit.split(permit.num_permits() - used));
        }
        Ok((bytes, BudgetShare { _permit: permit }))
    }

    fn too_large(&self) -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request_error",
            "request_too_large",
            format!(
                "The request body is larger than the server accepts ({} bytes).",
                self.max_body_bytes
            ),
        )
    }
}

fn units(bytes: usize) -> usize {
    bytes.div_ceil(UNIT)
}

/// A response body that keeps `held` alive until hyper drops the body,
/// which it does once the body is written or the client has gone.
pub(crate) struct HoldingBody<T> {
    body: Body,
    _held: T,
}

impl<T> HoldingBody<T> {
    pub(crate) fn new(body: Body, held: T) -> Self {
        Self { body, _held: held }
    }
}

impl<T: Unpin> hyper::body::Body for HoldingBody<T> {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn content_type(value: Option<&'static str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(value) = value {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(value));
        }
        headers
    }

    #[test]
    fn only_json_bodies_are_accepted() {
        for ok in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON;charset=UTF-8",
            "application/vnd.api+json",
        ] {
            assert!(require_json(&content_type(Some(ok))).is_ok(), "{ok}");
        }
        for refused in [
            None,
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            Some("multipart/form-data; boundary=x"),
            Some("application/jsonp"),
        ] {
            let err = require_json(&content_type(refused)).unwrap_err();
            assert_eq!(
                err.status,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "{refused:?}"
            );
        }
    }

    fn length(len: usize) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
        headers
    }

    #[tokio::test]
    async fn shares_of_the_budget_are_held_until_the_answer_is_done() {
        use futures_util::FutureExt;
        let budget = BodyBudget::new(4 * UNIT, 4 * UNIT);
        let (bytes, share) = budget
            .read(&length(3000), Body::from(vec![b'x'; 3000]))
            .await
            .unwrap();
        assert_eq!(bytes.len(), 3000);
        assert_eq!(budget.units.available_permits(), 1);
        // A second request of the same size waits, unread, for the first.
        let declared = length(3000);
        let second = budget.read(&declared, Body::from(vec![b'x'; 3000]));
        let mut second = std::pin::pin!(second);
        assert!(second.as_mut().now_or_never().is_none());
        drop(share);
        let (_, second_share) = second.await.unwrap();
        drop(second_share);
        // An undeclared length reserves the limit, then keeps what it used.
        let (_, small) = budget
            .read(&HeaderMap::new(), Body::from("{}"))
            .await
            .unwrap();
        assert_eq!(budget.units.available_permits(), 3);
        drop(small);
        // Over the limit, declared or not.
        let err = budget.read(&length(5000), Body::empty()).await.unwrap_err();
        assert_eq!(err.status, StatusCode::PAYLOAD_TOO_LARGE);
        let err = budget
            .read(&HeaderMap::new(), Body::from(vec![b'x'; 5000]))
            .await
            .unwrap_err();
        assert_eq!(err.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(budget.units.available_permits(), 4);
    }
}
