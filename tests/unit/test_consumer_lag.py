"""A partition's lag from the group's committed offset and the partition's first and end offsets."""

import pytest

from shared.consumer_lag import lag_of


@pytest.mark.parametrize(
    ("committed", "first", "end", "lag"),
    [
        (None, 0, 7, 7),  # never committed: the group starts at the first record
        (-1, 0, 7, 7),  # Kafka's "no offset"
        (4, 0, 7, 3),
        (7, 0, 7, 0),
        (2, 5, 9, 4),  # committed below what retention kept: the group resumes at the first one kept
        (None, 9, 9, 0),  # everything retained has been deleted
    ],
)
def test_lag_is_what_lies_between_the_groups_position_and_the_end(
    committed: int | None, first: int, end: int, lag: int
) -> None:
    assert lag_of(committed, first, end) == lag
