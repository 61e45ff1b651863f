"""Files the library writes and reads: atomic directories, JSON with clear errors, user text as UTF-8."""


def decode_text(raw: bytes) -> str:
    """A user's bytes as text with Unix newlines, or ValueError saying where they are not UTF-8."""
    try:
        return raw.decode("utf-8").replace("\r\n", "\n")
    except UnicodeDecodeError as e:
        raise ValueError(f"The file is not UTF-8 text (byte {e.start} cannot be decoded)") from None
