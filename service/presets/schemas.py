"""API schemas of presets."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class PresetSummary(BaseModel):
    name: str
    title: str
    table: str | None = Field(None, description="The paper table the preset reproduces (or what it extends).")
    description: str
    trial_count: int = Field(description="Trials the preset expands to with its own seeds.")


class PresetRead(PresetSummary):
    spec: dict[str, Any]
