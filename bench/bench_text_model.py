"""Load time and throughput of the shipped text-emotion model (numpy inference).

    python bench/bench_text_model.py        goals: load < 0.5 s, batched >= 1,000 sentences/s
"""

import time

from emotive.ml.text_emotion import TextEmotionModel

SENTENCES = [
    "I am so happy, this is wonderful!",
    "I can't believe they did that to us, it's outrageous.",
    "Well, I guess we'll see what happens tomorrow.",
    "My dog died last week and I still cry every night \U0001F62D",
    "Wow, I did not expect that at all!",
    "Thanks so much for your help, you're the best.",
    "That smell is absolutely disgusting.",
    "I'm a bit nervous about the exam on Monday, to be honest.",
]


def main(n_batched=4000, n_single=500):
    t = time.perf_counter()
    model = TextEmotionModel.load()
    load = time.perf_counter() - t
    batch = [f"{s} ({i})" for i, s in enumerate(SENTENCES * (n_batched // len(SENTENCES)))]
    model.predict(batch[:256])                            # warm-up
    t = time.perf_counter()
    model.predict(batch)
    batched = len(batch) / (time.perf_counter() - t)
    t = time.perf_counter()
    for s in batch[:n_single]:
        model.predict([s])
    single = n_single / (time.perf_counter() - t)
    print(f"load            {load:.3f} s        (goal < 0.5 s)  {'ok' if load < 0.5 else 'MISSED'}")
    print(f"batched (256)   {batched:,.0f} sentences/s (goal >= 1,000)  {'ok' if batched >= 1000 else 'MISSED'}")
    print(f"single          {single:,.0f} sentences/s")


if __name__ == "__main__":
    main()
