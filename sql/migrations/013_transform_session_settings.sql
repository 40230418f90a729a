-- Session defaults of the transform role for set-based batch work (issue 8: a million bronze rows to gold in a
-- minute). They apply to every session the role opens (Airflow's tasks, `streamflow.batch`), nothing else.
--   work_mem 128MB: the refresh's hash aggregates and hash joins over a large batch (a million transaction ids,
--     the hour x store x customer groups of a full rebuild) stay in memory instead of spilling to temporary
--     files. One transform session runs at a time (the DAGs have max_active_runs = 1), so this bounds the
--     batch layer at a few hundred MB (hash_mem_multiplier 2) of the server's memory.
--   synchronous_commit off: a transform's commit returns before its WAL is flushed. A crash can lose only the
--     last few commits, never half of one, and every transform is idempotent and moves its watermark in the
--     same transaction as its rows, so the next run simply redoes the lost work. (The streaming writers keep
--     synchronous commits: bronze is the source of truth and Kafka offsets are committed after it.)
ALTER ROLE streamflow_transform SET work_mem = '128MB';
ALTER ROLE streamflow_transform SET synchronous_commit = off;
