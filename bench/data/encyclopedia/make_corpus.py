"""Generate the encyclopedia retrieval set of this folder: corpus.jsonl, queries.jsonl, qrels/test.tsv.

    python bench/data/encyclopedia/make_corpus.py

A stand-in for an encyclopedia question-answering corpus (SQuAD-like paragraphs from an
encyclopedia), written offline with the standard library only: fictional but plausible subjects
(towns, rivers, mountains, scientists, artists, explorers, animals, plants, inventions, companies,
battles) in fictional countries, each with 3-5 section-like paragraphs (lead, history, economy...).
Every paragraph states a few specific facts (dates, numbers, names, places, materials, reasons),
each fact chosen from many alternative phrasings; filler sentences shared by the subjects of one
kind make paragraphs of the same kind look alike. Each question is answered by exactly one
paragraph (one qrels line, score 1) and is of one of three styles:

    a   names the subject and reuses some words of the paragraph
    b   names the subject but paraphrases (synonyms, different construction)
    c   does not name the subject: describes it by facts of that paragraph; the combination of the
        facts used is checked to occur in no other paragraph

Deterministic: a fixed seed and a fixed order, so running it twice writes byte-identical files.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = 1742
N_QUESTIONS = 400
STYLE_SHARE = {"a": 0.4, "b": 0.4, "c": 0.2}
ASPECT_COUNTS = ((3, 0.38), (4, 0.40), (5, 0.22))  # paragraphs per subject, lead included
MIN_WORDS, MAX_WORDS = 60, 150

# --- shared pools -------------------------------------------------------------------------------

COUNTRIES = {
    "Carvadia": ("Carvadian", "Velgrave", ["the Harrow Coast", "the Dunmoor Uplands"]),
    "Ostrevia": ("Ostrevian", "Tessenburg", ["the Vell Basin", "the Amber Lowlands"]),
    "Lussenia": ("Lussenian", "Oskara", ["the Greyfell Highlands", "the Saltmarsh Plain"]),
    "Vaskoria": ("Vaskorian", "Lindmoor", ["the Korrin Valley", "the Iron Hills"]),
    "Aldania": ("Aldanian", "Port Aubery", ["the Lantern Hills", "the Ossery Fens"]),
    "Istravia": ("Istravian", "Caddon", ["the Tarrow Downs", "the Whitecap Peninsula"]),
    "Morvenia": ("Morvenian", "Meriel", ["the Brannock Forest", "the Sable Heath"]),
    "Teldria": ("Teldrian", "Halden", ["the Marl Country", "the Reedwater Delta"]),
}
CAPITALS = [v[1] for v in COUNTRIES.values()]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December"]
ORDINAL = {2: "second", 3: "third", 4: "fourth", 5: "fifth", 6: "sixth", 7: "seventh", 8: "eighth"}
CENTURY = {12: "twelfth", 13: "thirteenth", 14: "fourteenth", 15: "fifteenth", 16: "sixteenth",
           17: "seventeenth", 18: "eighteenth", 19: "nineteenth", 20: "twentieth"}
RULERS = ["King Aldric II", "Queen Mathilde", "Duke Renard the Elder", "Prince-Bishop Ulric",
          "Empress Sidonie", "Count Evrard of Lys", "King Osmund III", "Margrave Tobias the Lame",
          "Queen Ysolde", "Grand Duke Casimir IV", "King Lothar the Fair", "Duchess Adelheid"]
WARS = ["War of the Three Crowns", "Salt War", "Long Border War", "War of the Ossery Succession",
        "Nine Years' War of the Fens", "Weavers' War", "War of the Two Regents", "Northern Coast War"]
FIRST_M = ["Anselm", "Bertram", "Casimir", "Dorian", "Emeric", "Florian", "Gideon", "Hartwin",
           "Ignaz", "Jorund", "Konrad", "Leopold", "Matthias", "Niels", "Oswin", "Percival",
           "Quentin", "Rupert", "Sebastian", "Tobias", "Ulrich", "Valentin", "Wendel", "Aurel",
           "Benedikt", "Crispin", "Edmund", "Felix", "Gregor", "Henrik", "Lucian", "Magnus"]
FIRST_F = ["Adela", "Brigitta", "Clementine", "Dagny", "Edda", "Freya", "Greta", "Hedda", "Ilse",
           "Johanna", "Katrin", "Liesel", "Margit", "Nora", "Ottilie", "Petra", "Rosalind",
           "Sabine", "Theda", "Ulla", "Vera", "Wilhelmina", "Agnes", "Beatrix", "Cordelia",
           "Elsbeth", "Isolde", "Magda", "Helena", "Solveig"]
SUR_A = ["Hal", "Mar", "Ven", "Ost", "Kel", "Tor", "Ash", "Brenn", "Carr", "Dal", "Eld", "Fenn",
         "Gar", "Hess", "Ivar", "Jor", "Kess", "Lind", "Morr", "Nor", "Orm", "Pell", "Quin", "Rav",
         "Sorr", "Tarn", "Vask", "Wend", "Yarr", "Alb", "Bex", "Crom", "Dre", "Falk", "Grim"]
SUR_B = ["ow", "ick", "en", "ard", "ing", "ley", "ton", "sby", "mann", "strom", "ell", "ane",
         "ric", "holt", "wyn", "ach", "ier", "ot", "ecke", "ham", "berg", "wald", "ey", "is"]
TOWN_A = ["Ash", "Brack", "Carn", "Dun", "Elm", "Fen", "Gal", "Hal", "Kel", "Lin", "Mor", "Nor",
          "Os", "Pen", "Quar", "Ros", "Sel", "Tarn", "Ul", "Ver", "Wen", "Yar", "Amber", "Bram",
          "Cold", "Drey", "Ebb", "Frost", "Gorm", "Hollin", "Lark", "Marl", "Nettle", "Ock",
          "Redd", "Salt", "Thorn", "Wick", "Brae", "Cinder"]
TOWN_B = ["ford", "wick", "bury", "mouth", "stead", "holm", "by", "thorpe", "haven", "field",
          "bridge", "minster", "dale", "gate", "ness", "port", "ham", "well", "cross", "hythe"]


def dec(year: int) -> str:
    return f"{year // 10 * 10}s"


def cent_n(year: int) -> str:
    return f"{year // 100 * 100}s"


def cent_w(year: int) -> str:
    return f"{CENTURY[year // 100 + 1]} century"


def num(n: int) -> str:
    return f"{n:,}"


SMALL = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
         "twelve"]


def small(n: int) -> str:
    """Counts up to twelve in words, as an encyclopedia writes them."""
    return SMALL[n] if n < len(SMALL) else str(n)


def date(r: random.Random, year: int) -> str:
    return f"{r.randint(1, 28)} {r.choice(MONTHS)} {year}"


# --- the model: subjects, aspects (paragraphs), facts ------------------------------------------


class Fact:
    """One fact type: how its values are drawn, how a paragraph states it (`say`, one picked at
    random), how a question names it (`qa` near the wording, `qb` paraphrased) and how a question
    that does not name the subject describes the subject with it (`desc`, verb phrases)."""

    def __init__(self, type_, gen, say, qa=(), qb=(), desc=()):
        self.type, self.gen, self.say = type_, gen, list(say)
        self.qa, self.qb, self.desc = list(qa), list(qb), list(desc)


class Aspect:
    def __init__(self, title, facts, fill):
        self.title, self.facts, self.fill = title, facts, list(fill)


class Kind:
    def __init__(self, name, count, make, aspects, person=False):
        self.name, self.count, self.make, self.aspects, self.person = name, count, make, aspects, person


class Subject:
    def __init__(self, kind, name, noun, v, gender=None, short=None, refs=(), first=None):
        self.kind, self.name, self.noun, self.v = kind, name, noun, v
        self.first = first or name  # the first mention in a paragraph
        self.gender, self.short = gender, short or name
        self.refs = list(refs)  # other ways to refer to it after the first mention


class Names:
    """Unique name picker shared by all kinds (no two subjects or people share a name)."""

    def __init__(self, r: random.Random):
        self.r, self.used = r, set()

    def take(self, make) -> str:
        for _ in range(500):
            name = make(self.r)
            if name not in self.used and not TRIPLE.search(name):  # no "Ebbbury", "Kessstrom"
                self.used.add(name)
                return name
        raise RuntimeError("name pool exhausted")

    def surname(self) -> str:
        return self.take(lambda r: r.choice(SUR_A) + r.choice(SUR_B))

    def person(self, gender: str | None = None) -> str:
        gender = gender or self.r.choice("mf")
        first = FIRST_M if gender == "m" else FIRST_F
        return self.take(lambda r: r.choice(first) + " " + r.choice(SUR_A) + r.choice(SUR_B))

    def town(self) -> str:
        def make(r):
            a, b = r.choice(TOWN_A), r.choice(TOWN_B)
            return a + b if a.lower() != b else a + "ley"
        return self.take(make)


FIELD = re.compile(r"\{(\w+)\}")
TRIPLE = re.compile(r"(\w)\1\1")


def pronouns(subject: Subject) -> dict:
    if subject.gender == "m":
        return {"he": "he", "his": "his", "him": "him", "He": "He", "His": "His"}
    if subject.gender == "f":
        return {"he": "she", "his": "her", "him": "her", "He": "She", "His": "Her"}
    return {"he": "it", "his": "its", "him": "it", "He": "It", "His": "Its"}


def possessive(ref: str) -> str:
    return {"he": "his", "she": "her", "it": "its"}.get(ref, ref + ("'" if ref.endswith("s") else "'s"))


def fill(template: str, subject: Subject, ref: str, cap: bool = True, r: random.Random | None = None) -> str:
    """The template with the subject's values; `[a|b]` picks one alternative at random."""
    if r is not None:
        template = CHOICE.sub(lambda m: r.choice(m.group(1).split("|")), template)
    values = dict(subject.v)
    values.update(pronouns(subject))
    values.update(S=ref, Sp=possessive(ref), N=subject.name, noun=subject.noun)
    text = AN.sub(r"\1n \2", template.format_map(values))
    return text[0].upper() + text[1:] if cap else text


CHOICE = re.compile(r"\[([^\[\]]*)\]")
AN = re.compile(r"\b([Aa]) ([aeioAEIO])")


# --- towns --------------------------------------------------------------------------------------

FOUNDERS = ["weavers from {c2}", "monks of the Order of Saint Aubery", "salt merchants from {c2}",
            "a garrison of {a2} soldiers", "fishing families from the coast", "tin miners from the hills",
            "refugees fleeing the wars in {c2}", "the knight Roderic of Vale", "a guild of glassblowers",
            "shepherds from the high pastures", "timber cutters from the forest", "a band of river pilots",
            "potters from {c2}", "lay brothers of the abbey of Saint Hild"]
LURES = ["the fertile river meadows", "a sheltered natural harbour", "a shallow ford across the river",
         "rich deposits of clay", "the protection of a steep hill", "a salt spring", "abundant timber",
         "good grazing land", "a crossroads of old trade routes", "a seam of iron ore"]
NICKNAMES = [("the Lantern Town", "the oil lamps that once lined its quays"),
             ("the City of Bells", "the eleven bell towers of its churches"),
             ("the Grey Town", "the slate roofs of its houses"),
             ("the Heron Town", "the herons that nest along its river banks"),
             ("the Weavers' Town", "the hand looms that once clattered in every street"),
             ("the Salt Gate", "the toll it once levied on salt carts"),
             ("the Red Town", "its walls of red sandstone"),
             ("the Clock Town", "the clockmakers' workshops of its old quarter"),
             ("the Crooked Town", "its winding, uneven lanes"),
             ("the Town of Seven Bridges", "the seven bridges that cross its waterways"),
             ("the Chalk Town", "the chalk quarries on its southern edge"),
             ("the Fog Town", "the thick fogs that rise from the nearby marshes"),
             ("the Honey Town", "the beekeepers who supplied wax to the royal court"),
             ("the Little Capital", "the brief period when the royal court resided there")]
RIGHTS = ["hold a weekly market", "levy tolls on the bridge", "elect its own council", "mint copper coins",
          "hold an annual fair", "build a defensive wall", "try criminal cases in its own court"]
DISASTERS = [("a great fire", "destroyed {n} houses"), ("a catastrophic flood", "swept away {n} houses"),
             ("an outbreak of plague", "killed {n} inhabitants"), ("an earthquake",
                                                                   "brought down {n} buildings")]
GOODS = ["salt", "wool", "tin", "amber", "timber", "linen", "glass", "copper", "herring", "barley",
         "hops", "leather", "silk", "wine", "flax", "iron"]
INDUSTRIES = ["ceramics", "precision instruments", "food processing", "paper making", "boat building",
              "software", "textiles", "brewing", "furniture making", "pharmaceuticals", "printing",
              "bicycle manufacturing", "cheese making", "optical glass"]
MARKET = ["cattle", "cheese", "horse", "flower", "fish", "wool", "pottery", "poultry", "vegetable"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
SETTINGS = ["on a bend of the River {river}", "at the confluence of the {river} and a smaller stream",
            "on a limestone ridge above the {river}", "at the head of a narrow valley",
            "on the edge of a wide marsh", "at the mouth of the {river}", "on a low island in the {river}",
            "on a terrace overlooking the {river} floodplain", "in a hollow between two wooded hills"]
CLIMATES = ["mild and oceanic", "continental, with cold winters and warm summers", "dry and sunny",
            "damp and foggy", "cool and windy"]
FEATURES = ["Lake Orrin", "the Hollow Wood", "the Kessel Moor", "Marden Forest", "the Black Fen",
            "Lake Sandel", "the Witchen Heath", "the Gallow Hills", "the Tern Lagoon", "Rookley Chase"]
FEATURE_TYPE = {"Lake": "lake", "Wood": "woodland", "Moor": "moorland", "Forest": "forest", "Fen": "fen",
                "Heath": "heath", "Hills": "range of low hills", "Lagoon": "lagoon", "Chase": "forest"}
DISTRICTS = ["Oldmarket", "Kirkside", "Waterend", "the Castle Quarter", "Tannery Row", "Abbeyfield",
             "Bridgend", "the Lower Town", "Saint Verena's"]
FESTIVALS = ["the Lantern Festival", "the Feast of Saint Aubery", "the Herring Fair", "the Salt Procession",
             "the Midsummer Boat Race", "the Harvest Bell Night", "the Carnival of Masks", "the Wool Fair",
             "the Festival of Bonfires", "the Fiddlers' Week", "the Apple Blessing", "the Night of Candles"]
ORIGINS = ["the end of the plague of {p}", "the legendary rescue of shipwrecked fishermen",
           "the granting of the town charter", "the first harvest after a great flood",
           "the return of soldiers from the {war}", "a miracle attributed to a local saint",
           "the victory of the town's archers in a regional contest", "the lifting of a long siege"]
LANDMARKS = ["the Church of Saint Verena", "the Old Town Hall", "the Clock Tower",
             "the Cathedral of the Holy Cross",
             "the Guildhall", "the Castle of the Counts", "the Weigh House", "the Corn Exchange",
             "the Abbey of Saint Hild", "the Water Gate"]
MATERIALS = ["grey limestone", "red brick", "oak timber", "black basalt", "white marble", "yellow sandstone",
             "granite", "flint and chalk"]
DISHES = ["smoked eel with rye bread", "a honey cake called kessel", "salted herring in mustard sauce",
          "a thick barley soup with bacon", "plum dumplings", "pickled cabbage with sausage",
          "a pie of mutton and prunes", "black bread baked with caraway", "trout baked in clay"]


def make_town(r, names, world):
    country = r.choice(sorted(COUNTRIES))
    adj, capital, regions = COUNTRIES[country]
    c2 = r.choice(sorted(set(COUNTRIES) - {country}))
    name = names.town()
    river = r.choice(world["rivers"])
    v = dict(country=country, adj=adj, capital=capital, region=r.choice(regions), c2=c2,
             a2=COUNTRIES[c2][0], river=river, twin_name=names.town(), firm_owner=names.surname(),
             neighbour=names.town())
    return Subject("town", name, "town", v, refs=["the town", "it", name, "the settlement"])


def g_location(r, s):
    return dict(dir=r.choice(["north", "south", "east", "west", "north-east", "south-west", "north-west"]),
                dist=r.randrange(20, 420, 5))


def g_population(r, s):
    return dict(pop=num(r.randrange(2100, 64000, 10)), cyear=r.choice([2001, 2011, 2021, 2016, 2006]))


def g_nickname(r, s):
    nick, why = r.choice(NICKNAMES)
    return dict(nick=nick, why=why)


def g_twin(r, s):
    return dict(twin=s.v["twin_name"], tyear=r.randint(1956, 2004))


def g_founded(r, s):
    year = r.randint(1090, 1640)
    return dict(fyear=year, fdec=cent_n(year), founders=r.choice(FOUNDERS).format(**s.v),
                lure=r.choice(LURES))


def g_charter(r, s):
    return dict(chyear=s.v["fyear"] + r.randint(40, 260), ruler=r.choice(RULERS), right=r.choice(RIGHTS))


def g_disaster(r, s):
    dis, cons = r.choice(DISASTERS)
    year = r.randint(s.v["fyear"] + 60, 1890)
    return dict(dis=dis, dis_short=dis.split(" ", 1)[1], cons=cons.format(n=r.randrange(40, 900, 10)),
                dyear=year, ddec=dec(year))


def g_occupation(r, s):
    return dict(war=r.choice(WARS), months=r.randint(3, 40))


def g_trade(r, s):
    year = r.choice([1400, 1500, 1600, 1700, 1800]) + r.randint(0, 20)
    return dict(good=r.choice(GOODS), tcn=cent_n(year), tcw=cent_w(year))


def g_industry(r, s):
    return dict(industry=r.choice(INDUSTRIES), firm=names_firm(r, s), emp=num(r.randrange(300, 4200, 10)))


def names_firm(r, s):
    return s.v["firm_owner"] + r.choice([" & Sons", " Works", " Brothers", " and Company"])


def g_market(r, s):
    return dict(mprod=r.choice(MARKET), mday=r.choice(DAYS), myear=r.randint(1350, 1880))


def g_setting(r, s):
    return dict(setting=r.choice(SETTINGS).format(**s.v), elev=r.randrange(4, 780, 2))


def g_climate(r, s):
    return dict(climate=r.choice(CLIMATES), rain=num(r.randrange(380, 1650, 5)), wetmonth=r.choice(MONTHS))


def g_feature(r, s):
    feature = r.choice(FEATURES)
    return dict(feature=feature,
                ftype=FEATURE_TYPE[feature.split()[-1] if not feature.startswith("Lake") else "Lake"],
                farea=r.randint(4, 260), fdir=r.choice(["north", "south", "east", "west"]))


def g_districts(r, s):
    return dict(nd=small(r.randint(4, 12)), oldest=r.choice(DISTRICTS))


def g_festival(r, s):
    return dict(fest=r.choice(FESTIVALS), fmonth=r.choice(MONTHS),
                origin=r.choice(ORIGINS).format(p=r.randint(1500, 1720), war=r.choice(WARS)))


def g_landmark(r, s):
    return dict(lm=r.choice(LANDMARKS), lmat=r.choice(MATERIALS), lyear=r.randint(1180, 1780),
                lh=r.randrange(18, 96))


def g_dish(r, s):
    return dict(dish=r.choice(DISHES), dish_day=r.choice(["at Christmas", "on market days",
                                                          "during the autumn fair",
                                                           "at weddings", "on Sundays"]))


def g_railway(r, s):
    year = r.randint(1841, 1912)
    return dict(ryear=year, rdec=dec(year), rfrom=r.choice([s.v["capital"], s.v["neighbour"]]))


def g_bridge(r, s):
    return dict(bmat=r.choice(["stone", "cast-iron", "timber", "brick", "steel"]),
                arches=small(r.randint(3, 12)),
                byear=r.randint(1300, 1905))


def g_tram(r, s):
    start = r.randint(1884, 1925)
    return dict(tstart=start, tend=r.randint(start + 12, 1972))


TOWN = Kind("town", 32, make_town, [
    Aspect(None, [
        Fact("location", g_location, [
            "{S} is a town in {region}, in the {dir} of {country}, about {dist} kilometres from the "
            "capital, {capital}.",
            "Lying in the {dir} of {country}, {S} is a town of {region} situated roughly {dist} km from "
            "{capital}.",
            "{S} is a {adj} town in {region}, in the {dir} of the country; the capital, {capital}, lies "
            "some {dist} kilometres away.",
            "{S} is a small town in the {dir} of {country}, in the district of {region}, {dist} kilometres "
            "by road from {capital}."],
            qa=["How far is {S} from {capital}?",
                "In which part of {country} is {S} located, and how far is it from the capital?"],
            qb=["What distance separates {S} from the {adj} capital?",
                "How many kilometres would you travel to get from {S} to the seat of government?"],
            desc=["lies about {dist} kilometres from {capital}"]),
        Fact("population", g_population, [
            "At the {cyear} census {S} had {pop} inhabitants.",
            "{Sp} population was recorded as {pop} in {cyear}.",
            "According to the census of {cyear}, some {pop} people live in {S}.",
            "{S} counted {pop} residents when the census was taken in {cyear}."],
            qa=["What was the population of {S} at the {cyear} census?",
                "How many inhabitants does {S} have?"],
            qb=["How many people live in {S}?", "What is the official head count of residents in {S}?"]),
        Fact("nickname", g_nickname, [
            "Locals call {S} {nick}, a name that refers to {why}.",
            "{S} is often nicknamed {nick} because of {why}.",
            "The nickname {nick}, by which {S} is widely known, comes from {why}.",
            "Visitors soon learn why {S} is known as {nick}: the name recalls {why}."],
            qa=["Why is {S} nicknamed {nick}?", "What nickname is {S} known by, and why?"],
            qb=["Where does the popular name given to {S} come from?",
                "What lies behind the byname that people use for {S}?"],
            desc=["is nicknamed {nick}", "is popularly known as {nick}"]),
        Fact("twin", g_twin, [
            "{S} has been twinned with {twin} since {tyear}.",
            "Since {tyear} {S} has had a partnership with the town of {twin}.",
            "A twinning agreement signed in {tyear} links {S} with {twin}."],
            qa=["Which town is {S} twinned with?", "Since when has {S} been twinned with {twin}?"],
            qb=["What is the partner town of {S} abroad, and since what year have they been linked?"],
            desc=["has been twinned with {twin} since {tyear}"]),
    ], [
        "{S} is the seat of a [rural district|municipality|small district] of the same name.",
        "The town is surrounded by [farmland, orchards and scattered villages|hop gardens and "
        "hamlets|woods and small farms].",
        "Like many towns of {region}, it combines an old [walled|medieval] centre with [newer suburbs "
        "built after the war|housing estates of the 1960s|villas of the railway age].",
        "{Sp} historic centre [is a protected conservation area|has kept much of its medieval street "
        "plan|was carefully restored in the 1980s].",
        "Regional buses connect the town with [the surrounding villages|neighbouring market towns|the "
        "nearest railway junction] several times a day.",
        "The town has [a secondary school|two secondary schools|a grammar school], [a small hospital|a "
        "health centre|a cottage hospital] and [a public library|a lending library|a municipal archive].",
        "{Sp} coat of arms shows [a tower|a key|a wheel|a leaping salmon|two crossed oars] [above a "
        "wavy line standing for the river|on a blue field|beneath three stars].",
        "[Most|Many] inhabitants speak the local dialect as well as standard {adj}.",
    ]),
    Aspect("History", [
        Fact("founded", g_founded, [
            "{S} was founded in {fyear} by {founders}, who were drawn by {lure}.",
            "The settlement was established around {fyear} by {founders}, attracted by {lure}.",
            "Records show that {founders} laid out the first streets of {S} in {fyear}; what brought them "
            "was {lure}.",
            "The first permanent houses were built in {fyear}, when {founders} settled at the spot because "
            "of {lure}."],
            qa=["When was {S} founded and by whom?", "Who founded {S}, and in what year?"],
            qb=["When did the settlement of {S} come into being, and who started it?",
                "Which group first settled at {S}, and what attracted them there?"],
            desc=["was founded by {founders}", "was settled in the {fdec} by {founders}"]),
        Fact("charter", g_charter, [
            "In {chyear} {ruler} granted {S} a charter allowing it to {right}.",
            "A charter of {chyear}, issued by {ruler}, gave the townspeople the right to {right}.",
            "{S} received town rights from {ruler} in {chyear}, including the privilege to {right}.",
            "Town status followed in {chyear}, when {ruler} permitted the burghers to {right}."],
            qa=["When did {S} receive its charter, and from whom?",
                "What right did the charter of {S} grant?"],
            qb=["Which ruler gave {S} its town privileges, and what could the townspeople then do?",
                "In what year did {S} officially gain the status of a town?"],
            desc=["received a charter from {ruler}", "was granted the right to {right} by {ruler}"]),
        Fact("disaster", g_disaster, [
            "In {dyear} {dis} {cons}, and much of the centre had to be rebuilt.",
            "The darkest year in the town's history was {dyear}, when {dis} {cons}.",
            "{S} suffered badly in {dyear}: {dis} {cons}.",
            "Catastrophe struck in {dyear}, when {dis} {cons} within a few days."],
            qa=["What disaster struck {S} in {dyear}?", "When did {S} suffer {dis}?"],
            qb=["Which calamity devastated {S}, and in what year did it happen?",
                "What was the worst catastrophe in the past of {S}, and how much damage did it cause?"],
            desc=["was struck by {dis} in the {ddec}", "suffered {dis} in {dyear}"]),
        Fact("occupation", g_occupation, [
            "During the {war}, {a2} troops occupied {S} for {months} months.",
            "{S} was held by {a2} soldiers for {months} months in the course of the {war}.",
            "In the {war} the town fell to a {a2} army, which stayed for {months} months."],
            qa=["Who occupied {S} during the {war}?", "How long was {S} occupied during the {war}?"],
            qb=["Which foreign army held {S} in wartime, and for how long did it stay?"],
            desc=["was occupied by {a2} troops during the {war}"]),
    ], [
        "Little is known about the [earliest|first] centuries of the settlement[, which left few "
        "written records|; archaeologists have found only scattered pottery|].",
        "Fragments of the medieval wall can still be seen [behind the houses of the old quarter|near "
        "the parish church|along the river path].",
        "The town's archive preserves [charters, tax rolls and guild records|council minutes and court "
        "books|letters of the merchant guilds] going back several centuries.",
        "Its fortunes rose and fell with those of {region} as a whole.",
        "Local historians have reconstructed much of this period from [parish registers|tax rolls|the "
        "diaries of a merchant family].",
        "Several old families of the town trace their ancestry to [this time|the first settlers|the "
        "guild masters of the period].",
        "Periods of growth alternated with [war, famine and epidemic|long decades of stagnation|bitter "
        "quarrels between the guilds].",
    ]),
    Aspect("Economy", [
        Fact("trade", g_trade, [
            "From the {tcw} onward {S} grew wealthy on the {good} trade.",
            "During the {tcw} the trade in {good} made {S} one of the richest towns of {region}.",
            "The prosperity of {S} in the {tcn} rested on {good}, shipped in barges down the {river}.",
            "Merchants dealing in {good} dominated the affairs of {S} throughout the {tcn}."],
            qa=["What trade made {S} wealthy in the {tcw}?", "What was {S} trading in during the {tcn}?"],
            qb=["What commodity did {S} owe its early riches to?",
                "Which goods brought prosperity to {S} in the past, and in which period?"],
            desc=["grew rich from trading {good} in the {tcn}", "made its fortune in the {good} trade"]),
        Fact("industry", g_industry, [
            "Today the largest employer is {firm}, a {industry} business with about {emp} staff.",
            "{Sp} economy now depends on {industry}; {firm} alone employs some {emp} people.",
            "Modern {S} earns its living mainly from {industry}, led by {firm}, which has roughly {emp} "
            "workers.",
            "The leading firm in the town today is {firm}, active in {industry} and employing {emp} people."],
            qa=["What is the largest employer in {S} today?",
                "Which industry dominates the economy of {S} today?"],
            qb=["Which company provides the most jobs in {S} nowadays, and what is its line of business?",
                "What do most people in present-day {S} work in?"],
            desc=["is today dominated by {industry}", "has {firm} as its largest employer"]),
        Fact("market", g_market, [
            "A {mprod} market has been held every {mday} since {myear}.",
            "Every {mday} farmers and traders gather in the square for the {mprod} market, a custom dating "
            "from {myear}.",
            "The weekly {mprod} market, first recorded in {myear}, still takes place each {mday}."],
            qa=["On which day is the {mprod} market held in {S}?",
                "Since when has {S} held its weekly market?"],
            qb=["When can visitors to {S} shop at its weekly market, and what is sold there?"],
            desc=["holds a {mprod} market every {mday}"]),
    ], [
        "[Agriculture|Dairy farming|Fruit growing] remains important in the surrounding countryside.",
        "Many residents commute to [larger towns|{capital}|the regional centre] for work.",
        "Small shops, cafés and [workshops|bakeries|galleries] line the main street.",
        "Tourism has grown since [the old centre was restored|a cycle route along the river opened|the "
        "station was renovated].",
        "The town council has encouraged new businesses to settle on [the industrial estate by the ring "
        "road|a business park near the station|former railway land].",
        "Unemployment is [slightly below|close to|somewhat above] the average for {country}.",
        "Banks and insurance offices cluster around [the market square|the station|the old town hall].",
    ]),
    Aspect("Geography", [
        Fact("setting", g_setting, [
            "{S} stands {setting}, at an elevation of {elev} metres.",
            "The town lies {setting}, {elev} m above sea level.",
            "Built {setting}, {S} sits at a height of about {elev} metres.",
            "{S} occupies a site {setting}; its market square is {elev} metres above the sea."],
            qa=["At what elevation does {S} lie?", "Where exactly is {S} situated?"],
            qb=["How high above the sea is {S}?", "How would you describe the site on which {S} was built?"],
            desc=["stands {setting}"]),
        Fact("climate", g_climate, [
            "The climate is {climate}; annual rainfall averages {rain} mm, most of it in {wetmonth}.",
            "{S} has a {climate} climate, with about {rain} millimetres of rain a year and the wettest "
            "weather in {wetmonth}.",
            "Its weather is {climate}, and the yearly precipitation of around {rain} mm peaks in "
            "{wetmonth}."],
            qa=["How much rain does {S} get each year?", "What is the climate of {S} like?"],
            qb=["What is the annual precipitation in {S}, and which month is the wettest?"],
            desc=["gets about {rain} mm of rain a year"]),
        Fact("feature", g_feature, [
            "To the {fdir} of the town lies {feature}, a {ftype} covering {farea} square kilometres.",
            "{feature}, a {ftype} of some {farea} km2, borders {S} on the {fdir}.",
            "On its {fdir}ern side {S} is bounded by {feature}, a {ftype} of {farea} square kilometres."],
            qa=["What lies to the {fdir} of {S}?", "How large is {feature} near {S}?"],
            qb=["Which natural area lies on the edge of {S}, and how big is it?"],
            desc=["borders {feature}", "has {feature} on its {fdir}ern side"]),
        Fact("districts", g_districts, [
            "The municipality is divided into {nd} districts, the oldest being {oldest}.",
            "{S} comprises {nd} districts, of which {oldest} is the oldest.",
            "Of the {nd} districts that make up the town, {oldest} has the longest history."],
            qa=["How many districts does {S} have?", "Which is the oldest district of {S}?"],
            qb=["Into how many quarters is {S} split, and which one goes back furthest?"]),
    ], [
        "The surrounding landscape is a patchwork of [fields, hedges and small woods|meadows and "
        "drainage ditches|vineyards and stone walls].",
        "Several [footpaths|cycle routes|old drove roads] lead from the town into the countryside.",
        "The river has been [straightened and embanked|dredged and walled] in places to protect the "
        "lower streets.",
        "Winters can be [cold|damp and grey|long], but heavy snow is unusual.",
        "Soils around the town are [fertile and well drained|heavy and clayey|light and sandy].",
        "The land rises gently towards [the hills that close the horizon|a line of wooded ridges|the "
        "moors to the north].",
    ]),
    Aspect("Culture", [
        Fact("festival", g_festival, [
            "Every {fmonth} the town holds {fest}, which commemorates {origin}.",
            "{fest}, celebrated in {S} each {fmonth}, recalls {origin}.",
            "The highlight of the local calendar is {fest} in {fmonth}, first held to mark {origin}.",
            "Each year in {fmonth} crowds gather for {fest}, a tradition that began with {origin}."],
            qa=["When is {fest} held in {S}?", "What does {fest} in {S} commemorate?"],
            qb=["Which yearly celebration draws crowds to {S}, and what is its origin?",
                "What event is remembered by the annual festivities of {S}?"],
            desc=["holds {fest} every {fmonth}", "celebrates {fest} each year"]),
        Fact("landmark", g_landmark, [
            "The best-known landmark of {S} is {lm}, built of {lmat} in {lyear} and {lh} metres tall.",
            "{lm}, completed in {lyear}, is a striking {lmat} building that rises {lh} metres above the "
            "square.",
            "Visitors come above all to see {lm}, raised in {lmat} in {lyear}; it reaches a height of {lh} "
            "metres."],
            qa=["When was {lm} in {S} built?", "What material is {lm} in {S} made of?"],
            qb=["Which building is the chief sight of {S}, and when was it put up?",
                "What is the most famous monument of {S} constructed from, and how tall is it?"],
            desc=["has {lm} built of {lmat}"]),
        Fact("dish", g_dish, [
            "The local speciality is {dish}, traditionally eaten {dish_day}.",
            "No visit is complete without tasting {dish}, which locals serve {dish_day}.",
            "{S} is known throughout {country} for {dish}, a dish eaten {dish_day}."],
            qa=["What is the local speciality of {S}?", "When is {dish} eaten in {S}?"],
            qb=["Which food is {S} famous for, and on what occasions is it served?"],
            desc=["is known for {dish}"]),
    ], [
        "The town has an amateur theatre, a brass band and [two|three|several] choirs.",
        "A small museum in a former [merchant's house|granary|customs house] displays [local crafts and "
        "old photographs|archaeological finds and costumes|tools of the old trades].",
        "Local clubs organise concerts, markets and sporting events throughout the year.",
        "Its painted house fronts are among the most photographed in {region}.",
        "The dialect spoken in {S} differs noticeably from that of {capital}.",
        "Folk dances and costumes are kept alive by a local heritage society.",
        "[Football|Rowing|Archery] is the most popular sport, and the local club has a long history.",
    ]),
    Aspect("Transport", [
        Fact("railway", g_railway, [
            "The railway reached {S} in {ryear}, when the line from {rfrom} was extended.",
            "{S} gained a railway station in {ryear} as part of the line from {rfrom}.",
            "Trains have run to {S} since {ryear}, when the branch from {rfrom} was opened."],
            qa=["When did the railway reach {S}?", "Which railway line first served {S}?"],
            qb=["Since what year has {S} had a train connection, and from where?"],
            desc=["was connected to the railway in the {rdec}", "got its railway from {rfrom} in {ryear}"]),
        Fact("bridge", g_bridge, [
            "The {bmat} bridge across the {river}, with {arches} arches, was completed in {byear}.",
            "A {bmat} bridge of {arches} arches, finished in {byear}, carries the main road over the "
            "{river}.",
            "In {byear} the town's old ferry was replaced by a {bmat} bridge of {arches} arches."],
            qa=["How many arches does the bridge of {S} have?", "When was the bridge in {S} built?"],
            qb=["What is the river crossing at {S} made of, and when was it finished?"],
            desc=["has a {bmat} bridge of {arches} arches"]),
        Fact("tram", g_tram, [
            "A tram line operated from {tstart} until {tend}, when it was replaced by buses.",
            "Between {tstart} and {tend} trams ran through the streets of {S}.",
            "{S} had its own tramway, opened in {tstart} and closed in {tend}."],
            qa=["When did trams run in {S}?", "When was the tramway of {S} closed?"],
            qb=["Between which years could people ride a streetcar through {S}?"],
            desc=["had trams until {tend}"]),
    ], [
        "[A bypass|A ring road] takes heavy traffic around the old centre.",
        "The nearest airport is a regional one, about [an hour|forty minutes|ninety minutes] away by "
        "car.",
        "Cycle paths follow the river in both directions.",
        "Parking in the old centre is restricted on market days.",
        "Coaches link the town to {capital} and other cities of {country}.",
        "[Narrow lanes|Cobbled streets] make the old centre difficult for lorries.",
    ]),
])


# --- rivers and mountains -----------------------------------------------------------------------

RIVER_NAMES = ["Vell", "Ambra", "Korrin", "Tarrow", "Ossel", "Lys", "Marle", "Sennet", "Dravna", "Oskel",
               "Wenna", "Halde", "Teska", "Rimmel", "Ulvar", "Caddow", "Mersa", "Tamsel", "Fenna", "Brisk"]
MOUNTAIN_NAMES = ["Greyhorn", "Skarnfell", "Mount Hallick", "Vesskar", "Aldern Peak", "Mount Osric",
                  "Brenna Kopf", "Mount Seraph", "Korrin Spire", "Drummel", "Ironcrown", "Mount Ebba",
                  "Lantern Peak", "Sable Pike", "Fangberg", "Tollen Horn", "Mount Aubry"]
RANGES = ["the Greyfell Range", "the Korrin Alps", "the Tarrow Massif", "the Whitecap Range",
          "the Dunmoor Heights", "the Sable Mountains"]
MEANINGS = ["grey water", "the slow one", "boundary", "swan", "bright", "the crooked one", "mother of fish",
            "cold stream", "the loud one", "white horse", "black stone", "the sleeping giant", "eagle's seat",
            "the broken tooth", "storm hill", "the shepherd"]
SEAS = ["the Grey Sea", "the Amber Sea", "the Northern Sound", "the Gulf of Tessen", "the Bay of Marrow",
        "the Pale Ocean"]
FISH = ["salmon", "sturgeon", "grayling", "barbel", "pike", "eel", "brown trout", "zander", "burbot", "shad"]
BIRDS = ["white storks", "grey herons", "bitterns", "spoonbills", "marsh harriers", "kingfishers", "cranes"]
POLLUTANTS = [("cyanide", "gold mine"), ("heating oil", "storage depot"), ("dye", "textile works"),
              ("fertiliser", "chemical plant"), ("copper sludge", "tailings dam"), ("tar", "gasworks")]
CARGO = ["grain", "coal", "gravel and sand", "timber", "fertiliser", "cement", "iron ore", "containers"]
USES = ["drinking water for {capital}", "hydroelectric power", "irrigation water for the plain",
        "flood control"]
ROCKS = [("granite", "Carboniferous"), ("basalt", "Tertiary"), ("limestone", "Jurassic"), ("gneiss",
    "Precambrian"),
         ("slate", "Ordovician"), ("sandstone", "Permian"), ("marble", "Devonian"), ("dolomite", "Triassic")]
ROUTES = ["south-east ridge", "north face", "west buttress", "Kessel couloir", "east ridge",
          "long south-west arete",
          "Pilgrims' gully", "north-west flank"]
ANIMALS_MTN = ["chamois", "ibex", "marmots", "golden eagles", "snow voles", "mountain hares", "lynx",
               "wild goats"]
LEGENDS = ["a giant was turned to stone on its summit",
           "a hermit kept a fire burning on its top for forty years",
           "a lost bell rings inside it on midwinter night", "its peak was the throne of a storm god",
           "a dragon sleeps beneath its glacier", "a shepherd girl found a silver mine there and vanished",
           "the first king of {country} was crowned on its slopes", "its lake is bottomless"]
SAINTS = ["Saint Verena", "Saint Aubery", "Saint Hild", "Saint Oswin", "Saint Bride", "Saint Lucian"]
TREES = ["stunted larches", "dwarf pines", "alpine roses", "cushion mosses", "gentians and saxifrages",
         "heather and bilberry"]


def make_river(r, names, world):
    name = world["river_subjects"].pop(0)
    country = r.choice(sorted(COUNTRIES))
    adj, capital, regions = COUNTRIES[country]
    c2 = r.choice(sorted(set(COUNTRIES) - {country}))
    v = dict(rname=name, country=country, adj=adj, capital=capital, region=r.choice(regions), c2=c2,
             a2=COUNTRIES[c2][0], mtown=names.town(), ntown=names.town(), btown=names.town())
    return Subject("river", f"River {name}", "river", v, short=f"the {name}", first=f"the River {name}",
                   refs=["the river", f"the {name}", "it", f"the {name}"])


def g_length(r, s):
    return dict(rlen=num(r.randrange(90, 1400, 5)), basin=num(r.randrange(1200, 98000, 100)))


def g_etym(r, s):
    return dict(meaning=r.choice(MEANINGS), lang=r.choice(["an Old " + s.v["adj"], "an ancient",
                                                           "a pre-Roman",
                                                           "a forgotten local"]))


def g_source(r, s):
    src = r.choice([f"the slopes of {r.choice(MOUNTAIN_NAMES)}",
                    f"Lake {r.choice(['Orrin', 'Sandel', 'Veyra', 'Tolm'])}",
                    f"a spring near the village of {s.v['ntown']}", f"a peat bog in {s.v['region']}"])
    return dict(source=src, selev=num(r.randrange(220, 2400, 10)))


def g_mouth(r, s):
    return dict(sea=r.choice(SEAS), flowdir=r.choice(["north", "south", "east", "west", "south-east",
                                                      "north-west"]))


def g_tributary(r, s):
    return dict(trib=r.choice([n for n in RIVER_NAMES if n != s.v["rname"]]), tkm=r.randrange(30, 260, 5))


def g_discharge(r, s):
    return dict(q=num(r.randrange(40, 2600, 10)), gauge=s.v["mtown"])


def g_flood(r, s):
    month = r.choice(MONTHS)
    return dict(fmonth=month, fcause=r.choice(["snowmelt from the mountains", "autumn storms",
                                               "heavy spring rain",
                                                "ice jams breaking up", "summer thunderstorms"]))


def g_dam(r, s):
    year = r.randint(1905, 1985)
    return dict(dam=r.choice(TOWN_A) + "dal", damyear=year, damdec=dec(year), cap=r.randrange(20, 900, 5),
                use=r.choice(USES).format(**s.v))


def g_frontier(r, s):
    return dict(fr1=r.choice(["the Kingdom of " + s.v["country"],
                              "the Duchy of " + s.v["region"].replace("the ", "")]),
                fr2="the Kingdom of " + s.v["c2"], frcent=cent_w(r.randint(1100, 1480)))


def g_crossing(r, s):
    return dict(xyear=r.randint(1500, 1870), xruler=r.choice(RULERS), xmen=num(r.randrange(2000, 40000, 500)))


def g_firstbridge(r, s):
    return dict(fbyear=r.randint(1150, 1700), fbmat=r.choice(["stone", "timber", "brick"]))


def g_fish(r, s):
    f1, f2 = r.sample(FISH, 2)
    return dict(nfish=r.randint(18, 64), fish1=f1, fish2=f2)


def g_reserve(r, s):
    year = r.randint(1952, 2012)
    return dict(reserve=r.choice(TOWN_A) + r.choice([" Marsh", " Reedbed", " Water Meadow",
                                                     " Floodplain"]) + " Reserve",
                rarea=num(r.randrange(300, 9000, 10)), ryear=year, rdec2=dec(year), bird=r.choice(BIRDS))


def g_pollution(r, s):
    pol, src = r.choice(POLLUTANTS)
    return dict(pol=pol, polsrc=src, polyear=r.randint(1961, 2015), polkm=r.randrange(15, 300, 5))


def g_navigable(r, s):
    return dict(nav=r.randrange(40, 700, 5), navtown=s.v["ntown"])


def g_canal(r, s):
    return dict(canal=r.choice(TOWN_A) + r.choice(TOWN_B), canyear=r.randint(1690, 1930),
                river2=r.choice([n for n in RIVER_NAMES if n != s.v["rname"]]))


def g_cargo(r, s):
    return dict(cargo=r.choice(CARGO), tons=r.randint(2, 48))


RIVER = Kind("river", 14, make_river, [
    Aspect(None, [
        Fact("length", g_length, [
            "{S} is a river of {country}, {rlen} kilometres long, draining a basin of {basin} square "
            "kilometres.",
            "The {rname} is a {adj} river with a length of {rlen} km and a catchment of {basin} km2.",
            "{S} flows for {rlen} kilometres through {country}; its drainage basin covers {basin} square "
            "kilometres."],
            qa=["How long is the {rname}?", "How large is the drainage basin of the {rname}?"],
            qb=["What distance does the {rname} cover from its source to its end?",
                "How much land does the {rname} collect its water from?"]),
        Fact("etym", g_etym, [
            "Its name comes from {lang} word meaning {meaning}.",
            "The name {rname} is thought to derive from {lang} word for {meaning}.",
            "Scholars trace the name to {lang} root meaning {meaning}."],
            qa=["What does the name {rname} mean?", "Where does the name of the {rname} come from?"],
            qb=["What is the origin of the river name {rname}, and what did it originally signify?"],
            desc=["has a name meaning {meaning}"]),
        Fact("frontier", g_frontier, [
            "In the {frcent} the river marked the frontier between {fr1} and {fr2}.",
            "For much of the {frcent} the {rname} formed the border between {fr1} and {fr2}.",
            "During the {frcent} it served as the boundary separating {fr1} from {fr2}."],
            qa=["Which frontier did the {rname} mark in the {frcent}?"],
            qb=["Between which two realms did the {rname} once form a border?"],
            desc=["once marked the frontier between {fr1} and {fr2}"]),
    ], [
        "It is one of the [principal|longest|most important] rivers of {country}.",
        "The river gives its name to several villages along its banks.",
        "Its valley has been settled since [prehistoric times|the Bronze Age|at least the Iron Age].",
        "The river has long been important for [fishing, milling and transport|trade and fishing|mills "
        "and irrigation].",
        "Several towns of {region} lie on its banks.",
        "Its waters are [clear and cold in the upper reaches|brown with peat after heavy rain|slow and "
        "silty near the sea].",
    ]),
    Aspect("Course", [
        Fact("source", g_source, [
            "{S} rises at {source}, at an altitude of {selev} metres.",
            "The river has its source at {source}, {selev} m above sea level.",
            "Its headwaters lie at {source}, some {selev} metres up."],
            qa=["Where does the {rname} rise?", "At what altitude is the source of the {rname}?"],
            qb=["Where does the {rname} begin its journey, and how high up?"],
            desc=["rises at {source}"]),
        Fact("mouth", g_mouth, [
            "After flowing {flowdir} through {region}, it enters {sea} at {mtown}.",
            "The river runs {flowdir} across {region} and empties into {sea} near {mtown}.",
            "It reaches {sea} at the port of {mtown}, having crossed {region} in a {flowdir}erly direction."],
            qa=["Where does the {rname} flow into the sea?", "In which direction does the {rname} flow?"],
            qb=["At which town does the {rname} end, and into what body of water?"],
            desc=["empties into {sea} at {mtown}"]),
        Fact("tributary", g_tributary, [
            "Its largest tributary is the {trib}, which joins it after a course of {tkm} km.",
            "The {trib}, {tkm} kilometres long, is the most important river feeding it.",
            "Among its many tributaries the {trib}, {tkm} km in length, carries the most water."],
            qa=["What is the largest tributary of the {rname}?",
                "How long is the {trib}, the tributary of the {rname}?"],
            qb=["Which stream contributes the most water to the {rname}?"],
            desc=["is fed mainly by the {trib}"]),
    ], [
        "In its upper reaches the river is narrow and fast, cutting through [wooded gorges|deep "
        "ravines|rocky valleys].",
        "The middle course meanders across a broad, flat [valley|plain|basin].",
        "Numerous [weirs and old mills|stone weirs|water mills] survive along the banks.",
        "Gravel bars and small islands divide the channel in several places.",
        "Towards the end of its course the valley widens into [marshes and meadows|a broad "
        "delta|mudflats and salt marsh].",
        "Its gradient is steepest in the first [twenty|thirty|forty] kilometres.",
    ]),
    Aspect("Hydrology", [
        Fact("discharge", g_discharge, [
            "The mean discharge measured at {gauge} is {q} cubic metres per second.",
            "At the gauging station of {gauge}, the average flow is {q} m3/s.",
            "On average {q} cubic metres of water pass {gauge} every second."],
            qa=["What is the mean discharge of the {rname}?", "Where is the flow of the {rname} measured?"],
            qb=["How much water does the {rname} carry on average each second?"]),
        Fact("flood", g_flood, [
            "Floods are most common in {fmonth}, caused by {fcause}.",
            "High water usually comes in {fmonth}, brought by {fcause}.",
            "The river tends to overflow in {fmonth}, mostly as a result of {fcause}."],
            qa=["When does the {rname} usually flood?", "What causes floods on the {rname}?"],
            qb=["At what time of year does the {rname} tend to burst its banks, and why?"],
            desc=["tends to flood in {fmonth} because of {fcause}"]),
        Fact("dam", g_dam, [
            "The {dam} Dam, completed in {damyear}, holds back {cap} million cubic metres and provides "
            "{use}.",
            "Since {damyear} the {dam} Dam has formed a reservoir of {cap} million m3, used for {use}.",
            "A reservoir of {cap} million cubic metres behind the {dam} Dam, finished in {damyear}, "
            "supplies {use}."],
            qa=["When was the {dam} Dam on the {rname} completed?",
                "What is the {dam} Dam on the {rname} used for?"],
            qb=["What is the purpose of the large barrier across the {rname}, and how much water does it "
                "store?"],
            desc=["was dammed in the {damdec} to provide {use}"]),
    ], [
        "The water level can vary by several metres over the year.",
        "Long records of water levels have been kept since the [nineteenth century|days of the first "
        "bridge keepers|founding of the state weather service].",
        "Low water in late summer sometimes hinders shipping.",
        "Groundwater from the surrounding [gravels|limestone|sands] keeps the river flowing even in dry "
        "spells.",
        "Embankments and overflow meadows protect the towns on its banks.",
        "[Ice|Drifting ice] sometimes forms on the river in severe winters.",
    ]),
    Aspect("History", [
        Fact("crossing", g_crossing, [
            "In {xyear} the army of {xruler}, some {xmen} strong, crossed the river at {btown}.",
            "A famous crossing took place in {xyear}, when {xruler} led {xmen} men over the {rname} at "
            "{btown}.",
            "{xruler} forced a passage of the river at {btown} in {xyear} with an army of {xmen}."],
            qa=["When did {xruler} cross the {rname}?",
                "How large was the army that crossed the {rname} at {btown}?"],
            qb=["Which ruler led troops over the {rname}, where, and in what year?"],
            desc=["was crossed by the army of {xruler} in {xyear}"]),
        Fact("firstbridge", g_firstbridge, [
            "The first permanent bridge over the {rname}, a {fbmat} structure, was built at {btown} in "
            "{fbyear}.",
            "Until {fbyear} the river could only be crossed by ferry; in that year a {fbmat} bridge was "
            "built at {btown}.",
            "A {fbmat} bridge at {btown}, erected in {fbyear}, was the first fixed crossing."],
            qa=["When was the first bridge over the {rname} built?",
                "What was the first bridge over the {rname} made of?"],
            qb=["In what year did people first have a permanent way across the {rname}, and where?"],
            desc=["got its first permanent bridge, made of {fbmat}, in {fbyear}"]),
        Fact("toll", lambda r, s: dict(tollyear=r.randint(1180, 1600), tollspan=r.randint(80, 300),
                                       tollgood=r.choice(["salt", "wine", "timber", "grain", "wool",
                                                          "herring"])), [
            "From {tollyear} the lords of {btown} levied a toll on every barge carrying {tollgood}, a right "
            "they kept for {tollspan} years.",
            "A toll on {tollgood} shipped down the river was collected at {btown} from {tollyear} and "
            "lasted {tollspan} years.",
            "For {tollspan} years after {tollyear}, boats loaded with {tollgood} had to pay a toll at "
            "{btown}."],
            qa=["When did the toll at {btown} on the {rname} begin?",
                "Which goods were taxed by the toll on the {rname}?"],
            qb=["What levy did boatmen on the {rname} have to pay, and for how long was it collected?"],
            desc=["had a toll at {btown} on barges carrying {tollgood}"]),
    ], [
        "[Prehistoric tools and canoes|Bronze swords and pottery|Old coins and brooches] have been "
        "found in the river mud.",
        "Castles and toll stations were built at strategic points along its banks.",
        "The river was a vital route for trade long before roads were built.",
        "Medieval chroniclers describe its floods and frozen winters.",
        "Many battles were fought for control of its crossings.",
        "Monasteries on its banks [drained the marshes|built the first mills|kept ferries running] in "
        "the Middle Ages.",
    ]),
    Aspect("Ecology", [
        Fact("fish", g_fish, [
            "The river supports {nfish} species of fish, including {fish1} and {fish2}.",
            "Some {nfish} fish species live in its waters, among them {fish1} and {fish2}.",
            "Its waters hold {nfish} kinds of fish; {fish1} and {fish2} are the most prized by anglers."],
            qa=["How many fish species live in the {rname}?", "Which fish are found in the {rname}?"],
            qb=["What kinds of fish can anglers catch in the {rname}?"],
            desc=["is home to {fish1} and {fish2}"]),
        Fact("reserve", g_reserve, [
            "The {reserve}, a wetland of {rarea} hectares on its lower course, was protected in {ryear} and "
            "shelters {bird}.",
            "Since {ryear} the {reserve} ({rarea} ha) has protected a stretch of wetland known for its "
            "{bird}.",
            "On the lower river lies the {reserve}, {rarea} hectares of wetland protected since {ryear}, "
            "where {bird} breed."],
            qa=["When was the {reserve} on the {rname} protected?",
                "Which birds live in the {reserve} on the {rname}?"],
            qb=["Which nature reserve lies along the {rname}, and what birds does it shelter?"],
            desc=["has a wetland reserve known for {bird}"]),
        Fact("pollution", g_pollution, [
            "In {polyear} a spill of {pol} from a {polsrc} killed fish along {polkm} km of the river.",
            "A leak of {pol} from a {polsrc} in {polyear} poisoned the river over a stretch of {polkm} "
            "kilometres.",
            "The worst pollution incident came in {polyear}, when {pol} escaped from a {polsrc} and fish "
            "died along {polkm} km."],
            qa=["What caused the pollution of the {rname} in {polyear}?",
                "How far did the {polyear} spill on the {rname} spread?"],
            qb=["What poisoned the {rname}, and how long a stretch was affected?"],
            desc=["was polluted by {pol} from a {polsrc}"]),
    ], [
        "[Otters|Kingfishers|Beavers] have returned to the river since water quality improved.",
        "[Willows and alders|Poplars and willows|Reeds and alders] line much of the bank.",
        "Water quality is monitored at several stations.",
        "Its floodplain forests are among the last of their kind in {country}.",
        "Anglers need a permit to fish most stretches.",
        "Old side channels have been reconnected to give fish places to spawn.",
    ]),
    Aspect("Navigation", [
        Fact("navigable", g_navigable, [
            "The {rname} is navigable for {nav} km, as far upstream as {navtown}.",
            "Barges can travel {nav} kilometres up the river, reaching {navtown}.",
            "Ships can sail up the river for {nav} km, to the town of {navtown}."],
            qa=["How far up the {rname} can boats navigate?",
                "Which is the highest town reached by ships on the {rname}?"],
            qb=["Up to which town can vessels travel on the {rname}?"],
            desc=["is navigable as far as {navtown}"]),
        Fact("canal", g_canal, [
            "Since {canyear} the {canal} Canal has linked it to the {river2}.",
            "The {canal} Canal, opened in {canyear}, connects the river with the {river2}.",
            "A canal named after {canal} joins it to the {river2}; it opened in {canyear}."],
            qa=["Which canal connects the {rname} to the {river2}?", "When did the {canal} Canal open?"],
            qb=["How is the {rname} joined to another waterway, and since when?"],
            desc=["was linked by canal to the {river2} in {canyear}"]),
        Fact("cargo", g_cargo, [
            "Barges carry mainly {cargo}, about {tons} million tonnes a year.",
            "Freight on the river, roughly {tons} million tonnes annually, consists mostly of {cargo}.",
            "Some {tons} million tonnes of goods, above all {cargo}, are shipped on it each year."],
            qa=["What cargo is shipped on the {rname}?",
                "How many tonnes of goods are carried on the {rname} each year?"],
            qb=["What do barges on the {rname} mostly transport?"],
            desc=["carries mostly {cargo} on its barges"]),
    ], [
        "Locks and weirs regulate the depth of the channel.",
        "Pleasure boats and river cruises have become popular in summer.",
        "Several river ports handle bulk cargo.",
        "Shipping declined after the railway was built along the valley.",
        "The channel is dredged regularly to keep it open.",
        "Towpaths once used by horses now serve walkers and cyclists.",
    ]),
])


def make_mountain(r, names, world):
    name = world["mountain_subjects"].pop(0)
    country = r.choice(sorted(COUNTRIES))
    adj, capital, regions = COUNTRIES[country]
    v = dict(mname=name, country=country, adj=adj, capital=capital, region=r.choice(regions),
             range=r.choice(RANGES), vtown=names.town(), climber1=names.person(), climber2=names.person())
    return Subject("mountain", name, "mountain", v, refs=["the mountain", "the peak", "it", name])


def g_elev(r, s):
    return dict(melev=num(r.randrange(1400, 4600, 1)), prom=num(r.randrange(300, 2400, 10)))


def g_rank(r, s):
    return dict(rank=ORDINAL[r.randint(2, 8)])


def g_rock(r, s):
    rock, period = r.choice(ROCKS)
    return dict(rock=rock, period=period)


def g_glacier(r, s):
    return dict(glacier=r.choice(TOWN_A) + "kar", retreat=num(r.randrange(200, 1900, 10)),
                gyear=r.choice([1850, 1880, 1900, 1920]))


def g_cave(r, s):
    return dict(cave=r.choice(TOWN_A) + r.choice(["hole", " Grotto", "loch"]), cyear=r.randint(1820, 1975),
                clen=r.randint(2, 38))


def g_ascent(r, s):
    year = r.randint(1790, 1925)
    return dict(ayear=year, adec=dec(year), c1=s.v["climber1"], c2=s.v["climber2"], route=r.choice(ROUTES))


def g_hut(r, s):
    return dict(hut=r.choice(SUR_A) + r.choice(SUR_B), hyear=r.randint(1870, 1960),
                helev=num(r.randrange(1200, 3300, 10)),
                beds=r.randint(12, 110))


def g_accident(r, s):
    return dict(xyear=r.randint(1890, 2010), xdead=small(r.randint(3, 12)), xroute=r.choice(ROUTES))


def g_treeline(r, s):
    return dict(tl=num(r.randrange(1200, 2200, 50)), plants=r.choice(TREES))


def g_fauna(r, s):
    return dict(animal=r.choice(ANIMALS_MTN), anum=num(r.randrange(80, 3000, 10)))


def g_park(r, s):
    return dict(park=r.choice(TOWN_A) + r.choice(["moor", "wald", "fell", "dale"]),
                pyear=r.randint(1924, 2008))


def g_legend(r, s):
    return dict(legend=r.choice(LEGENDS).format(**s.v))


def g_chapel(r, s):
    return dict(saint=r.choice(SAINTS), celev=num(r.randrange(800, 2600, 10)), cmonth=r.choice(MONTHS))


MOUNTAIN = Kind("mountain", 14, make_mountain, [
    Aspect(None, [
        Fact("elev", g_elev, [
            "{S} is a mountain in {range} of {country}, rising to {melev} metres.",
            "{S}, {melev} m high, is one of the summits of {range} in {country}.",
            "With a height of {melev} metres, {S} dominates the {adj} part of {range}."],
            qa=["How high is {S}?", "In which range is {S}?"],
            qb=["What is the height of the summit of {S} above the sea?"]),
        Fact("rank", g_rank, [
            "It is the {rank} highest peak of {range}, with a topographic prominence of {prom} metres.",
            "{S} ranks as the {rank} highest summit of {range} and has a prominence of {prom} m.",
            "Among the summits of {range} it ranks {rank} in height, with a prominence of {prom} metres."],
            qa=["How does {S} rank among the peaks of {range}?", "What is the prominence of {S}?"],
            qb=["Is {S} the tallest summit of its range, and if not, where does it come in the list?"],
            desc=["is the {rank} highest peak of {range}"]),
        Fact("mname_meaning", g_etym, [
            "The name is thought to come from {lang} expression meaning {meaning}.",
            "In {lang} dialect the name means {meaning}.",
            "Its name, according to local scholars, derives from {lang} phrase for {meaning}."],
            qa=["What does the name {N} mean?"],
            qb=["What is the literal sense of the mountain's name, {N}?"],
            desc=["has a name meaning {meaning}"]),
    ], [
        "On clear days the summit can be seen from far across {region}.",
        "The mountain is a popular destination for hikers in summer and ski tourers in winter.",
        "Its silhouette appears on [postcards|old banknotes|the emblem of the regional tourist office].",
        "Several villages lie at the foot of the mountain.",
        "Snow usually covers the upper slopes from [October to May|November to April|late autumn until "
        "early summer].",
        "Clouds often hide the summit [in the afternoon|for days on end|in spring].",
    ]),
    Aspect("Geology", [
        Fact("rock", g_rock, [
            "The mountain consists largely of {rock} formed in the {period} period.",
            "Geologically, {S} is built of {rock} dating from the {period}.",
            "Its bulk is {rock} laid down or formed during the {period}."],
            qa=["What rock is {S} made of?", "From which geological period does the rock of {S} date?"],
            qb=["What is the geological make-up of {S}, and how old is it?"],
            desc=["is built of {rock} from the {period}"]),
        Fact("glacier", g_glacier, [
            "On its northern flank lies the {glacier} Glacier, which has retreated {retreat} metres since "
            "{gyear}.",
            "The {glacier} Glacier on the north side has shrunk back by {retreat} m since measurements "
            "began in {gyear}.",
            "Since {gyear} the {glacier} Glacier, on the northern slope, has lost {retreat} metres of "
            "length."],
            qa=["How far has the {glacier} Glacier on {S} retreated?", "Where is the {glacier} Glacier?"],
            qb=["How much has the ice on the northern side of {S} shrunk?"],
            desc=["bears the {glacier} Glacier on its northern flank"]),
        Fact("cave", g_cave, [
            "The {cave} caves, discovered in {cyear}, extend for {clen} km beneath the mountain.",
            "Beneath its southern slope runs the {cave} cave system, {clen} kilometres long, found in "
            "{cyear}.",
            "Cavers discovered the {cave} caves in {cyear}; {clen} km of passages have been mapped."],
            qa=["When were the {cave} caves in {S} discovered?", "How long are the {cave} caves under {S}?"],
            qb=["What lies hidden inside {S}, and when was it found?"],
            desc=["has the {cave} caves beneath it"]),
    ], [
        "Folding and uplift over millions of years produced its steep faces.",
        "Ice ages carved the [cirques and U-shaped valleys|deep hollows and ridges|lakes and moraines] "
        "around it.",
        "Frost shattering feeds the large scree slopes below its cliffs.",
        "[Fossils|Fossil shells|Ammonites] are found in the lower strata.",
        "Rockfalls are frequent after heavy rain.",
        "Geologists have studied its rocks since the [nineteenth century|early days of the School of "
        "Mines].",
    ]),
    Aspect("Climbing history", [
        Fact("ascent", g_ascent, [
            "{S} was first climbed in {ayear} by {c1} and {c2}, by way of the {route}.",
            "The first ascent was made in {ayear} by {c1} and {c2}, who followed the {route}.",
            "{c1} and {c2} reached the summit first, in {ayear}, via the {route}."],
            qa=["Who first climbed {S}?", "When was the first ascent of {S}?"],
            qb=["Which mountaineers were the first to stand on top of {S}, and by which route?"],
            desc=["was first climbed in the {adec} by {c1}", "was first climbed by {c2} and a companion"]),
        Fact("hut", g_hut, [
            "The {hut} Hut, built in {hyear} at {helev} metres, can sleep {beds} climbers.",
            "Climbers can stay at the {hut} Hut ({helev} m), which opened in {hyear} and has {beds} beds.",
            "At {helev} m stands the {hut} Hut, erected in {hyear}, with room for {beds} people."],
            qa=["How many climbers can the {hut} Hut on {S} sleep?", "When was the {hut} Hut on {S} built?"],
            qb=["Where can mountaineers spend the night on {S}, and how many beds are there?"],
            desc=["has a hut at {helev} metres"]),
        Fact("accident", g_accident, [
            "In {xyear} {xdead} climbers died in an avalanche on the {xroute}.",
            "The worst accident came in {xyear}, when an avalanche on the {xroute} killed {xdead} climbers.",
            "An avalanche swept the {xroute} in {xyear}, and {xdead} mountaineers lost their lives."],
            qa=["What happened on {S} in {xyear}?", "How many climbers died in the avalanche on {S}?"],
            qb=["What tragedy occurred on {S}, and how many lives were lost?"],
            desc=["saw {xdead} climbers killed by an avalanche in {xyear}"]),
    ], [
        "Today [several|half a dozen|a number of] routes of varying difficulty lead to the summit.",
        "Guides from the valley villages have led clients up the mountain for generations.",
        "Sudden changes of weather make the mountain more dangerous than its height suggests.",
        "A summit register records the names of those who reach the top.",
        "Early attempts failed on the [icy upper slopes|loose rock of the summit ridge|steep final "
        "snowfield].",
    ]),
    Aspect("Ecology", [
        Fact("treeline", g_treeline, [
            "The tree line lies at about {tl} metres; above it grow {plants}.",
            "Forest gives way at some {tl} m to open slopes of {plants}.",
            "Above the tree line, at roughly {tl} metres, the vegetation is dominated by {plants}."],
            qa=["At what altitude is the tree line on {S}?", "What grows above the tree line on {S}?"],
            qb=["Up to which height do forests reach on {S}, and what vegetation replaces them?"]),
        Fact("fauna", g_fauna, [
            "The slopes shelter a population of {animal}, estimated at {anum} animals.",
            "About {anum} {animal} live on the mountain.",
            "The mountain is home to {animal}, whose numbers are estimated at {anum}."],
            qa=["Which animals live on the slopes of {S}?", "How many {animal} live on {S}?"],
            qb=["What wildlife can be seen on {S}, and in what numbers?"],
            desc=["shelters a population of {animal}"]),
        Fact("park", g_park, [
            "Since {pyear} the mountain has been part of the {park} National Park.",
            "{S} lies within the {park} National Park, established in {pyear}.",
            "The {park} National Park, created in {pyear}, includes the whole massif."],
            qa=["Which national park includes {S}?", "Since when has {S} been part of a national park?"],
            qb=["Since when has {S} been protected, and by which park?"],
            desc=["has been part of the {park} National Park since {pyear}"]),
    ], [
        "Alpine meadows bloom in [July and August|early summer].",
        "Hunting is restricted on the upper slopes.",
        "Rangers count the wildlife every autumn.",
        "Rare plants survive in the cracks of the cliffs.",
        "Visitors are asked to keep to the marked paths.",
    ]),
    Aspect("Culture", [
        Fact("legend", g_legend, [
            "Local legend holds that {legend}.",
            "According to a popular tale, {legend}.",
            "Villagers in the valley still tell that {legend}."],
            qa=["What legend is told about {S}?"],
            qb=["What story do local people tell about {S}?"],
            desc=["is the subject of a legend that {legend}"]),
        Fact("chapel", g_chapel, [
            "A chapel dedicated to {saint} stands at {celev} m and is the goal of a pilgrimage every "
            "{cmonth}.",
            "Each {cmonth} pilgrims climb to the chapel of {saint}, which stands {celev} metres up the "
            "slope.",
            "The pilgrimage chapel of {saint}, at {celev} metres, draws hundreds of pilgrims every "
            "{cmonth}."],
            qa=["When is the pilgrimage to the chapel on {S}?",
                "To which saint is the chapel on {S} dedicated?"],
            qb=["Which saint is honoured on the slopes of {S}, and when do pilgrims go there?"],
            desc=["has a chapel of {saint} visited by pilgrims each {cmonth}"]),
        Fact("race", lambda r, s: dict(race=r.choice(TOWN_A) + r.choice([" Downhill", " Cup", " Marathon",
            " Trophy"]),
                                       skiyear=r.randint(1905, 1975), skimonth=r.choice(["January",
                                           "February", "March"]),
                                       skikm=r.randint(3, 42)), [
            "Since {skiyear} the {race}, a ski race over {skikm} km, has been held on its slopes every "
            "{skimonth}.",
            "Every {skimonth} skiers compete in the {race}, a {skikm}-kilometre race first run in {skiyear}.",
            "The {race} ski race, founded in {skiyear}, follows a {skikm} km course down the mountain each "
            "{skimonth}."],
            qa=["Since when has the {race} been held on {S}?",
                "How long is the course of the {race} on {S}?"],
            qb=["Which ski competition takes place on {S}, and in which month?"],
            desc=["hosts the {race} ski race every {skimonth}"]),
    ], [
        "Painters and poets of {country} have often taken the mountain as a subject.",
        "The mountain features in songs sung at village festivals.",
        "A museum in {vtown} tells the story of the mountain and its guides.",
        "Its name is given to a brand of [local cheese|mineral water|schnapps].",
        "Many families in the valley have climbed it for generations.",
    ]),
])


# --- people: scientists, artists, explorers -------------------------------------------------------

SCIENCE = {
    "chemist": ("chemistry", ["why certain salts glow green when heated",
                              "the slow corrosion of bronze in sea air",
                              "how dyes bind to wool fibres"]),
    "astronomer": ("astronomy", ["the periodic dimming of double stars",
                                 "the origin of the autumn meteor showers",
                                 "the slight wobble of the Moon's orbit"]),
    "botanist": ("botany", ["how the seeds of alpine plants survive freezing",
                            "why some flowers close before rain",
                            "the spread of blight in potato fields"]),
    "geologist": ("geology", ["the folding of limestone beds under pressure", "the formation of salt domes",
                              "the age of river terraces"]),
    "physician": ("medicine", ["the spread of marsh fever by standing water",
                               "the link between lead pipes and childhood illness",
                               "the healing of broken bones"]),
    "mathematician": ("mathematics", ["the distribution of prime numbers in long sequences",
                                      "the stability of floating bodies",
                                      "the shortest paths across curved surfaces"]),
    "physicist": ("physics", ["the bending of light in warm air", "the cooling of metals in a vacuum",
                              "the vibration of stretched strings"]),
    "zoologist": ("zoology", ["the seasonal change of colour in hares", "the homing ability of pigeons",
                              "how eels breathe out of water"]),
    "meteorologist": ("meteorology", ["the formation of valley fogs", "the daily rhythm of mountain winds",
                                      "the tracks of autumn storms"]),
}
LAWS = ["law", "effect", "principle", "rule", "cycle", "method"]
INSTRUMENTS = [("a recording thermometer", "temperature"), ("a portable spectroscope",
                                                            "the colours of flames"),
               ("a tide gauge", "the height of the sea"), ("a seismograph", "earth tremors"),
               ("a hair hygrometer", "the humidity of the air"), ("a sun dial of great precision",
                                                                  "local time"),
               ("a pendulum apparatus", "the force of gravity"), ("a rain gauge with a clockwork drum",
                                                                  "rainfall"),
               ("a galvanometer", "weak electric currents"), ("a pressure balance", "the weight of gases")]
UNIVERSITIES = ["the University of Velgrave", "the University of Tessenburg", "the Royal Academy of Oskara",
                "the Polytechnic of Lindmoor", "Saint Aubery's College in Port Aubery",
                "the University of Caddon",
                "the Lussenian Institute of Sciences", "the University of Meriel",
                "the School of Mines in Halden"]
ART_SCHOOLS = ["the Academy of Fine Arts in Tessenburg", "the Conservatory of Velgrave",
               "the Royal Drawing School in Oskara",
               "the Meriel School of Design", "the Caddon Academy of Music", "the Lindmoor Academy of Arts"]
NAVAL = ["the Naval School of Port Aubery", "the Maritime Academy of Caddon",
         "the Royal Navigation School in Velgrave",
         "the Pilots' College of Halden"]
JOBS = ["schoolmaster", "blacksmith", "pastor", "apothecary", "ship's carpenter", "merchant", "miller",
        "bookbinder",
        "customs officer", "watchmaker", "tanner", "innkeeper", "surveyor", "organist", "lawyer", "baker"]
MJOBS = ["seamstress", "midwife", "teacher", "singer", "lacemaker", "shopkeeper", "farmer's daughter",
         "governess"]
CHILDHOOD = ["survived a fever that left {him} deaf in one ear",
             "spent several years with an uncle in {capital}",
             "built a working model of a windmill", "was taught to draw by a travelling monk",
             "ran away to sea for a summer", "lost {his} father in a mining accident",
             "collected fossils in the quarries near {his} home", "sang in the cathedral choir"]
MEDALS = ["the Gold Medal of the Royal Society of {country}", "the Order of the Silver Heron",
          "the Aubery Prize",
          "the Grand Cross of Merit", "the Tessenburg Medal", "the Star of {country}", "the Meriel Laurel"]
MEMORIALS = ["a street in {capital}", "a research ship", "a crater on the Moon",
             "a secondary school in {bplace}",
             "a lecture hall at {school}", "a species of moss", "a mountain hut", "a square in {bplace}",
             "a ferry boat", "a railway locomotive"]
HOBBIES = ["played the cello in an amateur orchestra", "collected beetles", "was a strong chess player",
           "kept bees", "climbed mountains", "bred carrier pigeons",
           "wrote detective stories under a pen name",
           "restored old clocks", "grew rare tulips", "carved wooden birds"]
HOUSE_USES = ["a small museum", "a music school", "a guest house", "the offices of a local newspaper",
              "a public library"]
ACADEMIES = {
    "scientist": ["the Royal Academy of {country}", "the {adj} Society of Sciences",
                  "the Learned Society of {capital}"],
    "artist": ["the Academy of Letters and Arts", "the Royal Academy of {country}",
               "the Academy of Fine Arts of {capital}"],
    "explorer": ["the Royal Geographical Society of {country}", "the Royal Academy of {country}",
                 "the Learned Society of {capital}"],
}
EPITHETS = {
    "scientist": ["the father of {field}", "the lamp of {capital}", "the quiet genius of {bplace}",
                  "the {adj} Galileo", "the doctor of the poor", "the measurer of storms",
                  "the patient observer"],
    "artist": ["the painter of silence", "the poet of the fens", "the voice of {region}",
               "the master of {bplace}",
               "the {adj} Orpheus", "the stonecutter's son", "the last romantic"],
    "explorer": ["the Ice Captain", "the Lion of the North", "the cartographer of the fog",
                 "the {adj} Odysseus",
                 "the Wanderer", "the lucky captain", "the frost walker"],
}
ART = {
    "painter": ("paintings", "exhibition", [
        "The Salt Gatherers", "Evening on the Quay", "The Drowned Orchard", "Portrait of a Ferryman",
                                            "The Weavers' Strike",
        "Herons at Dusk", "The Blind Fiddler", "Harvest under Storm Clouds", "The Lamplighter's Daughter",
                                            "Snow on the Weigh House"],
        ["an oil painting now in the National Gallery in {capital}",
         "a large canvas kept in the town museum of {bplace}",
         "a painting owned by the royal collection", "a work held in the Museum of Art in {city}"],
        ["a muted palette of ochres and greys", "sharp contrasts of light and shadow",
         "loose, rapid brushwork",
         "meticulous detail of everyday objects", "bright, unmixed colours", "wide, empty skies"]),
    "composer": ("compositions", "concert", [
        "the Fen Symphony", "Requiem for the Drowned", "the opera The Lantern Bearer",
                                             "the Harrow Coast Suite",
        "the Heron Quartet", "the oratorio The Great Flood", "the Mass of Saint Verena",
                                             "Songs of the River Pilots",
        "the Winter Serenade", "the opera The Salt Queen"],
        ["a work first performed in {city}", "a piece premiered at the Court Theatre of {capital}",
         "a score now kept in the State Library of {capital}",
         "a work written for the cathedral choir of {city}"],
        ["long, slowly unfolding melodies", "folk tunes from {region}",
         "unusual combinations of wind instruments",
         "sudden shifts between loud and soft passages", "dense choral writing",
         "dance rhythms of village festivals"]),
    "sculptor": ("sculptures", "exhibition", [
        "The Ferryman", "The Weeping Mother", "Monument to the Salt Carriers", "The Sleeping Giant",
        "Fountain of the Three Rivers", "The Archer", "Girl with a Heron", "The Miners' Memorial",
                                              "The Drowned Sailor",
        "The Shepherd and the Storm"],
        ["a bronze figure standing in the main square of {bplace}",
         "a marble group in the Museum of Art in {city}",
         "a granite statue in the park of {capital}", "a bronze cast placed at the harbour of {city}"],
        ["rough, unpolished surfaces", "elongated, fragile figures", "a preference for local stone",
         "dramatic movement frozen in bronze", "a small, intimate scale", "heavy, block-like forms"]),
    "poet": ("poems", "reading", [
        "Lanterns in Winter", "The Salt Road", "Songs from the Fen", "Elegies for a Drowned Town",
                                  "The Ferryman's Book",
        "Ashes and Orchards", "Letters to the North Wind", "The Heron's Calendar", "Bread and Thunder",
                                  "The Glass Harvest"],
        ["a collection of sixty poems published in {city}", "a long poem in twelve cantos",
         "a cycle of sonnets printed in {capital}", "a book of ballads set on the coast"],
        ["plain words and short lines", "long rhyming stanzas", "images drawn from the sea and rivers",
         "the speech of farmers and fishermen", "bitter irony", "unrhymed lines of great length"]),
    "architect": ("buildings", "public competition", [
        "the Central Station of {capital}", "the Opera House of {city}", "the Exchange Building in {city}",
        "the Royal Library of {capital}", "the Palace of Justice in {city}",
                                                      "the Botanical Glasshouse of {capital}",
        "the Church of the Ascension in {city}", "the Harbour Customs House of {city}",
                                                      "the Town Hall of {bplace}",
        "the University Library of {city}"],
        ["a building with a tower of {n} metres", "a structure of brick and iron",
         "a building faced with pale stone",
         "a hall roofed with iron and glass"],
        ["severe brick facades", "slender iron columns and glass roofs", "ornament inspired by plants",
         "massive rough stone", "strict symmetry and classical columns", "steep roofs and gables"]),
}
HABITS = ["worked only in the early morning", "destroyed much of {his} early work",
          "refused to sign {his} works",
          "kept detailed notebooks on every piece", "worked in a converted boathouse",
          "never employed assistants",
          "worked at night by candlelight", "walked for hours before starting work"]
PATRONS = ["Count Evrard of Lys", "the banker Ottokar Vesz", "Duchess Adelheid",
           "the shipowner Lambert Crane",
           "the salt merchant Jonas Ebbe", "Queen Ysolde", "the brewer Hanno Rask", "the widow Maud Ferrant"]
SHIPS = ["Heron", "Northern Star", "Saint Hild", "Resolute Grace", "Grey Petrel", "Lantern",
         "Albatross of Caddon",
         "Queen Mathilde", "Fortitude", "Vigilant", "Silver Fern", "Tern"]
SPONSORS = ["the Royal Geographical Society of {country}", "the merchant house of Lambert Crane",
            "King Osmund III",
            "the Tessenburg Trading Company", "a public subscription in {capital}",
            "the Admiralty of {country}"]
DISCOVERIES = ["the Sennet Falls", "Cape Morrow", "the Ossian Archipelago", "the Lake of Reeds",
               "the Grey Fjord",
               "Mount Teodor", "the Whale Strait", "the Isle of Bells", "the Copper River", "the Frozen Gate",
               "Halloran Bay", "the Emerald Lagoon"]
NAMESAKES = ["{his} mother", "the ship's doctor", "{his} sponsor", "the queen", "a drowned sailor",
             "{his} daughter",
             "{his} old teacher"]
ICE_PLACES = ["Kell Island", "the Bay of Mists", "Cape Sorrow", "the Narrows of Tarn", "Fox Inlet",
              "the Black Shoals"]


def make_person(kind, noun_pool):
    def make(r, names, world):
        gender = r.choice("mf")
        full = names.person(gender)
        first, last = full.split(" ")
        noun = r.choice(noun_pool)
        country = r.choice(sorted(COUNTRIES))
        adj, capital, regions = COUNTRIES[country]
        c2 = r.choice(sorted(set(COUNTRIES) - {country}))
        born = r.randint(1690, 1880) if kind != "explorer" else r.randint(1620, 1850)
        age = r.randint(52, 91)
        v = dict(age=age, dyear=born + age, first=first, last=last, country=country, adj=adj,
                 capital=capital, region=r.choice(regions),
                 c2=c2, a2=COUNTRIES[c2][0], byear=born, bplace=r.choice(world["towns"]),
                 city=r.choice([c for c in CAPITALS if c != capital]), rival=names.person(),
                 spouse=names.person("f" if gender == "m" else "m"), master=names.person(),
                 school={"scientist": r.choice(UNIVERSITIES), "artist": r.choice(ART_SCHOOLS),
                         "explorer": r.choice(NAVAL)}[kind])
        if kind == "scientist":
            v["fieldname"] = SCIENCE[noun][0]
        pron = "he" if gender == "m" else "she"
        return Subject(kind, full, noun, v, gender=gender, short=last,
                       refs=[pron, last, "the " + noun, pron, last])
    return make


def g_identity(r, s):
    return dict(field=s.v.get("fieldname", s.noun))


def g_epithet(r, s):
    return dict(epithet=r.choice(EPITHETS[s.kind]).format_map({**s.v, "field": s.v.get("fieldname", "")}))


def g_academy(r, s):
    return dict(academy=r.choice(ACADEMIES[s.kind]).format(**s.v), acyear=life(r, s, 32, 55))


def g_born(r, s):
    return dict(bdate=date(r, s.v["byear"]))


def g_parents(r, s):
    return dict(fjob=r.choice(JOBS), mjob=r.choice(MJOBS), sibs=small(r.randint(2, 9)))


def g_education(r, s):
    return dict(gyear=life(r, s, 19, 25), teacher=s.v["master"])


def g_childhood(r, s):
    return dict(childhood=r.choice(CHILDHOOD).format(**s.v, **pronouns(s)))


def life(r, s, lo, hi):
    """A year `lo`-`hi` years after the birth of `s`, before the death."""
    return min(s.v["byear"] + r.randint(lo, hi), s.v["dyear"] - 1)


def g_death(r, s):
    return dict(dplace=r.choice([s.v["capital"], s.v["city"], s.v["bplace"]]),
                dcause=r.choice(["pneumonia", "a heart attack", "a long illness", "a fall on an icy street",
                                 "typhoid",
                                 "a stroke"]))


def g_honour(r, s):
    return dict(medal=r.choice(MEDALS).format(**s.v), hyear=life(r, s, 38, 60))


def g_memorial(r, s):
    return dict(memorial=r.choice(MEMORIALS).format(**s.v))


def g_spouse(r, s):
    return dict(myear=life(r, s, 22, 36), sjob=r.choice(JOBS + MJOBS), kids=small(r.randint(2, 8)))


def g_hobby(r, s):
    return dict(hobby=r.choice(HOBBIES), house_use=r.choice(HOUSE_USES), street=r.choice(
        ["Lime Street", "the Quay", "Tanners' Lane", "Castle Hill", "Linden Avenue", "Bell Street"]))


def person_common(extra_lead, early_extra, later_fill):
    """Lead, early life, personal life and death aspects shared by the three kinds of people."""
    lead = Aspect(None, [
        Fact("identity", g_identity, [
            "{S} was a {adj} {noun}.",
            "{S} was a {noun} from {country}.",
            "{S} was one of the best-known {adj} {noun}s of {his} generation."]),
        Fact("epithet", g_epithet, [
            "Admirers called {him} {epithet}, a name that stuck for the rest of {his} life.",
            "{He} was known to {his} contemporaries as {epithet}.",
            "The press nicknamed {him} {epithet}."],
            qa=["What nickname was {S} known by?"],
            qb=["How did the people of {his} time refer to {S}?"],
            desc=["was nicknamed {epithet}"]),
        Fact("academy", g_academy, [
            "In {acyear} {S} was elected a member of {academy}.",
            "{He} became a member of {academy} in {acyear}.",
            "Election to {academy} followed in {acyear}."],
            qa=["When was {S} elected to {academy}?", "Which academy did {S} join?"],
            qb=["Which learned body admitted {S} as a member, and in what year?"],
            desc=["was elected to {academy} in {acyear}"]),
    ] + extra_lead, [
            "{His} work is still discussed by [historians and specialists|scholars in several countries].",
            "Many of {his} letters have been preserved.",
            "{He} wrote in {adj} and, later, in [several other languages|French and Latin].",
            "{His} reputation spread well beyond {country}.",
            "Biographies of {him} appeared [soon after|within a decade of] {his} death.",
            "Portraits show {him} as a [tall, stooping|short, energetic|serious, dark-haired|slight, "
            "nervous] figure.",
        ])
    early = Aspect("Early life", [
        Fact("born", g_born, [
            "{S} was born on {bdate} in {bplace}.",
            "Born in {bplace} on {bdate}, {S} grew up in modest circumstances.",
            "{S} came into the world on {bdate} at {bplace}."],
            qa=["When and where was {S} born?", "In which town was {S} born?"],
            qb=["What is the birthplace of {S}, and in which year did {he} come into the world?"],
            desc=["was born in {bplace} in {byear}", "was born in {bplace}"]),
        Fact("parents", g_parents, [
            "{His} father was a {fjob} and {his} mother a {mjob}; {he} was one of {sibs} children.",
            "The child of a {fjob} and a {mjob}, {he} grew up with {sibs} brothers and sisters.",
            "{He} was born into the family of a {fjob}; {his} mother worked as a {mjob}, and there were "
            "{sibs} children in all."],
            qa=["What did the father of {S} do for a living?",
                "How many children were in the family of {S}?"],
            qb=["What were the occupations of the parents of {S}?"],
            desc=["was the child of a {fjob}"]),
        Fact("education", g_education, [
            "{He} studied at {school}, where {his} teacher was {teacher}, and finished in {gyear}.",
            "After school {he} enrolled at {school}, completing {his} studies in {gyear} under {teacher}.",
            "{S} was trained at {school} by {teacher}, leaving in {gyear}."],
            qa=["Where did {S} study?", "Who taught {S} at {school}?"],
            qb=["Which institution educated {S}, and who was {his} teacher there?"],
            desc=["studied at {school} under {teacher}", "was taught by {teacher}"]),
        Fact("childhood", g_childhood, [
            "As a child {he} {childhood}.",
            "In {his} childhood {he} {childhood}, an episode {he} often recalled.",
            "Biographers note that as a young child {he} {childhood}."],
            qa=["What happened to {S} as a child?"],
            qb=["Which episode of the early years of {S} did biographers record?"],
            desc=["as a child {childhood}"]),
    ] + early_extra, [
            "{His} family had little money, but valued learning.",
            "Teachers noticed {his} talent early.",
            "{He} spent long hours reading in the [parish library|attic of the family house|local reading "
            "room].",
            "The landscape of {region} left a lasting mark on {him}.",
            "{He} learned [Latin and French|Latin and Greek|French and German] as a child.",
        ])
    personal = Aspect("Personal life", [
        Fact("spouse", g_spouse, [
            "In {myear} {he} married {spouse}, a {sjob}, with whom {he} had {kids} children.",
            "{His} marriage to {spouse}, a {sjob}, in {myear} produced {kids} children.",
            "{He} married {spouse} in {myear}; {spouse} was a {sjob}, and the couple had {kids} children."],
            qa=["Whom did {S} marry?", "How many children did {S} have?"],
            qb=["Who was the spouse of {S}, and how large was their family?"],
            desc=["married {spouse} in {myear}"]),
        Fact("hobby", g_hobby, [
            "Outside work {S} {hobby}.",
            "In {his} spare time {he} {hobby}, a pastime friends often mentioned.",
            "Friends remembered that {he} {hobby} whenever {he} could."],
            qa=["What did {S} do in {his} spare time?"],
            qb=["What pastime did {S} enjoy away from {his} profession?"],
            desc=["{hobby} in {his} spare time"]),
        Fact("house", g_hobby, [
            "For many years {he} lived in a house on {street} that now serves as {house_use}.",
            "{His} home on {street} has been converted into {house_use}.",
            "The house on {street} where {he} lived is today {house_use}."],
            qa=["Where did {S} live, and what is the house used for now?"],
            qb=["What has become of the former home of {S}?"]),
    ], [
        "{He} was described as [shy in company but warm with friends|quick-tempered but "
        "generous|reserved and precise in all things].",
        "{He} kept a diary for most of {his} adult life.",
        "{His} letters reveal a dry sense of humour.",
        "{He} travelled widely, but always returned to {country}.",
        "Family life was sometimes strained by {his} long absences.",
    ])
    later = Aspect("Death and legacy", [
        Fact("death", g_death, [
            "{S} died in {dplace} in {dyear}, at the age of {age}, of {dcause}.",
            "{He} died of {dcause} in {dplace} in {dyear}, aged {age}.",
            "In {dyear} {he} died at {dplace}; the cause was {dcause}, and {he} was {age} years old."],
            qa=["When did {S} die?", "What did {S} die of?"],
            qb=["Where did {S} spend {his} final days, and how old was {he} at the end?"],
            desc=["died in {dplace} in {dyear}", "died of {dcause} in {dplace}"]),
        Fact("honour", g_honour, [
            "{He} received {medal} in {hyear}.",
            "In {hyear} {S} was awarded {medal}.",
            "Among {his} honours was {medal}, conferred in {hyear}."],
            qa=["Which honour did {S} receive in {hyear}?", "When was {S} awarded {medal}?"],
            qb=["What distinction was given to {S}, and in what year?"],
            desc=["received {medal} in {hyear}"]),
        Fact("memorial", g_memorial, [
            "Today {memorial} bears {his} name.",
            "{His} name lives on in {memorial}.",
            "Among the things named after {him} is {memorial}."],
            qa=["What is named after {S}?"],
            qb=["How is the memory of {S} kept alive today?"],
            desc=["has {memorial} named after {him}"]),
    ], later_fill)
    return lead, early, personal, later


def g_appointment(r, s):
    return dict(apyear=life(r, s, 27, 40), apuniv=r.choice([u for u in UNIVERSITIES if u != s.v["school"]]))


def g_instrument(r, s):
    instr, measure = r.choice(INSTRUMENTS)
    return dict(instr=instr, measure=measure, inyear=life(r, s, 26, 50))


def g_survey(r, s):
    return dict(svyear=life(r, s, 24, 45), svregion=r.choice(COUNTRIES[s.v["c2"]][2]),
                svmonths=r.randint(3, 26))


def g_discovery(r, s):
    return dict(law=s.v["last"] + " " + r.choice(LAWS), phen=world_pick(r, "phen", SCIENCE[s.noun][1]),
                dyr=life(r, s, 28, 45))


WORLD: dict[str, set] = {}  # items already given to a subject, by pool


def world_pick(r, key, pool):
    """Take an item of `pool` not yet used by another subject (falls back to any)."""
    used = WORLD.setdefault(key, set())
    free = [p for p in pool if p not in used] or pool
    item = r.choice(free)
    used.add(item)
    return item


BOOK_TOPICS = {"chemist": ["Salts", "Flames", "Dyes"], "astronomer": ["the Heavens", "Comets",
                                                                      "Double Stars"],
               "botanist": ["Seeds", "Alpine Plants", "Blights"], "geologist": ["Stones", "Strata", "Salt"],
               "physician": ["Fevers", "Bones", "Marsh Air"], "mathematician": ["Numbers", "Curves",
                   "Floating Bodies"],
               "physicist": ["Heat", "Light", "Sound"], "zoologist": ["Birds", "Small Mammals", "Eels"],
               "meteorologist": ["Storms", "Fogs", "Winds"]}


def g_book(r, s):
    title = r.choice(["On the Nature of ", "Observations on ", "A Treatise on ", "Researches into ",
                      "Elements of "]) + \
        r.choice(BOOK_TOPICS[s.noun])
    return dict(book=title, byr=life(r, s, 30, 50), editions=r.randint(2, 14))


def g_controversy(r, s):
    return dict(cuntil=life(r, s, 45, 60), ctopic=r.choice(["the priority of the discovery",
                                                            "the accuracy of {his} measurements",
                                                                         "the interpretation of {his} "
                                                                         "results"]).format(**pronouns(s)))


SCIENTIST_FILL = [
        "{His} students carried {his} methods to universities across {country}.",
        "Many of {his} instruments are preserved in the Museum of Science in {capital}.",
        "{His} collected papers fill [several|six|eleven] volumes.",
        "Historians of science continue to study {his} notebooks.",
        "{His} reputation declined for a time before being revived in the twentieth century.",
    ]


def scientist_kind():
    lead, early, personal, later = person_common([], [], SCIENTIST_FILL)
    career = Aspect("Career", [
        Fact("appointment", g_appointment, [
            "In {apyear} {S} was appointed professor of {field} at {apuniv}.",
            "{He} took up the chair of {field} at {apuniv} in {apyear}.",
            "{apuniv} made {him} professor of {field} in {apyear}."],
            qa=["When did {S} become professor of {field}?", "At which university was {S} professor?"],
            qb=["Which university gave {S} a chair, and in which year?"],
            desc=["became professor of {field} at {apuniv}"]),
        Fact("instrument", g_instrument, [
            "{He} designed {instr} to measure {measure}, first used in {inyear}.",
            "In {inyear} {S} built {instr}, an instrument for measuring {measure}.",
            "To measure {measure} more accurately, {he} constructed {instr} in {inyear}."],
            qa=["What instrument did {S} design?", "What did the instrument built by {S} measure?"],
            qb=["Which device did {S} construct, and what quantity did it record?"],
            desc=["designed {instr} to measure {measure}"]),
        Fact("survey", g_survey, [
            "In {svyear} {he} led a {svmonths}-month scientific survey of {svregion}.",
            "{S} headed an expedition to {svregion} in {svyear}, spending {svmonths} months in the field.",
            "A survey of {svregion} in {svyear}, which lasted {svmonths} months, was led by {S}."],
            qa=["Which survey did {S} lead in {svyear}?",
                "How long did the survey of {svregion} led by {S} last?"],
            qb=["Which region did {S} study in the field, and for how many months?"],
            desc=["led a survey of {svregion} in {svyear}"]),
    ], [
        "{He} was a demanding but generous teacher.",
        "{His} lectures drew large audiences.",
        "{He} corresponded with scientists across the continent.",
        "{He} served for a time as dean of the faculty.",
        "Laboratory space was scarce, and {he} often worked at home.",
    ])
    research = Aspect("Research", [
        Fact("discovery", g_discovery, [
            "{Sp} best-known achievement is the {law}, published in {dyr}, which explains {phen}.",
            "In {dyr} {he} formulated what is now called the {law}, an account of {phen}.",
            "The {law}, set out by {S} in {dyr}, describes {phen}."],
            qa=["What does the {law} explain?", "When did {S} publish the {law}?"],
            qb=["Which phenomenon did {S} account for in {his} most famous work?"],
            desc=["explained {phen}"]),
        Fact("book", g_book, [
            "{He} set out {his} findings in the book {book} ({byr}), which ran to {editions} editions.",
            "{His} major book, {book}, appeared in {byr} and went through {editions} editions.",
            "The treatise {book}, printed in {byr}, was reissued {editions} times."],
            qa=["What was the title of the main book of {S}?", "How many editions did {book} by {S} have?"],
            qb=["In which publication did {S} present {his} results, and how often was it reprinted?"],
            desc=["wrote the book {book}"]),
        Fact("controversy", g_controversy, [
            "{His} claims were disputed by {rival}, and a bitter quarrel over {ctopic} lasted until "
            "{cuntil}.",
            "A long controversy with {rival} about {ctopic} ended only in {cuntil}.",
            "{rival} attacked {his} work, and the two argued over {ctopic} until {cuntil}."],
            qa=["Who disputed the work of {S}?", "What was the controversy between {S} and {rival} about?"],
            qb=["With whom did {S} quarrel over {his} ideas, and what was the dispute?"],
            desc=["quarrelled with {rival}"]),
    ], [
        "The work rested on years of careful [measurement|observation|calculation].",
        "Not all of {his} colleagues accepted the results at first.",
        "Later researchers confirmed the main conclusions.",
        "{His} notebooks show many failed experiments.",
        "The findings were reported in the journals of several academies.",
    ])
    return Kind("scientist", 18, make_person("scientist", sorted(SCIENCE)),
                [lead, early, career, research, personal, later], person=True)


def g_apprentice(r, s):
    return dict(apage=r.randint(12, 17), apcity=s.v["city"])


def g_patron(r, s):
    return dict(moveyear=life(r, s, 20, 32), patron=r.choice(PATRONS))


def g_debut(r, s):
    return dict(show=ART[s.noun][1], debyear=life(r, s, 19, 30), venue=r.choice(["Guild Hall",
        "Court Theatre", "Salon of the Arts Society",
                                                                       "Town Museum", "Assembly Rooms",
                                                                           "Winter Garden"]))


def g_travel(r, s):
    return dict(tyear=life(r, s, 24, 40), tmonths=r.randint(4, 30))


def g_work(r, s):
    works, show, titles, descs, traits = ART[s.noun]
    return dict(work=world_pick(r, "title-" + s.noun, titles).format(**s.v), wyear=life(r, s, 28, 45),
                wdesc=r.choice(descs).format(n=r.randint(40, 95), **s.v))


def g_work2(r, s):
    works, show, titles, descs, traits = ART[s.noun]
    return dict(work2=world_pick(r, "title-" + s.noun, titles).format(**s.v), w2year=life(r, s, 30, 50),
                commissioner=r.choice(["the town council of " + s.v["bplace"], "the Guild of Merchants",
                                       "the cathedral chapter of " + s.v["city"],
                                       "the royal court", "a wealthy shipowner", "the university"]),
                fee=num(r.randrange(200, 5000, 50)))


def g_style(r, s):
    works, show, titles, descs, traits = ART[s.noun]
    return dict(trait=r.choice(traits).format(**s.v),
                influence=r.choice(["the old " + s.v["adj"] + " masters", "the folk art of " + s.v["region"],
                                    pronouns(s)["his"] + " travels in " + s.v["c2"],
                                    "the work of " + s.v["master"]]))


def g_lost(r, s):
    works, show, titles, descs, traits = ART[s.noun]
    return dict(lost=world_pick(r, "title-" + s.noun, titles).format(**s.v),
                lostyear=s.v["byear"] + r.randint(35, 140),
                losthow=r.choice(["a fire", "an earthquake", "wartime bombing"] if s.noun == "architect" else
                                 ["a fire", "a flood", "wartime bombing", "a shipwreck",
                                  "a burst water pipe"]))


THEMES = ["the harbour of {city}", "peasant life in {region}", "the changing seasons", "storms at sea",
          "old age and death",
          "children at play", "the mountains of {country}", "the history of {country}", "love and betrayal",
          "the working lives of miners"]


def g_habit(r, s):
    return dict(habit=r.choice(HABITS).format(**pronouns(s)))


def g_output(r, s):
    return dict(nworks=num(r.randrange(40, 1200, 5)), works_noun=ART[s.noun][0])


def artist_kind():
    out = Fact("output", g_output, [
        "{He} left some {nworks} {works_noun}.",
        "About {nworks} {works_noun} by {him} survive.",
        "{His} output amounts to roughly {nworks} {works_noun}."],
        qa=["How many {works_noun} did {S} leave?"],
        qb=["How large is the surviving body of work of {S}?"])
    lead, early, personal, later = person_common([out], [], [
            "{His} reputation has grown steadily since {his} death.",
            "[Exhibitions and festivals|Centenary celebrations] are devoted to {his} work.",
            "Critics remain divided about {his} late period.",
            "{His} influence can be traced in younger artists of {country}.",
            "Forgeries of {his} work began to appear soon after {his} death.",
        ])
    early.facts[2] = Fact("education", g_apprentice, [
        "At {apage} {he} was apprenticed to {master} in {apcity}.",
        "{He} left home at {apage} to train with {master} in {apcity}.",
        "When {he} was {apage}, {his} parents sent {him} to {apcity} to learn from {master}."],
        qa=["To whom was {S} apprenticed?", "At what age did {S} begin training with {master}?"],
        qb=["Who trained the young {S}, and in which city?"],
        desc=["trained under {master} in {apcity}"])
    career = Aspect("Career", [
        Fact("patron", g_patron, [
            "In {moveyear} {he} moved to {capital}, where {he} found a patron in {patron}.",
            "{S} settled in {capital} in {moveyear} and was supported there by {patron}.",
            "After moving to {capital} in {moveyear}, {he} won the support of {patron}."],
            qa=["Who was the patron of {S}?", "When did {S} move to {capital}?"],
            qb=["Who financially supported {S}, and from what year?"],
            desc=["was supported by {patron}"]),
        Fact("debut", g_debut, [
            "{His} first public {show} took place in {debyear} at the {venue}.",
            "The public first encountered {his} work in {debyear}, at a {show} in the {venue}.",
            "{S} made {his} debut in {debyear} with a {show} at the {venue}."],
            qa=["When did {S} make {his} debut?", "Where was the first {show} of {S} held?"],
            qb=["Where and when was the work of {S} first presented to the public?"],
            desc=["made {his} debut at the {venue} in {debyear}"]),
        Fact("travel", g_travel, [
            "A journey of {tmonths} months through {c2} in {tyear} changed {his} manner of working.",
            "In {tyear} {he} spent {tmonths} months travelling in {c2}.",
            "{He} travelled in {c2} for {tmonths} months in {tyear}, filling notebooks with sketches and "
            "ideas."],
            qa=["Where did {S} travel in {tyear}?", "How long did {S} spend in {c2}?"],
            qb=["Which foreign country did {S} tour, and for how long?"],
            desc=["spent {tmonths} months in {c2}"]),
    ], [
        "Success came [slowly|only after years of poverty].",
        "{He} took on pupils to earn a living.",
        "Critics were divided at first.",
        "{He} worked steadily despite poor health.",
        "Commissions increased after a favourable review in the [capital's press|leading art journal].",
    ])
    works = Aspect("Works", [
        Fact("work", g_work, [
            "{His} most celebrated work is {work} ({wyear}), {wdesc}.",
            "{work}, completed in {wyear}, is {wdesc} and remains {his} best-known piece.",
            "The work most associated with {S} is {work}, {wdesc}, dating from {wyear}."],
            qa=["What is the most famous work of {S}?", "When was {work} by {S} completed?"],
            qb=["Which creation of {S} is best known, and where can it be found?"],
            desc=["created {work}"]),
        Fact("work2", g_work2, [
            "{work2} was commissioned by {commissioner} in {w2year} for a fee of {fee} crowns.",
            "In {w2year} {commissioner} paid {fee} crowns for {work2}.",
            "{commissioner} ordered {work2} from {him} in {w2year}, paying {fee} crowns."],
            qa=["Who commissioned {work2} from {S}?", "How much was {S} paid for {work2}?"],
            qb=["Who ordered {work2} from {S}, and at what price?"],
            desc=["was paid {fee} crowns for {work2}"]),
        Fact("lost", g_lost, [
            "{lost}, one of {his} most ambitious works, was destroyed by {losthow} in {lostyear}.",
            "In {lostyear} {losthow} destroyed {lost}; only sketches and descriptions survive.",
            "Not everything survived: {lost} was lost to {losthow} in {lostyear}."],
            qa=["Which work by {S} was destroyed in {lostyear}?", "What happened to {lost} by {S}?"],
            qb=["Which creation of {S} no longer exists, and what became of it?"],
            desc=["lost {lost} to {losthow}"]),
    ], [
        "The piece caused a sensation when it was first [shown|presented].",
        "Several versions and studies survive.",
        "Critics praised its originality.",
        "Scholars still debate its meaning.",
        "It has been [copied|imitated|reproduced] many times.",
    ])
    style = Aspect("Style", [
        Fact("style", g_style, [
            "{His} style is marked by {trait} and shows the influence of {influence}.",
            "Critics note {trait} in {his} work, which owes much to {influence}.",
            "Influenced by {influence}, {he} developed a manner defined by {trait}."],
            qa=["What characterises the style of {S}?", "Who or what influenced {S}?"],
            qb=["How would one describe the manner in which {S} worked, and what shaped it?"],
            desc=["is known for {trait}"]),
        Fact("habit", g_habit, [
            "{He} famously {habit}.",
            "Friends observed that {he} {habit}.",
            "Unusually, {S} {habit}."],
            qa=["What unusual working habit did {S} have?"],
            qb=["What was peculiar about the way {S} went about {his} work?"],
            desc=["{habit}"]),
        Fact("theme", lambda r, s: dict(theme=r.choice(THEMES).format(**s.v)), [
            "{His} favourite subject was {theme}.",
            "Again and again {he} returned to {theme}.",
            "Much of {his} work is devoted to {theme}."],
            qa=["What was the favourite subject of {S}?"],
            qb=["Which theme did {S} come back to throughout {his} career?"],
            desc=["returned again and again to {theme}"]),
    ], [
        "{His} approach changed little over the years.",
        "Younger artists imitated {his} manner.",
        "{He} rarely explained {his} methods.",
        "{His} late work is freer and more personal.",
        "Technical studies have revealed much about {his} working methods.",
    ])
    return Kind("artist", 18, make_person("artist", sorted(ART)), [lead, early, career, works, style,
                                                                   personal, later],
                person=True)


def g_ship(r, s):
    year = life(r, s, 24, 35)
    return dict(eyear=year, ship=world_pick(r, "ship", SHIPS), crew=r.randint(18, 140),
                sponsor=r.choice(SPONSORS).format(**s.v),
                port=s.v["city"])


def g_discovered(r, s):
    return dict(feature=world_pick(r, "feature", DISCOVERIES),
                namesake=r.choice(NAMESAKES).format(**pronouns(s)),
                fyear=life(r, s, 25, 36))


def g_ice(r, s):
    return dict(wyear=life(r, s, 37, 45), iceplace=r.choice(ICE_PLACES), lost=r.randint(3, 29),
                icecause=r.choice(["scurvy", "cold", "hunger", "fever"]))


def g_charting(r, s):
    return dict(ckm=num(r.randrange(400, 6000, 10)), maps=r.randint(12, 140))


def g_journal(r, s):
    return dict(jtitle=r.choice(["Voyage to ", "Journal of a Passage to ", "Among the Ice of ",
                                 "Narrative of a Voyage to "]) +
                r.choice(["the Northern Seas", "the Pale Ocean", "the Frozen Gate", "the Western Isles",
                          "the Grey Fjord"]),
                jyear=life(r, s, 45, 50), jcopies=num(r.randrange(2000, 40000, 500)))


def explorer_kind():
    lead, early, personal, later = person_common([], [], [
            "{His} maps remained in use for decades.",
            "Several places on the map bear {his} name.",
            "{His} journals are kept in the national archive.",
            "Historians still argue about some of {his} claims.",
            "Schoolchildren in {country} learn about {his} voyages.",
        ])
    first = Aspect("First expedition", [
        Fact("ship", g_ship, [
            "In {eyear} {S} sailed from {port} aboard the {ship} with a crew of {crew}, sponsored by "
            "{sponsor}.",
            "Backed by {sponsor}, {he} left {port} in {eyear} in command of the {ship}, which carried "
            "{crew} men.",
            "The {ship}, with {crew} sailors on board, left {port} in {eyear} under {his} command; the "
            "voyage was paid for by {sponsor}."],
            qa=["Which ship did {S} command in {eyear}?", "Who sponsored the first expedition of {S}?"],
            qb=["Aboard which vessel did {S} set out, and who paid for the voyage?"],
            desc=["commanded the {ship}"]),
        Fact("discovered", g_discovered, [
            "In {fyear} {he} became the first outsider to reach {feature}, which {he} named after "
            "{namesake}.",
            "{S} reached {feature} in {fyear} and named it in honour of {namesake}.",
            "The expedition arrived at {feature} in {fyear}; {S} named the place after {namesake}."],
            qa=["Whom did {S} name {feature} after?", "When did {S} reach {feature}?"],
            qb=["Which place did {S} reach first, and whom did {he} honour in naming it?"],
            desc=["was the first to reach {feature}"]),
        Fact("specimens", lambda r, s: dict(nspec=num(r.randrange(120, 4800, 10)), specplace=r.choice(
                ["the natural history museum of " + s.v["capital"], "the university of " + s.v["city"],
                 "the royal botanic garden of " + s.v["capital"]])), [
            "{He} brought back {nspec} specimens of plants and animals, now kept in {specplace}.",
            "The voyage yielded {nspec} natural history specimens, which went to {specplace}.",
            "Some {nspec} specimens collected on the voyage are held by {specplace}."],
            qa=["How many specimens did {S} bring back?", "Where are the specimens collected by {S} kept?"],
            qb=["What scientific material did {S} return with, and where did it end up?"],
            desc=["brought back {nspec} specimens"]),
    ], [
        "[Storms and fog|Contrary winds|Pack ice and fog] slowed the voyage.",
        "The crew suffered from the cold and poor food.",
        "Careful notes on currents and winds were kept every day.",
        "Several of the crew had never sailed so far before.",
        "Supplies ran low on the return voyage.",
    ])
    second = Aspect("Later expeditions", [
        Fact("ice", g_ice, [
            "During the winter of {wyear} the expedition was trapped by ice at {iceplace}, and {lost} men "
            "died of {icecause}.",
            "Caught in the ice at {iceplace} in the winter of {wyear}, {he} lost {lost} men to {icecause}.",
            "At {iceplace} the ships were frozen in through the winter of {wyear}; {icecause} killed {lost} "
            "of the crew."],
            qa=["How many men did {S} lose in the winter of {wyear}?",
                "Where was the expedition of {S} trapped by ice?"],
            qb=["What disaster befell the expedition of {S} while it was stuck in the ice?"],
            desc=["lost {lost} men while trapped in the ice at {iceplace}"]),
        Fact("charting", g_charting, [
            "Over {his} career {he} charted {ckm} km of coastline and drew {maps} maps.",
            "{S} surveyed {ckm} kilometres of coast, producing {maps} charts.",
            "{His} survey work covered {ckm} km of shoreline and resulted in {maps} maps."],
            qa=["How much coastline did {S} chart?", "How many maps did {S} draw?"],
            qb=["How extensive was the mapping work of {S}?"],
            desc=["charted {ckm} km of coastline"]),
        Fact("journal", g_journal, [
            "{His} account, {jtitle}, published in {jyear}, sold {jcopies} copies.",
            "The book {jtitle} ({jyear}), {his} narrative of the voyages, sold {jcopies} copies.",
            "{S} described {his} travels in {jtitle}, which appeared in {jyear} and sold {jcopies} copies."],
            qa=["What was the title of the travel account of {S}?",
                "How many copies did {jtitle} by {S} sell?"],
            qb=["In which book did {S} tell the story of {his} voyages, and how well did it sell?"],
            desc=["wrote the travel account {jtitle}"]),
    ], [
        "The later voyages were longer and more dangerous.",
        "Funding became harder to find.",
        "Rival expeditions from {c2} competed for the same goals.",
        "[Native guides|Local hunters] helped the expedition find its way.",
        "{He} returned home exhausted but famous.",
    ])
    return Kind("explorer", 12, make_person("explorer", ["explorer", "navigator"]),
                [lead, early, first, second, personal, later], person=True)


# --- animals and plants ---------------------------------------------------------------------------

PLACE_ADJ = ["Vellan", "Korrin", "Ossery", "Tarrow", "Brannock", "Dunmoor", "Greyfell", "Whitecap", "Sable",
             "Marl",
             "Harrow", "Amber", "Lantern", "Reedwater", "Saltmarsh"]
ANIMAL_TYPES = {
    "warbler": ("bird", "plumage", "eggs", "Sylvella"), "bunting": ("bird", "plumage", "eggs", "Emberina"),
    "owl": ("bird", "plumage", "eggs", "Strigops"), "grouse": ("bird", "plumage", "eggs", "Tetraon"),
    "plover": ("bird", "plumage", "eggs", "Charadra"), "woodpecker": ("bird", "plumage", "eggs", "Picoides"),
    "vole": ("mammal", "fur", "young", "Microtella"), "shrew": ("mammal", "fur", "young", "Sorexa"),
    "marten": ("mammal", "fur", "young", "Martella"), "bat": ("mammal", "fur", "young", "Myotella"),
    "dormouse": ("mammal", "fur", "young", "Glirulus"), "salamander": ("amphibian", "skin", "eggs",
        "Salamandrina"),
    "tree frog": ("amphibian", "skin", "eggs", "Hylella"), "newt": ("amphibian", "skin", "eggs", "Tritura"),
    "lizard": ("reptile", "scales", "eggs", "Lacertula"), "char": ("fish", "scales", "eggs", "Salvela"),
    "loach": ("fish", "scales", "eggs", "Cobitella"), "beetle": ("insect", "wing cases", "eggs", "Carabella"),
    "moth": ("insect", "wings", "eggs", "Noctuella"), "dragonfly": ("insect", "wings", "eggs", "Aeshnella"),
}
MODIFIERS = ["marsh", "cave", "ridge", "heath", "pine", "reed", "silver-backed", "black-capped", "spotted",
             "golden",
             "dusky", "striped", "long-tailed", "lesser", "crested", "mountain", "bog", "river"]
COLOURS = ["olive-brown", "slate-grey", "rust-red", "sandy", "dark brown", "pale silver", "emerald green",
           "black and yellow",
           "mottled grey", "copper-coloured"]
MARKS = ["a white stripe above the eye", "a black mask across the face",
         "a row of pale spots along the flanks",
         "an orange throat patch", "a forked tail", "a pale ring around the eye", "bars of cream on the back",
         "a blue sheen on the head", "a yellow belly"]
HABITATS = ["reed beds along slow rivers", "old beech forests", "limestone scree slopes", "upland bogs",
            "coastal dunes",
            "cold mountain streams", "heath with scattered pines", "flooded meadows",
            "damp caves and mine shafts",
            "oak woods with dead timber"]
FOODS = ["insects and spiders", "grass seeds", "snails", "small fish", "beetle larvae", "berries and fruit",
         "aquatic insects", "earthworms", "nectar", "voles and mice", "mosses and lichens",
         "freshwater shrimps"]
WINTERS = {
    "bird": ["migrates to the river deltas of {c2}", "moves down to the valleys",
             "winters on the coast of {c2}",
             "gathers in large flocks on farmland", "flies south to the lagoons of {c2}"],
    "mammal": ["hibernates in caves and cellars", "moves down to the valleys",
               "sleeps in a nest under tree roots",
               "hibernates in hollow trees"],
    "amphibian": ["spends the winter buried in mud", "hibernates under stones and logs",
                  "retreats into deep crevices"],
    "reptile": ["hibernates under stones and logs", "retreats into deep crevices", "shelters in old burrows"],
    "fish": ["retreats to deep pools", "moves downstream to the lakes", "gathers in sheltered backwaters"],
    "insect": ["survives as a larva in the soil", "overwinters as a pupa under bark",
               "survives as eggs laid in the mud"],
}
SIZES = {"small": ((5, 20), (5, 120), (2, 6)), "medium": ((20, 75), (150, 3200), (5, 22)), "insect": ((2, 9),
    (1, 12), (1, 4))}
SMALL_ANIMALS = {"warbler", "bunting", "vole", "shrew", "bat", "dormouse", "tree frog", "newt", "lizard",
                 "loach", "plover"}
BEHAVIOURS = ["a rattling call heard at dusk", "building nests of moss and spider silk",
              "drumming on hollow trees",
              "gathering in large roosts in autumn", "storing food under stones",
              "courtship flights above the reeds",
              "a habit of basking on warm rocks", "a high whistling song at dawn"]
STATUSES = ["endangered", "vulnerable", "near threatened", "critically endangered", "of least concern"]
THREATS = ["the drainage of wetlands", "the logging of old forest", "pesticide use", "road traffic",
           "predation by feral cats", "a warming climate", "river pollution", "collection by dealers",
           "overgrazing",
           "the building of holiday homes"]
RESERVES = ["the {x} Nature Reserve", "a network of protected sites", "the {x} Biosphere Area",
            "a national breeding programme",
            "a ban on collecting", "the {x} Sanctuary"]
PLANT_TYPES = {
    "bellflower": ("plant", "Campanella"), "saxifrage": ("plant", "Saxifragella"), "orchid": ("plant",
        "Orchidella"),
    "gentian": ("plant", "Gentianella"), "rowan": ("tree", "Sorbella"), "birch": ("tree", "Betulella"),
    "heather": ("shrub", "Ericella"), "sedge": ("plant", "Carexa"), "lily": ("plant", "Liliella"),
    "willow": ("tree", "Salicella"), "thistle": ("plant", "Cirsiella"), "primrose": ("plant", "Primulella"),
    "juniper": ("shrub", "Juniperella"), "poppy": ("plant", "Papaverella"),
}
FLOWER_COL = ["deep blue", "pale violet", "white", "sulphur-yellow", "crimson", "pink", "orange", "greenish"]
LEAVES = ["narrow and leathery", "heart-shaped", "finely divided", "silver-haired", "glossy and toothed",
          "rounded and fleshy", "long and grass-like"]
FRUITS = {"tree": ["winged seeds", "small red berries", "hard brown nuts"],
          "shrub": ["black berries", "small red berries", "blue berries with a waxy bloom"],
          "plant": ["capsules full of dust-like seeds", "fluffy seed heads", "small red berries",
                    "pods that split when ripe"]}
PLANT_USES = ["dye wool yellow", "treat coughs", "flavour beer", "make rope", "tan leather",
              "keep moths out of linen",
              "heal wounds", "brew a bitter liqueur", "thatch roofs", "make baskets"]
PARTS = {"tree": ["bark", "leaves", "young shoots", "wood"], "shrub": ["bark", "berries", "young shoots",
    "root"],
         "plant": ["root", "leaves", "flowers", "seeds"]}
TOXINS = ["cattle", "horses", "sheep", "dogs", "goats"]
PRODUCTS = {"tree": ["timber", "bark", "resin"], "shrub": ["berries", "wood", "dried shoots"],
            "plant": ["dried flowers", "roots", "oil pressed from the seeds"], "fern": ["dried fronds",
                "roots"]}
CULTIVARS = ["Blue Lantern", "Snow Queen", "Evening Star", "Copper Bell", "Midsummer", "Lady Ysolde",
             "Harrow Gold",
             "Winter Pearl", "Velvet Night", "Little Heron"]
PLANT_MODS = ["alpine", "marsh", "dwarf", "scarlet", "mountain", "bog", "shore", "woolly", "nodding", "star",
              "creeping",
              "giant", "hoary", "golden"]
SOILS = ["acid peat", "chalk", "wet clay", "sand", "limestone rubble", "volcanic ash"]


def make_animal(r, names, world):
    base = r.choice(sorted(ANIMAL_TYPES))
    cls, coat, young, genus = ANIMAL_TYPES[base]
    name = names.take(lambda r: f"{r.choice(PLACE_ADJ)} {r.choice(MODIFIERS)} {base}")
    country = r.choice(sorted(COUNTRIES))
    adj, capital, regions = COUNTRIES[country]
    c2 = r.choice(sorted(set(COUNTRIES) - {country}))
    v = dict(cname=name, base=base, cls=cls, a_cls=("an " if cls[0] in "aeiou" else "a ") + cls, coat=coat,
             young=young, genus=genus, country=country, adj=adj,
             capital=capital, region=r.choice(regions), c2=c2, describer=names.person(),
             honoree=names.person())
    return Subject("animal", name, base, v, short="the " + name, first="the " + name, refs=["the " + base,
        "the species", "it", "the " + name])


def make_plant(r, names, world):
    base = r.choice(sorted(PLANT_TYPES))
    form, genus = PLANT_TYPES[base]
    name = names.take(lambda r: f"{r.choice(PLACE_ADJ)} {r.choice(PLANT_MODS)} {base}")
    country = r.choice(sorted(COUNTRIES))
    adj, capital, regions = COUNTRIES[country]
    c2 = r.choice(sorted(set(COUNTRIES) - {country}))
    v = dict(cname=name, base=base, form=form, genus=genus, country=country, adj=adj, capital=capital,
             region=r.choice(regions), c2=c2, describer=names.person(), honoree=names.person(),
             nursery=names.person(), town=r.choice(world["towns"]))
    noun = base if form == "plant" else form
    return Subject("plant", name, noun, v, short="the " + name, first="the " + name, refs=["the " + noun,
        "the species", "it", "the " + name])


def g_size(r, s):
    size = "insect" if s.v["cls"] == "insect" else "small" if s.v["base"] in SMALL_ANIMALS else "medium"
    (l1, l2), (w1, w2), (a1, a2) = SIZES[size]
    return dict(blen=r.randint(l1, l2), bwt=num(r.randint(w1, w2)), life=r.randint(a1, a2))


def g_look(r, s):
    return dict(colour=r.choice(COLOURS), mark=r.choice(MARKS))


def g_range(r, s):
    return dict(range_region=s.v["region"], range_km=num(r.randrange(300, 26000, 50)))


def g_habitat(r, s):
    lo = r.randrange(0, 1400, 50)
    return dict(habitat=r.choice(HABITATS), e1=num(lo), e2=num(lo + r.randrange(300, 1400, 50)))


def g_winter(r, s):
    return dict(winter=r.choice(WINTERS[s.v["cls"]]).format(**s.v))


def g_diet(r, s):
    return dict(food=r.choice(FOODS), food2=r.choice(FOODS))


def g_breeding(r, s):
    brood = r.randint(2, 12) if s.v["young"] == "young" else r.randint(3, 60)
    return dict(bmonth=r.choice(MONTHS[2:8]), brood=brood)


def g_behaviour(r, s):
    return dict(behaviour=r.choice(BEHAVIOURS))


def g_status(r, s):
    return dict(status=r.choice(STATUSES), pop=num(r.randrange(150, 90000, 50)), census=r.randint(1995, 2022))


def g_threats(r, s):
    t1, t2 = r.sample(THREATS, 2)
    return dict(threat1=t1, threat2=t2)


def g_protect(r, s):
    return dict(protect=r.choice(RESERVES).format(x=r.choice(TOWN_A) + r.choice(["moor", "wood", "fen",
        "dale"])),
                pyear=r.randint(1958, 2016))


def g_described(r, s):
    sci = s.v["genus"] + " " + s.v["honoree"].split()[1].lower() + "i"
    return dict(sci=sci, dyear=r.randint(1760, 1930))


def g_relative(r, s):
    return dict(relative=r.choice(PLACE_ADJ) + " " + r.choice(MODIFIERS) + " " + s.v["base"],
                split=small(r.randint(2, 9)))


def g_subspecies(r, s):
    return dict(nsub=small(r.randint(2, 6)), island=r.choice(["Kell Island", "the Isle of Bells",
                                                              "the Tern Islands", "Fox Holm"]))


def g_plantsize(r, s):
    tall = s.v["form"] == "tree"
    return dict(height=r.randint(6, 32) if tall else r.randint(10, 150),
                hunit="metres" if tall else "centimetres",
                leaves=r.choice(LEAVES))


def g_flowers(r, s):
    return dict(fcol=r.choice(FLOWER_COL), fmonth=r.choice(MONTHS[2:10]))


def g_fruit(r, s):
    return dict(fruit=r.choice(FRUITS[s.v["form"]]), disperser=r.choice(["thrushes", "the wind", "ants",
        "water", "mice"]))


def g_altitude(r, s):
    low = r.randrange(0, 1600, 50)
    return dict(palt1=num(low), palt2=num(low + r.randrange(200, 1500, 50)))


def g_use(r, s):
    return dict(use=r.choice(PLANT_USES), part=r.choice(PARTS[s.v["form"]]))


def g_export(r, s):
    year = r.choice([1500, 1600, 1700, 1800]) + r.randint(0, 40)
    return dict(product=r.choice(PRODUCTS[s.v["form"]]), ecn=cent_n(year), etons=r.randint(20, 900))


def g_toxic(r, s):
    return dict(victim=r.choice(TOXINS), toxin=r.choice(["a bitter alkaloid", "oxalic acid", "a glycoside",
                                                         "a resinous poison"]))


def g_introduced(r, s):
    return dict(iyear=r.randint(1720, 1920))


def g_cultivar(r, s):
    return dict(ncv=r.randint(3, 60), cv=r.choice(CULTIVARS))


def g_hardy(r, s):
    return dict(frost=r.randint(5, 35))


TAXONOMY = lambda: Aspect("Taxonomy", [  # noqa: E731
    Fact("described", g_described, [
        "The species was described in {dyear} by {describer}, who named it {sci} in honour of {honoree}.",
        "{describer} gave it the scientific name {sci} in {dyear}, honouring {honoree}.",
        "Its formal description dates from {dyear}, when {describer} named it {sci} after {honoree}."],
        qa=["Who first described the {cname}?", "What is the scientific name of the {cname}?"],
        qb=["Which naturalist gave the {cname} its Latin name, and whom does the name honour?"],
        desc=["was named {sci} by {describer}", "was described in {dyear} by {describer}"]),
    Fact("relative", g_relative, [
        "Its closest relative is the {relative}, from which it separated about {split} million years ago.",
        "Genetic studies show that it is most closely related to the {relative}; the two lineages split "
        "some {split} million years ago.",
        "The {relative} is its nearest relative, the lines having diverged roughly {split} million years "
        "ago."],
        qa=["What is the closest relative of the {cname}?"],
        qb=["Which species is the {cname} most closely related to, and how long ago did they diverge?"],
        desc=["is most closely related to the {relative}"]),
    Fact("subspecies", g_subspecies, [
        "{nsub} subspecies are recognised, one of them confined to {island}.",
        "Taxonomists distinguish {nsub} subspecies, including a form found only on {island}.",
        "There are {nsub} recognised subspecies; the most distinctive lives on {island}."],
        qa=["How many subspecies of the {cname} are recognised?"],
        qb=["Into how many varieties is the {cname} divided, and where does the most distinctive one live?"],
        desc=["has a subspecies confined to {island}"]),
], [
    "Its classification has been revised several times.",
    "Specimens are kept in the natural history museum in {capital}.",
    "Older books list it under a different name.",
    "Its Latin name is often misspelled in older literature.",
    "Some authors have treated it as a variety of a more widespread species.",
])

CONSERVATION = lambda: Aspect("Conservation", [  # noqa: E731
    Fact("status", g_status, [
        "It is classified as {status}, with an estimated {pop} adults at the last count in {census}.",
        "The species is listed as {status}; a survey in {census} counted about {pop} mature individuals.",
        "With some {pop} adults counted in {census}, the species is considered {status}."],
        qa=["What is the conservation status of the {cname}?", "How many {cname}s were counted in {census}?"],
        qb=["How endangered is the {cname}, and how many are left?"],
        desc=["is listed as {status}"]),
    Fact("threats", g_threats, [
        "The main threats are {threat1} and {threat2}.",
        "Its numbers have fallen because of {threat1} and, to a lesser extent, {threat2}.",
        "Conservationists blame {threat1} and {threat2} for its decline."],
        qa=["What are the main threats to the {cname}?"],
        qb=["Why has the {cname} become rarer?"],
        desc=["is threatened above all by {threat1}"]),
    Fact("protect", g_protect, [
        "In {pyear} {protect} was set up to protect it.",
        "Since {pyear} it has been protected by {protect}.",
        "{protect}, established in {pyear}, is its main safeguard."],
        qa=["What was done in {pyear} to protect the {cname}?"],
        qb=["Which measure was taken to safeguard the {cname}, and when?"],
        desc=["has been protected by {protect} since {pyear}"]),
], [
    "Volunteers monitor the populations every year.",
    "Habitat restoration has helped locally.",
    "Public awareness campaigns have been run in schools.",
    "Numbers fluctuate from year to year.",
    "Its future depends on the protection of its habitat.",
])

ANIMAL = Kind("animal", 16, make_animal, [
    Aspect(None, [
        Fact("size", g_size, [
            "The {cname} is a small {cls} of {country}; adults measure about {blen} cm, weigh around {bwt} "
            "g and live for up to {life} years.",
            "{S} is {a_cls} that reaches a length of {blen} cm and a weight of about {bwt} g, and lives up "
            "to {life} years.",
            "An adult {cname} is roughly {blen} centimetres long and weighs some {bwt} grams; it can live "
            "for {life} years."],
            qa=["How big is the {cname}?", "How heavy is an adult {cname}?"],
            qb=["What are the typical length and weight of the {cname}?"]),
        Fact("look", g_look, [
            "Its {coat} is {colour}, with {mark}.",
            "The {coat} is {colour}, and the species is easily recognised by {mark}.",
            "It has {colour} {coat} and {mark}."],
            qa=["What colour is the {coat} of the {cname}?", "What does the {cname} look like?"],
            qb=["How can you recognise a {cname} in the field?"],
            desc=["has {colour} {coat} with {mark}"]),
        Fact("behaviour", g_behaviour, [
            "It is known for {behaviour}.",
            "Naturalists have long remarked on {behaviour} in this species.",
            "The most remarkable trait of the species is {behaviour}."],
            qa=["What is the {cname} known for?"],
            qb=["What distinctive behaviour does the {cname} show?"],
            desc=["is known for {behaviour}"]),
    ], [
        "It is rarely seen, and much of its life remains unknown.",
        "Local names for it vary from valley to valley.",
        "It belongs to a group of closely related species.",
        "Naturalists travel far to see it.",
        "It appears on a postage stamp issued in {country}.",
    ]),
    Aspect("Distribution and habitat", [
        Fact("range", g_range, [
            "The {cname} is found only in {range_region}, where its range covers about {range_km} square "
            "kilometres.",
            "Its entire range, some {range_km} km2, lies within {range_region}.",
            "The species is endemic to {range_region}, occupying an area of roughly {range_km} square "
            "kilometres."],
            qa=["Where is the {cname} found?", "How large is the range of the {cname}?"],
            qb=["In which part of the world does the {cname} occur, and over how much ground?"],
            desc=["is found only in {range_region}"]),
        Fact("habitat", g_habitat, [
            "It lives in {habitat} between {e1} and {e2} metres above sea level.",
            "The preferred habitat is {habitat}, at altitudes of {e1} to {e2} m.",
            "It favours {habitat}, from {e1} up to {e2} metres."],
            qa=["What habitat does the {cname} prefer?", "At what altitudes does the {cname} live?"],
            qb=["In what sort of surroundings does the {cname} live, and how high up?"],
            desc=["lives in {habitat}"]),
        Fact("winter", g_winter, [
            "In winter it {winter}.",
            "When the cold season comes, the species {winter}.",
            "During the winter months it {winter}."],
            qa=["What does the {cname} do in winter?"],
            qb=["How does the {cname} get through the cold season?"],
            desc=["{winter} in winter"]),
    ], [
        "It avoids areas disturbed by people.",
        "Populations are patchy and often isolated.",
        "It was once more widespread.",
        "Its range has shifted uphill in recent decades.",
        "It shares its habitat with several rare species.",
    ]),
    Aspect("Behaviour and ecology", [
        Fact("diet", g_diet, [
            "It feeds mainly on {food}, supplemented by {food2}.",
            "The diet consists largely of {food}; {food2} are eaten when available.",
            "Its food is chiefly {food}, with {food2} as a secondary source."],
            qa=["What does the {cname} eat?"],
            qb=["What is the main diet of the {cname}?"],
            desc=["feeds mainly on {food}"]),
        Fact("breeding", g_breeding, [
            "Breeding begins in {bmonth}, and a female produces about {brood} {young}.",
            "The breeding season starts in {bmonth}; each female has around {brood} {young}.",
            "Females produce some {brood} {young}, usually from {bmonth} onwards."],
            qa=["When does the {cname} breed?", "How many {young} does the {cname} produce?"],
            qb=["When does the {cname} reproduce, and how large is a typical brood?"],
            desc=["starts breeding in {bmonth}"]),
        Fact("territory", lambda r, s: dict(terr=r.randint(1, 90), predator=r.choice(
                [p for p in ["foxes", "owls", "martens", "herons", "pike", "snakes", "sparrowhawks",
                             "weasels"]
                 if s.v["base"] not in p])), [
            "A pair defends a territory of about {terr} hectares; the chief predators are {predator}.",
            "Each territory covers roughly {terr} hectares, and {predator} are its main enemies.",
            "Territories average {terr} ha, and many young are taken by {predator}."],
            qa=["How large is the territory of the {cname}?", "What are the main predators of the {cname}?"],
            qb=["How much ground does a {cname} defend, and what hunts it?"],
            desc=["is hunted mainly by {predator}"]),
    ], [
        "It is active mainly [at dawn and dusk|at night|in the warmest hours of the day].",
        "Numbers vary with the weather of the previous winter.",
        "Young animals disperse in late summer.",
        "Males are more often seen than females.",
        "Much of what is known comes from a long-term study in {region}.",
    ]),
    CONSERVATION(),
    TAXONOMY(),
])

PLANT = Kind("plant", 14, make_plant, [
    Aspect(None, [
        Fact("plantsize", g_plantsize, [
            "The {cname} is a {form} of {country} that grows to {height} {hunit} tall, with {leaves} leaves.",
            "{S} is a {form} reaching {height} {hunit} in height; its leaves are {leaves}.",
            "Growing up to {height} {hunit} tall, the {cname} bears {leaves} leaves."],
            qa=["How tall does the {cname} grow?", "What are the leaves of the {cname} like?"],
            qb=["What size does the {cname} reach, and how can its foliage be described?"]),
        Fact("flowers", g_flowers, [
            "Its {fcol} flowers open in {fmonth}.",
            "The {fcol} blossoms appear in {fmonth}.",
            "It flowers in {fmonth}, producing {fcol} blooms."],
            qa=["When does the {cname} flower?", "What colour are the flowers of the {cname}?"],
            qb=["In which month does the {cname} bloom, and what do its blossoms look like?"],
            desc=["has {fcol} flowers in {fmonth}"]),
        Fact("fruit", g_fruit, [
            "The fruits are {fruit}, spread by {disperser}.",
            "It produces {fruit}, which are dispersed by {disperser}.",
            "After flowering it forms {fruit}, which are carried off by {disperser}."],
            qa=["What fruit does the {cname} produce?", "How are the seeds of the {cname} dispersed?"],
            qb=["How does the {cname} spread its offspring?"],
            desc=["has {fruit} spread by {disperser}"]),
    ], [
        "It is one of the characteristic plants of {region}.",
        "Botanists have studied it since the [eighteenth|nineteenth] century.",
        "It hybridises readily with related species.",
        "It can be confused with several similar species.",
        "The plant is easy to overlook when not in flower.",
    ]),
    Aspect("Distribution and habitat", [
        Fact("range", g_range, [
            "The {cname} grows wild only in {range_region}, across about {range_km} square kilometres.",
            "Its natural range, some {range_km} km2, is restricted to {range_region}.",
            "In the wild it is confined to {range_region}, over an area of roughly {range_km} km2."],
            qa=["Where does the {cname} grow wild?", "How large is the natural range of the {cname}?"],
            qb=["In which region can the {cname} be found in nature?"],
            desc=["grows wild only in {range_region}"]),
        Fact("soil", lambda r, s: dict(soil=r.choice(SOILS), phabitat=r.choice(HABITATS)), [
            "It grows on {soil}, usually in {phabitat}.",
            "The plant needs {soil} and is typically found in {phabitat}.",
            "Its usual home is {phabitat}, where it roots in {soil}."],
            qa=["On what soil does the {cname} grow?"],
            qb=["What ground conditions does the {cname} need, and where is it typically found?"],
            desc=["grows on {soil} in {phabitat}"]),
        Fact("altitude", g_altitude, [
            "It occurs from {palt1} to {palt2} metres above sea level.",
            "Its altitudinal range extends from {palt1} m up to {palt2} m.",
            "Plants are found between {palt1} and {palt2} metres."],
            qa=["At what altitude does the {cname} grow?"],
            qb=["How high up the hills and mountains can the {cname} be found?"]),
    ], [
        "It is [absent from|rare in] the lowlands.",
        "Local populations can number thousands of plants.",
        "Grazing keeps competing plants in check.",
        "Its range has shrunk over the last century.",
        "It is most abundant on [north-facing|sheltered|damp] slopes.",
    ]),
    Aspect("Uses", [
        Fact("use", g_use, [
            "Traditionally, its {part} served to {use}.",
            "Country people once used its {part} to {use}.",
            "In folk tradition people took the {part} to {use}."],
            qa=["What use was made of the {part} of the {cname}?"],
            qb=["How did people traditionally make use of the {cname}?"],
            desc=["was used to {use}"]),
        Fact("export", g_export, [
            "In the {ecn} its {product} was exported from {town}, up to {etons} tonnes a year.",
            "{town} shipped as much as {etons} tonnes of its {product} a year in the {ecn}.",
            "During the {ecn} merchants of {town} exported its {product}, some {etons} tonnes annually."],
            qa=["What product of the {cname} was exported from {town}?",
                "How much {cname} was exported in the {ecn}?"],
            qb=["Which town traded in the {cname}, and in what quantities?"],
            desc=["was exported from {town} in the {ecn}"]),
        Fact("toxic", g_toxic, [
            "All parts contain {toxin}, which is poisonous to {victim}.",
            "Because it contains {toxin}, it is dangerous to {victim}.",
            "Farmers keep {victim} away from it, since it contains {toxin}."],
            qa=["Is the {cname} poisonous?", "Which animals are poisoned by the {cname}?"],
            qb=["Which livestock are harmed by eating the {cname}, and why?"],
            desc=["is poisonous to {victim}"]),
    ], [
        "Many of these uses have been forgotten.",
        "It is still sold at some country markets.",
        "Herbalists continue to recommend it.",
        "Recipes using it appear in old household books.",
        "Modern research has tested some of the traditional claims.",
    ]),
    Aspect("Cultivation", [
        Fact("introduced", g_introduced, [
            "It was introduced to gardens in {iyear} by the nursery gardener {nursery}.",
            "{nursery}, a nursery gardener, brought it into cultivation in {iyear}.",
            "Gardeners have grown it since {iyear}, when {nursery} first offered it for sale."],
            qa=["Who introduced the {cname} to gardens?", "When was the {cname} first cultivated?"],
            qb=["When did the {cname} start being grown in gardens, and thanks to whom?"],
            desc=["was brought into cultivation by {nursery}"]),
        Fact("cultivar", g_cultivar, [
            "About {ncv} cultivars exist, the best known being '{cv}'.",
            "Of the {ncv} cultivars, '{cv}' is the most popular.",
            "Breeders have produced some {ncv} cultivars; '{cv}' is the most widely grown."],
            qa=["What is the best-known cultivar of the {cname}?",
                "How many cultivars of the {cname} exist?"],
            qb=["How many garden varieties of the {cname} are there, and which is the favourite?"],
            desc=["has a popular cultivar called '{cv}'"]),
        Fact("hardy", g_hardy, [
            "It tolerates frost down to minus {frost} degrees Celsius.",
            "Established plants survive temperatures as low as minus {frost} °C.",
            "It is hardy to about minus {frost} degrees."],
            qa=["How much frost can the {cname} tolerate?"],
            qb=["What is the lowest temperature the {cname} survives?"]),
    ], [
        "It prefers a [sheltered|sunny|partly shaded] position.",
        "It is easy to raise from seed.",
        "Slugs can damage young plants.",
        "It does best when left undisturbed.",
        "Many gardeners grow it in pots.",
    ]),
    CONSERVATION(),
    TAXONOMY(),
])


# --- inventions, companies, battles ---------------------------------------------------------------

DEVICES = [("pressure lamp", "lighting mine galleries without an open flame"),
           ("loom regulator", "keeping the tension of warp threads even"),
           ("tide recorder", "recording the height of the sea every hour"), ("seed drill",
               "sowing grain in straight rows"),
           ("rope-laying machine", "twisting hemp into ship's rope"), ("fire pump",
               "throwing water onto burning roofs"),
           ("calculating engine", "adding long columns of figures"), ("signal relay",
                                                                      "repeating telegraph signals over "
                                                                      "long lines"),
           ("cider press", "crushing apples with far less labour"), ("diving bell",
                                                                     "letting workers repair harbour walls "
                                                                     "under water"),
           ("ice saw", "cutting blocks of ice from frozen lakes"), ("printing frame",
                                                                    "printing patterns onto cotton"),
           ("weighing crane", "lifting and weighing cargo in one operation"), ("milking machine",
               "milking cows by suction"),
           ("fog horn", "warning ships in thick fog"), ("street lantern", "lighting streets with gas")]
TRIGGERS = ["a fatal explosion at a local mine", "a fire that destroyed {his} workshop",
            "the loss of a harvest to wet weather",
            "a shipwreck in which {his} brother drowned", "a competition announced by the government",
            "a strike by handloom weavers", "the failure of an older machine in a public demonstration",
            "a shortage of skilled labour"]
DEVICE_MATERIALS = ["brass", "cast iron", "oak and iron", "copper", "steel", "walnut wood and brass",
                    "bronze", "zinc"]
USERS = ["the state workshops of {country}", "the largest firms of {region}", "the city council of {capital}",
         "the harbour board of {capital}", "the royal arsenal", "the {adj} army",
         "farmers' cooperatives of {region}",
         "the public works department"]
REPLACEMENTS = ["fully automatic machines", "electric models", "cheaper mass-produced designs",
                "electronic equipment",
                "machines driven by electric motors", "imported models", "hydraulic systems"]
VENUES = ["the Great Exhibition in {capital}", "the Industrial Fair of {city}",
          "the Royal Society of {country}",
          "a crowded market square in {town}", "the Polytechnic of Lindmoor", "the harbour of {city}"]
COMPANY_PRODUCTS = [("porcelain", "Porcelain Works"), ("matches", "Match Company"), ("steam engines",
    "Engine Works"),
                    ("bicycles", "Cycle Company"), ("paper", "Paper Mills"), ("chocolate",
                        "Chocolate Company"),
                    ("sewing machines", "Sewing Machine Company"), ("glassware", "Glassworks"), ("beer",
                        "Brewery"),
                    ("pianos", "Piano Makers"), ("soap", "Soap Works"), ("shipping services",
                        "Shipping Line"),
                    ("pencils", "Pencil Company"), ("clocks", "Clock Factory")]
BRANDS = ["Heron", "Northern Star", "Blue Lantern", "Crown", "Silver Anchor", "Red Fox", "Golden Sheaf",
          "Three Towers",
          "Owl", "Evening Bell", "Iron Duke", "White Sail", "Morning Lark", "Harbour Light"]
STRIKE_ISSUES = ["the length of the working day", "a cut in piece rates", "the dismissal of union leaders",
                 "dangerous working conditions", "the introduction of new machines", "unpaid overtime"]
NEW_USES = ["a museum of industry", "artists' studios", "a concert hall", "a technical college",
            "apartments and shops",
            "a brewery and restaurant", "the town archive"]
ARCH_STYLES = ["red-brick", "neo-classical", "art nouveau", "concrete", "cast-iron and glass"]
BATTLE_TYPES = ["Battle", "Siege", "Battle"]
CAUSES = ["a dispute over tolls on the {river}", "the seizure of a grain convoy", "a new tax on salt",
          "a disputed succession to the throne", "the murder of an envoy", "a quarrel over fishing rights",
          "the closing of the border markets", "a revolt of unpaid mercenaries"]
TACTICS = ["cavalry crossed a frozen marsh to attack from the rear",
           "the dam was opened to flood the enemy camp",
           "artillery on the ridge broke the enemy line", "a night attack was launched through the vineyards",
           "sappers tunnelled beneath the walls", "a relief army arrived unexpectedly from the north",
           "the defenders set fire to the bridge", "fog allowed the infantry to approach unseen"]
MONUMENTS = ["an obelisk of grey granite", "a bronze lion", "a chapel", "a stone cross",
             "a column topped by an eagle",
             "a mound with a viewing platform", "a museum in a former barracks"]
PAINTINGS = ["Morning of Victory", "The Last Charge", "The Burning Bridge", "The Surrender of the Keys",
             "Fog over the Marsh", "The Breach", "The Dead at Dawn", "Banners in the Rain"]


def make_invention(r, names, world):
    device, purpose = world_pick(r, "device", DEVICES)
    inventor_g = r.choice("mf")
    inventor = names.person(inventor_g)
    name = inventor.split()[1] + " " + device
    country = r.choice(sorted(COUNTRIES))
    adj, capital, regions = COUNTRIES[country]
    v = dict(device=device, purpose=purpose, inventor=inventor, ilast=inventor.split()[1], country=country,
             adj=adj,
             capital=capital, region=r.choice(regions), town=r.choice(world["towns"]),
             city=r.choice([c for c in CAPITALS if c != capital]), ihis="his" if inventor_g == "m" else "her",
             firm=names.surname() + " & Company", backer=names.person())
    return Subject("invention", "the " + name, device, v, short="the " + name, refs=["the " + device,
        "the device", "it", "the invention"])


def make_company(r, names, world):
    product, suffix = world_pick(r, "product", COMPANY_PRODUCTS)
    country = r.choice(sorted(COUNTRIES))
    adj, capital, regions = COUNTRIES[country]
    town = r.choice(world["towns"])
    name = names.take(lambda r: r.choice([town, r.choice(SUR_A) + r.choice(SUR_B),
                                          r.choice(PLACE_ADJ)]) + " " + suffix)
    founded = r.randint(1720, 1925)
    ended = min(founded + r.randint(70, 110), 2012)
    v = dict(cfyear=founded, endyear=ended, closeyear=min(ended + r.randint(2, 12), 2018),
             product=product, country=country, adj=adj, capital=capital, region=r.choice(regions), town=town,
             founder=names.person(), partner=names.surname() + " " + suffix,
             buyer=names.surname() + " Holdings",
             architect=names.person(), city=r.choice([c for c in CAPITALS if c != capital]))
    return Subject("company", name, "company", v, refs=["the company", "the firm", "it", name])


def make_battle(r, names, world):
    btype = r.choice(BATTLE_TYPES)
    name = names.take(lambda r: btype + " of " + (r.choice(world["towns"]) if r.random() < 0.4
                                                  else names.town()))
    place = name.split(" of ", 1)[1]
    country = r.choice(sorted(COUNTRIES))
    adj, capital, regions = COUNTRIES[country]
    c2 = r.choice(sorted(set(COUNTRIES) - {country}))
    noun = btype.lower()
    year = r.randint(1420, 1890)
    v = dict(place=place, byear=year, country=country, adj=adj, capital=capital, region=r.choice(regions),
             c2=c2,
             a2=COUNTRIES[c2][0], cmd1=names.person(), cmd2=names.person(), river=r.choice(RIVER_NAMES),
             painter=names.person(), war=r.choice(WARS))
    return Subject("battle", "the " + name, noun, v, short="the " + name, refs=["the " + noun, "it",
        "the " + name])


def g_purpose(r, s):
    return dict(pyear=r.randint(1760, 1935))


def g_trigger(r, s):
    return dict(trigger=r.choice(TRIGGERS).format(his=s.v["ihis"]), startyear=s.v["pyear"] - r.randint(2, 9),
                job=r.choice(JOBS))


def g_demo(r, s):
    return dict(venue=r.choice(VENUES).format(**s.v), demoyear=s.v["pyear"] + r.randint(0, 3),
                protos=small(r.randint(2, 11)))


def g_backer(r, s):
    return dict(sum=num(r.randrange(500, 20000, 100)))


def g_material(r, s):
    return dict(mat=r.choice(DEVICE_MATERIALS), wt=r.randint(3, 900))


def g_production(r, s):
    return dict(units=num(r.randrange(150, 60000, 50)), produntil=s.v["pyear"] + r.randint(15, 50))


def g_users(r, s):
    return dict(users=r.choice(USERS).format(**s.v), adoptyear=s.v["pyear"] + r.randint(2, 20))


def g_replaced(r, s):
    year = s.v["pyear"] + r.randint(30, 80)
    return dict(replacement=r.choice(REPLACEMENTS), repdec=dec(year))


INVENTION = Kind("invention", 12, make_invention, [
    Aspect(None, [
        Fact("purpose", g_purpose, [
            "{S} is a device for {purpose}, invented by {inventor} and patented in {country} in {pyear}.",
            "Patented in {pyear}, {S} was designed by {inventor} for {purpose}.",
            "{S}, patented by {inventor} in {pyear}, is a machine for {purpose}."],
            qa=["What is {N} used for?", "When was {N} patented?"],
            qb=["What job was {N} designed to do, and when did its inventor obtain protection for it?"]),
        Fact("material", g_material, [
            "The standard model was built of {mat} and weighed {wt} kg.",
            "Made mostly of {mat}, a typical example weighed about {wt} kilograms.",
            "Its frame was of {mat}; the whole apparatus weighed {wt} kg."],
            qa=["What material was {N} made of?", "How heavy was {N}?"],
            qb=["From what was {N} built, and what did it weigh?"],
            desc=["was built of {mat}"]),
        Fact("replaced", g_replaced, [
            "It was superseded in the {repdec} by {replacement}.",
            "From the {repdec} onwards {replacement} made it obsolete.",
            "{replacement} replaced it in the {repdec}."],
            qa=["What replaced {N}?", "When did {N} become obsolete?"],
            qb=["Which technology made {N} redundant, and when?"],
            desc=["was superseded by {replacement} in the {repdec}"]),
    ], [
        "It was one of many inventions of its period aimed at saving [labour|time and money].",
        "Examples survive in several museums.",
        "Its principle was simple, but making it reliable took years.",
        "Contemporaries hailed it as [a great advance|a wonder of the age|a triumph of {adj} ingenuity].",
        "Improved versions appeared in several countries.",
    ]),
    Aspect("Development", [
        Fact("trigger", g_trigger, [
            "{inventor}, a {job} from {town}, began work on the idea in {startyear} after {trigger}.",
            "The invention was prompted by {trigger}; {inventor}, then a {job} in {town}, started "
            "experimenting in {startyear}.",
            "After {trigger}, {inventor}, who worked as a {job} in {town}, set out in {startyear} to find a "
            "solution."],
            qa=["What prompted {inventor} to develop {N}?",
                "What was the profession of {inventor}, inventor of {N}?"],
            qb=["What event led to the creation of {N}?"],
            desc=["was developed after {trigger}"]),
        Fact("demo", g_demo, [
            "After {protos} prototypes, the first working model was shown at {venue} in {demoyear}.",
            "{ilast} built {protos} prototypes before demonstrating the machine at {venue} in {demoyear}.",
            "The public first saw it working at {venue} in {demoyear}, following {protos} prototypes."],
            qa=["Where was {N} first demonstrated?", "How many prototypes of {N} were built?"],
            qb=["When and where did the public first see {N} in action?"],
            desc=["was first demonstrated at {venue}"]),
        Fact("backer", g_backer, [
            "The work was financed by {backer}, who lent {sum} crowns.",
            "{backer} provided {sum} crowns to pay for the experiments.",
            "Money came from {backer}, who invested {sum} crowns."],
            qa=["Who financed the development of {N}?"],
            qb=["Who paid for the experiments behind {N}, and how much?"],
            desc=["was financed by {backer}"]),
    ], [
        "Early versions were [unreliable|heavy and expensive|prone to breaking down].",
        "Several rival inventors worked on similar ideas.",
        "The inventor kept careful notebooks, now in the national archive.",
        "Progress was slow and expensive.",
        "Friends doubted that the idea would ever work.",
    ]),
    Aspect("Adoption", [
        Fact("production", g_production, [
            "By {produntil} some {units} units had been built by {firm}.",
            "{firm} manufactured about {units} of them up to {produntil}.",
            "Production by {firm} reached {units} units before it ended in {produntil}."],
            qa=["How many units of {N} were built?", "Which firm manufactured {N}?"],
            qb=["How widely was {N} produced, and by whom?"],
            desc=["was manufactured by {firm}"]),
        Fact("users", g_users, [
            "It was adopted by {users} in {adoptyear}.",
            "In {adoptyear} {users} made it standard equipment.",
            "{users} introduced it in {adoptyear}."],
            qa=["Who adopted {N}?", "When was {N} adopted by {users}?"],
            qb=["Which organisation made {N} standard equipment, and in what year?"],
            desc=["was adopted by {users}"]),
        Fact("price", lambda r, s: dict(price=num(r.randrange(8, 2400, 2)),
                                        saleyear=s.v["pyear"] + r.randint(1, 4),
                                        wagemonths=r.randint(1, 30)), [
            "When it went on sale in {saleyear} it cost {price} crowns, about {wagemonths} months of a "
            "labourer's wages.",
            "The price in {saleyear} was {price} crowns, equal to {wagemonths} months' pay for a labourer.",
            "Buyers in {saleyear} paid {price} crowns, roughly what a labourer earned in {wagemonths} "
            "months."],
            qa=["How much did {N} cost?", "When did {N} go on sale?"],
            qb=["What was the price of {N} when it reached the market?"]),
    ], [
        "Sales were slow at first.",
        "Licences were sold abroad.",
        "Workers sometimes resisted its introduction.",
        "Advertisements praised its [reliability|simplicity|low running costs].",
        "Copies were made without the inventor's permission.",
    ]),
    Aspect("Legacy", [
        Fact("museum", lambda r, s: dict(mcity=r.choice(CAPITALS), myear=s.v["pyear"] + r.randint(1, 5)), [
            "The oldest surviving example, dated {myear}, is kept in the Museum of Technology in {mcity}.",
            "A specimen built in {myear}, the earliest to survive, is displayed in {mcity}.",
            "Visitors to the Museum of Technology in {mcity} can see the oldest surviving example, from "
            "{myear}."],
            qa=["Where is the oldest surviving example of {N}?"],
            qb=["In which museum can the earliest remaining {device} of this type be seen?"],
            desc=["has its oldest surviving example in {mcity}"]),
        Fact("lawsuit", lambda r, s: dict(rival=RNG_NAMES.person(), lyear=s.v["pyear"] + r.randint(1, 8),
                                          outcome=r.choice(["won", "lost", "settled"])), [
            "{inventor} sued {rival} for copying the design in {lyear} and {outcome} the case.",
            "A patent dispute with {rival} in {lyear} was {outcome} by {inventor}.",
            "In {lyear} {inventor} took {rival} to court over the patent, and {outcome} the case."],
            qa=["Whom did {inventor} sue over {N}?"],
            qb=["Which patent dispute arose over {N}, and how did it end?"],
            desc=["was the subject of a patent dispute with {rival}"]),
        Fact("stamp", lambda r, s: dict(stampyear=r.randint(1950, 2015),
                                        stampval=r.choice([5, 10, 20, 25, 40, 50, 75])), [
            "In {stampyear} the post office of {country} issued a {stampval}-cent stamp showing it.",
            "A {stampval}-cent postage stamp of {stampyear} honours the invention.",
            "The invention appeared on a {stampval}-cent stamp issued in {stampyear}."],
            qa=["When did {N} appear on a postage stamp?"],
            qb=["How was {N} honoured by the postal service, and when?"],
            desc=["appeared on a postage stamp in {stampyear}"]),
    ], [
        "Historians see it as a step towards modern machinery.",
        "It appears in school textbooks of {country}.",
        "Working replicas are demonstrated on open days.",
        "Its name became a household word.",
        "Collectors pay high prices for surviving examples.",
    ]),
])


def g_cfounded(r, s):
    return dict(fjob=r.choice(JOBS))


def company_year(r, s, lo, hi):
    """A year `lo`-`hi` years after the founding of company `s`, before its takeover."""
    return min(s.v["cfyear"] + r.randint(lo, hi), s.v["endyear"] - 1)


def g_growth(r, s):
    return dict(gyear=company_year(r, s, 10, 40), workers=num(r.randrange(80, 6000, 10)))


def g_merger(r, s):
    return dict(myear=company_year(r, s, 30, 90))


def g_brand(r, s):
    return dict(brand=world_pick(r, "brand", BRANDS), byear=company_year(r, s, 3, 30))


def g_exports(r, s):
    return dict(nexp=r.randint(4, 70), exshare=r.randint(15, 85))


def g_hq(r, s):
    return dict(hqstyle=r.choice(ARCH_STYLES), hqyear=company_year(r, s, 15, 60),
                hqstreet=r.choice(["Harbour Street", "King's Road", "the Old Quay", "Station Square",
                                   "Mill Lane", "Market Street"]))


def g_strike(r, s):
    return dict(syear=company_year(r, s, 20, 80), issue=r.choice(STRIKE_ISSUES), days=r.randint(5, 120))


def g_housing(r, s):
    return dict(houses=r.randrange(40, 900, 10), housyear=company_year(r, s, 10, 60),
                village=r.choice(TOWN_A) + r.choice([" Garden Village", " Terrace", " Colony"]))


def g_end(r, s):
    return dict(endhow=r.choice(["taken over by", "bought by", "absorbed into"]))


def g_newuse(r, s):
    return dict(newuse=r.choice(NEW_USES), nuyear=r.randint(max(s.v["closeyear"] + 1, 1975), 2023))


COMPANY = Kind("company", 12, make_company, [
    Aspect(None, [
        Fact("cfounded", g_cfounded, [
            "{S} is a {adj} maker of {product}, founded in {town} in {cfyear} by {founder}, a former {fjob}.",
            "{S} was established in {cfyear} at {town} by {founder}, who had worked as a {fjob}, to make "
            "{product}.",
            "Founded by the former {fjob} {founder} in {town} in {cfyear}, {S} produced {product}."],
            qa=["Who founded {N}?", "When was {N} founded?"],
            qb=["Who set up {N}, in which town, and what was {founder} before that?"],
            desc=["was founded in {town} by a former {fjob}"]),
        Fact("brand", g_brand, [
            "Its {product} were sold under the {brand} brand from {byear}.",
            "From {byear} the firm marketed its {product} under the name {brand}.",
            "The {brand} trademark, registered in {byear}, became famous across {country}."],
            qa=["Under which brand did {N} sell its products?",
                "When was the {brand} brand of {N} registered?"],
            qb=["How were the goods of {N} marketed, and since when?"],
            desc=["sold its goods under the {brand} brand"]),
        Fact("exports", g_exports, [
            "At its peak it exported to {nexp} countries, and exports made up {exshare} per cent of sales.",
            "Exports, to {nexp} countries, once accounted for {exshare} per cent of turnover.",
            "It sold abroad in {nexp} countries, earning {exshare} per cent of its income from exports."],
            qa=["To how many countries did {N} export?", "What share of the sales of {N} came from exports?"],
            qb=["How international was the business of {N}?"]),
    ], [
        "The company's history mirrors the industrial development of {country}.",
        "Its products are now collectors' items.",
        "The firm was known for its [advertising posters|calendars and enamel signs|generous "
        "sponsorship of sport].",
        "Several generations of local families worked for it.",
        "Its archives are held by the regional record office.",
    ]),
    Aspect("History", [
        Fact("growth", g_growth, [
            "By {gyear} it employed {workers} workers.",
            "The workforce had grown to {workers} by {gyear}.",
            "In {gyear} the payroll listed {workers} employees."],
            qa=["How many workers did {N} employ in {gyear}?"],
            qb=["How large had the staff of {N} grown, and by when?"],
            desc=["employed {workers} workers in {gyear}"]),
        Fact("merger", g_merger, [
            "In {myear} it merged with {partner}.",
            "A merger with {partner} followed in {myear}.",
            "{partner} and the firm combined in {myear}."],
            qa=["Which firm did {N} merge with?", "When did {N} merge with {partner}?"],
            qb=["With which business did {N} combine, and in what year?"],
            desc=["merged with {partner}"]),
        Fact("strike", g_strike, [
            "A strike in {syear} over {issue} lasted {days} days.",
            "In {syear} workers walked out over {issue}; the strike went on for {days} days.",
            "The {syear} strike, about {issue}, lasted {days} days."],
            qa=["What was the {syear} strike at {N} about?", "How long did the strike at {N} last?"],
            qb=["Why did the employees of {N} stop work, and for how long?"],
            desc=["had a {days}-day strike over {issue}"]),
    ], [
        "Growth was rapid in the early years.",
        "Competition from abroad increased steadily.",
        "New machinery was bought from abroad.",
        "The founder's family kept control for decades.",
        "Wartime brought both orders and shortages.",
    ]),
    Aspect("Operations", [
        Fact("hq", g_hq, [
            "Its headquarters, a {hqstyle} building on {hqstreet} in {town}, was designed by {architect} "
            "and completed in {hqyear}.",
            "In {hqyear} the company moved into a {hqstyle} head office on {hqstreet}, designed by "
            "{architect}.",
            "{architect} designed the {hqstyle} headquarters on {hqstreet}, finished in {hqyear}."],
            qa=["Who designed the headquarters of {N}?", "Where is the headquarters of {N}?"],
            qb=["Where did {N} have its main offices, and who was the architect?"],
            desc=["had a head office designed by {architect}"]),
        Fact("factory", lambda r, s: dict(nfact=small(r.randint(2, 9)), fcity=s.v["city"],
                                          fyear=company_year(r, s, 10, 50)), [
            "It operated {nfact} factories, the largest opened in {fcity} in {fyear}.",
            "Production was spread over {nfact} plants; the biggest, in {fcity}, opened in {fyear}.",
            "Of its {nfact} factories, the one in {fcity}, opened in {fyear}, was the largest."],
            qa=["How many factories did {N} operate?", "Where was the largest factory of {N}?"],
            qb=["Where did {N} have its biggest production site, and how many sites were there?"],
            desc=["opened its largest factory in {fcity} in {fyear}"]),
        Fact("housing", g_housing, [
            "In {housyear} the company built {village}, a settlement of {houses} houses for its workers.",
            "{village}, built by the firm in {housyear}, provided {houses} homes for employees.",
            "For its workforce it put up {houses} houses at {village}, completed in {housyear}."],
            qa=["How many houses did {N} build for its workers?", "When was {village} built by {N}?"],
            qb=["What housing did {N} provide for its employees?"],
            desc=["built {village} for its workers"]),
    ], [
        "Working conditions were considered good for the time.",
        "Raw materials arrived by rail and river.",
        "The company ran its own [school and clinic|savings bank and library|sports club and choir].",
        "Quality control was strict.",
        "The firm employed many women in its packing rooms.",
    ]),
    Aspect("Later years", [
        Fact("end", g_end, [
            "In {endyear} it was {endhow} {buyer}.",
            "Its independent history ended in {endyear}, when it was {endhow} {buyer}.",
            "In {endyear} the company was {endhow} {buyer}, which ended its independence."],
            qa=["What happened to {N} in {endyear}?", "Who bought {N}?"],
            qb=["How did the independent existence of {N} come to an end?"],
            desc=["was taken over by {buyer}"]),
        Fact("newuse", g_newuse, [
            "Since {nuyear} its former factory in {town} has housed {newuse}.",
            "The old works in {town} were converted into {newuse} in {nuyear}.",
            "Today the former factory in {town} contains {newuse}, opened in {nuyear}."],
            qa=["What is the former factory of {N} used for today?"],
            qb=["What became of the old works of {N}?"],
            desc=["has a former factory that now houses {newuse}"]),
        Fact("closure", lambda r, s: dict(lastjobs=num(r.randrange(60, 2000, 10))), [
            "The last factory closed in {closeyear}, with the loss of {lastjobs} jobs.",
            "Production ended for good in {closeyear}; {lastjobs} workers lost their jobs.",
            "When the final plant shut in {closeyear}, {lastjobs} people were made redundant."],
            qa=["When did the last factory of {N} close?",
                "How many jobs were lost when {N} closed its last factory?"],
            qb=["When did {N} stop making things altogether, and how many people were affected?"],
            desc=["closed its last factory in {closeyear}"]),
    ], [
        "The brand name survives on some products.",
        "Former employees meet every year.",
        "Its decline was caused by [changes in the market|cheaper foreign competition|a series of poor "
        "investments].",
        "Local historians have written its history.",
        "The closure was a blow to the town.",
    ]),
])


def g_when(r, s):
    return dict(bdate=date(r, s.v["byear"]), side1="the army of " + r.choice(RULERS),
                side2=s.v["a2"] + " forces")


def g_outcome(r, s):
    return dict(winner=r.choice([s.v["side1"], s.v["side2"]]))


def g_war(r, s):
    return dict(warpart=s.v["war"])


def g_cause(r, s):
    return dict(cause=r.choice(CAUSES).format(**s.v))


def g_commanders(r, s):
    return dict(n1=num(r.randrange(2000, 30000, 500)), n2=num(r.randrange(1500, 25000, 500)))


def g_tactic(r, s):
    return dict(tactic=r.choice(TACTICS), dur=r.choice(["a single day", "two days", "six hours",
                                                        "three weeks", "eleven weeks", "four months"]))


def g_casualties(r, s):
    return dict(dead=num(r.randrange(200, 9000, 50)), prisoners=num(r.randrange(100, 5000, 50)))


def g_treaty(r, s):
    return dict(treaty="Treaty of " + RNG_NAMES.town(), tyear=s.v["byear"] + r.randint(0, 2),
                territory=r.choice(["the valley of the " + s.v["river"], "three frontier districts",
                                    "the island of Kell",
                                    "the salt mines of the Iron Hills", "the port of " + RNG_NAMES.town()]))


def g_memorialb(r, s):
    return dict(monument=r.choice(MONUMENTS), monyear=s.v["byear"] + r.randint(50, 150))


def g_painting(r, s):
    return dict(painting=world_pick(r, "painting", PAINTINGS), pyear=s.v["byear"] + r.randint(5, 60))


BATTLE = Kind("battle", 12, make_battle, [
    Aspect(None, [
        Fact("when", g_when, [
            "{S} took place on {bdate} at {place}, between {side1} and {side2}.",
            "{S} was fought on {bdate} near {place}; {side1} faced {side2}.",
            "On {bdate} {side1} and {side2} clashed at {place}, in what became known as {S}."],
            qa=["When did {N} take place?", "Who fought in {N}?"],
            qb=["On what date did {N} happen, and which sides were involved?"]),
        Fact("outcome", g_outcome, [
            "It ended in a decisive victory for {winner}.",
            "The result was a clear victory for {winner}.",
            "{winner} emerged victorious."],
            qa=["Who won {N}?"],
            qb=["Which side prevailed at {N}?"]),
        Fact("war", g_war, [
            "The {noun} was part of the {warpart}.",
            "It formed one of the main episodes of the {warpart}.",
            "Historians count it among the key events of the {warpart}."],
            qa=["Which war was {N} part of?"],
            qb=["In what larger conflict did {N} take place?"],
            desc=["was part of the {warpart}"]),
    ], [
        "It is one of the best-documented events of its century.",
        "Contemporary accounts differ on many details.",
        "The site is now [farmland, crossed by a footpath|partly covered by a housing estate|a nature "
        "reserve].",
        "Its memory remains strong in {region}.",
        "Chroniclers on both sides wrote about it.",
    ]),
    Aspect("Background", [
        Fact("cause", g_cause, [
            "The conflict arose from {cause}.",
            "Its origins lay in {cause}.",
            "Tension had been building since {cause} provoked both sides."],
            qa=["What caused {N}?"],
            qb=["What was the origin of the quarrel that led to {N}?"],
            desc=["arose from {cause}"]),
        Fact("commanders", g_commanders, [
            "{cmd1} commanded {n1} men, while {cmd2} led {n2}.",
            "The forces, {n1} under {cmd1} and {n2} under {cmd2}, were unevenly matched.",
            "{cmd1} brought {n1} soldiers to the field; {cmd2} had {n2}."],
            qa=["Who commanded the forces at {N}?", "How many men did {cmd1} have at {N}?"],
            qb=["Which leaders faced each other at {N}, and with how many troops?"],
            desc=["was fought between forces led by {cmd1} and {cmd2}"]),
        Fact("ally", lambda r, s: dict(ally=r.choice([x for x in RULERS if x not in s.v["side1"]]),
                                       allyhelp=r.choice(
                ["money and gunpowder", "twelve warships", "a regiment of cavalry", "grain and horses",
                 "mercenaries from the south"])), [
            "{ally} backed the {a2} side with {allyhelp}.",
            "The {a2} forces received {allyhelp} from {ally}.",
            "Support for the {a2} cause came from {ally}, who sent {allyhelp}."],
            qa=["Who supported the {a2} side in {N}?", "What help did {ally} send before {N}?"],
            qb=["Which foreign ruler aided the {a2} forces at {N}, and with what?"],
            desc=["saw {ally} send {allyhelp} to the {a2} side"]),
    ], [
        "Diplomacy had failed for several years.",
        "Both sides spent the winter gathering troops and supplies.",
        "Spies reported every movement of the enemy.",
        "Bad harvests had made the population restless.",
        "Foreign powers watched the crisis closely.",
    ]),
    Aspect("Course", [
        Fact("tactic", g_tactic, [
            "The decisive moment came when {tactic}; the fighting lasted {dur}.",
            "After {dur} of fighting, the outcome was settled when {tactic}.",
            "The struggle went on for {dur} until {tactic}."],
            qa=["What was the decisive moment of {N}?", "How long did {N} last?"],
            qb=["How was {N} decided, and how long did it go on?"],
            desc=["was decided when {tactic}"]),
        Fact("weather", lambda r, s: dict(weather=r.choice(["heavy rain turned the ground to mud",
                                                            "a late frost froze the rivers",
                                                            "a heat wave exhausted the soldiers",
                                                            "thick fog hid the armies",
                                                            "a storm scattered the supply boats"])), [
            "Conditions were difficult: {weather}.",
            "The weather played its part, as {weather}.",
            "Witnesses recorded that {weather}."],
            qa=["What was the weather like during {N}?"],
            qb=["Which natural conditions affected {N}?"],
            desc=["was fought while {weather}"]),
        Fact("hero", lambda r, s: dict(hero=RNG_NAMES.person(), deed=r.choice(
                ["carrying the torn colours back to the lines", "holding the bridge with a handful of men",
                 "rescuing the wounded under fire", "capturing an enemy battery",
                 "leading the final charge"])), [
            "A young officer, {hero}, was decorated for {deed}.",
            "{hero} won lasting fame for {deed}.",
            "Among the heroes of the day was {hero}, remembered for {deed}."],
            qa=["Who was decorated for bravery at {N}?"],
            qb=["Which soldier became famous for an act of courage at {N}, and what was it?"],
            desc=["made a hero of {hero}"]),
    ], [
        "Smoke and noise made orders hard to follow.",
        "Reserves were thrown in late in the day.",
        "The wounded were carried to [nearby farms|the churches of the town|a field hospital in a barn].",
        "Several officers were killed early on.",
        "Neither side had expected the fighting to be so fierce.",
    ]),
    Aspect("Aftermath", [
        Fact("casualties", g_casualties, [
            "About {dead} men were killed and {prisoners} taken prisoner.",
            "Losses amounted to some {dead} dead, with {prisoners} captured.",
            "The toll was heavy: {dead} killed and {prisoners} prisoners."],
            qa=["How many casualties were there at {N}?", "How many prisoners were taken at {N}?"],
            qb=["How many people died at {N}?"]),
        Fact("treaty", g_treaty, [
            "The {treaty}, signed in {tyear}, gave {territory} to the victors.",
            "Under the {treaty} of {tyear}, {territory} changed hands.",
            "Peace came with the {treaty} in {tyear}, which transferred {territory}."],
            qa=["What did the {treaty} give to the victors of {N}?", "Which treaty followed {N}?"],
            qb=["Which territory changed hands after {N}, and under which agreement?"],
            desc=["was followed by the {treaty}"]),
        Fact("politics", lambda r, s: dict(consequence=r.choice(
                ["the chancellor of {country} resigned", "the king of {country} abdicated within a year",
                 "a new fortress was built at {place}", "the {a2} parliament was dissolved",
                 "the losing commander was tried for treason"]).format(**s.v)), [
            "Politically, the {noun} had lasting effects: {consequence}.",
            "As a direct result, {consequence}.",
            "Within months of the fighting, {consequence}."],
            qa=["What were the political consequences of {N}?"],
            qb=["How did {N} change the politics of the time?"]),
    ], [
        "The defeated side took years to recover.",
        "Refugees crowded the roads for months.",
        "The economy of {region} suffered badly.",
        "Both sides claimed a moral victory.",
        "Several commanders were dismissed afterwards.",
    ]),
    Aspect("Legacy", [
        Fact("memorial", g_memorialb, [
            "In {monyear} {monument} was erected on the site.",
            "The site is marked by {monument}, put up in {monyear}.",
            "{monument}, raised in {monyear}, commemorates the fallen."],
            qa=["What memorial stands at the site of {N}?", "When was the memorial of {N} erected?"],
            qb=["How is {N} commemorated at the site?"],
            desc=["is commemorated by {monument} erected in {monyear}"]),
        Fact("painting", g_painting, [
            "The painter {painter} depicted it in {painting} ({pyear}).",
            "{painting}, painted by {painter} in {pyear}, is the best-known image of the {noun}.",
            "It is the subject of {painter}'s canvas {painting}, completed in {pyear}."],
            qa=["Which painting depicts {N}?", "Who painted {painting}?"],
            qb=["Which artist portrayed {N}, and in what work?"],
            desc=["is depicted in the painting {painting}"]),
        Fact("reenact", lambda r, s: dict(nre=num(r.randrange(80, 2500, 10)), remonth=r.choice(MONTHS),
                                          reyear=r.randint(1960, 2005)), [
            "Since {reyear} about {nre} volunteers have re-enacted the {noun} each {remonth}.",
            "A re-enactment held every {remonth} since {reyear} involves some {nre} participants.",
            "Each {remonth}, roughly {nre} enthusiasts restage the fighting, a tradition begun in {reyear}."],
            qa=["How many people take part in the re-enactment of {N}?",
                "Since when has {N} been re-enacted?"],
            qb=["How is {N} restaged today, and by how many people?"],
            desc=["is re-enacted every {remonth} by about {nre} volunteers"]),
    ], [
        "Wreaths are laid on the anniversary.",
        "Schoolchildren visit the site.",
        "Songs about it are still sung.",
        "Novels and films have retold the story.",
        "Archaeologists have found [musket balls and buttons|arrowheads and spurs|cannon balls] on the "
        "field.",
    ]),
])


# --- building the corpus ------------------------------------------------------------------------

RNG_NAMES: Names  # set by build(); a few generators draw extra names from it

FRAMES = {  # questions of style c: {d} is one descriptor or two joined by "and"
    "thing": ["Which {noun} {d}?", "What is the name of the {noun} that {d}?", "Name the {noun} that {d}.",
              "Can you identify the {noun} that {d}?",
              "I am looking for a {noun} that {d}. Which one is it?"],
    "person": ["Which {noun} {d}?", "Who was the {noun} who {d}?", "Name the {noun} who {d}.",
               "Who {d}?"],
}


def title_of(subject: Subject) -> str:
    name = subject.name[4:] if subject.name.startswith("the ") else subject.name
    return name[0].upper() + name[1:]


def placeholders(template: str) -> list[str]:
    return FIELD.findall(template)


PRONOUN_FIELDS = {"he", "his", "him", "He", "His", "S", "Sp", "N", "noun"}


DERIVED = {"fdec": "fyear", "ddec": "dyear", "adec": "ayear", "rdec": "ryear", "damdec": "damyear",
           "tcn": "tcw",
           "byear": "bdate"}  # a value a reader derives from another one (a decade from a year)
NAMES = {"rname", "cname", "mname", "first", "last", "ilast", "inventor", "device", "product"}


def check_templates(kinds, subjects) -> list[str]:
    """Every value a question or descriptor asks about is stated by every phrasing of its fact.

    Values of the subject itself (country, region...) may appear in a question without being
    stated in the paragraph (they set the scene), but not in a descriptor, which must be stated."""
    attrs = {}
    for s in subjects:
        attrs.setdefault(s.kind, set()).update(s.attr_keys)
    problems = []
    for kind in kinds:
        context = attrs[kind.name]
        for aspect in kind.aspects:
            for fact in aspect.facts:
                def stated(t):
                    return {DERIVED.get(k, k) for k in placeholders(t)} - PRONOUN_FIELDS
                said = [stated(t) for t in fact.say]
                common = set.intersection(*said)
                for t in said:
                    if (t ^ common) - context:
                        differ = sorted((t ^ common) - context)
                        problems.append(f"{kind.name}/{fact.type}: phrasings state different values {differ}")
                for q in fact.qa + fact.qb:
                    for name in stated(q) - common - context - NAMES:
                        problems.append(f"{kind.name}/{fact.type}: {q!r} uses {name}, not stated")
                for q in fact.desc:
                    for name in stated(q) - common - NAMES:
                        problems.append(f"{kind.name}/{fact.type}: {q!r} describes with {name}, not stated")
    return problems


def generate_subjects(r: random.Random):
    global RNG_NAMES
    WORLD.clear()
    names = Names(r)
    RNG_NAMES = names
    names.used.update(RIVER_NAMES + MOUNTAIN_NAMES + [f"River {n}" for n in RIVER_NAMES])
    rivers = RIVER_NAMES[:]
    mountains = MOUNTAIN_NAMES[:]
    r.shuffle(rivers)
    r.shuffle(mountains)
    world = {"rivers": RIVER_NAMES, "river_subjects": rivers, "mountain_subjects": mountains}
    kinds = [RIVER, MOUNTAIN, TOWN, scientist_kind(), artist_kind(), explorer_kind(), ANIMAL, PLANT,
             INVENTION,
             COMPANY, BATTLE]
    subjects = []
    for kind in kinds:
        for _ in range(kind.count):
            s = kind.make(r, names, world)
            s.kindobj = kind
            s.attr_keys = set(s.v)
            source = {k: None for k in s.v}
            for aspect in kind.aspects:
                for fact in aspect.facts:
                    values = fact.gen(r, s)
                    for key in values:
                        if key in source and source[key] is not fact.gen:
                            raise ValueError(f"{kind.name}: value {key} set twice ({fact.type})")
                        source[key] = fact.gen
                    s.v.update(values)
            n = r.choices([c for c, _ in ASPECT_COUNTS], [w for _, w in ASPECT_COUNTS])[0]
            n = min(n, len(kind.aspects))
            s.aspects = [kind.aspects[0]] + [kind.aspects[i] for i in sorted(r.sample(range(1,
                len(kind.aspects)), n - 1))]
            subjects.append(s)
        if kind is TOWN:
            world["towns"] = [s.name for s in subjects if s.kind == "town"]
    return kinds, subjects


def words(text: str) -> int:
    return len(text.split())


def render(r: random.Random, s: Subject, aspect: Aspect) -> tuple[str, dict[str, str]]:
    """The paragraph, and the sentence stating each fact (by fact type): the answer to a question
    about that fact."""
    facts = list(aspect.facts)
    first, rest = facts[0], facts[1:]
    r.shuffle(rest)
    sentences, said = [], {}
    for i, fact in enumerate([first] + rest):
        options = fact.say
        if i == 0:
            named = [t for t in fact.say if "{S}" in t or "{Sp}" in t]
            options = named or options
            ref = s.first
        elif i == 1:
            ref = "the " + s.noun if r.random() < 0.6 else r.choice(s.refs)
        else:
            ref = r.choice(s.refs)
        sentences.append(fill(r.choice(options), s, ref, r=r))
        said[fact.type] = sentences[-1]
    fillers = [fill(t, s, r.choice(s.refs), r=r) for t in aspect.fill]
    r.shuffle(fillers)
    lead = s.kindobj.aspects[0]
    general = [fill(t, s, r.choice(s.refs), r=r) for t in lead.fill] if lead is not aspect else []
    r.shuffle(general)
    fillers = general[:3] + fillers  # taken from the end: the aspect's own first
    target = r.randint(60, 92)
    while fillers and words(" ".join(sentences)) < target:
        sentences.insert(r.randint(1, len(sentences)), fillers.pop())
    text = " ".join(sentences)
    if not MIN_WORDS <= words(text) <= MAX_WORDS:
        raise ValueError(f"{s.name}/{aspect.title}: {words(text)} words")
    return text, said


def atoms(s: Subject, fact: Fact) -> list[tuple]:
    """What the descriptors of `fact` say about `s`, as comparable keys (the template and its values)."""
    out = []
    for t in fact.desc:
        values = tuple((k, str(s.v[k])) for k in placeholders(t) if k not in PRONOUN_FIELDS)
        out.append((t, values))
    return out


def build():
    r = random.Random(SEED)
    kinds, subjects = generate_subjects(r)
    passages = []  # dicts: id, subject, aspect, title, text, atoms
    for s in subjects:
        for aspect in s.aspects:
            pid = f"p{len(passages) + 1:04d}"
            title = title_of(s) if aspect.title is None else f"{title_of(s)}: {aspect.title}"
            text, said = render(r, s, aspect)
            passages.append(dict(id=pid, subject=s, aspect=aspect, title=title, text=text, said=said,
                                 atoms={a for f in aspect.facts for a in atoms(s, f)}))
    questions = make_questions(r, passages)
    return kinds, subjects, passages, questions


def describe(r: random.Random, p: dict, passages: list[dict], spread, sharp_ok: int) -> str | None:
    """A style-c question for passage `p`: the subject described by facts of the paragraph whose
    combination no other paragraph has; None when there is no such combination.

    Descriptors whose values are rare in the corpus (a person's name, an exact number) would make
    the question a keyword lookup, so combinations of common values (a month, a material, a
    century) come first; `sharp_ok` is how many descriptors with a value found in fewer than three
    paragraphs a question may use."""
    s = p["subject"]
    options = [(f, t) for f in p["aspect"].facts for t in f.desc]
    r.shuffle(options)

    def key(t):
        return (t, tuple((k, str(s.v[k])) for k in placeholders(t) if k not in PRONOUN_FIELDS))

    def sharp(t):
        return any(spread(value) < 3 for _k, value in key(t)[1])

    tries = [[o] for o in options] if r.random() < 0.3 else []
    for i, (f1, t1) in enumerate(options):
        for f2, t2 in options[i + 1:]:
            if f1 is not f2:
                tries.append([(f1, t1), (f2, t2)])
    for i, (f1, t1) in enumerate(options):  # three descriptors only when two do not single it out
        for j, (f2, t2) in enumerate(options[i + 1:], i + 1):
            for f3, t3 in options[j + 1:]:
                if len({id(f1), id(f2), id(f3)}) == 3:
                    tries.append([(f1, t1), (f2, t2), (f3, t3)])
    for combo in tries:
        if sum(sharp(t) for _f, t in combo) > sharp_ok:
            continue
        keys = [key(t) for _f, t in combo]
        matching = [q for q in passages if all(k in q["atoms"] for k in keys)]
        if len(matching) != 1:
            continue
        parts = [fill(t, s, s.name, cap=False, r=r) for _f, t in combo]
        joined = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
        frame = r.choice(FRAMES["person" if s.kindobj.person else "thing"])
        text = fill(frame.replace("{d}", joined).replace("{noun}", r.choice(c_nouns(s))), s, s.name, r=r)
        return text, [f.type for f, _t in combo]
    return None


def c_nouns(s: Subject) -> list[str]:
    """What a question that does not name the subject calls it: its kind more often than its
    exact noun (a bird rather than a warbler)."""
    if s.kind == "animal":
        return [s.v["cls"]]
    if s.kind == "plant":
        return [s.v["form"]]
    if s.kind == "invention":
        return ["invention", "device"]
    if s.kindobj.person:
        return [s.noun, s.kind]
    return [s.noun]


def ask(r: random.Random, p: dict, style: str) -> tuple[str, list[str]] | None:
    """A style-a or -b question about one fact of `p`, and that fact's type."""
    s = p["subject"]
    facts = [f for f in p["aspect"].facts if (f.qa if style == "a" else f.qb)]
    if not facts:
        return None
    fact = r.choice(facts)
    return fill(r.choice(fact.qa if style == "a" else fact.qb), s, s.name, r=r), [fact.type]


def make_questions(r: random.Random, passages: list[dict]) -> list[dict]:
    wanted = {k: round(N_QUESTIONS * share) for k, share in STYLE_SHARE.items()}
    order = passages[:]
    r.shuffle(order)
    texts = [(p["title"] + " " + p["text"]).lower() for p in passages]
    memo: dict[str, int] = {}

    def spread(value: str) -> int:
        """In how many paragraphs the value occurs."""
        if value not in memo:
            memo[value] = sum(value.lower() in t for t in texts)
        return memo[value]

    out, used = [], set()
    for sharp_ok in (0, 1):  # style c first: not every passage has a unique combination of facts
        for p in order:
            if len(out) >= wanted["c"]:
                break
            if p["id"] in used:
                continue
            asked = describe(r, p, passages, spread, sharp_ok)
            if asked:
                text, facts = asked
                out.append(dict(style="c", passage=p["id"], text=text, answers=[p["said"][f] for f in facts]))
                used.add(p["id"])
    rest = [p for p in order if p["id"] not in used]
    plan = ["a"] * wanted["a"] + ["b"] * wanted["b"]
    r.shuffle(plan)
    for p in rest:
        if not plan:
            break
        asked = ask(r, p, plan[-1])
        if asked:
            text, facts = asked
            answers = [p["said"][f] for f in facts]
            out.append(dict(style=plan.pop(), passage=p["id"], text=text, answers=answers))
    r.shuffle(out)
    for i, q in enumerate(out):
        q["id"] = f"q{i + 1:04d}"
    return out


def write(passages, questions) -> None:
    with (HERE / "corpus.jsonl").open("w", encoding="utf-8", newline="\n") as f:
        for p in passages:
            f.write(json.dumps({"_id": p["id"], "title": p["title"], "text": p["text"]},
                               ensure_ascii=False) + "\n")
    with (HERE / "queries.jsonl").open("w", encoding="utf-8", newline="\n") as f:
        for q in sorted(questions, key=lambda q: q["id"]):
            f.write(json.dumps({"_id": q["id"], "text": q["text"]}, ensure_ascii=False) + "\n")
    (HERE / "qrels").mkdir(exist_ok=True)
    with (HERE / "qrels" / "test.tsv").open("w", encoding="utf-8", newline="\n") as f:
        f.write("query-id\tcorpus-id\tscore\n")
        for q in sorted(questions, key=lambda q: q["id"]):
            f.write(f"{q['id']}\t{q['passage']}\t1\n")
    with (HERE / "answers.jsonl").open("w", encoding="utf-8", newline="\n") as f:
        for q in sorted(questions, key=lambda q: q["id"]):
            f.write(json.dumps({"_id": q["id"], "style": q["style"], "passage": q["passage"],
                                "sentences": q["answers"]}, ensure_ascii=False) + "\n")


def main() -> None:
    kinds, subjects, passages, questions = build()
    problems = check_templates(kinds, subjects)
    if problems:
        raise SystemExit("template problems:\n  " + "\n  ".join(problems))
    write(passages, questions)
    lengths = sorted(words(p["text"]) for p in passages)
    styles = {k: sum(q["style"] == k for q in questions) for k in STYLE_SHARE}
    by_kind = {}
    for s in subjects:
        by_kind[s.kind] = by_kind.get(s.kind, 0) + 1
    print(f"{len(subjects)} subjects ({', '.join(f'{n} {k}' for k, n in by_kind.items())})")
    print(f"{len(passages)} passages, {lengths[0]}-{lengths[-1]} words (median {lengths[len(lengths) // 2]})")
    print(f"{len(questions)} questions: " + ", ".join(f"{n} style {k}" for k, n in styles.items()))
    print(f"-> {HERE}")


if __name__ == "__main__":
    main()
