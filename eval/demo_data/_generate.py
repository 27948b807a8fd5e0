"""Writes the demo BLURB evaluation set: small, made-up test files in the exact distributed layout of each dataset.

Nothing here is copied from a real corpus: every sentence, abstract, id and label below was written for this
project (invented drug and gene names mixed with common ones), so a fresh machine without `shared/data` can run
`mnlu eval --data-dir eval/demo_data` through the real adapters. `python -m eval.demo_data._generate` rewrites the
committed files byte for byte (a test checks this). Entities are written inline as `[span|Type]`; the writers turn
them into IOB2/IO token files (tokenised as the MTL/BLURB files are: punctuation and hyphens split off) or into the
masked relation sentences (`@CHEMICAL$`, `@GENE$`, `@CHEM-GENE$`, `@DRUG$`) of the BLURB TSVs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from itertools import combinations
from pathlib import Path

HERE = Path(__file__).resolve().parent

_TOKEN = re.compile(r"\d+(?:\.\d+)+|\w+\+?|[^\w\s]")  # 6.1 | CD8+ | word | one punctuation mark
_MARK = re.compile(r"\[([^\[\]|]+)\|(\w+)\]")


def _w(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", newline="")


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _plain(text: str) -> str:
    if "[" in text or "]" in text or "|" in text:
        raise ValueError(f"unbalanced entity markup in {text!r}")
    return text


def tagged(sentence: str, *, keep: Iterable[str] | None = None, scheme: str = "IOB2") -> list[tuple[str, str]]:
    """`[span|Type]` markup → (token, tag) pairs; types outside `keep` are left untagged (`O`)."""
    kept = None if keep is None else set(keep)
    out: list[tuple[str, str]] = []
    pos = 0
    for m in _MARK.finditer(sentence):
        out += [(t, "O") for t in tokenize(_plain(sentence[pos : m.start()]))]
        words, typ = tokenize(m.group(1)), m.group(2)
        if kept is not None and typ not in kept:
            out += [(t, "O") for t in words]
        else:
            out += [(t, f"{'B' if k == 0 and scheme == 'IOB2' else 'I'}-{typ}") for k, t in enumerate(words)]
        pos = m.end()
    return out + [(t, "O") for t in tokenize(_plain(sentence[pos:]))]


def iob_block(pairs: Sequence[tuple[str, str]]) -> str:
    """One sentence: `token<TAB>tag` lines, then the blank separator line."""
    return "".join(f"{token}\t{tag}\n" for token, tag in pairs) + "\n"


def entities(sentence: str) -> list[tuple[str, str]]:
    """(span text, key) of each `[span|key]`, in text order."""
    return [(m.group(1), m.group(2)) for m in _MARK.finditer(sentence)]


def masked(sentence: str, masks: dict[str, str]) -> str:
    """The sentence with the entities keyed in `masks` replaced by their mask, the others as plain text."""
    return _MARK.sub(lambda m: masks.get(m.group(2), m.group(1)), sentence)


def space_tokenized(sentence: str) -> str:
    """HoC's BLURB text style: tokens joined by single spaces (`cells ( MDR1 , MRP1 ) .`)."""
    return " ".join(tokenize(_plain(sentence)))


# ----------------------------------------------------------------------------------------------------- NER

# BC5CDR: one token stream, two files (chemicals, diseases), as in the real BC5CDR-chem/-disease pair.
BC5CDR = [
    "[Valtorazine|Chemical]-induced [hepatotoxicity|Disease] in a patient treated for "
    "[chronic hepatitis C|Disease].",
    "A 64-year-old woman developed [acute kidney injury|Disease] after two cycles of [cisplatin|Chemical] given "
    "with [quenofibrate|Chemical].",
    "Serum [potassium|Chemical] rose to 6.1 mmol/L, and the [hyperkalemia|Disease] resolved when "
    "[lumexapril|Chemical] was withdrawn.",
    "No [seizures|Disease] or [QT prolongation|Disease] were recorded in rats given [tivazolam|Chemical] at "
    "30 mg/kg.",
    "Pretreatment with [N-acetylcysteine|Chemical] reduced the [cardiac fibrosis|Disease] caused by "
    "[doxorubicin|Chemical] in mice.",
    "Three weeks after starting [lithium carbonate|Chemical], he presented with [confusion|Disease], "
    "[tremor|Disease] and [polyuria|Disease].",
    "The incidence of [major bleeding|Disease] was higher with [warfarin|Chemical] plus [aspirin|Chemical] than "
    "with [warfarin|Chemical] alone.",
    "[Zarnexolol|Chemical], a new beta-blocker, did not worsen [asthma|Disease] in 42 volunteers.",
    "Patients with [type 2 diabetes|Disease] or [obesity|Disease] were excluded from the trial.",
    "Levels of [dopamine|Chemical] and [serotonin|Chemical] fell in the striatum of animals with "
    "[haloperidol|Chemical]-induced [catalepsy|Disease].",
    "Follow-up visits were scheduled every four weeks.",
]

NCBI_DISEASE = [
    "Germline mutations in ORDN1 cause an autosomal dominant form of [hereditary spastic paraplegia|Disease].",
    "Carriers of the truncating allele had a fourfold risk of [early-onset breast cancer|Disease] and of "
    "[ovarian cancer|Disease].",
    "[Duchenne muscular dystrophy|Disease] results from the loss of dystrophin in skeletal muscle.",
    "We describe two siblings with [congenital cataracts|Disease], [hearing loss|Disease] and [ataxia|Disease].",
    "No association was found between the KLP9 haplotype and [Parkinson disease|Disease].",
    "[Familial adenomatous polyposis|Disease] ([FAP|Disease]) predisposes to [colorectal cancer|Disease] at a "
    "young age.",
    "Deficiency of the enzyme leads to [Tay-Sachs disease|Disease], a fatal [neurodegenerative disorder|Disease] "
    "of infancy.",
    "Fibroblasts from affected individuals grew normally in culture.",
    "The SFRA2 variant segregated with [retinitis pigmentosa|Disease] in all 11 affected relatives.",
]

BC2GM = [
    "Expression of [TMRX4|GENE] was induced by [interleukin-6|GENE] in hepatoma cells.",
    "The [epidermal growth factor receptor|GENE] ([EGFR|GENE]) inhibitor dorametinib blocked phosphorylation "
    "of [ERK1/2|GENE].",
    "A 2.4-kb fragment of the [KLP9|GENE] promoter contained two binding sites for [Sp1|GENE].",
    "Mutant [p53|GENE] failed to activate transcription of [p21|GENE].",
    "We cloned a cDNA encoding [neurexin-like kinase 7|GENE] from a rat brain library.",
    "Levels of [insulin|GENE] and [leptin|GENE] mRNA were measured by quantitative PCR.",
    "[HAPR3|GENE] interacts with the C-terminal domain of [RNA polymerase II|GENE].",
    "Treated cultures showed no change in morphology or viability.",
    "Antibodies against [SFRA2|GENE] stained the nuclei but not the cytoplasm of testis sections.",
]

# JNLPBA: abstracts opened by `-DOCSTART-<TAB>O` and a blank line; five typed entity classes.
JNLPBA = [
    [
        "Activation of [NF-kappa B|protein] in [Jurkat T cells|cell_line] requires [TMRX4|protein].",
        "The [IL-2 promoter|DNA] contains a binding site for [NF-kappa B|protein].",
        "[IL-2 mRNA|RNA] accumulated within 2 h of stimulation in [peripheral blood T lymphocytes|cell_type].",
    ],
    [
        "[Monocytes|cell_type] treated with LPS expressed high levels of [TNF-alpha|protein] and "
        "[c-fos mRNA|RNA].",
        "A mutation in the [kappa B site|DNA] abolished induction of the reporter in [U937 cells|cell_line].",
        "These data suggest that [KLP9|protein] acts upstream of [STAT3|protein].",
    ],
    [
        "[Erythroid progenitor cells|cell_type] express the [GATA-1 gene|DNA] from an upstream promoter.",
        "Transfection of [K562 cells|cell_line] with antisense [GATA-1 RNA|RNA] reduced [globin|protein] "
        "synthesis.",
        "Binding of [GATA-1|protein] to the [globin enhancer|DNA] was confirmed by gel shift assays.",
        "Cell viability did not differ between the groups.",
    ],
]

# EBM PICO: IO tags; each abstract opens with `-DOCSTART- (PMID)` (a space, not a TAB) and a blank line.
EBM_PICO = [
    ("99000101", [
        "Effect of [oral valtorazine|INT] versus [placebo|INT] on [nausea and vomiting|OUT] in "
        "[adults receiving emetogenic chemotherapy|PAR]: a randomised trial.",
        "[Complete response|OUT] was more frequent with valtorazine (64% vs 41%; P = 0.003).",
    ]),
    ("99000102", [
        "[Ninety-six children aged 6–12 years with persistent asthma|PAR] were assigned to "
        "[inhaled budesonide|INT] or [montelukast|INT] for 12 weeks.",
        "The primary outcome was [FEV1|OUT]; [symptom-free days|OUT] and [rescue inhaler use|OUT] were secondary.",
    ]),
    ("99000103", [
        "We enrolled [142 patients ≥ 65 years with atrial fibrillation|PAR].",
        "[Lumexapril 5 mg daily|INT] did not change the [stroke rate|OUT] compared with [usual care|INT].",
    ]),
    ("99000104", [
        "[Women with gestational diabetes|PAR] were randomised to [metformin|INT] or [insulin|INT].",
        "[Neonatal hypoglycaemia|OUT] occurred less often with metformin.",
        "[Maternal weight gain|OUT] was similar in both arms.",
    ]),
    ("99000105", [
        "[Structured exercise training|INT] for [older adults with knee osteoarthritis|PAR]: effects on "
        "[pain|OUT] and [walking speed|OUT].",
        "The [control group|INT] received [education leaflets|INT] only.",
    ]),
    ("99000106", [
        "[Zarnexolol 25 µg|INT] was compared with [propranolol|INT] in [patients with essential tremor|PAR].",
        "[Tremor amplitude|OUT] fell by 38% with zarnexolol and by 21% with propranolol.",
    ]),
    ("99000107", [
        "[Smokers attending primary care|PAR] received [brief counselling plus nicotine patches|INT] or "
        "[counselling alone|INT].",
        "[Biochemically verified abstinence|OUT] at six months was 18% versus 9%.",
    ]),
    ("99000108", [
        "[Adults with chronic low back pain|PAR] were allocated to [acupuncture|INT], [sham acupuncture|INT] or "
        "[usual care|INT].",
        "[Disability scores|OUT] and [analgesic use|OUT] were recorded at 26 weeks.",
    ]),
]


def write_ner() -> None:
    for folder, keep in (("BC5CDR-chem", {"Chemical"}), ("BC5CDR-disease", {"Disease"})):
        _w(HERE / folder / "test.tsv", "".join(iob_block(tagged(s, keep=keep)) for s in BC5CDR))
    _w(HERE / "NCBI-disease" / "test.tsv", "".join(iob_block(tagged(s)) for s in NCBI_DISEASE))
    _w(HERE / "BC2GM" / "test.tsv", "".join(iob_block(tagged(s)) for s in BC2GM))
    _w(HERE / "JNLPBA" / "test.tsv",
       "".join("-DOCSTART-\tO\n\n" + "".join(iob_block(tagged(s)) for s in doc) for doc in JNLPBA))
    _w(HERE / "EBM-PICO" / "test.tsv",
       "".join(f"-DOCSTART- ({pmid})\n\n" + "".join(iob_block(tagged(s, scheme="IO")) for s in sents)
               for pmid, sents in EBM_PICO))


# ------------------------------------------------------------------------------------------ relations

# ChemProt (BLURB): `PMID.Tx.Ty<TAB>sentence<TAB>label`, no header. Keys: C = chemical, G = gene, CG = a mention
# that is both (masked @CHEM-GENE$). Each candidate pair is (key, key, label).
CHEMPROT = [
    ("99100001", "[Dorametinib|C1] inhibited [MEK1|G1] and [MEK2|G2] with nanomolar potency but did not affect "
                 "[ERK2|G3] at concentrations up to 10 μM.",
     [("C1", "G1", "CPR:4"), ("C1", "G2", "CPR:4"), ("C1", "G3", "false")]),
    ("99100002", "[Zarnexolol|C1] is a selective antagonist of the [β1-adrenergic receptor|G1] with weak partial "
                 "agonism at [β3-adrenoceptors|G2].",
     [("C1", "G1", "CPR:6"), ("C1", "G2", "CPR:5")]),
    ("99100003", "Treatment with [forskolin|C1] increased [TMRX4|G1] expression, whereas [valtorazine|C2] had "
                 "no effect.",
     [("C1", "G1", "CPR:3"), ("C2", "G1", "false")]),
    ("99100004", "[CYP3A4|G1] converts [tivazolam|C1] to its active metabolite [4-hydroxytivazolam|C2].",
     [("C1", "G1", "CPR:9"), ("C2", "G1", "CPR:9")]),
    ("99100005", "[Ostracept|C1] acted as a full agonist at the [GPR119|G1] receptor and enhanced "
                 "glucose-stimulated [insulin|G2] secretion.",
     [("C1", "G1", "CPR:5"), ("C1", "G2", "CPR:3")]),
    ("99100006", "[Naloxone|C1] fully reversed the \"rebound\" analgesia, showing that it is mediated by the "
                 "[mu-opioid receptor|G1].",
     [("C1", "G1", "CPR:6")]),
    ("99100007", "Circulating [angiotensin II|CG1] fell after four weeks of [lumexapril|C1], an [ACE|G1] "
                 "inhibitor.",
     [("CG1", "CG1", "false"), ("C1", "G1", "CPR:4")]),
]


def _chemprot_mask(key: str) -> str:
    if key.startswith("CG"):
        return "@CHEM-GENE$"
    return "@CHEMICAL$" if key.startswith("C") else "@GENE$"


def write_chemprot() -> None:
    rows = []
    for pmid, sentence, pairs in CHEMPROT:
        numbers: dict[str, tuple[int, ...]] = {}
        t = 1
        for _, key in entities(sentence):  # T-numbers as in the BioCreative files; a CG mention has two
            numbers[key] = (t, t + 1) if key.startswith("CG") else (t,)
            t += len(numbers[key])
        for a, b, label in pairs:
            ids = numbers[a] if a == b else (numbers[a][0], numbers[b][0])
            text = masked(sentence, {a: _chemprot_mask(a), b: _chemprot_mask(b)})
            rows.append(f"{pmid}.T{ids[0]}.T{ids[1]}\t{text}\t{label}\n")
    _w(HERE / "ChemProt" / "blurb" / "test.tsv", "".join(rows))


# DDI 2013 (BLURB): every pair of drug mentions in a sentence is a candidate (`.pN` in mention order); pairs not
# listed are DDI-false. DrugBank sentences keep the trailing space of the real files.
DDI = [
    ("DrugBank", "d901", [
        ("[Ketoconazole|D1], a strong CYP3A4 inhibitor, increased the AUC of [valtorazine|D2] threefold.",
         {("D1", "D2"): "DDI-mechanism"}),
        ("[Valtorazine|D1] should not be combined with other [QT-prolonging drugs|D2] such as [tivazolam|D3].",
         {("D1", "D2"): "DDI-advise", ("D1", "D3"): "DDI-advise"}),
        ("[Valtorazine|D1] may enhance the sedative effect of [alcohol|D2] and [benzodiazepines|D3].",
         {("D1", "D2"): "DDI-effect", ("D1", "D3"): "DDI-effect"}),
    ]),
    ("DrugBank", "d902", [
        ("Interactions have been reported between [lumexapril|D1] and [lithium|D2].",
         {("D1", "D2"): "DDI-int"}),
        ("Concomitant use of [lumexapril|D1] and [potassium-sparing diuretics|D2] may cause hyperkalemia.",
         {("D1", "D2"): "DDI-effect"}),
    ]),
    ("MedLine", "d150", [
        ("[Rifampin|D1] reduced plasma concentrations of [zarnexolol|D2] by 60% in healthy volunteers.",
         {("D1", "D2"): "DDI-mechanism"}),
        ("No interaction was observed between [zarnexolol|D1] and [digoxin|D2].", {}),
        ("An interaction of [warfarin|D1] with [pemofloxacin|D2] was suspected in two case reports.",
         {("D1", "D2"): "DDI-int"}),
    ]),
]


def write_ddi() -> None:
    rows = []
    for source, doc, sentences in DDI:
        for s, (sentence, labels) in enumerate(sentences):
            keys = [key for _, key in entities(sentence)]
            for p, (a, b) in enumerate(combinations(keys, 2)):
                text = masked(sentence, {a: "@DRUG$", b: "@DRUG$"}) + (" " if source == "DrugBank" else "")
                rows.append(f"DDI-{source}.{doc}.s{s}.p{p}\t{text}\t{labels.get((a, b), 'DDI-false')}\n")
    _w(HERE / "DDI" / "blurb" / "test.tsv", "".join(rows))


# GAD: header `index<TAB>sentence<TAB>label`, index 0..n-1, both masks in every row, label 1 = association.
GAD = [
    ("The rs4410 variant of @GENE$ was associated with an increased risk of @DISEASE$ in a Finnish cohort.", 1),
    ("Allele frequencies of the @GENE$ Arg72Pro polymorphism did not differ between patients with @DISEASE$ "
     "and controls.", 0),
    ("Homozygous carriers of the KLP9 deletion in @GENE$ had earlier onset of @DISEASE$ (P = 0.002).", 1),
    ("We found no evidence that @GENE$ promoter haplotypes influence susceptibility to @DISEASE$.", 0),
    ("The -308A allele of @GENE$ conferred a twofold risk of @DISEASE$ in children.", 1),
    ("Neither @GENE$ genotype nor smoking status predicted @DISEASE$ after adjustment for age.", 0),
    ("Our data suggest that the I/D polymorphism of @GENE$ contributes to @DISEASE$ in hypertensive patients.", 1),
    ("@DISEASE$ was not linked to markers flanking @GENE$ in 23 multiplex families.", 0),
    ("A missense mutation in @GENE$ was found in 9 of 40 unrelated patients with @DISEASE$.", 1),
    ("Serum levels of the @GENE$ product were similar in @DISEASE$ and in healthy subjects.", 0),
    ("The @GENE$ Val158Met genotype modified the risk of @DISEASE$ among heavy drinkers.", 1),
    ("The association between @GENE$ and @DISEASE$ reported earlier was not replicated.", 0),
]


def write_gad() -> None:
    rows = ["index\tsentence\tlabel\n"]
    for i, (sentence, label) in enumerate(GAD):
        if "@GENE$" not in sentence or "@DISEASE$" not in sentence:
            raise ValueError(f"GAD row {i}: both @GENE$ and @DISEASE$ are needed")
        rows.append(f"{i}\t{sentence}\t{label}\n")
    _w(HERE / "GAD" / "test.tsv", "".join(rows))


# -------------------------------------------------------------------------------------- BIOSSES, HoC, QA

# BIOSSES (BLURB): header `pair_id<TAB>sent1<TAB>sent2<TAB>score`, a one-decimal mean of five 0–4 ratings. The
# demo's ratings agree, so each mean is a whole number (the real test set has fractions); one sentence keeps a
# U+00A0 no-break space, as some real ones do.
BIOSSES = [
    (101, "Valtorazine blocks the 5-HT3 receptor in the area postrema.",
     "Valtorazine acts as an antagonist of 5-HT3 receptors in the brainstem vomiting centre.", 4),
    (102, "Loss of TMRX4 slowed the proliferation of hepatoma cells.",
     "Hepatoma cells lacking TMRX4 divided more slowly than control cells.", 4),
    (103, "KLP9 is phosphorylated by Src family kinases after growth factor stimulation.",
     "Growth factors activate Src, which then targets several adaptor proteins.", 2),
    (104, "Mutant p53 accumulates in the nucleus of many tumour cells.",
     "Metformin lowers hepatic glucose output in people with type 2 diabetes.", 0),
    (105, "Silencing of SFRA2 reduced the invasion of melanoma cells through Matrigel.",
     "SFRA2 knockdown made melanoma cells less invasive.", 4),
    (106, "HAPR3 binds the C-terminal domain of RNA polymerase II.",
     "RNA polymerase II is required for transcription of most protein-coding genes.", 1),
    (107, "Dorametinib inhibits MEK1 and MEK2 in BRAF-mutant melanoma.",
     "MEK inhibitors such as dorametinib are active in melanomas that carry BRAF mutations.", 3),
    (108, "Autophagy protects cancer cells from nutrient deprivation.",
     "Under starvation, tumour cells survive by digesting their own organelles.", 3),
    (109, "The IL-6 promoter contains a binding site for NF-kappa\u00a0B.",
     "Zebrafish fins regenerate within two weeks of amputation.", 0),
    (110, "Ostracept raised insulin secretion in isolated islets.",
     "Ostracept is a GPR119 agonist, and insulin release from islets depends on glucose.", 2),
]


def write_biosses() -> None:
    rows = ["pair_id\tsent1\tsent2\tscore\n"]
    rows += [f"{pid}\t{s1}\t{s2}\t{score:.1f}\n" for pid, s1, s2, score in BIOSSES]
    _w(HERE / "BIOSSES" / "blurb" / "test.tsv", "".join(rows))


# HoC (BLURB): header `labels<TAB>sentence<TAB>index`, one row per sentence, ten `k_v` flags (k = the alphabetical
# hallmark index, eval.benchmarks.choice.HOC_LABELS), index `PMID_sN`, space-tokenised text, raw quotes.
HOC = [
    ("99200001", [
        ("TMRX4 is overexpressed in 60% of hepatocellular carcinomas.", ()),
        ("Knockdown of TMRX4 arrested cells in G1 and blocked EGF-driven proliferation.", (8,)),
        ("TMRX4-depleted tumours grew more slowly in nude mice.", (8,)),
    ]),
    ("99200002", [
        ("Dorametinib induced caspase-3 cleavage and apoptosis in BRAF-mutant melanoma cells.", (7,)),
        ("Cells that survived showed increased glycolysis and lactate release.", (2,)),
    ]),
    ("99200003", [
        ("\"Escape\" from immune surveillance is a feature of advanced colorectal cancer.", (1,)),
        ("Tumours with low HLA class I expression contained fewer cytotoxic T cells.", (1,)),
        ("Tumour-associated macrophages released IL-6 and promoted chronic inflammation.", (9,)),
    ]),
    ("99200004", [
        ("SFRA2 silencing reduced the invasion of melanoma cells through Matrigel.", (0,)),
        ("Mice injected with SFRA2-deficient cells developed fewer lung metastases.", (0,)),
    ]),
    ("99200005", [
        ("Tumour cells secreted VEGF and stimulated endothelial tube formation.", (6,)),
        ("Microvessel density was higher in tumours with high HAPR3 expression.", (6,)),
    ]),
    ("99200006", [
        ("Telomerase activity was detected in 85% of the neuroblastoma samples.", (3,)),
        ("Loss of KLP9 caused chromosomal instability and aneuploidy.", (5,)),
        ("Cells lacking KLP9 bypassed the Rb checkpoint.", (4,)),
    ]),
    ("99200007", [
        ("We measured serum ferritin in 312 healthy blood donors.", ()),
        ("Values did not differ by age or sex.", ()),
    ]),
    ("99200008", [
        ("Valtorazine inhibited NF-kappa B signalling in colitis-associated tumours (P < 0.01).", (9,)),
        ("It also restored p16 expression and reactivated growth arrest.", (4,)),
    ]),
    ("99200009", [
        ("BRCA1-deficient cells accumulated DNA double-strand breaks after cisplatin.", (5,)),
        ("Combined with a PARP inhibitor, cisplatin triggered apoptosis in these cells.", (7,)),
    ]),
    ("99200010", [
        ("Ostracept shifted tumour metabolism from glycolysis to oxidative phosphorylation.", (2,)),
        ("The treated xenografts expressed less hTERT and more p21.", (3, 4)),
    ]),
]


def write_hoc() -> None:
    rows = ["labels\tsentence\tindex\n"]
    for pmid, sentences in HOC:
        for n, (sentence, on) in enumerate(sentences):
            flags = ",".join(f"{k}_{int(k in on)}" for k in range(10))
            rows.append(f"{flags}\t{space_tokenized(sentence)}\t{pmid}_s{n}\n")
    _w(HERE / "HoC" / "blurb" / "test.tsv", "".join(rows))


# PubMedQA (PQA-L): ori_pqal.json holds every item; test_ground_truth.json the test PMIDs and labels. Both are
# `json.dumps(indent=4)` (non-ASCII as \u escapes) with no trailing newline. The last two items are not in test.
PUBMEDQA = [
    ("99300001", "Does valtorazine reduce delayed nausea after cisplatin chemotherapy?",
     [("BACKGROUND", "Delayed nausea remains common after cisplatin despite 5-HT3 antagonists."),
      ("METHODS", "Adults receiving cisplatin were randomised to valtorazine or placebo on days 2–4."),
      ("RESULTS", "Complete control of delayed nausea was achieved in 58% versus 33% (P < 0.001).")],
     ["Antiemetics", "Cisplatin", "Nausea"], "2019",
     "Valtorazine reduced delayed nausea after cisplatin compared with placebo.", "yes"),
    ("99300002", "Is serum TMRX4 a marker of early hepatocellular carcinoma?",
     [("OBJECTIVE", "We asked whether circulating TMRX4 identifies small hepatocellular carcinomas."),
      ("RESULTS", "TMRX4 was raised in 71% of patients with tumours below 2 cm and in 6% of cirrhotic "
                  "controls; the area under the curve was 0.86.")],
     ["Biomarkers, Tumor", "Carcinoma, Hepatocellular", "Liver Neoplasms"], "2021",
     "Serum TMRX4 distinguished early hepatocellular carcinoma from cirrhosis with good accuracy.", "yes"),
    ("99300003", "Does a nurse-led telephone follow-up reduce readmissions after heart failure?",
     [("BACKGROUND", "Readmission within 30 days is frequent after hospitalisation for heart failure."),
      ("METHODS", "In a cluster trial, 14 wards offered weekly nurse calls or usual discharge care."),
      ("RESULTS", "Readmission rates were 21% and 22% (risk ratio 0.95, 95% CI 0.78–1.16).")],
     ["Heart Failure", "Patient Readmission", "Telephone"], "2018",
     "Weekly telephone follow-up did not reduce 30-day readmissions.", "no"),
    ("99300004", "Is lumexapril associated with angioedema more often than other ACE inhibitors?",
     [("BACKGROUND", "Angioedema is a rare but serious adverse effect of ACE inhibitors."),
      ("RESULTS", "Among 48 210 new users, the incidence was 1.9 per 1000 with lumexapril and 1.7 per 1000 "
                  "with other ACE inhibitors; the difference was not significant.")],
     ["Angioedema", "Angiotensin-Converting Enzyme Inhibitors"], None,
     "The risk of angioedema with lumexapril was similar to that of other ACE inhibitors.", "no"),
    ("99300005", "Do children with asthma benefit from vitamin D supplementation during winter?",
     [("BACKGROUND", "Low vitamin D has been linked with asthma exacerbations."),
      ("METHODS", "Schoolchildren with asthma received vitamin D3 or placebo from October to March."),
      ("RESULTS", "Exacerbations were fewer with vitamin D (rate ratio 0.78), but the confidence interval "
                  "crossed 1, and only children with baseline deficiency appeared to benefit.")],
     ["Asthma", "Child", "Vitamin D"], "2017",
     "Vitamin D may reduce winter exacerbations in deficient children; a larger trial is needed.", "maybe"),
    ("99300006", "Does KLP9 expression predict survival in pancreatic cancer?",
     [("METHODS", "KLP9 staining was scored in 205 resected pancreatic adenocarcinomas."),
      ("RESULTS", "High KLP9 was associated with shorter survival in univariable analysis (HR 1.6), but not "
                  "after adjustment for stage and margin status.")],
     ["Pancreatic Neoplasms", "Prognosis"], "2020",
     "KLP9 may carry prognostic information, but it was not independent of stage.", "maybe"),
    ("99300007", "Is zarnexolol as effective as propranolol for essential tremor?",
     [("METHODS", "Adults with essential tremor received zarnexolol 25 µg or propranolol 80 mg for 8 weeks "
                  "in a crossover design."),
      ("RESULTS", "Tremor scores improved by 38% and 35%; the margin of non-inferiority was met.")],
     ["Adrenergic beta-Antagonists", "Essential Tremor", "Propranolol"], "2022",
     "Zarnexolol was non-inferior to propranolol for essential tremor.", "yes"),
    ("99300008", "Does preoperative carbohydrate loading shorten hospital stay after colorectal surgery?",
     [("BACKGROUND", "Carbohydrate drinks before surgery are part of enhanced recovery protocols."),
      ("RESULTS", "In 310 patients, the median stay was 5 days in both groups, and complications did not "
                  "differ.")],
     ["Colorectal Surgery", "Dietary Carbohydrates", "Length of Stay"], "2016",
     "Carbohydrate loading did not shorten the hospital stay.", "no"),
    ("99300009", "Are night-shift nurses at higher risk of type 2 diabetes?",
     [("BACKGROUND", "Circadian disruption may impair glucose metabolism."),
      ("RESULTS", "Over 12 years, nurses with more than 5 years of rotating night shifts had a hazard ratio "
                  "of 1.18 (95% CI 0.97–1.44) for type 2 diabetes.")],
     ["Diabetes Mellitus, Type 2", "Nurses", "Shift Work Schedule"], "2015",
     "Long-term night-shift work might modestly increase the risk, but the estimate was imprecise.", "maybe"),
    ("99300010", "Does ostracept improve glycaemic control in type 2 diabetes?",
     [("METHODS", "Adults with HbA1c ≥ 7.5% on metformin added ostracept or placebo for 24 weeks."),
      ("RESULTS", "HbA1c fell by 0.9 percentage points more with ostracept (P < 0.001).")],
     ["Diabetes Mellitus, Type 2", "Hypoglycemic Agents"], "2023",
     "Ostracept improved glycaemic control when added to metformin.", "yes"),
    ("99300011", "Is hand-held dynamometry reliable in older inpatients?",
     [("METHODS", "Two raters measured grip strength in 64 inpatients aged 75 years or older."),
      ("RESULTS", "The intraclass correlation was 0.94.")],
     ["Hand Strength", "Reproducibility of Results"], "2014",
     "Grip strength measured by hand-held dynamometry was reliable.", "yes"),
    ("99300012", "Does music during colonoscopy reduce sedation requirements?",
     [("RESULTS", "Patients who listened to music received the same midazolam dose as controls.")],
     ["Colonoscopy", "Music"], "2013",
     "Music did not reduce sedation requirements.", "no"),
]
PUBMEDQA_TEST = 10  # the first ten items


def write_pubmedqa() -> None:
    pqal = {}
    for pmid, question, contexts, meshes, year, long_answer, decision in PUBMEDQA:
        pqal[pmid] = {
            "QUESTION": question, "CONTEXTS": [c for _, c in contexts], "LABELS": [lab for lab, _ in contexts],
            "MESHES": meshes, "YEAR": year, "reasoning_required_pred": decision, "reasoning_free_pred": decision,
            "final_decision": decision, "LONG_ANSWER": long_answer,
        }
    truth = {pmid: item[-1] for pmid, *item in PUBMEDQA[:PUBMEDQA_TEST]}
    _w(HERE / "PubMedQA" / "ori_pqal.json", json.dumps(pqal, indent=4))
    _w(HERE / "PubMedQA" / "test_ground_truth.json", json.dumps(truth, indent=4))


WRITERS = (write_ner, write_chemprot, write_ddi, write_gad, write_biosses, write_hoc, write_pubmedqa)


def main() -> None:
    for writer in WRITERS:
        writer()


if __name__ == "__main__":
    main()
