-- Delete bronze rows older than retention_days, but only rows silver has already read (never unprocessed data).
-- Bronze is append-only for the transform role: the deletion is ops.prune_bronze's (migration 017), the one
-- narrow path that may remove bronze rows.
SELECT transactions_pruned, alerts_pruned FROM ops.prune_bronze(%(retention_days)s::integer)
