"""How the simulated DMS files reach the landing folder: in order, or as real streams do.

Real deliveries are messy: a file can arrive after newer files were already applied, and
the same file can land twice. The chaotic plan produces both, without changing a single
event, so the final state must come out the same as with the orderly plan.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from .simulator import LandedFile


@dataclass
class Delivery:
    """Copies files from the outbox to landing, holding some back when asked to."""

    outbox: Path
    landing_root: Path
    held_back: list[LandedFile] = field(default_factory=list)
    landed: list[LandedFile] = field(default_factory=list)

    def land(self, files: list[LandedFile]) -> None:
        for file in files:
            target = self.landing_root / file.relative_path
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(target.name + ".inprogress")
            # copyfile, not copy2: a file landed again gets a new modification time, as on S3.
            shutil.copyfile(self.outbox / file.relative_path, tmp)
            tmp.replace(target)
            self.landed.append(file)

    def land_batch(self, files: list[LandedFile], chaotic: bool) -> None:
        """Land one CDC batch; a chaotic delivery holds one file back until the next batch
        and lands again a file that was already delivered."""
        earlier = list(self.landed)
        if not chaotic or len(files) < 2:
            self.land(self.held_back + files)
            self.held_back = []
            return
        late = max(files, key=lambda f: f.rows)
        on_time = [f for f in files if f is not late]
        self.land(on_time + self.held_back)
        self.held_back = [late]
        if earlier:
            self.land([earlier[-1]])

    def flush(self) -> None:
        """Land whatever is still held back."""
        self.land(self.held_back)
        self.held_back = []
