"""A local stand-in for MongoDB + AWS DMS.

It simulates the ``ledger`` database of an accounting firm, lands its change stream in
DMS's Parquet layout (``dms``) and dumps the source's current state in mongodump format
(``mongodump``), so the whole pipeline can run and be checked on one machine.
"""
