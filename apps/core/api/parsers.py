"""Request parsers: DRF's, hardened so that no request body can make the API answer 500.

The API's default (settings.REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]).
"""

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser; a document nested too deeply is a client error, not a crash.

    Python's json module raises RecursionError (not ValueError, which DRF catches) on a
    few thousand nested brackets, which anyone can send.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError("JSON parse error - the document is nested too deeply.") from exc
