"""Where the development mail sink keeps what it receives (see service/cli/dev.py and
service/web/devmail.py): one place both the command and the page read it from."""

from __future__ import annotations

from pathlib import Path


def dev_mail_folder(instance_path: str) -> Path:
    return Path(instance_path) / "dev-mail"
