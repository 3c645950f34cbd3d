#!/usr/bin/python3
"""Runs one kazoo recipe against a ZooKeeper-protocol server.

Usage: kazoo_recipes.py HOST:PORT RECIPE [TIMEOUT_SECONDS]

Each recipe uses several KazooClient instances (separate ZooKeeper
sessions), usually one per thread, so that contention really goes through
the server. It prints "PASS <recipe>" and exits 0 on success; it prints
"FAIL <recipe>: <reason>" and exits 1 on a failed check or an exception.
A watchdog (faulthandler) dumps every thread's stack and exits 1 if the
recipe is not done within TIMEOUT_SECONDS (default 60), so a lost watch
cannot hang the run.

The recipes live in recipes_*.py beside this script, the helpers they
share in kazoo_harness.py. It must run under Debian's /usr/bin/python3,
which has python3-kazoo.
"""

import faulthandler
import logging
import sys
import traceback

import recipes_coordination
import recipes_locks
import recipes_sessions
from kazoo_harness import CheckFailed, Clients

RECIPES = {
    "lock": recipes_locks.recipe_lock,
    "election": recipes_locks.recipe_election,
    "counter": recipes_coordination.recipe_counter,
    "barrier": recipes_coordination.recipe_barrier,
    "double_barrier": recipes_coordination.recipe_double_barrier,
    "queue": recipes_coordination.recipe_queue,
    "locking_queue": recipes_coordination.recipe_locking_queue,
    "semaphore": recipes_locks.recipe_semaphore,
    "watchers": recipes_sessions.recipe_watchers,
    "transaction": recipes_sessions.recipe_transaction,
    "rwlock": recipes_locks.recipe_rwlock,
    "party": recipes_coordination.recipe_party,
    "lease": recipes_locks.recipe_lease,
    "treecache": recipes_sessions.recipe_treecache,
    "partitioner": recipes_locks.recipe_partitioner,
    "session_expiry": recipes_sessions.recipe_session_expiry,
    "reconnect": recipes_sessions.recipe_reconnect,
    "auth": recipes_sessions.recipe_auth,
    "large_data": recipes_sessions.recipe_large_data,
    "chroot_and_4lw": recipes_sessions.recipe_chroot_and_4lw,
}


def main():
    if len(sys.argv) == 4 and sys.argv[2] == "_ephemeral_owner":
        recipes_sessions.ephemeral_owner(sys.argv[1], sys.argv[3])
    if len(sys.argv) not in (3, 4) or sys.argv[2] not in RECIPES:
        print("usage: kazoo_recipes.py HOST:PORT {%s} [TIMEOUT]" % "|".join(RECIPES),
              file=sys.stderr)
        return 2
    hosts, name = sys.argv[1], sys.argv[2]
    timeout = float(sys.argv[3]) if len(sys.argv) == 4 else 60.0
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(threadName)s %(name)s %(levelname)s %(message)s")
    faulthandler.dump_traceback_later(timeout, exit=True)
    cs = Clients(hosts)
    try:
        RECIPES[name](cs)
    except CheckFailed as e:
        print("FAIL %s: %s" % (name, e), flush=True)
        return 1
    except Exception:
        print("FAIL %s: exception\n%s" % (name, traceback.format_exc()), flush=True)
        return 1
    finally:
        cs.close()
    print("PASS %s" % name, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
