"""`python -m deploy.containers build | up [podman-compose up options] | down [--purge] | ps`.

build  the images docker-compose.yml uses, from Debian packages (cached; only what changed is rebuilt)
up     build, then run docker-compose.yml with podman-compose and wait until every container is healthy
down   stop and remove the containers (--purge: and the volumes, i.e. the data)
ps     the containers and their health
"""

import sys

from deploy.containers import engine, images
from deploy.containers.compose import Compose
from deploy.local.base import StackError


def main(argv: list[str]) -> int:
    command, args = (argv[0], argv[1:]) if argv else ("build", [])
    try:
        engine.configure()
        compose = Compose()
        if command == "build":
            images.build_all()
        elif command == "up":
            images.build_all()
            compose.up(*args)
        elif command == "down":
            compose.down(purge=args == ["--purge"])
        elif command == "ps":
            engine.podman("ps", "--all", "--filter", f"label=io.podman.compose.project={compose.project}")
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except StackError as error:
        print(f"containers: {error}", file=sys.stderr)
        return error.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
