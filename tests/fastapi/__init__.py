"""Tests of the FastAPI/Starlette recipe in docs/fastapi.md."""
