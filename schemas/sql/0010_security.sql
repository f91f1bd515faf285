-- The outside security review of 0.8.0 (0.9.0).
--
-- Delegated sharing: a grant or a share link is only as good as its creator's current
-- right to share the object (editor or owner role on it, or an administrator). lapsed = 1
-- while the creator lacks that right; such a grant gives nothing and such a link opens
-- nothing, and both come back if the right does. auth_delegations_refresh() recomputes
-- the flags (the least fixpoint: rights that only hold each other up lapse) after every
-- change that can give or take a share right: a grant made or removed, a group
-- membership changed, a move, an account disabled, deleted or given admin rights.
ALTER TABLE grants ADD COLUMN lapsed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE links ADD COLUMN lapsed INTEGER NOT NULL DEFAULT 0;
CREATE INDEX grants_created_by ON grants(created_by);

-- Account control: a disabled account signs in to nothing and its sessions and tokens
-- stop at once; a deleted one keeps its row (its id stays in the audit log and in what
-- it made) but gives up its name (renamed 'deleted-ID'), its password, its sessions,
-- tokens, grants, memberships, uploads and webhooks (deleted: a running server stops
-- sending them when it next loads them); what it owned went to another user.
ALTER TABLE users ADD COLUMN disabled_at TEXT;
ALTER TABLE users ADD COLUMN deleted_at TEXT;

-- Webhooks: a user has at most a few; each keeps its run of failed attempts, and is
-- disabled (disabled_at, disabled_reason) after too many in a row; its pending
-- deliveries are bounded (the sender drops past the bound, counted in /metrics).
ALTER TABLE webhooks ADD COLUMN failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE webhooks ADD COLUMN last_error TEXT;
ALTER TABLE webhooks ADD COLUMN disabled_at TEXT;
ALTER TABLE webhooks ADD COLUMN disabled_reason TEXT;
CREATE INDEX deliveries_webhook ON deliveries(webhook_id) WHERE state = 'pending';
