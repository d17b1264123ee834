-- The name guard on documents (issue 19, point 4): what reading a version's text found,
-- as a count (the names stay in the file). `checked`: its text was read and `names`
-- suspected names nobody dismissed are in it; `unreadable`: no text came out (a scan, a
-- damaged or protected file). A version without a row is not checked yet, or holds no
-- text (an image). Dismissals of a file's findings are kept in `name_dismissals` under
-- the file's id.
CREATE TABLE file_text_checks (
    version_id TEXT    NOT NULL PRIMARY KEY REFERENCES file_versions (id),
    outcome    TEXT    NOT NULL CHECK (outcome IN ('checked', 'unreadable')),
    names      INTEGER NOT NULL,
    checked_at INTEGER NOT NULL
) STRICT;
