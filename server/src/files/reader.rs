//! Reading a document's text in a child process: `samen read-text <type>` takes the content
//! on its standard input and writes the text (`files::text`) on its standard output. A PDF
//! or a ZIP is someone else's construction; a parser that loops, panics or unpacks a bomb
//! would take the server with it. The child has its own memory and CPU limits, the server
//! a wall-clock limit on it, and nothing it prints reaches a log.

use std::io::{Read, Write};
use std::process::Stdio;
use std::time::Duration;

use axum::body::Body;
use futures_util::StreamExt;
use thiserror::Error;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::FileKind;
use super::text::{self, MAX_TEXT_BYTES};

/// The hidden subcommand the server runs itself with.
pub const SUBCOMMAND: &str = "read-text";

/// The child's address space: a 25 MiB PDF parses in far less.
const MEMORY_BYTES: u64 = 1024 * 1024 * 1024;
/// The child's CPU time.
const CPU_SECONDS: u64 = 15;
/// How long the server waits for a child.
const WALL: Duration = Duration::from_secs(20);
/// The largest content the child reads (the upload limit is far below it).
const MAX_INPUT_BYTES: u64 = 1024 * 1024 * 1024;

/// The child's exit code when the document's text could not be read.
const UNREADABLE: i32 = 3;

/// Children reading at once on this node: each may take [`MEMORY_BYTES`].
static READERS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// What reading a document's text gave.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Its text (at most [`MAX_TEXT_BYTES`]).
    Text(String),
    /// No text came out: damaged, protected, a scan, or it took too long.
    Unreadable,
    /// An image: no text to read.
    NoText,
}

/// Why the server could not run a reader at all.
#[derive(Debug, Error)]
pub enum ReaderError {
    /// The child could not be started or spoken to.
    #[error("could not run the text reader: {0}")]
    Io(#[from] std::io::Error),
}

/// Reads the text of `content`, a document of `kind`, in a child process.
pub async fn read(kind: FileKind, content: Body) -> Result<Outcome, ReaderError> {
    if !kind.has_text() {
        return Ok(Outcome::NoText);
    }
    let _turn = READERS.acquire().await.map_err(std::io::Error::other)?;
    // /proc/self/exe is this very binary even after an upgrade replaced the file on disk.
    let program = if cfg!(target_os = "linux") {
        std::path::PathBuf::from("/proc/self/exe")
    } else {
        std::env::current_exe()?
    };
    let mut child = tokio::process::Command::new(program)
        .arg(SUBCOMMAND)
        .arg(kind.mime())
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let (Some(mut stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return Err(std::io::Error::other("the reader's pipes are missing").into());
    };
    let feed = async move {
        let mut stream = content.into_data_stream();
        while let Some(Ok(chunk)) = stream.next().await {
            // The child may stop reading (it exits on a bad document): that is its answer.
            if stdin.write_all(&chunk).await.is_err() {
                break;
            }
        }
        drop(stdin);
    };
    let collect = async move {
        let mut out = Vec::new();
        let read = stdout.take(MAX_TEXT_BYTES as u64 + 4).read_to_end(&mut out).await;
        read.map(|_| out)
    };
    let run = async {
        let ((), out, status) = tokio::join!(feed, collect, child.wait());
        Ok::<_, std::io::Error>((out?, status?))
    };
    match tokio::time::timeout(WALL, run).await {
        Ok(Ok((out, status))) if status.success() => {
            Ok(Outcome::Text(String::from_utf8_lossy(&out).into_owned()))
        }
        Ok(Ok(_)) => Ok(Outcome::Unreadable),
        Ok(Err(err)) => Err(err.into()),
        // Dropping the child kills it.
        Err(_) => Ok(Outcome::Unreadable),
    }
}

/// The child's side: limits itself, reads a document of type `mime` from standard input
/// and writes its text; the process's exit code.
pub fn child(mime: &str) -> i32 {
    limit_resources();
    // A parser's panic message may quote the document: say nothing.
    std::panic::set_hook(Box::new(|_| {}));
    let Some(kind) = FileKind::from_mime(mime) else {
        return 2;
    };
    let mut content = Vec::new();
    if std::io::stdin()
        .lock()
        .take(MAX_INPUT_BYTES)
        .read_to_end(&mut content)
        .is_err()
    {
        return 2;
    }
    match std::panic::catch_unwind(|| text::extract(kind, &content)) {
        Ok(Ok(text)) => {
            let mut out = std::io::stdout().lock();
            match out
                .write_all(text.unwrap_or_default().as_bytes())
                .and_then(|()| out.flush())
            {
                Ok(()) => 0,
                Err(_) => 2,
            }
        }
        Ok(Err(_)) | Err(_) => UNREADABLE,
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn limit_resources() {
    let limit = |value: u64| libc::rlimit {
        rlim_cur: value,
        rlim_max: value,
    };
    // SAFETY: setrlimit only lowers this process's own limits; a refusal leaves them as
    // they were (the server's wall-clock limit still holds).
    unsafe {
        libc::setrlimit(libc::RLIMIT_AS, &limit(MEMORY_BYTES));
        libc::setrlimit(libc::RLIMIT_CPU, &limit(CPU_SECONDS));
        libc::setrlimit(libc::RLIMIT_CORE, &limit(0));
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_resources() {}
