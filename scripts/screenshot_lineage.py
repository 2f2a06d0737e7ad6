"""Screenshot the Dagster UI's lineage of one source's chain, for the README.

Run `cascade-sync dev` first, then:  .venv/bin/python scripts/screenshot_lineage.py [--group clickup] [--out docs/lineage.png]
Needs Debian's chromium (`apt-get install chromium`) and the `docs` extra (`pip install -e '.[docs]'`).
The image is produced here, not committed.
"""

from __future__ import annotations

import argparse

from playwright.sync_api import sync_playwright

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:3000")
    parser.add_argument("--group", default="clickup")
    parser.add_argument("--out", default="docs/lineage.png")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.goto(f"{args.url}/locations/cascade_sync_pipeline/asset-groups/{args.group}/lineage")
        skip = page.get_by_role("button", name="Skip")
        try:  # the first visit asks to join the community; dismiss it
            skip.click(timeout=10_000)
        except Exception:
            pass
        page.wait_for_timeout(3000)
        page.screenshot(path=args.out)
        browser.close()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
