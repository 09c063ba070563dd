"""The two lines a site owner adds to their pages (pure)."""

from __future__ import annotations


def embed_snippet(base_url: str, public_key: str) -> str:
    return (f'<script src="{base_url}/widget.js" defer></script>\n'
            f'<script>addEventListener("DOMContentLoaded",()=>PocketPing.init({{ publicKey: "{public_key}" }}))'
            f"</script>")
