"""Harvesting pages on another core: a big run's metadata and drift reading (:func:`harvest`)
goes to a worker process while the event loop keeps fetching and judging.

Why a process: harvesting is pure CPU (an lxml parse, the metadata chain, the drift
fingerprint), about a quarter of a first night's CPU; in a thread it would only fight the loop
for the GIL. Why not always: a worker costs a Python start-up and its imports (about 0.12 s of
the other core, ready 0.12 s after it is asked for) and each page a pickle each way (about
0.06 ms of the loop's time against the 0.5 ms the harvest takes), which a small run never
earns back.

- *When:* only in a run that expects to read more than :data:`START_AFTER` pages in full (its
  links with nothing to carry over: a first night, ``--force``, the monthly refresh); a steady
  night, where most pages carry over, never starts it. Such a run starts the pool as soon as
  it knows (:meth:`HarvestPool.expect`, before its first request), and while the worker boots
  pages are harvested on the loop (a run never waits for the start). A caller that never said
  what it expects gets the pool only after its first :data:`START_AFTER` pages. Only a page
  that is read (a live verdict with a body) counts and travels: a failure's harvest is a few
  lookups.
- *How many:* one worker per spare CPU, at most :data:`MAX_WORKERS`; none on a single CPU.
  ``LINKKEEPER_HARVEST_WORKERS`` overrides the count (``0``: never) and
  ``LINKKEEPER_HARVEST_AFTER`` the threshold (``0``: from the first page); for tests and
  measurements.
- *How:* each worker is a fresh ``python -c`` process (never a ``fork``: this process has
  threads, the ledger's writer among them, and a forked child inherits their locks in whatever
  state; not ``multiprocessing``, whose resource tracker would be a third process of 12 MiB)
  with a pipe each way, driven by the loop itself: a page is pickled and written without blocking,
  answers are read when the loop sees them arrive. No thread in between:
  :class:`concurrent.futures.ProcessPoolExecutor` was tried first, and its helper threads,
  waiting for the GIL of a saturated loop, made each page's round trip tens of milliseconds:
  the run got no faster than harvesting on the loop.
- *While a worker has a page*, its link holds no request: a run may have :attr:`queue` more
  links under way than its concurrency (:meth:`HarvestPool.expect`), so the loop fetches
  others meanwhile; the fetcher still bounds the requests in flight, overall and per host.
- *What travels:* the reading, the judgement with its page (without the parse:
  :meth:`FetchResult.__getstate__`; the worker parses again) and the arXiv paper the reading
  needs (the worker has no run context); back comes the small :class:`Harvest` and the log
  records the harvest made, replayed here. At most :attr:`HarvestPool.queue` pages (and
  :data:`QUEUE_BYTES`) are at the pool at once; a page beyond that is harvested on the loop, so
  bodies never pile up and both cores work when the worker falls behind.
- *When it fails:* a worker that dies (or a page that cannot be pickled) leaves its pages to
  be harvested on the loop; logged once. The results are the same either way: the same
  function reads the same page.
- *Ctrl-C:* workers start with SIGINT blocked and then ignore it (a terminal sends it to the
  whole process group; the parent alone decides what an interrupt means). :meth:`close` drops
  what is queued (the worker stops after the page it holds) and joins the workers, so their
  CPU time is counted in this process's (``wait4``, ``getrusage``).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import pickle
import signal
import struct
import subprocess
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from linkkeeper.check.metadata import harvest, papers_for, reads_page

if TYPE_CHECKING:
    from linkkeeper.check.metadata import Harvest
    from linkkeeper.core import Reading
    from linkkeeper.judges import ArxivPaper, Judgement

log = logging.getLogger(__name__)

WORKERS_ENV = "LINKKEEPER_HARVEST_WORKERS"
AFTER_ENV = "LINKKEEPER_HARVEST_AFTER"
MAX_WORKERS = 2  # the loop stays the bottleneck: more workers would only idle
START_AFTER = 200  # pages read on the loop first; fewer expected: no pool (start-up > gain)
QUEUE_PER_WORKER = 128  # pages at a worker: it keeps busy while the loop is busy elsewhere
QUEUE_BYTES = 16 * 1024 * 1024  # pickled pages at the pool (a few PDFs), whatever their number
JOIN_SECONDS = 1.0  # a worker still busy after this at close is terminated (its page is moot)
HEADER = struct.Struct("!Q")  # each message: its length, then a pickle
READY = -1  # the key of a worker's first message: it has started


def default_workers() -> int:
    """One per CPU this process may use beyond the loop's, at most :data:`MAX_WORKERS`."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return max(0, min(MAX_WORKERS, cpus - 1))


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    try:
        return max(0, int(raw)) if raw else default
    except ValueError:
        log.warning("ignoring %s=%r: not a whole number", name, raw)
        return default


class HarvestPool:
    """Where one run's pages are harvested: on the loop, or in worker processes once the run
    is big enough (module docstring). Started lazily, from the loop; :meth:`close` it at the
    end of the run, interrupted or not."""

    def __init__(
        self, workers: int | None = None, start_after: int | None = None, queue: int | None = None
    ) -> None:
        self.workers = _env_int(WORKERS_ENV, default_workers()) if workers is None else workers
        self.start_after = _env_int(AFTER_ENV, START_AFTER) if start_after is None else start_after
        self.queue = self.workers * QUEUE_PER_WORKER if queue is None else queue
        self.expected: int | None = None  # pages the run expects to read (None: unknown)
        self.read = 0  # pages read this run (the ones that may travel)
        self.pooled = 0  # of those, harvested by a worker
        self._running: list[_Worker] = []
        self._started = False
        self._told = False  # a failure was logged (once a run)

    async def harvest(
        self,
        reading: Reading,
        judgement: Judgement,
        papers: Mapping[str, ArxivPaper] | None = None,
    ) -> Harvest | None:
        """:func:`~linkkeeper.check.metadata.harvest`, here or in a worker; the same result.
        While a worker has the page, this coroutine waits and the loop serves the others."""
        if not reads_page(judgement):
            return harvest(reading, judgement, papers)
        self.read += 1
        worker = self._worker()
        if worker is None:
            return harvest(reading, judgement, papers)
        try:  # the worker has no run context (no _PAPERS): it gets the paper the page needs
            message = pickle.dumps(
                (reading, judgement, papers_for(reading, papers)), pickle.HIGHEST_PROTOCOL
            )
        except Exception as exc:  # something in the judgement does not pickle: a bug
            self._failed(exc)
            return harvest(reading, judgement, papers)
        if judgement.page is not None:
            judgement.page.release()  # the worker parses again: no need to keep ours meanwhile
        try:
            answer = await worker.ask(message)
        except WorkerLost:  # logged once (the worker's on_lost)
            answer = None
        if answer is None:
            return harvest(reading, judgement, papers)
        found, records, error = answer
        if error is not None:
            self._failed(
                RuntimeError(f"the worker could not read the page of {reading.id}: {error}")
            )
            return harvest(reading, judgement, papers)
        self.pooled += 1
        _replay(records)
        return found

    def expect(self, reads: int) -> int:
        """The run will read about ``reads`` pages in full (its links with nothing to carry
        over). Too few to pay for a worker (a steady night: most pages carry over, a few
        changed), and the pool never starts. Returns how many more links the run may have
        under way than its concurrency: as many as may have their page at a worker
        (:attr:`queue`). Such a link holds no request, so the loop fetches another meanwhile;
        the fetcher still bounds the requests in flight, overall and per host."""
        self.expected = reads
        if not self._worth_it():
            return 0
        self.start()  # the workers boot while the first requests are in flight
        return self.queue

    def start(self) -> None:
        """Start the workers now (the first page past :attr:`start_after` does it otherwise).
        From the loop's thread, with the loop running."""
        if self._started:
            return
        self._started = True
        loop = asyncio.get_running_loop()
        for _ in range(self.workers):
            try:
                self._running.append(_Worker.spawn(loop, self._failed))
            except Exception as exc:  # no processes allowed here, out of memory ...
                self._failed(exc)
                break

    async def wait_ready(self, timeout: float | None = None) -> bool:
        """Start the workers and wait until each is up (tests); True when they are."""
        self.start()
        try:
            async with asyncio.timeout(timeout):
                await asyncio.gather(*(worker.ready for worker in self._running))
        except (TimeoutError, WorkerLost):
            return False
        return bool(self._running)

    def pids(self) -> list[int]:
        """The process ids of the workers that are up (tests, diagnostics)."""
        return [w.process.pid for w in self._running if w.up and w.process.pid is not None]

    def close(self) -> None:
        """Drop what is queued (a worker stops after the page it holds) and join the workers,
        so their CPU counts in this process's. Safe to call twice."""
        running, self._running = self._running, []
        for worker in running:
            worker.hang_up()
        for worker in running:
            worker.join()

    def _worker(self) -> _Worker | None:
        """The worker to send this page to: past the threshold, up, with room; else None."""
        if not self._worth_it() or (self.expected is None and self.read <= self.start_after):
            return None
        self.start()
        up = [w for w in self._running if w.up]
        if not up:
            return None  # booting (harvest here meanwhile), or all gone
        worker = min(up, key=lambda w: w.waiting)
        at_pool = sum(w.waiting for w in up)
        if at_pool >= self.queue or sum(w.queued_bytes for w in up) >= QUEUE_BYTES:
            return None  # full: this page is harvested here, so both cores work
        return worker

    def _worth_it(self) -> bool:
        """Workers allowed, and the run expects to read enough pages (or did not say)."""
        few = self.expected is not None and self.expected <= self.start_after
        return self.workers > 0 and not few

    def _failed(self, exc: BaseException) -> None:
        if not self._told:
            self._told = True
            log.warning(
                "harvesting pages in a worker process failed (%s: %s); such pages are "
                "harvested in this process instead (logged once a run)",
                type(exc).__name__,
                exc,
            )


class WorkerLost(Exception):
    """The worker died (or was closed) before answering."""


class _Worker:
    """One worker process and a pipe each way, read and written by the loop (no threads)."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        process: subprocess.Popen[bytes],
        to: int,
        back: int,
        on_lost: Callable[[WorkerLost], None],
    ) -> None:
        self.loop, self.process, self._on_lost = loop, process, on_lost
        self._to, self._back = to, back  # our ends: we write pages to, read answers from
        self._out = bytearray()  # what the pipe did not take yet
        self._in = bytearray()
        self._keys = itertools.count()
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        self.queued_bytes = 0  # pickled pages written or queued, not yet answered
        self._sizes: dict[int, int] = {}
        self.ready: asyncio.Future[None] = loop.create_future()
        self.up = False
        self._lost: WorkerLost | None = None
        os.set_blocking(to, False)
        os.set_blocking(back, False)
        loop.add_reader(back, self._on_readable)

    @classmethod
    def spawn(
        cls, loop: asyncio.AbstractEventLoop, on_lost: Callable[[WorkerLost], None]
    ) -> _Worker:
        """Start one worker; ``on_lost`` hears if it dies before the run hangs up on it.

        A plain ``python -c`` child with two inherited pipes, not a ``multiprocessing``
        process: that one brings multiprocessing's resource tracker along (another process,
        12 MiB, which unblocks SIGINT as it starts) for nothing a pipe pair needs."""
        import subprocess
        import sys

        import linkkeeper

        pages_in, pages_out = os.pipe()
        answers_in, answers_out = os.pipe()
        code = f"from linkkeeper.check.pool import _serve; _serve({pages_in}, {answers_out})"
        home = str(Path(linkkeeper.__file__).resolve().parents[1])  # importable as here
        path = os.pathsep.join(p for p in (home, os.environ.get("PYTHONPATH")) if p)
        try:
            with _sigint_blocked():  # inherited: a Ctrl-C while it boots cannot kill it
                process = subprocess.Popen(
                    [sys.executable, "-c", code],
                    pass_fds=(pages_in, answers_out),
                    stdin=subprocess.DEVNULL,
                    env={**os.environ, "PYTHONPATH": path},
                )
        except BaseException:
            for fd in (pages_out, answers_in):
                os.close(fd)
            raise
        finally:
            os.close(pages_in)  # the worker's ends: ours closed, so its death reads as EOF
            os.close(answers_out)
        return cls(loop, process, pages_out, answers_in, on_lost)

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    async def ask(self, message: bytes) -> Any:
        """Send one pickled request; its unpickled answer."""
        if self._lost is not None:
            raise self._lost
        key = next(self._keys)
        future: asyncio.Future[Any] = self.loop.create_future()
        self._waiting[key] = future
        self._sizes[key] = len(message)
        self.queued_bytes += len(message)
        self._write(HEADER.pack(len(message) + 8) + struct.pack("!q", key) + message)
        try:
            return await future
        finally:  # answered, lost, or cancelled (Ctrl-C): forget it
            self._waiting.pop(key, None)
            self.queued_bytes -= self._sizes.pop(key, 0)

    def _write(self, data: bytes) -> None:
        if self._out:
            self._out += data
            return
        try:
            sent = os.write(self._to, data)
        except BlockingIOError:
            sent = 0
        except OSError as exc:  # the worker is gone; its read end tells the rest
            self._lose(WorkerLost(f"could not write to the worker: {exc}"))
            return
        if sent < len(data):
            self._out += data[sent:]
            self.loop.add_writer(self._to, self._on_writable)

    def _on_writable(self) -> None:
        try:
            sent = os.write(self._to, self._out)
        except BlockingIOError:
            return
        except OSError as exc:
            self._lose(WorkerLost(f"could not write to the worker: {exc}"))
            return
        del self._out[:sent]
        if not self._out:
            self.loop.remove_writer(self._to)

    def _on_readable(self) -> None:
        try:
            data = os.read(self._back, 1 << 20)
        except BlockingIOError:
            return
        except OSError as exc:
            self._lose(WorkerLost(f"could not read from the worker: {exc}"))
            return
        if not data:
            code = self.process.poll()
            self._lose(WorkerLost(f"the worker process ended (exit code {code})"))
            return
        self._in += data
        while len(self._in) >= HEADER.size:
            (size,) = HEADER.unpack_from(self._in)
            if len(self._in) < HEADER.size + size:
                break
            (key,) = struct.unpack_from("!q", self._in, HEADER.size)
            body = bytes(self._in[HEADER.size + 8 : HEADER.size + size])
            del self._in[: HEADER.size + size]
            self._answered(key, body)

    def _answered(self, key: int, body: bytes) -> None:
        if key == READY:
            self.up = True
            if not self.ready.done():
                self.ready.set_result(None)
            return
        future = self._waiting.get(key)
        if future is None or future.done():
            return  # cancelled meanwhile
        try:
            future.set_result(pickle.loads(body))
        except Exception as exc:  # an answer that does not unpickle: treat the page as lost
            future.set_exception(WorkerLost(f"unreadable answer: {exc}"))

    def _lose(self, why: WorkerLost, *, hung_up: bool = False) -> None:
        """The worker is gone: every page waiting for it goes back to the loop."""
        if self._lost is not None:
            return
        self._lost, self.up = why, False
        self._stop_io()
        if not hung_up:
            self._on_lost(why)
        if not self.ready.done():
            self.ready.set_exception(why)
            self.ready.exception()  # retrieved: a worker that never started is no error here
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(why)

    def _stop_io(self) -> None:
        for fd, remove in (
            (self._to, self.loop.remove_writer),
            (self._back, self.loop.remove_reader),
        ):
            if fd >= 0:
                if not self.loop.is_closed():
                    remove(fd)
                os.close(fd)
        self._to = self._back = -1

    def hang_up(self) -> None:
        """Close both pipes: the worker stops after the page it holds (its answer cannot be
        written, or it reads the end of its input)."""
        self._lose(WorkerLost("the run is over"), hung_up=True)

    def join(self) -> None:
        """Wait for the worker to end (terminate it after :data:`JOIN_SECONDS`), reaping it."""
        try:
            self.process.wait(JOIN_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.terminate()
            self.process.wait()


@contextmanager
def _sigint_blocked() -> Iterator[None]:
    """SIGINT blocked in this thread meanwhile: a process started now inherits the mask, so a
    Ctrl-C while it boots cannot kill it with a traceback before :func:`_start_worker` runs
    (a blocked mask survives ``exec``). Another thread (or this one, after)
    takes the parent's signal."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


# -- in the worker -----------------------------------------------------------------------------
_RECORDS: list[logging.LogRecord] = []


class _Keep(logging.Handler):
    """Keeps the worker's log records for the parent, which decides where they go."""

    def emit(self, record: logging.LogRecord) -> None:
        record.msg, record.args = record.getMessage(), None  # the arguments may not pickle
        if record.exc_info:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        _RECORDS.append(record)


def _start_worker() -> None:
    """Ignore Ctrl-C (the parent decides), then unblock it (a pending one is discarded); keep
    log records for the parent; import what harvesting needs."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    root = logging.getLogger()
    root.handlers[:] = [_Keep()]
    root.setLevel(logging.DEBUG)  # the parent's loggers filter (their levels may differ)
    from linkkeeper.core import htmltree
    from linkkeeper.judges import site_for

    site_for("https://example.org/")
    htmltree.parse("<html><body><p>ready</p></body></html>")


def _serve(inbox: int, outbox: int) -> None:
    """The worker (``python -c``, the two pipe ends inherited): read a request, harvest,
    answer; until the parent hangs up."""
    _start_worker()
    try:
        _send(outbox, READY, None)
        while (message := _receive(inbox)) is not None:
            key, request = message
            _RECORDS.clear()
            answer: tuple[Harvest | None, list[logging.LogRecord], str | None]
            try:
                reading, judgement, papers = pickle.loads(request)
                answer = (harvest(reading, judgement, papers), list(_RECORDS), None)
            except Exception as exc:  # a request it cannot read: the parent harvests that page
                answer = (None, [], f"{type(exc).__name__}: {exc}")
            _RECORDS.clear()
            _send(outbox, key, answer)
    except (BrokenPipeError, EOFError):
        pass  # the parent hung up: the run is over
    finally:
        os.close(inbox)
        os.close(outbox)


def _send(fd: int, key: int, answer: Any) -> None:
    body = pickle.dumps(answer, pickle.HIGHEST_PROTOCOL)
    data = memoryview(HEADER.pack(len(body) + 8) + struct.pack("!q", key) + body)
    while data:
        data = data[os.write(fd, data) :]


def _receive(fd: int) -> tuple[int, memoryview] | None:
    """The next request: its key and its pickle; None when the parent hung up."""
    header = _read_exactly(fd, HEADER.size)
    if header is None:
        return None
    (size,) = HEADER.unpack(header)
    body = _read_exactly(fd, size)
    if body is None:
        raise EOFError
    (key,) = struct.unpack_from("!q", body)
    return key, memoryview(body)[8:]


def _read_exactly(fd: int, size: int) -> bytes | None:
    """``size`` bytes, or None at the end of the input before the first byte."""
    chunks, left = [], size
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            if left == size:
                return None
            raise EOFError
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _replay(records: list[logging.LogRecord]) -> None:
    """Hand the worker's log records to this process's loggers, as if logged here."""
    for record in records:
        logger = logging.getLogger(record.name)
        if logger.isEnabledFor(record.levelno):
            logger.handle(record)
