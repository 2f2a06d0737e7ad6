"""How the emulated Cascade computes progress and health (the sync never writes health).

Rules, after Cascade's help centre (reference/cascade-and-peers.md, A3):

* Expected progress grows linearly from the start date (or the creation date) to the due date,
  0 % before the start and 100 % from the due date on. (Cascade steps measures monthly by default;
  the emulator uses the linear line for every kind, which is what it shows for actions.)
* health = actual ÷ expected progress:  >= 0.95 On Track, 0.85–0.95 Behind, < 0.85 At Risk.
  A start date in the future gives Not Started; no due date gives Not Tracked; reaching the target
  gives Achieved, passing it (measures only) Exceeded; expected 0 % (today is the start) is On Track.
* Status: To Do / In Progress / On Hold are context only (no effect). Done keeps progress as it is and
  overrides health: Achieved when the target is reached, otherwise On Track. Won't Do takes the item
  out of its parent's progress and health, and its own health is Not Tracked.
* An objective's progress is the plain average of its success criteria's progress (actions,
  measures and contributing child objectives; archived and Won't Do ones left out; each capped at
  100 %). Its health is the average of the criteria's health ratios, each capped at 1.0, classified
  with the same thresholds; all criteria achieved gives Achieved; no scored criteria gives Not Started.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

ON_TRACK_MIN = 0.95
BEHIND_MIN = 0.85

NOT_STARTED = "Not Started"
NOT_TRACKED = "Not Tracked"
ON_TRACK = "On Track"
BEHIND = "Behind"
AT_RISK = "At Risk"
ACHIEVED = "Achieved"
EXCEEDED = "Exceeded"
HEALTHS = (NOT_STARTED, NOT_TRACKED, ON_TRACK, BEHIND, AT_RISK, ACHIEVED, EXCEEDED)

DONE = "Done"
WONT_DO = "Won't Do"


@dataclass(frozen=True)
class Assessment:
    """An item's health and the ratio a parent averages (None: the parent ignores it)."""

    health: str
    score: float | None


def expected_fraction(start: date, due: date, today: date) -> float:
    """Share of the start→due window that has elapsed, clamped to 0..1."""
    if today >= due:
        return 1.0
    if today <= start:
        return 0.0
    return (today - start).days / (due - start).days


def classify(ratio: float) -> str:
    if ratio >= ON_TRACK_MIN:
        return ON_TRACK
    if ratio >= BEHIND_MIN:
        return BEHIND
    return AT_RISK


def assess(progress: float | None, start: date | None, due: date | None, today: date, *,
           status: str | None = None, created: date | None = None) -> Assessment:
    """Health of an action or a measure whose progress is a percentage of its target."""
    if status == WONT_DO:
        return Assessment(NOT_TRACKED, None)
    pct = progress or 0.0
    if status == DONE:
        return Assessment(ACHIEVED if pct >= 100 else ON_TRACK, 1.0)
    if pct > 100:
        return Assessment(EXCEEDED, 1.0)
    if pct >= 100:
        return Assessment(ACHIEVED, 1.0)
    start = start or created
    if start is not None and today < start:
        return Assessment(NOT_STARTED, None)
    if due is None:
        return Assessment(NOT_TRACKED, None)
    expected = expected_fraction(start or due, due, today)
    if expected <= 0:
        return Assessment(ON_TRACK, 1.0)
    ratio = (pct / 100.0) / expected
    return Assessment(classify(ratio), min(ratio, 1.0))


def assess_maintain(current: float | None, target: float, start: date | None, today: date) -> Assessment:
    """A "maintain" measure (initial == target) has health but no progress: on target or behind."""
    if start is not None and today < start:
        return Assessment(NOT_STARTED, None)
    if current is not None and current == target:
        return Assessment(ON_TRACK, 1.0)
    return Assessment(BEHIND, BEHIND_MIN)


def measure_progress(initial: float, target: float, current: float | None) -> float | None:
    """Percent of the way from initial to target (works for inverse targets); None for maintain."""
    if target == initial:
        return None
    value = initial if current is None else current
    return round(max(0.0, (value - initial) / (target - initial) * 100.0), 2)


def roll_up(criteria: list[tuple[float | None, Assessment]], status: str | None) -> tuple[float | None, Assessment]:
    """An objective's (progress, assessment) from its success criteria's (progress, assessment)."""
    progresses = [min(p, 100.0) for p, _ in criteria if p is not None]
    progress = round(sum(progresses) / len(progresses), 2) if progresses else None
    if status == WONT_DO:
        return progress, Assessment(NOT_TRACKED, None)
    if status == DONE:
        return progress, Assessment(ACHIEVED if (progress or 0) >= 100 else ON_TRACK, 1.0)
    if criteria and all(a.health in (ACHIEVED, EXCEEDED) for _, a in criteria):
        return progress, Assessment(ACHIEVED, 1.0)
    scores = [a.score for _, a in criteria if a.score is not None]
    if not scores:
        return progress, Assessment(NOT_STARTED, None)
    ratio = sum(scores) / len(scores)
    return progress, Assessment(classify(ratio), ratio)
