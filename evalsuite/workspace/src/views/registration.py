"""Sign-up form: fields, validation errors and the welcome banner."""

from dataclasses import dataclass, field

from tdom import Node, html

from src.views.home import Layout


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


@dataclass
class RegistrationForm:
    """Values typed so far plus any validation errors from the last submit."""

    email: str = ""
    display_name: str = ""
    errors: list[FieldError] = field(default_factory=list)

    def error_for(self, name: str) -> str | None:
        return next((e.message for e in self.errors if e.field == name), None)


def form_field(form: RegistrationForm, name: str, label: str, kind: str = "text") -> Node:
    value = getattr(form, name)
    error = form.error_for(name)
    return html(t"""
        <div class={["field", {"has-error": error is not None}]}>
          <label for={name}>{label}</label>
          <input id={name} name={name} type={kind} value={value} required />
          {error and html(t'<p class="error">{error}</p>')}
        </div>
    """)


def welcome_banner(display_name: str) -> Node:
    # The display name is user input, so it has to be escaped by tdom.
    return html(f'<div class="banner">Welcome aboard, {display_name}!</div>')


def RegistrationPage(form: RegistrationForm, registered_as: str | None = None) -> Node:
    banner = welcome_banner(registered_as) if registered_as else None
    return html(t"""
        <{Layout} title="Create an account">
          {banner}
          <form method="post" action="/register">
            {form_field(form, "email", "Email", kind="email")}
            {form_field(form, "display_name", "Display name")}
            <button type="submit">Create account</button>
          </form>
        </{Layout}>
    """)
