"""Rules the config loader applies to single values: API URLs, cron schedules and the YAML text itself.

Kept apart from the config model (``config.py``) so they can be read, tested and fuzzed on their own.

- An API URL is an absolute ``https://`` URL with a host and no credentials, query or fragment;
  plain ``http://`` only on loopback (127.0.0.0/8, ``localhost``, ``::1``), where the sandbox runs.
  A token must never cross a network in clear text.
- A cron schedule must be one Dagster itself accepts (its own validation, the croniter it vendors),
  checked when the config is loaded, so a bad one names its workspace instead of breaking the whole
  code location when the schedules are built.
- The YAML file must hold a mapping, must not be empty, and must not repeat a key: PyYAML keeps the
  last of two equal keys silently, so a pasted block could override a setting unseen.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

import yaml

FREQUENCIES = ("hourly", "daily", "weekly")


def is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def api_url(value: str, example: str) -> str:
    """``value`` as an API base URL without a trailing slash; ValueError says what is wrong."""
    if not isinstance(value, str) or value != value.strip() or any(c.isspace() for c in value) or not value:
        raise ValueError(f"must be a URL without spaces, e.g. {example}")
    try:
        parts = urlsplit(value)
        host = parts.hostname
        _ = parts.port  # raises on a port that is not a number from 0 to 65535
    except ValueError:
        raise ValueError(f"is not a valid URL, e.g. {example}") from None
    if parts.scheme not in ("https", "http") or not host:
        raise ValueError(f"must be an absolute https:// URL with a host, e.g. {example}")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not hold credentials (user:password@); name the token's env var instead")
    if parts.query or parts.fragment:
        raise ValueError(f"must be the API's base URL, without ?query or #fragment, e.g. {example}")
    if parts.scheme == "http" and not is_loopback(host):
        raise ValueError(
            f"must use https (the token would cross the network in clear text); plain http is only "
            f"allowed on loopback (127.0.0.1, localhost, ::1), e.g. {example}"
        )
    return value.rstrip("/")


def cron_or_frequency(value: str) -> str:
    """hourly, daily, weekly, or a five-field cron expression Dagster accepts; ValueError otherwise."""
    if value in FREQUENCIES:
        return value
    from dagster._utils.schedules import has_out_of_range_cron_interval, is_valid_cron_string

    text = " ".join(value.split())
    try:
        valid = len(text.split(" ")) == 5 and is_valid_cron_string(text)
        out_of_range = valid and has_out_of_range_cron_interval(text)
    except Exception:
        valid, out_of_range = False, False
    if not valid:
        raise ValueError(
            f"must be hourly, daily, weekly or a five-field cron expression such as '15 6 * * 1-5' "
            f"(minute hour day-of-month month day-of-week); '{value}' is none of them"
        )
    if out_of_range:
        raise ValueError(
            f"'{value}' has a step larger than its field's range (e.g. */90 minutes), which Dagster "
            "would run more often than written; split it or use a smaller step"
        )
    return text


# libyaml when PyYAML has it: about seven times faster, which every run process pays on a config of many workspaces.
_UniqueKeyLoader: type[yaml.SafeLoader] = type(
    "_UniqueKeyLoader",
    (getattr(yaml, "CSafeLoader", yaml.SafeLoader),),
    {"__doc__": "A safe YAML loader that refuses a key repeated in one mapping."},
)


def _unique_mapping(loader: yaml.constructor.SafeConstructor, node: yaml.MappingNode, deep: bool = False):
    seen: dict = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark, "found an unhashable key", key_node.start_mark
            ) from None
        if key in seen:
            raise yaml.constructor.ConstructorError(
                f"while reading the mapping that starts at line {node.start_mark.line + 1}",
                node.start_mark,
                f"the key '{key}' appears twice (lines {seen[key] + 1} and {key_node.start_mark.line + 1}); keep one",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def read_yaml(text: str, origin: str):
    """The YAML document in ``text``; ValueError for invalid YAML, a repeated key or an empty document."""
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as err:
        raise ValueError(f"{origin} is not valid YAML: {err}") from None
    except RecursionError:
        raise ValueError(f"{origin} is not valid YAML: nested too deeply") from None
    if data is None:
        raise ValueError(f"{origin} is empty; it must hold the configuration (a mapping with 'workspaces')")
    return data
