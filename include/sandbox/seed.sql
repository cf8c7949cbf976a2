-- sandbox.seed(vm_count): fill the NovaCron tables with a deterministic, invariant-respecting data set in one
-- statement per table (generate_series, so 500,000 VMs take seconds). Sizes scale with vm_count:
-- hosts = max(10, vm_count / 20), migrations = vm_count / 2, audit_log = 2 * vm_count.
CREATE SCHEMA IF NOT EXISTS sandbox;

CREATE TABLE IF NOT EXISTS sandbox.seed_state (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    vms        bigint      NOT NULL,
    hosts      bigint      NOT NULL,
    migrations bigint      NOT NULL,
    audit_rows bigint      NOT NULL,
    seeded_at  timestamptz NOT NULL DEFAULT now()
);

CREATE OR REPLACE FUNCTION sandbox.seed(vm_count bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    host_count      bigint := greatest(10, vm_count / 20);
    migration_count bigint := vm_count / 2;
    audit_count     bigint := 2 * vm_count;
    base            timestamptz := now();
BEGIN
    INSERT INTO hosts (id, name, datacenter, status, cpu_cores, memory_mb, created_at)
    SELECT i,
           format('host-%s', lpad(i::text, 6, '0')),
           (ARRAY['dc-east', 'dc-west', 'dc-central'])[1 + i % 3],
           CASE WHEN i % 50 = 0 THEN 'maintenance' ELSE 'active' END,
           (ARRAY[32, 64, 128])[1 + i % 3],
           (ARRAY[262144, 524288, 1048576])[1 + i % 3],
           base - interval '400 days' + i * interval '1 minute'
      FROM generate_series(1, host_count) AS i;

    INSERT INTO vms (id, name, host_id, status, vcpus, memory_mb, disk_gb, created_at, updated_at)
    SELECT i,
           format('vm-%s', lpad(i::text, 7, '0')),
           1 + (i - 1) % host_count,
           CASE WHEN i % 997 = 0 AND i <= migration_count THEN 'migrating'
                WHEN i % 100 = 0 THEN 'stopped'
                ELSE 'running' END,
           (ARRAY[1, 2, 4, 8])[1 + i % 4],
           (ARRAY[2048, 4096, 8192, 16384])[1 + i % 4],
           (ARRAY[20, 40, 80, 160])[1 + i % 4],
           base - interval '300 days' + (i % 400000) * interval '1 minute',
           base - (i % 1440) * interval '1 minute'
      FROM generate_series(1, vm_count) AS i;

    -- Migration j moved VM j from the neighbouring host onto the host it now runs on.
    INSERT INTO migrations (id, vm_id, source_host_id, target_host_id, status, bytes_transferred,
                            started_at, finished_at, error)
    SELECT j, j,
           1 + j % host_count,
           1 + (j - 1) % host_count,
           s.status,
           CASE WHEN s.status = 'running' THEN (ARRAY[2048, 4096, 8192, 16384])[1 + j % 4]::bigint * 524288
                ELSE (ARRAY[2048, 4096, 8192, 16384])[1 + j % 4]::bigint * 1048576 END,
           s.started,
           CASE WHEN s.status = 'running' THEN NULL ELSE s.started + (30 + j % 600) * interval '1 second' END,
           CASE WHEN s.status = 'failed' THEN 'DWCP link timeout' END
      FROM generate_series(1, migration_count) AS j
     CROSS JOIN LATERAL (
           SELECT CASE WHEN j % 997 = 0 THEN 'running'
                       WHEN j % 20 = 0 THEN 'failed'
                       ELSE 'completed' END AS status,
                  CASE WHEN j % 997 = 0 THEN base - interval '2 minutes'
                       ELSE base - (j % 43200) * interval '1 minute' - interval '1 hour' END AS started
     ) AS s;

    INSERT INTO audit_log (id, occurred_at, actor, action, entity, entity_id, details)
    SELECT k,
           base - (audit_count - k) * interval '2 seconds',
           (ARRAY['scheduler', 'dwcp-agent', 'sre-oncall', 'api'])[1 + k % 4],
           (ARRAY['vm.create', 'migration.start', 'host.heartbeat'])[1 + k % 3],
           (ARRAY['vm', 'migration', 'host'])[1 + k % 3],
           CASE k % 3 WHEN 0 THEN 1 + k % vm_count
                      WHEN 1 THEN 1 + k % greatest(migration_count, 1)
                      ELSE 1 + k % host_count END,
           jsonb_build_object('seq', k)
      FROM generate_series(1, audit_count) AS k;

    PERFORM setval(pg_get_serial_sequence('hosts', 'id'), host_count);
    PERFORM setval(pg_get_serial_sequence('vms', 'id'), vm_count);
    PERFORM setval(pg_get_serial_sequence('migrations', 'id'), greatest(migration_count, 1));
    PERFORM setval(pg_get_serial_sequence('audit_log', 'id'), audit_count);

    INSERT INTO sandbox.seed_state (vms, hosts, migrations, audit_rows)
    VALUES (vm_count, host_count, migration_count, audit_count)
    ON CONFLICT (singleton) DO UPDATE
       SET vms = EXCLUDED.vms, hosts = EXCLUDED.hosts, migrations = EXCLUDED.migrations,
           audit_rows = EXCLUDED.audit_rows, seeded_at = now();
END;
$$;
