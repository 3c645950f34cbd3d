"""Coordination recipes: Counter, Barrier, DoubleBarrier, Queue, LockingQueue,
Party."""

import threading
import time

from kazoo_harness import WAIT, Workers, check, node, poll

def recipe_counter(cs):
    """Four sessions add 25 each concurrently; the sum must be 100."""
    path = node("counter")
    clients = [cs.new() for _ in range(4)]

    def adder(c):
        counter = c.Counter(path)
        for _ in range(25):
            counter += 1

    w = Workers()
    for i, c in enumerate(clients):
        w.go("adder-%d" % i, adder, c)
    w.join()
    counter = cs.new().Counter(path)
    check(counter.value == 100, "counter = %r, want 100", counter.value)
    counter -= 10
    check(counter.value == 90, "counter = %r after -= 10, want 90", counter.value)
    check(counter.pre_value == 100 and counter.post_value == 90,
          "pre/post = %r/%r, want 100/90", counter.pre_value, counter.post_value)
    f = clients[0].Counter(path + "-float", default=0.0)
    f += 0.5
    f += 0.25
    check(f.value == 0.75, "float counter = %r, want 0.75", f.value)

def recipe_barrier(cs):
    """Two sessions block on a Barrier until a third removes it."""
    path = node("barrier")
    owner, *waiters = [cs.new() for _ in range(3)]
    check(owner.Barrier(path).wait(timeout=1), "wait on an absent barrier blocked")
    barrier = owner.Barrier(path)
    barrier.create()
    blocked = [threading.Event() for _ in waiters]
    passed = []
    mu = threading.Lock()

    def waiter(i, c):
        b = c.Barrier(path)
        check(not b.wait(timeout=0.2), "waiter-%d passed a standing barrier", i)
        blocked[i].set()
        ok = b.wait(timeout=WAIT)
        with mu:
            passed.append(ok)

    w = Workers()
    for i, c in enumerate(waiters):
        w.go("waiter-%d" % i, waiter, i, c)
    for e in blocked:
        check(e.wait(WAIT), "waiter never reported being blocked")
    check(not passed, "a waiter passed before the barrier was removed: %r", passed)
    barrier.remove()
    w.join()
    check(passed == [True, True], "waiters after removal: %r, want [True, True]", passed)

def recipe_double_barrier(cs):
    """Three sessions: nobody passes enter() before all three arrived, and
    nobody passes leave() before all three started leaving."""
    path = node("double-barrier")
    n = 3
    clients = [cs.new() for _ in range(n)]
    mu = threading.Lock()
    arrived = [0]
    leaving = [0]
    early = []

    def member(i, c):
        b = c.DoubleBarrier(path, n, identifier="member-%d" % i)
        with mu:
            arrived[0] += 1
        b.enter()
        check(b.participating, "member-%d failed to enter", i)
        with mu:
            if arrived[0] != n:
                early.append("member-%d entered with %d arrived" % (i, arrived[0]))
            leaving[0] += 1
        b.leave()
        with mu:
            if leaving[0] != n:
                early.append("member-%d left with %d leaving" % (i, leaving[0]))

    w = Workers()
    for i, c in enumerate(clients):
        w.go("member-%d" % i, member, i, c)
        # Stagger arrivals so the first members really wait in enter().
        poll(lambda: arrived[0] == i + 1, "member-%d arrival" % i)
        time.sleep(0.05)
    w.join()
    check(not early, "double barrier let members through early: %s", early)
    check(clients[0].get_children(path) == [], "barrier not empty after leave: %r",
          clients[0].get_children(path))

def recipe_queue(cs):
    """Priority order with one consumer, exactly-once with two."""
    path = node("queue")
    producer, c1, c2 = [cs.new() for _ in range(3)]
    q = producer.Queue(path)
    check(q.get() is None, "get on an empty queue returned something")
    q.put(b"c", priority=50)
    q.put(b"a", priority=10)
    q.put(b"d")
    q.put(b"b", priority=20)
    q.put(b"e")
    check(len(q) == 5, "len = %d, want 5", len(q))
    got = [q.get() for _ in range(5)]
    check(got == [b"a", b"b", b"c", b"d", b"e"], "priority order: %r", got)
    check(q.get() is None and len(q) == 0, "queue not empty after draining")

    items = [("item-%02d" % i).encode() for i in range(40)]
    for it in items:
        q.put(it)
    taken = {1: [], 2: []}

    def consumer(i, c):
        cq = c.Queue(path)
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            v = cq.get()
            if v is None:
                if len(cq) == 0:
                    return
                continue
            taken[i].append(v)

    w = Workers()
    w.go("consumer-1", consumer, 1, c1)
    w.go("consumer-2", consumer, 2, c2)
    w.join()
    all_taken = taken[1] + taken[2]
    check(sorted(all_taken) == items,
          "two consumers took %d items (%d distinct), want each of 40 once",
          len(all_taken), len(set(all_taken)))
    for i in (1, 2):
        check(taken[i] == sorted(taken[i]), "consumer-%d saw items out of order: %r", i, taken[i])

def recipe_locking_queue(cs):
    """get/consume/release with priorities; two consumers each item once."""
    path = node("locking-queue")
    producer, c1, c2 = [cs.new() for _ in range(3)]
    q = producer.LockingQueue(path)
    q.put_all([b"x1", b"x2"], priority=5)
    q.put(b"urgent", priority=1)
    q.put(b"later", priority=9)
    check(len(q) == 4, "len = %d, want 4", len(q))

    a = c1.LockingQueue(path)
    b = c2.LockingQueue(path)
    check(a.get(timeout=WAIT) == b"urgent", "first get is not the priority-1 item")
    check(a.holds_lock(), "holds_lock false after get")
    # b must skip the item a holds.
    check(b.get(timeout=WAIT) == b"x1", "second consumer did not skip the locked item")
    check(a.release(), "release failed")
    check(not a.holds_lock(), "holds_lock true after release")
    check(a.get(timeout=WAIT) == b"urgent", "released item did not come back first")
    check(a.consume() and b.consume(), "consume failed")
    check(len(q) == 2, "len = %d after two consumes, want 2", len(q))

    seen = []
    mu = threading.Lock()

    def consumer(lq):
        while True:
            v = lq.get(timeout=1)
            if v is None:
                return
            check(lq.consume(), "consume of %r failed", v)
            with mu:
                seen.append(v)

    for i in range(20):
        q.put(("job-%02d" % i).encode(), priority=50)
    w = Workers()
    w.go("consumer-a", consumer, a)
    w.go("consumer-b", consumer, b)
    w.join(timeout=WAIT + 5)
    want = sorted([b"x2", b"later"] + [("job-%02d" % i).encode() for i in range(20)])
    check(sorted(seen) == want, "consumed %r, want each of %r once", sorted(seen), want)
    check(len(q) == 0, "len = %d at the end, want 0", len(q))

    # A holder's session closing frees its item for others.
    q.put(b"orphan")
    check(a.get(timeout=WAIT) == b"orphan", "get orphan")
    c1.stop()
    check(b.get(timeout=WAIT) == b"orphan", "item held by a closed session was not freed")
    check(b.consume(), "consume orphan")

def recipe_party(cs):
    """Party membership follows joins, leaves and closed sessions."""
    path = node("party")
    clients = [cs.new() for _ in range(3)]
    parties = [c.Party(path, "member-%d" % i) for i, c in enumerate(clients)]
    for p in parties:
        p.join()
    check(sorted(parties[0]) == ["member-0", "member-1", "member-2"], "members %r", sorted(parties[0]))
    check(len(parties[0]) == 3, "len = %d, want 3", len(parties[0]))
    parties[1].leave()
    check(sorted(parties[0]) == ["member-0", "member-2"], "after leave: %r", sorted(parties[0]))
    clients[2].stop()
    poll(lambda: sorted(parties[0]) == ["member-0"], "member-2 gone with its session")
    shallow = [c.ShallowParty(path + "-shallow", "s-%d" % i) for i, c in enumerate(clients[:2])]
    for p in shallow:
        p.join()
    check(sorted(shallow[1]) == ["s-0", "s-1"], "shallow party members %r", sorted(shallow[1]))
