"""Ratings over the widget protocol: only once closed, on the project's scale; stored, told to the
team (webhook event, REST) and to every tab of the visitor (all backends)."""

from __future__ import annotations

from pocketping.actions.projects import update_project
from pocketping_testkit.widget_client import WidgetClient


async def test_rate_a_closed_conversation_with_stars_then_thumbs(server, project, api):
    w = await WidgetClient.connect(server.ws_url, project.public_key)
    await w.synced()
    assert w.welcome["settings"]["ratings"] == "stars" and w.welcome["rated"] is False
    assert w.welcome["settings"]["rate"]["fr"] == "Comment s’est passée cette conversation ?"
    await w.say("hello")
    await w.send({"type": "rate", "score": 5})
    assert (await w.expect("error"))["code"] == "not_closed"
    await api.post(f"/api/v1/sessions/{w.session_id}/close", headers=project.auth)
    for bad in (0, 6, "5", True):
        await w.send({"type": "rate", "score": bad})
        assert (await w.expect("error"))["code"] == "invalid_rating", bad
    await w.send({"type": "rate", "score": 3, "comment": "  slow but fine  "})
    rated = await w.expect("rated")
    assert rated["rating"]["score"] == 3 and rated["rating"]["comment"] == "slow but fine"
    session = (await api.get(f"/api/v1/sessions/{w.session_id}", headers=project.auth)).json()
    assert session["rating"]["scale"] == "stars" and session["rating"]["ratedAt"]
    events = (await api.get("/api/v1/events", params={"type": "session.rated"}, headers=project.auth)).json()
    assert [e["data"]["rating"]["score"] for e in events["events"]] == [3]
    again = await WidgetClient.connect(server.ws_url, project.public_key, token=w.token)
    assert again.welcome["rated"] is True
    await again.close()

    await server.acall(update_project(server.services, project.id, widget={"ratings": "thumbs"}))
    await w.send({"type": "rate", "score": 3})
    assert (await w.expect("error"))["code"] == "invalid_rating"
    await w.send({"type": "rate", "score": 1})
    assert (await w.expect("rated"))["rating"] == {**rated["rating"], "score": 1, "scale": "thumbs", "comment": None,
                                                   "ratedAt": (await api.get(f"/api/v1/sessions/{w.session_id}",
                                                               headers=project.auth)).json()["rating"]["ratedAt"]}
    await server.acall(update_project(server.services, project.id, widget={"ratings": "off"}))
    await w.send({"type": "rate", "score": 1})
    assert (await w.expect("error"))["code"] == "ratings_off"
    await w.close()
