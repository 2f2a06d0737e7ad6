"""Everything Cascade-specific: one client per real API (``classic.py`` for the classic API's goals
and tasks, ``integrations.py`` for the Integrations API's actions and measures), their shared
errors, and ``CONTRACT.md``: what each API cannot do and what is still unknown about it."""
