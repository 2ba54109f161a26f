"""Fixtures for the command-line and pytest-plugin tests."""
