-- Several nodes on one database (docs/architecture.md, "Several nodes"). SQLite serves one
-- process and has no such table: its rooms number their documents' logs themselves.

-- Each document's last sequence number. An append takes its numbers here, so that nodes
-- appending to one document never take the same ones; the row's lock orders them.
CREATE TABLE doc_heads (
    doc_id   TEXT   NOT NULL PRIMARY KEY,
    last_seq BIGINT NOT NULL
);
INSERT INTO doc_heads (doc_id, last_seq)
SELECT doc_id, max(seq)
FROM (SELECT doc_id, seq FROM doc_updates UNION ALL SELECT doc_id, seq FROM doc_states) AS stored
GROUP BY doc_id;
