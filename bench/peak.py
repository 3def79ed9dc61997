"""Peak memory of the running process, for the benchmarks that state a memory target.

`getrusage(...).ru_maxrss` is not it for a child started by spawn (fork + exec): Linux carries
the parent's high-water mark across exec, so a child of a parent holding 3 GB reports at least
3 GB. `VmHWM` in /proc/self/status belongs to the process's own memory map, new at exec.
"""

from __future__ import annotations

import resource
from pathlib import Path


def peak_mb() -> float:
    """This process's peak resident memory in MiB (VmHWM; ru_maxrss where /proc is missing)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
