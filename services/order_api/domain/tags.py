"""An order's tags: one comma-separated string, as the Haravan document keeps them."""

from typing import Final

from services.order_api.domain.errors import OrderRuleError

MAX_TAG_LENGTH: Final = 40


def normalise_tags(tags: str) -> str:
    """`"a,b , c"` -> `"a, b, c"`; each tag at most 40 characters, as the Haravan document says."""
    parts = [tag.strip() for tag in tags.split(",") if tag.strip()]
    for tag in parts:
        if len(tag) > MAX_TAG_LENGTH:
            raise OrderRuleError(
                "tags", "tag_too_long", f"tag {tag[:20]!r}... is longer than {MAX_TAG_LENGTH} characters"
            )
    return ", ".join(dict.fromkeys(parts))
