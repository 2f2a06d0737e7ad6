"""What a check over the sync tables found: the problems, each naming the item, and the fix.

Plain Python; the Dagster asset checks only report these.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

SHOWN = 15


@dataclass(frozen=True)
class Outcome:
    name: str
    problems: list[str] = field(default_factory=list)
    fix: str = ""
    blocking: bool = True

    @property
    def passed(self) -> bool:
        return not self.problems

    def message(self, workspace: str) -> str:
        if self.passed:
            return f"workspace '{workspace}': {self.name} passed"
        shown = "; ".join(self.problems[:SHOWN])
        more = f" (and {len(self.problems) - SHOWN} more)" if len(self.problems) > SHOWN else ""
        return f"workspace '{workspace}': {len(self.problems)} problem(s): {shown}{more}. Fix: {self.fix}"


def lines(con: duckdb.DuckDBPyConnection, sql: str, workspace: str, **params: str) -> list[str]:
    return [row[0] for row in con.execute(sql, {"ws": workspace, **params}).fetchall()]
