"""Landing page and the shared page layout."""

from dataclasses import dataclass

from svcs_di import Inject
from svcs_di.injectors import injectable
from tdom import Node, html

from src.agent.config import AgentConfig


def Layout(title: str, children: list[Node] | None = None) -> Node:
    """Page chrome shared by every view."""
    return html(t"""
        <html lang="en">
          <head>
            <meta charset="utf-8" />
            <title>{title} · punie</title>
            <link rel="stylesheet" href="/static/app.css" />
          </head>
          <body>
            <nav><a href="/">punie</a> <a href="/account">Account</a></nav>
            <main>{children}</main>
          </body>
        </html>
    """)


@injectable
@dataclass
class HomeView:
    """Landing page: shows which model and adapter the agent is running."""

    config: Inject[AgentConfig]
    title: str = "Home"

    def __call__(self) -> Node:
        adapter = self.config.adapter_path.name if self.config.adapter_path else "none"
        return html(t"""
            <{Layout} title={self.title}>
              <h1>punie agent</h1>
              <dl class="model-info">
                <dt>Model</dt><dd>{self.config.model}</dd>
                <dt>Adapter</dt><dd>{adapter}</dd>
                <dt>Max turns</dt><dd>{self.config.max_turns}</dd>
              </dl>
              <a class="button" href="/session/new">Start a session</a>
            </{Layout}>
        """)
