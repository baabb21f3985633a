"""The environment that hands a Settings object to a child process."""

from __future__ import annotations

import os

from services.kit.settings import Settings


def settings_env(settings: Settings, *, inherit: bool = True) -> dict[str, str]:
    """TONGXIN_* variables giving a child exactly these settings (over this process's env)."""
    env = dict(os.environ) if inherit else {}
    for name, value in settings.model_dump().items():
        secret = getattr(value, "get_secret_value", None)
        env[f"TONGXIN_{name.upper()}"] = str(secret() if secret else value)
    return env
