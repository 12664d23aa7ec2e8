"""Exports of sessions to other tools.

``vel_jupyter.export.dataframe`` turns sessions into pandas DataFrames, one row per
message (``session_to_dataframe``, ``sessions_to_dataframe``). pandas is optional: it is
imported only when a DataFrame is asked for, never by importing this package.

``vel_jupyter.export.notebook`` reads sessions back from a saved ``.ipynb`` (from the
per-turn ``%%chat`` outputs and from full ``%chat export`` outputs or notebook metadata),
and writes a session into a notebook's metadata offline.
"""
