"""What every part of ``Store`` kept in a module of its own draws on."""

from __future__ import annotations

from contextlib import AbstractContextManager

from sqlalchemy import Connection


class StorePart:
    """A part of ``Store``: its queries run in the store's transactions."""

    def _transaction(
        self, action: str, *, write: bool = False
    ) -> AbstractContextManager[Connection]:
        raise NotImplementedError
