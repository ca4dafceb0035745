"""The project's error types. A ConfigError's message names the file and key at fault; the CLI
prints it as one line and exits non-zero."""


class Sim2RealError(Exception):
    """Base for errors a user can act on (bad config, unknown robot, missing file)."""


class ConfigError(Sim2RealError):
    """A malformed robot config, reality profile, URDF path or parameter."""
