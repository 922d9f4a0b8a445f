//! The response body sent to clients: the upstream's body streamed through (never
//! buffered) under the exchange's total deadline, or a small local body. Counts bytes
//! for the access log, which is written when this body is dropped.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::{Either, Full};
use hyper::body::Incoming;
use tokio::time::Sleep;

use crate::events::RequestLog;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
#[error("the upstream exchange exceeded its total timeout")]
pub struct TotalTimeout;

pin_project_lite::pin_project! {
    pub struct ResponseBody {
        #[pin]
        inner: Either<Incoming, Full<Bytes>>,
        deadline: Option<Pin<Box<Sleep>>>,
        log: Option<RequestLog>,
    }
}

impl ResponseBody {
    pub fn streamed(body: Incoming, deadline: Option<Pin<Box<Sleep>>>) -> Self {
        Self {
            inner: Either::Left(body),
            deadline,
            log: None,
        }
    }

    pub fn full(bytes: Bytes) -> Self {
        Self {
            inner: Either::Right(Full::new(bytes)),
            deadline: None,
            log: None,
        }
    }

    pub fn empty() -> Self {
        Self::full(Bytes::new())
    }

    /// Attaches the request's log record; it is written when the body is dropped.
    pub fn with_log(mut self, log: RequestLog) -> Self {
        self.log = Some(log);
        self
    }
}

impl From<Bytes> for ResponseBody {
    fn from(bytes: Bytes) -> Self {
        Self::full(bytes)
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.project();
        if let Some(deadline) = this.deadline.as_mut()
            && deadline.as_mut().poll(cx).is_ready()
        {
            *this.deadline = None;
            return Poll::Ready(Some(Err(Box::new(TotalTimeout))));
        }
        let polled = this.inner.poll_frame(cx);
        if let (Poll::Ready(Some(Ok(frame))), Some(log)) = (&polled, this.log.as_mut())
            && let Some(data) = frame.data_ref()
        {
            log.bytes += data.len() as u64;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
