-- Request nonces of the coordinator service (package serve): replicas of
-- "airlock serve" on one database refuse a signed request replayed to any
-- of them. Not state: no audit entry, rows deleted once expired.

-- +goose Up
CREATE TABLE request_nonces (nonce TEXT PRIMARY KEY, until BIGINT NOT NULL);
CREATE INDEX request_nonces_until ON request_nonces (until);

-- +goose Down
DROP TABLE request_nonces;
