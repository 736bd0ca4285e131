"""Chunked file encryption (STREAM): every way of rearranging chunks must be caught."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto import (
    STREAM_CHUNK_SIZE,
    STREAM_MAX_CHUNK_SIZE,
    CryptoError,
    StreamOpener,
    StreamSealer,
    field_ad,
    new_data_key,
    open_stream,
    seal_stream,
)

PROPERTY = settings(max_examples=50, deadline=None)
KEY = new_data_key()
AD = field_ad("3f9c2a7d1e8b4c6a9d0e1f2a3b4c5d6e", "attachment.0a1b2c3d4e5f60718293a4b5c6d7e8f9")
PARTS = [b"first chunk", b"second chunk", b"third chunk", b"final chunk"]


def sealed(parts=PARTS, key=KEY, ad=AD) -> tuple[bytes, list[bytes]]:
    header, chunks = seal_stream(key, ad, parts)
    return header, list(chunks)


def opened(header: bytes, chunks: list[bytes], key=KEY, ad=AD) -> list[bytes]:
    return list(open_stream(key, header, ad, chunks))


def flipped(blob: bytes, position: int) -> bytes:
    return blob[:position] + bytes([blob[position] ^ 0x01]) + blob[position + 1 :]


def test_a_sealed_stream_opens_to_the_same_chunks():
    header, chunks = sealed()
    assert opened(header, chunks) == PARTS


@PROPERTY
@given(parts=st.lists(st.binary(max_size=300), max_size=8))
def test_any_chunking_round_trips(parts):
    header, chunks = sealed(parts)
    assert len(chunks) == max(len(parts), 1)
    assert b"".join(opened(header, chunks)) == b"".join(parts)


@PROPERTY
@given(data=st.binary(max_size=2000), size=st.integers(1, 700))
def test_a_file_read_in_chunks_of_any_size_round_trips(data, size):
    pieces = [data[i : i + size] for i in range(0, len(data), size)]
    header, chunks = sealed(pieces)
    assert b"".join(opened(header, chunks)) == data


def test_full_size_chunks_round_trip():
    parts = [bytes([n]) * STREAM_CHUNK_SIZE for n in range(3)] + [b"tail"]
    header, chunks = sealed(parts)
    assert all(len(chunk) == STREAM_CHUNK_SIZE + 16 for chunk in chunks[:3])
    assert opened(header, chunks) == parts


def test_an_empty_file_is_one_empty_final_chunk():
    header, chunks = sealed([])
    assert len(chunks) == 1
    assert opened(header, chunks) == [b""]


def test_the_header_is_a_version_byte_and_a_random_salt():
    header, _ = sealed()
    other, _ = sealed()
    assert header[0] == 1 and len(header) == 17
    assert header != other


def test_dropping_the_final_chunk_fails():
    header, chunks = sealed()
    with pytest.raises(CryptoError):
        opened(header, chunks[:-1])


def test_every_truncation_fails_including_to_nothing():
    header, chunks = sealed()
    for keep in range(len(chunks)):
        with pytest.raises(CryptoError):
            opened(header, chunks[:keep])


def test_reordering_chunks_fails():
    header, chunks = sealed()
    with pytest.raises(CryptoError):
        opened(header, [chunks[1], chunks[0], *chunks[2:]])
    with pytest.raises(CryptoError):
        opened(header, [*chunks[:-2], chunks[-1], chunks[-2]])


def test_a_duplicated_chunk_fails():
    header, chunks = sealed()
    with pytest.raises(CryptoError):
        opened(header, [chunks[0], *chunks])
    with pytest.raises(CryptoError):
        opened(header, [*chunks, chunks[-1]])


def test_a_dropped_middle_chunk_fails():
    header, chunks = sealed()
    with pytest.raises(CryptoError):
        opened(header, [chunks[0], *chunks[2:]])


def test_a_stream_whose_last_chunk_lacks_the_final_flag_fails():
    sealer = StreamSealer(KEY, AD)
    chunks = [sealer.seal_chunk(part, last=False) for part in PARTS]
    with pytest.raises(CryptoError):
        opened(sealer.header, chunks)


def test_a_middle_chunk_cannot_be_passed_off_as_the_final_one():
    header, chunks = sealed()
    opener = StreamOpener(KEY, header, AD)
    with pytest.raises(CryptoError):
        opener.open_chunk(chunks[0], last=True)


def test_a_chunk_from_another_file_fails():
    header, chunks = sealed()
    _, other_chunks = sealed()  # same key, same associated data, other salt
    with pytest.raises(CryptoError):
        opened(header, [other_chunks[0], *chunks[1:]])
    with pytest.raises(CryptoError):
        opened(header, [*chunks[:-1], other_chunks[-1]])


def test_another_files_header_fails():
    _, chunks = sealed()
    other_header, _ = sealed()
    with pytest.raises(CryptoError):
        opened(other_header, chunks)


def test_the_wrong_key_or_associated_data_fails():
    header, chunks = sealed()
    with pytest.raises(CryptoError):
        opened(header, chunks, key=new_data_key())
    with pytest.raises(CryptoError):
        opened(header, chunks, ad=field_ad("3f9c2a7d1e8b4c6a9d0e1f2a3b4c5d6e", "attachment.x"))


def test_a_flipped_byte_anywhere_in_the_header_or_a_chunk_fails():
    header, chunks = sealed([b"ab", b"c"])
    for position in range(len(header)):
        with pytest.raises(CryptoError):
            opened(flipped(header, position), chunks)
    for index, chunk in enumerate(chunks):
        for position in range(len(chunk)):
            damaged = [*chunks[:index], flipped(chunk, position), *chunks[index + 1 :]]
            with pytest.raises(CryptoError):
                opened(header, damaged)


def test_a_bad_header_fails_before_iteration_starts():
    for header in (b"", b"\x01" + bytes(15), b"\x02" + bytes(16), b"\x01" + bytes(17)):
        with pytest.raises(CryptoError):
            open_stream(KEY, header, AD, [])


def test_a_chunk_too_short_or_too_long_to_be_sealed_fails():
    header, _ = sealed()
    for impossible in (b"", bytes(15), bytes(STREAM_MAX_CHUNK_SIZE + 17)):
        with pytest.raises(CryptoError):
            StreamOpener(KEY, header, AD).open_chunk(impossible, last=True)


def test_nothing_is_sealed_after_the_final_chunk():
    sealer = StreamSealer(KEY, AD)
    sealer.seal_chunk(b"only", last=True)
    with pytest.raises(CryptoError):
        sealer.seal_chunk(b"more", last=True)


def test_nothing_is_opened_after_the_final_chunk():
    header, chunks = sealed([b"only"])
    opener = StreamOpener(KEY, header, AD)
    assert opener.open_chunk(chunks[0], last=True) == b"only"
    opener.finish()
    with pytest.raises(CryptoError):
        opener.open_chunk(chunks[0], last=True)


def test_after_a_failure_the_opener_refuses_even_the_right_chunk():
    header, chunks = sealed()
    opener = StreamOpener(KEY, header, AD)
    with pytest.raises(CryptoError):
        opener.open_chunk(chunks[1], last=False)
    with pytest.raises(CryptoError):
        opener.open_chunk(chunks[0], last=False)


def test_finish_fails_until_the_final_chunk_is_opened():
    header, chunks = sealed()
    opener = StreamOpener(KEY, header, AD)
    with pytest.raises(CryptoError):
        opener.finish()
    for chunk in chunks[:-1]:
        opener.open_chunk(chunk, last=False)
    with pytest.raises(CryptoError):
        opener.finish()
    opener.open_chunk(chunks[-1], last=True)
    opener.finish()


def test_oversized_chunks_are_refused_when_sealing():
    with pytest.raises(ValueError, match="chunk larger than"):
        StreamSealer(KEY, AD).seal_chunk(bytes(STREAM_MAX_CHUNK_SIZE + 1), last=True)


def test_sealing_reads_at_most_one_chunk_ahead():
    consumed = []

    def source():
        for part in PARTS:
            consumed.append(part)
            yield part

    _, chunks = seal_stream(KEY, AD, source())
    next(chunks)
    assert len(consumed) == 2  # the first chunk, and the lookahead that proved it not last
