"""The domain of placematch: enums, the SQLAlchemy ORM, Pydantic schemas and the database session.

Everything else depends on this package; it depends on nothing of ours.
"""
