"""The lab's own tests use the `lab` and `fault` fixtures that tests/conftest.py loads."""
