"""Reading text a user or a spreadsheet wrote: UTF-8 with or without a byte-order mark,
UTF-16 and UTF-32 (with their mark, as Excel's "Unicode text" writes them), CRLF or CR line
ends, and, for files that are not valid UTF-8, Windows-1252 (Excel's "CSV" on Windows, a
superset of Latin-1 for printable text). Files are always written back as UTF-8 with LF."""

from __future__ import annotations

import codecs
import logging
import os
from pathlib import Path

from repro.core.errors import ReproError

log = logging.getLogger("repro.textio")

BOMS = ((codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
        (codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"))


def decode(data: bytes, where: str, *, newlines: bool = True) -> tuple[str, str]:
    """(text, the encoding it was read as); line ends made LF unless `newlines` is False (a
    CSV parser reads CRLF itself, and a CR inside a quoted field is data)."""
    for bom, enc in BOMS:
        if data.startswith(bom):
            try:
                text = data[len(bom):].decode(enc)
            except UnicodeDecodeError as exc:
                raise ReproError(f"{where}: damaged {enc} text at byte {exc.start + len(bom)}; "
                                 "save it again as UTF-8") from None
            break
    else:
        try:
            text, enc = data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            try:
                text, enc = data.decode("cp1252"), "cp1252"
            except UnicodeDecodeError:
                text, enc = data.decode("latin-1"), "latin-1"
            log.warning("%s is not UTF-8; read as %s (save it as UTF-8 to be sure)", where, enc)
    if "\0" in text:
        raise ReproError(f"{where} holds NUL characters: it is binary or in an encoding without "
                         "a byte-order mark; save it as UTF-8 text")
    return (text.replace("\r\n", "\n").replace("\r", "\n") if newlines else text), enc


def read_text(path: str | os.PathLike, what: str = "") -> str:
    """A text file's content (see decode); an unreadable file is one line naming `what`."""
    where = f"{what} {path}".strip()
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ReproError(f"{where}: cannot read it ({exc.strerror or exc}); give a readable text file") from None
    return decode(data, where)[0]


class TextFile:
    """A text file read from its start only as far as a reader asks (`prefix`), decoded as
    read_text decodes it: a calibration set keeps its first 16,384 tokens, so a 50 MB file is
    neither read nor tokenised whole. The encoding is decided by the bytes read (a byte-order
    mark, else UTF-8, else Windows-1252); the first 64 KiB are read at once, so an unreadable
    or binary file fails before any model loads."""

    def __init__(self, path: str | os.PathLike, what: str = ""):
        self.path = Path(path)
        self.where = f"{what} {path}".strip()
        try:
            self.size = self.path.stat().st_size
        except OSError as exc:
            raise ReproError(f"{self.where}: cannot read it ({exc.strerror or exc}); give a "
                             "readable text file") from None
        self.prefix(1 << 14)

    def __str__(self) -> str:
        return str(self.path)

    def prefix(self, chars: int) -> tuple[str, bool]:
        """(the first `chars` characters, fewer where the file ends first; whether that is
        the whole text). At most 4 bytes per character plus a byte-order mark are read."""
        want = 4 * chars + 4
        try:
            with open(self.path, "rb") as f:
                data = f.read(want)
        except OSError as exc:
            raise ReproError(f"{self.where}: cannot read it ({exc.strerror or exc}); give a "
                             "readable text file") from None
        whole = len(data) >= self.size
        if not whole:
            data = _whole_chars(data)
        text = decode(data, self.where)[0]
        if not whole and text.endswith("\r"):  # its "\n" may follow: read again next time
            text = text[:-1]
        return text[:chars], whole and len(text) <= chars


def _whole_chars(data: bytes) -> bytes:
    """`data` without a character cut at its end (a partial UTF-8, UTF-16 or UTF-32 unit)."""
    for bom, enc in BOMS:
        if data.startswith(bom):
            unit = 4 if "32" in enc else 2 if "16" in enc else 1
            body = data[len(bom):]
            body = body[:len(body) - len(body) % unit]
            if unit == 2 and len(body) >= 2:  # a high surrogate waiting for its partner
                last = body[-2:] if enc.endswith("le") else body[-2:][::-1]
                if 0xD8 <= last[1] <= 0xDB:
                    body = body[:-2]
            return bom + body if unit > 1 else bom + _utf8_whole(body)
    return _utf8_whole(data)


def _utf8_whole(data: bytes) -> bytes:
    """Drop a UTF-8 sequence the end of `data` cuts (at most 3 bytes of a 4-byte character)."""
    for back in range(1, min(4, len(data)) + 1):
        b = data[-back]
        if b < 0x80:
            return data
        if b >= 0xC0:  # a lead byte: whole if its sequence fits
            need = 2 if b < 0xE0 else 3 if b < 0xF0 else 4
            return data if back >= need else data[:-back]
    return data
