//! Proof under faults: the disk fills up while people type.
//!
//! The server's data directory is a small filesystem this test makes (a tmpfs; the tests
//! run as root), or, where mounting is not allowed, the server runs under a file-size limit
//! (RLIMIT_FSIZE, with SIGXFSZ ignored so that a write beyond it fails instead of killing
//! the process). The test never skips: it fails when it can make neither.
//! `SAMEN_TEST_DISK=fsize` takes the second way on purpose.
//!
//! Two people type until the server cannot store their edits, then: the edit that could
//! not be stored is not acknowledged and its connection is closed (reconnect later), the
//! server keeps running and serving reads, an HTTP write gets 503 `storage_unavailable`, nothing
//! acknowledged is missing; clients that reconnect while the disk is still full are
//! refused the same way. Once space returns, without a restart, the edits the clients still
//! hold are resent and stored, new edits are acknowledged, and every client equals the
//! server's `/content`, also after a restart.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use samen_client::{Client, ClientError};
use serde_json::json;
use tokio::process::Command;
use yrs::updates::decoder::Decode;
use yrs::{ReadTxn, StateVector, Transact, Update};

use crate::support::{Person, Reg, TestServer, WAIT, sections_of, type_paragraph};

/// The tmpfs: room for the demo database and some editing, small enough to fill at once.
const TMPFS_SIZE: &str = "size=64m";
/// Space left when the disk is "filled": room for a few hundred edits, so that the log
/// grows, SQLite checkpoints its write-ahead log into the database file (which then has to
/// grow too) and runs out in the middle of that, not at the first write.
const SLACK: u64 = 6 << 20;
/// Edits one person makes at most before the disk must have run out.
const MAX_EDITS: usize = 3000;
/// How long an edit may wait for its acknowledgement while space remains.
const ACK_WAIT: Duration = Duration::from_secs(5);

/// How the test takes the space away.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Limit {
    /// The data directory is a tmpfs that a filler file fills to the last page.
    Tmpfs,
    /// The server may not write a file beyond the size its files have now (RLIMIT_FSIZE).
    FileSize,
}

/// A data directory whose space the test controls; unmounted when dropped.
struct SmallDisk {
    dir: PathBuf,
    limit: Limit,
    _tmp: tempfile::TempDir,
}

impl SmallDisk {
    async fn new() -> SmallDisk {
        let tmp = tempfile::tempdir().expect("temp dir");
        let dir = tmp.path().join("data");
        std::fs::create_dir(&dir).expect("mount point");
        let by_choice = std::env::var("SAMEN_TEST_DISK").is_ok_and(|v| v == "fsize");
        let limit =
            if !by_choice && command_ok("mount", &["-t", "tmpfs", "-o", TMPFS_SIZE, "tmpfs"], &dir).await {
                Limit::Tmpfs
            } else {
                // Not skipped: the same test, with a file-size limit instead of a full disk.
                Limit::FileSize
            };
        eprintln!("disk_full: the disk fills up by {limit:?}");
        SmallDisk {
            dir,
            limit,
            _tmp: tmp,
        }
    }

    /// Starts the server on this directory (through a shell that ignores SIGXFSZ, for the
    /// file-size limit: ignored dispositions survive `exec`).
    async fn start_server(&self) -> TestServer {
        let launcher: &[&str] = match self.limit {
            Limit::Tmpfs => &[],
            Limit::FileSize => &["sh", "-c", "trap '' XFSZ; exec \"$@\"", "sh"],
        };
        TestServer::start_launched(&self.dir, &[], launcher).await
    }

    /// Takes away all free space but [`SLACK`].
    async fn fill(&self, server: &TestServer) {
        match self.limit {
            Limit::Tmpfs => {
                let filler = self.dir.join("filler");
                tokio::task::spawn_blocking(move || fill_file(&filler, SLACK))
                    .await
                    .expect("filler");
            }
            Limit::FileSize => {
                let biggest = std::fs::read_dir(&self.dir)
                    .expect("data dir")
                    .filter_map(|e| e.ok()?.metadata().ok())
                    .map(|m| m.len())
                    .max()
                    .unwrap_or(0);
                self.file_size_limit(server, &(biggest + SLACK).to_string()).await;
            }
        }
    }

    /// Gives the space back.
    async fn free(&self, server: &TestServer) {
        match self.limit {
            Limit::Tmpfs => std::fs::remove_file(self.dir.join("filler")).expect("remove filler"),
            Limit::FileSize => self.file_size_limit(server, "unlimited").await,
        }
    }

    async fn file_size_limit(&self, server: &TestServer, soft: &str) {
        let pid = server.pid().await.expect("server running").to_string();
        let limit = format!("--fsize={soft}:unlimited");
        assert!(
            command_ok("prlimit", &["--pid", &pid, &limit], Path::new("")).await,
            "prlimit {limit} failed: neither a tmpfs nor a file-size limit is possible here"
        );
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        if self.limit == Limit::Tmpfs {
            // Lazy: the server may still be exiting and hold files there.
            let _ = std::process::Command::new("umount")
                .arg("-l")
                .arg(&self.dir)
                .status();
        }
    }
}

/// Runs `program args… path` (the path left out when empty); whether it succeeded.
async fn command_ok(program: &str, args: &[&str], path: &Path) -> bool {
    let mut command = Command::new(program);
    command.args(args);
    if !path.as_os_str().is_empty() {
        command.arg(path);
    }
    match command.output().await {
        Ok(output) if output.status.success() => true,
        Ok(output) => {
            eprintln!(
                "disk_full: {program} {args:?}: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            );
            false
        }
        Err(err) => {
            eprintln!("disk_full: {program}: {err}");
            false
        }
    }
}

/// Writes to `path` until the filesystem has no page left, then gives `slack` bytes back.
fn fill_file(path: &Path, slack: u64) {
    let mut file = std::fs::File::create(path).expect("filler");
    for chunk in [1 << 20, 4096] {
        let block = vec![0x5a_u8; chunk];
        while file.write_all(&block).is_ok() {}
    }
    let len = file.metadata().expect("filler size").len();
    file.set_len(len.saturating_sub(slack)).expect("give slack back");
}

/// What one person typed: every paragraph in order, and how many of the first were
/// acknowledged.
#[derive(Default, Debug)]
struct Ledger {
    typed: Vec<String>,
    acked: usize,
}

/// A paragraph long enough that the disk runs out after a few hundred edits.
fn paragraph(name: &str, n: usize) -> String {
    format!("{name}{n} {}", "vol ".repeat(400).trim_end())
}

/// Types `n` paragraphs into `section` and waits until the server has acknowledged them.
async fn types_and_is_acknowledged(
    client: &Client,
    section: &str,
    name: &str,
    ledger: &mut Ledger,
    n: usize,
) {
    for _ in 0..n {
        let text = paragraph(name, ledger.typed.len());
        type_paragraph(client, section, &text);
        ledger.typed.push(text);
    }
    client
        .durable(WAIT)
        .await
        .unwrap_or_else(|e| panic!("{name}'s {n} paragraphs are not acknowledged: {e}"));
    ledger.acked = ledger.typed.len();
}

/// Types paragraphs into `section` one at a time, each waiting for its acknowledgement,
/// until one is not acknowledged; returns how the connection ended.
async fn type_until_refused(
    client: &Client,
    section: &str,
    name: &str,
    ledger: &mut Ledger,
) -> Result<(u16, String), String> {
    for _ in 0..MAX_EDITS {
        let text = paragraph(name, ledger.typed.len());
        let before = client.status().sent;
        type_paragraph(client, section, &text);
        ledger.typed.push(text);
        if client.status().sent == before {
            // The connection had ended already: kept by the client, never sent.
            return client.closed(WAIT).await.map_err(|e| e.to_string());
        }
        match client.durable(ACK_WAIT).await {
            Ok(()) => ledger.acked = ledger.typed.len(),
            Err(ClientError::Closed(Some(closed))) => return Ok(closed),
            Err(other) => return Err(format!("not acknowledged, yet not closed: {other}")),
        }
    }
    Err(format!(
        "{name}: {MAX_EDITS} edits stored, the disk never ran out"
    ))
}

/// Reconnects as `who` with what `old` holds, as a Yjs client does after its connection
/// ended: whatever the server lacks of it is sent again. Retries (as clients do, with a
/// pause) until the server has acknowledged it; returns the new client.
async fn reconnects_with(who: &Person<'_>, reg: &Reg, old: &Client) -> Client {
    let held = old
        .doc()
        .transact()
        .encode_state_as_update_v1(&StateVector::default());
    let started = tokio::time::Instant::now();
    loop {
        let client = who.opens(reg).await;
        client.edit(|txn| {
            let update = Update::decode_v1(&held).expect("own state");
            txn.apply_update(update).expect("apply");
        });
        match client.durable(ACK_WAIT).await {
            Ok(()) => return client,
            Err(err) => assert!(
                started.elapsed() < WAIT,
                "{who}: what the client held was still not stored after {:?}: {err}",
                started.elapsed()
            ),
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The paragraphs of a section in the server's content.
fn lines(content: &BTreeMap<String, String>, section: &str) -> Vec<String> {
    content[section]
        .split('\n')
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Asserts that the acknowledged paragraphs are all in the server's section, in order.
fn acknowledged_are_stored(content: &BTreeMap<String, String>, section: &str, ledger: &Ledger) {
    let stored = lines(content, section);
    assert!(
        stored.len() >= ledger.acked && stored[..ledger.acked] == ledger.typed[..ledger.acked],
        "{section}: {} paragraphs acknowledged, the server holds {} of them",
        ledger.acked,
        stored
            .iter()
            .zip(&ledger.typed[..ledger.acked])
            .take_while(|(a, b)| a == b)
            .count()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_loses_nothing_acknowledged_and_the_server_recovers_by_itself() {
    // The small disk holds SQLite's files; PostgreSQL's are its own cluster's, whose disk
    // this test does not fill. The suite's SQLite run covers it.
    if crate::support::engine() == samen_server::testing::Engine::Postgres {
        eprintln!("disk_full: SQLite only; this run is on PostgreSQL");
        return;
    }
    let disk = SmallDisk::new().await;
    let server = disk.start_server().await;
    let sara = server.clb().await;
    let tom = server.school_member("linde").await;
    let reg = sara.creates_registration().await;
    let (status, body) = tom
        .post(reg.path("/comments"), json!({ "body": "Voor het overleg." }))
        .await;
    assert_eq!(status, 201, "{body}");
    // Read once while there is room: a read is audited once an hour, and that entry is a
    // write.
    sara.reads_content(&reg).await;

    let a = sara.opens(&reg).await;
    let b = tom.opens(&reg).await;
    let (mut sara_typed, mut tom_typed) = (Ledger::default(), Ledger::default());
    types_and_is_acknowledged(&a, "advice", "sara", &mut sara_typed, 20).await;
    types_and_is_acknowledged(&b, "goals", "tom", &mut tom_typed, 20).await;

    // The disk fills up; both keep typing until the server cannot store an edit.
    disk.fill(&server).await;
    let started = tokio::time::Instant::now();
    let (sara_end, tom_end) = tokio::join!(
        type_until_refused(&a, "advice", "sara", &mut sara_typed),
        type_until_refused(&b, "goals", "tom", &mut tom_typed),
    );
    eprintln!(
        "disk_full: writes failed after {:?}: sara {} of {} acknowledged ({sara_end:?}), tom {} of \
         {} ({tom_end:?})",
        started.elapsed(),
        sara_typed.acked,
        sara_typed.typed.len(),
        tom_typed.acked,
        tom_typed.typed.len()
    );
    for (who, end, ledger) in [("sara", &sara_end, &sara_typed), ("tom", &tom_end, &tom_typed)] {
        let (code, reason) = end.as_ref().unwrap_or_else(|e| panic!("{who}: {e}"));
        assert_eq!(*code, 1011, "{who} is told to reconnect later: {reason}");
        assert!(
            ledger.acked < ledger.typed.len(),
            "{who}'s last edit was not acknowledged"
        );
    }

    // The server runs on, reads work, writes are refused clearly.
    assert!(server.is_running().await, "the server survived the full disk");
    let health = reqwest::get(server.url("/healthz")).await.expect("healthz");
    assert_eq!(health.status(), 200);
    let content = sara.reads_content(&reg).await;
    acknowledged_are_stored(&content, "advice", &sara_typed);
    acknowledged_are_stored(&content, "goals", &tom_typed);
    // A small row may still fit in pages the database (or its WAL) already holds, and
    // its audit entry too (201), or only the row (503 `unavailable`: saved, not audited);
    // once those pages are used up, a comment is refused (503 `storage_unavailable`).
    // Whichever comes, the answer says what happened. (Eight at most: with the one above
    // and the one below, Tom stays within his burst of ten comment writes.)
    let mut answer = None;
    for n in 0..8 {
        let (status, body) = tom
            .post(
                reg.path("/comments"),
                json!({ "body": format!("Lukt dit nog? ({n})") }),
            )
            .await;
        if status != 201 {
            answer = Some((status, body));
            break;
        }
    }
    let (status, body) = answer.expect("comments are refused once the disk's last pages are used");
    assert_eq!(status, 503, "{body}");
    assert!(
        ["storage_unavailable", "unavailable"].contains(&body["error"]["code"].as_str().unwrap_or("")),
        "{body}"
    );

    // Clients that reconnect while the disk is still full are refused the same way, each
    // time, and the server stays up.
    for attempt in 0..3 {
        let again = tom.opens(&reg).await;
        let held = b
            .doc()
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        again.edit(|txn| {
            txn.apply_update(Update::decode_v1(&held).expect("own state"))
                .expect("apply")
        });
        let closed = again.closed(WAIT).await.expect("closed");
        assert_eq!(closed.0, 1011, "reconnect {attempt} while full: {closed:?}");
        let status = again.status();
        assert!(
            status.acked < status.sent,
            "the resent edits are not acknowledged while full: {status:?}"
        );
    }
    assert!(server.is_running().await);

    // Space returns. Without a restart, the clients' edits are resent and stored.
    disk.free(&server).await;
    let a2 = reconnects_with(&sara, &reg, &a).await;
    let b2 = reconnects_with(&tom, &reg, &b).await;
    types_and_is_acknowledged(&a2, "advice", "sara", &mut sara_typed, 3).await;
    types_and_is_acknowledged(&b2, "goals", "tom", &mut tom_typed, 3).await;
    let (status, body) = tom
        .post(reg.path("/comments"), json!({ "body": "Weer gelukt." }))
        .await;
    assert_eq!(status, 201, "{body}");

    // Everything typed is stored once, in order, and every client equals the server.
    let content = sara.reads_content(&reg).await;
    assert_eq!(lines(&content, "advice"), sara_typed.typed, "sara's paragraphs");
    assert_eq!(lines(&content, "goals"), tom_typed.typed, "tom's paragraphs");
    for (who, client) in [("sara", &a2), ("tom", &b2)] {
        crate::support::eventually(&format!("{who} equals /content"), || {
            sections_of(client.doc()) == content
        })
        .await;
    }

    // And it is on disk: a restart reads the same.
    drop((a, b, a2, b2));
    assert!(server.stop().await, "a clean stop after the full disk");
    server.restart().await;
    assert_eq!(
        sara.reads_content(&reg).await,
        content,
        "the same after a restart"
    );
}
