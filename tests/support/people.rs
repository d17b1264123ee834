//! The demo's people and what they do, so that a test says who does what:
//!
//! ```ignore
//! let sara = server.clb().await;
//! let tom = server.school_member("linde").await;
//! let reg = sara.creates_registration().await;
//! let editor = tom.opens(&reg).await;
//! let (status, body) = tom.post(reg.path("/snapshots"), json!({ "name": "Na overleg" })).await;
//! ```

use std::collections::BTreeMap;
use std::fmt;

use samen_client::{Auth, Client, Options};
use serde_json::{Value, json};

use super::{ADMIN, ANKER, As, CLB, LINDE, LSC, TestServer, WAIT};

/// `get`, `post`, `patch` and `delete` in terms of the caller's own `call`, so that a person
/// and a browser session make requests the same way.
macro_rules! verbs {
    () => {
        /// `GET path`; returns the status and the JSON body (`null` if none).
        pub async fn get(&self, path: impl AsRef<str>) -> (u16, Value) {
            self.call("GET", path, None).await
        }

        /// `POST path`, with a JSON body or `None`.
        pub async fn post(&self, path: impl AsRef<str>, body: impl Into<Option<Value>>) -> (u16, Value) {
            self.call("POST", path, body.into()).await
        }

        /// `PATCH path` with a JSON body.
        pub async fn patch(&self, path: impl AsRef<str>, body: Value) -> (u16, Value) {
            self.call("PATCH", path, Some(body)).await
        }

        /// `DELETE path`.
        pub async fn delete(&self, path: impl AsRef<str>) -> (u16, Value) {
            self.call("DELETE", path, None).await
        }
    };
}

/// A demo user with an API token of their own, made through the API as a user would, and
/// their user id, which is what authorship, mentions and `created_by` report.
pub struct Person<'s> {
    server: &'s TestServer,
    /// Their e-mail, which is also their login (password `demo`).
    pub email: &'static str,
    /// Who they are, for failure messages.
    role: &'static str,
    /// Their API token, for peers that take one on the command line or in a URL.
    pub token: String,
    /// Their user id.
    pub id: String,
}

impl TestServer {
    /// Sara Claes, CLB staff: she serves both demo schools, starts registrations and writes
    /// the advice.
    pub async fn clb(&self) -> Person<'_> {
        Person::meet(self, CLB, "CLB staff").await
    }

    /// A school member: `"linde"` is Tom Peeters of De Linde (100001), the school of every
    /// registration the tests create; `"anker"` is Nadia El Amrani of Het Anker (100002),
    /// who must see nothing of De Linde's.
    pub async fn school_member(&self, school: &str) -> Person<'_> {
        match school {
            "linde" => Person::meet(self, LINDE, "school member of De Linde").await,
            "anker" => Person::meet(self, ANKER, "school member of Het Anker").await,
            other => panic!("the demo has no school {other:?}, only \"linde\" and \"anker\""),
        }
    }

    /// Lotte Janssens, staff of LSC Demo, the learning-support centre serving both demo
    /// schools: she takes part in their meetings and never sees their registrations.
    pub async fn lsc(&self) -> Person<'_> {
        Person::meet(self, LSC, "LSC staff").await
    }

    /// The platform admin, who is no member of any school or CLB.
    pub async fn admin(&self) -> Person<'_> {
        Person::meet(self, ADMIN, "platform admin").await
    }
}

impl<'s> Person<'s> {
    async fn meet(server: &'s TestServer, email: &'static str, role: &'static str) -> Person<'s> {
        let session = Session::log_in(server, email).await;
        let (status, body) = session
            .post("/api/tokens", json!({ "name": "tests", "password": "demo" }))
            .await;
        assert_eq!(status, 201, "a token for {email}: {body}");
        let token = body["token"].as_str().expect("token").to_owned();
        let (status, me) = server.call("GET", "/api/me", As::Token(&token), None).await;
        assert_eq!(status, 200, "who is {email}: {me}");
        let id = me["user"]["id"].as_str().expect("user id").to_owned();
        Person {
            server,
            email,
            role,
            token,
            id,
        }
    }

    /// The server they work on.
    pub fn server(&self) -> &'s TestServer {
        self.server
    }

    /// The same person, with the same token, working on another node of the same database.
    pub fn on<'t>(&self, node: &'t TestServer) -> Person<'t> {
        Person {
            server: node,
            email: self.email,
            role: self.role,
            token: self.token.clone(),
            id: self.id.clone(),
        }
    }

    /// Starts a registration at De Linde (100001): a signal titled "Testregistratie" on
    /// bullying ("pesten"). Only CLB staff may.
    pub async fn creates_registration(&self) -> Reg {
        let (status, body) = self
            .post(
                "/api/schools/100001/registrations",
                json!({ "kind": "signal", "title": "Testregistratie", "theme": "pesten" }),
            )
            .await;
        assert_eq!(status, 201, "{self} creates a registration: {body}");
        Reg {
            id: body["id"].as_str().expect("id").to_owned(),
        }
    }

    /// Opens a registration's document in a Rust client that asks for durability acks,
    /// and waits for its first sync.
    pub async fn opens(&self, reg: &Reg) -> Client {
        self.opens_with(
            reg,
            Options {
                acks: true,
                ..Options::default()
            },
        )
        .await
    }

    /// As [`Person::opens`], with the client's own options (no acks, a chosen client id);
    /// the credentials are always this person's token.
    pub async fn opens_with(&self, reg: &Reg, options: Options) -> Client {
        let options = Options {
            auth: Auth::Bearer(self.token.clone()),
            ..options
        };
        let client = Client::connect(&self.server.ws_url(&reg.id), options)
            .await
            .unwrap_or_else(|e| panic!("{self} opens {reg}: {e}"));
        client
            .synced(WAIT)
            .await
            .unwrap_or_else(|e| panic!("{self} syncs {reg}: {e}"));
        client
    }

    /// Every section of a registration as plain text, as the server holds it now
    /// (`/content`).
    pub async fn reads_content(&self, reg: &Reg) -> BTreeMap<String, String> {
        let (status, body) = self.get(reg.path("/content")).await;
        assert_eq!(status, 200, "{self} reads the content of {reg}: {body}");
        serde_json::from_value(body["sections"].clone()).expect("sections as text")
    }

    /// The WebSocket URL of a document with this person's token in the query, for raw
    /// WebSocket peers that cannot send headers. `id` need not be a registration.
    pub fn sync_url(&self, id: &str) -> String {
        format!("{}?token={}", self.server.ws_url(id), self.token)
    }

    /// Logs in in a browser: a fresh session, apart from the token.
    pub async fn session(&self) -> Session<'s> {
        Session::log_in(self.server, self.email).await
    }

    /// Makes a REST call with their token; returns the status and the JSON body (`null` if
    /// none). The verbs below read better; this is for tables of calls.
    pub async fn call(&self, method: &str, path: impl AsRef<str>, body: Option<Value>) -> (u16, Value) {
        self.server
            .call(method, path.as_ref(), As::Token(&self.token), body)
            .await
    }

    /// Downloads a file with their token: the status, the content type, the content
    /// disposition and the bytes.
    pub async fn download(&self, path: impl AsRef<str>) -> Download {
        let response = reqwest::Client::new()
            .get(self.server.url(path.as_ref()))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("download");
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned()
        };
        let (status, kind, disposition) = (
            response.status().as_u16(),
            header("content-type"),
            header("content-disposition"),
        );
        let bytes = response.bytes().await.expect("bytes").to_vec();
        Download {
            status,
            kind,
            disposition,
            bytes,
        }
    }

    verbs!();
}

/// A downloaded file.
pub struct Download {
    /// HTTP status.
    pub status: u16,
    /// `content-type`.
    pub kind: String,
    /// `content-disposition`.
    pub disposition: String,
    /// The body.
    pub bytes: Vec<u8>,
}

impl fmt::Display for Person<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.email, self.role)
    }
}

/// A browser logged in as someone: the session cookie, and the Origin the browser sends
/// with it (which the server checks on writes and on `/sync`).
#[derive(Clone)]
pub struct Session<'s> {
    server: &'s TestServer,
    /// `samen_session=...`
    pub cookie: String,
    /// `http://host:port`
    pub origin: String,
}

impl<'s> Session<'s> {
    async fn log_in(server: &'s TestServer, email: &str) -> Session<'s> {
        // Not `call`: the cookie is in the headers, which `call` does not return.
        let response = reqwest::Client::new()
            .post(server.url("/api/login"))
            .json(&json!({ "email": email, "password": "demo" }))
            .send()
            .await
            .expect("login request");
        assert_eq!(response.status(), 200, "login of {email}");
        let cookie = session_cookie(&response).expect("session cookie");
        Session::with_cookie(server, cookie)
    }

    /// A browser holding this session cookie (`samen_session=...`), from a login the test
    /// made itself (with a second factor, say).
    pub fn with_cookie(server: &'s TestServer, cookie: String) -> Session<'s> {
        Session {
            server,
            cookie,
            origin: format!("http://{}", server.addr()),
        }
    }

    /// The same cookie sent from another site, as a forged cross-site request would be.
    pub fn sent_from(&self, origin: &str) -> Session<'s> {
        Session {
            origin: origin.to_owned(),
            ..self.clone()
        }
    }

    /// Makes a REST call with the cookie and Origin; returns the status and the JSON body
    /// (`null` if none).
    pub async fn call(&self, method: &str, path: impl AsRef<str>, body: Option<Value>) -> (u16, Value) {
        let headers = [("cookie", self.cookie.as_str()), ("origin", self.origin.as_str())];
        self.server.send(method, path.as_ref(), &headers, body).await
    }

    verbs!();
}

/// The `samen_session=...` cookie a login answer sets, if it sets one.
pub fn session_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.split(';').next().filter(|c| c.starts_with("samen_session=")))
        .map(str::to_owned)
}

/// A registration the tests created; shows as its id, so `format!("/sync/{reg}")` works.
#[derive(Debug, Clone)]
pub struct Reg {
    /// Its id (a UUID).
    pub id: String,
}

impl Reg {
    /// Its API path followed by `rest`: `reg.path("/comments")`, or `reg.path("")` for the
    /// registration itself.
    pub fn path(&self, rest: &str) -> String {
        format!("/api/registrations/{}{rest}", self.id)
    }
}

impl fmt::Display for Reg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id)
    }
}
