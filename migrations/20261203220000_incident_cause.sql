-- Why: incidents named no cause and a path that flapped between Up and Degraded wrote one row
-- per flap (13 rows for one half-open path). The live tracker now reopens an incident when
-- the same trouble returns within five minutes (`episodes` counts how often it opened) and
-- attaches the diagnosis finding that explains it: `cause` is the rule's name
-- (`idle_timeout`, `half_open`, …; NULL: unexplained) and `cause_title` its one-line
-- finding, so a list can show and filter by cause without reading the summary JSON.
-- A drop storm is a new incident kind, 'unstable'; `kind` is TEXT and needs no change.
-- Rows written before this have one episode and no cause.

ALTER TABLE incidents ADD COLUMN episodes INTEGER NOT NULL DEFAULT 1;
ALTER TABLE incidents ADD COLUMN cause TEXT;
ALTER TABLE incidents ADD COLUMN cause_title TEXT;
