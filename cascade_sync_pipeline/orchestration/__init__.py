"""When syncs run: per-workspace schedules, the webhook receiver and inbox, and webhook sensors."""

__all__ = ["build_orchestration_defs"]


def __getattr__(name: str):
    # Lazy, so the receiver process (`python -m ...orchestration.webhooks`) does not import Dagster.
    if name == "build_orchestration_defs":
        from cascade_sync_pipeline.orchestration.definitions import build_orchestration_defs

        return build_orchestration_defs
    raise AttributeError(name)
