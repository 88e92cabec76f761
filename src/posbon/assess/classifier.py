"""A text classifier trained from the user's own labelled posts: P(promotion), with evidence to read.

posbon ships no model. Real training data (recruitment propaganda) cannot be put in a repository, so every
model is trained by its user (`posbon train --data labelled.jsonl`) on data they hold, and the model card
says what it was trained on.

Model: TF-IDF of character n-grams (char_wb, 2-5) of `normalize(text)`, logistic regression, calibrated with
scikit-learn's CalibratedClassifierCV (isotonic from 1,000 training examples, sigmoid below: isotonic
over-fits small data). Character n-grams need no tokeniser and no per-language resources, which matters for
Tajik, Uzbek and Pashto, and they survive the spelling variation `normalize` does not fold.

Evaluation: a stratified held-out split (25 %). The model saved is the one the held-out numbers describe
(trained on the other 75 %), so the card's metrics are the saved model's, not a retrained one's.

Storage is safe to load: a model directory holds `model.npz` (numeric arrays and the n-gram vocabulary as a
fixed-width unicode array; read with `allow_pickle=False`) and `card.json`. Loading never unpickles, so a
file planted in the data dir cannot run code; the vectoriser and calibrated scorer are rebuilt from the
arrays. (skops.io would also avoid pickle, but needs a list of trusted types kept in step with scikit-learn
internals; plain arrays are simpler to audit.) scikit-learn is needed to train, and at scoring time only
for the TF-IDF vectoriser.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from posbon.domain import Evidence, Problem
from posbon.text.normalize import normalize

if TYPE_CHECKING:
    from sklearn.feature_extraction.text import TfidfVectorizer

LABELS = ("benign", "promotion")  # index = class: 0 benign, 1 promotion
MODEL_FILE = "model.npz"
CARD_FILE = "card.json"
DEFAULT_NAME = "default"
TARGET_PRECISION = 0.9  # evidence is given at the lowest score where held-out precision reaches this
MIN_PER_CLASS = 10
ISOTONIC_FROM = 1000  # training examples from which isotonic calibration is used
TEST_SIZE = 0.25
RELIABILITY_BINS = 10
NGRAMS = (2, 5)
MAX_FEATURES = 300_000
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_VERSION_RE = re.compile(r"^v([0-9]{1,6})$")


class ClassifierError(Exception):
    """A problem the user can act on (one line): too little data, a bad name, an unreadable model."""


# ---- labelled data ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LabelledText:
    text: str
    label: int  # 1 promotion, 0 benign


_LABEL_VALUES: dict[str, int] = {"promotion": 1, "benign": 0, "1": 1, "0": 0}


def _label_of(raw: Any) -> int | None:
    if isinstance(raw, bool):
        return None  # true/false is ambiguous enough to refuse
    if isinstance(raw, int):
        return raw if raw in (0, 1) else None
    if isinstance(raw, str):
        return _LABEL_VALUES.get(raw.strip().lower())
    return None


def read_labelled(path: Path) -> Iterator[LabelledText | Problem]:
    """Labelled examples from JSON Lines: `{"text": "...", "label": "promotion" | "benign" | 1 | 0}`.

    Blank lines are skipped; every other line that cannot be used is a Problem naming its line.
    """
    name = str(path)
    try:
        handle = path.open("rb")
    except OSError as exc:
        yield Problem(name, None, f"cannot read: {exc.strerror or exc}")
        return
    with handle:
        for number, raw_line in enumerate(handle, start=1):
            try:
                line = raw_line.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError:
                yield Problem(name, number, "not UTF-8 text")
                continue
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                yield Problem(name, number, f"not JSON ({exc.msg} at column {exc.colno})")
                continue
            if not isinstance(record, dict):
                yield Problem(name, number, 'expected a JSON object like {"text": ..., "label": ...}')
                continue
            text = record.get("text")
            if not isinstance(text, str) or not text.strip():
                yield Problem(name, number, 'field "text" is missing, empty or not a string')
                continue
            if "label" not in record:
                yield Problem(name, number, 'field "label" is missing')
                continue
            label = _label_of(record["label"])
            if label is None:
                yield Problem(
                    name, number, f'field "label" is {record["label"]!r}: use "promotion", "benign", 1 or 0'
                )
                continue
            yield LabelledText(text, label)


def data_digest(examples: Sequence[LabelledText]) -> str:
    """sha256 over the accepted examples in order (label, tab, text, newline): what a model learnt from."""
    h = hashlib.sha256()
    for e in examples:
        h.update(f"{e.label}\t{e.text}\n".encode())
    return h.hexdigest()


# ---- the scorer (what is saved and loaded) -----------------------------------------------------------------


@dataclass
class ScorerArrays:
    """Everything needed to score a text; plain arrays, so saving and loading never pickle."""

    terms: npt.NDArray[np.str_]  # n-gram vocabulary, index order
    idf: npt.NDArray[np.float64]
    coef: npt.NDArray[np.float64]
    intercept: float
    calibration: str  # "isotonic" | "sigmoid"
    iso_x: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    iso_y: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    sig_a: float = 0.0
    sig_b: float = 0.0

    def vectorizer(self) -> TfidfVectorizer:
        from sklearn.feature_extraction.text import TfidfVectorizer

        vec = _new_vectorizer(TfidfVectorizer, vocabulary={str(t): i for i, t in enumerate(self.terms)})
        vec.idf_ = self.idf
        return vec

    def calibrate(self, decision: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """P(promotion) from the logistic regression's decision value, as the fitted calibrator maps it."""
        if self.calibration == "isotonic":
            # IsotonicRegression(out_of_bounds="clip").predict is linear interpolation, clipped at the ends
            return np.clip(np.interp(decision, self.iso_x, self.iso_y), 0.0, 1.0)
        return 1.0 / (1.0 + np.exp(self.sig_a * decision + self.sig_b))

    def save(self, path: Path) -> None:
        np.savez_compressed(
            path,
            terms=self.terms,
            idf=self.idf,
            coef=self.coef,
            intercept=np.array([self.intercept]),
            calibration=np.array([self.calibration]),
            iso_x=self.iso_x,
            iso_y=self.iso_y,
            sigmoid=np.array([self.sig_a, self.sig_b]),
        )

    @classmethod
    def load(cls, path: Path) -> ScorerArrays:
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = cls(
                    terms=z["terms"],
                    idf=z["idf"].astype(np.float64),
                    coef=z["coef"].astype(np.float64),
                    intercept=float(z["intercept"][0]),
                    calibration=str(z["calibration"][0]),
                    iso_x=z["iso_x"].astype(np.float64),
                    iso_y=z["iso_y"].astype(np.float64),
                    sig_a=float(z["sigmoid"][0]),
                    sig_b=float(z["sigmoid"][1]),
                )
        except (OSError, KeyError, ValueError, IndexError) as exc:
            raise ClassifierError(f"{path}: not a posbon model file ({exc})") from exc
        n = len(arrays.terms)
        if arrays.terms.dtype.kind != "U" or arrays.idf.shape != (n,) or arrays.coef.shape != (n,):
            raise ClassifierError(f"{path}: model arrays do not fit together")
        if arrays.calibration not in ("isotonic", "sigmoid") or arrays.iso_x.shape != arrays.iso_y.shape:
            raise ClassifierError(f"{path}: unknown calibration {arrays.calibration!r}")
        return arrays


def _new_vectorizer(cls: Any, **kwargs: Any) -> Any:
    # lowercase=False: normalize() has case-folded already; dtype float64 so scores match training exactly
    return cls(
        analyzer="char_wb",
        ngram_range=NGRAMS,
        lowercase=False,
        sublinear_tf=True,
        dtype=np.float64,
        **kwargs,
    )


# ---- training ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReliabilityBin:
    low: float
    high: float
    count: int
    mean_predicted: float | None
    fraction_promotion: float | None


@dataclass(frozen=True)
class Evaluation:
    """Held-out evaluation of a trained model. Precision/recall/F1 at p >= 0.5 and at `threshold`."""

    train_size: int
    test_size: int
    calibration: str
    precision: float
    recall: float
    f1: float
    roc_auc: float
    brier: float
    threshold: float | None  # lowest score with held-out precision >= TARGET_PRECISION; None: none reaches
    precision_at_threshold: float | None
    recall_at_threshold: float | None
    reliability: tuple[ReliabilityBin, ...]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["reliability"] = [asdict(b) for b in self.reliability]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Evaluation:
        bins = tuple(ReliabilityBin(**b) for b in d.get("reliability", []))
        return cls(**{**d, "reliability": bins})


def reliability_table(
    y: npt.NDArray[np.int_], p: npt.NDArray[np.float64], bins: int = RELIABILITY_BINS
) -> tuple[ReliabilityBin, ...]:
    """Equal-width bins of predicted probability: how often the texts in each bin really were promotion."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(p, edges[1:-1], right=False), 0, bins - 1)
    out: list[ReliabilityBin] = []
    for b in range(bins):
        mask = index == b
        count = int(mask.sum())
        out.append(
            ReliabilityBin(
                low=round(float(edges[b]), 2),
                high=round(float(edges[b + 1]), 2),
                count=count,
                mean_predicted=round(float(p[mask].mean()), 4) if count else None,
                fraction_promotion=round(float(y[mask].mean()), 4) if count else None,
            )
        )
    return tuple(out)


def _threshold_for_precision(
    y: npt.NDArray[np.int_], p: npt.NDArray[np.float64], target: float
) -> tuple[float | None, float | None, float | None]:
    from sklearn.metrics import precision_recall_curve

    precision, recall, thresholds = precision_recall_curve(y, p)
    # precision[i], recall[i] hold for scores >= thresholds[i]; the last point (1, 0) has no threshold
    ok = [i for i in range(len(thresholds)) if precision[i] >= target and recall[i] > 0]
    if not ok:
        return None, None, None
    best = max(ok, key=lambda i: (recall[i], -thresholds[i]))
    return float(thresholds[best]), float(precision[best]), float(recall[best])


def train(
    examples: Sequence[LabelledText], *, seed: int = 0, test_size: float = TEST_SIZE
) -> tuple[ScorerArrays, Evaluation]:
    """Fit, calibrate and evaluate on a stratified held-out split. ClassifierError on too little data."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import brier_score_loss, precision_recall_fscore_support, roc_auc_score
    from sklearn.model_selection import train_test_split

    labels = np.array([e.label for e in examples], dtype=np.int_)
    counts = {name: int((labels == i).sum()) for i, name in enumerate(LABELS)}
    if min(counts.values()) < MIN_PER_CLASS:
        raise ClassifierError(
            f"need at least {MIN_PER_CLASS} examples of each label, have "
            + ", ".join(f"{n} {k}" for k, n in counts.items())
        )
    texts = [normalize(e.text) for e in examples]
    train_texts, test_texts, y_train, y_test = train_test_split(
        texts, labels, test_size=test_size, stratify=labels, random_state=seed
    )
    vec = _new_vectorizer(
        TfidfVectorizer, min_df=1 if len(train_texts) < 200 else 2, max_features=MAX_FEATURES
    )
    x_train = vec.fit_transform(train_texts)
    method = "isotonic" if len(train_texts) >= ISOTONIC_FROM else "sigmoid"
    folds = int(min(5, max(2, min(np.bincount(y_train)) // 5)))
    model = CalibratedClassifierCV(
        LogisticRegression(C=10.0, max_iter=2000, class_weight="balanced", random_state=seed),
        method=method,
        cv=folds,
        ensemble=False,  # one regression fit on all training data + one calibrator fit out-of-fold
    )
    model.fit(x_train, y_train)
    fitted = model.calibrated_classifiers_[0]
    regression = fitted.estimator
    calibrator = fitted.calibrators[0]
    arrays = ScorerArrays(
        terms=np.array(vec.get_feature_names_out(), dtype=np.str_),
        idf=np.asarray(vec.idf_, dtype=np.float64),
        coef=np.asarray(regression.coef_[0], dtype=np.float64),
        intercept=float(regression.intercept_[0]),
        calibration=method,
    )
    if method == "isotonic":
        arrays.iso_x = np.asarray(calibrator.X_thresholds_, dtype=np.float64)
        arrays.iso_y = np.asarray(calibrator.y_thresholds_, dtype=np.float64)
    else:
        arrays.sig_a, arrays.sig_b = float(calibrator.a_), float(calibrator.b_)

    x_test = vec.transform(test_texts)
    p_test = np.asarray(model.predict_proba(x_test)[:, 1], dtype=np.float64)
    rebuilt = arrays.calibrate(np.asarray(x_test @ arrays.coef, dtype=np.float64) + arrays.intercept)
    if not np.allclose(rebuilt, p_test, atol=1e-6):  # the saved arrays must score as scikit-learn does
        raise RuntimeError("bug: the rebuilt scorer disagrees with scikit-learn's calibrated model")
    y_pred = (p_test >= 0.5).astype(np.int_)
    precision, recall, f1, _ = precision_recall_fscore_support(
        y_test, y_pred, average="binary", pos_label=1, zero_division=0
    )
    threshold, p_at, r_at = _threshold_for_precision(y_test, p_test, TARGET_PRECISION)
    evaluation = Evaluation(
        train_size=len(train_texts),
        test_size=len(test_texts),
        calibration=method,
        precision=round(float(precision), 4),
        recall=round(float(recall), 4),
        f1=round(float(f1), 4),
        roc_auc=round(float(roc_auc_score(y_test, p_test)), 4),
        brier=round(float(brier_score_loss(y_test, p_test)), 4),
        threshold=threshold,  # not rounded: a text scoring exactly the threshold must pass
        precision_at_threshold=None if p_at is None else round(p_at, 4),
        recall_at_threshold=None if r_at is None else round(r_at, 4),
        reliability=reliability_table(y_test, p_test),
    )
    return arrays, evaluation


# ---- saved models ------------------------------------------------------------------------------------------


def models_dir(data_dir: Path) -> Path:
    return data_dir / "models"


def check_name(name: str) -> str:
    if not _NAME_RE.match(name):
        raise ClassifierError(
            f"model name {name!r}: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return name


def _versions(directory: Path) -> list[int]:
    if not directory.is_dir():
        return []
    found = []
    for child in directory.iterdir():
        m = _VERSION_RE.match(child.name)
        if m and (child / CARD_FILE).is_file() and (child / MODEL_FILE).is_file():
            found.append(int(m.group(1)))
    return sorted(found)


def save_model(
    data_dir: Path,
    name: str,
    arrays: ScorerArrays,
    evaluation: Evaluation,
    *,
    examples: Sequence[LabelledText],
    data_source: str,
    problems: int = 0,
) -> Path:
    """Write DATA_DIR/models/NAME/vN/ (N one past the newest) atomically; returns the version directory."""
    import sklearn

    from posbon import __version__

    check_name(name)
    base = models_dir(data_dir) / name
    base.mkdir(parents=True, exist_ok=True)
    existing = [int(m.group(1)) for c in base.iterdir() if (m := _VERSION_RE.match(c.name))]
    version = max(existing, default=0) + 1
    labels = [e.label for e in examples]
    card: dict[str, Any] = {
        "name": name,
        "version": version,
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "labels": list(LABELS),
        "data": {
            "source": data_source,
            "sha256": data_digest(examples),
            "examples": len(examples),
            "per_label": {LABELS[i]: labels.count(i) for i in (0, 1)},
            "lines_skipped": problems,
        },
        "model": {
            "features": f"TF-IDF of char_wb {NGRAMS[0]}-{NGRAMS[1]} n-grams of posbon normalize(text)",
            "classifier": "logistic regression (C=10, balanced classes)",
            "calibration": evaluation.calibration,
            "features_kept": len(arrays.terms),
        },
        "evaluation": evaluation.to_dict(),
        "target_precision": TARGET_PRECISION,
        "sklearn_version": sklearn.__version__,
        "numpy_version": np.__version__,
        "posbon_version": __version__,
        "intended_use": "trained by its user on their own labelled data; posbon ships no model. "
        "Scores send posts to human review; they are not a finding that a post is terrorist content.",
    }
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=base))
    try:
        arrays.save(tmp / MODEL_FILE)
        (tmp / CARD_FILE).write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        target = base / f"v{version}"
        os.rename(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


class TextClassifier:
    """A trained model loaded for scoring. `score` is calibrated P(promotion)."""

    def __init__(self, name: str, version: int, arrays: ScorerArrays, card: dict[str, Any]) -> None:
        self.name = name
        self.version = version
        self.card = card
        self._arrays = arrays
        self._vectorizer = arrays.vectorizer()
        self.evaluation = Evaluation.from_dict(card["evaluation"])
        self.threshold: float | None = self.evaluation.threshold

    def scores(self, texts: Iterable[str]) -> npt.NDArray[np.float64]:
        x = self._vectorizer.transform([normalize(t) for t in texts])
        decision = np.asarray(x @ self._arrays.coef, dtype=np.float64) + self._arrays.intercept
        return self._arrays.calibrate(decision)

    def score(self, text: str) -> float:
        return float(self.scores([text])[0])

    def evidence(self, text: str) -> Evidence | None:
        """Evidence when the score reaches the held-out threshold (precision >= TARGET_PRECISION), else None.

        Weight is the score, and at least 0.5: at the threshold the model was right 9 times in 10 on held-out
        data, which is worth a human look on its own, never a match.
        """
        if self.threshold is None:
            return None
        p = self.score(text)
        if p < self.threshold:
            return None
        ev = self.evaluation
        detail = (
            f"classifier {self.name} v{self.version}: p={p:.2f} (held-out precision "
            f"{ev.precision_at_threshold:.2f}, recall {ev.recall_at_threshold:.2f} "
            f"at p>={self.threshold:.2f})"
        )
        return Evidence(
            kind="classifier",
            detail=detail,
            origin="text",
            weight=round(max(p, 0.5), 4),
            probability=round(p, 4),
        )


def load_model(directory: Path) -> TextClassifier:
    """Load one version directory (`.../models/NAME/vN`). Raises ClassifierError if it is not a model."""
    card_path = directory / CARD_FILE
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
        name, version = str(card["name"]), int(card["version"])
        Evaluation.from_dict(card["evaluation"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ClassifierError(f"{card_path}: not a posbon model card ({exc})") from exc
    return TextClassifier(name, version, ScorerArrays.load(directory / MODEL_FILE), card)


def _trained_at(directory: Path) -> str:
    try:
        return str(json.loads((directory / CARD_FILE).read_text(encoding="utf-8")).get("trained_at", ""))
    except (OSError, ValueError, AttributeError):
        return ""


def latest_dir(data_dir: Path, name: str | None = None) -> Path | None:
    """The newest version of model NAME; without a name, the most recently trained model of any name."""
    root = models_dir(data_dir)
    if name is not None:
        versions = _versions(root / check_name(name))
        return root / name / f"v{versions[-1]}" if versions else None
    if not root.is_dir():
        return None
    candidates = [
        root / child.name / f"v{_versions(child)[-1]}"
        for child in sorted(root.iterdir())
        if child.is_dir() and _NAME_RE.match(child.name) and _versions(child)
    ]
    if not candidates:
        return None
    return max(candidates, key=lambda d: (_trained_at(d), d.parent.name))


def load_latest(data_dir: Path, name: str | None = None) -> TextClassifier | None:
    """The newest trained model (of NAME, or of any name), or None when none was trained."""
    directory = latest_dir(data_dir, name)
    return load_model(directory) if directory is not None else None


def format_metric(value: float | None) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"


__all__ = [
    "ClassifierError",
    "Evaluation",
    "LabelledText",
    "ReliabilityBin",
    "TextClassifier",
    "data_digest",
    "load_latest",
    "load_model",
    "read_labelled",
    "save_model",
    "train",
]
