"""Exports of sessions to other tools.

``vel_jupyter.export.dataframe`` turns sessions into pandas DataFrames, one row per
message (``session_to_dataframe``, ``sessions_to_dataframe``). pandas is optional: it is
imported only when a DataFrame is asked for, never by importing this package.
"""
