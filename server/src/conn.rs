//! Serving accepted connections with hyper's HTTP/1.1 server directly: `axum::serve` sets
//! no timer, so it has no header read timeout, no idle timeout and a shutdown that waits
//! for the last client however long it takes.
//!
//! Each connection gets:
//! - hyper's header read timeout: from when the server starts waiting for a request (a new
//!   connection, or a kept-alive one after its response) until the request's headers are
//!   in. A client that sends half a header (slowloris) is dropped after it;
//! - an idle (keep-alive) timeout: a connection with no request under way and no byte of a
//!   new one for that long is closed. Kept here, not in hyper, which has none; it needs to
//!   know when a response has ended (the body's drop) and whether bytes came since (the
//!   socket's reads);
//! - on shutdown, hyper's graceful shutdown: the request under way is answered, no next one
//!   is read. The caller bounds how long it waits for that.
//!
//! WebSocket upgrades leave hyper when the `101` is written; from then on the connection
//! belongs to its room (with its own pings and write timeouts), not to these timeouts.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::ConnectInfo;
use axum::serve::Listener;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tower::ServiceExt;

use crate::config::Timeouts;

/// The connections of one listener, once it has stopped accepting.
pub struct Connections {
    tasks: JoinSet<()>,
}

impl Connections {
    /// Resolves when every connection has ended.
    pub async fn closed(&mut self) {
        while self.tasks.join_next().await.is_some() {}
    }

    /// How many connections are still open.
    pub fn open(&self) -> usize {
        self.tasks.len()
    }
}

/// Accepts connections on `listener` and serves `app` on each until `stop` turns true, then
/// asks each to finish (graceful shutdown) and returns them; dropping the result ends them
/// at once.
pub async fn serve<L>(
    mut listener: L,
    app: Router,
    timeouts: Timeouts,
    stop: watch::Receiver<bool>,
) -> Connections
where
    L: Listener<Addr = SocketAddr>,
    L::Io: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut tasks = JoinSet::new();
    let mut stopped = stop.clone();
    loop {
        tokio::select! {
            biased;
            _ = stopped.wait_for(|stop| *stop) => break,
            // Finished connections leave the set as they go, so it holds only open ones.
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            (io, addr) = listener.accept() => {
                tasks.spawn(connection(io, addr, app.clone(), timeouts, stop.clone()));
            }
        }
    }
    Connections { tasks }
}

/// Serves one connection until it closes, times out, or finishes after `stop`.
async fn connection<I>(
    io: I,
    addr: SocketAddr,
    app: Router,
    timeouts: Timeouts,
    mut stop: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched {
        io,
        activity: activity.clone(),
    });
    let service = Tracked {
        app,
        addr,
        activity: activity.clone(),
    };
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(timeouts.header);
    let mut conn = pin!(builder.serve_connection(io, service).with_upgrades());
    let mut stopping = false;
    loop {
        let check = activity
            .idle_deadline(timeouts.keep_alive)
            .unwrap_or_else(|| Instant::now() + timeouts.keep_alive);
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(err) = result {
                    tracing::debug!(%addr, error = %err, "connection ended");
                }
                return;
            }
            _ = stop.wait_for(|stop| *stop), if !stopping => {
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
            () = tokio::time::sleep_until(check) => {
                if activity.idle_deadline(timeouts.keep_alive).is_some_and(|d| d <= Instant::now()) {
                    // Nothing is under way: dropping the connection closes the socket.
                    tracing::debug!(%addr, "closing idle connection");
                    return;
                }
            }
        }
    }
}

/// What the idle timer needs to know of a connection: requests under way, when the last
/// one ended, and whether bytes have come since.
#[derive(Debug)]
struct Activity {
    born: Instant,
    /// Requests whose response has not ended yet.
    busy: AtomicU32,
    /// Reads that brought bytes (wrapping): a change means a request has begun to arrive.
    reads: AtomicU32,
    /// `reads` when the connection last went idle.
    idle_reads: AtomicU32,
    /// When it last went idle, in milliseconds after `born`.
    idle_at: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Activity {
            born: Instant::now(),
            busy: AtomicU32::new(0),
            reads: AtomicU32::new(0),
            idle_reads: AtomicU32::new(0),
            idle_at: AtomicU64::new(0),
        }
    }

    /// When the connection will have been idle for `keep_alive`, or `None` while a request
    /// is under way or has begun to arrive (hyper's header timer bounds that one).
    fn idle_deadline(&self, keep_alive: Duration) -> Option<Instant> {
        let busy = self.busy.load(Ordering::SeqCst) > 0
            || self.reads.load(Ordering::SeqCst) != self.idle_reads.load(Ordering::SeqCst);
        (!busy).then(|| self.born + Duration::from_millis(self.idle_at.load(Ordering::SeqCst)) + keep_alive)
    }
}

/// Marks a request as under way from its arrival until its response body is dropped
/// (written out, or abandoned).
struct Busy(Arc<Activity>);

impl Busy {
    fn new(activity: Arc<Activity>) -> Self {
        activity.busy.fetch_add(1, Ordering::SeqCst);
        Busy(activity)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let activity = &self.0;
        let since = u64::try_from(activity.born.elapsed().as_millis()).unwrap_or(u64::MAX);
        activity
            .idle_reads
            .store(activity.reads.load(Ordering::SeqCst), Ordering::SeqCst);
        activity.idle_at.store(since, Ordering::SeqCst);
        activity.busy.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The router as hyper calls it, once per request of one connection.
#[derive(Clone)]
struct Tracked {
    app: Router,
    addr: SocketAddr,
    activity: Arc<Activity>,
}

impl hyper::service::Service<hyper::Request<Incoming>> for Tracked {
    type Response = hyper::Response<TrackedBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn call(&self, request: hyper::Request<Incoming>) -> Self::Future {
        let busy = Busy::new(self.activity.clone());
        let mut request = request.map(Body::new);
        // What `into_make_service_with_connect_info` did: handlers may ask for the peer.
        request.extensions_mut().insert(ConnectInfo(self.addr));
        let app = self.app.clone();
        Box::pin(async move {
            let response = app.oneshot(request).await.unwrap_or_else(|never| match never {});
            Ok(response.map(|body| TrackedBody { body, _busy: busy }))
        })
    }
}

/// A response body that keeps its request marked as under way until it is dropped.
struct TrackedBody {
    body: Body,
    _busy: Busy,
}

impl HttpBody for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// The socket, counting the reads that bring bytes.
struct Watched<I> {
    io: I,
    activity: Arc<Activity>,
}

impl<I: AsyncRead + Unpin> AsyncRead for Watched<I> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.io).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.activity.reads.fetch_add(1, Ordering::SeqCst);
        }
        result
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Watched<I> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use axum::routing::get;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    use super::*;

    fn timeouts(header: u64, keep_alive: u64) -> Timeouts {
        Timeouts {
            header: Duration::from_secs(header),
            keep_alive: Duration::from_secs(keep_alive),
            shutdown: Duration::from_secs(1),
        }
    }

    /// A server of `app` on a random port, and the switch that stops it.
    async fn start(
        app: Router,
        timeouts: Timeouts,
    ) -> (
        SocketAddr,
        watch::Sender<bool>,
        tokio::task::JoinHandle<Connections>,
    ) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop_tx, stop_rx) = watch::channel(false);
        let task = tokio::spawn(serve(listener, app, timeouts, stop_rx));
        (addr, stop_tx, task)
    }

    /// Reads until the server closes the connection; returns what it sent.
    async fn until_closed(stream: &mut TcpStream, within: Duration) -> Option<String> {
        let mut got = Vec::new();
        let read = tokio::time::timeout(within, stream.read_to_end(&mut got)).await;
        read.ok().map(|_| String::from_utf8_lossy(&got).into_owned())
    }

    #[tokio::test]
    async fn an_idle_kept_alive_connection_closes_after_the_keep_alive() {
        let app = Router::new().route("/", get(|| async { "hi" }));
        let (addr, _stop, _task) = start(app, timeouts(10, 1)).await;
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let started = Instant::now();
        let got = until_closed(&mut stream, Duration::from_secs(5)).await;
        let got = got.expect("closed within 5 s");
        assert!(got.starts_with("HTTP/1.1 200"), "{got}");
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(900) && waited < Duration::from_secs(4),
            "closed after {waited:?}, not about a second"
        );
    }

    #[tokio::test]
    async fn a_slow_response_is_not_idle() {
        let app = Router::new().route(
            "/",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(2500)).await;
                "late"
            }),
        );
        let (addr, _stop, _task) = start(app, timeouts(10, 1)).await;
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let got = until_closed(&mut stream, Duration::from_secs(10))
            .await
            .expect("closed");
        assert!(got.starts_with("HTTP/1.1 200") && got.ends_with("late"), "{got}");
    }

    #[tokio::test]
    async fn stopping_finishes_the_request_under_way_and_closes_idle_connections() {
        let app = Router::new().route(
            "/",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(500)).await;
                "done"
            }),
        );
        let (addr, stop, task) = start(app, timeouts(10, 10)).await;
        let mut idle = TcpStream::connect(addr).await.unwrap();
        let mut busy = TcpStream::connect(addr).await.unwrap();
        busy.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        stop.send(true).unwrap();
        let mut connections = task.await.unwrap();
        let got = until_closed(&mut busy, Duration::from_secs(5))
            .await
            .expect("busy closed");
        assert!(got.ends_with("done"), "the request under way is answered: {got}");
        assert_eq!(
            until_closed(&mut idle, Duration::from_secs(5)).await.as_deref(),
            Some("")
        );
        tokio::time::timeout(Duration::from_secs(5), connections.closed())
            .await
            .expect("every connection ended");
        assert_eq!(connections.open(), 0);
    }
}
