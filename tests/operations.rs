//! What operators and load balancers rely on: health, readiness.

use crate::support::TestServer;

#[tokio::test]
async fn readiness_says_ready_once_the_database_holds_the_schema() {
    let server = TestServer::start().await;
    let answer = reqwest::get(server.url("/readyz")).await.expect("readyz");
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.text().await.expect("body"), "ready");
    let health = reqwest::get(server.url("/healthz")).await.expect("healthz");
    assert_eq!(health.text().await.expect("body"), "ok");
}
