-- Reads and refused lookups are audited too, at most once per user, action, item and
-- hour. `hour` is the entry's hour (ms since the epoch / 3,600,000) for such deduplicated
-- entries and NULL for changes, which are always written. The unique index makes a second
-- entry of the same hour a no-op (`INSERT ... ON CONFLICT DO NOTHING`), whatever process
-- writes it and even when two requests race; NULL columns are folded to '' because a
-- unique index treats NULLs as distinct.
ALTER TABLE audit_log ADD COLUMN hour INTEGER;
CREATE UNIQUE INDEX audit_log_once_per_hour
    ON audit_log (coalesce(actor_id, ''), action, coalesce(target, ''), coalesce(detail, ''), outcome, hour)
    WHERE hour IS NOT NULL;
-- `samen admin audit --user/--target/--since` reads by these.
CREATE INDEX audit_log_actor ON audit_log (actor_id, at);
CREATE INDEX audit_log_target ON audit_log (target, at);
