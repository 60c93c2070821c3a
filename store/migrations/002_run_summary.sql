-- 002_run_summary: one row per run with its progress, last training loss and
-- best validation loss; used by `tinyscale status` and handy in the sqlite3 shell.

CREATE VIEW run_summary AS
SELECT
    r.name,
    r.experiment,
    r.status,
    r.step,
    r.steps_total,
    (SELECT s.loss FROM steps s WHERE s.run = r.name ORDER BY s.step DESC LIMIT 1) AS last_loss,
    (SELECT min(e.loss) FROM evals e
      WHERE e.run = r.name AND e.split IN ('val', 'final_val')) AS best_val_loss
FROM runs r;
