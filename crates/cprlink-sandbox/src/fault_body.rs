//! The response body type: a whole buffer, or a buffer delivered badly on purpose.
//!
//! Owns the two body-level faults: a slow body (chunks with pauses in between) and a
//! connection that dies mid-body (half the bytes, then an error, which makes hyper drop
//! the connection without finishing the response). Deciding *when* to misbehave is
//! `faults.rs`'s job.

use std::collections::VecDeque;
use std::future::Future as _;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::{Body as HttpBody, Bytes, Frame, SizeHint};
use tokio::time::Sleep;

/// Why a body stopped early (only ever for an injected fault).
#[derive(Debug, thiserror::Error)]
#[error("connection reset mid-response (injected fault)")]
pub struct BodyError;

/// A response body.
pub enum Body {
    /// The whole body at once.
    Full(Option<Bytes>),
    /// The body in chunks, each after a pause.
    Slow {
        chunks: VecDeque<Bytes>,
        pause: Duration,
        sleep: Option<Pin<Box<Sleep>>>,
        total: u64,
    },
    /// The first part, a pause (so it reaches the client), then an error: the
    /// connection is dropped.
    Reset {
        first: Option<Bytes>,
        sleep: Option<Pin<Box<Sleep>>>,
        total: u64,
    },
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Body::Full(b) => write!(f, "Body::Full({} bytes)", b.as_ref().map_or(0, Bytes::len)),
            Body::Slow { total, .. } => write!(f, "Body::Slow({total} bytes)"),
            Body::Reset { total, .. } => write!(f, "Body::Reset({total} bytes)"),
        }
    }
}

impl Body {
    pub fn full(bytes: impl Into<Bytes>) -> Self {
        Body::Full(Some(bytes.into()))
    }

    pub fn empty() -> Self {
        Body::Full(None)
    }

    /// The same bytes, in `pieces` chunks spread over `over`.
    pub fn slow(bytes: Bytes, over: Duration, pieces: usize) -> Self {
        let total = bytes.len() as u64;
        let pieces = pieces.clamp(1, bytes.len().max(1));
        let step = bytes.len().div_ceil(pieces).max(1);
        let mut chunks = VecDeque::with_capacity(pieces);
        let mut at = 0;
        while at < bytes.len() {
            let end = (at + step).min(bytes.len());
            chunks.push_back(bytes.slice(at..end));
            at = end;
        }
        let pause = over / u32::try_from(chunks.len().max(1)).unwrap_or(1);
        Body::Slow {
            chunks,
            pause,
            sleep: None,
            total,
        }
    }

    /// Half of `bytes`, then a dropped connection.
    pub fn reset(bytes: Bytes) -> Self {
        let total = bytes.len() as u64;
        let half = bytes.slice(..bytes.len() / 2);
        Body::Reset {
            first: Some(half),
            sleep: None,
            total,
        }
    }

    /// The full length the headers announce.
    pub fn announced_len(&self) -> Option<u64> {
        match self {
            Body::Full(b) => Some(b.as_ref().map_or(0, |b| b.len() as u64)),
            Body::Slow { total, .. } | Body::Reset { total, .. } => Some(*total),
        }
    }
}

impl HttpBody for Body {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        match self.get_mut() {
            Body::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            Body::Slow {
                chunks,
                pause,
                sleep,
                ..
            } => {
                if chunks.is_empty() {
                    return Poll::Ready(None);
                }
                let timer = sleep.get_or_insert_with(|| Box::pin(tokio::time::sleep(*pause)));
                match timer.as_mut().poll(cx) {
                    Poll::Pending => Poll::Pending,
                    Poll::Ready(()) => {
                        *sleep = None;
                        Poll::Ready(chunks.pop_front().map(|c| Ok(Frame::data(c))))
                    }
                }
            }
            Body::Reset { first, sleep, .. } => {
                if let Some(b) = first.take() {
                    return Poll::Ready(Some(Ok(Frame::data(b))));
                }
                let timer = sleep
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(Duration::from_millis(50))));
                match timer.as_mut().poll(cx) {
                    Poll::Pending => Poll::Pending,
                    Poll::Ready(()) => Poll::Ready(Some(Err(BodyError))),
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Body::Full(b) => b.is_none(),
            Body::Slow { chunks, .. } => chunks.is_empty(),
            Body::Reset { .. } => false,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Body::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            // The announced Content-Length is set as a header by the caller; the hint
            // stays open so hyper does not count the bytes against it.
            Body::Slow { .. } | Body::Reset { .. } => SizeHint::default(),
        }
    }
}
