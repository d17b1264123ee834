//! What the benchmark examples share: a Samen server in this process.

use samen_server::config::ServeConfig;

/// Starts a server on a random loopback port with its data in `data`; returns its address,
/// the switch that stops it, and its task.
pub async fn start(
    data: &std::path::Path,
) -> (
    String,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    use clap::Parser;
    #[derive(Parser)]
    struct Args {
        #[command(flatten)]
        serve: ServeConfig,
    }
    let mut config = Args::parse_from(["bench", "--addr", "127.0.0.1:0"]).serve;
    config.data = data.to_owned();
    let (addr_tx, addr_rx) = tokio::sync::oneshot::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = samen_server::serve(
            config,
            move |addr| {
                let _ = addr_tx.send(addr);
            },
            async move {
                let _ = stop_rx.await;
            },
        )
        .await;
    });
    let addr = addr_rx.await.expect("server address");
    (addr.to_string(), stop_tx, task)
}
