"""Labelling on a Dask cluster (``--dask ADDRESS``): the teacher is sent to every worker once, and rows go
to it in chunks as tasks; the answers come back in row order, the same as a local run's.

The teacher's answers are computed there (synthetic rows, real and held-out rows), and a ``gbdt``
student's boosting runs there through ``xgboost.dask`` (:meth:`Cluster.train_xgboost`); the generator and
the other students are fitted here. dask is imported by this module alone, and only when a run asks for
a cluster: a run without ``--dask`` does not import it.
"""

from __future__ import annotations

import logging
import pickle
import time
import warnings
from typing import Any

import numpy as np
import pandas as pd

from tabcompress.errors import InputError, SettingError, first_line

#: seconds to wait for the scheduler to answer before the run gives up (dask retries within it)
CONNECT_TIMEOUT_S = 10.0
#: seconds a run waits for a worker when the cluster has none before it gives up
NO_WORKERS_TIMEOUT_S = 30.0
#: how often the wait for answers looks at the cluster (to notice that it has no workers left)
POLL_S = 1.0
#: chunks in flight per worker thread: enough to keep every thread busy while answers come back,
#: few enough that the scheduler holds a bounded number of rows however many are asked for
IN_FLIGHT_PER_THREAD = 2

EXTRA = "pip install 'tabcompress[dask]'"


def _label_chunk(teacher: Any, X: pd.DataFrame) -> np.ndarray:
    """A task: the teacher's soft targets for one chunk of rows (runs on a worker)."""
    with teacher.reproducible():
        return teacher.soft_targets(X)


class Cluster:
    """A connection to the Dask scheduler at ``address`` (connected on creation, within
    :data:`CONNECT_TIMEOUT_S`); :meth:`label` labels rows there, :meth:`close` lets the cluster go."""

    def __init__(self, address: str, *, timeout: float = CONNECT_TIMEOUT_S):
        try:
            import distributed
        except ImportError:
            raise SettingError("dask", f"needs dask and distributed, which are not installed; {EXTRA}") from None
        self.address = address
        self._distributed = distributed
        self._teachers: dict[int, Any] = {}  # id(teacher) -> (teacher, its future on the workers)
        try:
            # set_as_default=False: the run's client is its own; other dask users in the process (a teacher's
            # library, say) are not sent to this cluster.
            self.client = distributed.Client(address, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            # distributed retries a refused connection until the timeout, then says "Timed out ..."
            detail = "" if isinstance(exc, TimeoutError) or "Timed out" in str(exc) else f" ({first_line(exc)})"
            raise SettingError("dask", f"{address}: no Dask scheduler answered within {timeout:g} s{detail}") from None

    def close(self) -> None:
        self._teachers.clear()
        try:
            self.client.close(timeout=5)
        except Exception:  # noqa: BLE001 - a cluster already gone has nothing left to close
            pass

    def __enter__(self) -> "Cluster":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def threads(self) -> int:
        """Worker threads the cluster has now (0: no workers)."""
        return int(sum(self.client.nthreads().values()))

    def _teacher_future(self, teacher: Any) -> Any:
        known = self._teachers.get(id(teacher))
        if known is not None and known[0] is teacher:
            return known[1]
        # Pickled inside reproducible(): the workers' copy is single-threaded for good, so tasks that run
        # side by side on one worker never switch its threads back on under each other.
        quiet = logging.getLogger("distributed")
        level = quiet.level
        # distributed logs each failed pickling with its traceback; the one line below says it instead
        quiet.setLevel(logging.CRITICAL + 1)
        try:
            with teacher.reproducible():
                future = self.client.scatter(teacher, broadcast=True, hash=False)
        except (TypeError, AttributeError, pickle.PicklingError) as exc:  # what pickle raises for an unpicklable part
            while exc.__cause__ is not None or exc.__context__ is not None:  # the first failure says what
                exc = exc.__cause__ or exc.__context__
            raise InputError(f"the teacher cannot be sent to the Dask workers at {self.address}: "
                             f"{first_line(exc)}") from None
        finally:
            quiet.setLevel(level)
        self._teachers[id(teacher)] = (teacher, future)
        return future

    def label(self, teacher: Any, X: pd.DataFrame, *, chunk_rows: int) -> np.ndarray:
        """The teacher's soft targets for ``X``, computed on the workers in chunks of at most ``chunk_rows``
        rows, in row order. A worker lost mid-run is survived: its chunks are run again elsewhere (each
        chunk travels inside its task, so the scheduler can run it again). A cluster that stays without
        workers for :data:`NO_WORKERS_TIMEOUT_S`, or that loses its scheduler, is a :class:`SettingError`."""
        distributed = self._distributed
        n = len(X)
        out = np.empty((n, len(teacher.classes_)) if teacher.is_classifier else (n,), dtype=np.float64)
        if n == 0:
            return out
        try:
            # as_current: distributed.wait looks for "the" client, and this one is not the process's default
            with self.client.as_current():
                self._label(teacher, X, chunk_rows, out)
        except distributed.KilledWorker as exc:
            raise SettingError("dask", f"{self.address}: the Dask workers died while the teacher labelled rows "
                                       f"({first_line(exc)})") from None
        except OSError as exc:  # distributed's CommClosedError among them
            raise SettingError("dask", f"{self.address}: lost the Dask scheduler while the teacher labelled rows "
                                       f"({type(exc).__name__}: {first_line(exc)})") from None
        return out

    def _label(self, teacher: Any, X: pd.DataFrame, chunk_rows: int, out: np.ndarray) -> None:
        n = len(X)
        threads = self._wait_for_workers()
        step = max(1, min(chunk_rows, -(-n // threads)))
        window = max(1, IN_FLIGHT_PER_THREAD * threads)
        teacher_future = self._teacher_future(teacher)
        pending: dict[Any, int] = {}
        queued = iter(range(0, n, step))
        while True:
            for start in queued:
                with warnings.catch_warnings():
                    # Each chunk travels inside its task on purpose: the scheduler can then run it again when
                    # a worker dies. dask warns about a chunk above 10 MB and advises scattering it instead,
                    # which would lose the chunk with the worker that held it.
                    warnings.filterwarnings("ignore", message="Sending large graph")
                    future = self.client.submit(_label_chunk, teacher_future, X.iloc[start:start + step],
                                                pure=False)
                pending[future] = start
                if len(pending) >= window:
                    break
            if not pending:
                return
            for future in self._wait_any(list(pending)):
                start = pending.pop(future)
                out[start:start + step] = future.result()
                future.release()

    def train_xgboost(self, params: dict[str, Any], X: np.ndarray, *, label: np.ndarray, weight: np.ndarray | None,
                      base_margin: np.ndarray, num_boost_round: int, obj: Any = None) -> Any:
        """An XGBoost Booster boosted on the workers (``xgboost.dask.train``) from rows ``X`` and their
        ``label``, ``weight`` and ``base_margin``, split into one partition per worker thread. ``obj``, a
        custom objective, is called on each worker with that worker's rows only."""
        distributed = self._distributed
        try:
            import dask.array as da
            from xgboost import dask as dxgb
        except ImportError as exc:  # xgboost.dask imports dask.dataframe, which needs pyarrow
            raise SettingError("dask", f"training on the cluster needs {exc.name or 'dask.dataframe'}, which is not "
                                       f"installed; {EXTRA}") from None
        threads = self._wait_for_workers()
        step = max(1, -(-len(X) // threads))

        def parts(values: np.ndarray | None) -> Any:
            return None if values is None else da.from_array(values, chunks=(step, *values.shape[1:]))

        try:
            with self.client.as_current(), warnings.catch_warnings():
                # the rows travel inside the graph, as labelling's chunks do (see _label)
                warnings.filterwarnings("ignore", message="Sending large graph")
                data = dxgb.DaskDMatrix(self.client, parts(X), label=parts(label), weight=parts(weight),
                                        base_margin=parts(base_margin))
                return dxgb.train(self.client, params, data, num_boost_round=num_boost_round, obj=obj)["booster"]
        except distributed.KilledWorker as exc:
            raise SettingError("dask", f"{self.address}: the Dask workers died while the gbdt student trained "
                                       f"({first_line(exc)})") from None
        except OSError as exc:
            raise SettingError("dask", f"{self.address}: lost the Dask scheduler while the gbdt student trained "
                                       f"({type(exc).__name__}: {first_line(exc)})") from None

    def _wait_for_workers(self) -> int:
        """The cluster's worker threads, waiting up to :data:`NO_WORKERS_TIMEOUT_S` for a worker."""
        deadline = time.monotonic() + NO_WORKERS_TIMEOUT_S
        while True:
            threads = self.threads()
            if threads:
                return threads
            if time.monotonic() > deadline:
                raise SettingError("dask", f"{self.address}: the Dask cluster has had no workers for "
                                           f"{NO_WORKERS_TIMEOUT_S:g} s")
            time.sleep(POLL_S)

    def _wait_any(self, futures: list[Any]) -> list[Any]:
        """The futures of ``futures`` that are done, once at least one is; gives up when the cluster stays
        without workers (tasks would otherwise wait for one forever)."""
        distributed = self._distributed
        without_workers = None
        while True:
            try:
                done, _ = distributed.wait(futures, timeout=POLL_S, return_when="FIRST_COMPLETED")
                return list(done)
            except TimeoutError:
                pass
            if self.threads():
                without_workers = None
            elif without_workers is None:
                without_workers = time.monotonic()
            elif time.monotonic() - without_workers > NO_WORKERS_TIMEOUT_S:
                raise SettingError("dask", f"{self.address}: the Dask cluster lost all its workers and had none "
                                           f"for {NO_WORKERS_TIMEOUT_S:g} s while the teacher labelled rows")

