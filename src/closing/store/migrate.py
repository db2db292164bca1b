"""Running the migrations: Alembic, on a SQLAlchemy connection of its own. With the table
declarations in `closing.store.schema`, the only place closing imports SQLAlchemy."""

from __future__ import annotations

import warnings

from closing.domain.errors import DatabaseError
from closing.store.connection import first_line


def upgrade(url: str, masked: str, before: str | None) -> None:
    """Alembic's upgrade to head on the database at `url`; a database of the first release
    (`before` is 0001 with no alembic_version table) is stamped first."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine, inspect
    from sqlalchemy.exc import SQLAlchemyError

    config = Config()
    config.set_main_option("script_location", "closing.store:migrations")
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            engine = create_engine(url)
        try:
            with engine.begin() as connection:
                config.attributes["connection"] = connection
                if before is not None and not inspect(connection).has_table("alembic_version"):
                    command.stamp(config, before)  # a first-release database: where it is
                command.upgrade(config, "head")
        finally:
            engine.dispose()
    except SQLAlchemyError as error:
        raise DatabaseError(
            f"cannot upgrade database {masked}: {first_line(getattr(error, 'orig', None) or error)}"
        ) from None
