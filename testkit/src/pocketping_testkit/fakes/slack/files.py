"""Files in the fake Slack, as the Web API documents them.

Sending is the external upload flow: ``files.getUploadURLExternal`` (``filename``, ``length``)
answers an ``upload_url`` and a ``file_id``; the bytes are POSTed there (raw or as a
multipart form); ``files.completeUploadExternal`` (``files`` = ``[{"id", "title"}]``,
``channel_id``, ``thread_ts``, ``initial_comment``) shares them as one message; ``files.delete``
(``file``) deletes a file the app uploaded (the messages sharing it keep a tombstone). Receiving:
a person's ``file_share`` message lists ``files`` whose ``url_private`` answers only with the
bot token as ``Authorization: Bearer``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from pocketping_testkit.fakes.slack.state import FakeApp, new_id

if TYPE_CHECKING:
    from pocketping_testkit.fakes.slack import FakeSlack

MAX_FILE = 1024 * 1024 * 1024  # the workspace limit the fake applies (1 GB)


@dataclass
class SlackFile:
    id: str
    name: str
    length: int
    mimetype: str = "application/octet-stream"
    data: bytes | None = None  # None until uploaded
    title: str = ""
    shared: bool = False
    channel: str = ""  # where it was shared
    owner: str = ""  # the bot id of the app that uploaded it ("" for a person's)

    def public(self, fake: FakeSlack) -> dict[str, Any]:
        url = f"{fake.base_url}/files-pri/{fake.team['id']}-{self.id}/{self.name}"
        return {"id": self.id, "name": self.name, "title": self.title or self.name, "mimetype": self.mimetype,
                "filetype": self.name.rsplit(".", 1)[-1] if "." in self.name else "binary",
                "size": self.length, "url_private": url, "url_private_download": url + "?download=1",
                "mode": "hosted", "is_external": False}


class Files:
    def __init__(self, fake: FakeSlack) -> None:
        self.fake = fake
        self.files: dict[str, SlackFile] = {}
        self.uploads: dict[str, str] = {}  # upload id -> file id
        self.deleted: set[str] = set()  # ids of files deleted with files.delete

    # --- Web API methods (called under the fake's lock) --------------------------------------
    def get_upload_url(self, app: FakeApp, params: dict[str, Any]) -> dict[str, Any]:
        from pocketping_testkit.fakes.slack.web import ApiError

        name = str(params.get("filename") or "")
        length = str(params.get("length") or "")
        if not name or not length.isdigit():
            raise ApiError("invalid_arguments")
        if int(length) > MAX_FILE:
            raise ApiError("file_size_exceeded")
        file = SlackFile(new_id("F"), name, int(length), owner=app.bot_id)
        self.files[file.id] = file
        upload = secrets.token_hex(8)
        self.uploads[upload] = file.id
        return {"upload_url": f"{self.fake.base_url}/upload/v1/{upload}", "file_id": file.id}

    def complete(self, app: FakeApp, params: dict[str, Any]) -> dict[str, Any]:
        from pocketping_testkit.fakes.slack.web import ApiError, _json_arg, message_event

        listed = _json_arg(params.get("files"))
        if not isinstance(listed, list) or not listed or not all(isinstance(f, dict) and f.get("id") for f in listed):
            raise ApiError("invalid_arguments")
        chosen = [self.files.get(str(f["id"])) for f in listed]
        if any(f is None or f.data is None for f in chosen):
            raise ApiError("file_not_found")  # never uploaded, or only in part
        channel_id = params.get("channel_id")
        thread_ts = params.get("thread_ts") or None
        files = [f for f in chosen if f is not None]
        for f, spec in zip(files, listed, strict=True):
            f.title = str(spec.get("title") or f.name)
        if channel_id:
            channel = self.fake.channels.get(str(channel_id))
            if channel is None:
                raise ApiError("channel_not_found")
            if app.bot_user_id not in channel.members:
                raise ApiError("not_in_channel")
            if thread_ts is not None and channel.find(str(thread_ts)) is None:
                raise ApiError("thread_not_found")
            message: dict[str, Any] = {
                "type": "message", "subtype": "file_share", "ts": self.fake.ts.next(), "user": app.bot_user_id,
                "bot_id": app.bot_id, "text": str(params.get("initial_comment") or ""), "upload": True,
                "files": [f.public(self.fake) for f in files], "team": self.fake.team["id"]}
            if thread_ts is not None:
                message["thread_ts"] = str(thread_ts)
                parent = channel.find(str(thread_ts))
                if parent is not None:
                    parent["reply_count"] = int(parent.get("reply_count") or 0) + 1
            channel.messages.append(message)
            for f in files:
                f.shared, f.channel = True, channel.id
            self.fake._emit(channel, message_event(message, channel))
        return {"files": [{"id": f.id, "title": f.title} for f in files]}

    def delete(self, app: FakeApp, params: dict[str, Any]) -> dict[str, Any]:
        from pocketping_testkit.fakes.slack.web import ApiError

        file_id = str(params.get("file") or "")
        if file_id in self.deleted:
            raise ApiError("file_deleted")
        file = self.files.get(file_id)
        if file is None:
            raise ApiError("file_not_found")
        if file.owner != app.bot_id:
            raise ApiError("cant_delete_file")
        del self.files[file_id]
        self.deleted.add(file_id)
        for channel in self.fake.channels.values():  # Slack leaves a tombstone where it was shared
            for message in channel.messages:
                if any(isinstance(f, dict) and f.get("id") == file_id for f in message.get("files") or ()):
                    message["files"] = [{"id": file_id, "mode": "tombstone"} if f.get("id") == file_id else f
                                        for f in message["files"]]
        return {}

    # --- HTTP: the upload URL and the private download URL ------------------------------------
    async def upload_endpoint(self, request: Request) -> Response:
        with self.fake.lock:
            file_id = self.uploads.pop(request.path_params["upload"], None)
            file = self.files.get(file_id or "")
        if file is None:
            return PlainTextResponse("upload_url expired or unknown", status_code=404)
        ctype = request.headers.get("content-type", "")
        if ctype.startswith("multipart/form-data"):
            form = await request.form(max_part_size=MAX_FILE)
            part = next((v for _, v in form.multi_items() if not isinstance(v, str)), None)
            data = await part.read() if part is not None else b""
            if part is not None and part.content_type:
                file.mimetype = part.content_type
        else:
            data = await request.body()
            if ctype and not ctype.startswith("application/x-www-form-urlencoded"):
                file.mimetype = ctype
        if len(data) != file.length:
            return PlainTextResponse(f"length mismatch: said {file.length}, sent {len(data)}", status_code=400)
        with self.fake.lock:
            file.data = data
        self.fake.changed()
        return PlainTextResponse(f"OK - {len(data)}")

    async def download_endpoint(self, request: Request) -> Response:
        auth = request.headers.get("authorization", "")
        token = auth[7:] if auth.lower().startswith("bearer ") else ""
        with self.fake.lock:
            app = self.fake.app_by_bot_token(token) if token else None
            file = self.files.get(request.path_params["file"].split("-", 1)[-1])
        if app is None:
            # Without the token Slack answers with its sign-in page, not the file.
            return Response(b"<html><body>Sign in to Slack</body></html>", status_code=302,
                            headers={"Location": f"{self.fake.base_url}/signin"}, media_type="text/html")
        if file is None or file.data is None:
            return PlainTextResponse("not found", status_code=404)
        return Response(file.data, media_type=file.mimetype)

    # --- people --------------------------------------------------------------------------
    def add_shared(self, name: str, data: bytes, mimetype: str) -> dict[str, Any]:
        with self.fake.lock:
            file = SlackFile(new_id("F"), name, len(data), mimetype, data, shared=True)
            self.files[file.id] = file
            return file.public(self.fake)

    def uploaded(self, channel_id: str | None = None) -> list[SlackFile]:
        """Files apps uploaded and shared (in ``channel_id``, if given)."""
        with self.fake.lock:
            return [f for f in self.files.values() if f.shared and f.data is not None and f.channel
                    and channel_id in (None, f.channel)]
