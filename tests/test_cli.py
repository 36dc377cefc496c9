"""The command line: every command's help shows a runnable example."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from cctwin.cli import main


@pytest.mark.parametrize("command", sorted(main.commands))
def test_help_shows_an_example_on_a_line_of_its_own(command):
    result = CliRunner().invoke(main, [command, "--help"])

    assert result.exit_code == 0, result.output
    lines = [line.strip() for line in result.output.splitlines()]
    # click folds a paragraph unless it follows a "\b" marker: an example must
    # survive as one whole line that a user can copy.
    assert any(line.startswith(f"cctwin {command} ") for line in lines), result.output


def test_top_level_help_lists_a_first_command():
    result = CliRunner().invoke(main, ["--help"])

    assert result.exit_code == 0
    assert any(
        line.strip().startswith("cctwin forecast config/")
        for line in result.output.splitlines()
    )
