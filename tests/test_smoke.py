from pocketping_testkit.widget_client import WidgetClient


async def test_hello_message_ack(server, project):
    w = await WidgetClient.connect(server.ws_url, project.public_key)
    assert await w.synced() == []
    ack = await w.say("hello")
    assert ack["seq"] == 1
    await w.close()
