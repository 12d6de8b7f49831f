"""Host drivers that run ``ops/scripts`` on tenant servers: local (subprocess) and ssh."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from managely.hosts.base import HostDriver

DRIVER_KINDS = ("local", "ssh")


def driver_for(kind: str, **kwargs: Any) -> HostDriver:
    """Build the driver for ``kind`` ("local" or "ssh") with that driver's arguments."""
    # Imported here so that code needing only the protocol types does not load asyncssh.
    if kind == "local":
        from managely.hosts.local import LocalDriver

        return LocalDriver(**kwargs)
    if kind == "ssh":
        from managely.hosts.ssh import SshDriver

        return SshDriver(**kwargs)
    raise ValueError(f"unknown host driver {kind!r}; expected one of {', '.join(DRIVER_KINDS)}")
