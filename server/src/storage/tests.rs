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
    let doc = store.load(RegistrationId::new()).await.expect("load");
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
    let id = RegistrationId::new();
    store
        .append(id, 1, &[update(1), update(2)], &[])
        .await
        .expect("append");
    store.append(id, 3, &[update(3)], &[]).await.expect("append");
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
    a_duplicate_sequence_number_is_refused_whole_sqlite,
    a_duplicate_sequence_number_is_refused_whole_postgres,
    a_duplicate_sequence_number_is_refused_whole
);
async fn a_duplicate_sequence_number_is_refused_whole(engine: Engine) {
    let (store, _db) = store(engine).await;
    let id = RegistrationId::new();
    store.append(id, 1, &[update(1)], &[]).await.expect("append");
    assert!(store.append(id, 2, &[update(2), update(9)], &[]).await.is_ok());
    assert!(store.append(id, 3, &[update(3), update(4)], &[]).await.is_err());
    let doc = store.load(id).await.expect("load");
    assert_eq!(doc.tail.len(), 3, "the failed batch left nothing behind");
    // The failed transaction was ended: writing goes on.
    for seq in 4..8 {
        let batch = [update(seq as u8)];
        tokio::time::timeout(Duration::from_secs(5), store.append(id, seq, &batch, &[]))
            .await
            .expect("not stuck behind an open transaction")
            .expect("a write after a failed one");
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
    let taken = RegistrationId::new();
    store.append(taken, 1, &[update(1)], &[]).await.expect("append");
    let docs: Vec<RegistrationId> = (0..40).map(|_| RegistrationId::new()).collect();
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
            // (Bindings refer to users, which this store test has none of.)
            store.append(doc, 1, &[update(1), deleting], &[]).await
        }));
    }
    // Sent among the others: a sequence number that is taken.
    let bad = {
        let store = store.clone();
        tokio::spawn(async move { store.append(taken, 1, &[update(9)], &[]).await })
    };
    for task in tasks {
        task.await.expect("task").expect("a good append succeeds");
    }
    assert!(bad.await.expect("task").is_err(), "the duplicate fails");
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
    assert_eq!(
        store.load(taken).await.expect("load").tail[0].data,
        [1],
        "unchanged"
    );
}

crate::test_both_dbs!(
    compactions_and_appends_sent_together_are_all_written_sqlite,
    compactions_and_appends_sent_together_are_all_written_postgres,
    compactions_and_appends_sent_together_are_all_written
);
/// On SQLite, more compactions than one transaction takes (some wait for later ones).
async fn compactions_and_appends_sent_together_are_all_written(engine: Engine) {
    let (store, _db) = store(engine).await;
    let docs: Vec<RegistrationId> = (0..10).map(|_| RegistrationId::new()).collect();
    for doc in &docs {
        store
            .append(*doc, 1, &[update(1), update(2)], &[])
            .await
            .expect("append");
    }
    let taken = RegistrationId::new();
    store.append(taken, 1, &[update(1)], &[]).await.expect("append");
    let mut tasks = Vec::new();
    for doc in docs.iter().copied() {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let next = [update(3)];
            let (compacted, appended) =
                tokio::join!(store.compact(doc, b"state", 2), store.append(doc, 3, &next, &[]));
            compacted.and(appended)
        }));
    }
    // Sent among them, a sequence number that is taken (in a document nobody compacts).
    let bad = store.append(taken, 1, &[update(9)], &[]).await;
    for task in tasks {
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("no compaction left waiting")
            .expect("task")
            .expect("compactions and appends succeed");
    }
    assert!(bad.is_err(), "the duplicate fails");
    for doc in &docs {
        let loaded = store.load(*doc).await.expect("load");
        assert_eq!(loaded.state.as_deref(), Some(&b"state"[..]));
        assert_eq!(loaded.state_seq, 2);
        assert_eq!(loaded.tail.iter().map(|e| e.seq).collect::<Vec<_>>(), [3]);
    }
}

crate::test_both_dbs!(
    data_survives_reopening_sqlite,
    data_survives_reopening_postgres,
    data_survives_reopening
);
async fn data_survives_reopening(engine: Engine) {
    let db = TestDb::new(engine).await;
    let id = RegistrationId::new();
    {
        let store = db.open().await;
        store.append(id, 1, &[update(7)], &[]).await.expect("append");
        store.close().await;
    }
    let store = db.open().await;
    assert_eq!(store.load(id).await.expect("load").tail[0].data, [7]);
}
