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

/// The demo users (password `demo`), as `serve --demo` creates them.
pub const CLB: &str = "clb@demo.test";
/// A school member of De Linde (100001).
pub const LINDE: &str = "linde@demo.test";
/// A school member of Het Anker (100002), which De Linde's registrations are hidden from.
pub const ANKER: &str = "anker@demo.test";
/// The platform admin.
pub const ADMIN: &str = "admin@demo.test";

/// A running `samen serve --demo` process.
pub struct TestServer {
    child: Child,
    /// `host:port` it listens on.
    pub addr: String,
    /// Its data directory.
    pub data: PathBuf,
    /// An API token of the CLB demo user.
    pub clb_token: String,
    args: Vec<String>,
    _tmp: Option<tempfile::TempDir>,
}

/// A logged-in browser session: its cookie and the Origin a browser would send.
#[derive(Debug, Clone)]
pub struct Session {
    /// `samen_session=...`
    pub cookie: String,
    /// `http://host:port`
    pub origin: String,
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
        let mut server = TestServer {
            child,
            addr,
            data: data.to_owned(),
            clb_token: String::new(),
            args,
            _tmp: None,
        };
        server.clb_token = server.token_for(CLB).await;
        server
    }

    /// The WebSocket URL of a registration's document, with the CLB user's token.
    pub fn ws_url(&self, id: &str) -> String {
        format!("ws://{}/sync/{id}?token={}", self.addr, self.clb_token)
    }

    /// The WebSocket URL of a registration's document, without credentials.
    pub fn ws_url_bare(&self, id: &str) -> String {
        format!("ws://{}/sync/{id}", self.addr)
    }

    /// Logs a demo user in (password `demo`).
    pub async fn login(&self, email: &str) -> Session {
        let response = reqwest::Client::new()
            .post(self.url("/api/login"))
            .json(&serde_json::json!({ "email": email, "password": "demo" }))
            .send()
            .await
            .expect("login request");
        assert_eq!(response.status(), 200, "login of {email}");
        let cookie = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| v.split(';').next().filter(|c| c.starts_with("samen_session=")))
            .expect("session cookie")
            .to_owned();
        Session {
            cookie,
            origin: format!("http://{}", self.addr),
        }
    }

    /// An API token for a demo user (made through the API, as a user would).
    pub async fn token_for(&self, email: &str) -> String {
        let session = self.login(email).await;
        let response = reqwest::Client::new()
            .post(self.url("/api/tokens"))
            .header("cookie", &session.cookie)
            .header("origin", &session.origin)
            .json(&serde_json::json!({ "name": "tests" }))
            .send()
            .await
            .expect("token request");
        assert_eq!(response.status(), 201);
        let body: serde_json::Value = response.json().await.expect("json");
        body["token"].as_str().expect("token").to_owned()
    }

    /// A new registration at De Linde (100001), started by the CLB user; returns its id.
    pub async fn new_registration(&self) -> String {
        let response = reqwest::Client::new()
            .post(self.url("/api/schools/100001/registrations"))
            .bearer_auth(&self.clb_token)
            .json(&serde_json::json!({ "kind": "signal", "title": "Testregistratie", "theme": "pesten" }))
            .send()
            .await
            .expect("create registration");
        assert_eq!(response.status(), 201);
        let body: serde_json::Value = response.json().await.expect("json");
        body["id"].as_str().expect("id").to_owned()
    }

    /// Connects a Rust client with an API token and waits for its first sync.
    pub async fn client_as(&self, id: &str, token: &str) -> Client {
        let options = Options {
            acks: true,
            auth: samen_client::Auth::Bearer(token.to_owned()),
            ..Options::default()
        };
        let client = Client::connect(&self.ws_url_bare(id), options)
            .await
            .expect("connect");
        client.synced(WAIT).await.expect("synced");
        client
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
        .args(["--addr", "127.0.0.1:0", "--demo"])
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
    let addr = announced(&mut child, "samen", "Samen luistert op http://").await;
    (child, addr.trim_end_matches('/').to_owned())
}

/// Waits for the line of a child process's (piped) stdout that starts with `prefix`, and
/// returns the rest of it: where the process says it listens. The process's later output
/// goes to stderr as `[name] ...`, so that it never blocks on a full pipe.
pub async fn announced(child: &mut Child, name: &str, prefix: &str) -> String {
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let rest = tokio::time::timeout(WAIT, async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(rest) = line.strip_prefix(prefix) {
                return rest.to_owned();
            }
        }
        panic!("{name} exited before listening");
    })
    .await
    .unwrap_or_else(|_| panic!("{name} did not start in time"));
    let name = name.to_owned();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            eprintln!("[{name}] {line}");
        }
    });
    rest
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

/// Who makes a request.
#[derive(Debug, Clone, Copy)]
pub enum As<'a> {
    /// Nobody logged in.
    Anonymous,
    /// An API token.
    Token(&'a str),
    /// A browser session, sending its Origin.
    Session(&'a Session),
}

impl TestServer {
    /// Makes a REST call; returns the status and the JSON body (`null` if none).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        who: As<'_>,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = reqwest::Client::new().request(method, self.url(path));
        request = match who {
            As::Anonymous => request,
            As::Token(token) => request.bearer_auth(token),
            As::Session(session) => request
                .header("cookie", &session.cookie)
                .header("origin", &session.origin),
        };
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
        )
    }

    /// The user id behind an API token.
    pub async fn user_id(&self, token: &str) -> String {
        let (_, me) = self.call("GET", "/api/me", As::Token(token), None).await;
        me["user"]["id"].as_str().expect("id").to_owned()
    }

    /// Opens `/sync/{id}` with raw headers; returns the HTTP status of the handshake
    /// (101 when upgraded).
    pub async fn ws_status(&self, id: &str, headers: &[(&str, &str)]) -> u16 {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = self.ws_url_bare(id).into_client_request().expect("request");
        for (name, value) in headers {
            request.headers_mut().insert(
                reqwest::header::HeaderName::from_bytes(name.as_bytes()).expect("header name"),
                value.parse().expect("header value"),
            );
        }
        match tokio_tungstenite::connect_async(request).await {
            Ok(_) => 101,
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
            Err(other) => panic!("websocket handshake failed: {other}"),
        }
    }

    /// Runs `samen admin …` on this server's database; returns stdout, or panics with
    /// stderr.
    pub async fn admin(&self, args: &[&str], env: &[(&str, &str)]) -> String {
        let output = Command::new(env!("CARGO_BIN_EXE_samen"))
            .arg("admin")
            .arg("--data")
            .arg(&self.data)
            .args(args)
            .envs(env.iter().copied())
            .env("SAMEN_LOG", "warn")
            .output()
            .await
            .expect("run samen admin");
        assert!(
            output.status.success(),
            "samen admin {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// Opens this server's database read-only (for checks of what is stored).
    pub async fn database(&self) -> sqlx::SqlitePool {
        let url = format!("sqlite://{}?mode=ro", self.data.join("samen.db").display());
        sqlx::SqlitePool::connect(&url).await.expect("open db")
    }
}
