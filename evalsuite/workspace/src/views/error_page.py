"""Error page component for 4xx/5xx responses."""

from dataclasses import dataclass
from http import HTTPStatus

from tdom import Node, html

from src.views.home import Layout


@dataclass
class ErrorPage:
    """Renders a status code, a human message and, if known, the failing path."""

    status: int = 500
    message: str | None = None
    path: str | None = None
    request_id: str | None = None

    @property
    def reason(self) -> str:
        try:
            return HTTPStatus(self.status).phrase
        except ValueError:
            return "Error"

    def __call__(self) -> Node:
        message = self.message or "Something went wrong while handling your request."
        return html(t"""
            <{Layout} title={self.reason}>
              <section class="error-page" data-status={self.status}>
                <h1>{self.status} {self.reason}</h1>
                <p>{message}</p>
                {self.path and html(t"<p>Requested path: <code>{self.path}</code></p>")}
                {self.request_id and html(t"<small>Request ID {self.request_id}</small>")}
                <a href="/">Back to the home page</a>
              </section>
            </{Layout}>
        """)
