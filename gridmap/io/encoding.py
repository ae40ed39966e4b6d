"""Which text encoding a Shapefile's attributes (or a CSV) are in: ``.cpg`` first, then UTF-8, then GBK/GB18030.

Chinese GIS data comes in two encodings: UTF-8 (newer QGIS/ArcGIS exports) and GBK (older ArcGIS, MapGIS, CAD
conversions), often without the ``.cpg`` file that says which. GDAL then assumes ISO-8859-1 and turns 东华门社区
into ``¶«»ªÃÅÉçÇø`` (mojibake). :func:`detect_encoding` decides as follows, and says why:

1. an explicit ``encoding`` (``--encoding``) wins;
2. a ``.cpg`` next to the ``.shp`` is honoured (``936``/``CP936`` mean GBK);
3. otherwise the raw bytes of the ``.dbf`` (or the CSV) are decoded as UTF-8; if that fails, or produces text that
   looks like mojibake (Latin-1 letters, C1 controls, replacement characters and no CJK), GB18030 (a superset of
   GBK and GB2312) is tried; pure ASCII is reported as UTF-8.

Examples
--------
>>> decode_guess("东华门社区".encode("gbk"))
('GB18030', 'bytes are not valid UTF-8; they decode as GB18030')
>>> decode_guess("东华门社区".encode("utf-8"))[0]
'UTF-8'
>>> looks_like_mojibake("¶«»ªÃÅÉçÇø"), looks_like_mojibake("东华门社区")
(True, False)
"""

from __future__ import annotations

import logging
import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path

__all__ = ["EncodingGuess", "detect_encoding", "decode_guess", "looks_like_mojibake", "CPG_ALIASES"]

log = logging.getLogger(__name__)

#: ``.cpg`` contents (upper-cased) and the Python codec they mean.
CPG_ALIASES: dict[str, str] = {
    "936": "GBK", "CP936": "GBK", "GBK": "GBK", "GB2312": "GBK", "GB18030": "GB18030", "54936": "GB18030",
    "UTF-8": "UTF-8", "UTF8": "UTF-8", "65001": "UTF-8", "ANSI 936": "GBK",
    "ISO-8859-1": "ISO-8859-1", "LATIN1": "ISO-8859-1", "1252": "CP1252", "CP1252": "CP1252",
    "950": "BIG5", "BIG5": "BIG5",
}

#: DBF language-driver ids (byte 29 of the header) that name a Chinese code page.
_LDID = {0x4D: "GBK", 0x7A: "GBK", 0x4E: "BIG5", 0x4F: "BIG5"}

#: How many bytes of a large file are sampled.
_SAMPLE_BYTES = 4 << 20


@dataclass(frozen=True)
class EncodingGuess:
    """The encoding chosen for a file and the reason, for the import report."""

    encoding: str
    reason: str

    def __str__(self) -> str:
        return f"{self.encoding} ({self.reason})"


def looks_like_mojibake(text: str) -> bool:
    """True when ``text`` looks like Chinese bytes decoded with the wrong codec.

    Mojibake from GBK read as Latin-1/CP1252 is full of accented letters and symbols in U+0080–U+00FF and has no
    CJK ideographs; UTF-8 read as Latin-1 shows the ``Ã``/``å``/``ç`` lead bytes. Replacement characters (U+FFFD)
    and C1 control characters count as well.
    """
    if not text:
        return False
    # regular-expression searches (C loops that stop at the first hit), not a Python loop over every character:
    # a 300,000-row CSV is 16 M characters
    if "\ufffd" in text:
        return True
    return _CJK.search(text) is None and _ODD.search(text) is not None  # (Chinese text: the first hit decides)


_CJK = re.compile("[\u4e00-\u9fff\u3400-\u4dbf]")
_ODD = re.compile("[\u0080-\u00ff\ufffd]")


def decode_guess(raw: bytes) -> tuple[str, str]:
    """Choose UTF-8 or GB18030 for ``raw`` bytes: (codec, reason)."""
    if raw.isascii():
        return "UTF-8", "plain ASCII"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and not looks_like_mojibake(text):
        return "UTF-8", "bytes decode as UTF-8"
    try:
        raw.decode("gb18030")
    except UnicodeDecodeError:
        # a truncated multi-byte character at the end of a sample is not evidence
        try:
            raw[:-1].decode("gb18030")
        except UnicodeDecodeError:
            return "UTF-8", "neither UTF-8 nor GB18030 decodes the bytes cleanly; pass --encoding"
    if text is None:
        return "GB18030", "bytes are not valid UTF-8; they decode as GB18030"
    return "GB18030", "UTF-8 decoding gives mojibake; GB18030 decodes them"


def _dbf_text_bytes(dbf: Path) -> bytes:
    """Field names and record bytes of a ``.dbf`` (the parts that carry text), sampled."""
    with open(dbf, "rb") as fh:
        head = fh.read(32)
        if len(head) < 32:
            return b""
        header_len, record_len = struct.unpack_from("<HH", head, 8)
        names = fh.read(max(header_len - 32, 0))
        fields = b"".join(names[i:i + 11].split(b"\x00")[0] for i in range(0, len(names) - 1, 32))
        records = fh.read(_SAMPLE_BYTES)
    return fields + b" " + records


def detect_encoding(path: str | os.PathLike, *, encoding: str | None = None) -> EncodingGuess:
    """The attribute encoding of a Shapefile (``.shp``/``.dbf``) or a CSV, with the reason.

    Parameters
    ----------
    path : the ``.shp``, ``.dbf`` or ``.csv`` file.
    encoding : an explicit choice (``--encoding``); returned as is.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "hs.csv"
    >>> _ = p.write_bytes("社区,户数\\n东华门社区,1200\\n".encode("gbk"))
    >>> detect_encoding(p).encoding
    'GB18030'
    """
    p = Path(path)
    if encoding:
        return EncodingGuess(encoding, "given explicitly")
    suffix = p.suffix.lower()
    if suffix in (".shp", ".dbf", ".shx"):
        cpg = p.with_suffix(".cpg")
        if not cpg.exists():
            cpg = next((c for c in p.parent.glob(p.stem + ".*") if c.suffix.lower() == ".cpg"), cpg)
        if cpg.exists():
            label = cpg.read_text(encoding="ascii", errors="replace").strip().upper()
            codec = CPG_ALIASES.get(label, label or "UTF-8")
            return EncodingGuess(codec, f"from {cpg.name} ({label!r})")
        dbf = next((c for c in p.parent.glob(p.stem + ".*") if c.suffix.lower() == ".dbf"), None)
        if dbf is None:
            return EncodingGuess("UTF-8", "no .dbf found")
        raw = _dbf_text_bytes(dbf)
        codec, reason = decode_guess(raw)
        with open(dbf, "rb") as fh:
            head = fh.read(30)
        ldid = head[29] if len(head) >= 30 else 0
        if codec == "UTF-8" and not raw.isascii() and _LDID.get(ldid):
            codec, reason = _LDID[ldid], f"no .cpg; the .dbf language driver id 0x{ldid:02X} says so"
        guess = EncodingGuess(codec, "no .cpg; " + reason)
    else:
        with open(p, "rb") as fh:
            raw = fh.read(_SAMPLE_BYTES)
        if raw.startswith(b"\xef\xbb\xbf"):
            return EncodingGuess("utf-8-sig", "UTF-8 byte-order mark")
        codec, reason = decode_guess(raw)
        guess = EncodingGuess(codec, reason)
    log.info("encoding of %s: %s", p.name, guess)
    return guess
