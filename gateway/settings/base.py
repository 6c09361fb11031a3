"""What every settings module shares: the strict base model, the environment's naming, and the
one error type a bad configuration raises."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

ENV_PREFIX = "SKEIN_"
CONFIG_ENV = "SKEIN_CONFIG"


# Unknown keys are errors (a typo must never fall back to a default) and settings never change
# after loading.
class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SettingsError(Exception):
    """The configuration is invalid; each line names the file or variable and the key, and
    says what to do (``skein`` prints it and exits with 2)."""
