"""The app the CLI docs page (docs/cli.md) runs ``typed-events`` on."""
