// CuratorFailover connects Curator to the servers of args[0] (a multi-host
// connect string) and, under the path args[1], creates an ephemeral, takes
// an InterProcessMutex and leaves a watch; it prints SESSION, LOCK and
// READY. The Go test then SIGKILLs the member it is connected to. Once
// Curator reports the connection RECONNECTED, it checks that the session is
// the same and still owns the ephemeral and the lock (HELD), waits for the
// watch, which a change made through another member fires (WATCH-FIRED),
// writes and reads on (DONE), and waits for "exit" on stdin to release the
// lock and close (PASS). Any failure prints a FAIL line and exits 1.
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.api.CuratorWatcher;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.data.Stat;

public class CuratorFailover {
    static void say(String line) {
        System.out.println(line);
        System.out.flush();
    }

    static void fail(String why) {
        say("FAIL " + why);
        System.exit(1);
    }

    // awaitState waits up to 60 s for Curator to report want; LOST fails.
    static void awaitState(BlockingQueue<ConnectionState> states, ConnectionState want) throws InterruptedException {
        long end = System.currentTimeMillis() + 60_000;
        while (true) {
            ConnectionState s = states.poll(end - System.currentTimeMillis(), TimeUnit.MILLISECONDS);
            if (s == null) {
                fail("no " + want + " within 60 s");
            }
            if (s == ConnectionState.LOST) {
                fail("the session was lost");
            }
            if (s == want) {
                return;
            }
        }
    }

    public static void main(String[] args) throws Exception {
        String base = args[1];
        CuratorFramework client = CuratorFrameworkFactory.builder()
                .connectString(args[0])
                .sessionTimeoutMs(30000)
                .connectionTimeoutMs(15000)
                .retryPolicy(new ExponentialBackoffRetry(100, 10))
                .ensembleTracker(false)
                .build();
        BlockingQueue<ConnectionState> states = new LinkedBlockingQueue<>();
        client.getConnectionStateListenable().addListener((c, s) -> states.add(s));
        client.start();
        if (!client.blockUntilConnected(30, TimeUnit.SECONDS)) {
            fail("not connected within 30 s");
        }
        client.create().forPath(base, "v0".getBytes(StandardCharsets.UTF_8));
        client.create().withMode(CreateMode.EPHEMERAL).forPath(base + "/eph", "e".getBytes(StandardCharsets.UTF_8));
        client.create().forPath(base + "/watched", "v0".getBytes(StandardCharsets.UTF_8));
        InterProcessMutex lock = new InterProcessMutex(client, base + "/lock");
        if (!lock.acquire(10, TimeUnit.SECONDS)) {
            fail("the lock was not acquired");
        }
        CountDownLatch fired = new CountDownLatch(1);
        client.getData().usingWatcher((CuratorWatcher) e -> {
            if (e.getType() == Watcher.Event.EventType.NodeDataChanged) {
                fired.countDown();
            }
        }).forPath(base + "/watched");
        long sid = client.getZookeeperClient().getZooKeeper().getSessionId();
        List<String> held = client.getChildren().forPath(base + "/lock");
        if (held.size() != 1) {
            fail("lock children " + held);
        }
        String lockNode = base + "/lock/" + held.get(0);
        say("SESSION 0x" + Long.toHexString(sid));
        say("LOCK " + lockNode);
        say("READY");

        awaitState(states, ConnectionState.SUSPENDED);
        awaitState(states, ConnectionState.RECONNECTED);
        long now = client.getZookeeperClient().getZooKeeper().getSessionId();
        say("RECONNECTED SESSION 0x" + Long.toHexString(now));
        if (now != sid) {
            fail("a new session 0x" + Long.toHexString(now));
        }
        for (String path : new String[] {base + "/eph", lockNode}) {
            Stat st = client.checkExists().forPath(path);
            if (st == null || st.getEphemeralOwner() != sid) {
                fail(path + " is not this session's any more: " + st);
            }
        }
        if (!lock.isAcquiredInThisProcess()) {
            fail("Curator no longer holds the lock");
        }
        say("HELD");
        if (!fired.await(60, TimeUnit.SECONDS)) {
            fail("the watch left before the SIGKILL did not fire within 60 s");
        }
        say("WATCH-FIRED");
        client.create().forPath(base + "/after", "a".getBytes(StandardCharsets.UTF_8));
        String watched = new String(client.getData().forPath(base + "/watched"), StandardCharsets.UTF_8);
        if (!watched.equals("after-failover")) {
            fail(base + "/watched = " + watched);
        }
        say("DONE");

        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        for (String line; (line = in.readLine()) != null && !line.equals("exit");) {
        }
        lock.release();
        client.close();
        say("PASS");
    }
}
