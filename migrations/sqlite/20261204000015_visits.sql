-- What each person last saw of a document (issue 21): when their last connection to it
-- closed, and the document's snapshot then (yrs: state vector and delete set), so that
-- "wijzigingen sinds je vorige bezoek" is the diff from it to now, and lists can mark what
-- changed since.
CREATE TABLE visits (
    user_id  TEXT    NOT NULL REFERENCES users (id),
    doc_id   TEXT    NOT NULL,
    seen_at  INTEGER NOT NULL,
    snapshot BLOB    NOT NULL,
    PRIMARY KEY (user_id, doc_id)
) STRICT;
