//! A small TCP load balancer for the tests of several nodes, as a real one in front of
//! them would be: each new connection goes to the next node in turn, and to the one after
//! it when that node does not answer (a killed node's port refuses), so the clients of a
//! dead node land on the others when they reconnect.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};

/// A running proxy; it stops when dropped.
pub struct Proxy {
    addr: String,
    nodes: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Listens on a free loopback port and spreads connections over `nodes` (`host:port`).
    pub async fn start(nodes: Vec<String>) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the proxy");
        let addr = listener.local_addr().expect("proxy address").to_string();
        let next = Arc::new(AtomicUsize::new(0));
        let nodes = Arc::new(Mutex::new(nodes));
        let shared = nodes.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let nodes = shared.lock().expect("nodes").clone();
                let next = next.clone();
                tokio::spawn(async move {
                    let first = next.fetch_add(1, Ordering::Relaxed);
                    for i in 0..nodes.len() {
                        let node = &nodes[(first + i) % nodes.len()];
                        if let Ok(mut upstream) = TcpStream::connect(node).await {
                            let _ = upstream.set_nodelay(true);
                            let _ = client.set_nodelay(true);
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                            return;
                        }
                    }
                });
            }
        });
        Proxy { addr, nodes, task }
    }

    /// Sends new connections to these nodes from now on (a restarted node has a new port).
    pub fn set_nodes(&self, nodes: Vec<String>) {
        *self.nodes.lock().expect("nodes") = nodes;
    }

    /// `host:port` it listens on.
    pub fn addr(&self) -> &str {
        &self.addr
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}
