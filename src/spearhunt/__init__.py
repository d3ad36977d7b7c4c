"""spearhunt: hunt espionage campaigns from the phishing mail to the exfiltration."""

from __future__ import annotations

__version__ = "0.1.0"
