"""The platform's default list of ten key tasks, derived from Yangzhou's six actions.

A city configures its own list through the API (`POST /tasks`); this one is where a city
starts (the demo loads it). Every one of the thirteen departments leads or supports at
least one task.
"""

from __future__ import annotations

from dataclasses import dataclass

# The six actions of seed 003, as the tasks' `action` codes.
ACTIONS = {
    "learning-map": "全域育人地图 the city-wide learning map",
    "team": "队伍素养 the alliance team's quality",
    "curriculum": "亲子课程 the parent-child curriculum",
    "canal": "运河思政 the Grand Canal civic programme",
    "care": "关爱每一个 caring for every child",
    "guarantees": "制度保障 institutional guarantees",
}


@dataclass(frozen=True)
class DefaultTask:
    code: str
    title: str
    action: str
    lead: str
    supporting: tuple[str, ...]


DEFAULT_TASKS: tuple[DefaultTask, ...] = (
    DefaultTask(
        "T01", "建好全域育人地图 Open venues and practice bases to every school",
        "learning-map", "cult", ("edu", "sci", "fin"),
    ),
    DefaultTask(
        "T02", "三级家长学校全覆盖 Three-level parent schools in every community",
        "learning-map", "edu", ("wf", "civ"),
    ),
    DefaultTask(
        "T03", "协同育人队伍培训 Train teachers, parents and volunteers together",
        "team", "edu", ("wf", "cyl", "ccng"),
    ),
    DefaultTask(
        "T04", "志愿服务与护学岗 Checked volunteers on school posts",
        "team", "cyl", ("pol", "ccng"),
    ),
    DefaultTask(
        "T05", "百场讲座进万家 A hundred lectures for a hundred thousand families",
        "curriculum", "wf", ("edu", "jus", "hlth", "proc"),
    ),
    DefaultTask(
        "T06", "法治与安全教育 Rule of law and school safety",
        "curriculum", "jus", ("pol", "proc"),
    ),
    DefaultTask(
        "T07", "运河思政研学 Grand Canal study tours and civic lessons",
        "canal", "edu", ("cult", "prop"),
    ),
    DefaultTask(
        "T08", "关爱特殊群体儿童 Files, mentors and visits for every child in need",
        "care", "edu", ("civ", "hlth", "ccng"),
    ),
    DefaultTask(
        "T09", "科学教育与身心健康 Science and health vice-principals in every school",
        "care", "sci", ("hlth", "edu"),
    ),
    DefaultTask(
        "T10", "联席会议与经费保障 Joint meetings, evaluation and the alliance fund",
        "guarantees", "edu", ("fin", "prop"),
    ),
)  # fmt: skip
