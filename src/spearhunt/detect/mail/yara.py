"""YARA rules (yara-x) from a user folder, run on every extracted part."""

from __future__ import annotations

from pathlib import Path

from spearhunt.errors import UsageError

RULE_SUFFIXES = (".yar", ".yara")


class YaraRules:
    """Compiled rules from every .yar/.yara file under a folder, one namespace per file."""

    def __init__(self, folder: Path, timeout: int = 5) -> None:
        import yara_x

        if not folder.is_dir():
            raise UsageError("YARA rules folder not found", where=str(folder))
        compiler = yara_x.Compiler()
        files = sorted(
            p for p in folder.rglob("*") if p.suffix.lower() in RULE_SUFFIXES and p.is_file()
        )
        if not files:
            raise UsageError("no .yar/.yara files in the YARA folder", where=str(folder))
        for path in files:
            compiler.new_namespace(path.stem.replace("-", "_").replace(" ", "_") or "rules")
            try:
                compiler.add_source(path.read_text("utf-8", "replace"), origin=str(path))
            except yara_x.CompileError as exc:
                raise UsageError(f"YARA rule does not compile: {exc}", where=str(path)) from exc
        self._rules = compiler.build()
        self._timeout = timeout
        self.count = len(files)

    def match(self, data: bytes) -> list[str]:
        """Names (namespace.rule) of the rules matching ``data``; [] on scan timeout."""
        import yara_x

        scanner = yara_x.Scanner(self._rules)
        scanner.set_timeout(self._timeout)
        try:
            result = scanner.scan(data)
        except yara_x.TimeoutError:
            return ["(scan timed out)"]
        return [f"{r.namespace}.{r.identifier}" for r in result.matching_rules]
