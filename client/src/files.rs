//! Documents over Samen's REST API: upload a file to a place (a school's documents, a
//! registration's attachments, a school and LSC's documents), add a version, download one.
//! Uploads send the file as the request body with its name in `?name=`, as the API takes
//! them; the server decides the type by the content.

use serde_json::Value;
use thiserror::Error;

/// Why a documents call failed.
#[derive(Debug, Error)]
pub enum FilesError {
    /// The request did not reach the server or its answer was cut off.
    #[error("request: {0}")]
    Request(#[from] reqwest::Error),
    /// The server refused it: status, error code and message (`unsupported_type`,
    /// `too_large`, `not_found`, …).
    #[error("{status} {code}: {message}")]
    Refused {
        status: u16,
        code: String,
        message: String,
    },
}

/// A Samen server at `base` (`http://host:port`), called with an API token.
pub struct Files {
    base: String,
    token: String,
    http: reqwest::Client,
}

/// A downloaded version of a file.
pub struct Downloaded {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// Its type, as the server told it.
    pub content_type: String,
    /// Its `Content-Disposition` (an attachment with the file's name).
    pub disposition: String,
}

async fn refused(response: reqwest::Response) -> FilesError {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    FilesError::Refused {
        status,
        code: body["error"]["code"].as_str().unwrap_or("").to_owned(),
        message: body["error"]["message"].as_str().unwrap_or("").to_owned(),
    }
}

impl Files {
    /// Calls the server at `base` with `token` (`samen_…`).
    pub fn new(base: &str, token: &str) -> Self {
        Files {
            base: base.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
            http: reqwest::Client::new(),
        }
    }

    async fn send(
        &self,
        path: &str,
        name: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> Result<Value, FilesError> {
        let name = percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC);
        let response = self
            .http
            .post(format!("{}{path}?name={name}", self.base))
            .bearer_auth(&self.token)
            .header("content-type", content_type)
            .body(bytes)
            .send()
            .await?;
        if response.status().as_u16() != 201 {
            return Err(refused(response).await);
        }
        Ok(response.json().await?)
    }

    /// Uploads a file to a place (`/api/schools/{number}/files`, `/api/registrations/{id}/files`,
    /// `/api/agreements/{id}/files`); the stored file with its versions.
    pub async fn upload(
        &self,
        place: &str,
        name: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> Result<Value, FilesError> {
        self.send(place, name, content_type, bytes).await
    }

    /// Uploads a new version of file `id`; the file with the new version first.
    pub async fn add_version(
        &self,
        id: &str,
        name: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> Result<Value, FilesError> {
        self.send(&format!("/api/files/{id}/versions"), name, content_type, bytes)
            .await
    }

    /// Downloads file `id`: its newest version, or `version`.
    pub async fn download(&self, id: &str, version: Option<&str>) -> Result<Downloaded, FilesError> {
        let query = version.map(|v| format!("?version={v}")).unwrap_or_default();
        let response = self
            .http
            .get(format!("{}/api/files/{id}/content{query}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await?;
        if response.status().as_u16() != 200 {
            return Err(refused(response).await);
        }
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned()
        };
        let (content_type, disposition) = (header("content-type"), header("content-disposition"));
        Ok(Downloaded {
            bytes: response.bytes().await?.to_vec(),
            content_type,
            disposition,
        })
    }
}
