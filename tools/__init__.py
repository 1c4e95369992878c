"""Developer tooling: the Docker-free invoker, local redis-servers, the drill, the bench and the RTO model.

Nothing here is deployed; the Lambda code lives in functions/ and layers/.
"""
