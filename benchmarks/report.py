"""Figures beside their goals: one JSON document and a short table."""

from __future__ import annotations

import json
import os
import platform
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Figure:
    """One measured number. ``goal`` is a bound (``op`` says which way), or None for context figures."""

    benchmark: str
    name: str
    value: float | int | str | None
    unit: str = ""
    goal: float | int | None = None
    op: str = "<="  # value op goal must hold
    note: str = ""

    @property
    def met(self) -> bool | None:
        if self.goal is None or not isinstance(self.value, (int, float)):
            return None
        return {"<=": self.value <= self.goal, ">=": self.value >= self.goal, "==": self.value == self.goal}[self.op]

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "met": self.met}


@dataclass
class Report:
    figures: list[Figure] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # benchmark -> why it did not run

    def add(self, *figures: Figure) -> None:
        self.figures.extend(figures)

    def as_dict(self) -> dict[str, Any]:
        return {
            "machine": {
                "cpus": os.cpu_count(),
                "load_average_1m": round(os.getloadavg()[0], 2),
                "python": platform.python_version(),
            },
            "figures": [f.as_dict() for f in self.figures],
            "skipped": self.skipped,
            "goals_missed": [f"{f.benchmark}: {f.name}" for f in self.figures if f.met is False],
        }

    def table(self) -> str:
        rows = [("benchmark", "figure", "value", "goal", "")]
        for f in self.figures:
            value = f"{_fmt(f.value)} {f.unit}".strip()
            goal = "" if f.goal is None else f"{f.op} {_fmt(f.goal)} {f.unit}".strip()
            mark = {True: "ok", False: "MISSED", None: ""}[f.met]
            rows.append((f.benchmark, f.name, value, goal, mark))
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)).rstrip() for r in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        notes = [f"  [{i}] {f.benchmark}: {f.name}: {f.note}" for i, f in enumerate(self.figures, 1) if f.note]
        if notes:
            lines += ["notes:", *notes]
        lines += [f"skipped {name}: {why}" for name, why in self.skipped.items()]
        return "\n".join(lines)

    def dump(self) -> str:
        return json.dumps(self.as_dict(), indent=2, default=str)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return "" if value is None else str(value)
