"""Invoices and payment capture for paid plans."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum

from svcs_di import Inject
from svcs_di.injectors import injectable

from src.services.user_service import UserService


class Plan(StrEnum):
    FREE = "free"
    PRO = "pro"
    TEAM = "team"


PLAN_PRICES: dict[Plan, Decimal] = {
    Plan.FREE: Decimal("0.00"),
    Plan.PRO: Decimal("12.00"),
    Plan.TEAM: Decimal("49.00"),
}


@dataclass(frozen=True)
class Invoice:
    id: str
    user_id: str
    plan: Plan
    amount: Decimal
    paid: bool = False


@injectable
@dataclass
class InvoiceRepository:
    invoices: dict[str, Invoice] = field(default_factory=dict)

    def save(self, invoice: Invoice) -> None:
        self.invoices[invoice.id] = invoice

    def for_user(self, user_id: str) -> list[Invoice]:
        return [inv for inv in self.invoices.values() if inv.user_id == user_id]


@injectable
@dataclass
class BillingService:
    """Creates invoices and charges them through the payment gateway."""

    users: Inject[UserService]
    invoices: Inject[InvoiceRepository]
    gateway: Inject[PaymentGateway]

    def invoice(self, user_id: str, plan: Plan) -> Invoice:
        if self.users.get(user_id) is None:
            raise LookupError(f"no user {user_id}")
        number = len(self.invoices.invoices) + 1
        invoice = Invoice(
            id=f"INV-{number:05d}", user_id=user_id, plan=plan, amount=PLAN_PRICES[plan]
        )
        self.invoices.save(invoice)
        return invoice

    def charge(self, invoice: Invoice) -> Invoice:
        if invoice.paid:
            return invoice
        if invoice.amount > 0:
            self.gateway.capture(invoice.id, invoice.amount)
        paid = replace(invoice, paid=True)
        self.invoices.save(paid)
        return paid
