"""The one error type of this package: a head node, token or job that cannot be used as asked."""

from framework.errors import RaylaneError

__all__ = ["ClusterError"]


class ClusterError(RaylaneError):
    """The head node, its auth token, or a submitted job is not in the state the command needs."""

    exit_code = 1
