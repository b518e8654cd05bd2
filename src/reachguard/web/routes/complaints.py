"""Complaints queue (placeholder until the case table lands)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
