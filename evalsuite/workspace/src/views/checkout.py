"""Checkout page, composed from small components into one render tree.

CheckoutPage
└── Layout
    ├── CartTable
    │   └── CartLine (one per item)
    ├── OrderSummary
    └── PaymentForm
"""

from dataclasses import dataclass, field
from decimal import Decimal

from tdom import Node, html

from src.views.home import Layout

TAX_RATE = Decimal("0.08")


@dataclass(frozen=True)
class LineItem:
    name: str
    unit_price: Decimal
    quantity: int = 1

    @property
    def total(self) -> Decimal:
        return self.unit_price * self.quantity


def CartLine(item: LineItem) -> Node:
    return html(t"""
        <tr>
          <td>{item.name}</td>
          <td class="qty">{item.quantity}</td>
          <td class="price">${item.total:.2f}</td>
        </tr>
    """)


def CartTable(items: list[LineItem]) -> Node:
    if not items:
        return html(t'<p class="empty-cart">Your cart is empty.</p>')
    rows = [html(t"<{CartLine} item={item} />") for item in items]
    return html(t"""
        <table class="cart">
          <thead><tr><th>Item</th><th>Qty</th><th>Price</th></tr></thead>
          <tbody>{rows}</tbody>
        </table>
    """)


def OrderSummary(items: list[LineItem]) -> Node:
    subtotal = sum((item.total for item in items), Decimal("0"))
    tax = (subtotal * TAX_RATE).quantize(Decimal("0.01"))
    return html(t"""
        <aside class="summary">
          <p>Subtotal <strong>${subtotal:.2f}</strong></p>
          <p>Tax <strong>${tax:.2f}</strong></p>
          <p class="total">Total <strong>${subtotal + tax:.2f}</strong></p>
        </aside>
    """)


def PaymentForm(action: str = "/billing/charge", disabled: bool = False) -> Node:
    return html(t"""
        <form class="payment" method="post" action={action}>
          <input name="card_number" autocomplete="cc-number" placeholder="Card number" />
          <input name="expiry" autocomplete="cc-exp" placeholder="MM/YY" />
          <button type="submit" disabled={disabled}>Pay now</button>
        </form>
    """)


@dataclass
class CheckoutPage:
    items: list[LineItem] = field(default_factory=list)

    def __call__(self) -> Node:
        return html(t"""
            <{Layout} title="Checkout">
              <h1>Checkout</h1>
              <{CartTable} items={self.items} />
              <{OrderSummary} items={self.items} />
              <{PaymentForm} disabled={not self.items} />
            </{Layout}>
        """)
