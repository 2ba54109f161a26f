"""Apps the command-line tests point ``typed-events`` at (imported with --app-dir)."""
