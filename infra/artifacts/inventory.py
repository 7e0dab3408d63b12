"""Print, as JSON, every distribution of the running Python's environment: its name, its
size on disk and the distributions that require it. Run by build.py with the packed venv's
own interpreter, so it sees that venv and nothing else; standard library only."""

import json
import re
from importlib import metadata


def main() -> None:
    entries = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        size = sum(f.locate().stat().st_size for f in dist.files or [] if f.locate().is_file())
        entries[normal_name(name)] = {"name": name, "bytes": size, "required_by": []}
    for dist in metadata.distributions():
        for requirement in dist.requires or []:
            if "extra ==" in requirement:
                continue  # an optional extra: installed only if something else asked for it
            needed = normal_name(requirement_name(requirement))
            if needed in entries:
                entries[needed]["required_by"].append(dist.metadata["Name"])
    print(json.dumps(sorted(entries.values(), key=lambda e: e["name"].lower())))


def requirement_name(requirement: str) -> str:
    """The distribution a requirement line names (``pandas<3`` -> ``pandas``)."""
    return re.split(r"[\s\[<>=!~;(]", requirement.strip(), maxsplit=1)[0]


def normal_name(name: str) -> str:
    """A distribution's name as PEP 503 compares them (build.py uses it too)."""
    return re.sub(r"[-_.]+", "-", name).lower()


if __name__ == "__main__":
    main()
