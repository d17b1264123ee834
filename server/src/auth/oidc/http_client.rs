//! The HTTP client the provider is reached with: hyper over rustls with ring, the system's
//! root certificates, no redirects followed (the OpenID Connect specs forbid following them
//! on these endpoints), bounded in time and in the size of what it reads.
//!
//! Not reqwest: its rustls backend either builds aws-lc (a C and CMake build) or, without a
//! provider of its own, makes every other reqwest client in the workspace (the Rust client,
//! the tests) depend on a process-wide provider being installed first.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use openidconnect::{AsyncHttpClient, HttpRequest, HttpResponse};

/// The most of a provider's answer read (discovery, keys, tokens are a few KiB).
const MAX_BODY: usize = 1024 * 1024;
/// How long one request to the provider may take, answer included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// Why a request to the provider failed.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The connection or the request failed.
    #[error("{0}")]
    Request(#[from] hyper_util::client::legacy::Error),
    /// The answer could not be read, or was larger than [`MAX_BODY`].
    #[error("the provider's answer could not be read: {0}")]
    Body(String),
    /// The provider did not answer in time.
    #[error("the provider did not answer within {} s", REQUEST_TIMEOUT.as_secs())]
    Timeout,
    /// The request or answer could not be put together.
    #[error("{0}")]
    Http(#[from] openidconnect::http::Error),
}

/// A client for the provider.
#[derive(Clone)]
pub struct Http(Client<HttpsConnector<HttpConnector>, Full<Bytes>>);

impl Http {
    /// A client; fails only if the TLS stack cannot be set up.
    pub fn new() -> Result<Http, std::io::Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut tcp = HttpConnector::new();
        tcp.enforce_http(false);
        tcp.set_connect_timeout(Some(Duration::from_secs(5)));
        let https = match HttpsConnectorBuilder::new().with_provider_and_native_roots(provider.clone()) {
            Ok(builder) => builder,
            Err(err) => {
                // A machine without root certificates still reaches a provider over plain
                // HTTP (a local test provider); HTTPS then fails at the handshake, saying so.
                tracing::warn!(error = %err, "no root certificates found: HTTPS providers cannot be verified");
                let config = rustls::ClientConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()
                    .map_err(std::io::Error::other)?
                    .with_root_certificates(rustls::RootCertStore::empty())
                    .with_no_client_auth();
                HttpsConnectorBuilder::new().with_tls_config(config)
            }
        }
        .https_or_http()
        .enable_http1()
        .wrap_connector(tcp);
        Ok(Http(Client::builder(TokioExecutor::new()).build(https)))
    }

    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let (parts, body) = request.into_parts();
        let request = openidconnect::http::Request::from_parts(parts, Full::new(Bytes::from(body)));
        let exchange = async {
            let response = self.0.request(request).await?;
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, MAX_BODY)
                .collect()
                .await
                .map_err(|e| HttpError::Body(e.to_string()))?
                .to_bytes();
            Ok(HttpResponse::from_parts(parts, body.to_vec()))
        };
        tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .map_err(|_| HttpError::Timeout)?
    }
}

impl<'c> AsyncHttpClient<'c> for Http {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.send(request))
    }
}
