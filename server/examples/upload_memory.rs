//! Peak memory while ten people upload a 25 MiB document each, all at once (issue 17):
//! uploads stream to disk, so memory must not grow with the bytes in flight.
//!
//!     cargo run --release -p samen-server --example upload_memory
//!
//! Prints one JSON line: resident memory before, its peak during the uploads (Linux's
//! VmHWM, reset just before them), and the bytes uploaded. The server runs in this process
//! (the uploaders are ten raw HTTP/1.1 writers of 64 KiB pieces: their own memory is ten
//! buffers).

mod common;

use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Uploads at once, and the size of each (just under the 25 MiB limit).
const UPLOADS: usize = 10;
const SIZE: usize = 25 * 1024 * 1024 - 1024;
const PIECE: usize = 64 * 1024;

/// A field of /proc/self/status, in KiB.
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| {
            l.strip_prefix(field)?
                .trim()
                .strip_suffix("kB")?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

/// Sends one upload of `SIZE` bytes (a PDF header, then this uploader's own filler, so that
/// no two are the same content) and returns the answer's status line.
async fn upload(addr: &str, token: &str, registration: &str, i: usize) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "POST /api/registrations/{registration}/files?name=bench-{i}.pdf HTTP/1.1\r\nHost: {addr}\r\n\
         Authorization: Bearer {token}\r\nContent-Type: application/pdf\r\nContent-Length: {SIZE}\r\n\
         Connection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("head");
    let mut piece = vec![b'0' + (i % 10) as u8; PIECE];
    piece[..9].copy_from_slice(b"%PDF-1.4\n");
    let mut sent = 0;
    while sent < SIZE {
        let n = PIECE.min(SIZE - sent);
        stream.write_all(&piece[..n]).await.expect("body");
        if sent == 0 {
            piece[..9].fill(b' ');
        }
        sent += n;
    }
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.expect("answer");
    String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or("")
        .to_owned()
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let world = common::world(dir.path(), "Uploads").await;
    let (addr, stop, task) = common::start(dir.path()).await;
    let registration = world.registration.id.to_string();
    let before = status_kib("VmRSS:");
    // Linux: "5" resets the peak resident size to the current one.
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let started = Instant::now();
    let uploads = (0..UPLOADS).map(|i| {
        let (addr, token, registration) = (addr.clone(), world.clb_token.clone(), registration.clone());
        tokio::spawn(async move { upload(&addr, &token, &registration, i).await })
    });
    let mut answers = Vec::new();
    for upload in uploads {
        answers.push(upload.await.expect("uploader"));
    }
    let seconds = started.elapsed().as_secs_f64();
    let peak = status_kib("VmHWM:");
    assert!(
        answers.iter().all(|a| a.contains(" 201 ")),
        "every upload is kept: {answers:?}"
    );
    let mib = |kib: u64| kib as f64 / 1024.0;
    let uploaded = (UPLOADS * SIZE) as f64 / (1024.0 * 1024.0);
    println!(
        "{{\"uploads\":{UPLOADS},\"mib_each\":{:.1},\"mib_uploaded\":{uploaded:.0},\"rss_before_mib\":{:.1},\
         \"peak_rss_mib\":{:.1},\"growth_mib\":{:.1},\"growth_per_uploaded_mib\":{:.3},\"peak_reset\":{reset},\
         \"seconds\":{seconds:.2}}}",
        SIZE as f64 / (1024.0 * 1024.0),
        mib(before),
        mib(peak),
        mib(peak.saturating_sub(before)),
        mib(peak.saturating_sub(before)) / uploaded,
    );
    let _ = stop.send(());
    let _ = task.await;
}
