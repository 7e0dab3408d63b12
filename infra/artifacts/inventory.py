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
        entries[_normal(name)] = {"name": name, "bytes": size, "required_by": []}
    for dist in metadata.distributions():
        for requirement in dist.requires or []:
            if "extra ==" in requirement:
                continue  # an optional extra: installed only if something else asked for it
            needed = _normal(re.split(r"[\s\[<>=!~;(]", requirement, maxsplit=1)[0])
            if needed in entries:
                entries[needed]["required_by"].append(dist.metadata["Name"])
    print(json.dumps(sorted(entries.values(), key=lambda e: e["name"].lower())))


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


if __name__ == "__main__":
    main()
