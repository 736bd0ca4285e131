"""The package's surface: what it exports and what it is allowed to depend on."""

import ast
from pathlib import Path

import crypto

AGREED_API = {
    "CryptoError",
    "KdfProfile",
    "PRODUCTION",
    "FAST",
    "profile_named",
    "derive_key",
    "hash_password",
    "verify_password",
    "password_hash_profile",
    "new_data_key",
    "seal",
    "open_sealed",
    "field_ad",
    "generate_keypair",
    "public_key_of",
    "wrap_key",
    "unwrap_key",
    "wrap_private_key",
    "unwrap_private_key",
    "wrapped_key_profile",
    "RECEIPT_DIGITS",
    "new_receipt",
    "normalize_receipt",
    "format_receipt",
    "ReporterKeys",
    "derive_reporter_keys",
    "STREAM_CHUNK_SIZE",
    "StreamSealer",
    "StreamOpener",
    "seal_stream",
    "open_stream",
    "encode_recovery_code",
    "decode_recovery_code",
}
# Additions beyond the agreed list, each documented where it is defined.
EXTRAS = {"STREAM_MAX_CHUNK_SIZE", "derive_subkey"}

# Pure computation only: no web framework, no database, no files, sockets or clocks.
ALLOWED_IMPORTS = {
    "__future__",
    "collections",
    "cryptography",
    "dataclasses",
    "hashlib",
    "hmac",
    "re",
    "secrets",
    "unicodedata",
}


def test_the_package_exports_the_agreed_api():
    assert set(crypto.__all__) == AGREED_API | EXTRAS
    for name in crypto.__all__:
        assert hasattr(crypto, name), name


def test_crypto_imports_only_cryptography_and_pure_standard_modules():
    package = Path(crypto.__file__).parent
    for source in package.glob("*.py"):
        tree = ast.parse(source.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] in ALLOWED_IMPORTS, f"{source.name} imports {name}"


def test_crypto_error_is_a_plain_exception_not_a_value_error():
    # Callers that catch ValueError for form parsing must not swallow a tampering alarm by accident.
    assert issubclass(crypto.CryptoError, Exception)
    assert not issubclass(crypto.CryptoError, ValueError)
