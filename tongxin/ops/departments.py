"""Which departments to provision and the NATS user each one's system connects as."""

from __future__ import annotations

from dataclasses import dataclass

from contracts.departments import load_ownership_map


@dataclass(frozen=True)
class DepartmentAccount:
    code: str
    user: str  # the NATS user, `dept-<code>`
    password_env: str  # its key in the platform's `tongxin-nats-users` Secret

    @property
    def namespace(self) -> str:
        return f"tongxin-dept-{self.code}"

    @property
    def service_account(self) -> str:
        return f"dept-{self.code}"


class UnknownDepartment(ValueError):
    pass


def password_env(user: str) -> str:
    """`NATS_PASSWORD_<USER>`: the variable the nats-server config reads the password from."""
    return "NATS_PASSWORD_" + user.upper().replace("-", "_")


def department_accounts(codes: list[str] | None = None) -> list[DepartmentAccount]:
    """Every department of contracts/departments.json, or the named ones, in that order."""
    known = [d.code for d in load_ownership_map().departments]
    wanted = known if not codes else list(dict.fromkeys(codes))
    unknown = [code for code in wanted if code not in known]
    if unknown:
        raise UnknownDepartment(
            f"unknown department(s) {', '.join(unknown)}; known: {', '.join(known)}"
        )
    return [
        DepartmentAccount(code=code, user=f"dept-{code}", password_env=password_env(f"dept-{code}"))
        for code in wanted
    ]
