-- A neutralized copy (odoo-bin neutralize, or a staging restore) must never
-- talk to the production systems: archive every backend and drop the
-- tokens it holds, and stop the queue from running what is left.
UPDATE integration_backend
   SET active = false,
       access_token_encrypted = NULL,
       access_token_expires_at = NULL;
UPDATE integration_sync_job
   SET state = 'failed',
       last_error = 'Stopped: this database is a neutralized copy.'
 WHERE state IN ('pending', 'running');
-- The metrics token of production must not open a copy's metrics.
DELETE FROM ir_config_parameter WHERE key = 'integration_audit.metrics_token';
