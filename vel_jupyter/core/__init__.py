"""The session engine. Imports no IPython, ipywidgets, pandas or nbformat (a test checks)."""
