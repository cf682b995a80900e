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
