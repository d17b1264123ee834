-- Search (issue 18): the text of what people may search, in pieces ("entries": a
-- registration's title, each of its sections, each comment, a document's name), and the
-- index terms of each piece (`samen-search`: folded, stemmed Dutch). `rterm` is the term
-- reversed, so that the tail of a compound (`cyberpesten` for `pesten`) is a range scan
-- like its head. Terms compare byte by byte (`C`), as on SQLite, so that a prefix's range
-- is the same on both engines. A school's own documents have no registration.
CREATE TABLE search_entries (
    id              TEXT    NOT NULL PRIMARY KEY,
    school_id       BIGINT  NOT NULL REFERENCES institutions (id),
    registration_id TEXT    REFERENCES registrations (id),
    -- 'title', a section's name, 'comment', 'file'.
    part            TEXT    NOT NULL,
    text            TEXT    NOT NULL,
    updated_at      BIGINT  NOT NULL
);
CREATE INDEX search_entries_registration ON search_entries (registration_id);

-- The entry's school is repeated with each term, so that a search within some schools
-- is decided in the index, before any entry is read.
CREATE TABLE search_terms (
    term      TEXT COLLATE "C" NOT NULL,
    rterm     TEXT COLLATE "C" NOT NULL,
    school_id BIGINT NOT NULL,
    entry_id  TEXT NOT NULL REFERENCES search_entries (id),
    PRIMARY KEY (term, school_id, entry_id)
);
CREATE INDEX search_terms_rterm ON search_terms (rterm, school_id, entry_id);
CREATE INDEX search_terms_entry ON search_terms (entry_id);
