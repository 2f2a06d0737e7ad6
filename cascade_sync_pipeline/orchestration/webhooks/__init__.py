"""Webhooks from ClickUp and Wrike: the receiver, its SQLite inbox, and registration with the sources.

cascade-sync webhooks serve --port 8710
cascade-sync webhooks register --public-url URL [KEY ...]
"""
