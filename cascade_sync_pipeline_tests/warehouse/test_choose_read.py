"""What an extract reads: the named items, the changes since the watermark, or everything."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from cascade_sync_pipeline.warehouse.assets import ExtractConfig, Read, choose_read

NOW = datetime(2026, 5, 4, 12, 0)
WATERMARK = 1_777_000_000_000
RECENT_FULL = NOW - timedelta(hours=1)
OLD_FULL = NOW - timedelta(hours=30)


@pytest.mark.parametrize(
    ("config", "watermark", "last_full_at", "expected"),
    [
        (ExtractConfig(mode="items", item_ids=["a", "b"]), WATERMARK, RECENT_FULL, Read(item_ids=["a", "b"])),
        # a webhook run before any full read, or naming nothing, reads as `auto` does
        (ExtractConfig(mode="items", item_ids=["a"]), None, None, Read()),
        (ExtractConfig(mode="items", item_ids=[]), WATERMARK, RECENT_FULL, Read(since=WATERMARK)),
        (ExtractConfig(mode="items", item_ids=["a"]), WATERMARK, None, Read()),
        (ExtractConfig(mode="auto"), WATERMARK, RECENT_FULL, Read(since=WATERMARK)),
        (ExtractConfig(mode="auto"), WATERMARK, OLD_FULL, Read()),
        (ExtractConfig(mode="auto"), None, RECENT_FULL, Read()),
        (ExtractConfig(mode="incremental"), WATERMARK, OLD_FULL, Read(since=WATERMARK)),
        (ExtractConfig(mode="incremental"), None, RECENT_FULL, Read()),
        (ExtractConfig(mode="full"), WATERMARK, RECENT_FULL, Read()),
    ],
)
def test_the_read_follows_the_mode_and_what_was_read_before(config, watermark, last_full_at, expected):
    assert choose_read(config, watermark, last_full_at, full_every_hours=24, now=NOW) == expected
