"""What a server's process tree costs, read from /proc: CPU seconds, resident memory, open files; and how
busy a core was, so the work of processes that are not ours shows."""

from __future__ import annotations

import os
from dataclasses import dataclass

_TICK = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as f:
        raw = f.read()
    return raw[raw.rindex(")") + 2 :].split()  # fields after the command name, starting at `state`


def tree(root: int) -> list[int]:
    """`root` and all its descendants alive now."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            ppid = int(_stat_fields(int(entry))[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, ()))
    return found


@dataclass(frozen=True, slots=True)
class Sample:
    """One reading of a process tree."""

    cpu_s: float
    rss_kb: int
    fds: int


def sample(roots: list[int]) -> Sample:
    """CPU (user+system, reaped children included), RSS and open fds summed over the trees of `roots`."""
    cpu, rss, fds = 0.0, 0, 0
    for root in roots:
        for pid in tree(root):
            try:
                fields = _stat_fields(pid)
                cpu += sum(int(v) for v in fields[11:15]) / _TICK  # utime stime cutime cstime
                rss += int(fields[21]) * os.sysconf("SC_PAGE_SIZE") // 1024
                fds += len(os.listdir(f"/proc/{pid}/fd"))
            except (OSError, ValueError, IndexError):
                continue
    return Sample(cpu, rss, fds)


def self_cpu() -> float:
    """This process's CPU seconds (the load generator reports its own cost)."""
    t = os.times()
    return t.user + t.system


def core_busy(cpu: int) -> float:
    """Seconds core `cpu` has spent busy since boot (everything but idle and iowait, from /proc/stat)."""
    with open("/proc/stat") as f:
        line = next(line for line in f if line.startswith(f"cpu{cpu} "))
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in line.split()[1:9])
    return (user + nice + system + irq + softirq + steal) / _TICK
