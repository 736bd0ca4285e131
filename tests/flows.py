"""What a person does through the web pages, as reusable steps for HTTP tests."""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from flask.testing import FlaskClient

from tests.conftest import csrf_from, form_token_from

RECEIPT = re.compile(r'data-testid="receipt">([0-9 ]+)<')


def open_report_form(client: FlaskClient, kind="problem", identity="anonymous", body="auto"):
    query = urlencode({"kind": kind, "identity": identity, "body": body})
    return client.get(f"/report/write?{query}")


def file_report(
    client: FlaskClient,
    *,
    kind: str = "problem",
    identity: str = "anonymous",
    body: str = "auto",
    files: Sequence[tuple[str, bytes]] = (),
    **fields,
):
    """Step 2 of the form, as a browser would send it. Returns (response, receipt or None)."""
    page = open_report_form(client)  # the CSRF token is per session, whatever is chosen
    html = page.get_data(as_text=True)
    data: dict[str, Any] = {
        "csrf_token": csrf_from(html),
        "form_token": form_token_from(html),
        "kind": kind,
        "identity": identity,
        "body": body,
        "title": "Tiêu đề",
        "text": "Nội dung",
    }
    if kind in ("complaint", "denunciation") and identity == "anonymous":
        data["understood_information"] = "yes"
    data.update(fields)
    data["attachments"] = [(io.BytesIO(content), name) for name, content in files]
    response = client.post("/report/write", data=data, content_type="multipart/form-data")
    match = RECEIPT.search(response.get_data(as_text=True))
    return response, match.group(1) if match else None


def follow_up(client: FlaskClient, receipt: str):
    token = csrf_from(client.get("/follow-up").get_data(as_text=True))
    return client.post("/follow-up", data={"csrf_token": token, "receipt": receipt})
