"""Inline SVG QR codes (no image files, no external service): postal references, TOTP enrolment, cross-device login."""

from __future__ import annotations

import qrcode
from qrcode.image.svg import SvgPathImage


def qr_svg(text: str) -> str:
    """Return an inline SVG QR code of `text`, hidden from screen readers.

    The page shows the same text beside it: that visible text is the alternative, so the SVG is
    `aria-hidden` rather than labelled twice."""
    image = qrcode.make(text, image_factory=SvgPathImage, box_size=16, border=2,
                        error_correction=qrcode.constants.ERROR_CORRECT_M)
    svg = image.to_string(encoding="unicode")
    return svg.replace("<svg ", '<svg aria-hidden="true" focusable="false" class="qr" ', 1)
