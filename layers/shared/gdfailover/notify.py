"""Operator notification: the decision record, published to an SNS topic when one is configured."""

from __future__ import annotations

import json
from typing import Any

from gdfailover.awscall import call

SUBJECT_LIMIT = 100  # SNS rejects longer subjects


class OperatorTopic:
    def __init__(self, client: Any, topic_arn: str) -> None:
        self._client = client
        self._topic_arn = topic_arn

    def publish(self, subject: str, record: dict[str, Any]) -> None:
        call(
            "Publish",
            self._client.publish,
            TopicArn=self._topic_arn,
            Subject=subject[:SUBJECT_LIMIT],
            Message=json.dumps(record, indent=2, sort_keys=True, default=str),
        )
