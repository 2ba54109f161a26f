"""docs/cli.md shows real output: every ``console`` block of the page is run and compared.

Each block runs in one bash session (so ``echo $?`` works) in a copy of ``apps/myapp``,
whose directory is shown as ``/home/me/project``. Set ``DOCS_UPDATE_OUTPUT=1`` to rewrite
the page's outputs with what the commands print now.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from .conftest import APPS

PAGE = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
SHOWN_DIRECTORY = "/home/me/project"
_MARKER = "@@typed-events-docs-command@@"


@dataclass
class ConsoleBlock:
    """A ``console`` fence: its commands (``$ ...``), each with the output shown after it."""

    first_line: int  # 0-based index of the first line inside the fence
    commands: list[str]
    outputs: list[list[str]]


def _console_blocks(lines: list[str]) -> list[ConsoleBlock]:
    blocks = []
    index = 0
    while index < len(lines):
        if lines[index].strip() != "```console":
            index += 1
            continue
        block = ConsoleBlock(index + 1, [], [])
        index += 1
        while lines[index].strip() != "```":
            if lines[index].startswith("$ "):
                block.commands.append(lines[index][2:])
                block.outputs.append([])
            else:
                block.outputs[-1].append(lines[index])
            index += 1
        blocks.append(block)
    return blocks


def _run(block: ConsoleBlock, directory: Path) -> list[list[str]]:
    # The marker must not reset $?: the page shows `echo $?` after a command.
    script = "\n".join(
        f"status=$?; echo {_MARKER}; (exit $status)\n{command}" for command in block.commands
    )
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("MYAPP_REDIS_URL", "COV_CORE_SOURCE")
    }
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        PYTHONUNBUFFERED="1",  # stdout and stderr interleave as on a terminal
        NO_COLOR="1",
        COLUMNS="100",
    )
    done = subprocess.run(
        ["bash", "-c", script],
        cwd=directory,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=120,
        env=env,
    )
    printed = done.stdout.replace(str(directory), SHOWN_DIRECTORY)
    chunks = printed.split(f"{_MARKER}\n")[1:]
    return [chunk.splitlines() for chunk in chunks]


def _normalized(lines: list[str]) -> list[str]:
    return [line.rstrip() for line in lines]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copytree(
        APPS / "myapp", tmp_path / "myapp", ignore=shutil.ignore_patterns("__pycache__")
    )
    return tmp_path


def test_the_page_shows_what_the_commands_print(project: Path) -> None:
    lines = PAGE.read_text(encoding="utf-8").splitlines()
    blocks = _console_blocks(lines)
    assert len(blocks) >= 10, "the page lost its examples"
    update = os.environ.get("DOCS_UPDATE_OUTPUT") == "1"
    mismatches = []
    for block in reversed(blocks):  # bottom-up, so rewriting keeps earlier indexes valid
        printed = _run(block, project)
        assert len(printed) == len(block.commands), printed
        if [_normalized(o) for o in printed] == [_normalized(o) for o in block.outputs]:
            continue
        mismatches.append(f"docs/cli.md:{block.first_line + 1}: {block.commands}")
        if update:
            body = [
                line
                for command, output in zip(block.commands, printed, strict=True)
                for line in [f"$ {command}", *_normalized(output)]
            ]
            end = block.first_line + sum(1 + len(o) for o in block.outputs)
            lines[block.first_line : end] = body
    if update and mismatches:
        PAGE.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert not mismatches, "the page shows other output than the commands print:\n" + "\n".join(
        mismatches
    )
