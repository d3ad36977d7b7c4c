"""Readers of what ``spearhunt posture`` measures the defences from: sign-in logs, software
inventories, the KEV catalog and CVE records, message traces and the zones file.

Every reader has the shape of ``ingest.events``: bounded sizes, a bad record is an
``IngestWarning`` and is skipped, a file that cannot be read at all raises ``IngestError`` for
that file only; records come out as the frozen values of ``model.posture``.
"""
