"""The OpenAPI document of ``/api/v1``: quart-schema's, limited to the API's own routes and
completed with what every call shares (bearer security, the error answers, object codes in
paths, the idempotency header of unsafe calls, binary downloads)."""

from __future__ import annotations

import copy
from typing import Any

from quart_schema import OpenAPIProvider

from managely.web.api.base import CODE_PATTERN, IDEMPOTENCY_HEADER, UNSAFE, ErrorBody

PREFIX = "/api/v1/"
ERROR_STATUSES = (400, 401, 403, 404, 409, 422, 429)
UNSAFE_ERROR_STATUSES = (402,)  # a purchase the wallet cannot cover


class ApiOpenAPIProvider(OpenAPIProvider):
    def generate_rules(self):
        for rule in super().generate_rules():
            if rule.rule.startswith(PREFIX) and rule.endpoint != "openapi":
                yield rule

    def build_path_parameter(self, name, converter) -> dict[str, Any]:
        parameter = super().build_path_parameter(name, converter)
        parameter["schema"] = {"type": "string", "pattern": CODE_PATTERN}
        return parameter

    def build_paths(self, rule):
        paths, components = super().build_paths(rule)
        error_object, error_components = self.build_response_object(ErrorBody, None)
        error_object["description"] = "The error, with a stable code and a translated message."
        components.update(error_components)
        view = self._app.view_functions[rule.endpoint]
        for methods in paths.values():
            for method, operation in methods.items():
                operation = methods[method] = copy.deepcopy(operation)
                _complete(operation, method.upper(), view, error_object)
        return paths, components


def _complete(operation: dict, method: str, view, error_object: dict) -> None:
    operation["security"] = [{"bearer": []}]
    statuses = ERROR_STATUSES + (UNSAFE_ERROR_STATUSES if method in UNSAFE else ())
    for status in statuses:
        operation["responses"].setdefault(status, copy.deepcopy(error_object))
    binary = getattr(view, "_api_binary", None)
    if binary:
        operation["responses"][200] = {
            "description": "The file.",
            "content": {binary: {"schema": {"type": "string", "format": "binary"}}},
        }
    if method in UNSAFE:
        operation["parameters"].append(
            {
                "name": IDEMPOTENCY_HEADER,
                "in": "header",
                "required": False,
                "description": "Sent again with the same request, answers the first result.",
                "schema": {"type": "string", "pattern": "^[A-Za-z0-9_.:-]{1,128}$"},
            }
        )
