"""The widget's size as the server sends it: `make widget` and `make widget-check` print it.

Node's zlib (the figure `widget/build.mjs` prints) compresses differently; the server
pre-compresses with Python's gzip (level 9) and brotli (11), and README.md and
docs/widget.md state these figures (tests/test_docs.py checks them)."""

from __future__ import annotations

from pocketping.server.static import STATIC, load_asset


def main() -> None:
    asset = load_asset("widget.js", "application/javascript", STATIC)
    assert asset is not None, "no widget.js: run `make widget`"
    print(f"widget.js as served: {len(asset.body):,} bytes minified, {len(asset.gz):,} bytes gzipped, "
          f"{len(asset.br):,} bytes brotli (README.md and docs/widget.md state these)")


if __name__ == "__main__":
    main()
