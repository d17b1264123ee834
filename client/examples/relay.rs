//! A bare y-websocket relay, the floor for `scripts/bench`: what forwarding the same frames
//! to the same peers costs when a server does nothing else.
//!
//! It keeps no document: it forwards every update and presence message to the room's other
//! clients as it came, answers a client's sync step 1 with the room's earlier updates and an
//! empty sync step 2, and checks nothing. One thread (Node's model), TCP_NODELAY, and each
//! connection writes what is queued for it with one flush. Not a server to use: no
//! persistence, no access control, a room's log grows without bound.
//!
//! ```sh
//! cargo run --release -p samen-client --example relay -- 127.0.0.1:1234
//! ```

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures_util::{SinkExt, StreamExt};
use samen_crdt::protocol::{ServerMessage, decode_server_message, encode_sync_step2};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::{Bytes, Message};

/// A room: its clients' outgoing queues and every update it forwarded (payloads).
#[derive(Default)]
struct Room {
    peers: HashMap<u64, mpsc::UnboundedSender<Bytes>>,
    log: Vec<Vec<u8>>,
}

type Rooms = Arc<Mutex<HashMap<String, Room>>>;

fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:1234".into());
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(async move {
            let listener = TcpListener::bind(&addr).await?;
            println!("relay listening on {}", listener.local_addr()?);
            let rooms = Rooms::default();
            let mut next_id = 0u64;
            loop {
                let (stream, _) = listener.accept().await?;
                next_id += 1;
                tokio::spawn(serve(stream, next_id, rooms.clone()));
            }
        })
}

async fn serve(stream: TcpStream, id: u64, rooms: Rooms) {
    let _ = stream.set_nodelay(true);
    let mut path = String::new();
    // The callback's error type is tungstenite's, not ours.
    #[allow(clippy::result_large_err)]
    let callback = |req: &tokio_tungstenite::tungstenite::handshake::server::Request,
                    res: tokio_tungstenite::tungstenite::handshake::server::Response| {
        path = req.uri().path().to_owned();
        Ok(res)
    };
    let Ok(ws) = tokio_tungstenite::accept_hdr_async(stream, callback).await else {
        return;
    };
    let (tx, mut rx) = mpsc::unbounded_channel();
    rooms
        .lock()
        .unwrap()
        .entry(path.clone())
        .or_default()
        .peers
        .insert(id, tx.clone());
    let (mut sink, mut source) = ws.split();
    let writer = tokio::spawn(async move {
        while let Some(frame) = rx.recv().await {
            if sink.feed(Message::Binary(frame)).await.is_err() {
                return;
            }
            while let Ok(frame) = rx.try_recv() {
                if sink.feed(Message::Binary(frame)).await.is_err() {
                    return;
                }
            }
            if sink.flush().await.is_err() {
                return;
            }
        }
    });
    while let Some(Ok(msg)) = source.next().await {
        let Message::Binary(data) = msg else { continue };
        // Presence: forward it as it came (the only message read no further).
        if data.first() == Some(&1) {
            if let Some(room) = rooms.lock().unwrap().get(&path) {
                forward(room, id, &data);
            }
            continue;
        }
        // The client's sync messages parse like a server's, and are not checked either way.
        match decode_server_message(&data) {
            // Sync step 1: everything the room had, merged, as sync step 2.
            Ok(ServerMessage::SyncStep1(_)) => {
                let rooms = rooms.lock().unwrap();
                let log = rooms.get(&path).map(|r| r.log.as_slice()).unwrap_or_default();
                let state = yrs::merge_updates_v1(log).unwrap_or_else(|_| vec![0, 0]);
                let _ = tx.send(encode_sync_step2(&state).into());
            }
            // Sync step 2 or an update: keep it for later joiners, forward it as an update.
            Ok(ServerMessage::SyncStep2(update) | ServerMessage::Update(update)) => {
                let mut frame = data.to_vec();
                frame[1] = 2;
                let frame = Bytes::from(frame);
                let mut rooms = rooms.lock().unwrap();
                if let Some(room) = rooms.get_mut(&path) {
                    room.log.push(update);
                    forward(room, id, &frame);
                }
            }
            _ => {}
        }
    }
    if let Some(room) = rooms.lock().unwrap().get_mut(&path) {
        room.peers.remove(&id);
    }
    writer.abort();
}

fn forward(room: &Room, from: u64, frame: &Bytes) {
    for (peer, tx) in &room.peers {
        if *peer != from {
            let _ = tx.send(frame.clone());
        }
    }
}
