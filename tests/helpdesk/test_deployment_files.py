"""The deployment files are valid: docker-compose.yml under ``docker compose config``."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _compose_command() -> list[str] | None:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return ["docker", "compose"]
    return None


def test_docker_compose_file_is_valid_and_runs_every_service() -> None:
    command = _compose_command()
    if command is None:
        pytest.skip("needs docker compose or docker-compose to validate docker-compose.yml")
    result = subprocess.run(
        [*command, "-f", str(ROOT / "docker-compose.yml"), "config", "--services"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert set(result.stdout.split()) == {
        "web",
        "worker",
        "webhook-worker",
        "scheduler",
        "postgres",
        "redis",
    }


def test_the_development_server_speaks_websockets() -> None:
    """``make run`` uses runserver: it must be daphne's ASGI one, or the inbox is never live."""
    from django.core.management import get_commands

    assert get_commands()["runserver"] == "daphne"


def test_production_serves_the_asgi_application() -> None:
    """The web service must serve websockets too (``/ws/inbox/``), so ASGI, not WSGI."""
    compose = (ROOT / "docker-compose.yml").read_text()
    dockerfile = (ROOT / "Dockerfile").read_text()
    for text in (compose, dockerfile):
        assert "helpdesk.asgi:application" in text
        assert "helpdesk.wsgi:application" not in text
    assert "COPY static static" in dockerfile
