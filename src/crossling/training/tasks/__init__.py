"""The tasks of the paper by name: adding a task is one module and one line in `TASKS`."""

from __future__ import annotations

from crossling.core.errors import ConfigError
from crossling.training.tasks.base import Task
from crossling.training.tasks.ner import NerTask
from crossling.training.tasks.parsing import ParsingTask
from crossling.training.tasks.pos import PosTask

TASKS: dict[str, Task] = {"pos": PosTask(), "parsing": ParsingTask(), "ner": NerTask()}


def get_task(name: str) -> Task:
    """The task called ``name``; a ConfigError listing the others if there is none."""
    try:
        return TASKS[name]
    except KeyError:
        raise ConfigError(f"unknown task {name!r} (available: {', '.join(TASKS)})") from None
