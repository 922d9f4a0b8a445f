//! The request body sent upstream: the client's body streamed through under the route's
//! size limit (crossing it fails the body, which makes the client abort the upstream
//! request), or a body already buffered for checks.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;

use crate::proxy::BoxError;

/// The body went over the route's `max_body_bytes` while streaming.
#[derive(Debug, thiserror::Error)]
#[error("the request body is larger than the route accepts")]
pub struct BodyTooLarge;

pub enum RequestBody {
    Streamed {
        inner: Incoming,
        /// A frame already read (to find broken chunking before contacting the
        /// upstream); sent first.
        first: Option<Frame<Bytes>>,
        limit: Option<u64>,
        seen: u64,
    },
    Buffered(Option<Bytes>),
}

impl RequestBody {
    pub fn streamed(inner: Incoming, first: Option<Frame<Bytes>>, limit: Option<u64>) -> Self {
        let seen = first
            .as_ref()
            .and_then(Frame::data_ref)
            .map_or(0, |d| d.len() as u64);
        RequestBody::Streamed {
            inner,
            first,
            limit,
            seen,
        }
    }

    pub fn buffered(bytes: Bytes) -> Self {
        RequestBody::Buffered((!bytes.is_empty()).then_some(bytes))
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.get_mut() {
            RequestBody::Buffered(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            RequestBody::Streamed {
                inner,
                first,
                limit,
                seen,
            } => {
                if limit.is_some_and(|limit| *seen > limit) {
                    return Poll::Ready(Some(Err(Box::new(BodyTooLarge))));
                }
                if let Some(frame) = first.take() {
                    return Poll::Ready(Some(Ok(frame)));
                }
                match Pin::new(inner).poll_frame(cx) {
                    Poll::Ready(Some(Ok(frame))) => {
                        if let Some(data) = frame.data_ref() {
                            *seen += data.len() as u64;
                            if limit.is_some_and(|limit| *seen > limit) {
                                return Poll::Ready(Some(Err(Box::new(BodyTooLarge))));
                            }
                        }
                        Poll::Ready(Some(Ok(frame)))
                    }
                    Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(Box::new(e)))),
                    Poll::Ready(None) => Poll::Ready(None),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            RequestBody::Buffered(bytes) => bytes.is_none(),
            RequestBody::Streamed { inner, first, .. } => first.is_none() && inner.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            RequestBody::Buffered(bytes) => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
            RequestBody::Streamed { inner, first, .. } => {
                let extra = first
                    .as_ref()
                    .and_then(Frame::data_ref)
                    .map_or(0, |d| d.len() as u64);
                let hint = inner.size_hint();
                let mut out = SizeHint::new();
                out.set_lower(hint.lower() + extra);
                if let Some(upper) = hint.upper() {
                    out.set_upper(upper + extra);
                }
                out
            }
        }
    }
}
