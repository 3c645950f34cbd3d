// Package ensemble holds the end-to-end tests of replicated ensembles: three
// (or more) Meerkat processes on loopback, their peer links through fault
// proxies the tests control, clients from github.com/go-zookeeper/zk and
// raw frames. They SIGKILL leaders under load, cut members off, restart
// everyone, move sessions between servers and check that every
// acknowledged write is on every server. Local sessions and read-only
// mode (localsessions_test.go, readonly_test.go) run the same scenario on
// an Apache ZooKeeper 3.8 ensemble and compare the answers.
package ensemble
