"""Webhooks from ClickUp and Wrike: the receiver, its SQLite inbox, and registration with the sources.

    python -m cascade_sync_pipeline.orchestration.webhooks serve --port 8710
    python -m cascade_sync_pipeline.orchestration.webhooks register --public-url URL [KEY ...]
"""
