"""The one exception the crypto package lets escape."""


class CryptoError(Exception):
    """Stored or received material could not be used: tampered, truncated, under the wrong key
    or associated data, of an unknown version, or malformed.

    Callers catch this one class instead of the zoo underneath (InvalidTag, InvalidKey,
    ValueError from key parsing ...). Messages never include key material or plaintext.
    """
