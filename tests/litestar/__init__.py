"""Tests of the Litestar integration (typed_events.contrib.litestar), with the real litestar."""
