-- A CLB's own administrator (`clb_admin`, held on a CLB): manages that CLB's schools, the
-- people who hold roles on them and what those people did (docs/architecture.md,
-- "Administration in the app").
ALTER TABLE memberships DROP CONSTRAINT memberships_role_check;
ALTER TABLE memberships ADD CONSTRAINT memberships_role_check
    CHECK (role IN ('clb_staff', 'clb_admin', 'school_dossier', 'lsc_staff', 'admin'));
