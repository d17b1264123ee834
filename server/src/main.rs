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
#[allow(clippy::large_enum_variant)] // Parsed once at start: its size costs nothing.
enum Command {
    /// Run the server.
    Serve(ServeConfig),
    /// Manage institutions, users, roles and tokens.
    Admin(samen_server::cli::AdminArgs),
    /// Read a document's text (the server runs itself so, with limits; not for people).
    #[command(name = samen_server::files::reader::SUBCOMMAND, hide = true)]
    ReadText {
        /// The document's type.
        mime: String,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Command::ReadText { mime } = &cli.command {
        std::process::exit(samen_server::files::reader::child(mime));
    }
    tune_allocator();
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_env("SAMEN_LOG").unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .init();
    let workers = match &cli.command {
        Command::Serve(config) => config.worker_threads(),
        Command::Admin(_) | Command::ReadText { .. } => 1,
    };
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()?
        .block_on(run(cli))
}

/// Keeps glibc from holding on to large freed buffers. Each login hashes with a 19 MiB
/// argon2 buffer; by default glibc raises its mmap threshold after the first one is freed,
/// so later ones come from the heap and stay resident: an idle server kept ~70 MiB. With
/// a fixed threshold they are mapped and unmapped (~13 MiB idle, docs/performance.md).
/// A fixed threshold also fixes glibc's trim threshold, at 128 KiB by default, which had
/// the worker threads' heaps shrink and grow (`mprotect`) thousands of times a second
/// under load; 8 MiB keeps that rare.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn tune_allocator() {
    // SAFETY: mallopt only changes allocator parameters; it is called before any other
    // thread exists, and a refused setting (return 0) leaves the defaults in place.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 8 * 1024 * 1024);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_allocator() {}

async fn run(cli: Cli) -> anyhow::Result<()> {
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
        Command::ReadText { .. } => {}
    }
    Ok(())
}
