"""Errors raised by the slices package.

Temporary errors may succeed on retry (a busy registry, a daemon still starting); permanent
errors need someone to change the input (an overlapping CIDR, a missing key file).
"""

from __future__ import annotations

import faults


class SliceError(Exception):
    """Base class for every error of the slices package."""


class PermanentError(SliceError, faults.PermanentError):
    """Retrying will not help: the message names the object and the fix."""


class TemporaryError(SliceError, faults.TemporaryError):
    """Retrying after `delay_seconds` may succeed."""


class ValidationError(PermanentError):
    """Bad input: a name, CIDR, endpoint or key that cannot be used."""


class NotFoundError(PermanentError):
    """A slice or member the caller named does not exist in the registry."""


class AlreadyExistsError(PermanentError):
    """The request clashes with existing state (a slice name taken, a site already joined,
    a CIDR overlapping another slice's)."""


class AddressExhaustedError(PermanentError):
    """The slice CIDR has no free address left for a new member."""


class KeyMaterialError(PermanentError):
    """A site's key file is missing, unreadable or has unsafe permissions."""


class ConflictError(TemporaryError):
    """A write lost an optimistic-concurrency race (HTTP 409 Conflict): re-read and retry."""

    def __init__(self, message: str, delay_seconds: float = 0.0) -> None:
        super().__init__(message, delay_seconds)


class RegistryBusyError(TemporaryError):
    """The registry database stayed locked by another writer past the timeout."""


class ApplyError(TemporaryError):
    """A `wg`, `ip` or `nft` command failed; the message names the command and its stderr."""


class RotationError(PermanentError):
    """A key rotation cannot proceed from the current phase."""


class ForbiddenError(PermanentError):
    """The hub refused the request (HTTP 403): this site's credentials do not allow it."""


class HubUnavailableError(TemporaryError):
    """The hub apiserver did not answer: keep the last applied config and retry later."""
