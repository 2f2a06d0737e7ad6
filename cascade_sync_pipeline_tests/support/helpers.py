"""Small helpers several test modules share."""

from __future__ import annotations

import dagster as dg

CLASSIC_BASE = "/api/v2"  # where the classic Cascade API (and its emulator) answers


class AppSwitch:
    """A WSGI app that forwards to whichever app is set on it: one loopback server per module,
    each test answered by its own fresh emulator."""

    app = None

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)


def failure_message(result: dg.ExecuteInProcessResult) -> str:
    """The step failure's message and those of its causes (Dagster wraps the error the op raised)."""
    failures = [e for e in result.all_events if e.is_step_failure]
    error, messages = (failures[0].step_failure_data.error if failures else None), []
    while error is not None:
        messages.append(error.message)
        error = error.cause
    return "\n".join(messages)
