"""Hand a person's file to another office: signed, encrypted transfer bundles
(issue 13; docs/transfer-format.md)."""

from .keys import PublicKey, ensure, normalize_fingerprint, root_fingerprint, trust_add, trust_remove, trusted
from .service import export, import_bundle, show, transfers

__all__ = ["PublicKey", "ensure", "export", "import_bundle", "normalize_fingerprint", "root_fingerprint", "show",
           "transfers", "trust_add", "trust_remove", "trusted"]
