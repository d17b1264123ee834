//! The listening socket, with a gate on handshakes: only a few accepted connections at a
//! time are still waiting for their first response.
//!
//! A burst of connections (a school opening the dossier at the start of a meeting, every
//! client reconnecting after a restart) otherwise has all its first requests in flight at
//! once, each with hyper's 8 KiB read buffer, its headers and its access checks. On a small
//! machine that buys no throughput, and when the burst is over that memory stays behind as
//! holes between the connections that live on: 2,000 WebSocket connections opened 128 at a
//! time cost 6.1–7.5 KiB each, against 5.4–5.5 KiB through a gate of 8
//! (docs/performance.md).

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::serve::Listener;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Connections per core that may be in their first request at once.
const HANDSHAKES_PER_CORE: usize = 4;
/// How long a connection waits for its turn before it goes ahead anyway.
pub const HANDSHAKE_WAIT: Duration = Duration::from_millis(100);

/// How many connections may be in their first request at once on this machine.
pub fn handshakes() -> usize {
    std::thread::available_parallelism().map_or(8, |n| n.get() * HANDSHAKES_PER_CORE)
}

/// A TCP listener that lets at most `handshakes` connections be between accept and their
/// first response at once.
pub struct GatedListener {
    inner: TcpListener,
    permits: Arc<Semaphore>,
    wait: Duration,
    /// After a wait ran out, connections go ahead without waiting until then.
    open_until: Option<Instant>,
}

/// How long the gate stays open after a connection waited in vain, in waits.
const OPEN_FOR_WAITS: u32 = 10;

impl GatedListener {
    /// Gates `inner`. A connection waits at most `wait` for its turn and then goes ahead
    /// anyway, and so does every connection for the next ten such waits: a client that
    /// connects and sends nothing keeps its turn for as long as it stays connected, and a
    /// few of them must neither shut the door nor slow everyone down to one connection per
    /// `wait`.
    pub fn new(inner: TcpListener, handshakes: usize, wait: Duration) -> Self {
        GatedListener {
            inner,
            permits: Arc::new(Semaphore::new(handshakes.max(1))),
            wait,
            open_until: None,
        }
    }

    /// A turn for the next connection, if one comes in time.
    async fn turn(&mut self) -> Option<OwnedSemaphorePermit> {
        if self.open_until.is_some_and(|until| Instant::now() < until) {
            return self.permits.clone().try_acquire_owned().ok();
        }
        let permit = tokio::time::timeout(self.wait, self.permits.clone().acquire_owned()).await;
        match permit {
            Ok(permit) => permit.ok(),
            Err(_) => {
                self.open_until = Some(Instant::now() + self.wait * OPEN_FOR_WAITS);
                None
            }
        }
    }
}

impl Listener for GatedListener {
    type Io = GatedStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (GatedStream, SocketAddr) {
        // Taken before accepting: while the gate is full, new connections wait in the
        // kernel's backlog, where they cost this process nothing.
        let permit = self.turn().await;
        let (stream, addr) = Listener::accept(&mut self.inner).await;
        (GatedStream { stream, permit }, addr)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// An accepted connection; it gives its turn back when the server first writes to it (its
/// first response, or a WebSocket's `101 Switching Protocols`) or closes.
pub struct GatedStream {
    stream: TcpStream,
    permit: Option<OwnedSemaphorePermit>,
}

impl GatedStream {
    /// The TCP stream, for socket options.
    pub fn tcp(&self) -> &TcpStream {
        &self.stream
    }
}

impl AsyncRead for GatedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for GatedStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.permit = None;
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.permit = None;
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncWriteExt;

    use super::*;

    /// A gate and `clients` connections waiting at it.
    async fn gate(handshakes: usize, wait: Duration, clients: usize) -> (GatedListener, Vec<TcpStream>) {
        let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = tcp.local_addr().unwrap();
        let mut connected = Vec::new();
        for _ in 0..clients {
            connected.push(TcpStream::connect(addr).await.unwrap());
        }
        (GatedListener::new(tcp, handshakes, wait), connected)
    }

    #[tokio::test]
    async fn a_full_gate_holds_the_next_connection_until_a_response_is_written() {
        let (mut listener, _clients) = gate(2, Duration::from_secs(30), 3).await;
        let (mut first, _) = listener.accept().await;
        let (_second, _) = listener.accept().await;
        let third = tokio::time::timeout(Duration::from_millis(200), listener.accept()).await;
        assert!(third.is_err(), "two are in their handshake: the third must wait");

        first.write_all(b"HTTP/1.1 200 OK\r\n\r\n").await.unwrap();
        let third = tokio::time::timeout(Duration::from_secs(5), listener.accept()).await;
        assert!(third.is_ok(), "a written response gives the turn to the next");
    }

    #[tokio::test]
    async fn a_closed_connection_gives_its_turn_back() {
        let (mut listener, _clients) = gate(1, Duration::from_secs(30), 2).await;
        let (first, _) = listener.accept().await;
        drop(first);
        let second = tokio::time::timeout(Duration::from_secs(5), listener.accept()).await;
        assert!(second.is_ok());
    }

    #[tokio::test]
    async fn silent_clients_cannot_hold_the_gate_shut() {
        let (mut listener, _clients) = gate(1, Duration::from_millis(300), 2).await;
        // The first never gets a response (its client sends nothing); the second is accepted
        // once the wait is over.
        let (_silent, _) = listener.accept().await;
        let next = tokio::time::timeout(Duration::from_secs(5), listener.accept()).await;
        assert!(next.is_ok());
        assert!(next.unwrap().0.permit.is_none(), "it went ahead without a turn");
    }

    #[tokio::test]
    async fn after_a_wait_in_vain_the_gate_stays_open_for_a_while() {
        let (mut listener, _clients) = gate(1, Duration::from_secs(1), 5).await;
        let (_silent, _) = listener.accept().await;
        let (_waited, _) = listener.accept().await;
        // The next three do not wait a second each: the gate is open for ten.
        let quick = tokio::time::timeout(Duration::from_millis(500), async {
            for _ in 0..3 {
                listener.accept().await;
            }
        })
        .await;
        assert!(quick.is_ok(), "connections after a wait in vain go ahead at once");
    }
}
