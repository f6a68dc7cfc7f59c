"""Cryptography: KDF, AEAD envelopes, key wrapping, signatures (all via ``cryptography``)."""
