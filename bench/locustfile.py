"""The users of ``bench/bench_load.py``: each asks a mix of what the site's users ask.

Run by ``bench_load`` (``locust -f bench/locustfile.py --headless ...``) with
``PFOCR_LOAD_PLAN`` naming a JSON file of ``{"mix": {endpoint: weight}, "requests":
{endpoint: [[method, path, body or null], ...]}}``. Each user picks an endpoint by
weight and takes the next request of that endpoint's list (shared by all users, so that
a query is asked once until the list wraps around), with no think time: a closed loop of
``-u`` clients. A user stops after ``PFOCR_LOAD_MAX_REQUESTS`` requests (a bound on the
count beside ``-t``, the bound on time). Loopback only: the host is given by
``bench_load`` and is 127.0.0.1.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import threading

from locust import FastHttpUser, task
from locust.exception import StopUser

_PLAN = json.loads(open(os.environ["PFOCR_LOAD_PLAN"], encoding="utf-8").read())  # noqa: SIM115
_MAX_REQUESTS = int(os.environ.get("PFOCR_LOAD_MAX_REQUESTS", "100000"))
_ENDPOINTS = [name for name, weight in _PLAN["mix"].items() if weight > 0]
_WEIGHTS = [_PLAN["mix"][name] for name in _ENDPOINTS]
_NEXT = {name: itertools.cycle(_PLAN["requests"][name]) for name in _ENDPOINTS}
_LOCK = threading.Lock()


class SiteUser(FastHttpUser):
    def on_start(self) -> None:
        self.sent = 0
        self.rng = random.Random(id(self))

    @task
    def ask(self) -> None:
        if self.sent >= _MAX_REQUESTS:
            raise StopUser()
        self.sent += 1
        endpoint = self.rng.choices(_ENDPOINTS, _WEIGHTS)[0]
        with _LOCK:
            method, path, body = next(_NEXT[endpoint])
        if method == "POST":
            self.client.post(path, data=json.dumps(body), name=endpoint)
        else:
            self.client.get(path, name=endpoint)
