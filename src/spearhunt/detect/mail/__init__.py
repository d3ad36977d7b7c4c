"""Mail triage checks and scoring."""

from __future__ import annotations

from spearhunt.detect.mail.analyze import MailAnalyzer, unwrap_report
from spearhunt.detect.mail.config import MailConfig, load_config
from spearhunt.detect.mail.yara import YaraRules

__all__ = ["MailAnalyzer", "MailConfig", "YaraRules", "load_config", "unwrap_report"]
