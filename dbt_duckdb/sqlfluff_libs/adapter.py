"""sqlfluff's stand-in for dbt's `adapter` (sqlfluff renders models without dbt): `adapter.dispatch`
resolves a dispatched macro to its `default__` implementation, the DuckDB SQL that is linted."""

from jinja2 import pass_context


@pass_context
def dispatch(context, name: str, macro_namespace: str | None = None):
    return context.resolve(f"default__{name}")
