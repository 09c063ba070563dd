"""Files both ways through a Telegram topic: a visitor's image goes up with sendPhoto (caption =
the text), another file with sendDocument (multipart, as the Bot API documents); an operator's
photo or document (getFile, then the file download path) reaches the widget."""

from __future__ import annotations

import httpx
from tests.files.conftest import pixels, png_bytes

from pocketping_testkit.bridges import TelegramSetup
from pocketping_testkit.widget_client import WidgetClient


async def visitor_upload(server, w: WidgetClient, name: str, data: bytes) -> str:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        r = await http.post("/api/v1/widget/uploads", headers={"Authorization": f"Bearer {w.token}"},
                            files={"file": (name, data)})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def test_files_go_up_as_photo_and_document_and_come_back_from_the_topic(server, project, api,
                                                                              telegram: TelegramSetup):
    w = await WidgetClient.connect(server.ws_url, project.public_key)
    await w.synced()
    image = png_bytes()
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\n%%EOF\n"
    shot = await visitor_upload(server, w, "error.png", image)
    doc = await visitor_upload(server, w, "invoice.pdf", pdf)
    await w.send({"type": "message", "clientId": "m1", "text": "it breaks here", "attachments": [shot, doc]})
    await w.expect("ack", clientId="m1")
    fake = telegram.fake
    await fake.wait_for(lambda: len([m for m in telegram.posts() if m.file is not None]) == 2)
    photo, document = [m for m in telegram.posts() if m.file is not None]
    assert photo.kind == "photo" and document.kind == "document"
    assert photo.text == "Visitor " + w.welcome["visitorId"][-6:] + ": it breaks here"  # the caption
    assert pixels(photo.file.data) == pixels(image) and b"Secret Person" not in photo.file.data
    assert document.file.data == pdf and document.file.filename == "invoice.pdf"
    assert not any(m.text == "Visitor " + w.welcome["visitorId"][-6:] + ": it breaks here" and m.file is None
                   for m in telegram.posts()), "the text went as the caption, not twice"

    # The operator answers with a photo and a caption, then a document.
    topic = telegram.topic()
    reply_png = png_bytes(12, 8, (0, 0, 255))
    fake.operator_sends_file(telegram.chat_id, topic.id, "shot.png", reply_png, "image/png", caption="like this?",
                             photo=True)
    frame = await w.expect("message")
    while frame["message"]["sender"] != "operator":
        frame = await w.expect("message")
    assert frame["message"]["text"] == "like this?"
    [att] = frame["message"]["attachments"]
    got = await api.get(att["url"])
    assert pixels(got.content) == pixels(reply_png)
    fake.operator_sends_file(telegram.chat_id, topic.id, "manual.pdf", pdf, "application/pdf")
    frame = await w.expect("message")
    assert frame["message"]["text"] == "" and frame["message"]["attachments"][0]["name"] == "manual.pdf"
    assert (await api.get(frame["message"]["attachments"][0]["url"])).content == pdf
    assert fake.calls(telegram.token, "getFile")
    await w.close()
