"""What the doctor reports: one Finding per check (and joint), OK / suspicious / wrong."""
from __future__ import annotations

from dataclasses import asdict, dataclass

OK, SUSPICIOUS, WRONG = "OK", "suspicious", "wrong"
UNKNOWN = "cannot tell"     # the experiment cannot observe it: said plainly, not counted as a fault


@dataclass
class Finding:
    check: str          # e.g. "joint order", "direction", "torque gain"
    joint: str          # joint name, or "-" for whole-driver checks
    status: str         # OK | suspicious | wrong | cannot tell
    measured: str
    model: str
    note: str = ""
    alternatives: list | None = None   # explanations that fit as well (lists of reversed joints), for --json

    def as_dict(self) -> dict:
        d = asdict(self)
        if d["alternatives"] is None:
            del d["alternatives"]
        return d


def worst(findings) -> str:
    states = {f.status for f in findings}
    return WRONG if WRONG in states else SUSPICIOUS if SUSPICIOUS in states else OK
