"""Names are data, never code: the Python twin of macros/quoting.sql, for the few places
Python hands Spark a name of its own (the reconciliation lists and reads landing files;
every module writes the schema bare into SQL).

A file's path has one form wherever it is stored or compared: the Hadoop path as Spark
lists it (binaryFile's ``path``, ``file:/...`` or ``s3://...``, not URI-escaped).
"""

from __future__ import annotations

import re

_GLOB_SPECIAL = re.compile(r"([\\{}\[\]*?,])")
_SCHEMA = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class UnusableName(ValueError):
    """A setting or name that cannot reach Spark safely; the message names the setting."""


def hadoop_glob_literal(path: str) -> str:
    """A glob matching exactly ``path``: Spark globs every path it reads or lists that
    holds one of ``\\ { } [ ] * ? ,``, so each is escaped with a backslash (Hadoop's
    GlobPattern honours it). Same rule as the macro ``hadoop_glob_literal``."""
    return _GLOB_SPECIAL.sub(r"\\\1", path)


def glob_literal(text: str) -> str:
    """``text`` as a Python glob/fnmatch pattern matching only itself (``glob.escape``'s
    rule, which fnmatch shares): for the sensors' patterns over landing paths and keys."""
    return re.sub(r"([*?\[])", r"[\1]", text)


def checked_schema(name: str, setting: str = "CDCLAKE_SCHEMA") -> str:
    """The schema (Iceberg namespace), written bare into SQL everywhere: refused unless it
    is a plain identifier. Same rule as the macro ``checked_schema_name``."""
    if not _SCHEMA.fullmatch(name):
        raise UnusableName(
            f'{setting}="{name}" is not a usable schema name: use letters, digits and underscores, '
            "not starting with a digit"
        )
    return name


def sql_string(text: str) -> str:
    """A Spark SQL string literal holding exactly ``text``: the backslash escaped first,
    then the quote. Same rule as the macro ``sql_string``."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def sql_identifier(name: str) -> str:
    """A backticked identifier; inside backticks only the backtick is special, doubled.
    Same rule as the macro ``sql_identifier``."""
    return "`" + name.replace("`", "``") + "`"
