"""python -m gds_client: a minimal application loop (the Kubernetes example's container runs it).

Every second: SET a key, GET it back, log the outcome and which endpoint served it. Settings come
from the environment (ClientSettings.from_env); a bad setting exits 2 with one line.
"""

from __future__ import annotations

import logging
import sys
import time

import redis

from gds_client import ClientSettings, SettingsError, connect, connect_cluster


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        settings = ClientSettings.from_env()
    except SettingsError as error:
        print(f"gds_client: {error}", file=sys.stderr)
        return 2
    client = connect_cluster(settings) if settings.cluster else connect(settings)
    log = logging.getLogger("gds_client.demo")
    sequence = 0
    while True:
        sequence += 1
        key = f"gds-client-demo:{sequence}"
        try:
            client.set(key, str(time.time()), ex=600)
            client.get(key)
            target = client.last_target  # cluster mode: where redis.internal led on the last topology refresh
            log.info("write %d ok on %s", sequence, target.canonical_name if target else "?")
        except redis.RedisError as error:
            log.warning("write %d failed: %s: %s", sequence, type(error).__name__, error)
        time.sleep(1.0)


if __name__ == "__main__":
    sys.exit(main())
