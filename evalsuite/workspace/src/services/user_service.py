"""Users: the repository protocol, an in-memory implementation and the service."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Protocol

from svcs_di import HopscotchRegistry, Inject
from svcs_di.injectors import injectable


@dataclass(frozen=True)
class User:
    id: str
    email: str
    display_name: str
    is_active: bool = True


class UserRepository(Protocol):
    def get(self, user_id: str) -> User | None: ...

    def add(self, user: User) -> None: ...

    def find_by_email(self, email: str) -> User | None: ...


@dataclass
class InMemoryUserRepository:
    """Default repository for development and tests."""

    users: dict[str, User] = field(default_factory=dict)

    def get(self, user_id: str) -> User | None:
        return self.users.get(user_id)

    def add(self, user: User) -> None:
        self.users[user.id] = user

    def find_by_email(self, email: str) -> User | None:
        return next((u for u in self.users.values() if u.email == email.lower()), None)


class DuplicateEmailError(ValueError):
    pass


@injectable
@dataclass
class UserService:
    """Registration and lookup of users; the views never touch the repository directly."""

    repo: Inject[UserRepository]

    def get(self, user_id: str) -> User | None:
        return self.repo.get(user_id)

    def register(self, email: str, display_name: str) -> User:
        email = email.strip().lower()
        if self.repo.find_by_email(email) is not None:
            raise DuplicateEmailError(f"{email} is already registered")
        user = User(id=uuid.uuid4().hex, email=email, display_name=display_name.strip())
        self.repo.add(user)
        return user


def svcs_setup(registry: HopscotchRegistry) -> None:
    """Called by the app at startup: bind the repository protocol to an implementation."""
    repo = InMemoryUserRepository()
    registry.register_factory(UserRepository, lambda: repo)
    registry.register_factory(UserService, UserService)
