"""An extension module whose own dependency is missing: a bug to surface, not to skip."""

from __future__ import annotations

import not_installed_dependency_of_extension  # type: ignore[import-not-found]  # on purpose

__all__ = ["not_installed_dependency_of_extension"]
