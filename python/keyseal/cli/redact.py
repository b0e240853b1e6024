"""``keyseal redact`` and ``keyseal scan``: stream files or stdin through the redaction engine.

Input is read in large blocks. Each block is redacted up to ``OVERLAP`` bytes before its end;
that tail, plus ``CONTEXT`` bytes of already-written text before it, is carried into the next
block, so a secret (or a key name and its value) split across two reads is seen whole. The
engine moves the cut past any secret that straddles it.
"""

from __future__ import annotations

import argparse
import os
import queue
import sys
import threading
from collections.abc import Iterator
from typing import Any, BinaryIO, Literal

from keyseal._native import Redactor
from keyseal.cli import _common as c

__all__ = ["cmd_redact", "cmd_scan", "register"]

CHUNK = 4 << 20
# Longer than any single secret the catalogue matches (a PEM private key block is the longest).
OVERLAP = 64 << 10
# Left context kept for rules that look back: key names before `=`, schemes before `://`.
CONTEXT = 4 << 10


def register(subparsers: Any) -> None:
    """Register the ``redact`` and ``scan`` subcommands on an argparse subparsers object."""
    p = c.add_command(
        subparsers,
        "redact",
        help="copy files (or stdin) to stdout with secrets replaced",
        description="Copy FILEs (or stdin) to stdout with every secret replaced by a mask. "
        "Exit status: 0 done, 2 error (a missing file, an unknown rule, output that cannot be written).",
        example="""
            keyseal redact app.log > app.redacted.log
            kubectl logs pod/web | keyseal redact --mode partial
        """,
    )
    p.add_argument("files", nargs="*", metavar="FILE", help="input files; none or '-' reads stdin")
    p.add_argument("-o", "--output", help="write here instead of stdout (never one of the inputs)")
    p.add_argument(
        "--mode",
        choices=["mask", "partial"],
        default="mask",
        help="mask: [REDACTED:<rule>]; partial: keep the last 4 characters of long secrets",
    )
    _common(p)
    p.set_defaults(func=cmd_redact)

    s = c.add_command(
        subparsers,
        "scan",
        help="report secrets in files, directories (recursively) or stdin; exit 1 if any",
        description="Report where secrets are (file, line, column, rule), never the secrets. "
        "Exit status: 0 none found, 1 found, 2 error (and nothing else).",
        example="""
            keyseal scan --json logs/           # every file under logs/
            git diff | keyseal scan && echo clean
        """,
    )
    s.add_argument("files", nargs="*", metavar="PATH", help="files or directories; none or '-' reads stdin")
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
    try:
        engine = Redactor(mode=mode, disable=list(args.disable), use_known=False)
    except ValueError as exc:
        raise c.UserError(f"--disable: {exc}") from None
    if args.secrets_file:
        try:
            with open(args.secrets_file, "rb") as fh:
                data = fh.read()
        except IsADirectoryError:
            raise c.UserError(f"--secrets-file {args.secrets_file}: is a directory") from None
        except OSError as exc:
            raise c.UserError(f"--secrets-file {args.secrets_file}: {exc.strerror}") from None
        for line in data.splitlines():
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
    fd = os.open(path, os.O_RDONLY)
    if os.path.isdir(path):
        os.close(fd)
        raise IsADirectoryError(21, "Is a directory", path)
    return fd, True


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _expand(paths: list[str]) -> Iterator[str]:
    """Files named, and every regular file under the directories named (sorted, symlinks not followed)."""
    for path in paths:
        if path != "-" and os.path.isdir(path):
            for root, dirs, files in os.walk(path):
                dirs.sort()
                for name in sorted(files):
                    full = os.path.join(root, name)
                    if os.path.isfile(full) and not os.path.islink(full):
                        yield full
        else:
            yield path


def cmd_redact(args: argparse.Namespace) -> int:
    engine = _engine(args, args.mode)
    inputs = args.files or ["-"]
    if args.output:
        # Opening the output truncates it: were it also an input, its content would be gone
        # before it was read.
        clash = [p for p in inputs if p != "-" and _same_file(p, args.output)]
        if clash or (args.output == "/dev/stdin"):
            raise c.UserError(f"-o {args.output} is also an input: write elsewhere, then rename")
        if os.path.isdir(args.output):
            raise c.UserError(f"-o {args.output}: is a directory")
        try:
            out: BinaryIO = open(args.output, "wb")  # noqa: SIM115
        except OSError as exc:
            raise c.UserError(f"-o {args.output}: {exc.strerror}") from None
    else:
        out = sys.stdout.buffer
    status = 0
    try:
        for path in inputs:
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
        out.flush()
    finally:
        if args.output:
            out.close()
    return status


def cmd_scan(args: argparse.Namespace) -> int:
    engine = _engine(args)
    found: list[dict[str, Any]] = []
    status = 0
    paths = list(_expand(args.files or ["-"]))
    many = len(paths) > 1
    with c.progress("scan", total=len(paths), enabled=many) as bar:
        for path in paths:
            try:
                status = max(status, _scan_one(engine, path, found, args.json))
            finally:
                if many:
                    bar.update(advance=1, note=f"{len(found):,} found")
    if args.json:
        c.print_json(found)
    elif found:
        print(f"{len(found)} secret(s) found", file=sys.stderr)
    if status:
        return status
    return 1 if found else 0


def _scan_one(engine: Redactor, path: str, found: list[dict[str, Any]], as_json: bool) -> int:
    name = "<stdin>" if path == "-" else path
    try:
        fd, close = _open(path)
    except OSError as exc:
        print(f"keyseal scan: {path}: {exc.strerror}", file=sys.stderr)
        return 2
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
                if not as_json:
                    print(f"{name}:{line}:{col}: {f.kind}")
            keep_from = max(_end - CONTEXT, 0)
            line += buf.count(b"\n", counted, keep_from) if keep_from > counted else 0
            counted = max(counted, keep_from)
    finally:
        if close:
            os.close(fd)
    return 0
