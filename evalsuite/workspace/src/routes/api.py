"""HTTP routes: each handler gets the request container plus the path parameters."""

from __future__ import annotations

from datetime import date

from svcs_di import HopscotchContainer
from tdom import Node

from src.routes import route
from src.services.billing_service import BillingService
from src.services.report_service import ReportService
from src.services.user_service import UserService
from src.views.account import account_page
from src.views.checkout import CheckoutPage, LineItem
from src.views.error_page import ErrorPage
from src.views.home import HomeView


@route("/")
def home(container: HopscotchContainer) -> Node:
    return container.inject(HomeView)()


@route("/users/{user_id}")
def user_profile(container: HopscotchContainer, user_id: str) -> Node:
    if container.get(UserService).get(user_id) is None:
        return ErrorPage(status=404, path=f"/users/{user_id}")()
    return account_page(container, user_id)


@route("/users/{user_id}/reports/{month}")
def monthly_report(container: HopscotchContainer, user_id: str, month: str) -> dict[str, object]:
    report = container.get(ReportService).monthly_report(user_id, date.fromisoformat(f"{month}-01"))
    return {"sessions": report.sessions, "tool_calls": report.tool_calls}


@route("/billing/{user_id}/checkout")
def checkout(container: HopscotchContainer, user_id: str) -> Node:
    invoices = container.get(BillingService).invoices.for_user(user_id)
    items = [LineItem(name=f"{inv.plan} plan", unit_price=inv.amount) for inv in invoices]
    return CheckoutPage(items=items)()


@route("/billing/invoices/{invoice_id", methods=("GET", "POST"))
def invoice_detail(container: HopscotchContainer, invoice_id: str) -> dict[str, object]:
    repo = container.get(BillingService).invoices
    invoice = repo.invoices.get(invoice_id)
    if invoice is None:
        return {"error": "not found"}
    return {"id": invoice.id, "amount": str(invoice.amount), "paid": invoice.paid}
