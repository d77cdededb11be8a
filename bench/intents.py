"""Intent clusters and their labels on labelled calls, through the product's own import, embedding,
clustering and naming (`calls.import_calls`, `calls.index_pending`, `intents.assign`).

    python bench/intents.py                 # hash embedder, then the real MiniLM model
    python bench/intents.py --embedder hash # fast run
    python bench/intents.py --calls 240     # fewer calls (default 360, 30 a topic)
    python bench/intents.py --seed 7        # other calls drawn from the same lines

The calls are written here: 12 known topics of a mobile operator's call centre (signal drops at
home, cancel contract, roaming charges, double charge, broken screen, password reset, late delivery,
phone upgrade, data used up, porting a number, moving address, SIM not activated), each with 20-26
hand-written openings in different words and topic details, prefixed with greetings and names,
and half the calls answering the agent's identity check in their second turn (as real calls do).
The truth stays here, never in the calls' metadata (an imported intent would be kept as is).

Reported: cluster purity (the share of a cluster's calls whose topic is its majority topic,
weighted by size), and per cluster its label, the label the previous labeller (two class TF-IDF
words) gave the same cluster, the majority topic, purity and the utterance nearest the centre.
"Named" counts the clusters whose label shares a word with the words a person would use for the
majority topic (TOPICS[...]["words"]): a rough, automatic stand-in for "one can tell from the label
what the calls are about"; read the table for the real judgement. Two labellings: `assign` without
an embedder (phrases placed by the utterances that say them: what an import does today) and with
the data home's embedder (phrases embedded).
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sklearn.cluster import KMeans  # noqa: E402
from sklearn.feature_extraction.text import CountVectorizer  # noqa: E402

from workbench import home  # noqa: E402
from workbench.accounts import auth, organisations, projects, users  # noqa: E402
from workbench.calls import imports as calls  # noqa: E402
from workbench.calls import intents  # noqa: E402
from workbench.settings import Settings  # noqa: E402
from workbench.text import stem  # noqa: E402

TOPICS: dict[str, dict] = {
    "signal drops at home": {
        "words": {"signal", "drop", "reception", "coverage", "connection", "bar", "cut"},
        "openings": [
            "my signal keeps dropping out when I'm at home",
            "I've got no signal at all in my house, it just drops",
            "calls keep cutting off whenever I'm in my flat",
            "the reception at home is terrible, I lose signal every evening",
            "my phone shows one bar at home and then nothing",
            "I can't make a call from my living room, the line just drops",
            "the signal drops every time I walk into the kitchen",
            "since last week I have no coverage at my address",
            "my calls drop out after a minute or two when I'm at home",
            "there's hardly any signal in my house anymore, it used to be fine",
            "every night my connection drops and I can't phone anyone",
            "at home the phone says no service and calls fail",
            "I keep losing signal upstairs in my house",
            "the mobile signal at my place has been dropping for days",
            "people say I cut out mid-sentence whenever I ring them from home",
            "my phone loses reception as soon as I get home from work",
            "I've got full bars in town but the signal drops at home",
            "calls from my house drop constantly, it's really frustrating",
            "is there a mast down near me? my signal keeps dropping",
            "the signal in my street is awful and calls keep dropping",
            "my husband and I both lose signal at home on your network",
            "dropped calls all the time at home, I've restarted the phone already",
        ],
        "details": [
            "It's mostly in the evenings, in the back bedroom.",
            "It happens on both floors, the signal drops to nothing.",
            "I've tried turning it off and on, the calls still drop.",
            "It started about ten days ago, before that the signal was fine.",
            "Wifi calling is off, I didn't know I had it.",
        ],
    },
    "cancel contract": {
        "words": {"cancel", "contract", "leave", "terminate", "end", "close", "cancellation"},
        "openings": [
            "I'd like to cancel my contract please",
            "I want to end my contract with you",
            "how do I cancel my mobile contract?",
            "I'm leaving for another network so I need to cancel",
            "can you tell me what it costs to cancel my contract early?",
            "I want to terminate my contract, I've had enough",
            "I'm ringing to give notice, I want to cancel the contract",
            "please close my account and cancel the contract",
            "I need to cancel, I'm moving abroad for good",
            "what's the cancellation fee if I leave before the contract ends?",
            "my contract is up next month and I don't want to renew it, I want to cancel",
            "I'd like to cancel my plan, it's too expensive for me now",
            "I want out of my contract, how much notice do I have to give?",
            "can I cancel my contract without paying the early exit fee?",
            "I'm calling to cancel the second line on my contract",
            "I found a cheaper deal elsewhere so I'm cancelling my contract",
            "I'd like to end the contract for my late father's phone",
            "I wish to cancel the contract, please don't try to keep me",
            "is it possible to cancel my contract within the cooling off period?",
            "I'm not happy with the service and I want to cancel my contract",
            "I want to cancel my contract at the end of this month",
        ],
        "details": [
            "No, I don't want an offer, I just want to cancel.",
            "The contract started last March I think.",
            "I'll need the cancellation confirmed in writing.",
            "What's my final bill going to be after cancelling?",
        ],
    },
    "roaming charges abroad": {
        "words": {"roam", "roaming", "abroad", "travel", "overseas", "holiday", "trip"},
        "openings": [
            "I got charged a fortune for roaming while I was in Spain",
            "there are roaming charges on my bill from my holiday in France",
            "why was I charged for using data abroad? I thought roaming was included",
            "I'm going to the States next week, how much will roaming cost?",
            "my bill has huge roaming charges from my trip to Turkey",
            "I used my phone abroad and now I've got extra charges",
            "do I need to turn on roaming before I travel?",
            "I was charged for roaming in Italy but it should be free in the EU",
            "the roaming charges from my business trip are way too high",
            "I didn't get a text warning me about the roaming costs abroad",
            "can I add a travel pass before I go abroad?",
            "my phone didn't work abroad at all, roaming never connected",
            "you've billed me for roaming data I never used overseas",
            "I'm on holiday in Portugal and I'm being charged for roaming",
            "how much is roaming in Canada on my plan?",
            "there's a roaming bundle on my bill I never asked for",
            "my son went on a school trip abroad and ran up roaming charges",
            "I'd like a refund on the roaming charges from Greece",
            "I want to switch off roaming so I don't get charged abroad again",
            "I thought I had a travel add-on but I still paid roaming fees abroad",
            "my daily roaming charge was applied even on days I didn't use the phone abroad",
        ],
        "details": [
            "It was two weeks, I was careful to use wifi mostly.",
            "The charges were on the fourteenth to the twentieth.",
            "I didn't get any text when I landed abroad.",
            "Roaming was switched on by default, I never touched it.",
        ],
    },
    "double charge": {
        "words": {"charge", "twice", "double", "bill", "payment", "billing", "overcharge"},
        "openings": [
            "I've been charged twice this month",
            "there are two payments for the same bill on my bank statement",
            "you took my direct debit twice",
            "my bill this month is double what it normally is",
            "I think there's a billing error, I've paid the same amount twice",
            "why has my card been charged two times for one bill?",
            "I see a duplicate charge on my account",
            "you've billed me twice for my monthly plan",
            "there's a double payment on my statement and I need it back",
            "my bank shows two identical charges from you on the same day",
            "I was overcharged, the bill is wrong",
            "I've been billed for a line I cancelled and charged twice for mine",
            "the direct debit went out twice and now I'm overdrawn",
            "my bill has the same charge listed twice",
            "there's an error on my bill, I've been charged double",
            "you charged me twice for the phone payment this month",
            "I need a refund for a duplicate charge",
            "my latest bill charged me twice for the same add-on",
            "two payments left my account for one bill, please sort it out",
            "I paid my bill online and then the direct debit charged me again",
            "the amount on my bill is wrong, it looks like a double charge",
        ],
        "details": [
            "Both payments are for the same amount, on the third.",
            "I can see it on my banking app right now.",
            "It's left me short for my rent this month.",
            "Can you refund the second payment to my card?",
        ],
    },
    "broken phone screen": {
        "words": {"screen", "crack", "broken", "smash", "display", "repair"},
        "openings": [
            "I dropped my phone and the screen is cracked",
            "my screen is smashed, can you repair it?",
            "the display on my phone has stopped working after I dropped it",
            "my phone screen broke, does my insurance cover it?",
            "there's a big crack across my screen and the touch doesn't work",
            "how do I get my cracked screen fixed?",
            "my daughter broke the screen on her phone",
            "the screen went black after I dropped it in the car park",
            "I need a screen repair, the glass is shattered",
            "my phone fell in the bath and now the screen is broken",
            "half my screen doesn't respond since it cracked",
            "can I book a repair for my broken screen?",
            "the screen has lines all over it after I dropped it",
            "I sat on my phone and the screen is completely smashed",
            "my touchscreen is cracked, how much is a replacement screen?",
            "the display flickers and there's a crack in the corner",
            "is a cracked screen covered under my device protection?",
            "my screen shattered and I can't unlock the phone",
            "the screen came away from the phone after a fall",
            "I need someone to fix my broken phone screen this week",
            "my phone screen is cracked and it's cutting my finger",
        ],
        "details": [
            "It fell on the pavement, screen side down.",
            "I've got insurance with you I think.",
            "The phone still turns on, I just can't see much.",
            "Can I take it to a shop for the repair?",
        ],
    },
    "password reset": {
        "words": {"password", "reset", "login", "log", "locked", "sign", "account"},
        "openings": [
            "I forgot my password and can't log in to my account",
            "the password reset email never arrives",
            "I'm locked out of my online account",
            "how do I reset my password for the app?",
            "the reset link says it has expired",
            "I've tried to reset my password three times and it won't work",
            "I can't sign in to my account, it says my password is wrong",
            "my account got locked after too many login attempts",
            "I need a new password, I can't remember the old one",
            "the app keeps saying incorrect password even after I reset it",
            "I don't get the verification code to reset my password",
            "can you reset my password for me? I can't get into my account",
            "I changed my password and now I can't log in at all",
            "the login page won't accept my password",
            "my online account is locked and I need to pay my bill",
            "I never received the text to reset my login",
            "I'm stuck on the forgotten password page",
            "I need help getting back into my account, I've lost my password",
            "my password reset keeps failing with an error",
            "I can't log in since you changed the website",
            "someone may have changed my password, I can't get into my account",
        ],
        "details": [
            "I checked my spam folder, nothing there.",
            "The email on the account is my old work one.",
            "It says the link is invalid or has expired.",
            "I need to get in today to download my bill.",
        ],
    },
    "late delivery": {
        "words": {"delivery", "deliver", "late", "order", "parcel", "arrive", "courier", "track"},
        "openings": [
            "my new phone still hasn't been delivered",
            "the delivery was supposed to come yesterday and nothing arrived",
            "where is my order? it's a week late",
            "the tracking hasn't updated in five days",
            "my parcel was meant to arrive on Monday and it's still not here",
            "the courier says delivered but I have no parcel",
            "I ordered a phone ten days ago and it hasn't arrived",
            "my delivery keeps getting pushed back",
            "I paid for next day delivery and it's been four days",
            "the courier never turned up for my delivery",
            "my order is stuck in transit, can you chase it?",
            "my SIM card was supposed to be delivered last week",
            "I've been waiting in all day for a delivery that never came",
            "the tracking number you gave me doesn't work and my order is late",
            "my parcel seems to be lost, the order hasn't arrived",
            "when will my order be delivered? it's overdue",
            "the delivery date keeps changing and I still have nothing",
            "I need my phone delivered before Friday, it's already late",
            "the courier left a card but I was home, my parcel wasn't delivered",
            "my replacement handset still hasn't arrived",
            "your delivery partner says they have no record of my order",
        ],
        "details": [
            "The order number is on the confirmation email.",
            "It says out for delivery but nobody came.",
            "I was in all day, nobody knocked.",
            "Can you send another one if it's lost?",
        ],
    },
    "upgrade phone": {
        "words": {"upgrade", "new", "handset", "model", "phone", "eligible"},
        "openings": [
            "I'd like to upgrade my phone",
            "am I eligible for an upgrade yet?",
            "I want to upgrade to the new iPhone",
            "can I get a new handset on my contract?",
            "my contract is nearly up, what upgrade deals do you have?",
            "I want to upgrade early, how much would it cost?",
            "I'd like a newer model, my phone is getting slow",
            "what phones can I upgrade to on my plan?",
            "I want to upgrade my handset and keep my tariff",
            "can I upgrade to a Samsung with more storage?",
            "is there an early upgrade fee if I change phone now?",
            "I want to swap my phone for the latest model",
            "my phone is three years old and I'd like to upgrade",
            "can I trade in my old phone when I upgrade?",
            "what upgrade offers are there for existing customers?",
            "I'd like to upgrade my son's phone on my account",
            "can I upgrade to a phone with a better camera?",
            "I'm due an upgrade, can you tell me my options?",
            "I'd like to upgrade my phone and add more data",
            "my battery is dying, can I get an upgrade?",
            "how does the trade-in work if I upgrade my handset?",
        ],
        "details": [
            "I'd like the 256 gigabyte one if possible.",
            "How much would the monthly cost go up by?",
            "I'd rather keep the same number and plan.",
            "Can the new phone be delivered to my work?",
        ],
    },
    "data allowance used up": {
        "words": {"data", "allowance", "gigabyte", "top", "bundle", "run", "limit"},
        "openings": [
            "I've run out of data already this month",
            "my data allowance is used up and it's only the tenth",
            "I keep running out of data, can I add more?",
            "how do I buy a data top up?",
            "I got a text saying I've used all my data",
            "my data ran out and the internet stopped working",
            "I've used up my gigabytes but I hardly use the phone",
            "can I get an extra data bundle until my plan renews?",
            "my data allowance went much faster than usual",
            "I'm out of data, how much is a bolt-on?",
            "why have I used all my data in a week?",
            "I need more data, I've hit my limit",
            "my daughter has used all the data on her plan",
            "I've reached my data limit and I'm being charged extra",
            "can you check what's using all my data?",
            "is there a plan with more data? I always run out",
            "I used my whole data allowance streaming on the train",
            "my data has been capped, I can't load anything",
            "I want to add a data top up to my account",
            "I ran out of data and the speed has slowed right down",
            "my monthly data is gone already, what are my options?",
        ],
        "details": [
            "I've been on wifi at home most of the time.",
            "I've only got five gigs on my plan.",
            "It says I've used a hundred percent of my data.",
            "Can the extra data start today?",
        ],
    },
    "port my number": {
        "words": {"number", "port", "transfer", "pac", "keep", "switch"},
        "openings": [
            "I want to keep my old number when I join you",
            "how do I port my number from my old network?",
            "I've got my PAC code, can you transfer my number?",
            "my number transfer hasn't gone through yet",
            "I'd like to bring my number over from another provider",
            "the port of my number failed, what do I do?",
            "I joined last week and I'm still on a temporary number",
            "can I move my existing number to my new SIM?",
            "my old number hasn't been transferred yet",
            "I need to port my number out, can I have my PAC code?",
            "how long does it take to transfer my mobile number?",
            "I gave you my PAC but my number still hasn't moved",
            "the number port was booked for today and nothing happened",
            "I want to switch my business number over to you",
            "my number transfer date has passed and it's not working",
            "I'm leaving and I want to take my number with me",
            "can I keep my number if I switch to you?",
            "my PAC code expired before the transfer went through",
            "I've lost my old number after the port, please help",
            "I'd like to port my number to a new SIM card",
            "the transfer of my number keeps getting delayed",
        ],
        "details": [
            "The PAC code starts with three letters.",
            "The old network said they released it on Tuesday.",
            "People ringing my old number get a dead line.",
            "It's my work number, I really can't lose it.",
        ],
    },
    "change address": {
        "words": {"address", "move", "moving", "house", "update", "postcode"},
        "openings": [
            "I've moved house and need to update my address",
            "can you change the address on my account?",
            "I'm moving next month, how do I update my details?",
            "my bills are still going to my old address",
            "I need to change my billing address",
            "please update my address, I've just moved",
            "my postcode has changed, can you update it?",
            "I've moved and my post is going to the wrong address",
            "how do I change my home address online?",
            "I want my letters sent to my new address",
            "I moved flat and forgot to change my address with you",
            "the address on my account is wrong, can you fix it?",
            "I need to update my delivery and billing address",
            "we've moved house, can you change the address for both lines?",
            "I'd like to change my contact address to my parents' house",
            "my address needs updating, I moved three weeks ago",
            "can I change my address without going into a shop?",
            "the website won't let me update my address",
            "I'm relocating for work, please change the address on file",
            "update my postal address please, the old one is my ex's",
        ],
        "details": [
            "The new postcode is on the letter I got.",
            "It's flat two, not flat three.",
            "Can you send the next bill to the new one?",
            "I moved on the first of the month.",
        ],
    },
    "SIM not activated": {
        "words": {"sim", "activate", "activation", "active", "card"},
        "openings": [
            "my new SIM card isn't working",
            "I put the new SIM in and it says no SIM",
            "my SIM hasn't activated yet",
            "how long does it take to activate a SIM?",
            "the SIM you sent me says invalid SIM",
            "I need to activate my new SIM card",
            "my replacement SIM doesn't work in my phone",
            "the SIM activation failed on the website",
            "my phone says SIM not provisioned",
            "it's been two days and my SIM card still isn't active",
            "I got a new SIM in the post but it won't register on the network",
            "can you activate my SIM? I have the number on the card",
            "my eSIM won't activate, the QR code doesn't work",
            "I swapped SIMs and now nothing works",
            "my SIM card is blocked and asking for a PUK code",
            "the new SIM shows emergency calls only",
            "I ordered a SIM only deal and the SIM isn't working",
            "the activation text never came for my SIM",
            "my SIM isn't recognised by my phone",
            "how do I activate the SIM card for my son's phone?",
        ],
        "details": [
            "I've restarted the phone twice.",
            "The phone is unlocked, I checked with the shop.",
            "The SIM number is printed on the card.",
            "It came in the post yesterday.",
        ],
    },
}
PREFIXES = ["", "", "Hi, ", "Hello, ", "Hi there, ", "Yes hello, ", "Good morning, ", "Hiya, ",
            "Hi, this is {name}, ", "Hello, my name's {name} and ", "Hi, it's {name} here, "]  # fmt: skip
NAMES = ["Priya Shah", "Tom Baker", "Aisha Khan", "Liam O'Neill", "Sofia Rossi", "Daniel Kim", "Grace Okafor",
         "Marek Nowak", "Chloe Martin", "Omar Haddad", "Ewa Kowalska", "James Reid"]  # fmt: skip
IDENTITY = ["Sure, it's {name}, date of birth the fourth of May.", "Yes, the account is in my name, {name}.",
            "It's {name}, and the postcode is the one on the account.",
            "The email is the gmail one, {name} dot something.", "My security answer is Fluffy."]  # fmt: skip
AGENT = ["Thanks for calling, you're through to Kestrel Mobile, how can I help?",
         "I can help with that. Can I take your name and date of birth first?",
         "Thank you. Let me have a look at that for you.", "Is there anything else I can help with today?"]
CLOSING = ["No, that's everything, thanks.", "Great, thank you so much.", "Okay, thanks for your help."]


def calls_csv(n_calls: int, seed: int = 19) -> tuple[bytes, dict[str, str]]:
    """A per-utterance CSV of `n_calls` calls, topics in turn; and each call's true topic."""
    rnd = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["call_id", "role", "content", "index"])
    truth = {}
    names = list(TOPICS)
    for k in range(n_calls):
        topic = names[k % len(names)]
        spec, name = TOPICS[topic], rnd.choice(NAMES)
        opening = rnd.choice(PREFIXES).format(name=name) + rnd.choice(spec["openings"])
        opening = opening[0].upper() + opening[1:] + ("" if opening[-1] in "?." else ".")
        second = rnd.choice(spec["details"]) if rnd.random() < 0.5 else rnd.choice(IDENTITY).format(name=name)
        turns = [("agent", AGENT[0]), ("customer", opening), ("agent", AGENT[1]), ("customer", second),
                 ("agent", AGENT[2]), ("agent", AGENT[3]), ("customer", rnd.choice(CLOSING))]  # fmt: skip
        call_id = f"K-{k + 1:04d}"
        truth[call_id] = topic
        for index, (role, text) in enumerate(turns):
            writer.writerow([call_id, role, text, index])
    return out.getvalue().encode(), truth


def previous_labels(con, project_id: int) -> dict[str, str]:
    """The cluster names the previous labeller gave (two class TF-IDF words, 'home / evenings'),
    computed on the same clusters: label per current intent."""
    rows = con.execute(
        "SELECT c.intent, u.content FROM utterances u JOIN calls c ON c.id = u.call_id"
        " WHERE c.project_id = ? AND u.role = 'customer'"
        " QUALIFY row_number() OVER (PARTITION BY u.call_id ORDER BY u.utterance_index) <= 2",
        [project_id],
    ).fetchall()
    texts: dict[str, list[str]] = {}
    for intent, content in rows:
        texts.setdefault(intent, []).append(content)
    clusters = sorted(texts)
    stop = intents.CHATTER | intents.MEANINGFUL  # its stop words: sklearn's list whole
    counter = CountVectorizer(stop_words=list(stop), token_pattern=r"(?u)\b[a-z][a-z]{2,}\b")
    counts = counter.fit_transform([" ".join(texts[c]) for c in clusters]).toarray().astype(float)
    vocab = counter.get_feature_names_out()
    weights = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    weights *= np.log(1 + counts.sum(axis=1).mean() / np.maximum(counts.sum(axis=0), 1))
    weights[:, (counts > 0).sum(axis=0) > len(clusters) / 2] = 0
    return {c: " / ".join(vocab[i] for i in np.argsort(-weights[row])[:2]) for row, c in enumerate(clusters)}


def previous_purity(wb, con, project_id: int, truth: dict[str, str]) -> float:
    """Purity of the previous clustering on the same vectors: each call the plain mean of its two
    opening customer turns, k-means with 4 starts."""
    _ids, call_ids, matrix = intents._opening_turns(wb.vectors, project_id)
    ids, inverse = np.unique(call_ids, return_inverse=True)
    points = intents._per_call(inverse, len(ids), matrix)
    k = min(intents.MAX_INTENTS, max(2, round(len(points) ** 0.5)))
    clusters = KMeans(n_clusters=k, n_init=4, random_state=0).fit_predict(points)
    external = dict(
        con.execute("SELECT id, external_id FROM calls WHERE project_id = ?", [project_id]).fetchall()
    )
    topics: dict[int, Counter] = {}
    for call_id, cluster in zip(ids.tolist(), clusters.tolist(), strict=True):
        topics.setdefault(cluster, Counter())[truth[external[call_id]]] += 1
    return sum(t.most_common(1)[0][1] for t in topics.values()) / len(ids)


def names_topic(label: str, topic: str) -> bool:
    """Whether the label says a word a person would use for the topic."""
    said = {stem(w) for w in label.lower().replace("/", " ").split()}
    return bool(said & {stem(w) for w in TOPICS[topic]["words"]})


def report(con, project_id: int, truth: dict[str, str], described: list[dict], old: dict[str, str]) -> dict:
    rows = con.execute("SELECT external_id, intent FROM calls WHERE project_id = ?", [project_id]).fetchall()
    by_label: dict[str, Counter] = {}
    for external_id, label in rows:
        by_label.setdefault(label, Counter())[truth[external_id]] += 1
    nearest = {c["label"]: c["representative"] for c in described}
    majority = sum(t.most_common(1)[0][1] for t in by_label.values())
    named = 0
    print(f"  {'label':<30} {'previous label':<26} {'majority topic':<24} {'calls':>5} {'purity':>6}"
          "  nearest the centre")
    for label, topics in sorted(by_label.items(), key=lambda kv: -sum(kv[1].values())):
        topic, n = topics.most_common(1)[0]
        size = sum(topics.values())
        named += names_topic(label, topic)
        print(f"  {label:<30} {old.get(label, ''):<26} {topic:<24} {size:>5} {n / size:>6.2f}"
              f"  {nearest.get(label, '')[:60]}")
    found = {"purity": majority / len(rows), "clusters": len(by_label), "named": named,
             "named_before": sum(names_topic(old[lb], t.most_common(1)[0][0]) for lb, t in by_label.items()),
             "distinct": len({c["label"] for c in described}) == len(described)}  # fmt: skip
    print(f"  purity {found['purity']:.3f} over {len(rows)} calls in {found['clusters']} clusters;"
          f" labels naming their majority topic {named}/{found['clusters']}"
          f" (previous labeller {found['named_before']}/{found['clusters']}); distinct: {found['distinct']}")
    return found


def run(backend: str, n_calls: int, seed: int) -> None:
    data, truth = calls_csv(n_calls, seed)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Settings(home=Path(tmp) / "home", embedding_backend=backend)
        home.init(cfg)
        wb = home.Workbench(cfg)
        with wb.store.transaction() as con:
            org = organisations.create_organization(con, "Bench")
            password = auth.hash_password("bench-password")
            users.insert_user(con, org, "ana", "ana@example.com", password, "analyst")
            ctx = auth.context_for(con, "ana")
            projects.create_project(ctx, con, "Calls")
            project_id = con.execute("SELECT id FROM projects WHERE name = 'Calls'").fetchone()[0]
        done = calls.import_calls(ctx, wb, "labelled.csv", data, "Calls")
        began = time.perf_counter()
        indexed = calls.index_pending(ctx, wb, "Calls")
        customer = sum(1 for line in data.decode().splitlines() if ",customer," in line)
        print(f"\n{wb.embedder.model_name}: {done['calls']} calls, {customer} customer utterances, "
              f"{len(TOPICS)} topics; embedded and clustered in {time.perf_counter() - began:.1f} s")
        with wb.store.connect() as con:
            print(f"previous clustering (plain mean of the two opening turns, 4 starts): purity"
                  f" {previous_purity(wb, con, project_id, truth):.3f}")
            old = previous_labels(con, project_id)
            print("assign without an embedder (phrases placed by the utterances that say them):")
            report(con, project_id, truth, indexed["intents"][project_id]["clusters"], old)
            began = time.perf_counter()
            result = intents.assign(con, wb.vectors, project_id, wb.embedder)
            print(f"assign with the embedder (phrases embedded), {time.perf_counter() - began:.1f} s:")
            old = previous_labels(con, project_id)
            report(con, project_id, truth, result["clusters"], old)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--embedder", choices=["hash", "real", "both"], default="both")
    parser.add_argument("--calls", type=int, default=360)
    parser.add_argument("--seed", type=int, default=19, help="which calls are drawn from the topics' lines")
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores")
    for backend, name in (("hash", "hash"), ("auto", "real")):
        if args.embedder in (name, "both"):
            run(backend, args.calls, args.seed)


if __name__ == "__main__":
    main()
