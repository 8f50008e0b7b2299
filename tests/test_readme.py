"""The README's set-up block is found as a shell types it: the first fenced block after a
heading with "Set-up", two commands, both in the virtual environment."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def set_up_commands(text: str) -> list[str]:
    # as a checker reads it: from the first heading naming the set-up, lazily across lines
    # and headings (so "setup" must not appear again before a later fence), to the next fence
    m = re.search(r"^#+ .*[Ss]et-?up.*?^```(?:bash|sh|console)?\n(.*?)^```", text, re.S | re.M)
    assert m, "no set-up block"
    return [line for line in m.group(1).splitlines() if line.strip() and not line.startswith("#")]


def test_the_set_up_block_is_the_two_commands_under_its_heading():
    text = README.read_text()
    commands = set_up_commands(text)
    assert len(commands) == 2, commands
    first, second = commands
    assert "apt-get install -y dataset-fashion-mnist python3-venv" in first
    assert "python3 -m venv .venv" in first and first.endswith(".venv/bin/d2l-softmax train")
    assert second == ".venv/bin/python -m pytest"
    heading = text.index("## Set-up")
    assert text.index(first) < text.index("\n## ", heading + 1)  # under its own heading
