-- Search on PostgreSQL orders the matches from the terms' indexes alone (issue 18, at
-- 12,000 registrations): each term row repeats its entry's weight and time, which the
-- server rewrites with the entry's terms whenever it reindexes it. SQLite keeps the same
-- columns (one schema, one writer) but orders on `search_entries_rank`, which was faster
-- there, so it needs no index for them (docs/architecture.md, "Search").
ALTER TABLE search_terms ADD COLUMN weight REAL NOT NULL DEFAULT 1.0;
ALTER TABLE search_terms ADD COLUMN updated_at INTEGER NOT NULL DEFAULT 0;
UPDATE search_terms SET
    weight = (SELECT e.weight FROM search_entries e WHERE e.id = search_terms.entry_id),
    updated_at = (SELECT e.updated_at FROM search_entries e WHERE e.id = search_terms.entry_id);
