"""Developer tooling: the Docker-free invoker, local redis-servers, the drill, the bench and the RTO model;
operator tooling: deploy (peer wiring from the peer's stack), preflight and verify.

Nothing here is deployed; the Lambda code lives in functions/ and layers/.
"""

import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent
# The domain package ships in the Lambda layer (layers/shared); tools import it from there. The drill's
# application client is the example client (examples/client-python/gds_client).
for _path in (_ROOT / "layers" / "shared", _ROOT / "examples" / "client-python"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))
