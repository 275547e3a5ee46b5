"""The adaptive part of a study config (``grid.adaptive``): its settings with defaults, the cells it
chooses among, and the checks a schema cannot make."""

from __future__ import annotations

from pathlib import Path

from .grid import SOURCES, Cell, ConfigError, canonical, recipe_names, training_cells


def adaptive_settings(config: dict) -> dict | None:
    """``grid.adaptive`` with its defaults (``analysis.adaptive.SETTINGS``), or None when it is off."""
    from ..analysis.adaptive import SETTINGS

    a = config["grid"].get("adaptive") or {}
    if not a.get("enabled", False):
        return None
    return canonical({**SETTINGS, **{k: v for k, v in a.items() if k != "enabled"}})


def adaptive_candidates(config: dict) -> list[Cell]:
    """The cells an adaptive study chooses from: the plain grid's (curated and synthetic)."""
    return [c for c in training_cells(config) if c.data_source in SOURCES]


def check_adaptive(config: dict) -> None:
    """An adaptive study trains plain grid cells only (recipes and single-ability cells are not cells it
    could skip), and its seed design needs two curated sizes."""
    settings = adaptive_settings(config)
    if settings is None:
        return
    grid = config["grid"]
    if recipe_names(config) or (grid.get("single_ability") or {}).get("sizes"):
        raise ConfigError("grid.adaptive: an adaptive study chooses among the plain grid's cells; "
                          "grid.recipes and grid.single_ability must be empty")
    if len((grid["data_sizes"].get("curated") or [])) < 2:
        raise ConfigError("grid.adaptive: needs at least two curated data sizes (grid.data_sizes.curated)")
    against = (grid.get("adaptive") or {}).get("validate_against")
    if against:
        missing = [f"{against}/tables/{t}.parquet" for t in ("scores", "predictions")
                   if not (Path(against) / "tables" / f"{t}.parquet").is_file()]
        if missing:
            raise ConfigError(f"grid.adaptive.validate_against: no such file {', '.join(missing)}")
