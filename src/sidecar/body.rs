//! Body size limits shared by every path that moves payloads (API, app channel,
//! sidecar-to-sidecar hop): a body wrapper that fails once a limit is passed, and the test
//! for that failure anywhere in an error's chain.

use bytes::Bytes;

/// The error a size-limited body yields once it passes the limit.
#[derive(Debug, thiserror::Error)]
#[error("body is larger than the maximum of {0} bytes")]
pub struct BodyLimitExceeded(pub usize);

/// Whether `e` (or anything in its source chain) is a body limit being passed.
pub fn is_too_large(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut src = Some(e);
    while let Some(s) = src {
        if s.is::<BodyLimitExceeded>() || s.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        src = s.source();
    }
    false
}

/// A body that fails with [`BodyLimitExceeded`] once more than `limit` bytes have passed,
/// so an oversized streamed body is cut off instead of forwarded. It can hold a guard (a
/// concurrency permit, say) until it is dropped.
pub struct LimitedBody<B> {
    inner: B,
    remaining: usize,
    limit: usize,
    _guard: Option<Box<dyn std::any::Any + Send + Sync>>,
}

impl<B> LimitedBody<B> {
    pub fn new(inner: B, limit: usize) -> Self {
        LimitedBody {
            inner,
            remaining: limit,
            limit,
            _guard: None,
        }
    }

    /// Keeps `guard` alive as long as the body.
    pub fn holding(mut self, guard: impl Send + Sync + 'static) -> Self {
        self._guard = Some(Box::new(guard));
        self
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl<B> hyper::body::Body for LimitedBody<B>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, BoxError>>> {
        use std::task::Poll;
        match std::pin::Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(d) = frame.data_ref() {
                    if d.len() > self.remaining {
                        let limit = self.limit;
                        return Poll::Ready(Some(Err(Box::new(BodyLimitExceeded(limit)))));
                    }
                    self.remaining -= d.len();
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn limited_bodies_fail_past_the_limit() {
        let ok = LimitedBody::new(http_body_util::Full::new(Bytes::from("abc")), 3);
        assert_eq!(ok.collect().await.unwrap().to_bytes(), "abc");
        let big = LimitedBody::new(http_body_util::Full::new(Bytes::from("abcd")), 3);
        let e = big.collect().await.unwrap_err();
        assert!(is_too_large(e.as_ref()), "{e}");
    }
}
