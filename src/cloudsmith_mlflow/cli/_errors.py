"""Expected errors as one line with the fix, and the CLI's exit codes.

Exit codes: 0 success, 1 failure (the store, the network, local files), 2 usage
(a malformed argument, a missing setting such as CLOUDSMITH_API_KEY). Expected
errors never print a traceback; ``CLOUDSMITH_DEBUG=true`` shows the debug log.
Every message passes through the log redaction, so a registered key never shows.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NoReturn, ParamSpec, TypeVar

import click

from cloudsmith_mlflow.domain.errors import (
    AuthenticationFailed,
    CloudsmithMlflowError,
    ConfigurationError,
    InvalidArtifactPath,
    InvalidArtifactUri,
    PermissionDenied,
    RepositoryNotFound,
    StoreUnavailable,
)

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2

P = ParamSpec("P")
R = TypeVar("R")

#: A hint appended to an error of each kind, unless its message already holds ``token``.
_HINTS: tuple[tuple[type[BaseException], str, str], ...] = (
    (
        AuthenticationFailed,
        "cloudsmith.io/user/settings/api",
        "check CLOUDSMITH_API_KEY (https://cloudsmith.io/user/settings/api/)",
    ),
    (PermissionDenied, "access", "use an API key with the needed access to this repository"),
    (
        RepositoryNotFound,
        "doctor",
        "check the owner and repository slugs (`cloudsmith-mlflow doctor cloudsmith://OWNER/REPO`)",
    ),
    (
        StoreUnavailable,
        "retry",
        "check CLOUDSMITH_API_HOST and the network, then retry (`cloudsmith-mlflow doctor`)",
    ),
)


class CliError(click.ClickException):
    """An expected failure: printed as ``Error: <message>``, exit code 1."""

    exit_code = EXIT_FAILURE

    def __init__(self, message: str) -> None:
        super().__init__(_redact(message))


class CliUsageError(CliError):
    """A usage or configuration error: printed as ``Error: <message>``, exit code 2."""

    exit_code = EXIT_USAGE


def fail(message: str, code: int = EXIT_FAILURE) -> NoReturn:
    """Stop the command with a one-line error (``message`` should name the fix)."""
    raise (CliUsageError if code == EXIT_USAGE else CliError)(message)


def describe_error(error: BaseException) -> str:
    """One line for an expected error, with a hint at the fix when the message has none."""
    message = " ".join(str(error).split()) or type(error).__name__
    for kind, token, hint in _HINTS:
        if isinstance(error, kind) and token.lower() not in message.lower():
            return f"{message.rstrip('.')}: {hint}"
    return message


def exit_code_of(error: BaseException) -> int:
    """2 for configuration and argument errors, 1 for everything else."""
    usage = (ConfigurationError, InvalidArtifactUri, InvalidArtifactPath)
    return EXIT_USAGE if isinstance(error, usage) else EXIT_FAILURE


def handle_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn the library's errors, network and local file errors into one-line CLI errors."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except click.ClickException:
            raise
        except CloudsmithMlflowError as exc:
            fail(describe_error(exc), exit_code_of(exc))
        except OSError as exc:
            raise CliError(_os_message(exc)) from None
        except Exception as exc:
            if _is_network_error(exc):
                raise CliError(
                    f"cannot reach Cloudsmith ({type(exc).__name__}): check CLOUDSMITH_API_HOST "
                    "and the network, then retry"
                ) from None
            raise

    return wrapper


def _os_message(exc: OSError) -> str:
    if exc.filename is not None and exc.strerror:
        return f"{exc.strerror}: {exc.filename}"
    return str(exc) or type(exc).__name__


def _is_network_error(exc: BaseException) -> bool:
    module = type(exc).__module__ or ""
    return module.split(".", 1)[0] in {"requests", "urllib3", "http"}


def _redact(text: str) -> str:
    from cloudsmith_mlflow.logs import redact

    return redact(text)
