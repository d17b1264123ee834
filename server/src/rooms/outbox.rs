//! The frames a room has queued for one connection, and the room's word to close it.
//!
//! A small shared queue rather than a channel: an idle connection costs an empty queue
//! (a tokio channel allocates a block of 32 slots and its cache-padded state up front,
//! ~2 KiB of the ~11 KiB an idle connection cost), and the connection takes everything
//! queued in one go, which it writes with one flush.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;

use super::CloseReason;

/// Creates the room's and the connection's ends of one outbox; `capacity` frames of at
/// most `max_bytes` bytes together may wait before the room counts the connection as too
/// slow. A single frame larger than `max_bytes` (a large document's sync step 2) is still
/// queued when nothing else waits, so that any document can be opened.
pub(crate) fn outbox(capacity: usize, max_bytes: usize) -> (OutboxSender, OutboxReceiver) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State::default()),
        capacity: capacity.max(1),
        max_bytes,
    });
    (OutboxSender(shared.clone()), OutboxReceiver(shared))
}

struct Shared {
    state: Mutex<State>,
    capacity: usize,
    max_bytes: usize,
}

#[derive(Default)]
struct State {
    frames: VecDeque<Bytes>,
    /// The bytes of `frames`: a reader that stalls must not hold memory without bound,
    /// and 1,024 frames of a few MiB each would be gigabytes.
    bytes: usize,
    /// Set once by the room; later frames are dropped.
    close: Option<CloseReason>,
    /// The room let go of the connection without a word (it is gone).
    room_gone: bool,
    /// The connection stopped reading; frames for it are dropped.
    conn_gone: bool,
    /// The connection's task, when it waits for frames.
    waker: Option<Waker>,
}

impl Shared {
    /// Changes the state under the lock, then wakes the connection if it was waiting.
    fn update<R>(&self, change: impl FnOnce(&mut State) -> R) -> R {
        let (result, waker) = {
            // A panic while holding this lock cannot leave the queue half-changed.
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            let result = change(&mut state);
            (result, state.waker.take())
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        result
    }
}

/// The connection is `capacity` frames or `max_bytes` bytes behind.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Full;

/// The room's end of an outbox.
pub(crate) struct OutboxSender(Arc<Shared>);

impl OutboxSender {
    /// Queues a frame; [`Full`] when the connection is too far behind to keep.
    pub fn push(&self, frame: Bytes) -> Result<(), Full> {
        let (capacity, max_bytes) = (self.0.capacity, self.0.max_bytes);
        self.0.update(|state| {
            let bytes = state.bytes.saturating_add(frame.len());
            if state.close.is_some() || state.conn_gone {
                Ok(())
            } else if state.frames.len() >= capacity || (bytes > max_bytes && !state.frames.is_empty()) {
                Err(Full)
            } else {
                state.bytes = bytes;
                state.frames.push_back(frame);
                Ok(())
            }
        })
    }

    /// Tells the connection to close; the first reason given stands.
    pub fn close(&self, reason: CloseReason) {
        self.0.update(|state| {
            state.close.get_or_insert(reason);
        });
    }
}

impl Drop for OutboxSender {
    fn drop(&mut self) {
        self.0.update(|state| state.room_gone = true);
    }
}

/// What the room has for its connection.
#[derive(Debug, PartialEq)]
pub(crate) enum Delivery {
    /// Frames to write, oldest first.
    Frames(VecDeque<Bytes>),
    /// Close the connection with this reason; nothing more will come.
    Close(CloseReason),
}

/// The connection's end of an outbox.
pub(crate) struct OutboxReceiver(Arc<Shared>);

impl OutboxReceiver {
    /// Waits for frames or the room's word to close.
    pub async fn next(&self) -> Delivery {
        poll_fn(|cx| self.poll_next(cx)).await
    }

    /// Everything queued, or the close once the queue is delivered (a connection closed
    /// for being too slow skips what is queued: it resyncs when it reconnects).
    fn poll_next(&self, cx: &mut Context<'_>) -> Poll<Delivery> {
        let mut state = self.0.state.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(reason) = state.close
            && (reason == CloseReason::TOO_SLOW || state.frames.is_empty())
        {
            return Poll::Ready(Delivery::Close(reason));
        }
        if !state.frames.is_empty() {
            state.bytes = 0;
            return Poll::Ready(Delivery::Frames(std::mem::take(&mut state.frames)));
        }
        if state.room_gone {
            return Poll::Ready(Delivery::Close(CloseReason::GOING_AWAY));
        }
        if !state.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            state.waker = Some(cx.waker().clone());
        }
        Poll::Pending
    }
}

impl Drop for OutboxReceiver {
    fn drop(&mut self) {
        self.0.update(|state| {
            state.conn_gone = true;
            state.frames.clear();
            state.bytes = 0;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn frame(n: u8) -> Bytes {
        Bytes::from(vec![n])
    }

    #[tokio::test]
    async fn delivers_everything_queued_in_one_go() {
        let (tx, rx) = outbox(8, 1 << 20);
        tx.push(frame(1)).unwrap();
        tx.push(frame(2)).unwrap();
        assert_eq!(rx.next().await, Delivery::Frames([frame(1), frame(2)].into()));
        tx.push(frame(3)).unwrap();
        assert_eq!(rx.next().await, Delivery::Frames([frame(3)].into()));
    }

    #[tokio::test]
    async fn wakes_a_waiting_connection() {
        let (tx, rx) = outbox(8, 1 << 20);
        let waiting = tokio::spawn(async move { rx.next().await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        tx.push(frame(7)).unwrap();
        let got = tokio::time::timeout(Duration::from_secs(5), waiting).await;
        assert_eq!(got.unwrap().unwrap(), Delivery::Frames([frame(7)].into()));
    }

    #[tokio::test]
    async fn full_queue_refuses_and_keeps_what_it_has() {
        let (tx, rx) = outbox(2, 1 << 20);
        tx.push(frame(1)).unwrap();
        tx.push(frame(2)).unwrap();
        assert_eq!(tx.push(frame(3)), Err(Full));
        assert_eq!(rx.next().await, Delivery::Frames([frame(1), frame(2)].into()));
        assert_eq!(tx.push(frame(3)), Ok(()));
    }

    #[tokio::test]
    async fn a_queue_full_of_bytes_refuses_but_one_large_frame_passes_alone() {
        let (tx, rx) = outbox(100, 10);
        // Larger than the bound, but nothing waits: a large document must still open.
        assert_eq!(tx.push(Bytes::from(vec![0; 50])), Ok(()));
        assert_eq!(
            tx.push(frame(1)),
            Err(Full),
            "the bytes bound counts, not only frames"
        );
        assert!(matches!(rx.next().await, Delivery::Frames(f) if f.len() == 1));
        for n in 0..10 {
            assert_eq!(tx.push(frame(n)), Ok(()));
        }
        assert_eq!(tx.push(frame(10)), Err(Full), "10 bytes are waiting");
        assert!(matches!(rx.next().await, Delivery::Frames(f) if f.len() == 10));
        assert_eq!(tx.push(frame(11)), Ok(()), "taking the frames frees their bytes");
    }

    #[tokio::test]
    async fn close_comes_after_the_queued_frames_and_stops_new_ones() {
        let (tx, rx) = outbox(8, 1 << 20);
        tx.push(frame(1)).unwrap();
        tx.close(CloseReason::POLICY);
        tx.close(CloseReason::GOING_AWAY);
        tx.push(frame(2)).unwrap();
        assert_eq!(rx.next().await, Delivery::Frames([frame(1)].into()));
        assert_eq!(rx.next().await, Delivery::Close(CloseReason::POLICY));
        assert_eq!(rx.next().await, Delivery::Close(CloseReason::POLICY));
    }

    #[tokio::test]
    async fn too_slow_skips_the_queue() {
        let (tx, rx) = outbox(8, 1 << 20);
        tx.push(frame(1)).unwrap();
        tx.close(CloseReason::TOO_SLOW);
        assert_eq!(rx.next().await, Delivery::Close(CloseReason::TOO_SLOW));
    }

    #[tokio::test]
    async fn room_gone_closes_after_the_queue() {
        let (tx, rx) = outbox(8, 1 << 20);
        tx.push(frame(1)).unwrap();
        drop(tx);
        assert_eq!(rx.next().await, Delivery::Frames([frame(1)].into()));
        assert_eq!(rx.next().await, Delivery::Close(CloseReason::GOING_AWAY));
    }

    #[tokio::test]
    async fn frames_for_a_gone_connection_are_dropped_not_counted() {
        let (tx, rx) = outbox(1, 1 << 20);
        drop(rx);
        for n in 0..10 {
            assert_eq!(tx.push(frame(n)), Ok(()));
        }
    }
}
