"""Governance: the tamper-evident audit log (and, with the registry, the PII policy).

Example:
    >>> from framework.governance import AuditLog
    >>> log = AuditLog.default()                                            # doctest: +SKIP
    >>> log.append("promote", "ok", model={"name": "ctr", "version": "3"})  # doctest: +SKIP
    >>> log.verify().ok                                                     # doctest: +SKIP
    True
"""

from framework.governance.audit import ACTIONS, AuditLog, AuditVerification, audit_identity, default_audit_path

__all__ = ["ACTIONS", "AuditLog", "AuditVerification", "audit_identity", "default_audit_path"]
