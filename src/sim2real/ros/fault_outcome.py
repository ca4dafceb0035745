"""What a fault scenario reports and what counts as unsafe (ros/faults.py runs the in-process
scenarios, ros/faults_live.py those on separate node processes; both report these)."""
from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field

OVERSPEED = 1.05       # x velocity limit
OVERTRAVEL = 0.005     # rad past a hard position limit
LOCK_DRIFT = 0.05      # rad a locked arm may sag
DEAD_DRIFT = 0.10      # rad the arm may move while a node is dead


@dataclass
class Outcome:
    fault: str
    injected: str
    unsafe: list[str] = field(default_factory=list)
    diagnostics: list[str] = field(default_factory=list)
    data_lost: str = "-"

    @property
    def safe(self) -> bool:
        return not self.unsafe


# DDS domains for the scenarios' graphs, one each (participants of a closed graph linger)
domains = itertools.count(int(os.environ.get("ROS_DOMAIN_ID", "0")) % 100 + 120)
