// CuratorTracker connects Curator (with its EnsembleTracker, the default)
// to the servers of args[0] and prints its connection string, its hosts
// sorted, each time it changes: EnsembleTracker rewrites it from
// /zookeeper/config. It ends when its stdin closes, or after 120 s.
import java.util.Arrays;
import java.util.concurrent.TimeUnit;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.RetryOneTime;

public class CuratorTracker {
    public static void main(String[] args) throws Exception {
        CuratorFramework client = CuratorFrameworkFactory.builder()
                .connectString(args[0])
                .sessionTimeoutMs(30000)
                .retryPolicy(new RetryOneTime(100))
                .ensembleTracker(true)
                .build();
        client.start();
        if (!client.blockUntilConnected(30, TimeUnit.SECONDS)) {
            System.out.println("not connected");
            System.exit(1);
        }
        System.out.println("connected");
        Thread watchStdin = new Thread(() -> {
            try {
                while (System.in.read() >= 0) {
                }
            } catch (Exception e) {
            }
            System.exit(0);
        });
        watchStdin.setDaemon(true);
        watchStdin.start();
        String last = "";
        long end = System.currentTimeMillis() + 120_000;
        while (System.currentTimeMillis() < end) {
            String[] hosts = client.getZookeeperClient().getCurrentConnectionString().split(",");
            Arrays.sort(hosts);
            String now = String.join(",", hosts);
            if (!now.equals(last)) {
                System.out.println("ensemble " + now);
                System.out.flush();
                last = now;
            }
            Thread.sleep(50);
        }
        client.close();
    }
}
