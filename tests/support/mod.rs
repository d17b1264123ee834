//! Test helpers that read like the people and things they model: a server, the people who
//! use it (`people.rs`), a client that types in a section, a Node Yjs peer.

#![allow(dead_code)] // Not every test module uses every helper.

mod people;
mod proxy;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::LazyLock;
use std::sync::Mutex as StdMutex;
use std::time::Duration;

use samen_client::Client;
use samen_crdt::Section;
use samen_server::testing::Engine;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::Mutex;
use yrs::types::xml::{XmlElementPrelim, XmlFragment, XmlOut, XmlTextPrelim};
use yrs::{GetString, Transact};

pub use people::{Person, Reg, Session, session_cookie};
pub use proxy::Proxy;

/// Root names of the sections a CLB user may write: every one (DESIGN.md).
pub static CLB_SECTIONS: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| Section::ALL.iter().map(|s| s.root_name()).collect());

/// Root names of the sections a school member may write.
pub static SCHOOL_SECTIONS: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    Section::ALL
        .iter()
        .filter(|s| s.school_may_write())
        .map(|s| s.root_name())
        .collect()
});

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
/// Staff of "LSC Demo" (800001), the learning-support centre serving both demo schools.
pub const LSC: &str = "lsc@demo.test";
/// The metrics token every test server gets (`SAMEN_METRICS_TOKEN`), so `/metrics` is
/// served on its main address.
pub const METRICS_TOKEN: &str = "test-metrics-token-0123456789";

/// A running `samen serve --demo` process.
///
/// Stopping, killing and restarting it need only `&self`: the people met on it borrow it,
/// and they carry on after a restart, as their tokens do.
pub struct TestServer {
    child: Mutex<Child>,
    /// `host:port`; a restart listens on a new port.
    addr: StdMutex<String>,
    /// Its data directory.
    pub data: PathBuf,
    args: Vec<String>,
    /// A command the server is started through (`sh -c …`), empty for none.
    launcher: Vec<String>,
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
        Self::start_launched(data, args, &[]).await
    }

    /// Starts a server on an existing data directory through `launcher`, a command that
    /// ends by running its arguments in its own process (`sh -c '…; exec "$@"' sh`), so
    /// that the process keeps the launcher's signal dispositions and pid.
    pub async fn start_launched(data: &Path, args: &[&str], launcher: &[&str]) -> TestServer {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let launcher: Vec<String> = launcher.iter().map(|s| s.to_string()).collect();
        let (child, addr) = spawn(data, &args, &launcher).await;
        TestServer {
            child: Mutex::new(child),
            addr: StdMutex::new(addr),
            data: data.to_owned(),
            args,
            launcher,
            _tmp: None,
        }
    }

    /// A second node beside this one: another `samen serve` process with a data directory
    /// of its own and the same PostgreSQL database (several nodes need PostgreSQL).
    pub async fn beside(&self) -> TestServer {
        let url = database_url(&self.data)
            .await
            .expect("several nodes share a PostgreSQL database");
        let tmp = tempfile::tempdir().expect("temp dir");
        std::fs::write(tmp.path().join("test-database-url"), url).expect("keep the database URL");
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        let mut node = Self::start_in(tmp.path(), &args).await;
        node._tmp = Some(tmp);
        node
    }

    /// The server's process id, while it runs.
    pub async fn pid(&self) -> Option<u32> {
        self.child.lock().await.id()
    }

    /// `host:port` it listens on now.
    pub fn addr(&self) -> String {
        self.addr.lock().expect("address").clone()
    }

    /// The WebSocket URL of a registration's document, without credentials.
    pub fn ws_url(&self, id: &str) -> String {
        format!("ws://{}/sync/{id}", self.addr())
    }

    /// An HTTP URL on this server.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr())
    }

    /// The `/metrics` text.
    pub async fn metrics(&self) -> String {
        reqwest::Client::new()
            .get(self.url("/metrics"))
            .bearer_auth(METRICS_TOKEN)
            .send()
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
    pub async fn kill9(&self) {
        let mut child = self.child.lock().await;
        child.start_kill().expect("kill");
        let _ = child.wait().await;
    }

    /// Asks the process to stop (SIGTERM) and waits for it; returns whether it exited 0.
    pub async fn stop(&self) -> bool {
        let mut child = self.child.lock().await;
        if let Some(pid) = child.id() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status()
                .await;
        }
        match tokio::time::timeout(Duration::from_secs(30), child.wait()).await {
            Ok(Ok(status)) => status.success(),
            _ => false,
        }
    }

    /// Starts the server again on the same data directory and flags (after stop or kill).
    pub async fn restart(&self) {
        let (child, addr) = spawn(&self.data, &self.args, &self.launcher).await;
        *self.child.lock().await = child;
        *self.addr.lock().expect("address") = addr;
    }

    /// Whether the process is still running.
    pub async fn is_running(&self) -> bool {
        matches!(self.child.lock().await.try_wait(), Ok(None))
    }

    /// Starts `samen serve --demo` on this server's data directory (while it is stopped)
    /// with extra flags, expecting it to refuse: returns what it wrote to stderr.
    pub async fn refused_start(&self, args: &[&str]) -> String {
        let mut command = Command::new(env!("CARGO_BIN_EXE_samen"));
        if let Some(url) = database_url(&self.data).await {
            command.env("SAMEN_DATABASE_URL", url);
        }
        let output = tokio::time::timeout(
            WAIT,
            command
                .arg("serve")
                .args(["--addr", "127.0.0.1:0", "--demo"])
                .arg("--data")
                .arg(&self.data)
                .args(args)
                .env("SAMEN_LOG", "warn")
                .kill_on_drop(true)
                .output(),
        )
        .await
        .expect("samen should refuse at once, not run")
        .expect("run samen");
        assert!(
            !output.status.success(),
            "samen started: {}",
            String::from_utf8_lossy(&output.stdout)
        );
        String::from_utf8_lossy(&output.stderr).into_owned()
    }
}

async fn spawn(data: &Path, args: &[String], launcher: &[String]) -> (Child, String) {
    // SAMEN_TEST_GDB=1 runs the server under gdb, which prints a backtrace if it crashes.
    let mut command = if let Some((program, launcher_args)) = launcher.split_first() {
        let mut c = Command::new(program);
        c.args(launcher_args).arg(env!("CARGO_BIN_EXE_samen"));
        c
    } else if std::env::var_os("SAMEN_TEST_GDB").is_some() {
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
    if let Some(url) = database_url(data).await {
        command.env("SAMEN_DATABASE_URL", url);
    }
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
        .env("SAMEN_METRICS_TOKEN", METRICS_TOKEN)
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

/// Runs a poppler tool (`args`, the PDF, then `after`); its standard output. poppler-utils
/// is installed by scripts/test.
pub fn poppler(tool: &str, args: &[&str], pdf: &Path, after: &[&std::ffi::OsStr]) -> String {
    let out = std::process::Command::new(tool)
        .args(args)
        .arg(pdf)
        .args(after)
        .output()
        .unwrap_or_else(|e| panic!("{tool} (poppler-utils, installed by scripts/test): {e}"));
    assert!(
        out.status.success(),
        "{tool}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Keeps a PDF in `target/screenshots/<name>.pdf` with its first page as `<name>.png`, and
/// returns its text (`pdftotext -layout`).
pub fn keep_pdf(name: &str, bytes: &[u8]) -> String {
    assert!(
        bytes.starts_with(b"%PDF-"),
        "a PDF: {:?}",
        &bytes[..bytes.len().min(40)]
    );
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots");
    std::fs::create_dir_all(&shots).expect("screenshots dir");
    let pdf = shots.join(format!("{name}.pdf"));
    std::fs::write(&pdf, bytes).expect("pdf");
    let page = shots.join(name);
    poppler(
        "pdftoppm",
        &["-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile"],
        &pdf,
        &[page.as_os_str()],
    );
    let png = std::fs::read(page.with_extension("png")).expect("the first page as PNG");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "a page with text: {} bytes",
        png.len()
    );
    poppler("pdftotext", &["-layout"], &pdf, &["-".as_ref()])
}

/// Waits until `pred` holds for the client's document.
pub async fn eventually(what: &str, pred: impl Fn() -> bool) {
    let start = tokio::time::Instant::now();
    while !pred() {
        assert!(start.elapsed() < WAIT, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The seed of a randomized test: `SAMEN_TEST_SEED` when set (to replay a run), else a
/// fresh one. It is printed first thing, so that the output of any failure says how to
/// replay it; tests also put it in their assertion messages.
pub fn test_seed(test: &str) -> u64 {
    let seed = match std::env::var("SAMEN_TEST_SEED") {
        Ok(s) => s
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("SAMEN_TEST_SEED={s:?} is not a u64")),
        Err(_) => fastrand::u64(..),
    };
    eprintln!(
        "{test}: seed {seed} (replay: SAMEN_TEST_SEED={seed} cargo nextest run -p samen-server \
         --test integration {test})"
    );
    seed
}

/// Every section's plain text as `/content` renders it, from a client's document.
pub fn sections_of(doc: &yrs::Doc) -> BTreeMap<String, String> {
    samen_crdt::text::plain_text(doc)
        .into_iter()
        .map(|(section, text)| (section.to_owned(), text))
        .collect()
}

/// The Node peer's folder, with its `node_modules` installed by the test script.
pub fn node_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/node")
}

/// What a raw call answered: its status, `Retry-After`, JSON body (`null` if none) and the
/// session cookie it set, if any (for tests about logging in).
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// `Retry-After`, in seconds.
    pub retry_after: Option<u64>,
    /// The JSON body.
    pub body: serde_json::Value,
    /// `samen_session=...`, if the answer set it.
    pub cookie: Option<String>,
}

impl Answer {
    /// Reads a response.
    pub async fn read(response: reqwest::Response) -> Answer {
        let status = response.status().as_u16();
        let cookie = session_cookie(&response);
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let body = response.json().await.unwrap_or(serde_json::Value::Null);
        Answer {
            status,
            retry_after,
            body,
            cookie,
        }
    }

    /// The error code of an error answer (`""` otherwise).
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }
}

/// Who makes a raw call. People make their calls themselves (`tom.get(..)`); this is for
/// nobody logged in, for a token that belongs to no [`Person`] (one made with `samen admin
/// token`), and for tests about the calls themselves, such as the permission matrix.
#[derive(Clone, Copy)]
pub enum As<'a> {
    /// Nobody logged in.
    Anonymous,
    /// An API token.
    Token(&'a str),
    /// A browser session (its cookie and Origin), where only a session will do.
    Session(&'a Session<'a>),
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
        match who {
            As::Anonymous => self.send(method, path, &[], body).await,
            As::Token(token) => {
                let bearer = format!("Bearer {token}");
                self.send(method, path, &[("authorization", &bearer)], body).await
            }
            As::Session(session) => session.call(method, path, body).await,
        }
    }

    /// Makes a REST call with these headers; the one way every caller's request is sent.
    async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = reqwest::Client::new().request(method, self.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
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

    /// Opens `/sync/{id}` with raw headers; returns the HTTP status of the handshake
    /// (101 when upgraded).
    pub async fn ws_status(&self, id: &str, headers: &[(&str, &str)]) -> u16 {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = self.ws_url(id).into_client_request().expect("request");
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

    /// The school (or CLB) takes `role` on institution `number` away from `person`, as its
    /// user management would.
    pub async fn withdraws_role(&self, person: &Person<'_>, role: &str, number: &str) {
        self.role_command("revoke", person, role, number).await;
    }

    /// The school (or CLB) gives `person` the `role` on institution `number`.
    pub async fn grants_role(&self, person: &Person<'_>, role: &str, number: &str) {
        self.role_command("grant", person, role, number).await;
    }

    async fn role_command(&self, verb: &str, person: &Person<'_>, role: &str, number: &str) {
        let args = [
            verb,
            "--email",
            person.email,
            "--role",
            role,
            "--institution",
            number,
        ];
        self.admin_command(&args, &[]).await;
    }

    /// Runs `samen admin …` on this server's database; returns stdout, or panics with
    /// stderr. (`admin()` is the admin as a person, in `people.rs`.)
    pub async fn admin_command(&self, args: &[&str], env: &[(&str, &str)]) -> String {
        let output = self.run_admin(args, env).await;
        assert!(
            output.status.success(),
            "samen admin {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// Runs `samen admin …` that is expected to fail; returns its stderr, or panics if it
    /// succeeded.
    pub async fn admin_command_fails(&self, args: &[&str], env: &[(&str, &str)]) -> String {
        let output = self.run_admin(args, env).await;
        assert!(
            !output.status.success(),
            "samen admin {args:?} succeeded: {}",
            String::from_utf8_lossy(&output.stdout)
        );
        String::from_utf8_lossy(&output.stderr).trim().to_owned()
    }

    async fn run_admin(&self, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_samen"));
        if let Some(url) = database_url(&self.data).await {
            command.env("SAMEN_DATABASE_URL", url);
        }
        command
            .arg("admin")
            .arg("--data")
            .arg(&self.data)
            .args(args)
            .envs(env.iter().copied())
            .env("SAMEN_LOG", "warn")
            .output()
            .await
            .expect("run samen admin")
    }

    /// The audit entries `samen admin audit` prints for these filters, as JSON.
    pub async fn audit_log(&self, filters: &[&str]) -> Vec<serde_json::Value> {
        let mut args = vec!["audit"];
        args.extend_from_slice(filters);
        self.admin_command(&args, &[])
            .await
            .lines()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("a JSON line: {e}: {line}")))
            .collect()
    }

    /// Everything the database holds, as bytes: SQLite's files, or PostgreSQL's `pg_dump`.
    pub async fn database_bytes(&self) -> Vec<u8> {
        match database_url(&self.data).await {
            None => ["samen.db", "samen.db-wal"]
                .iter()
                .flat_map(|name| std::fs::read(self.data.join(name)).unwrap_or_default())
                .collect(),
            Some(url) => {
                let out = Command::new(pg_program("pg_dump"))
                    .arg(&url)
                    .output()
                    .await
                    .expect("pg_dump");
                assert!(
                    out.status.success(),
                    "pg_dump: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                out.stdout
            }
        }
    }

    /// Opens this server's database through the product's seam (the document store and
    /// the relational data), on whichever engine the tests run, for checks of what is stored.
    pub async fn database(&self) -> Database {
        let url = database_url(&self.data).await;
        let (store, db) = samen_server::open_database(&self.data, url.as_deref())
            .await
            .expect("open the database");
        Database { store, db }
    }
}

/// A server's data, as the product's storage seam reads it.
pub struct Database {
    /// The document store.
    pub store: samen_server::storage::Store,
    /// The relational data.
    pub db: samen_server::db::Db,
}

impl Database {
    /// Audit rows of `action`s starting with `prefix`, oldest first.
    pub async fn audit(&self, prefix: &str) -> Vec<samen_server::db::AuditRow> {
        let rows = self
            .db
            .audit_rows(&samen_server::db::AuditFilter::default())
            .await
            .expect("audit rows");
        rows.into_iter()
            .filter(|r| r.action.starts_with(prefix))
            .collect()
    }

    /// The stored document of a registration.
    pub async fn document(&self, id: &str) -> samen_server::storage::StoredDoc {
        self.store
            .load(id.parse().expect("a registration id"))
            .await
            .expect("load the document")
    }
}

/// The engine the integration tests run on: PostgreSQL when `SAMEN_TEST_ENGINE=postgres`
/// (scripts/test runs this suite once per engine), SQLite otherwise.
pub fn engine() -> Engine {
    match std::env::var("SAMEN_TEST_ENGINE").as_deref() {
        Ok("postgres") => Engine::Postgres,
        Ok("sqlite") | Err(_) => Engine::Sqlite,
        Ok(other) => panic!("SAMEN_TEST_ENGINE={other}: expected sqlite or postgres"),
    }
}

/// The database URL of a server's data directory: none on SQLite (`samen.db` in the
/// directory); on PostgreSQL a fresh database, made the first time and kept in the
/// directory, so that a restart, `samen admin` and the checks find the same one.
pub async fn database_url(data: &Path) -> Option<String> {
    if engine() == Engine::Sqlite {
        return None;
    }
    let file = data.join("test-database-url");
    if let Ok(url) = std::fs::read_to_string(&file) {
        return Some(url);
    }
    let url = samen_server::testing::fresh_postgres_database().await;
    std::fs::create_dir_all(data).expect("data directory");
    std::fs::write(&file, &url).expect("keep the database URL");
    Some(url)
}

/// A program of Debian's PostgreSQL package (not always on the PATH).
pub fn pg_program(name: &str) -> PathBuf {
    std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL's programs")
        .filter_map(|d| d.ok())
        .map(|d| d.path().join("bin").join(name))
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("{name} from Debian's postgresql package"))
}
