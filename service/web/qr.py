"""QR codes drawn on the server as SVG (the `qrcode` package, no Pillow), as a data: URI.

The page's Content-Security-Policy allows images from `data:`, so no script, no request to
another host, and nothing that a browser extension could fetch from elsewhere.
"""

from __future__ import annotations

import base64
import io

import qrcode
import qrcode.image.svg


def qr_data_uri(text: str) -> str:
    image = qrcode.make(
        text,
        image_factory=qrcode.image.svg.SvgPathFillImage,
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        box_size=10,
        border=4,
    )
    buffer = io.BytesIO()
    image.save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
