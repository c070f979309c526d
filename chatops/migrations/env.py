"""Alembic environment: runs on the connection chatops hands over (see chatops.migrate)."""

from alembic import context

from chatops.customers import models as customer_models  # noqa: F401
from chatops.db import Base
from chatops.oncall import models as oncall_models  # noqa: F401
from chatops.stats import models as stats_models  # noqa: F401
from chatops.tickets import models  # noqa: F401  (registers the tables on Base.metadata)

config = context.config
connection = config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
