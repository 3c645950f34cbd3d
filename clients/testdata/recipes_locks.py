"""Mutual-exclusion recipes: Lock, ReadLock/WriteLock, Semaphore, Election,
NonBlockingLease, SetPartitioner."""

import datetime
import threading
import time

from kazoo.exceptions import LockTimeout

from kazoo_harness import WAIT, CheckFailed, Workers, check, node, poll

def recipe_lock(cs):
    """Three sessions take one Lock five times each; never two holders."""
    path = node("lock")
    holder = [None]
    entries = [0]
    violations = []
    mu = threading.Lock()

    def contender(i, c):
        lock = c.Lock(path, "worker-%d" % i)
        for _ in range(5):
            check(lock.acquire(timeout=WAIT), "worker-%d: acquire returned False", i)
            with mu:
                if holder[0] is not None:
                    violations.append("worker-%d entered while worker-%d held the lock" % (i, holder[0]))
                holder[0] = i
            time.sleep(0.005)  # hold it long enough for the others to queue up
            with mu:
                holder[0] = None
                entries[0] += 1
            lock.release()

    clients = [cs.new() for _ in range(3)]
    w = Workers()
    for i, c in enumerate(clients):
        w.go("worker-%d" % i, contender, i, c)
    w.join()
    check(not violations, "mutual exclusion broken: %s", violations)
    check(entries[0] == 15, "critical section entered %d times, want 15", entries[0])

    # contenders(), a timed-out acquire, and release by closing the session.
    a = clients[0].Lock(path, "alpha")
    b = clients[1].Lock(path, "beta")
    check(a.acquire(timeout=WAIT), "alpha: acquire failed")
    check(b.contenders() == ["alpha"], "contenders = %r, want ['alpha']", b.contenders())
    try:
        b.acquire(timeout=0.3)
        raise CheckFailed("beta acquired a held lock")
    except LockTimeout:
        pass
    got = []
    w = Workers()
    w.go("beta", lambda: got.append(b.acquire(timeout=WAIT)))
    poll(lambda: a.contenders() == ["alpha", "beta"], "contenders == [alpha, beta]")
    clients[0].stop()  # closes alpha's session: its ephemeral lock node must go
    w.join()
    check(got == [True], "beta did not get the lock after alpha's session closed: %r", got)
    check(b.contenders() == ["beta"], "contenders = %r, want ['beta']", b.contenders())
    b.release()

def recipe_rwlock(cs):
    """Readers share a ReadLock; a WriteLock excludes readers and waits."""
    path = node("rwlock")
    r1, r2, w = [cs.new() for _ in range(3)]
    read1, read2 = r1.ReadLock(path, "r1"), r2.ReadLock(path, "r2")
    write = w.WriteLock(path, "w")
    check(read1.acquire(timeout=WAIT), "r1: read lock not acquired")
    check(read2.acquire(timeout=WAIT), "r2: read lock not shared with r1")
    try:
        write.acquire(timeout=0.3)
        raise CheckFailed("write lock acquired while two readers hold the read lock")
    except LockTimeout:
        pass
    got = []
    wk = Workers()
    wk.go("writer", lambda: got.append(write.acquire(timeout=WAIT)))
    poll(lambda: len(read1.contenders()) == 3, "the writer queued behind the readers")
    read1.release()
    read2.release()
    wk.join()
    check(got == [True], "writer did not get the lock after both readers left: %r", got)
    try:
        read1.acquire(timeout=0.3)
        raise CheckFailed("read lock acquired while the writer holds the write lock")
    except LockTimeout:
        pass
    write.release()
    check(read1.acquire(timeout=WAIT), "read lock not acquired after the writer left")
    read1.release()

def recipe_semaphore(cs):
    """max_leases=2: a third holder waits; never more than two at once."""
    path = node("semaphore")
    clients = [cs.new() for _ in range(4)]
    sems = [c.Semaphore(path, "holder-%d" % i, max_leases=2) for i, c in enumerate(clients)]
    check(sems[0].acquire(blocking=False), "holder-0 did not get a free lease")
    check(sems[1].acquire(blocking=False), "holder-1 did not get a free lease")
    check(not sems[2].acquire(blocking=False), "holder-2 got a third lease of two")
    check(sorted(sems[3].lease_holders()) == ["holder-0", "holder-1"],
          "lease_holders = %r", sems[3].lease_holders())
    got = []
    w = Workers()
    w.go("holder-2", lambda: got.append(sems[2].acquire(timeout=WAIT)))
    poll(lambda: clients[3].exists(path + "-__lock__") and
         len(clients[3].get_children(path + "-__lock__")) == 1,
         "holder-2 waiting in the semaphore's lock")
    sems[0].release()
    w.join()
    check(got == [True], "holder-2 did not get the freed lease: %r", got)
    check(sorted(sems[3].lease_holders()) == ["holder-1", "holder-2"],
          "lease_holders = %r", sems[3].lease_holders())
    sems[1].release()
    sems[2].release()
    try:
        clients[3].Semaphore(path, "bad", max_leases=3).acquire(timeout=1)
        raise CheckFailed("a max_leases mismatch was not detected")
    except ValueError:
        pass

    mu = threading.Lock()
    inside = [0]
    peak = [0]
    total = [0]

    def user(s):
        for _ in range(5):
            check(s.acquire(timeout=WAIT), "acquire timed out")
            with mu:
                inside[0] += 1
                peak[0] = max(peak[0], inside[0])
            time.sleep(0.005)  # hold the lease so others contend
            with mu:
                inside[0] -= 1
                total[0] += 1
            s.release()

    w = Workers()
    for i, s in enumerate(sems):
        w.go("user-%d" % i, user, s)
    w.join(timeout=WAIT + 10)
    check(peak[0] <= 2, "%d holders at once with max_leases=2", peak[0])
    check(total[0] == 20, "%d leases taken, want 20", total[0])

def recipe_election(cs):
    """Two candidates; the first leads, the second takes over when it quits,
    a third takes over when the second's session closes."""
    path = node("election")
    clients = [cs.new() for _ in range(3)]
    elections = [c.Election(path, "cand-%d" % i) for i, c in enumerate(clients)]
    elected = [threading.Event() for _ in clients]
    resign = [threading.Event() for _ in clients]
    order = []
    mu = threading.Lock()
    leaders = set()
    overlaps = []

    def lead(i):
        with mu:
            if leaders:
                overlaps.append("cand-%d elected while %r lead" % (i, sorted(leaders)))
            leaders.add(i)
            order.append(i)
        elected[i].set()
        resign[i].wait(WAIT)
        with mu:
            leaders.discard(i)

    def candidate(i, session_dies=False):
        try:
            elections[i].run(lead, i)
        except Exception:
            if not session_dies:
                raise

    w = Workers()
    w.go("cand-0", candidate, 0)
    check(elected[0].wait(WAIT), "cand-0 not elected")
    w.go("cand-1", candidate, 1, True)
    poll(lambda: elections[0].contenders() == ["cand-0", "cand-1"],
         "contenders == [cand-0, cand-1]")
    check(not elected[1].is_set(), "cand-1 elected while cand-0 leads")
    resign[0].set()
    check(elected[1].wait(WAIT), "cand-1 not elected after cand-0 resigned")

    w.go("cand-2", candidate, 2)
    poll(lambda: elections[2].contenders() == ["cand-1", "cand-2"],
         "contenders == [cand-1, cand-2]")
    check(not elected[2].is_set(), "cand-2 elected while cand-1 leads")
    with mu:
        leaders.discard(1)  # cand-1 loses leadership with its session, not by resigning
    clients[1].stop()
    check(elected[2].wait(WAIT), "cand-2 not elected after cand-1's session closed")
    resign[1].set()
    resign[2].set()
    w.join()
    check(order == [0, 1, 2], "leadership order %r, want [0, 1, 2]", order)
    check(not overlaps, "two leaders at once: %s", overlaps)

def recipe_lease(cs):
    """NonBlockingLease and MultiNonBlockingLease: one (or n) holders."""
    path = node("lease")
    a, b, c = [cs.new() for _ in range(3)]
    hour = datetime.timedelta(hours=1)
    check(a.NonBlockingLease(path, hour, identifier="a"), "a: first lease not obtained")
    check(not b.NonBlockingLease(path, hour, identifier="b"), "b: obtained a lease a holds")
    check(a.NonBlockingLease(path, hour, identifier="a"), "a: could not renew its own lease")
    multi = path + "-multi"
    check(a.MultiNonBlockingLease(2, multi, hour, identifier="a"), "a: multi lease 1 of 2")
    check(b.MultiNonBlockingLease(2, multi, hour, identifier="b"), "b: multi lease 2 of 2")
    check(not c.MultiNonBlockingLease(2, multi, hour, identifier="c"), "c: got a third of two leases")
    # An expired lease can be taken over.
    past = lambda: datetime.datetime.utcnow() + datetime.timedelta(hours=2)
    check(c.NonBlockingLease(path, hour, identifier="c", utcnow=past), "c: could not take over an expired lease")

def recipe_partitioner(cs):
    """Two SetPartitioners split four items between them, disjointly."""
    path = node("partitioner")
    items = ("p0", "p1", "p2", "p3")
    stop = threading.Event()
    mu = threading.Lock()
    parts = {}

    def member(name, c):
        sp = c.SetPartitioner(path, set=items, identifier=name, time_boundary=0.3, max_reaction_time=0.2)
        deadline = time.monotonic() + WAIT
        while not stop.is_set():
            check(time.monotonic() < deadline, "%s: partitioner still running after %.0fs", name, WAIT)
            if sp.failed:
                raise CheckFailed("%s: partitioner failed" % name)
            elif sp.release:
                with mu:
                    parts.pop(name, None)
                sp.release_set()
            elif sp.acquired:
                with mu:
                    parts[name] = sorted(sp)
                stop.wait(0.05)
            elif sp.allocating:
                with mu:
                    parts.pop(name, None)
                sp.wait_for_acquire(timeout=1)
        sp.finish()

    def settled(n):
        with mu:
            if len(parts) != n:
                return False
            seen = [x for p in parts.values() for x in p]
            return sorted(seen) == sorted(items) and all(len(p) == len(items) // n for p in parts.values())

    c1, c2 = cs.new(), cs.new()
    w = Workers()
    w.go("m1", member, "m1", c1)
    poll(lambda: settled(1), "m1 holding all four items")
    w.go("m2", member, "m2", c2)
    poll(lambda: settled(2), "m1 and m2 holding two items each")
    stop.set()
    w.join()
