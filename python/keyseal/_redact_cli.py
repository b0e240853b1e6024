"""``keyseal redact`` and ``keyseal scan``: stream files or stdin through the redaction engine.

Input is read in large blocks. Each block is redacted up to ``OVERLAP`` bytes before its end;
that tail, plus ``CONTEXT`` bytes of already-written text before it, is carried into the next
block, so a secret (or a key name and its value) split across two reads is seen whole. The
engine moves the cut past any secret that straddles it.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import sys
import threading
from collections.abc import Iterator
from typing import Any, BinaryIO, Literal

from keyseal._native import Redactor

__all__ = ["add_redact_parsers", "cmd_redact", "cmd_scan"]

CHUNK = 4 << 20
# Longer than any single secret the catalogue matches (a PEM private key block is the longest).
OVERLAP = 64 << 10
# Left context kept for rules that look back: key names before `=`, schemes before `://`.
CONTEXT = 4 << 10


def add_redact_parsers(subparsers: Any) -> None:
    """Register the ``redact`` and ``scan`` subcommands on an argparse subparsers object."""
    p = subparsers.add_parser(
        "redact",
        help="copy files (or stdin) to stdout with secrets replaced",
        description="Copy FILEs (or stdin) to stdout with every secret replaced by a mask.",
    )
    p.add_argument("files", nargs="*", metavar="FILE", help="input files; none or '-' reads stdin")
    p.add_argument("-o", "--output", help="write here instead of stdout")
    p.add_argument(
        "--mode",
        choices=["mask", "partial"],
        default="mask",
        help="mask: [REDACTED:<rule>]; partial: keep the last 4 characters of long secrets",
    )
    _common(p)
    p.set_defaults(func=cmd_redact)

    s = subparsers.add_parser(
        "scan",
        help="report secrets in files (or stdin); exit 1 if any",
        description="Report where secrets are (file, line, column, rule), never the secrets. "
        "Exit status: 0 none found, 1 found, 2 error.",
    )
    s.add_argument("files", nargs="*", metavar="FILE", help="input files; none or '-' reads stdin")
    s.add_argument("--json", action="store_true", help="print a JSON array of findings")
    _common(s)
    s.set_defaults(func=cmd_scan)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--disable", action="append", default=[], metavar="RULE", help="switch off a rule id (repeatable)"
    )
    p.add_argument(
        "--secrets-file",
        metavar="PATH",
        help="known secret values to look for, one per line (never pass secrets on the command line)",
    )


def _engine(args: argparse.Namespace, mode: Literal["mask", "partial"] = "mask") -> Redactor:
    engine = Redactor(mode=mode, disable=list(args.disable))
    if args.secrets_file:
        with open(args.secrets_file, "rb") as fh:
            for line in fh.read().splitlines():
                if line.strip():
                    engine.add_secret(line.strip())
    return engine


def _blocks(fd: int) -> Iterator[bytes]:
    """Blocks of input, read ahead on a thread so disk or pipe time overlaps the redaction."""
    # os.read returns what is available, so a pipe is processed as it arrives; it releases the
    # GIL, as does the engine, so the two really run side by side.
    q: queue.Queue[bytes | BaseException] = queue.Queue(maxsize=3)

    def reader() -> None:
        try:
            while True:
                block = os.read(fd, CHUNK)
                q.put(block)
                if not block:
                    return
        except BaseException as exc:  # handed to the consumer, which raises it
            q.put(exc)

    threading.Thread(target=reader, name="keyseal-read", daemon=True).start()
    while True:
        item = q.get()
        if isinstance(item, BaseException):
            raise item
        if not item:
            return
        yield item


class _Writer:
    """Writes on a thread, so output time overlaps the redaction of the next window."""

    def __init__(self, out: BinaryIO) -> None:
        self._q: queue.Queue[bytes | None] = queue.Queue(maxsize=3)
        self._out = out
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="keyseal-write", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (data := self._q.get()) is not None:
            if self._error is None:
                try:
                    self._out.write(data)
                except BaseException as exc:
                    self._error = exc

    def write(self, data: bytes) -> None:
        if self._error is not None:
            raise self._error
        self._q.put(data)

    def close(self) -> None:
        self._q.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error
        self._out.flush()


def _windows(engine: Redactor, fd: int, scan: bool) -> Iterator[tuple[bytes, int, Any]]:
    """Yield (buffer, buffer's offset in the stream, window result) for each window."""
    buf = b""
    base = 0
    emit_from = 0
    blocks = _blocks(fd)
    while True:
        block = next(blocks, b"")
        final = not block
        if block:
            buf = buf + block if buf else block
        emit_to = len(buf) if final else len(buf) - OVERLAP
        if emit_to > emit_from:
            if scan:
                result: Any = engine.scan_window(buf, emit_from, emit_to)
            else:
                result = engine.redact_window(buf, emit_from, emit_to)
            yield buf, base, result
            end = result[1]
            keep = max(end - CONTEXT, 0)
            buf = buf[keep:]
            base += keep
            emit_from = end - keep
        if final:
            return


def _open(path: str) -> tuple[int, bool]:
    if path == "-":
        return sys.stdin.fileno(), False
    return os.open(path, os.O_RDONLY), True


def cmd_redact(args: argparse.Namespace) -> int:
    engine = _engine(args, args.mode)
    out: BinaryIO
    out = open(args.output, "wb") if args.output else sys.stdout.buffer  # noqa: SIM115
    status = 0
    try:
        for path in args.files or ["-"]:
            try:
                fd, close = _open(path)
            except OSError as exc:
                print(f"keyseal redact: {path}: {exc.strerror}", file=sys.stderr)
                status = 2
                continue
            writer = _Writer(out)
            try:
                for _buf, _base, (data, _end) in _windows(engine, fd, scan=False):
                    writer.write(data)
            finally:
                writer.close()
                if close:
                    os.close(fd)
    finally:
        if args.output:
            out.close()
    return status


def cmd_scan(args: argparse.Namespace) -> int:
    engine = _engine(args)
    found: list[dict[str, Any]] = []
    status = 0
    for path in args.files or ["-"]:
        name = "<stdin>" if path == "-" else path
        try:
            fd, close = _open(path)
        except OSError as exc:
            print(f"keyseal scan: {path}: {exc.strerror}", file=sys.stderr)
            status = 2
            continue
        try:
            line = 1  # line number at the start of the current buffer
            counted = 0  # buffer offset up to which newlines are counted into `line`
            prev_base = 0
            for buf, base, (findings, _end) in _windows(engine, fd, scan=True):
                # The buffer was trimmed at its front since the previous window: shift.
                counted -= base - prev_base
                prev_base = base
                for f in findings:
                    line += buf.count(b"\n", counted, f.start)
                    counted = f.start
                    col = f.start - (buf.rfind(b"\n", 0, f.start) + 1) + 1
                    item = {
                        "file": name,
                        "line": line,
                        "column": col,
                        "kind": f.kind,
                        "offset": base + f.start,
                        "length": f.end - f.start,
                    }
                    found.append(item)
                    if not args.json:
                        print(f"{name}:{line}:{col}: {f.kind}")
                keep_from = max(_end - CONTEXT, 0)
                line += buf.count(b"\n", counted, keep_from) if keep_from > counted else 0
                counted = max(counted, keep_from)
        finally:
            if close:
                os.close(fd)
    if args.json:
        json.dump(found, sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif found:
        print(f"{len(found)} secret(s) found", file=sys.stderr)
    if status:
        return status
    return 1 if found else 0
