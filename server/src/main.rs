//! The `samen` command: `samen serve` runs the server.

use clap::{Parser, Subcommand};
use samen_server::config::ServeConfig;
use tracing_subscriber::EnvFilter;

/// Samen: the collaboration dossier of a school and its CLB.
#[derive(Debug, Parser)]
#[command(name = "samen", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server.
    Serve(ServeConfig),
    /// Manage institutions, users, roles and tokens.
    Admin(samen_server::cli::AdminArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_env("SAMEN_LOG").unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(config) => {
            let demo = config.demo;
            samen_server::serve(
                config,
                |addr| {
                    // Tests and scripts read this line to find the port.
                    println!("Samen luistert op http://{addr}/");
                    if demo {
                        println!("Demomodus: open http://{addr}/ in je browser.");
                    }
                },
                samen_server::shutdown_signal(),
            )
            .await?;
        }
        Command::Admin(args) => {
            println!("{}", samen_server::cli::run(args).await?);
        }
    }
    Ok(())
}
