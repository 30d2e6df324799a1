"""Which migrations a service gets, in which order (shared/migrations.py load_migrations)."""

import re
from pathlib import Path

import pytest

from shared.migrations import KERNEL_DIR, Migration, MigrationError, load_migrations
from shared.services import SERVICES, ServiceSpec

KERNEL_NAMES = [
    "kernel/0001_outbox.sql",
    "kernel/0002_processed_events.sql",
    "kernel/0003_outbox_leader_and_dead_letters.sql",
    "kernel/0004_outbox_by_key.sql",
    "kernel/0005_retention_indexes.sql",
    "kernel/0006_rate_windows.sql",
    "kernel/0007_outbox_quiet_while_relaying.sql",
]


def _write(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, sql in files.items():
        (directory / name).write_text(sql)
    return directory


def test_kernel_migrations_come_first_with_their_prefix(tmp_path: Path) -> None:
    service_dir = _write(tmp_path / "svc", {"0001_orders.sql": "CREATE TABLE orders (id int);"})

    names = [migration.name for migration in load_migrations(service_dir)]

    assert names == [*KERNEL_NAMES, "0001_orders.sql"]


def test_kernel_sql_is_read_from_shared_sql(tmp_path: Path) -> None:
    migrations = load_migrations(_write(tmp_path / "svc", {}))

    assert [m.name for m in migrations] == KERNEL_NAMES
    assert migrations[0].sql == (KERNEL_DIR / "0001_outbox.sql").read_text()
    assert migrations[1].sql == (KERNEL_DIR / "0002_processed_events.sql").read_text()


def test_service_files_are_in_number_order_whatever_their_names(tmp_path: Path) -> None:
    service_dir = _write(
        tmp_path / "svc",
        {
            "0010_zz_late.sql": "SELECT 10;",
            "0002_b.sql": "SELECT 2;",
            "0001_zebra.sql": "SELECT 1;",
            "0003_alpha.sql": "SELECT 3;",
        },
    )

    migrations = load_migrations(service_dir)[len(KERNEL_NAMES) :]

    assert [m.name for m in migrations] == ["0001_zebra.sql", "0002_b.sql", "0003_alpha.sql", "0010_zz_late.sql"]
    assert [m.sql for m in migrations] == ["SELECT 1;", "SELECT 2;", "SELECT 3;", "SELECT 10;"]


def test_service_numbers_may_repeat_kernel_numbers(tmp_path: Path) -> None:
    service_dir = _write(tmp_path / "svc", {"0001_a.sql": "SELECT 1;", "0002_b.sql": "SELECT 2;"})

    names = [m.name for m in load_migrations(service_dir)]

    assert names == [*KERNEL_NAMES, "0001_a.sql", "0002_b.sql"]


def test_files_that_are_not_sql_are_ignored(tmp_path: Path) -> None:
    service_dir = _write(tmp_path / "svc", {"0001_a.sql": "SELECT 1;", "README.md": "notes", "0002_b.sql.bak": "x"})

    names = [m.name for m in load_migrations(service_dir)]

    assert names == [*KERNEL_NAMES, "0001_a.sql"]


@pytest.mark.parametrize(
    "bad_name",
    [
        "1_init.sql",  # not four digits
        "00001_init.sql",  # five digits
        "0001-init.sql",  # dash instead of underscore
        "0001_Init.sql",  # upper case
        "0001_.sql",  # no name
        "init.sql",  # no number
        "0001_add orders.sql",  # space
    ],
)
def test_badly_named_file_is_refused(tmp_path: Path, bad_name: str) -> None:
    service_dir = _write(tmp_path / "svc", {"0001_ok.sql": "SELECT 1;", bad_name: "SELECT 2;"})

    with pytest.raises(MigrationError, match=re.escape("NNNN_lowercase_name.sql")) as caught:
        load_migrations(service_dir)

    assert bad_name in str(caught.value)


def test_duplicated_number_is_refused(tmp_path: Path) -> None:
    service_dir = _write(
        tmp_path / "svc",
        {"0001_orders.sql": "SELECT 1;", "0002_items.sql": "SELECT 2;", "0002_refunds.sql": "SELECT 3;"},
    )

    with pytest.raises(MigrationError, match="share the number 0002") as caught:
        load_migrations(service_dir)

    assert "0002_refunds.sql" in str(caught.value)


def test_missing_service_directory_yields_only_kernel(tmp_path: Path) -> None:
    names = [m.name for m in load_migrations(tmp_path / "does-not-exist")]

    assert names == KERNEL_NAMES


def test_checksum_changes_when_sql_changes() -> None:
    original = Migration("0001_orders.sql", "CREATE TABLE orders (id int);")
    same = Migration("0001_orders.sql", "CREATE TABLE orders (id int);")
    edited = Migration("0001_orders.sql", "CREATE TABLE orders (id bigint);")
    whitespace = Migration("0001_orders.sql", "CREATE TABLE orders (id int); ")

    assert original.checksum == same.checksum
    assert original.checksum != edited.checksum
    assert original.checksum != whitespace.checksum
    assert len(original.checksum) == 64
    assert int(original.checksum, 16) >= 0


def test_checksum_is_sha256_of_the_sql() -> None:
    # a known SHA-256 vector: the checksum must stay stable across releases, or applied files look edited
    assert Migration("x", "abc").checksum == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_checksum_of_an_edited_file_differs_after_reload(tmp_path: Path) -> None:
    service_dir = _write(tmp_path / "svc", {"0001_orders.sql": "CREATE TABLE orders (id int);"})
    before = load_migrations(service_dir)[-1].checksum

    (service_dir / "0001_orders.sql").write_text("CREATE TABLE orders (id int, note text);")
    after = load_migrations(service_dir)[-1].checksum

    assert before != after


@pytest.mark.parametrize("spec", SERVICES, ids=[spec.name for spec in SERVICES])
def test_every_real_service_migration_set_loads(spec: ServiceSpec) -> None:
    migrations = load_migrations(spec.migrations_dir)

    assert [m.name for m in migrations[: len(KERNEL_NAMES)]] == KERNEL_NAMES
    assert len(migrations) > len(KERNEL_NAMES)
    assert all(m.sql.strip() for m in migrations)
