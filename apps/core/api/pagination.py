"""Keyset (cursor) pagination everywhere: no COUNT(*) and stable pages under inserts."""

from rest_framework.pagination import CursorPagination


class DefaultCursorPagination(CursorPagination):
    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
