"""Developer tooling: the Docker-free invoker, local redis-servers, the drill, the bench and the RTO model;
operator tooling: deploy (peer wiring from the peer's stack), preflight and verify.

Nothing here is deployed; the Lambda code lives in functions/ and layers/.
"""

import sys
from pathlib import Path

# The domain package ships in the Lambda layer (layers/shared); tools import it from there.
_LAYER = str(Path(__file__).resolve().parent.parent / "layers" / "shared")
if _LAYER not in sys.path:
    sys.path.insert(0, _LAYER)
