//! The document store's contract, tested on both engines (`test_both_dbs!`).

use std::time::Duration;

use super::*;
use crate::testing::Engine;
use samen_crdt::validate::DeleteRange;

fn update(byte: u8) -> NewUpdate {
    NewUpdate {
        data: vec![byte],
        author: None,
        deleted: Vec::new(),
    }
}

/// A database of one engine for one test; opened again after a close, it holds the same data.
struct TestDb {
    dir: tempfile::TempDir,
    url: Option<String>,
}

impl TestDb {
    async fn new(engine: Engine) -> TestDb {
        let (dir, url) = crate::testing::test_database(engine).await;
        TestDb { dir, url }
    }

    async fn open(&self) -> Store {
        let (store, _db) = crate::open_database(self.dir.path(), self.url.as_deref())
            .await
            .expect("open the store");
        store
    }
}

async fn store(engine: Engine) -> (Store, TestDb) {
    let db = TestDb::new(engine).await;
    (db.open().await, db)
}

crate::test_both_dbs!(
    unknown_documents_are_empty_sqlite,
    unknown_documents_are_empty_postgres,
    unknown_documents_are_empty
);
async fn unknown_documents_are_empty(engine: Engine) {
    let (store, _db) = store(engine).await;
    let doc = store.load(DocId::new()).await.expect("load");
    assert!(doc.state.is_none());
    assert!(doc.tail.is_empty());
    assert_eq!(doc.last_seq(), 0);
}

crate::test_both_dbs!(
    appends_load_in_order_and_compaction_folds_them_sqlite,
    appends_load_in_order_and_compaction_folds_them_postgres,
    appends_load_in_order_and_compaction_folds_them
);
async fn appends_load_in_order_and_compaction_folds_them(engine: Engine) {
    let (store, _db) = store(engine).await;
    let id = DocId::new();
    let first = store
        .append(id, 0, &[update(1), update(2)], &[])
        .await
        .expect("append");
    assert_eq!(first, 1, "a new document's log starts at 1");
    assert_eq!(store.append(id, 2, &[update(3)], &[]).await.expect("append"), 3);
    let doc = store.load(id).await.expect("load");
    assert_eq!(doc.tail.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(doc.tail[2].data, [3]);

    store.compact(id, b"state-2", 2).await.expect("compact");
    let doc = store.load(id).await.expect("load");
    assert_eq!(doc.state.as_deref(), Some(&b"state-2"[..]));
    assert_eq!(doc.state_seq, 2);
    assert_eq!(doc.tail.iter().map(|e| e.seq).collect::<Vec<_>>(), [3]);
    assert_eq!(doc.last_seq(), 3);

    // An older compaction arriving late changes nothing.
    store.compact(id, b"state-1", 1).await.expect("compact");
    let doc = store.load(id).await.expect("load");
    assert_eq!(doc.state.as_deref(), Some(&b"state-2"[..]));
    assert_eq!(doc.tail.len(), 1);
}

crate::test_both_dbs!(
    a_read_after_a_number_brings_only_what_came_after_sqlite,
    a_read_after_a_number_brings_only_what_came_after_postgres,
    a_read_after_a_number_brings_only_what_came_after
);
/// What a room on another node reads when told that updates were stored.
async fn a_read_after_a_number_brings_only_what_came_after(engine: Engine) {
    let (store, _db) = store(engine).await;
    let id = DocId::new();
    store
        .append(id, 0, &[update(1), update(2), update(3)], &[])
        .await
        .expect("append");
    let since = store.read_since(id, 1).await.expect("read");
    assert!(since.state.is_none());
    assert_eq!(since.tail.iter().map(|e| e.seq).collect::<Vec<_>>(), [2, 3]);
    assert_eq!(since.last_seq(), 3);
    let nothing = store.read_since(id, 3).await.expect("read");
    assert!(nothing.state.is_none() && nothing.tail.is_empty());
    assert_eq!(nothing.last_seq(), 3, "nothing new: still through 3");

    // A compaction past the number: the state holds what the log no longer does.
    store.compact(id, b"state-2", 2).await.expect("compact");
    let since = store.read_since(id, 1).await.expect("read");
    assert_eq!(since.state.as_deref(), Some(&b"state-2"[..]));
    assert_eq!(since.tail.iter().map(|e| e.seq).collect::<Vec<_>>(), [3]);
    // Not past it: the state is not read again.
    let since = store.read_since(id, 2).await.expect("read");
    assert!(since.state.is_none());
    assert_eq!(since.tail.iter().map(|e| e.seq).collect::<Vec<_>>(), [3]);
}

/// A binding to a user that does not exist: the database refuses it (a bad append).
fn bad_binding() -> [(ClientId, UserId); 1] {
    [(ClientId::new(1), UserId::from("nobody".to_owned()))]
}

crate::test_both_dbs!(
    a_failed_append_leaves_nothing_behind_sqlite,
    a_failed_append_leaves_nothing_behind_postgres,
    a_failed_append_leaves_nothing_behind
);
async fn a_failed_append_leaves_nothing_behind(engine: Engine) {
    let (store, _db) = store(engine).await;
    let id = DocId::new();
    store.append(id, 0, &[update(1)], &[]).await.expect("append");
    assert!(
        store
            .append(id, 1, &[update(2), update(9)], &bad_binding())
            .await
            .is_err()
    );
    let doc = store.load(id).await.expect("load");
    assert_eq!(doc.tail.len(), 1, "the failed batch left nothing behind");
    // The failed transaction was ended, and took no numbers: writing goes on after 1.
    for seq in 2..6 {
        let batch = [update(seq as u8)];
        let first = tokio::time::timeout(Duration::from_secs(5), store.append(id, seq - 1, &batch, &[]))
            .await
            .expect("not stuck behind an open transaction")
            .expect("a write after a failed one");
        assert_eq!(first, seq);
    }
}

crate::test_both_dbs!(
    concurrent_appends_succeed_and_a_bad_one_fails_alone_sqlite,
    concurrent_appends_succeed_and_a_bad_one_fails_alone_postgres,
    concurrent_appends_succeed_and_a_bad_one_fails_alone
);
/// On SQLite the appends of many documents share one transaction (group commit); one bad
/// append must still fail alone.
async fn concurrent_appends_succeed_and_a_bad_one_fails_alone(engine: Engine) {
    let (store, _db) = store(engine).await;
    let taken = DocId::new();
    store.append(taken, 0, &[update(1)], &[]).await.expect("append");
    let docs: Vec<DocId> = (0..40).map(|_| DocId::new()).collect();
    let mut tasks = Vec::new();
    for (i, doc) in docs.iter().enumerate() {
        let (store, doc) = (store.clone(), *doc);
        let user = UserId::from(format!("u{i}"));
        tasks.push(tokio::spawn(async move {
            let deleting = NewUpdate {
                data: vec![2],
                author: Some(user.clone()),
                deleted: vec![DeleteRange {
                    client: ClientId::new(i as u64),
                    clock: 0,
                    len: 3,
                }],
            };
            store.append(doc, 0, &[update(1), deleting], &[]).await
        }));
    }
    // Sent among the others: a binding the database refuses.
    let bad = {
        let store = store.clone();
        tokio::spawn(async move { store.append(taken, 1, &[update(9)], &bad_binding()).await })
    };
    for task in tasks {
        task.await.expect("task").expect("a good append succeeds");
    }
    assert!(bad.await.expect("task").is_err(), "the bad one fails");
    for (i, doc) in docs.iter().enumerate() {
        let loaded = store.load(*doc).await.expect("load");
        assert_eq!(loaded.tail.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2]);
        let deletions = store.deletions(*doc).await.expect("deletions");
        assert_eq!(deletions.len(), 1);
        assert_eq!(
            deletions[0].ranges,
            [DeleteRange {
                client: ClientId::new(i as u64),
                clock: 0,
                len: 3
            }]
        );
    }
    let taken = store.load(taken).await.expect("load");
    assert_eq!(taken.tail.len(), 1, "unchanged");
    assert_eq!(taken.tail[0].data, [1]);
}

crate::test_both_dbs!(
    compactions_and_appends_sent_together_are_all_written_sqlite,
    compactions_and_appends_sent_together_are_all_written_postgres,
    compactions_and_appends_sent_together_are_all_written
);
/// On SQLite, more compactions than one transaction takes (some wait for later ones).
async fn compactions_and_appends_sent_together_are_all_written(engine: Engine) {
    let (store, _db) = store(engine).await;
    let docs: Vec<DocId> = (0..10).map(|_| DocId::new()).collect();
    for doc in &docs {
        store
            .append(*doc, 0, &[update(1), update(2)], &[])
            .await
            .expect("append");
    }
    let taken = DocId::new();
    store.append(taken, 0, &[update(1)], &[]).await.expect("append");
    let mut tasks = Vec::new();
    for doc in docs.iter().copied() {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let next = [update(3)];
            let (compacted, appended) =
                tokio::join!(store.compact(doc, b"state", 2), store.append(doc, 2, &next, &[]));
            compacted.and(appended)
        }));
    }
    // Sent among them, a bad append (in a document nobody compacts).
    let bad = store.append(taken, 1, &[update(9)], &bad_binding()).await;
    for task in tasks {
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("no compaction left waiting")
            .expect("task")
            .expect("compactions and appends succeed");
    }
    assert!(bad.is_err(), "the bad one fails");
    for doc in &docs {
        let loaded = store.load(*doc).await.expect("load");
        assert_eq!(loaded.state.as_deref(), Some(&b"state"[..]));
        assert_eq!(loaded.state_seq, 2);
        assert_eq!(loaded.tail.iter().map(|e| e.seq).collect::<Vec<_>>(), [3]);
    }
}

crate::test_both_dbs!(
    many_compactions_at_once_are_all_written_sqlite,
    many_compactions_at_once_are_all_written_postgres,
    many_compactions_at_once_are_all_written
);
/// A server closing its rooms compacts them all at once, with no append waiting: every
/// compaction is written, whatever the number of transactions they take.
async fn many_compactions_at_once_are_all_written(engine: Engine) {
    let (store, _db) = store(engine).await;
    let docs: Vec<DocId> = (0..150).map(|_| DocId::new()).collect();
    for doc in &docs {
        store.append(*doc, 0, &[update(1)], &[]).await.expect("append");
    }
    let compactions = docs.iter().map(|doc| {
        let store = store.clone();
        let doc = *doc;
        async move { store.compact(doc, doc.to_string().as_bytes(), 1).await }
    });
    for result in futures_util::future::join_all(compactions).await {
        result.expect("compaction");
    }
    for doc in &docs {
        let loaded = store.load(*doc).await.expect("load");
        assert_eq!(loaded.state.as_deref(), Some(doc.to_string().as_bytes()));
        assert!(loaded.tail.is_empty(), "the log is folded in");
    }
}

crate::test_both_dbs!(
    data_survives_reopening_sqlite,
    data_survives_reopening_postgres,
    data_survives_reopening
);
async fn data_survives_reopening(engine: Engine) {
    let db = TestDb::new(engine).await;
    let id = DocId::new();
    {
        let store = db.open().await;
        store.append(id, 0, &[update(7)], &[]).await.expect("append");
        store.close().await;
    }
    let store = db.open().await;
    assert_eq!(store.load(id).await.expect("load").tail[0].data, [7]);
}

/// Two nodes on one PostgreSQL database (two stores, as two `samen serve` processes have):
/// appends to one document from both get distinct numbers without gaps, each is told of
/// the other's and not of its own, and one of them at a time holds the housekeeping lease.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_number_one_log_hear_each_other_and_share_one_lease() {
    let db = TestDb::new(Engine::Postgres).await;
    let (a, b) = (db.open().await, db.open().await);
    assert!(a.shared() && b.shared());
    // Listening once `listen` returns: nothing told after it is lost.
    let mut heard_by_b = b.listen().await.expect("listen").expect("notices");
    let id = DocId::new();

    let mut tasks = Vec::new();
    for (i, store) in [a.clone(), b.clone()].into_iter().cycle().take(20).enumerate() {
        tasks.push(tokio::spawn(async move {
            // Each believes it is at 0: the store numbers them.
            let first = store.append(id, 0, &[update(i as u8), update(100)], &[]).await;
            (i % 2 == 0, first.expect("append"))
        }));
    }
    let mut firsts = Vec::new();
    for task in tasks {
        firsts.push(task.await.expect("task"));
    }
    let mut numbers: Vec<i64> = firsts.iter().flat_map(|(_, f)| [*f, *f + 1]).collect();
    numbers.sort();
    assert_eq!(
        numbers,
        (1..=40).collect::<Vec<_>>(),
        "every number once, none skipped"
    );
    let loaded = a.load(id).await.expect("load");
    assert_eq!(loaded.tail.len(), 40);

    // B hears of each of A's appends (through its last number), and of none of its own.
    let mut from_a: Vec<i64> = firsts
        .iter()
        .filter(|(by_a, _)| *by_a)
        .map(|(_, f)| f + 1)
        .collect();
    from_a.sort();
    let mut heard = Vec::new();
    while heard.len() < from_a.len() {
        match tokio::time::timeout(Duration::from_secs(5), heard_by_b.recv()).await {
            Ok(Some(Notice::Stored { doc, seq, batch })) if doc == id => {
                let batch = batch.expect("a small batch travels with its notice");
                assert_eq!(batch.first, seq - 1);
                assert_eq!(batch.updates.len(), 2);
                heard.push(seq)
            }
            Ok(Some(Notice::Missed)) => {}
            other => panic!("B waits for A's notices, got {other:?} after {heard:?}"),
        }
    }
    heard.sort();
    assert_eq!(heard, from_a);

    // One lease holder at a time; given up, the other takes it.
    assert!(a.lease(id, true).await.expect("lease"), "A takes the free lease");
    assert!(a.lease(id, true).await.expect("lease"), "and renews it");
    assert!(
        !b.lease(id, true).await.expect("lease"),
        "B cannot while A holds it"
    );
    assert!(!a.lease(id, false).await.expect("lease"), "A gives it up");
    assert!(b.lease(id, true).await.expect("lease"), "now B can");
    assert!(!a.lease(id, true).await.expect("lease"));
    // A node that goes away (a crash ends its session just the same) frees its leases at once.
    // (The server ends B's session a moment after B hung up.)
    b.close().await;
    let start = std::time::Instant::now();
    while !a.lease(id, true).await.expect("lease") {
        assert!(start.elapsed() < Duration::from_secs(5), "B's lease ended with B");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A client that moved to another node may bring edits whose client ID the first node
/// bound (and the second had not read yet): the same user's binding stands, another
/// user's refuses the append whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_id_bound_on_another_node_stays_with_its_user() {
    let test = TestDb::new(Engine::Postgres).await;
    let (a, db) = crate::open_database(test.dir.path(), test.url.as_deref())
        .await
        .expect("open");
    let b = test.open().await;
    let ann = db.create_user("ann@test.be", "Ann", "hash").await.expect("user");
    let bob = db.create_user("bob@test.be", "Bob", "hash").await.expect("user");
    let (id, client) = (DocId::new(), ClientId::new(5));
    a.append(id, 0, &[update(1)], &[(client, ann.id.clone())])
        .await
        .expect("A binds the client ID to Ann");
    b.append(id, 0, &[update(2)], &[(client, ann.id.clone())])
        .await
        .expect("B binds it to Ann too: no conflict");
    // Sent among good appends to other documents (written in one group): it fails alone.
    let others: Vec<_> = (0..8)
        .map(|i| {
            let (b, ann) = (b.clone(), ann.id.clone());
            tokio::spawn(async move {
                let doc = DocId::new();
                b.append(doc, 0, &[update(i)], &[(ClientId::new(9), ann)])
                    .await
                    .map(|_| doc)
            })
        })
        .collect();
    let taken = b.append(id, 0, &[update(3)], &[(client, bob.id.clone())]).await;
    assert!(matches!(taken, Err(StorageError::ClientIdTaken)), "{taken:?}");
    for other in others {
        let doc = other
            .await
            .expect("task")
            .expect("a good append beside it succeeds");
        assert_eq!(a.load(doc).await.expect("load").tail.len(), 1);
    }
    let doc = a.load(id).await.expect("load");
    assert_eq!(
        doc.tail.iter().map(|e| e.data[0]).collect::<Vec<_>>(),
        [1, 2],
        "Bob's append left nothing"
    );
    assert_eq!(doc.bindings, [(client, ann.id)]);
}

crate::test_both_dbs!(
    compaction_folds_deletions_into_one_row_per_author_and_loses_none_sqlite,
    compaction_folds_deletions_into_one_row_per_author_and_loses_none_postgres,
    compaction_folds_deletions_into_one_row_per_author_and_loses_none
);
async fn compaction_folds_deletions_into_one_row_per_author_and_loses_none(engine: Engine) {
    let (store, _db) = store(engine).await;
    let id = DocId::new();
    let (a, b) = (
        Some(UserId::from("a".to_owned())),
        Some(UserId::from("b".to_owned())),
    );
    let range = |client: u64, clock: u32, len: u32| DeleteRange {
        client: ClientId::new(client),
        clock,
        len,
    };
    let deleting = |author: &Option<UserId>, deleted: Vec<DeleteRange>| NewUpdate {
        data: vec![0],
        author: author.clone(),
        deleted,
    };
    let log = [
        deleting(&a, vec![range(1, 0, 2)]),
        update(2),
        deleting(&b, vec![range(2, 5, 1)]),
        deleting(&a, vec![range(1, 10, 3), range(3, 0, 1)]),
        deleting(&None, vec![range(4, 0, 1)]),
        deleting(&b, vec![range(2, 7, 2)]),
        deleting(&a, vec![range(1, 20, 1)]),
        deleting(&a, vec![range(1, 30, 1)]),
    ];
    store.append(id, 0, &log, &[]).await.expect("append");
    // Who deleted what, as the versions read it: every range with its author.
    let who_deleted_what = |rows: &[Deletion]| {
        let mut all: Vec<(u64, u32, u32, Option<UserId>)> = rows
            .iter()
            .flat_map(|d| {
                d.ranges
                    .iter()
                    .map(|r| (r.client.get(), r.clock, r.len, d.author.clone()))
            })
            .collect();
        all.sort();
        all
    };
    let before = store.deletions(id).await.expect("deletions");
    assert_eq!(before.len(), 7, "a row per deleting update until compacted");
    let authors = |rows: &[Deletion]| rows.iter().map(|d| d.author.clone()).collect::<Vec<_>>();

    store.compact(id, b"state-4", 4).await.expect("compact");
    let folded = store.deletions(id).await.expect("deletions");
    assert_eq!(
        authors(&folded),
        [a.clone(), b.clone(), None, b.clone(), a.clone(), a.clone()],
        "updates 1–4 folded into one row per author, in the order they first deleted; 5–8 as they were"
    );
    assert_eq!(who_deleted_what(&folded), who_deleted_what(&before));

    store.compact(id, b"state-8", 8).await.expect("compact");
    let folded = store.deletions(id).await.expect("deletions");
    assert_eq!(
        authors(&folded),
        [a.clone(), b.clone(), None, b.clone(), a.clone()],
        "5–8 folded, 1–4 not touched again"
    );
    assert_eq!(who_deleted_what(&folded), who_deleted_what(&before));
    assert_eq!(folded[4].ranges.len(), 2, "a's two deletions in 5–8 in one row");

    // A late compaction, and the same one again, change nothing.
    store.compact(id, b"state-3", 3).await.expect("compact");
    store.compact(id, b"state-8", 8).await.expect("compact");
    assert_eq!(store.deletions(id).await.expect("deletions"), folded);
    assert_eq!(
        store.load(id).await.expect("load").state.as_deref(),
        Some(&b"state-8"[..])
    );
}
