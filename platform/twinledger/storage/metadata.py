"""The one SQLAlchemy ``MetaData`` of the core; every core area declares its tables on it."""

from sqlalchemy import BigInteger, Integer, MetaData

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite only auto-assigns INTEGER PRIMARY KEY columns; PostgreSQL gets a 64-bit integer.
BigIntKey = BigInteger().with_variant(Integer(), "sqlite")
