"""User-facing errors. Each carries a one-line message (what, where, what to do) and an exit code.

The CLI prints the message and exits with the code; it never shows a traceback for these.
Exit 2 means "could not run" (bad arguments, unreadable config, missing input), as in the
runbook's exit-code table.
"""


class EcomlakeError(Exception):
    exit_code = 2

    def __init__(self, message: str, exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code

    @property
    def message(self) -> str:
        return str(self.args[0])


class ConfigError(EcomlakeError):
    """The config file, an environment variable or a flag is malformed."""


class InputError(EcomlakeError):
    """An input path, partition, file or table is missing or unreadable."""


class GateFailed(EcomlakeError):
    """A quality gate failed while enforcing (exit 1)."""

    exit_code = 1
