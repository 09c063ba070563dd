import asyncio
from pocketping.ai.retrieval import search
from pocketping_testkit.retrieval_eval import questions, serve
from .test_retrieval_eval import cli_for

UNRELATED = ["What's the weather like in Paris tomorrow?", "Can you recommend a good pizza recipe?",
             "who won the football world cup in 2018", "What is the capital of France?", "hello",
             "Do you sell garden furniture?", "How do I reset my car radio?", "tell me a joke",
             "Is your office open on Sundays?", "What is your phone number?", "Can I pay with bitcoin?"]

async def test_calib(server, project, site):
    cli = cli_for(server)
    code, added = await asyncio.to_thread(cli, "kb", "add", project.id, serve(site), "--crawl")
    assert code == 0
    async def top(q):
        hits = await server.acall(search(server.services.db, server.settings, project.id, q, token_budget=1500))
        return [(round(h.relevance, 2), h.location.rsplit('/docs/', 1)[-1]) for h in hits]
    for item in questions():
        print("Q", (await top(item.text))[:3], item.page)
    for q in UNRELATED:
        print("U", await top(q), q)
