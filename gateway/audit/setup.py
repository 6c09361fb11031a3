"""Build the audit writer the settings describe: the spool, the store behind it, the gauges."""

from __future__ import annotations

from gateway.audit.postgres import PostgresSink
from gateway.audit.sink import AuditSink
from gateway.audit.spool import Spool
from gateway.audit.sqlite import SqliteSink
from gateway.audit.writer import AuditWriter
from gateway.metrics import Metrics
from gateway.settings import Settings


def build_audit_writer(settings: Settings, instance_id: str, metrics: Metrics) -> AuditWriter:
    """The writer (not started: ``await writer.start()`` opens spool and store)."""
    audit = settings.audit
    sink: AuditSink
    if audit.sink == "sqlite":
        sink = SqliteSink(settings.audit_db_path, instance_id=instance_id)
    else:
        sink = PostgresSink(audit, instance_id)
    spool_path = audit.spool_path or settings.state_dir / f"audit-spool-{instance_id}.ndjson"
    spool = Spool(spool_path, audit.spool_max_bytes, fsync=audit.fsync)
    writer = AuditWriter(sink, spool, audit, metrics, retry_max_s=audit.replay_interval_seconds)
    metrics.watch_audit(depth=lambda: writer.depth, spool_bytes=lambda: writer.spool_bytes)
    metrics.watch_dependency("audit_spool", lambda: writer.healthy)
    metrics.watch_dependency("audit_store", lambda: writer.store_up)
    return writer
