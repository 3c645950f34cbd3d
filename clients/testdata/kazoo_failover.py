#!/usr/bin/python3
"""One kazoo session through the SIGKILL of the server it is connected to.

Usage: kazoo_failover.py HOSTS BASE RANDOMIZE [TIMEOUT_SECONDS]

HOSTS is a multi-host connect string, BASE a fresh znode path for this run,
RANDOMIZE 1 to let kazoo shuffle HOSTS, 0 to connect to the first host
first. Driven by clients/failover_test.go, which reads the lines this
script prints (one fact a line, flushed) and writes to its stdin:

  1. connect (session timeout 10 s), create BASE/watched, an ephemeral
     BASE/eph, five sequential BASE/seq/n-; take a Lock on BASE/lock and
     hold it; set a DataWatch on BASE/watched. Print SESSION, PEER (the
     server kazoo is connected to), READY.
  2. The test SIGKILLs that server. Wait for SUSPENDED, write BASE/during
     (through command retries, so the write waits out the outage), wait for
     CONNECTED, and print RECONNECTED with the session and the new PEER.
  3. Check that the session is the same one, the ephemeral is still ours
     and the lock still held; wait until the DataWatch has re-armed (kazoo
     re-reads the node after a reconnect) and print WATCH-REARMED.
  4. The test changes BASE/watched through another server: wait for the
     DataWatch to see "after-failover", print WATCH-FIRED; create three
     more sequential nodes, set BASE/eph, print DONE.
  5. Read "exit" on stdin, release the lock, close the session, print PASS.

Every state change prints STATE <state>. A failed check prints FAIL and
exits 1; a watchdog (faulthandler) dumps every thread's stack and exits 1
after TIMEOUT_SECONDS (default 60). It must run under Debian's
/usr/bin/python3, which has python3-kazoo.
"""

import faulthandler
import logging
import sys
import threading
import traceback

from kazoo.client import KazooClient
from kazoo.exceptions import NodeExistsError
from kazoo.protocol.states import KazooState

from kazoo_harness import WAIT, CheckFailed, check, poll


def say(fmt, *args):
    print(fmt % args if args else fmt, flush=True)


def peer(client):
    sock = client._connection._socket
    check(sock is not None, "kazoo has no socket while connected")
    host, port = sock.getpeername()[:2]
    return "%s:%d" % (host, port)


def run(hosts, base, randomize):
    states = []
    mu = threading.Lock()
    suspended = threading.Event()
    reconnected = threading.Event()

    def listener(state):
        # Runs on kazoo's connection thread: record and print, nothing else.
        with mu:
            states.append(state)
            if state == KazooState.SUSPENDED:
                suspended.set()
            elif state == KazooState.CONNECTED and suspended.is_set():
                reconnected.set()
        say("STATE %s", state)

    client = KazooClient(
        hosts=hosts, timeout=10.0, randomize_hosts=randomize,
        # Reconnect for as long as it takes (the session timeout is what
        # bounds it), at most a second between rounds over the hosts.
        connection_retry={"max_tries": -1, "delay": 0.1, "backoff": 1.5, "max_delay": 1.0},
        command_retry={"max_tries": 20, "delay": 0.1, "backoff": 1.5, "max_delay": 1.0})
    client.add_listener(listener)
    client.start(timeout=WAIT)
    try:
        session = client.client_id[0]
        client.ensure_path(base + "/seq")
        client.create(base + "/watched", b"v0")
        client.create(base + "/eph", b"mine", ephemeral=True)
        say("EPHEMERAL %s/eph", base)
        seqs = []
        for _ in range(5):
            seqs.append(client.create(base + "/seq/n-", b"", sequence=True))
            say("SEQ %s", seqs[-1])
        lock = client.Lock(base + "/lock", "fo-holder")
        check(lock.acquire(timeout=WAIT), "lock not acquired")
        say("LOCK %s/%s", lock.path, lock.node)

        seen = []
        seen_mu = threading.Lock()

        @client.DataWatch(base + "/watched")
        def on_data(data, stat):
            with seen_mu:
                seen.append(data)
            say("WATCH data=%s", data.decode() if data is not None else None)

        poll(lambda: seen == [b"v0"], "the DataWatch's first call")
        say("SESSION 0x%x", session)
        say("PEER %s", peer(client))
        say("READY")

        # The test kills the server now.
        check(suspended.wait(WAIT + 10), "no SUSPENDED within %ds of READY", WAIT + 10)
        issued_in = client.client_state
        try:
            client.retry(client.create, base + "/during", b"d")
        except NodeExistsError:
            pass  # a retry of a create that went through before the reply was lost
        say("DURING created (issued in %s)", issued_in)
        check(reconnected.wait(WAIT), "no CONNECTED within %ds after SUSPENDED", WAIT)
        with mu:
            check(KazooState.LOST not in states, "the session was lost: states %r", states)
        check(client.client_id[0] == session, "reconnected with session 0x%x, want 0x%x",
              client.client_id[0], session)
        say("RECONNECTED SESSION 0x%x PEER %s", client.client_id[0], peer(client))

        st = client.exists(base + "/eph")
        check(st is not None, "the ephemeral %s/eph is gone after the reconnect", base)
        check(st.ephemeralOwner == session, "%s/eph is owned by 0x%x, want 0x%x",
              base, st.ephemeralOwner, session)
        check(lock.is_acquired, "kazoo says the lock is no longer held")
        contenders = lock.contenders()
        check(contenders == ["fo-holder"], "lock contenders after the reconnect = %r, want ['fo-holder']",
              contenders)
        st = client.exists("%s/%s" % (lock.path, lock.node))
        check(st is not None and st.ephemeralOwner == session,
              "the lock node %s/%s is gone or not ours: %r", lock.path, lock.node, st)
        say("HELD eph and lock, owner 0x%x", session)

        # kazoo sends no SetWatches: its DataWatch re-reads the node, with a
        # watch, once it is connected again. kazoo files the watcher when
        # the server has answered that read.
        poll(lambda: client._data_watchers.get(base + "/watched"),
             "the DataWatch to re-arm after the reconnect")
        say("WATCH-REARMED")
        poll(lambda: b"after-failover" in seen, "the DataWatch to see the change made after the reconnect")
        say("WATCH-FIRED")

        for _ in range(3):
            seqs.append(client.create(base + "/seq/n-", b"", sequence=True))
            say("SEQ %s", seqs[-1])
        client.set(base + "/eph", b"still-mine")
        say("DONE")

        line = sys.stdin.readline()
        check(line.strip() == "exit", "stdin said %r, want exit", line)
        lock.release()
    finally:
        client.stop()
        client.close()
    with mu:
        say("STATES %s", " ".join(states))


def main():
    if len(sys.argv) not in (4, 5) or sys.argv[3] not in ("0", "1"):
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    hosts, base, randomize = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
    timeout = float(sys.argv[4]) if len(sys.argv) == 5 else 60.0
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="LOG %(asctime)s %(threadName)s %(name)s %(levelname)s %(message)s")
    faulthandler.dump_traceback_later(timeout, exit=True)
    try:
        run(hosts, base, randomize)
    except CheckFailed as e:
        say("FAIL %s", e)
        return 1
    except Exception:
        say("FAIL exception\n%s", traceback.format_exc())
        return 1
    say("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
