"""Domain rules over a dossier and a date: derived labels and alerts."""

from dossier.rules.alerts import alerts
from dossier.rules.labels import anchor_date, derive_labels

__all__ = ["alerts", "anchor_date", "derive_labels"]
