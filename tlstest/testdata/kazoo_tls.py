"""kazoo over TLS: python3 kazoo_tls.py HOSTS CERTFILE KEYFILE CA PASSWORD ROOT

Connects with use_ssl=True, verify_certs=True and a client certificate
whose key file is encrypted with PASSWORD, then creates, reads, sets,
lists and deletes znodes under ROOT with a data watch and a child watch,
printing one line per step (nothing server-specific: no zxids, no times)
and "PASS" at the end. A watchdog ends the process after 60 s.
"""

import os
import sys
import threading
import traceback

from kazoo.client import KazooClient


def watchdog():
    print("TIMEOUT: the script ran for 60 s", flush=True)
    os._exit(3)


def main():
    hosts, certfile, keyfile, ca, password, root = sys.argv[1:7]
    timer = threading.Timer(60, watchdog)
    timer.daemon = True
    timer.start()
    zk = KazooClient(hosts=hosts, use_ssl=True, verify_certs=True, certfile=certfile,
                     keyfile=keyfile, keyfile_password=password, ca=ca, timeout=10)
    zk.start(timeout=20)
    out = lambda *a: print(*a, flush=True)
    out("connected", zk.connected)

    out("create", zk.create(root, b"v0"))
    data, stat = zk.get(root)
    out("get", data, "version", stat.version)

    fired = threading.Event()
    events = []

    def on_event(ev):
        events.append(ev)
        fired.set()

    zk.get(root, watch=on_event)
    stat = zk.set(root, b"v1")
    out("set version", stat.version)
    out("data watch fired", fired.wait(10), [(e.type, e.path) for e in events])

    for child in ("a", "b", "c"):
        zk.create(root + "/" + child, child.encode())
    fired.clear()
    events.clear()
    out("children", sorted(zk.get_children(root, watch=on_event)))
    zk.delete(root + "/b")
    out("child watch fired", fired.wait(10), [(e.type, e.path) for e in events])
    out("children", sorted(zk.get_children(root)))

    zk.delete(root, recursive=True)
    out("exists after delete", zk.exists(root))
    zk.stop()
    zk.close()
    out("PASS")


if __name__ == "__main__":
    try:
        main()
    except Exception:
        traceback.print_exc()
        sys.stdout.flush()
        os._exit(1)
    os._exit(0)
