-- Holding and closing a meeting (issue 16). "Overleg starten" records when it began (the
-- registrations' versions of that moment are what "changed during the meeting" compares
-- with); "Overleg afsluiten" records when and by whom it closed, and which version it
-- named of the meeting's document and of every registration changed during it.
ALTER TABLE meetings ADD COLUMN started_at INTEGER;
ALTER TABLE meetings ADD COLUMN closed_at INTEGER;
ALTER TABLE meetings ADD COLUMN closed_by TEXT REFERENCES users (id);

CREATE TABLE meeting_versions (
    meeting_id  TEXT NOT NULL REFERENCES meetings (id),
    doc_id      TEXT NOT NULL,
    snapshot_id TEXT NOT NULL REFERENCES doc_snapshots (id),
    PRIMARY KEY (meeting_id, doc_id)
) STRICT;
CREATE INDEX meetings_follows ON meetings (follows_id);
