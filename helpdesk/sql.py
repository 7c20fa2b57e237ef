"""Hand-written SELECTs for the ingest hot path, read into model instances.

Every message an app posts looks up its channel account and locks its conversation's thread
(with the ticket). Building such a query through the ORM costs more CPU than PostgreSQL takes
to answer it (about 1.5 ms against 0.2 ms here: joins, ``select_related`` and the compiler),
and the API's throughput is bound by the workers' CPU (``bench/ingest.py``). Those few queries
are written as SQL once. Their column lists, and the conversion of the values read (JSON,
encrypted fields, SQLite's datetimes), still come from the models' metadata through
``ModelColumns``: a field added to a model needs no change to the SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from django.db import connection
from django.db.models import Model
from django.db.models.expressions import Col

ModelT = TypeVar("ModelT", bound=Model)


class ModelColumns(Generic[ModelT]):
    """The concrete columns of ``model`` under the table alias ``alias``: ``sql`` for a SELECT
    list, and ``instance`` to read them back from a row, as the ORM would have."""

    def __init__(self, model: type[ModelT], alias: str) -> None:
        self.model = model
        self.alias = alias
        self.table = model._meta.db_table
        self.fields = list(model._meta.concrete_fields)
        self._attnames = [field.attname for field in self.fields]
        self._pk_index = self.fields.index(model._meta.pk)
        # Both supported databases quote identifiers with double quotes.
        self.sql = ", ".join(f'{alias}."{field.column}"' for field in self.fields)
        self._converters: dict[str, list[tuple[int, list[Any], Col]]] = {}

    def __len__(self) -> int:
        return len(self.fields)

    def instance(self, row: Sequence[Any], start: int = 0) -> ModelT:
        """The instance read from ``row[start:start + len(self)]``."""
        values = list(row[start : start + len(self.fields)])
        for index, converters, column in self._converters_for_connection():
            value = values[index]
            for converter in converters:
                value = converter(value, column, connection)
            values[index] = value
        return self.model.from_db(connection.alias, self._attnames, values)

    def instance_or_none(self, row: Sequence[Any], start: int = 0) -> ModelT | None:
        """``instance``, or None when the primary key is NULL (the side of a LEFT JOIN that
        found no row)."""
        if row[start + self._pk_index] is None:
            return None
        return self.instance(row, start)

    def _converters_for_connection(self) -> list[tuple[int, list[Any], Col]]:
        """What the ORM's compiler would apply to each column (backend's, then field's). They
        depend on the database vendor only, so they are worked out once per vendor."""
        converters = self._converters.get(connection.vendor)
        if converters is None:
            converters = []
            for index, field in enumerate(self.fields):
                column = field.get_col(self.alias)
                found = connection.ops.get_db_converters(column) + column.get_db_converters(
                    connection
                )
                if found:
                    converters.append((index, found, column))
            self._converters[connection.vendor] = converters
        return converters


def for_update_of(*aliases: str) -> str:
    """`` FOR UPDATE OF …`` where the database has row locks (PostgreSQL); nothing on SQLite,
    whose writing transactions run one at a time (as the ORM's ``select_for_update``)."""
    if not connection.features.has_select_for_update_of:
        return ""
    return " FOR UPDATE OF " + ", ".join(aliases)
