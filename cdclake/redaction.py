"""Which fields are sensitive, and their values replaced wherever a value is shown.

Client names, tax ids, emails, addresses and bank details never reach a report, a JSON
result, a JUnit file or a log. The list is a setting: ``CDCLAKE_SENSITIVE_FIELDS``, comma
separated, shell-style patterns matched against each part of a dotted field path (so
``address*`` covers ``address.street`` and the mart's ``address_city``).
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

DEFAULT_SENSITIVE_FIELDS = ("*name", "tax_id", "vat_number", "*email", "address*", "*iban", "*bic", "bank*")
REDACTED = "[redacted]"
ENV_VAR = "CDCLAKE_SENSITIVE_FIELDS"


@dataclass(frozen=True)
class Redactor:
    patterns: tuple[str, ...] = DEFAULT_SENSITIVE_FIELDS

    @classmethod
    def from_env(cls) -> Redactor:
        return _redactor_for(os.environ.get(ENV_VAR))

    def is_sensitive(self, path: str) -> bool:
        """True when any part of the dotted ``path`` matches a sensitive pattern."""
        return any(fnmatch.fnmatchcase(part.lower(), pattern) for part in path.split(".") for pattern in self.patterns)

    def value(self, path: str, value: Any) -> Any:
        """``value`` with every sensitive part replaced, nested documents and arrays included."""
        if value is None:
            return None
        if self.is_sensitive(path):
            return REDACTED
        if isinstance(value, Mapping):
            return {name: self.value(f"{path}.{name}" if path else str(name), item) for name, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(path, item) for item in value]
        return value


@lru_cache(maxsize=8)
def _redactor_for(setting: str | None) -> Redactor:
    if setting is None:
        return Redactor()
    patterns = tuple(part.strip().lower() for part in setting.split(",") if part.strip())
    return Redactor(patterns)
