-- The name guard (issue 19). What the server last found in each document: how many
-- suspected names are open, so that a school's page lists the documents to look at (the
-- names themselves stay in the document only). And the findings people dismissed ("dit is
-- geen naam") per document, by the name as the detector saw it, lowercase, with who did it
-- and when.
CREATE TABLE name_findings (
    doc_id     TEXT    NOT NULL PRIMARY KEY,
    school_id  INTEGER NOT NULL REFERENCES institutions (id),
    open       INTEGER NOT NULL,
    checked_at INTEGER NOT NULL
) STRICT;
CREATE INDEX name_findings_school ON name_findings (school_id);

CREATE TABLE name_dismissals (
    doc_id       TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    dismissed_by TEXT    NOT NULL REFERENCES users (id),
    dismissed_at INTEGER NOT NULL,
    PRIMARY KEY (doc_id, name)
) STRICT;
