"""Planners: who must be told, durably, about each event (outbox rows in the same transaction).

Each feature registers one planner here; order does not matter.
"""

from __future__ import annotations

from pocketping.actions.unit import Planner

PLANNERS: list[Planner] = []
