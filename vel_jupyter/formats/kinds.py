"""The names of our saved shapes: MIME types, ``kind`` strings and versions, spelled once.

Every ``%%chat`` output and ``%chat export`` carries ``SESSION_MIME``; its ``kind`` says which
shape it is (``TURN_KIND``: one turn, ``jupyter.display.turn_payload``; ``SESSION_KIND``: a whole
``Session.to_dict()``). ``%chat tree`` outputs carry ``TREE_MIME`` (``TREE_KIND``).
"""

from __future__ import annotations

SESSION_MIME = "application/vnd.vel.session+json"
TREE_MIME = "application/vnd.vel.tree+json"
SESSION_KIND = "vel_jupyter.session"
TURN_KIND = "vel_jupyter.turn"
TREE_KIND = "vel_jupyter.tree"  # a %chat tree payload (jupyter.tree_data.tree_payload)
PAYLOAD_VERSION = 1  # a turn payload's "version"
FORMAT_VERSION = 2  # a session record's "version": format 2 adds the conversation tree's id
METADATA_KEY = "vel_jupyter"  # a notebook's metadata["vel_jupyter"]["sessions"][session_id]: %chat export --notebook
