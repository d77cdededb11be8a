"""Markdown from the data (documents, search hits, transcripts, model answers) made safe to render.

A Markdown image is fetched by every browser that shows it, with the page as referer: in a shared
document or a model's answer that is a tracking pixel, or a channel out for whatever a remote model
was told to put in the URL. `inert` turns each image into text and leaves the rest of the Markdown
as it is, so pages render every text from the data through it."""

from __future__ import annotations

import re

# Every Markdown image (inline, reference, collapsed or shortcut) starts with "![" in the source:
# escaping that bracket leaves "![alt](url)" as text, with the URL at most a link (as GFM links it).
_IMAGE = re.compile(r"!(?=\[)")
# Raw HTML that loads a URL by itself: elements that fetch, and any tag with an attribute value
# (src, srcset, poster, style's url(), ...). Streamlit shows no raw HTML in Markdown unless a page
# allows it; this holds where one does. Tags without values (`List<String>`, `<br>`) stay as they are.
_ATTRIBUTE = r"""\s+[a-zA-Z_:][\w.:-]*(?:\s*=\s*(?:[^\s"'=<>`]+|'[^']*'|"[^"]*"))?"""
_LOADING_TAG = re.compile(
    r"<(?=/?(?:img|image|picture|source|video|audio|track|iframe|frame|object|embed|link|style|svg|"
    r"input|body|meta|base|portal|applet)\b"
    rf"|[a-zA-Z][a-zA-Z0-9-]*(?:{_ATTRIBUTE})*?\s+[a-zA-Z_:][\w.:-]*\s*=)",
    re.IGNORECASE,
)


def inert(text: str) -> str:
    """`text` with every Markdown image and URL-loading HTML tag turned into text; idempotent."""
    return _LOADING_TAG.sub("&lt;", _IMAGE.sub("!\\\\", text or ""))
