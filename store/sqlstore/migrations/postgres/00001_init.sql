-- The first schema of an airlock workspace store (PostgreSQL).
-- Every state row records the audit entry that made it (entry = the
-- entry's index; -1 for rows migrated from a first-release workspace).

-- +goose Up
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE audit_entries (
    idx     BIGINT PRIMARY KEY,
    kind    TEXT    NOT NULL,
    subject TEXT    NOT NULL,
    time    BIGINT NOT NULL,
    record  BYTEA    NOT NULL
);
CREATE INDEX audit_entries_kind ON audit_entries (kind);
CREATE TABLE audit_hashes (idx BIGINT PRIMARY KEY, hash BYTEA NOT NULL);
CREATE TABLE audit_checkpoints (seq BIGSERIAL PRIMARY KEY, size BIGINT NOT NULL, note BYTEA NOT NULL);
CREATE TABLE policies (
    version  BIGINT PRIMARY KEY,
    id       BYTEA    NOT NULL UNIQUE,
    envelope BYTEA    NOT NULL,
    entry    BIGINT NOT NULL
);
CREATE TABLE proposals (
    id       BYTEA    PRIMARY KEY,
    hexid    TEXT    NOT NULL,
    envelope BYTEA    NOT NULL,
    state    TEXT    NOT NULL,
    entry    BIGINT NOT NULL
);
CREATE TABLE decisions (
    proposal    BYTEA    NOT NULL,
    participant TEXT    NOT NULL,
    envelope    BYTEA    NOT NULL,
    entry       BIGINT NOT NULL,
    PRIMARY KEY (proposal, participant)
);
CREATE TABLE claims (resource TEXT PRIMARY KEY, proposal BYTEA NOT NULL, entry BIGINT NOT NULL);
CREATE TABLE finals (proposal BYTEA PRIMARY KEY, proof BYTEA NOT NULL, entry BIGINT NOT NULL);
CREATE TABLE artifacts (
    id    BYTEA    PRIMARY KEY,
    hexid TEXT    NOT NULL,
    kind  TEXT    NOT NULL,
    name  TEXT    NOT NULL,
    data  BYTEA    NOT NULL,
    entry BIGINT NOT NULL
);
CREATE TABLE sequences (channel TEXT PRIMARY KEY, n BIGINT NOT NULL, entry BIGINT NOT NULL);
CREATE TABLE witnesses (key TEXT PRIMARY KEY, value BYTEA NOT NULL, entry BIGINT NOT NULL);
CREATE TABLE health (device TEXT PRIMARY KEY, record BYTEA NOT NULL, entry BIGINT NOT NULL);

-- +goose Down
DROP TABLE health;
DROP TABLE witnesses;
DROP TABLE sequences;
DROP TABLE artifacts;
DROP TABLE finals;
DROP TABLE claims;
DROP TABLE decisions;
DROP TABLE proposals;
DROP TABLE policies;
DROP TABLE audit_checkpoints;
DROP TABLE audit_hashes;
DROP TABLE audit_entries;
DROP TABLE meta;
