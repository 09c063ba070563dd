"""An erasure deletes the conversation's files from the object store through the outbox: an
S3 store that is down is tried again, with the outbox's backoff, until the files are gone."""

from __future__ import annotations

import uuid

import httpx

from pocketping.actions.projects import create_project
from pocketping.clock import FakeClock
from pocketping_testkit.bridges import advance_until
from pocketping_testkit.fakes.s3 import FakeS3
from pocketping_testkit.widget_client import WidgetClient


async def test_files_on_s3_are_erased_once_the_store_is_back(make_server):
    s3 = FakeS3().start()
    try:
        bucket = f"erase-{uuid.uuid4().hex[:12]}"
        s3.create_bucket(bucket)
        clock = FakeClock()
        srv = make_server(clock=clock, **s3.settings(bucket))
        project, secret = srv.call(create_project(srv.services, "Erase files", []))
        w = await WidgetClient.connect(srv.ws_url, project.public_key)
        await w.synced()
        async with httpx.AsyncClient(base_url=srv.base_url) as api:
            up = await api.post("/api/v1/widget/uploads", headers={"Authorization": f"Bearer {w.token}"},
                                files={"file": ("notes.txt", b"my address is 1 Elm Street\n", "text/plain")})
            assert up.status_code == 201, up.text
            assert len(s3.objects(bucket)) == 1
            await w.close()
            s3.stop()  # the object store is down during the erase
            auth = {"Authorization": f"Bearer {secret}"}
            erase_id = (await api.delete(f"/api/v1/sessions/{w.session_id}", headers=auth)).json()["eraseId"]

            async def files_step() -> dict:
                status = (await api.get(f"/api/v1/erasures/{erase_id}", headers=auth)).json()
                return next(p for p in status["platforms"] if p["target"] == "files")

            await srv.acall(srv.node.outbox.wait_idle())
            step = await files_step()
            assert step["status"] == "pending" and step["attempts"] >= 1 and "stored file" in step["error"]
            s3.start()
            done: list[dict] = []

            def finished() -> bool:
                done.append(srv.call(_status(srv, erase_id)))
                return done[-1] == "done"

            await advance_until(clock, finished, step=2.0, settle=0.2, limit_seconds=120)
            step = await files_step()
        assert (step["status"], step["deleted"]) == ("done", {"files": 1})
        assert s3.objects(bucket) == {}
    finally:
        s3.stop()


async def _status(srv, erase_id: str) -> str:
    from pocketping.actions.erasure import get_erasure

    return str((await get_erasure(srv.services, erase_id))["status"])
