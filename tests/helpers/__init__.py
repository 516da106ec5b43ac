"""What the tests share: records and queries, rows, fixture plugins, and the
scripts and apps that tests run in subprocesses. Test modules import from
here, never from ``conftest.py`` or from one another."""
