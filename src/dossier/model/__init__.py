"""Domain model: fields, 公民身份号码, dates, person profiles, entries and cross-entry rules."""

from dossier.model.dates import parse_date
from dossier.model.dossier_rules import check_dossier
from dossier.model.entries import ENTRY_TYPES, EntryType, normalize_entry, resolve_entry_type
from dossier.model.fields import Field
from dossier.model.idnumber import validate_id_number
from dossier.model.person import PROFILE_FIELDS, normalize_profile

__all__ = ["ENTRY_TYPES", "EntryType", "Field", "PROFILE_FIELDS", "check_dossier", "normalize_entry",
           "normalize_profile", "parse_date", "resolve_entry_type", "validate_id_number"]
