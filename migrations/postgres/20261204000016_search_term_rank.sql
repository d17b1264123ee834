-- Search on PostgreSQL orders the matches from the terms' indexes alone (issue 18, at
-- 12,000 registrations): each term row repeats its entry's weight and time, which the
-- server rewrites with the entry's terms whenever it reindexes it. A common word then
-- costs one index-only scan and a sort of its matches, where looking up each match's
-- weight by key took 30 ms for 6,400 of them. SQLite keeps the columns alike but orders
-- on `search_entries_rank`, which was faster there (docs/architecture.md, "Search").
ALTER TABLE search_terms ADD COLUMN weight DOUBLE PRECISION NOT NULL DEFAULT 1.0;
ALTER TABLE search_terms ADD COLUMN updated_at BIGINT NOT NULL DEFAULT 0;
UPDATE search_terms t SET weight = e.weight, updated_at = e.updated_at
    FROM search_entries e WHERE e.id = t.entry_id;
CREATE INDEX search_terms_term_rank ON search_terms (term, school_id)
    INCLUDE (entry_id, weight, updated_at);
DROP INDEX search_terms_rterm;
CREATE INDEX search_terms_rterm ON search_terms (rterm, school_id)
    INCLUDE (entry_id, weight, updated_at);
