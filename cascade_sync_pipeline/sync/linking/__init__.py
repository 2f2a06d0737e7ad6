"""The sync on Cascade's Integrations API: link source work to existing actions and measures, and
push the values computed from the source (it can create nothing)."""
