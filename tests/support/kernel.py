"""A real kernel driven message by message, for the tests that need what nbclient hides."""

from __future__ import annotations

import json
import time
from typing import Any

from jupyter_client.manager import start_new_kernel


class Kernel:
    """A real kernel driven message by message, sending JupyterLab's cellId metadata."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.km, self.kc = start_new_kernel(kernel_name="python3", env=env)

    def run(self, code: str, cell_id: str | None = None, timeout: float = 60) -> list[dict[str, Any]]:
        content = {"code": code, "silent": False, "store_history": True, "user_expressions": {}, "allow_stdin": False}
        msg = self.kc.session.msg("execute_request", content, metadata={"cellId": cell_id} if cell_id else {})
        self.kc.shell_channel.send(msg)
        messages = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            reply = self.kc.get_iopub_msg(timeout=timeout)
            if reply["parent_header"].get("msg_id") != msg["header"]["msg_id"]:
                continue
            messages.append(reply)
            if reply["msg_type"] == "status" and reply["content"]["execution_state"] == "idle":
                return messages
        raise TimeoutError(code)

    def value(self, expression: str) -> Any:
        result = self.run(f"import json as _j; print(_j.dumps({expression}))")
        text = "".join(m["content"]["text"] for m in result if m["msg_type"] == "stream")
        return json.loads(text.strip().splitlines()[-1])

    def close(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)
