"""OAuth 2.0 (authorization-code grant) for every API the sync logs in to: the one-time bootstrap,
refresh during runs, and a token store that survives a crash at any point of a refresh-token rotation.

What differs per API (Wrike, Cascade, ...) is an :class:`OAuthProvider`: its name for messages,
the authorize and token URLs, the scope, the command that re-runs the bootstrap and the error class.
Everything else is here, once. Plain Python: no Dagster imports.

Bootstrap (once per workspace, by a person): open :func:`authorize_url`, approve, copy ``?code=...``
from the redirect and pass it to :func:`exchange_code` (:func:`run_bootstrap` is the CLI of both).

Why rotation needs care: a server that rotates refresh tokens answers a refresh with a *new* one and
the old one stops working once used. If the process dies after the server rotated but before the new
token is safely on disk, the integration is stranded and a person must bootstrap again. Whether a
server rotates is not always known up front, so both answers work: without a new ``refresh_token``
the one just used is kept. The store is a JSON file (mode 0600) written atomically: write
``<store>.tmp``, fsync, ``os.replace``, fsync the directory; each version carries a generation number
and a checksum. A refresh runs under a file lock and goes through these steps (``checkpoint`` names in
brackets; tests crash the process at each):

1. Reload the store under the lock. If another process already rotated, adopt its tokens.
2. Save a write-ahead marker (``refresh_started``). This proves the store is writable *before*
   the old refresh token is spent; if it is not, we stop with the old token still valid.
3. POST the refresh [``before_refresh_request``] and receive the new pair
   [``refresh_response_received``].
4. Save the new pair at once, before it is used [``rotated:temp_written``, ``rotated:replaced``],
   keeping the refresh token just spent as ``previous_refresh_token`` and ``proven=false``.
   A crash after the temp file is fsynced but before the rename is recovered on the next load:
   a complete temp file (valid checksum, newer generation) is adopted.
5. The first successful API call with the new access token proves the pair; only then is the
   previous refresh token dropped [``proven:replaced``]. Until then, if the new refresh token is
   refused (``invalid_grant``: e.g. the token server never committed the rotation), the previous
   one is tried. A refresh that did not rotate has nothing to prove and is saved as proven.

Crash outcomes: before step 3 the old token is untouched; after step 4 the new one is on disk.
The one window no client can close is between the server committing the rotation and step 4's
fsync (the answer exists only in memory). There the next run gets ``invalid_grant`` and a message
that says to re-run the bootstrap (or, against a server with a reuse grace for just-used refresh
tokens, it recovers with the previous token). Secrets never appear in reprs, logs or errors.
"""

from __future__ import annotations

from cascade_sync_pipeline.oauth.bootstrap import _exchange as _exchange
from cascade_sync_pipeline.oauth.bootstrap import _status as _status
from cascade_sync_pipeline.oauth.bootstrap import _usage as _usage
from cascade_sync_pipeline.oauth.bootstrap import run_bootstrap
from cascade_sync_pipeline.oauth.grant import _on_host as _on_host
from cascade_sync_pipeline.oauth.grant import _split_url as _split_url
from cascade_sync_pipeline.oauth.grant import _TokenEndpoint as _TokenEndpoint
from cascade_sync_pipeline.oauth.grant import authorize_url, exchange_code
from cascade_sync_pipeline.oauth.provider import (
    Checkpoint,
    OAuthError,
    OAuthProvider,
    TokenState,
    parse_token_answer,
)
from cascade_sync_pipeline.oauth.provider import _default_workspace as _default_workspace
from cascade_sync_pipeline.oauth.provider import _no_checkpoint as _no_checkpoint
from cascade_sync_pipeline.oauth.session import OAuthSession
from cascade_sync_pipeline.oauth.session import _Release as _Release
from cascade_sync_pipeline.oauth.store import STORE_VERSION, TokenStore
from cascade_sync_pipeline.oauth.store import _digest as _digest
from cascade_sync_pipeline.oauth.store import _store_for as _store_for

__all__ = [
    "STORE_VERSION",
    "Checkpoint",
    "OAuthError",
    "OAuthProvider",
    "OAuthSession",
    "TokenState",
    "TokenStore",
    "authorize_url",
    "exchange_code",
    "parse_token_answer",
    "run_bootstrap",
]
