"""Shared helpers for the kazoo recipe scripts: checks, bounded polling,
client and thread bookkeeping. Imported by kazoo_recipes.py and the
recipes_*.py modules beside it."""

import os
import threading
import time
import traceback

from kazoo.client import KazooClient

# Every blocking wait below is bounded by this, well inside the watchdog.
WAIT = 20.0

# Top-level znodes are named per run, so a rerun against the same server
# starts clean.
RUN = "kazoo-%d-%d" % (os.getpid(), int(time.time() * 1000) % 1000000)


def node(name):
    return "/%s-%s" % (RUN, name)


class CheckFailed(Exception):
    pass


def check(cond, msg, *args):
    if not cond:
        raise CheckFailed(msg % args if args else msg)


def poll(cond, what, timeout=WAIT):
    """Polls cond() every 20 ms until it is true or timeout passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise CheckFailed("timed out after %.0fs waiting for %s" % (timeout, what))
        time.sleep(0.02)


class Clients(object):
    """Opens KazooClients to one server and closes them all at the end."""

    def __init__(self, hosts):
        self.hosts = hosts
        self.all = []

    def new(self):
        c = KazooClient(hosts=self.hosts, timeout=10.0,
                        connection_retry={"max_tries": 5, "delay": 0.1, "max_delay": 1},
                        command_retry={"max_tries": 5, "delay": 0.1, "max_delay": 1})
        c.start(timeout=WAIT)
        self.all.append(c)
        return c

    def close(self):
        for c in self.all:
            try:
                c.stop()
                c.close()
            except Exception:
                pass


class Workers(object):
    """Runs functions in threads and re-raises the first failure on join."""

    def __init__(self):
        self.threads = []
        self.errors = []
        self.mu = threading.Lock()

    def go(self, name, fn, *args):
        def run():
            try:
                fn(*args)
            except BaseException as e:  # noqa: B902 - reported on join
                with self.mu:
                    self.errors.append("%s: %s\n%s" % (name, e, traceback.format_exc()))
        t = threading.Thread(target=run, name=name, daemon=True)
        t.start()
        self.threads.append(t)
        return t

    def join(self, timeout=WAIT):
        deadline = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(0.0, deadline - time.monotonic()))
            check(not t.is_alive(), "thread %s still running after %.0fs", t.name, timeout)
        check(not self.errors, "worker failed: %s", "\n".join(self.errors))
