"""Sessions embedded in a saved notebook: export them, read them back, restore them.

A notebook needs no store to keep its sessions: everything is JSON under one mimetype,
``application/vnd.vel.session+json`` (``EXPORT_MIME``), in one of two kinds:

* **turn payloads** (``"kind": "vel_jupyter.turn"``): every finished ``%%chat`` cell
  output carries one (``jupyter.display.turn_payload``): that turn's messages with ids,
  parent ids and usage, plus ``session_id``, ``branch`` (index of the current branch after
  the turn), ``branches`` (how many there were), ``head``, the cell's earlier answers when
  it was re-run (``alternatives``), the cell's turns under other parents (``elsewhere``:
  it was re-run while its turn was off the current path), and, once the session moved, whether its current path
  still goes through the turn (``current``, ``showing``). A frame of a turn still
  streaming (``"live": true``, left in a notebook saved mid-stream or by a dead kernel)
  is no turn: it has no ids and is skipped.
* **full exports** (``"kind": "vel_jupyter.session"``): exactly ``Session.to_dict()``,
  unwrapped: the header and every message on any branch. ``%chat export ID`` shows one
  as an output (``export_bundle``), ``%chat export ID --file PATH`` writes one as a JSON
  file, ``write_session`` embeds one in the notebook's metadata under
  ``metadata["vel_jupyter"]["sessions"][session_id]``. Being the plain ``to_dict()``,
  each of them can also be given to ``Session.from_dict`` or a store's ``save`` as is.

``read_sessions`` rebuilds one ``to_dict()``-shaped record per session id from all of
them. Messages are pooled by id, the earlier answers included (a message seen twice must say
the same thing), and listed parents first, in the order ``to_dict()`` uses. The header is the
newest full export's (by ``updated_at``) when the session has one; turns that export does not
hold (cells run after it) are then applied on top. Without an export the header is built
from the turns alone. Applying a turn replays what the session did: slot ``branch`` of
``heads`` becomes the turn's head, ``heads`` grows to ``branches`` slots, and head and
current branch follow the turn. Turns are applied in the order they were made (their
messages' ``created_at``; notebook order breaks ties), not in notebook order: a cell
re-run higher up the notebook is the session's latest state, as it was in the kernel.

What a notebook of turn payloads alone cannot hold, and how it is rebuilt:

* the system prompt and the session's settings (model, provider, ...): only a full
  export has them; otherwise the session starts with none (the registry's defaults);
* a branch whose latest turn is in no output because its cell was re-run: the re-run's
  output holds it among its ``alternatives`` (or ``elsewhere``, the re-run having been
  made on another branch; both are placed alike). Every answer the session wrote that no
  replayed branch reaches ends a branch: the oldest one below a slot whose later turns
  are in no output takes that slot, the next fill the empty slots, the rest are added;
* a ``%chat checkout`` after the last turn: it leaves no payload, but it redraws the
  outputs, which then say whether the current path goes through their turn. When the last
  turn's output says it does not, the head is the branch end the others put on the path;
* a turn continuing a message no output holds (made in code, e.g. ``session.regenerate()``,
  or its output cleared, or more than 20 re-runs ago) cannot be placed:
  it is skipped, with a line naming its cell (a ``UserWarning``; ``%chat restore`` prints
  it), and so are the turns that continue it; everything else is restored. A
  ``%chat export ID`` cell run after such code keeps everything;
* a fork's ``forked_from`` and ``lineage`` are read from who wrote its older messages
  (the session that wrote the message it continues is its origin); ``rev`` is one
  more than its turns (created, then one write per turn); ``created_at``/``updated_at``
  are its first and last turn's times. A fork made by ``%chat fork`` that never ran a
  turn leaves nothing to restore.

Foreign or damaged JSON (another ``kind``, missing fields, a newer ``version``, values
that are not objects, messages without ids, broken parent links) raises
``SessionDataError`` naming where it is: ``cell N`` is ``notebook.cells[N - 1]`` (counted
from 1, as JupyterLab's status bar counts), followed by the cell's id when it has one. No
message is dropped without a line saying so.

nbformat is imported inside the functions: importing this module stays cheap, and no
kernel is needed for any of it.

This module is the public surface; the work is done by ``notebook_read`` (finding and validating
the payloads), ``notebook_merge`` (rebuilding the records), ``notebook_write`` (the export bundle,
metadata) and ``notebook_restore`` (into an agent, and the trust check).
"""

from __future__ import annotations

from ..formats.kinds import METADATA_KEY, SESSION_KIND, TURN_KIND
from .notebook_merge import read_sessions
from .notebook_read import EXPORT_MIME
from .notebook_restore import is_trusted, restore_notebook
from .notebook_write import export_bundle, write_session

__all__ = [
    "EXPORT_MIME",
    "METADATA_KEY",
    "SESSION_KIND",
    "TURN_KIND",
    "export_bundle",
    "is_trusted",
    "read_sessions",
    "restore_notebook",
    "write_session",
]
