-- Lanes and fair share (src/jobs/queue.c tells the design). Every job runs in a lane:
-- 'interactive' (a request waits for it, or a small upload's processing) or 'batch'.
-- Workers claim per lane, so interactive work never waits behind batch work.
ALTER TABLE jobs ADD COLUMN lane TEXT NOT NULL DEFAULT 'batch' CHECK (lane IN ('interactive', 'batch'));
UPDATE jobs SET lane = 'interactive' WHERE type IN ('depict', 'query', 'match');

-- Claiming walks a lane's queued jobs owner by owner (a job without an owner, made by the
-- server, counts as the owner ''), each owner's oldest due job first: every step is a seek
-- in this index, so a claim costs the number of waiting owners, not of queued jobs.
DROP INDEX jobs_claim;
CREATE INDEX jobs_lane_claim ON jobs(lane, coalesce(owner_id, ''), run_after, created_at) WHERE state = 'queued';

-- Whose turn it is: when each owner was last served in each lane (a counter per lane,
-- not a clock, so that instances sharing one queue agree on the order). The owner of a
-- lane served least recently, or never, goes next.
CREATE TABLE job_turns (
  lane   TEXT NOT NULL,
  owner  TEXT NOT NULL,
  served INTEGER NOT NULL,
  PRIMARY KEY (lane, owner)
) WITHOUT ROWID;
CREATE INDEX job_turns_served ON job_turns(lane, served);

-- Joining an identical pending job (a second request for the same depiction or
-- conversion) looks among the queued and running jobs of one type.
CREATE INDEX jobs_pending ON jobs(type, state) WHERE state IN ('queued', 'running');
