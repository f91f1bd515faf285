-- Claiming the next job orders queued jobs by (run_after, created_at): an index in that
-- order lets LIMIT 1 stop at the first, instead of sorting every queued job under the
-- write lock (12 ms per claim with 20,000 queued).
DROP INDEX jobs_claim;
CREATE INDEX jobs_claim ON jobs(run_after, created_at) WHERE state = 'queued';
