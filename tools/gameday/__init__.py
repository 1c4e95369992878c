"""make gameday and make calibrate: the real failover chain of a deployed pair, measured against make rto.

``python -m tools.gameday`` breaks the writer's region on purpose with an AWS FIS experiment
(examples/gameday/template.yaml) and follows the chain live; ``python -m tools.calibrate`` measures,
without a fault, the delays make rto otherwise assumes. See docs/gameday.md.
"""
