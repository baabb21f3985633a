"""Which departments to provision and the NATS user each one's system connects as."""

from __future__ import annotations

from dataclasses import dataclass

from tongxin import natsauth


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


def department_accounts(codes: list[str] | None = None) -> list[DepartmentAccount]:
    """The department users the NATS authorization is generated with (every department of
    contracts/departments.json), or the named ones, in that order."""
    accounts = {
        user.department: DepartmentAccount(
            code=user.department, user=user.name, password_env=user.password_env
        )
        for user in natsauth.users()
        if user.kind == "department" and user.department is not None
    }
    wanted = list(accounts) if not codes else list(dict.fromkeys(codes))
    unknown = [code for code in wanted if code not in accounts]
    if unknown:
        raise UnknownDepartment(
            f"unknown department(s) {', '.join(unknown)}; known: {', '.join(accounts)}"
        )
    return [accounts[code] for code in wanted]
