//! Test helpers that read like the people and things they model: a server, a client that
//! types in a section, a Node Yjs peer.

#![allow(dead_code)] // Not every test module uses every helper.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use samen_client::{Client, Options};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use yrs::types::xml::{XmlElementPrelim, XmlFragment, XmlOut, XmlTextPrelim};
use yrs::{GetString, Transact};

/// Generous bound for anything that should take milliseconds.
pub const WAIT: Duration = Duration::from_secs(10);

/// A fresh registration id.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A running `samen serve` process.
pub struct TestServer {
    child: Child,
    /// `host:port` it listens on.
    pub addr: String,
    /// Its data directory.
    pub data: PathBuf,
    args: Vec<String>,
    _tmp: Option<tempfile::TempDir>,
}

impl TestServer {
    /// Starts a server on a fresh temporary data directory.
    pub async fn start() -> TestServer {
        Self::start_with(&[]).await
    }

    /// Starts a server on a fresh temporary data directory with extra flags.
    pub async fn start_with(args: &[&str]) -> TestServer {
        let tmp = tempfile::tempdir().expect("temp dir");
        let mut server = Self::start_in(tmp.path(), args).await;
        server._tmp = Some(tmp);
        server
    }

    /// Starts a server on an existing data directory (a restart).
    pub async fn start_in(data: &Path, args: &[&str]) -> TestServer {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let (child, addr) = spawn(data, &args).await;
        TestServer {
            child,
            addr,
            data: data.to_owned(),
            args,
            _tmp: None,
        }
    }

    /// The WebSocket URL of a registration's document.
    pub fn ws_url(&self, id: &str) -> String {
        format!("ws://{}/sync/{id}", self.addr)
    }

    /// An HTTP URL on this server.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Connects a Rust client to a registration and waits for its first sync.
    pub async fn client(&self, id: &str) -> Client {
        self.client_with(
            id,
            Options {
                acks: true,
                ..Options::default()
            },
        )
        .await
    }

    /// Connects a Rust client with options and waits for its first sync.
    pub async fn client_with(&self, id: &str, options: Options) -> Client {
        let client = Client::connect(&self.ws_url(id), options).await.expect("connect");
        client.synced(WAIT).await.expect("synced");
        client
    }

    /// The `/metrics` text.
    pub async fn metrics(&self) -> String {
        reqwest::get(self.url("/metrics"))
            .await
            .expect("metrics")
            .text()
            .await
            .expect("body")
    }

    /// The value of one metric line (`name{labels}`), 0 if absent.
    pub async fn metric(&self, name: &str) -> f64 {
        let text = self.metrics().await;
        text.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0.0)
    }

    /// Kills the process without warning (SIGKILL), as a crash would.
    pub async fn kill9(&mut self) {
        self.child.start_kill().expect("kill");
        let _ = self.child.wait().await;
    }

    /// Asks the process to stop (SIGTERM) and waits for it; returns whether it exited 0.
    pub async fn stop(&mut self) -> bool {
        if let Some(pid) = self.child.id() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status()
                .await;
        }
        match tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await {
            Ok(Ok(status)) => status.success(),
            _ => false,
        }
    }

    /// Starts the server again on the same data directory and flags (after stop or kill).
    pub async fn restart(&mut self) {
        let (child, addr) = spawn(&self.data, &self.args).await;
        self.child = child;
        self.addr = addr;
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

async fn spawn(data: &Path, args: &[String]) -> (Child, String) {
    // SAMEN_TEST_GDB=1 runs the server under gdb, which prints a backtrace if it crashes.
    let mut command = if std::env::var_os("SAMEN_TEST_GDB").is_some() {
        let mut c = Command::new("gdb");
        c.args([
            "-q",
            "-batch",
            "-ex",
            "run",
            "-ex",
            "bt 30",
            "--args",
            env!("CARGO_BIN_EXE_samen"),
        ]);
        c
    } else {
        Command::new(env!("CARGO_BIN_EXE_samen"))
    };
    let mut child = command
        .arg("serve")
        .args(["--addr", "127.0.0.1:0", "--dev-no-auth"])
        .arg("--data")
        .arg(data)
        .args(args)
        .env(
            "SAMEN_LOG",
            std::env::var("SAMEN_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("start samen");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let addr = tokio::time::timeout(WAIT, async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(rest) = line.strip_prefix("Samen luistert op http://") {
                return rest.trim_end_matches('/').to_owned();
            }
        }
        panic!("samen exited before listening");
    })
    .await
    .expect("samen did not start in time");
    // Keep draining stdout so the process never blocks on a full pipe.
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            eprintln!("[samen] {line}");
        }
    });
    (child, addr)
}

/// Appends a paragraph with `text` to a section, as an editor would.
pub fn type_paragraph(client: &Client, section: &str, text: &str) {
    let fragment = client.doc().get_or_insert_xml_fragment(section);
    client.edit(|txn| {
        let paragraph = fragment.push_back(txn, XmlElementPrelim::empty("paragraph"));
        paragraph.push_back(txn, XmlTextPrelim::new(text));
    });
}

/// The texts of a section's paragraphs, in order.
pub fn paragraphs(doc: &yrs::Doc, section: &str) -> Vec<String> {
    let fragment = doc.get_or_insert_xml_fragment(section);
    let txn = doc.transact();
    fragment
        .children(&txn)
        .map(|child| match child {
            XmlOut::Element(el) => el
                .children(&txn)
                .map(|c| match c {
                    XmlOut::Text(t) => t.get_string(&txn),
                    _ => String::new(),
                })
                .collect::<String>(),
            _ => String::new(),
        })
        .collect()
}

/// Waits until `pred` holds for the client's document.
pub async fn eventually(what: &str, pred: impl Fn() -> bool) {
    let start = tokio::time::Instant::now();
    while !pred() {
        assert!(start.elapsed() < WAIT, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The Node peer's folder, with its `node_modules` installed by the test script.
pub fn node_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/node")
}
