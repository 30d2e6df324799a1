"""The local cluster's owner can reach a clone inside a private directory (`mktemp -d` makes it 0700)."""

import os
import stat
from pathlib import Path

from deploy.local.postgres import let_owner_reach


def test_a_private_directory_above_the_cluster_gets_search_permission_only(tmp_path: Path) -> None:
    private = tmp_path / "private"
    data = private / "clone" / ".local" / "pg"
    data.mkdir(parents=True)
    private.chmod(0o700)
    other_user = os.getuid() + 1

    let_owner_reach(data, other_user)

    assert stat.S_IMODE(private.stat().st_mode) == 0o701  # pass through, not list
    let_owner_reach(data, os.getuid())  # its own directories it passes anyway: nothing changes
    assert stat.S_IMODE(private.stat().st_mode) == 0o701
