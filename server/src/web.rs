//! The browser app, embedded in the binary (built from `web/` into `web/dist`, which is
//! committed so that a machine without Node runs the product). Unknown paths that are not
//! API routes get `index.html`, so the app's own routes survive a reload.

use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

#[derive(rust_embed::Embed)]
#[folder = "../web/dist"]
struct Assets;

/// The security headers of every app response: no framing, no sniffing, and scripts only
/// from this origin (user text can never run as code).
const CSP: &str = "default-src 'self'; script-src 'self'; connect-src 'self' ws: wss:; \
                   img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; \
                   base-uri 'none'; form-action 'self'";

/// Serves an embedded file, or `index.html` for app routes.
pub async fn serve(uri: Uri) -> Response {
    let path = uri.path().trim_start_matches('/');
    let (file, path) = match Assets::get(path) {
        Some(file) if !path.is_empty() => (file, path),
        _ => match Assets::get("index.html") {
            Some(file) => (file, "index.html"),
            None => {
                return (
                    StatusCode::NOT_FOUND,
                    "The web app is not built (web/dist is empty).",
                )
                    .into_response();
            }
        },
    };
    let mime = file.metadata.mimetype().to_owned();
    // Hashed asset names never change content: cache them for a year; index.html never.
    let cache = if path.starts_with("assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mut response = (StatusCode::OK, file.data).into_response();
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&mime) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    response
}
