"""Writes the demo corpus set: small, made-up clinical/biomedical corpora in each corpus's native format.

Nothing here is copied from a real corpus: sentences are composed from the templates and word lists below with
a fixed seed, so `python -m mnlu.demo_data._generate` rewrites the committed files byte for byte (a test checks
this). Folder names are registry names, so `mnlu data build --raw mnlu/demo_data` reads them with the real
converters. Every task type is covered: NER (biored, linnaeus, bc4chemd), events (clinical_ie, n2c2_2022_sdoh), RE
(biored), DC (mtsamples, trialstop, czi_drsm, semeval2024_task2_nli4ct), NLI (snli, multinli, bionli), STS
(stsb) and summarization (pubmedsum, aci_bench, cdsr).
"""

from __future__ import annotations

import csv
import io
import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = 20250101

DRUGS = ["aspirin", "metformin", "lisinopril", "atorvastatin", "amoxicillin", "warfarin", "omeprazole",
         "levothyroxine", "amlodipine", "sertraline", "prednisone", "furosemide", "insulin glargine", "ibuprofen"]
DOSES = ["5 mg", "10 mg", "20 mg", "40 mg", "81 mg", "500 mg", "1 g", "25 mcg"]
ROUTES = ["by mouth", "IV", "subcutaneously", "topically"]
FREQS = ["daily", "twice a day", "every 8 hours", "at bedtime", "once weekly"]
DURS = ["for 7 days", "for 2 weeks", "for 3 months"]
REASONS = ["hypertension", "diabetes", "infection", "reflux", "pain", "hypothyroidism", "edema", "depression"]
DISEASES = ["asthma", "type 2 diabetes", "hypertension", "chronic kidney disease", "heart failure", "migraine",
            "psoriasis", "cystic fibrosis", "rheumatoid arthritis", "epilepsy"]
GENES = ["TNF", "IL6", "BRCA1", "CFTR", "APOE", "EGFR", "TP53", "INS", "LEP", "ACE"]
CHEMICALS = ["curcumin", "resveratrol", "metformin", "cisplatin", "dexamethasone", "quercetin", "valproate"]
SPECIES = [["mice"], ["rats"], ["zebrafish"], ["Escherichia", "coli"], ["human"], ["yeast"],
           ["Drosophila", "melanogaster"], ["rhesus", "macaques"], ["Staphylococcus", "aureus"]]
SPECIALTIES = {
    "Cardiovascular / Pulmonary": ("CHEST PAIN", "chest pain on exertion", "an echocardiogram", "a stress test"),
    "Gastroenterology": ("ABDOMINAL PAIN", "epigastric pain after meals", "an upper endoscopy", "a colonoscopy"),
    "Neurology": ("HEADACHE", "recurrent headaches with aura", "an MRI of the brain", "an EEG"),
    "Orthopedic": ("KNEE PAIN", "right knee pain after a fall", "knee radiographs", "physical therapy"),
    "Dermatology": ("RASH", "an itchy rash on both forearms", "a skin biopsy", "a topical steroid trial"),
    "Urology": ("HEMATURIA", "painless blood in the urine", "a cystoscopy", "a renal ultrasound"),
}


def _w(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", newline="")


def _csv(rows: list[list[str]], delimiter: str = ",") -> str:
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def _jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


# ------------------------------------------------------------------------------------------------ NLI / STS


def nli_pairs(rng: random.Random, n: int) -> list[tuple[str, str, str]]:
    out = []
    for _ in range(n):
        drug, dis, dose = rng.choice(DRUGS), rng.choice(DISEASES), rng.choice(DOSES)
        premise = rng.choice([
            f"The patient with {dis} was started on {drug} {dose} daily.",
            f"A nurse gave {drug} to the patient who has {dis}.",
            f"The clinic treats {dis} with {drug} and diet advice.",
        ])
        label = rng.choice(["entailment", "neutral", "contradiction"])
        hypothesis = {
            "entailment": f"The patient receives {drug}.",
            "neutral": f"The patient had side effects from {drug}.",
            "contradiction": f"The patient was never given any {drug}.",
        }[label]
        out.append((premise, hypothesis, label))
    return out


def write_snli(rng: random.Random) -> None:
    for split, n in (("train", 100), ("test", 20)):
        rows = []
        for i, (p, h, label) in enumerate(nli_pairs(rng, n)):
            rows.append({"annotator_labels": [label], "captionID": f"demo{split}{i}.jpg#0", "gold_label": label,
                         "pairID": f"demo{split}{i}.jpg#0r1{label[0]}", "sentence1": p, "sentence2": h})
        _w(HERE / "snli" / "snli_1.0" / f"snli_1.0_{split}.jsonl", _jsonl(rows))


def write_multinli(rng: random.Random) -> None:
    for split, n in (("train", 40), ("dev_matched", 10)):
        rows = [{"annotator_labels": [lab], "genre": rng.choice(["government", "fiction", "travel"]),
                 "gold_label": lab, "pairID": f"9{split[0]}{i:04d}{lab[0]}", "promptID": f"9{split[0]}{i:04d}",
                 "sentence1": p, "sentence2": h} for i, (p, h, lab) in enumerate(nli_pairs(rng, n))]
        _w(HERE / "multinli" / "multinli_1.0" / f"multinli_1.0_{split}.jsonl", _jsonl(rows))


def write_bionli(rng: random.Random) -> None:
    cats = ["SEP", "SEN", "LPR", "swap_number", "generation_nd"]
    for split, n in (("train", 16), ("test", 6)):
        rows = [["index", "pmid", "supp_set", "conclusion", "label_cat"]]
        for i in range(n):
            gene, chem, dis = rng.choice(GENES), rng.choice(CHEMICALS), rng.choice(DISEASES)
            supp = (f"Treatment with {chem} lowered {gene} expression in cultured cells. Mice lacking {gene} "
                    f"developed milder {dis}.")
            pmid = f"9{split[1]}{i:05d}"
            rows.append([str(2 * i), pmid, supp, f"{chem} may ease {dis} by reducing {gene}.", "pos"])
            rows.append([str(2 * i + 1), pmid, supp, f"{chem} may worsen {dis} by increasing {gene}.",
                         rng.choice(cats)])
        _w(HERE / "bionli" / f"{split}.csv", _csv(rows))


def write_stsb(rng: random.Random) -> None:
    header = ["index", "genre", "filename", "year", "old_index", "source1", "source2", "sentence1", "sentence2",
              "score"]
    for split, n in (("train", 60), ("dev", 15), ("test", 5)):
        rows = [header if split != "test" else header[:-1]]
        for i in range(n):
            drug, dis = rng.choice(DRUGS), rng.choice(DISEASES)
            s1 = f"The doctor prescribed {drug} for {dis}."
            level = rng.randint(0, 5)
            s2 = [f"The weather was warm on {rng.choice(['Monday', 'Friday'])}.", "A patient visited the clinic.",
                  f"Someone was treated for {dis}.", f"A drug was prescribed for {dis}.",
                  f"The physician prescribed a medicine, {drug}, for {dis}.",
                  f"{drug.capitalize()} was prescribed by the doctor for {dis}."][level]
            score = f"{min(5.0, max(0.0, level + rng.choice([-0.4, -0.2, 0.0, 0.2, 0.4]))):.3f}"
            row = [str(i), "main-demo", "DEMO", "2025", f"{i:04d}", "none", "none", s1, s2, score]
            rows.append(row if split != "test" else row[:-1])
        _w(HERE / "stsb" / "STS-B" / f"{split}.tsv", _csv(rows, "\t"))


# ------------------------------------------------------------------------------------------------ DC


def write_mtsamples(rng: random.Random) -> None:
    rows = [["", "description", "medical_specialty", "sample_name", "transcription", "keywords"]]
    for i in range(36):
        spec = rng.choice(sorted(SPECIALTIES))
        cc, complaint, test, plan = SPECIALTIES[spec]
        age, drug = rng.randint(22, 84), rng.choice(DRUGS)
        text = (f"CHIEF COMPLAINT:,  {cc.capitalize()}.,HISTORY OF PRESENT ILLNESS:,  This {age}-year-old patient "
                f"reports {complaint} for {rng.choice(['two days', 'three weeks', 'several months'])}.  "
                f"Current medication is {drug}.,ASSESSMENT:,  {cc.capitalize()}, cause to be determined.,PLAN:,"
                f"1.  Obtain {test}.,2.  Consider {plan}.,3.  Follow up in {rng.randint(1, 6)} weeks.")
        rows.append([str(i), f" A {age}-year-old with {complaint}.", f" {spec}", f" {cc.title()} - {i} ", text,
                     f"{spec.lower()}, {cc.lower()}"])
    _w(HERE / "mtsamples" / "mtsamples.csv", _csv(rows))


def write_trialstop(rng: random.Random) -> None:
    reasons = [
        ("Enrollment was slower than expected at all sites.", ["Insufficient_Enrollment"]),
        ("The sponsor ended the program for business reasons.", ["Business_Administrative"]),
        ("An interim analysis showed no benefit over placebo.", ["Negative", "Interim_Analysis"]),
        ("Recruitment was suspended during the COVID-19 pandemic.", ["Covid19"]),
        ("The principal investigator left the institution.", ["Study_Staff_Moved"]),
        ("Serious liver toxicity was seen in the treatment arm.", ["Safety_Sideeffects"]),
        ("The regulator asked for a new protocol.", ["Regulatory"]),
        ("The drug supply ran out and funding ended.", ["Logistics_Resources"]),
        ("The primary endpoint was met early.", ["Endpoint_Met", "Success"]),
        ("A competing study answered the same question.", ["Another_Study"]),
    ]
    rows = []
    for i in range(40):
        text, labels = rng.choice(reasons)
        prefix = rng.choice(["", "Study halted: ", "Terminated. ", "Per sponsor: "])
        rows.append({"text": prefix + text, "nct_id": f"NCT9{i:07d}", "label_descriptions": labels})
    _w(HERE / "trialstop" / "data.json", _jsonl(rows))


def write_czi_drsm(rng: random.Random) -> None:
    labels = ["'-1 - the paper is not a primary experimental study in rare disease'",
              "'0 - the study does not directly investigate quality of life'",
              "'1 - the study investigates qol but not as its primary contribution'",
              "'2 - the study's primary contribution centers on quality of life measures'"]
    rows = [["PMID", "Labeling_State", "Correct_Label", "Explanation", "Agreement", "Title", "Abstract", "vector"]]
    for i in range(24):
        dis, code = rng.choice(DISEASES), rng.randint(0, 3)
        title = [f"A review of treatments for {dis}", f"Genetic variants in {dis}",
                 f"Daily functioning in adults with {dis}", f"Quality of life in children with {dis}"][code]
        abstract = [f"We summarise published therapies for {dis}. No new patients were studied.",
                    f"We sequenced {rng.randint(20, 90)} patients with {dis} and found two variants.",
                    f"We followed {rng.randint(20, 90)} adults with {dis}; fatigue scores were also recorded.",
                    f"We measured quality of life with a validated questionnaire in {rng.randint(20, 90)} "
                    f"children with {dis}."][code]
        rows.append([f"9{i:07d}", "Gold Standard", labels[code], "", "1.0", title, abstract, "[0.1, 0.2]"])
    _w(HERE / "czi_drsm" / "v2" / "qol_all_2022_12_15.tsv", _csv(rows, "\t"))


def write_nli4ct(rng: random.Random) -> None:
    trials = {}
    for i in range(6):
        nct, drug, dis = f"NCT9{i:07d}", rng.choice(DRUGS), rng.choice(DISEASES)
        n, events = rng.randint(30, 90), rng.randint(1, 9)
        trials[nct] = {
            "Clinical Trial ID": nct,
            "Intervention": ["INTERVENTION 1:", f"  {drug.capitalize()} {rng.choice(DOSES)} {rng.choice(FREQS)}"],
            "Eligibility": ["Inclusion Criteria:", f"  Adults with {dis}", "Exclusion Criteria:", "  Pregnancy"],
            "Results": ["Outcome Measurement:", "  Symptom score at 12 weeks", f"  Overall Number of Participants "
                        f"Analyzed: {n}"],
            "Adverse Events": ["Adverse Events 1:", f"  Total: {events}/{n}", f"  nausea {events}/{n}"],
        }
        _w(HERE / "semeval2024_task2_nli4ct" / "training_data" / "CT json" / f"{nct}.json",
           json.dumps(trials[nct], indent=4) + "\n")
    ids = sorted(trials)
    for name, n in (("train.json", 18), ("dev.json", 6)):
        statements = {}
        for i in range(n):
            nct = rng.choice(ids)
            t = trials[nct]
            drug = t["Intervention"][1].split()[0].lower()
            dis = t["Eligibility"][1].split("with ", 1)[1]
            if rng.random() < 0.5:
                section, statement, label = "Intervention", f"The primary trial gives {drug}.", "Entailment"
            elif rng.random() < 0.5:
                section, statement, label = "Eligibility", f"Pregnant women with {dis} can join the primary trial.", \
                    "Contradiction"
            else:
                section, statement, label = "Adverse Events", "No patient in the primary trial had nausea.", \
                    "Contradiction"
            uuid = f"{name[:3]}{i:05d}-demo-4000-8000-{rng.getrandbits(48):012x}"
            statements[uuid] = {"Type": "Single", "Section_id": section, "Primary_id": nct, "Statement": statement,
                                "Label": label}
        _w(HERE / "semeval2024_task2_nli4ct" / "training_data" / name, json.dumps(statements, indent=4) + "\n")


# ------------------------------------------------------------------------------------------------ events


def _offsets(text: str, parts: list[tuple[str, str]]) -> list[list]:
    out, pos = [], 0
    for span, label in parts:
        start = text.index(span, pos)
        out.append([start, start + len(span), label])
        pos = start + len(span)
    return out


def write_clinical_ie(rng: random.Random) -> None:
    attr = [["snippet", "annotations"]]
    status = [["snippet", "active_medications", "discontinued_medications", "neither_medications"]]
    for _ in range(20):
        d1, d2 = rng.sample(DRUGS, 2)
        dose, route, freq, dur, why = (rng.choice(x) for x in (DOSES, ROUTES, FREQS, DURS, REASONS))
        text = f"Started {d1} {dose} {route} {freq} {dur} for {why}. Continue {d2} {rng.choice(FREQS)}."
        parts = [(d1, "Medication1"), (dose, "Dosage1"), (route, "Route1"), (freq, "Frequency1"),
                 (dur, "Duration1"), (why, "Reason1"), (d2, "Medication2")]
        attr.append([text, str(_offsets(text, parts))])
        a, b, c = rng.sample(DRUGS, 3)
        status.append([f"Takes {a} every morning. Stopped {b} last year. Discussed {c} as an option.",
                       f"[{a}]", f"[{b}]", f"[{c}]"])
    # the real corpus has a validation and a test file per config; validation goes to train (mnlu.splits)
    for config, rows in (("medication_attr", attr), ("medication_status", status)):
        _w(HERE / "clinical_ie" / config / "validation.csv", _csv(rows[:16]))
        _w(HERE / "clinical_ie" / config / "test.csv", _csv(rows[:1] + rows[16:]))


def write_sdoh(rng: random.Random) -> None:
    for split, source, n in (("train", "mimic", 10), ("test", "uw", 3)):
        for i in range(n):
            packs, years = rng.choice(["1 pack", "half a pack", "2 packs"]), rng.choice(["10", "20", "30"])
            status = rng.choice(["current", "past"])
            verb = "smokes" if status == "current" else "quit smoking"
            lives = rng.choice(["lives alone", "lives with her daughter", "lives with his wife"])
            job = rng.choice(["works as a teacher", "is retired", "works as a driver"])
            text = f"SOCIAL HISTORY: Patient {verb}, {packs} per day for {years} years. The patient {lives}. " \
                   f"He {job}.\n"
            anns, k = [], 1

            def tb(label: str, span: str, text: str = text, anns: list[str] = anns) -> str:
                nonlocal k
                start = text.index(span)
                anns.append(f"T{k}\t{label} {start} {start + len(span)}\t{span}")
                k += 1
                return f"T{k - 1}"

            trig = tb("Tobacco", verb)
            st = tb("StatusTime", verb)
            amt = tb("Amount", f"{packs} per day")
            dur = tb("Duration", f"for {years} years")
            liv_t = tb("LivingStatus", "lives")
            liv_s = tb("StatusTime", "lives")
            liv_type = tb("TypeLiving", lives)
            emp_words = job.split()[0] if job.startswith("works") else "retired"
            emp_t = tb("Employment", emp_words)
            emp_s = tb("StatusEmploy", emp_words)
            anns += [f"E1\tTobacco:{trig} Status:{st} Amount:{amt} Duration:{dur}",
                     f"E2\tLivingStatus:{liv_t} Status:{liv_s} Type:{liv_type}",
                     f"E3\tEmployment:{emp_t} Status:{emp_s}",
                     f"A1\tStatusTimeVal {st} {status}", "A2\tStatusTimeVal " + liv_s + " current",
                     f"A3\tTypeLivingVal {liv_type} {'alone' if 'alone' in lives else 'with_family'}",
                     f"A4\tStatusEmployVal {emp_s} {'retired' if 'retired' in job else 'employed'}"]
            folder = HERE / "n2c2_2022_sdoh" / split / source
            _w(folder / f"demo{i:03d}.txt", text)
            _w(folder / f"demo{i:03d}.ann", "\n".join(anns) + "\n")


# ------------------------------------------------------------------------------------------------ NER / RE


def write_biored(rng: random.Random) -> None:
    for split, n, start in (("Train", 15, 0), ("Test", 5, 50)):
        docs = []
        for i in range(n):
            pmid = str(90000000 + start + i)
            gene, chem, dis = rng.choice(GENES), rng.choice(CHEMICALS), rng.choice(DISEASES)
            sp = rng.choice(SPECIES[:3])[0]
            title = f"{chem.capitalize()} lowers {gene} in {sp} with {dis}"
            abstract = (f"We treated {sp} with {chem}. Levels of {gene} fell and signs of {dis} improved. "
                        f"The effect of {chem} on {dis} depended on {gene}.")
            text = f"{title} {abstract}"
            ids = {gene: str(1000 + GENES.index(gene)), chem: f"D{900000 + CHEMICALS.index(chem)}",
                   dis: f"D{800000 + DISEASES.index(dis)}", sp: str(10000 + SPECIES.index([sp]))}
            types = {gene: "GeneOrGeneProduct", chem: "ChemicalEntity", dis: "DiseaseOrPhenotypicFeature",
                     sp: "OrganismTaxon"}
            lines = [f"{pmid}|t|{title}", f"{pmid}|a|{abstract}"]
            mentions = []
            for name in (gene, chem, dis, sp):
                pos = 0
                low = text.lower()
                while (at := low.find(name.lower(), pos)) >= 0:
                    mentions.append((at, at + len(name), text[at:at + len(name)], types[name], ids[name]))
                    pos = at + len(name)
            for s, e, m, t, cid in sorted(mentions):
                lines.append(f"{pmid}\t{s}\t{e}\t{m}\t{t}\t{cid}")
            lines.append(f"{pmid}\tNegative_Correlation\t{ids[chem]}\t{ids[gene]}\tNovel")
            lines.append(f"{pmid}\tNegative_Correlation\t{ids[chem]}\t{ids[dis]}\tNovel")
            lines.append(f"{pmid}\tAssociation\t{ids[gene]}\t{ids[dis]}\tNo")
            docs.append("\n".join(lines) + "\n")
        _w(HERE / "biored" / "BioRED" / f"{split}.PubTator", "\n".join(docs))


def _iob_entity(words: list[str], typ: str) -> list[tuple[str, str]]:
    return [(w, ("B-" if j == 0 else "I-") + typ) for j, w in enumerate(words)]


def _iob_file(sentences: list[list[tuple[str, str]]]) -> str:
    """`token<TAB>tag` lines, a blank line between sentences (the LINNAEUS and BC4CHEMD IOB layout)."""
    return "\n".join("".join(f"{w}\t{t}\n" for w, t in words) for words in sentences) + "\n"


def write_linnaeus(rng: random.Random) -> None:
    for split, n in (("train", 30), ("test", 8)):
        sentences = []
        for _ in range(n):
            sp = rng.choice(SPECIES)
            gene = rng.choice(GENES)
            before = rng.choice([["Expression", "of"], ["We", "knocked", "down"], ["Loss", "of"]])
            words = [(w, "O") for w in before] + [(gene, "O"), ("in", "O")]
            words += _iob_entity(sp, "Species")
            words += [(w, "O") for w in rng.choice([["changed", "growth"], ["was", "lethal"], ["had", "no",
                                                                                               "effect"]])]
            words += [(".", "O")]
            sentences.append(words)
        _w(HERE / "linnaeus" / "linnaeus-IOB" / f"{split}.tsv", _iob_file(sentences))


# BC4CHEMD (CHEMDNER, IOB version): a word list of its own so no sentence repeats an evaluation template.
CHEMDNER_CHEMICALS = [["cisplatin"], ["paclitaxel"], ["doxorubicin"], ["tamoxifen"], ["caffeine"], ["ethanol"],
                      ["glucose"], ["dopamine"], ["cholesterol"], ["nitric", "oxide"], ["hydrogen", "peroxide"],
                      ["sodium", "chloride"], ["acetaminophen"], ["5", "-", "fluorouracil"], ["H2O2"], ["NaCl"],
                      ["flavonoids"], ["polyphenols"], ["glutathione"], ["retinoic", "acid"], ["lithium"],
                      ["zinc", "sulfate"], ["capsaicin"], ["melatonin"]]
CHEMDNER_FRAMES = [
    (["Treatment", "with"], ["increased", "the", "activity", "of", "the", "enzyme"]),
    (["The", "uptake", "of"], ["was", "measured", "in", "isolated", "hepatocytes"]),
    (["Exposure", "to"], ["induced", "oxidative", "stress", "in", "cultured", "neurons"]),
    (["We", "synthesised", "analogues", "of"], ["with", "improved", "solubility"]),
    (["Plasma", "levels", "of"], ["were", "determined", "by", "liquid", "chromatography"]),
    (["The", "combination", "of"], ["and", "radiation", "slowed", "tumour", "growth"]),
]


def write_bc4chemd(rng: random.Random) -> None:
    for split, n in (("train", 90), ("devel", 30), ("test", 20)):
        sentences = []
        for _ in range(n):
            before, after = rng.choice(CHEMDNER_FRAMES)
            words = [(w, "O") for w in before]
            for k, chem in enumerate(rng.sample(CHEMDNER_CHEMICALS, rng.choice([1, 1, 2]))):
                if k:
                    words.append(("plus", "O"))
                words += _iob_entity(chem, "Chemical")
            words += [(w, "O") for w in after] + [(".", "O")]
            sentences.append(words)
        _w(HERE / "bc4chemd" / "BC4CHEMD" / f"{split}.tsv", _iob_file(sentences))


# ------------------------------------------------------------------------------------------------ summaries


def write_pubmedsum(rng: random.Random) -> None:
    for split, n in (("train", 8), ("test", 3)):
        rows = []
        for i in range(n):
            chem, dis, gene = rng.choice(CHEMICALS), rng.choice(DISEASES), rng.choice(GENES)
            k = rng.randint(40, 200)
            article = [f"{dis} affects many patients worldwide .", f"{chem} has been proposed as a treatment .",
                       f"we enrolled {k} patients with {dis} and gave {chem} for twelve weeks .",
                       f"symptom scores improved in the {chem} group compared with placebo .",
                       f"levels of {gene.lower()} also fell .", "no serious adverse events were recorded ."]
            abstract = [f"<S> in {k} patients with {dis} , {chem} improved symptoms over twelve weeks . </S>",
                        "<S> it was well tolerated . </S>"]
            rows.append({"article_id": f"PMC9{split[0]}{i:05d}", "article_text": article,
                         "abstract_text": abstract, "labels": None, "section_names": ["introduction", "results"],
                         "sections": [article[:2], article[2:]]})
        _w(HERE / "pubmedsum" / "pubmed-dataset" / f"{split}.txt", _jsonl(rows))


def write_aci_bench(rng: random.Random) -> None:
    for split, n, first in (("train", 5, 1), ("valid", 2, 101)):
        rows = [["dataset", "encounter_id", "dialogue", "note"]]
        for i in range(n):
            spec = rng.choice(sorted(SPECIALTIES))
            cc, complaint, test, plan = SPECIALTIES[spec]
            drug = rng.choice(DRUGS)
            dialogue = "\n".join([
                "[doctor] hi , how are you doing today ?",
                f"[patient] not great . i have had {complaint} .",
                "[doctor] i'm sorry to hear that . when did it start ?",
                f"[patient] about {rng.choice(['two', 'three', 'five'])} days ago .",
                "[doctor] are you taking any medicines ?",
                f"[patient] just {drug} .",
                f"[doctor] okay . i'd like to get {test} and we can consider {plan} .",
                "[patient] sounds good .",
            ])
            note = (f"CHIEF COMPLAINT\n\n{cc.capitalize()}.\n\nHISTORY OF PRESENT ILLNESS\n\nThe patient reports "
                    f"{complaint}. Current medication: {drug}.\n\nPLAN\n\nObtain {test}. Consider {plan}.")
            rows.append([rng.choice(["aci", "virtassist"]), f"D2N{first + i:03d}", dialogue, note])
        _w(HERE / "aci_bench" / "data" / "challenge_data" / f"{split}.csv", _csv(rows))


def write_cdsr(rng: random.Random) -> None:
    splits = {"train": [], "validation": [], "test": []}
    records = []
    for i in range(10):
        dis, chem = rng.choice(DISEASES), rng.choice(CHEMICALS)
        title = f"{chem.capitalize()} for {dis} (demo review {i})"
        doi = f"10.1002/14651858.CD9{i:05d}.pub{rng.randint(2, 4)}"
        split = "train" if i < 7 else ("validation" if i < 8 else "test")
        splits[split].append((title, doi))
        k = rng.randint(3, 12)
        records.append(
            f"Record #{i + 1} of 10\nID: CD9{i:05d}\nTI: {title}\nDOI: {doi}\n"
            f"AB: Abstract - Background: {dis.capitalize()} is common. Objectives: To assess {chem} for {dis}. "
            f"Main results: We included {k} small trials; {chem} may reduce symptoms slightly (low-certainty "
            f"evidence). Plain language summary Does {chem} help people with {dis}? We found {k} small studies. "
            f"{chem.capitalize()} may help a little, but we are not sure.\n")
    for split, rows in splits.items():
        table = [["", "Title", "DOI"]] if split == "train" else [["Title", "DOI"]]
        table += [[str(j), t, d] if split == "train" else [t, d] for j, (t, d) in enumerate(rows)]
        _w(HERE / "cdsr" / "CDSR_data" / f"{split}_title_DOI.csv", _csv(table))
    _w(HERE / "cdsr" / "citation-export.txt", "".join(records))


WRITERS = (write_snli, write_multinli, write_bionli, write_stsb, write_mtsamples, write_trialstop, write_czi_drsm,
           write_nli4ct, write_clinical_ie, write_sdoh, write_biored, write_linnaeus, write_bc4chemd,
           write_pubmedsum, write_aci_bench, write_cdsr)


def main() -> None:
    for writer in WRITERS:
        writer(random.Random(f"{SEED}-{writer.__name__}"))


if __name__ == "__main__":
    main()
