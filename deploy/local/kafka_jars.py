"""The Kafka broker's jars: fetched from Maven Central through deploy/local/kafka/pom.xml and cached
outside the tree, keyed by the pom's hash, so a changed pom fetches again and an unchanged one never does."""

import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Final

from deploy.local.base import StackError, cache_root, require_tool, say

POM: Final = Path(__file__).resolve().parent / "kafka" / "pom.xml"
JAVA_HINT: Final = "apt-get install -y openjdk-17-jre-headless"


def jars() -> Path:
    """The directory of the broker's jars, fetched with Maven unless cached for this pom."""
    pom = POM.read_bytes()
    match = re.search(rb"<kafka.version>([^<]+)</kafka.version>", pom)
    version = match.group(1).decode() if match else "unknown"
    digest = hashlib.sha256(pom).hexdigest()
    target = cache_root() / f"kafka-{version}"
    stamp = target / ".pom-sha256"
    if stamp.exists() and stamp.read_text() == digest:
        return target

    mvn = require_tool("mvn", "apt-get install -y maven")
    say(f"kafka: fetching the Kafka {version} broker jars with Maven into {target}")
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")  # complete or absent
    shutil.rmtree(partial, ignore_errors=True)
    result = subprocess.run(
        [mvn, "-q", "-B", "-f", str(POM), "dependency:copy-dependencies", "-DincludeScope=runtime",
         f"-DoutputDirectory={partial}"],
        check=False,
        stdin=subprocess.DEVNULL,
        capture_output=True,
    )  # fmt: skip
    if result.returncode != 0:
        shutil.rmtree(partial, ignore_errors=True)
        output = (result.stdout + result.stderr).decode(errors="replace").strip().splitlines()[-20:]
        raise StackError("fetching the Kafka jars with Maven failed:\n" + "\n".join(output))
    (partial / stamp.name).write_text(digest)
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    return target


def java() -> str:
    return require_tool("java", JAVA_HINT)
