"""The UAPI socket claim before a wireguard-go starts (pure: Unix sockets in tmp_path)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from slices.apply import _claim_uapi_socket
from slices.errors import ApplyError


def test_a_missing_socket_is_left_alone(tmp_path: Path) -> None:
    _claim_uapi_socket(tmp_path / "ew0.sock")
    assert list(tmp_path.iterdir()) == []


def test_a_stale_socket_of_a_killed_daemon_is_removed(tmp_path: Path) -> None:
    path = tmp_path / "ew0.sock"
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(path))
    dead.close()  # the file stays, nobody listens: what SIGKILL leaves behind
    assert path.exists()
    _claim_uapi_socket(path)
    assert not path.exists()


def test_a_live_socket_of_another_daemon_is_refused_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "ew0.sock"
    live = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    live.bind(str(path))
    live.listen(1)
    try:
        with pytest.raises(ApplyError, match="ew0 is already served by another wireguard-go"):
            _claim_uapi_socket(path)
        assert path.exists()
    finally:
        live.close()
