"""What a stage is: a named step with a way in and, when it holds something, a way out.

The pipeline runs every stage's ``enter`` in order; when the call is over (answered,
refused, failed or cut off), it runs ``leave`` of every stage that entered, in reverse
order, like unwinding a stack: what a stage took (a budget reservation, an idempotency
claim) it gives back or settles itself, after the stages behind it are done.
"""

from __future__ import annotations

from typing import ClassVar

from gateway.call import Call


class Stage:
    name: ClassVar[str]

    async def enter(self, call: Call) -> None:
        raise NotImplementedError

    async def leave(self, call: Call) -> None:
        """Runs once the call is over, whatever happened; never raises."""
        return None
