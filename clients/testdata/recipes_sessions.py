"""Sessions, watches and the wire: DataWatch/ChildrenWatch, TreeCache,
transactions, session expiry and reconnection, auth, large values,
chroot and four-letter words."""

import logging
import os
import re
import socket
import subprocess
import sys
import threading
import time

from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import (
    AuthFailedError,
    BadVersionError,
    ConnectionLoss,
    NoAuthError,
    NoNodeError,
    NodeExistsError,
    RolledBackError,
)
from kazoo.protocol.states import EventType
from kazoo.recipe.cache import TreeCache, TreeEvent
from kazoo.security import CREATOR_ALL_ACL

from kazoo_harness import WAIT, CheckFailed, check, node, poll

def recipe_watchers(cs):
    """DataWatch and ChildrenWatch see every change made by another session."""
    path = node("watch")
    writer, reader = cs.new(), cs.new()
    writer.create(path, b"v0")
    datas = []
    kids = []
    mu = threading.Lock()

    @reader.DataWatch(path)
    def on_data(data, stat):
        with mu:
            datas.append((data, stat.version if stat else None))

    @reader.ChildrenWatch(path)
    def on_children(children):
        with mu:
            kids.append(sorted(children))

    poll(lambda: datas == [(b"v0", 0)], "DataWatch initial call")
    writer.set(path, b"v1")
    poll(lambda: (b"v1", 1) in datas, "DataWatch after set")
    writer.create(path + "/a")
    writer.create(path + "/b", ephemeral=True)
    poll(lambda: kids and kids[-1] == ["a", "b"], "ChildrenWatch after two creates")
    writer.delete(path + "/a")
    poll(lambda: kids[-1] == ["b"], "ChildrenWatch after delete")
    writer.stop()  # ephemeral /b goes with the session
    poll(lambda: kids[-1] == [], "ChildrenWatch after the ephemeral owner left")
    check(kids[0] == [], "ChildrenWatch first call %r, want []", kids[0])

def recipe_treecache(cs):
    """TreeCache mirrors a subtree changed by another session."""
    path = node("treecache")
    writer, reader = cs.new(), cs.new()
    writer.create(path + "/a", b"a0", makepath=True)
    events = []
    mu = threading.Lock()
    cache = TreeCache(reader, path)

    def on_event(e):
        with mu:
            events.append(e.event_type)

    cache.listen(on_event)
    cache.start()
    try:
        poll(lambda: TreeEvent.INITIALIZED in events, "TreeCache INITIALIZED")
        check(cache.get_data(path + "/a").data == b"a0", "cached /a = %r", cache.get_data(path + "/a"))
        writer.create(path + "/a/b", b"b0")
        poll(lambda: cache.get_data(path + "/a/b") is not None, "cache sees /a/b")
        writer.set(path + "/a/b", b"b1")
        poll(lambda: cache.get_data(path + "/a/b").data == b"b1", "cache sees /a/b = b1")
        check(cache.get_children(path + "/a") == frozenset(["b"]), "children %r", cache.get_children(path + "/a"))
        writer.delete(path + "/a", recursive=True)
        poll(lambda: cache.get_data(path + "/a") is None, "cache drops /a")
        check(cache.get_children(path) == frozenset(), "children of root %r", cache.get_children(path))
        # The cache changes before its listeners hear of it (they run on
        # kazoo's event thread): the events are waited for, not checked.
        for t in (TreeEvent.NODE_ADDED, TreeEvent.NODE_UPDATED, TreeEvent.NODE_REMOVED):
            def seen(t=t):
                with mu:
                    return t in events
            poll(seen, "TreeEvent %d among %r" % (t, events))
    finally:
        cache.close()

def recipe_transaction(cs):
    """A committed transaction applies every op; a failed one applies none."""
    path = node("txn")
    c = cs.new()
    t = c.transaction()
    t.create(path, b"p")
    t.create(path + "/a", b"1")
    t.set_data(path, b"p2")
    t.check(path, 1)
    results = t.commit()
    check(results[:2] == [path, path + "/a"], "created paths %r", results[:2])
    check(all(not isinstance(r, Exception) for r in results), "commit results %r", results)
    data, stat = c.get(path)
    check(data == b"p2" and stat.version == 1, "after commit: %r version %d", data, stat.version)

    t = c.transaction()
    t.create(path + "/b", b"2")
    t.delete(path + "/a")
    t.check(path, 7)
    results = t.commit()
    check(isinstance(results[0], RolledBackError) and isinstance(results[1], RolledBackError),
          "ops before the failed check: %r, want RolledBackError", results)
    check(isinstance(results[2], BadVersionError), "failed check: %r, want BadVersionError", results[2])
    check(c.exists(path + "/b") is None, "rolled-back create is visible")
    check(c.exists(path + "/a") is not None, "rolled-back delete took effect")
    try:
        c.create(path + "/a")
        raise CheckFailed("create of an existing node succeeded")
    except NodeExistsError:
        pass
    c.delete(path, recursive=True)
    try:
        c.get(path)
        raise CheckFailed("recursive delete left the node")
    except NoNodeError:
        pass

def recipe_session_expiry(cs):
    """An abandoned session's ephemeral lives until the session times out,
    then goes, and its removal fires the watch another session set."""
    path = node("expiry")
    watcher = cs.new()
    owner = subprocess.run([sys.executable, os.path.abspath(sys.argv[0]), cs.hosts, "_ephemeral_owner", path],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=WAIT)
    check(owner.returncode == 0 and b"OWNER-READY" in owner.stdout,
          "ephemeral owner failed (exit %d): %s", owner.returncode, owner.stdout.decode(errors="replace"))
    abandoned = time.monotonic()
    gone = threading.Event()
    stat = watcher.exists(path, watch=lambda e: gone.set() if e.type == EventType.DELETED else None)
    check(stat is not None, "the ephemeral was gone as soon as its owner's connection dropped")
    check(stat.ephemeralOwner != 0, "ephemeralOwner is 0 on an ephemeral node")
    check(gone.wait(WAIT), "the ephemeral of a dead session was not removed within %.0fs", WAIT)
    elapsed = time.monotonic() - abandoned
    check(watcher.exists(path) is None, "the node still exists after its deletion event")
    # The owner negotiated a 4s session; a server expires it within a tick
    # (2s here) after the timeout from its last ping, which came before the
    # owner exited. Much earlier means the server dropped the session with
    # the connection; much later, that expiry is late. The margins leave
    # room for a stall of a second or two on a loaded machine.
    negotiated = re.search(r"negotiated session timeout: (\d+)", owner.stdout.decode(errors="replace"))
    check(negotiated is not None, "the owner did not report its negotiated session timeout: %s",
          owner.stdout.decode(errors="replace"))
    timeout = int(negotiated.group(1)) / 1000.0
    tick = 2.0
    check(elapsed > timeout - 1.5, "ephemeral removed %.1fs after the owner died, before the %.0fs session timeout",
          elapsed, timeout)
    check(elapsed < timeout + tick + 2.0, "ephemeral removed %.1fs after the owner died: expiry is late for a %.0fs session timeout",
          elapsed, timeout)
    print("INFO session_expiry: ephemeral removed %.1fs after its owner died; negotiated session timeout %d ms"
          % (elapsed, timeout * 1000), flush=True)

    # Reattaching to the expired session must be refused (kazoo logs
    # "Session has expired") and kazoo then starts a new session.
    words = owner.stdout.decode().split()
    i = words.index("OWNER-READY")
    sid, passwd = int(words[i + 1], 16), bytes.fromhex(words[i + 2])
    logged = []

    class Collect(logging.Handler):
        def emit(self, record):
            logged.append(record.getMessage())

    collect = Collect()
    logging.getLogger("kazoo.client").addHandler(collect)
    try:
        late = KazooClient(hosts=cs.hosts, timeout=4.0, client_id=(sid, passwd),
                           connection_retry={"max_tries": 5, "delay": 0.1, "max_delay": 1})
        cs.all.append(late)
        late.start(timeout=WAIT)
        poll(lambda: late.connected and late.client_id is not None and late.client_id[0] != sid,
             "a new session after reattaching to the expired one")
    finally:
        logging.getLogger("kazoo.client").removeHandler(collect)
    check(any("Session has expired" in m for m in logged),
          "the server accepted a reattach to the expired session %x: kazoo logged %r", sid, logged)

def ephemeral_owner(hosts, path):
    """Child process of recipe_session_expiry: creates an ephemeral under a
    4s session and dies without closing the session."""
    logging.basicConfig(level=1, stream=sys.stdout, format="%(name)s %(message)s")  # 1: kazoo's BLATHER too
    c = KazooClient(hosts=hosts, timeout=4.0)
    c.start(timeout=WAIT)
    c.create(path, b"owned", ephemeral=True)
    sid, passwd = c.client_id
    print("OWNER-READY %x %s" % (sid, passwd.hex()), flush=True)
    os._exit(0)

def recipe_reconnect(cs):
    """A dropped connection resumes the same session: ephemerals stay, and
    a DataWatch (which kazoo re-arms after the reconnect) sees later
    changes."""
    path = node("reconnect")
    a, b = cs.new(), cs.new()
    a.create(path, b"v0")
    a.create(path + "/eph", b"", ephemeral=True)
    session = a.client_id[0]
    states = []
    a.add_listener(lambda s: states.append(s))
    seen = []

    @a.DataWatch(path)
    def on_data(data, stat):
        seen.append(data)

    poll(lambda: seen == [b"v0"], "DataWatch initial call")
    # Cut a's TCP connection under kazoo; it reconnects by itself.
    a._connection._socket.shutdown(socket.SHUT_RDWR)
    poll(lambda: KazooState.SUSPENDED in states, "a SUSPENDED after its connection was cut")
    poll(lambda: a.state == KazooState.CONNECTED and a.client_id is not None, "a reconnected")
    check(KazooState.LOST not in states, "a's session was lost, want it resumed: %r", states)
    check(a.client_id[0] == session, "reconnected with session %x, want %x", a.client_id[0], session)
    check(b.exists(path + "/eph") is not None, "a's ephemeral vanished across the reconnect")
    check(a.get(path)[0] == b"v0", "a reads %r after the reconnect", a.get(path)[0])
    b.set(path, b"v1")
    poll(lambda: b"v1" in seen, "DataWatch sees a change made after the reconnect")

def recipe_auth(cs):
    """Digest credentials given at connect time (sent right behind the
    handshake) and added later with add_auth; an unknown scheme fails the
    session."""
    path = node("auth")
    owner = KazooClient(hosts=cs.hosts, timeout=10.0, auth_data=[("digest", "user:pw")])
    cs.all.append(owner)
    owner.start(timeout=WAIT)
    owner.create(path, b"secret", acl=CREATOR_ALL_ACL)
    acls, _ = owner.get_acls(path)
    check(len(acls) == 1 and acls[0].id.scheme == "digest" and acls[0].id.id.startswith("user:") and acls[0].perms == 31,
          "ACL from CREATOR_ALL_ACL = %r, want digest user:<hash> with all permissions", acls)
    other = cs.new()
    try:
        other.get(path)
        raise CheckFailed("read a digest-protected node without credentials")
    except NoAuthError:
        pass
    other.add_auth("digest", "user:wrong")
    try:
        other.get(path)
        raise CheckFailed("read a digest-protected node with a wrong password")
    except NoAuthError:
        pass
    other.add_auth("digest", "user:pw")
    check(other.get(path)[0] == b"secret", "read after add_auth returned %r", other.get(path)[0])
    other.set(path, b"changed")
    check(owner.get(path)[0] == b"changed", "owner reads %r", owner.get(path)[0])

    doomed = cs.new()
    try:
        doomed.add_auth("no-such-scheme", "x")
        raise CheckFailed("add_auth with an unknown scheme succeeded")
    except AuthFailedError:
        pass
    check(doomed.state == KazooState.LOST, "state after a failed auth = %s, want LOST", doomed.state)

def recipe_large_data(cs):
    """A 1,000,000-byte value round-trips; a request larger than
    jute.maxbuffer (1 MiB) drops the connection but not the session."""
    path = node("large")
    c = cs.new()
    big = bytes(range(256)) * 3906 + b"1234"
    c.create(path, big)
    data, stat = c.get(path)
    check(data == big and stat.dataLength == len(big), "read back %d bytes (stat %d), want %d equal bytes",
          len(data), stat.dataLength, len(big))
    session = c.client_id[0]
    try:
        c.create(path + "-huge", b"y" * 2000000)
        raise CheckFailed("a 2 MB create succeeded over a 1 MiB jute.maxbuffer")
    except ConnectionLoss:
        pass
    poll(lambda: c.connected and c.client_id is not None, "reconnect after the oversized request")
    check(c.client_id[0] == session, "session changed from %x to %x", session, c.client_id[0])
    check(c.exists(path + "-huge") is None, "the oversized create took effect")
    check(c.get(path)[0] == big, "the large value changed")

def recipe_chroot_and_4lw(cs):
    """A chrooted client sees only its subtree, with chroot-relative watch
    paths; kazoo's four-letter-word helpers get ZooKeeper's answers."""
    base = node("chroot")
    plain = cs.new()
    plain.ensure_path(base)
    rooted = KazooClient(hosts=cs.hosts + base, timeout=10.0)
    cs.all.append(rooted)
    rooted.start(timeout=WAIT)
    seen = []
    rooted.ChildrenWatch("/", lambda kids: seen.append(sorted(kids)))
    rooted.create("/x", b"1")
    check(plain.get(base + "/x")[0] == b"1", "chrooted create not under the chroot")
    poll(lambda: seen and seen[-1] == ["x"], "chrooted ChildrenWatch sees x")
    fired = threading.Event()
    paths = []
    rooted.get("/x", watch=lambda e: (paths.append(e.path), fired.set()))
    plain.set(base + "/x", b"2")
    check(fired.wait(WAIT), "chrooted data watch did not fire")
    check(paths == ["/x"], "chrooted watch path %r, want ['/x']", paths)
    check(plain.command(b"ruok") == "imok", "ruok answered %r", plain.command(b"ruok"))
    version = plain.server_version()
    check(tuple(version[:2]) == (3, 8), "server_version() = %r, want 3.8.x", version)
