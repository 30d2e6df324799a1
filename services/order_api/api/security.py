"""Who may call what: API-key scopes for the order routes (the public ones are rate-limited instead:
service/guards.py).

Each keyed route names the scope of what it does, whatever its HTTP method: reading an order needs
orders:read (a POST that only reads, such as Digital River's refresh, too), changing one orders:write.
A change answers with the order; a caller that may not read is shown it without its customer record
(service/orders.py says what it may and may not see). A unit test holds every keyed route to one scope.
"""

from collections.abc import Sequence
from typing import Annotated, Final

from fastapi import Depends
from fastapi.params import Depends as Dependency

from shared.auth import has_scope, require_scope

ORDERS_READ: Final = "orders:read"
ORDERS_WRITE: Final = "orders:write"

require_read = require_scope(ORDERS_READ)
require_write = require_scope(ORDERS_WRITE)
# A route's `dependencies`, naming its scope.
READS: Final[list[Dependency]] = [Depends(require_read)]
WRITES: Final[list[Dependency]] = [Depends(require_write)]


async def writer_may_read(scopes: Annotated[Sequence[str], Depends(require_write)]) -> bool:
    """A changing route's dependency (orders:write): whether its caller may read orders too."""
    return has_scope(scopes, ORDERS_READ)


# A changing route's parameter: requires orders:write, and says whether the caller may also read.
MayRead = Annotated[bool, Depends(writer_may_read)]

ORDERS_ANONYMIZE: Final = "orders:anonymize"
require_anonymize = require_scope(ORDERS_ANONYMIZE)
ANONYMIZES: Final[list[Dependency]] = [Depends(require_anonymize)]
