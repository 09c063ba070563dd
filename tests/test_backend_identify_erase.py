"""The backend's identify (POST /api/v1/sessions/{id}/identify) and session erasure
(DELETE /api/v1/sessions/{id}), through the Python SDK against the real server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from pocketping_sdk import InvalidRequestError, NotFoundError, PocketPing

from pocketping_testkit.widget_client import WidgetClient


@pytest.fixture
async def stranger(server, make_project) -> AsyncIterator[PocketPing]:
    """A client of another project on the same server."""
    other = make_project("Other")
    client = PocketPing(secret_key=other.secret_key, base_url=server.base_url)
    yield client
    await client.aclose()


async def _visitor(server, project, text: str | None = None) -> WidgetClient:
    w = await WidgetClient.connect(server.ws_url, project.public_key)
    await w.synced()
    if text:
        await w.say(text)
    return w


async def test_identify_from_the_backend_is_verified_and_reported(server, project):
    pp = PocketPing(secret_key=project.secret_key, base_url=server.base_url)
    w = await _visitor(server, project)
    session = await pp.identify(w.session_id, "user_42", email="ana@example.com", name="Ana",
                                traits={"plan": "pro"})
    assert session.identity is not None
    assert (session.identity.id, session.identity.email, session.identity.name) == ("user_42", "ana@example.com", "Ana")
    assert session.identity.traits == {"plan": "pro"} and session.identity.verified is True
    assert (await pp.get_session(w.session_id)).identity == session.identity
    events = await pp.list_events(after=0, types=["visitor.identified"])  # a fresh project: all of its events
    assert [e.data["identity"]["id"] for e in events if e.session_id == w.session_id] == ["user_42"]
    # A later identify replaces the identity (the widget's identify does the same).
    again = await pp.identify(w.session_id, "user_43")
    assert again.identity is not None and again.identity.id == "user_43" and again.identity.email is None
    await w.close()
    await pp.aclose()


async def test_identify_refuses_bad_input_and_other_projects_sessions(server, project, stranger):
    pp = PocketPing(secret_key=project.secret_key, base_url=server.base_url)
    w = await _visitor(server, project)
    for bad in ("", "x" * 201):
        with pytest.raises(InvalidRequestError):
            await pp.identify(w.session_id, bad)
    with pytest.raises(InvalidRequestError):
        await pp.identify(w.session_id, "u", traits={"blob": "x" * 5000})
    with pytest.raises(NotFoundError) as info:
        await stranger.identify(w.session_id, "user_1")
    assert info.value.code == "session_not_found"
    assert (await pp.get_session(w.session_id)).identity is None
    await w.close()
    await pp.aclose()


async def test_erase_session_removes_it_and_only_it(server, project, stranger):
    pp = PocketPing(secret_key=project.secret_key, base_url=server.base_url)
    gone = await _visitor(server, project, "please forget me")
    kept = await _visitor(server, project, "keep me")
    with pytest.raises(NotFoundError):
        await stranger.erase_session(gone.session_id)
    assert len(await pp.list_messages(gone.session_id)) == 1

    erased = await pp.erase_session(gone.session_id)
    assert erased == {"sessionId": gone.session_id, "deleted": {"sessions": 1, "messages": 1},
                      "eraseId": erased["eraseId"]}
    assert erased["eraseId"].startswith("era_")
    erasure = await pp.get_erasure(erased["eraseId"])
    assert erasure["eraseId"] == erased["eraseId"] and erasure["deleted"] == {"sessions": 1, "messages": 1}
    with pytest.raises(NotFoundError):
        await stranger.get_erasure(erased["eraseId"])  # another project's erasure is not found
    with pytest.raises(NotFoundError) as info:
        await pp.get_session(gone.session_id)
    assert info.value.code == "session_not_found"
    with pytest.raises(NotFoundError):
        await pp.erase_session(gone.session_id)
    events = await pp.list_events(after=0, limit=500)
    assert all(e.session_id != gone.session_id for e in events)
    assert [m.text for m in await pp.list_messages(kept.session_id)] == ["keep me"]
    await gone.close()
    await kept.close()
    await pp.aclose()
