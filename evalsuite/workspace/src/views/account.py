"""Account pages. Their components get services injected, so rendering needs a container."""

from dataclasses import dataclass

from svcs_di import HopscotchContainer, Inject
from svcs_di.injectors import injectable
from tdom import Node
from tdom_svcs import html

from src.services.billing_service import BillingService
from src.services.user_service import UserService
from src.views.home import Layout


@injectable
@dataclass
class AccountSummary:
    users: Inject[UserService]
    user_id: str = ""

    def __call__(self) -> Node:
        user = self.users.get(self.user_id)
        if user is None:
            return html(t'<p class="missing">Unknown account.</p>')
        return html(t"""
            <section class="account-summary">
              <h2>{user.display_name}</h2>
              <p>{user.email}</p>
            </section>
        """)


@injectable
@dataclass
class InvoiceList:
    billing: Inject[BillingService]
    user_id: str = ""

    def __call__(self) -> Node:
        invoices = self.billing.invoices.for_user(self.user_id)
        rows = [
            html(t"<li>{inv.id}: ${inv.amount} {'paid' if inv.paid else 'due'}</li>")
            for inv in invoices
        ]
        return html(t'<ul class="invoices">{rows}</ul>')


def account_page(container: HopscotchContainer, user_id: str) -> Node:
    """Full account page; the container lets tdom-svcs inject the services."""
    return html(
        t"""
        <{Layout} title="Your account">
          <{AccountSummary} user_id={user_id} />
          <{InvoiceList} user_id={user_id} />
        </{Layout}>
        """,
        context=container,
    )


def invoices_fragment(user_id: str) -> Node:
    """HTMX partial for refreshing the invoice list."""
    return html(t"<{InvoiceList} user_id={user_id} />")
