"""Plain helpers the test packages share: emulator set-up, the test worlds, the connector validator and
the paths of the repository and the reference files. Fixtures are in the conftest.py files instead."""
