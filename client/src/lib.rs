//! samen-client: a Rust sync client for Samen (the y-websocket protocol over
//! tokio-tungstenite, with a yrs document).
//!
//! It connects to `/sync/{registration_id}`, runs the sync handshake, sends local edits,
//! applies remote updates and presence, and reports when it is synced and when its
//! updates are durable (`acks`). Tests use it, and the load generator builds on it.

pub mod files;
pub mod load;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use samen_crdt::ClientId;
use samen_crdt::protocol::{self, ServerMessage};
use samen_crdt::validate::{Limits, parse_awareness_v1};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{Doc, Origin, ReadTxn, StateVector, Transact, TransactionMut, Update};

/// The origin of transactions that apply what the server sent; they are not sent back.
const REMOTE: &str = "samen-remote";

/// How the client proves who it is.
#[derive(Debug, Clone, Default)]
pub enum Auth {
    /// No credentials.
    #[default]
    None,
    /// `Authorization: Bearer <token>` (an API token).
    Bearer(String),
    /// `Cookie: samen_session=<id>` (a browser session), with its Origin header.
    Session {
        /// The session id.
        session: String,
        /// The Origin to present (the server checks it).
        origin: String,
    },
}

/// Connection options.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Credentials.
    pub auth: Auth,
    /// Ask the server for durability acks.
    pub acks: bool,
    /// A fixed client ID for the document (random when `None`).
    pub client_id: Option<ClientId>,
}

/// Why the client failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The WebSocket could not be opened.
    #[error("connect: {0}")]
    Connect(#[from] tokio_tungstenite::tungstenite::Error),
    /// A header value was invalid.
    #[error("invalid credentials for a header")]
    BadHeader,
    /// The connection closed before the awaited state.
    #[error("connection closed: {0:?}")]
    Closed(Option<(u16, String)>),
    /// The awaited state did not arrive in time.
    #[error("timed out waiting for {0}")]
    Timeout(&'static str),
}

/// What the client knows of its connection.
#[derive(Debug, Clone, Default)]
pub struct Status {
    /// The first sync step 2 from the server arrived.
    pub synced: bool,
    /// Update messages sent to the server.
    pub sent: u64,
    /// Update messages the server acknowledged as durable.
    pub acked: u64,
    /// Update messages received from the server.
    pub received: u64,
    /// Presence states of everyone in the room (client ID → clock, JSON).
    pub awareness: HashMap<ClientId, (u32, String)>,
    /// The server's close code and reason, once closed (code 1006 when none was sent).
    pub closed: Option<(u16, String)>,
    /// A permission-denied reason the server sent.
    pub denied: Option<String>,
    /// The name guard's latest findings, as the JSON text the server sent (needs `acks`).
    pub names: Option<String>,
    /// How many times the server said the files kept with the document changed.
    pub files_changed: u64,
}

enum Outgoing {
    Frame(Vec<u8>),
    Text(String),
    Close,
}

/// A connected client with its own document.
pub struct Client {
    doc: Doc,
    out: mpsc::UnboundedSender<Outgoing>,
    status: watch::Receiver<Status>,
    status_tx: Arc<watch::Sender<Status>>,
    local_awareness: Arc<std::sync::Mutex<Option<(u32, String)>>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Client {
    /// Connects to `url` (`ws://host/sync/{id}`) and starts the sync handshake.
    pub async fn connect(url: &str, options: Options) -> Result<Client, ClientError> {
        let url = if options.acks {
            let sep = if url.contains('?') { '&' } else { '?' };
            format!("{url}{sep}acks=1")
        } else {
            url.to_owned()
        };
        let mut request = url.into_client_request()?;
        match &options.auth {
            Auth::None => {}
            Auth::Bearer(token) => {
                let value =
                    HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| ClientError::BadHeader)?;
                request.headers_mut().insert("authorization", value);
            }
            Auth::Session { session, origin } => {
                let cookie = HeaderValue::from_str(&format!("samen_session={session}"))
                    .map_err(|_| ClientError::BadHeader)?;
                let origin = HeaderValue::from_str(origin).map_err(|_| ClientError::BadHeader)?;
                request.headers_mut().insert("cookie", cookie);
                request.headers_mut().insert("origin", origin);
            }
        }
        let (ws, _) = tokio_tungstenite::connect_async_with_config(request, None, true).await?;
        let doc = samen_crdt::schema::new_doc_with_client_id(options.client_id);
        let (out, out_rx) = mpsc::unbounded_channel();
        let (status_tx, status) = watch::channel(Status::default());
        let status_tx = Arc::new(status_tx);

        // Local edits go to the server as they are committed.
        {
            let out = out.clone();
            let status_tx = status_tx.clone();
            let remote = Origin::from(REMOTE);
            doc.observe_update_v1(
                "samen-client",
                move |txn: &TransactionMut, event: &yrs::UpdateEvent| {
                    if txn.origin() == Some(&remote) {
                        return;
                    }
                    if out
                        .send(Outgoing::Frame(protocol::encode_update(&event.update)))
                        .is_ok()
                    {
                        status_tx.send_modify(|s| s.sent += 1);
                    }
                },
            )
            .map_err(|_| ClientError::Timeout("document lock"))?;
        }

        let sv = doc.transact().state_vector().encode_v1();
        let _ = out.send(Outgoing::Frame(protocol::encode_sync_step1(&sv)));
        let local_awareness = Arc::new(std::sync::Mutex::new(None));
        let task = tokio::spawn(run(
            ws,
            doc.clone(),
            out.clone(),
            out_rx,
            status_tx.clone(),
            local_awareness.clone(),
        ));
        Ok(Client {
            doc,
            out,
            status,
            status_tx,
            local_awareness,
            task: Some(task),
        })
    }

    /// The client's document.
    pub fn doc(&self) -> &Doc {
        &self.doc
    }

    /// Makes a local edit; it is sent to the server when `f` returns.
    pub fn edit<R>(&self, f: impl FnOnce(&mut TransactionMut) -> R) -> R {
        let mut txn = self.doc.transact_mut();
        f(&mut txn)
    }

    /// The current connection status.
    pub fn status(&self) -> Status {
        self.status.borrow().clone()
    }

    /// Sets this client's presence state (JSON) and sends it.
    pub fn set_awareness(&self, json: &str) {
        let client = ClientId::from(self.doc.client_id());
        let clock = {
            let Ok(mut local) = self.local_awareness.lock() else {
                return;
            };
            let clock = local.as_ref().map_or(1, |(c, _)| c + 1);
            *local = Some((clock, json.to_owned()));
            clock
        };
        let _ = self.out.send(Outgoing::Frame(protocol::encode_awareness([(
            client, clock, json,
        )])));
    }

    /// Sends raw bytes as one binary frame (for tests of malformed input).
    pub fn send_raw(&self, frame: Vec<u8>) {
        let _ = self.out.send(Outgoing::Frame(frame));
    }

    /// Sends a text frame (which the protocol does not allow).
    pub fn send_text(&self, text: &str) {
        let _ = self.out.send(Outgoing::Text(text.to_owned()));
    }

    /// Waits until the status satisfies `pred`, or fails after `timeout`.
    pub async fn wait_for(
        &self,
        what: &'static str,
        timeout: Duration,
        pred: impl Fn(&Status) -> bool,
    ) -> Result<Status, ClientError> {
        let mut rx = self.status.clone();
        let result = tokio::time::timeout(timeout, async {
            loop {
                {
                    let s = rx.borrow_and_update();
                    if pred(&s) {
                        return Ok(s.clone());
                    }
                    if s.closed.is_some() {
                        return Err(ClientError::Closed(s.closed.clone()));
                    }
                }
                if rx.changed().await.is_err() {
                    return Err(ClientError::Closed(rx.borrow().closed.clone()));
                }
            }
        })
        .await;
        result.unwrap_or(Err(ClientError::Timeout(what)))
    }

    /// Waits for the initial sync.
    pub async fn synced(&self, timeout: Duration) -> Result<(), ClientError> {
        self.wait_for("sync", timeout, |s| s.synced).await.map(|_| ())
    }

    /// Waits until the server has acknowledged every update sent so far (needs `acks`).
    pub async fn durable(&self, timeout: Duration) -> Result<(), ClientError> {
        self.wait_for("acks", timeout, |s| s.acked >= s.sent)
            .await
            .map(|_| ())
    }

    /// Waits for the server to close the connection; returns its code and reason.
    pub async fn closed(&self, timeout: Duration) -> Result<(u16, String), ClientError> {
        let mut rx = self.status.clone();
        let result = tokio::time::timeout(timeout, rx.wait_for(|s| s.closed.is_some())).await;
        match result {
            Ok(Ok(s)) => Ok(s.closed.clone().unwrap_or((1006, String::new()))),
            Ok(Err(_)) => Ok(self
                .status
                .borrow()
                .closed
                .clone()
                .unwrap_or((1006, String::new()))),
            Err(_) => Err(ClientError::Timeout("close")),
        }
    }

    /// Closes the connection politely.
    pub async fn close(mut self) {
        let _ = self.out.send(Outgoing::Close);
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
    }

    /// Drops the connection without a close handshake (a crash or lost network).
    pub fn abort(self) {
        if let Some(task) = &self.task {
            task.abort();
        }
        self.status_tx
            .send_modify(|s| s.closed = Some((1006, "aborted".into())));
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn run(
    ws: Ws,
    doc: Doc,
    out: mpsc::UnboundedSender<Outgoing>,
    mut out_rx: mpsc::UnboundedReceiver<Outgoing>,
    status: Arc<watch::Sender<Status>>,
    local_awareness: Arc<std::sync::Mutex<Option<(u32, String)>>>,
) {
    let (mut sink, mut stream) = ws.split();
    let limits = Limits::default();
    let closed = loop {
        tokio::select! {
            msg = out_rx.recv() => {
                let result = match msg {
                    Some(Outgoing::Frame(frame)) => sink.send(Message::Binary(frame.into())).await,
                    Some(Outgoing::Text(text)) => sink.send(Message::Text(text.into())).await,
                    Some(Outgoing::Close) | None => {
                        let _ = sink.send(Message::Close(None)).await;
                        break (1000, "closed by client".to_owned());
                    }
                };
                if result.is_err() {
                    break (1006, "write failed".to_owned());
                }
            }
            msg = stream.next() => match msg {
                Some(Ok(Message::Binary(frame))) => {
                    handle(&frame, &doc, &out, &status, &limits, &local_awareness);
                }
                Some(Ok(Message::Close(frame))) => {
                    break frame.map_or((1005, String::new()), |CloseFrame { code, reason }| (code.into(), reason.to_string()));
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => break (1006, String::new()),
            }
        }
    };
    status.send_modify(|s| s.closed = Some(closed));
}

fn handle(
    frame: &[u8],
    doc: &Doc,
    out: &mpsc::UnboundedSender<Outgoing>,
    status: &watch::Sender<Status>,
    limits: &Limits,
    local_awareness: &std::sync::Mutex<Option<(u32, String)>>,
) {
    let Ok(msg) = protocol::decode_server_message(frame) else {
        return;
    };
    match msg {
        ServerMessage::SyncStep1(sv) => {
            if let Ok(sv) = StateVector::decode_v1(&sv) {
                let diff = doc.transact().encode_diff_v1(&sv);
                if out
                    .send(Outgoing::Frame(protocol::encode_sync_step2(&diff)))
                    .is_ok()
                {
                    status.send_modify(|s| s.sent += 1);
                }
            }
        }
        ServerMessage::SyncStep2(update) => {
            apply_remote(doc, &update);
            status.send_modify(|s| s.synced = true);
        }
        ServerMessage::Update(update) => {
            apply_remote(doc, &update);
            status.send_modify(|s| s.received += 1);
        }
        ServerMessage::Awareness(payload) => {
            if let Ok(entries) = parse_awareness_v1(&payload, limits) {
                status.send_modify(|s| {
                    for e in entries {
                        if e.json == "null" {
                            s.awareness.remove(&e.client);
                        } else {
                            s.awareness.insert(e.client, (e.clock, e.json));
                        }
                    }
                });
            }
        }
        ServerMessage::QueryAwareness => {
            if let Ok(local) = local_awareness.lock()
                && let Some((clock, json)) = local.as_ref()
            {
                let frame = protocol::encode_awareness([(doc.client_id().into(), *clock, json.as_str())]);
                let _ = out.send(Outgoing::Frame(frame));
            }
        }
        ServerMessage::PermissionDenied(reason) => status.send_modify(|s| s.denied = Some(reason)),
        ServerMessage::Ack(n) => status.send_modify(|s| s.acked = s.acked.max(n)),
        ServerMessage::Names(json) => status.send_modify(|s| s.names = Some(json)),
        ServerMessage::FilesChanged => status.send_modify(|s| s.files_changed += 1),
        ServerMessage::Other(_) => {}
    }
}

fn apply_remote(doc: &Doc, update: &[u8]) {
    // The server validated what it relays; a failure here would be a server bug, and the
    // client keeps going with what it has.
    if let Ok(update) = Update::decode_v1(update) {
        let mut txn = doc.transact_mut_with(REMOTE);
        let _ = txn.apply_update(update);
    }
}
