"""``pocketping project ...``: projects, their keys and widget settings."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from pocketping.cli.common import JsonOpt, emit, group, run

app = group("Projects, their keys and widget settings.")


def _project_human(p: dict[str, Any]) -> str:
    lines = [f"{p['id']}  {p['name']}", f"  public key:  {p['publicKey']}"]
    if "secretKey" in p:
        lines.append(f"  secret key:  {p['secretKey']}   (shown once: store it now)")
    else:
        lines.append(f"  secret key:  sk_live_...{p['secretKeyHint']}")
    lines.append(f"  origins:     {', '.join(p['allowedOrigins']) or 'any (restrict with --origin)'}")
    w = p["widget"]
    lines.append(f"  widget:      {w['primaryColor']}, {w['position']}, operator {w['operatorName']!r}, "
                 f"locale {w['locale'] or 'auto'}")
    if p.get("mail"):
        lines.append(f"  email:       replies {p['mail']['replies']}, after {p['mail']['delay']} s")
    if p.get("hours"):
        lines.append(f"  hours:       {p['hours']}")
    if p.get("prechat") and p["prechat"] != "off":
        lines.append(f"  pre-chat:    {p['prechat']}")
    if p.get("retentionDays"):
        lines.append(f"  retention:   closed conversations erased after {p['retentionDays']} days")
    if p.get("consent"):
        lines.append(f"  consent:     {p['consent']}")
    if p.get("notifyEvents"):
        lines.append(f"  notable events: {', '.join(p['notifyEvents'])}")
    return "\n".join(lines)


@app.command("create")
def project_create(
    name: str,
    origin: Annotated[list[str] | None, typer.Option("--origin", help="Allowed widget origin "
                                                     "(repeatable; https://*.example.com for subdomains)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a project; prints its public key and its secret key (shown once)."""
    from pocketping.actions.projects import create_project

    project, secret = run(lambda svc: create_project(svc, name, origin or []), as_json)
    data = {"id": project.id, "name": project.name, "publicKey": project.public_key, "secretKey": secret}
    full = {**project.to_api(), "secretKey": secret}
    emit(data | {k: v for k, v in full.items() if k not in data}, as_json, lambda: _project_human(full))


@app.command("list")
def project_list(as_json: JsonOpt = False) -> None:
    """List projects."""
    from pocketping.actions.projects import list_projects

    found = run(list_projects, as_json)
    emit([p.to_api() for p in found], as_json,
         lambda: "\n".join(f"{p.id}  {p.name}  {p.public_key}" for p in found) or "no projects yet")


@app.command("show")
def project_show(project_id: str, as_json: JsonOpt = False) -> None:
    """Show a project."""
    from pocketping.actions.projects import get_project

    project = run(lambda svc: get_project(svc, project_id), as_json)
    emit(project.to_api(), as_json, lambda: _project_human(project.to_api()))


@app.command("update")
def project_update(
    project_id: str,
    name: Annotated[str | None, typer.Option(help="New name")] = None,
    origin: Annotated[list[str] | None, typer.Option("--origin", help="Allowed origins (replaces the list; "
                                                                      "repeatable)")] = None,
    clear_origins: Annotated[bool, typer.Option("--clear-origins", help="Allow any origin")] = False,
    primary_color: Annotated[str | None, typer.Option(help="Widget color, e.g. #2563eb")] = None,
    operator_name: Annotated[str | None, typer.Option(help="Name shown in the widget header")] = None,
    welcome_message: Annotated[str | None, typer.Option(help="First line the visitor sees")] = None,
    position: Annotated[str | None, typer.Option(help="bottom-right or bottom-left")] = None,
    locale: Annotated[str | None, typer.Option(help="en, fr, de, es, pt, ar, or auto")] = None,
    offline_form: Annotated[bool | None, typer.Option("--offline-form/--no-offline-form",
                                                      help="Ask for an email when nobody is online")] = None,
    ratings: Annotated[str | None, typer.Option(help="What the widget asks once a conversation is closed: "
                                                     "stars, thumbs or off")] = None,
    notify_event: Annotated[list[str] | None, typer.Option("--notify-event", help="Custom event name to post "
                                                           "into the team's threads (repeatable)")] = None,
    clear_notify_events: Annotated[bool, typer.Option("--clear-notify-events")] = False,
    collect_country: Annotated[bool | None, typer.Option("--collect-country/--no-collect-country",
                                                         help="Store the visitor's country")] = None,
    store_ip: Annotated[bool | None, typer.Option("--store-ip/--no-store-ip",
                                                  help="Store the visitor's IP address")] = None,
    identity_secret: Annotated[str | None, typer.Option(help="Require identify() calls to carry userHash = "
                                                        "HMAC-SHA256(secret, id)")] = None,
    clear_identity_secret: Annotated[bool, typer.Option("--clear-identity-secret")] = False,
    upload_types: Annotated[str | None, typer.Option(
        "--upload-types", help="File types visitors and operators may send, e.g. image/*,application/pdf "
                               "(checked against the files' bytes); 'default' for the built-in list")] = None,
    email_replies: Annotated[str | None, typer.Option("--email-replies", help="on|off: mail a visitor who left "
                                                      "an address the replies they have not seen (default on "
                                                      "once SMTP is configured)")] = None,
    email_delay: Annotated[int | None, typer.Option("--email-delay", help="Seconds a reply may stay unseen "
                                                    "before it is mailed (default 300)")] = None,
    hours: Annotated[str | None, typer.Option("--hours", help="Office hours, e.g. 'mon-fri 09:00-18:00; "
                                              "sat 10:00-13:00' (\"\" for none): outside them the widget shows "
                                              "away")] = None,
    timezone: Annotated[str | None, typer.Option("--timezone", help="Time zone of the hours, e.g. "
                                                 "Europe/Paris (default UTC)")] = None,
    away_message: Annotated[str | None, typer.Option("--away-message", help="What the widget says outside "
                                                     "the hours")] = None,
    closed_on: Annotated[str | None, typer.Option("--closed-on", help="Days closed all day, e.g. "
                                                  "2026-12-25,2027-01-01")] = None,
    consent_text: Annotated[str | None, typer.Option("--consent-text", help="The consent line under every form "
                                                     "that asks for an email (\"\" for none)")] = None,
    prechat: Annotated[str | None, typer.Option("--prechat", help="off|optional|required: ask for name, email "
                                                "and the first message before the chat")] = None,
    retention_days: Annotated[int | None, typer.Option("--retention-days", help="Erase closed conversations "
                                                       "older than N days, copies in the chat apps included "
                                                       "(0: keep forever)")] = None,
    consent: Annotated[str | None, typer.Option("--consent", help="off|notice|required: show the consent text "
                                                "once (notice, the default), or collect no metadata and no "
                                                "email before the visitor accepts it (required)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Change a project's name, origins or widget settings (takes effect on running servers within seconds)."""
    from pocketping.actions.projects import update_project

    widget: dict[str, Any] = {}
    for key, value in (("primary_color", primary_color), ("operator_name", operator_name),
                       ("welcome_message", welcome_message), ("position", position),
                       ("offline_form", offline_form), ("ratings", ratings)):
        if value is not None:
            widget[key] = value
    if locale is not None:
        widget["locale"] = None if locale == "auto" else locale
    extra: dict[str, Any] = {}
    if notify_event is not None or clear_notify_events:
        extra["notify_events"] = notify_event or []
    if collect_country is not None:
        extra["collect_country"] = collect_country
    if store_ip is not None:
        extra["store_ip"] = store_ip
    if upload_types is not None:
        extra["upload_types"] = [] if upload_types.strip().lower() == "default" else upload_types
    if email_replies is not None:
        extra["email_replies"] = email_replies
    if email_delay is not None:
        extra["email_delay"] = email_delay
    if retention_days is not None:
        extra["retention_days"] = retention_days
    for key, value in (("hours", hours), ("timezone", timezone), ("away_message", away_message),
                       ("closed_on", closed_on), ("prechat", prechat), ("consent_text", consent_text),
                       ("consent", consent)):
        if value is not None:
            extra[key] = value
    origins = [] if clear_origins else origin
    project = run(lambda svc: update_project(svc, project_id, name=name, origins=origins, widget=widget,
                                             settings=extra, identity_secret=identity_secret,
                                             clear_identity_secret=clear_identity_secret), as_json)
    human = {**project.to_api(), "mail": {"replies": {True: "on", False: "off", None: "default"}[
        project.extra.get("email_replies")], "delay": project.extra.get("email_delay", 300)},
        "prechat": project.extra.get("prechat"), "retentionDays": project.extra.get("retention_days"),
        "hours": project.extra.get("hours") and " ".join(filter(None, (
            project.extra["hours"], project.extra.get("timezone"),
            "closed " + ", ".join(project.extra["closed_on"]) if project.extra.get("closed_on") else "")))}
    emit(project.to_api(), as_json, lambda: _project_human(human))


@app.command("rotate-secret")
def project_rotate_secret(project_id: str, as_json: JsonOpt = False) -> None:
    """Replace the project's secret key; the old one stops working at once."""
    from pocketping.actions.projects import rotate_secret

    project, secret = run(lambda svc: rotate_secret(svc, project_id), as_json)
    emit({"id": project.id, "secretKey": secret}, as_json,
         f"new secret key for {project.id}: {secret}   (shown once: store it now)")


