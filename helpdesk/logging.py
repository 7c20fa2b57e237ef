"""Log filtering: query strings (``hapikey``) and bearer tokens never reach a log line."""

import logging
import re

_QUERY_STRING = re.compile(r"(\?)[^\s\"']+")
_BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE)


def redact(text: str) -> str:
    return _BEARER.sub(r"\1[redacted]", _QUERY_STRING.sub(r"\1[redacted]", text))


class RedactSecretsFilter(logging.Filter):
    """Rewrites each record's message with query strings and bearer tokens removed."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        return True
