-- The writer of appends (storage/postgres.rs, `write_group`) writes a group of room batches
-- in one statement. When a client ID it binds turns out to be another user's, the whole
-- statement must fail and store nothing: this raises the error that says so (SQLSTATE
-- SA409), which the writer tells apart from a database failure.
CREATE FUNCTION samen_client_id_taken(taken BIGINT) RETURNS BIGINT
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'SA409',
        MESSAGE = format('%s client IDs of this append belong to other users', taken);
END
$$;
