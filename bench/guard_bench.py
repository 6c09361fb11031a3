"""Latency of the PII guard: P50/P95 of ``Guard.protect`` on 200- and 2,000-word messages.

    .venv/bin/python -m bench.guard_bench [--executor process|thread] [--workers N] [--runs 200]

Targets (docs/guard.md): 200 words P50 <= 10 ms and P95 <= 25 ms, 2,000 words P50 <=
80 ms, NER on. Messages are chat-style prose with a realistic density of PII (about one
entity per 25 words), built deterministically; a second set with a proper noun in every
sentence is the worst case for the NER scope (NER then runs on the whole text). Also
reports the stream restorer's cost per SSE delta. The load average is printed: on a shared
box, noisy neighbours skew it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import time
from typing import Literal

from guard import FileKeyProvider, Guard, GuardPolicy, GuardSettings, Mode, StreamRestorer

SENTENCES = [
    "Thanks for the update on the migration, the staging cluster looks healthy again.",
    "Can you ask {name} to review the invoice before Friday's call with the vendor?",
    "The report shows revenue up twelve percent, mostly from the enterprise tier.",
    "Please send the signed copy to {email} so legal can file it.",
    "Our office in {city} needs two more laptops for the new analysts.",
    "If the payment fails again, call me on {phone} and I will sort it out.",
    "We agreed to move the launch by a week to finish the security review.",
    "The customer's card {card} was declined twice, probably an expired limit.",
    "Let me know whether the dashboard totals match the numbers in the spreadsheet.",
    "Server {ip} keeps dropping connections under load, can you check the logs?",
    "I summarised the feedback from the workshop in the shared document yesterday.",
    "Could you draft a polite reply explaining the delay and the new timeline?",
]
# Worst case for the NER scope (guard/nerscope.py): every sentence names a product, team,
# place or person, so NER runs on the whole text.
DENSE_SENTENCES = [
    "The Atlas dashboard for the Northwind account shows revenue up twelve percent.",
    "Can you ask {name} to review the Contoso invoice before Friday's call?",
    "Please send the signed copy to {email} so the Legal team can file it.",
    "Our office in {city} needs two more ThinkPad laptops for the new analysts.",
    "If the Stripe payment fails again, call me on {phone} and I will sort it out.",
    "We agreed with Marketing to move the Orion launch by a week.",
    "The customer's Visa card {card} was declined twice at the Berlin store.",
    "Server {ip} in the Frankfurt region keeps dropping Postgres connections.",
    "Jira shows the workshop feedback from Monday still waiting for review.",
    "Could you draft a reply to Acme Corp explaining the delay and the new timeline?",
]
VALUES = {
    "name": ["Sarah Chen", "david kim", "Priya Raman", "Tomasz Kowalski"],
    "email": ["sarah.chen@example.com", "ops@acme.io"],
    "city": ["Berlin", "Toronto", "Lisbon"],
    "phone": ["555-123-4567", "+44 20 7946 0958"],
    "card": ["5425 2334 3010 9903", "2221 0000 0000 0009"],
    "ip": ["10.20.30.40", "2001:db8::8a2e:370:7334"],
}


def message(words: int, seed: int, sentences: list[str] = SENTENCES) -> str:
    rng = random.Random(seed)
    parts: list[str] = []
    count = 0
    while count < words:
        sentence = rng.choice(sentences).format(**{k: rng.choice(v) for k, v in VALUES.items()})
        parts.append(sentence)
        count += len(sentence.split())
    return " ".join(parts)


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def texts_for(words: int, dense: bool = False, lower: bool = False) -> list[str]:
    texts = [message(words, seed, DENSE_SENTENCES if dense else SENTENCES) for seed in range(20)]
    return [t.lower() for t in texts] if lower else texts


async def measure(
    guard: Guard, words: int, runs: int, dense: bool = False, lower: bool = False
) -> tuple[float, float]:
    policy = GuardPolicy(mode=Mode.PSEUDONYMIZE)
    texts = texts_for(words, dense, lower)
    for text in texts[:5]:
        await guard.protect([text], policy, "bench")  # warm-up: caches, BLAS threads
    timings = []
    for index in range(runs):
        started = time.perf_counter()
        await guard.protect([texts[index % len(texts)]], policy, "bench")
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings), percentile(timings, 0.95)


async def cpu_per_request(words: int, runs: int) -> float:
    """CPU milliseconds one ``protect`` costs, all of it in this process (thread executor,
    one worker): the figure that bounds requests per second per core."""
    settings = GuardSettings(executor="thread", workers=1, timeout_s=10)
    policy = GuardPolicy(mode=Mode.PSEUDONYMIZE)
    texts = texts_for(words)
    with tempfile.TemporaryDirectory() as state:
        async with Guard(FileKeyProvider(state), settings) as guard:
            for text in texts[:5]:
                await guard.protect([text], policy, "bench")
            started = time.process_time()
            for index in range(runs):
                await guard.protect([texts[index % len(texts)]], policy, "bench")
            return (time.process_time() - started) / runs * 1000


def restorer_cost() -> float:
    mapping = {f"PERSON_v1_{i:08x}": f"Name {i}" for i in range(50)}
    text = message(2000, 7).replace("Sarah Chen", "PERSON_v1_00000003")
    deltas = [text[i : i + 4] for i in range(0, len(text), 4)]  # ~4 characters per SSE delta
    started = time.perf_counter()
    restorer = StreamRestorer(mapping)
    for delta in deltas:
        restorer.feed(delta)
    restorer.flush()
    return (time.perf_counter() - started) / len(deltas) * 1e6


async def main(executor: Literal["process", "thread"], workers: int, runs: int) -> None:
    settings = GuardSettings(executor=executor, workers=workers, timeout_s=10)
    with tempfile.TemporaryDirectory() as state:
        async with Guard(FileKeyProvider(state), settings) as guard:
            print(f"guard bench: executor={executor} workers={workers or os.cpu_count()} runs={runs}")
            print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
            for words, target in ((200, "P50<=10 P95<=25"), (2000, "P50<=80")):
                p50, p95 = await measure(guard, words, runs if words == 200 else max(20, runs // 4))
                print(f"{words:>5} words  P50 {p50:7.1f} ms  P95 {p95:7.1f} ms   (target {target})")
            for words in (200, 2000):
                p50, p95 = await measure(guard, words, runs if words == 200 else max(20, runs // 4), True)
                label = f"{words:>5} words, a proper noun in every sentence"
                print(f"{label}  P50 {p50:7.1f} ms  P95 {p95:7.1f} ms")
            for words in (200, 2000):
                p50, p95 = await measure(
                    guard, words, runs if words == 200 else max(20, runs // 4), lower=True
                )
                label = f"{words:>5} words, all lower case (chat style)"
                print(f"{label}  P50 {p50:7.1f} ms  P95 {p95:7.1f} ms")
    cpu = await cpu_per_request(200, runs)
    print(f"CPU per 200-word request (thread executor, one worker): {cpu:.1f} ms")
    print(f"stream restorer: {restorer_cost():.1f} us per 4-char delta with 50 tokens in the map")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executor", choices=("process", "thread"), default="process")
    parser.add_argument("--workers", type=int, default=0, help="0: one per core")
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(main(args.executor, args.workers, args.runs))
