//! The embedded browser app: served from the binary, with strict security headers, and
//! with app routes that survive a reload.

use crate::support::TestServer;

#[tokio::test]
async fn the_app_is_served_with_security_headers_and_client_routes() {
    let server = TestServer::start().await;
    for path in [
        "/",
        "/login",
        "/scholen/100001",
        "/registraties/6b0f3d0e-2f4a-4c41-9a61-0c6f1e0d0001",
    ] {
        let response = reqwest::get(server.url(path)).await.expect("get");
        assert_eq!(response.status(), 200, "{path}");
        let csp = response.headers()["content-security-policy"]
            .to_str()
            .expect("csp")
            .to_owned();
        assert!(
            csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
            "{csp}"
        );
        assert_eq!(response.headers()["x-content-type-options"], "nosniff");
        let body = response.text().await.expect("body");
        assert!(body.contains("<div id=\"app\">"), "{path} serves the app");
    }
    // Hashed assets are cacheable for good; unknown API paths stay JSON errors.
    let index = reqwest::get(server.url("/"))
        .await
        .expect("get")
        .text()
        .await
        .expect("body");
    let script = index
        .split("src=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("script tag");
    let asset = reqwest::get(server.url(script)).await.expect("asset");
    assert_eq!(asset.status(), 200);
    assert!(
        asset.headers()["cache-control"]
            .to_str()
            .expect("cache")
            .contains("immutable")
    );
    assert!(
        asset.headers()["content-type"]
            .to_str()
            .expect("type")
            .contains("javascript")
    );
    // Where people and tools look for an API, a JSON 404, never the app's page.
    for path in ["/api/nothing-here", "/api", "/openapi.json"] {
        let (status, body) = server
            .call("GET", path, crate::support::As::Anonymous, None)
            .await;
        assert_eq!(status, 404, "{path}");
        assert_eq!(body["error"]["code"], "not_found", "{path}");
    }
}
