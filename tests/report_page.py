"""Reading a rendered report's table of every cell as its page's script does: the rows of the JSON block
(`<script type="application/json" id="cells-data">`), one dict per row."""

from __future__ import annotations

import json


def cell_table(html: str) -> list[dict]:
    block = html.split('<script type="application/json" id="cells-data">', 1)[1].split("</script>", 1)[0]
    data = json.loads(block)
    return [dict(zip(data["fields"], row, strict=True)) for row in data["rows"]]
