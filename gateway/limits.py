"""Error codes for documents the gateway refuses before running them.

graphql-core and strawberry report a syntax error, a failed validation rule or a bad
variable without `extensions.code`; a client should not have to parse messages to
tell a depth bomb from a typo. Limit rules report their own code; what is left is
coded by the phase that refused it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError
from graphql.validation import ASTValidationRule, ValidationContext
from strawberry.extensions import AddValidationRules, SchemaExtension

from gateway.errors import BAD_USER_INPUT, GRAPHQL_PARSE_FAILED, GRAPHQL_VALIDATION_FAILED


def _with_code(error: GraphQLError, code: str) -> None:
    if not (error.extensions or {}).get("code"):
        error.extensions = {**(error.extensions or {}), "code": code}


def coded(extension: AddValidationRules, code: str) -> AddValidationRules:
    """The extension's validation rules, reporting their errors with `code`."""
    extension.validation_rules = [_reporting(rule, code) for rule in extension.validation_rules]
    return extension


def _reporting(rule: type[ASTValidationRule], code: str) -> type[ASTValidationRule]:
    class Coded(rule):  # type: ignore[valid-type,misc]
        # Strawberry's limiters report through the context they are given, from
        # __init__ on; so the context is what reports with the code.
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(_CodingContext(context, code))

    Coded.__name__ = f"Coded{rule.__name__}"
    return Coded


class _CodingContext:
    """A validation context whose reported errors carry a code."""

    def __init__(self, context: ValidationContext, code: str) -> None:
        self._context = context
        self._code = code

    def report_error(self, error: GraphQLError) -> None:
        _with_code(error, self._code)
        self._context.report_error(error)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)


class PhaseErrorCodes(SchemaExtension):
    """Codes the errors of parsing, validation and variable coercion that have none."""

    def on_parse(self) -> Iterator[None]:
        yield
        self._code_pre_execution(GRAPHQL_PARSE_FAILED)

    def on_validate(self) -> Iterator[None]:
        yield
        self._code_pre_execution(GRAPHQL_VALIDATION_FAILED)

    def on_execute(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        for error in getattr(result, "errors", None) or []:
            # Without a path the error is not a field's: the variables or the
            # operation name did not fit the document.
            if error.path is None:
                _with_code(error, BAD_USER_INPUT)

    def _code_pre_execution(self, code: str) -> None:
        for error in self.execution_context.pre_execution_errors or []:
            _with_code(error, code)
