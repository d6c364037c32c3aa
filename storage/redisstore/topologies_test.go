package redisstore_test

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/c650553b/httpcache"
	"github.com/c650553b/httpcache/storage/redisstore"
	"github.com/c650553b/httpcache/storage/storagetest"
	"github.com/redis/go-redis/v9"
)

// startCluster runs a Redis Cluster of three masters of the test's own and
// returns a client of it.
func startCluster(t *testing.T) *redis.ClusterClient {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a Redis Cluster")
	}
	for _, tool := range []string{"redis-server", "redis-cli"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed; .ci/run installs it", tool)
		}
	}
	var addrs []string
	for range 3 {
		port := freePort(t)
		dir := t.TempDir()
		cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--cluster-enabled", "yes", "--cluster-config-file", dir+"/nodes.conf", "--dir", dir,
			"--save", "", "--appendonly", "no")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		addrs = append(addrs, "127.0.0.1:"+strconv.Itoa(port))
	}
	for _, addr := range addrs {
		c := redis.NewClient(&redis.Options{Addr: addr})
		for deadline := time.Now().Add(5 * time.Second); c.Ping(context.Background()).Err() != nil; {
			if time.Now().After(deadline) {
				t.Fatalf("redis-server at %s did not start", addr)
			}
			time.Sleep(10 * time.Millisecond)
		}
		c.Close()
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	client := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, ContextTimeoutEnabled: true})
	t.Cleanup(func() { client.Close() })
	for deadline := time.Now().Add(10 * time.Second); ; {
		info, err := client.ClusterInfo(context.Background()).Result()
		if err == nil && strings.Contains(info, "cluster_state:ok") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cluster did not come up: %v %s", err, info)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return client
}

// TestCluster runs the acceptance suite on a Redis Cluster: each key's
// variants live in one hash, on one node, and the scripts touch the keys
// of one URL alone, which share its hash tag's slot.
func TestCluster(t *testing.T) {
	client := startCluster(t)
	n := 0
	storagetest.Run(t, func(t *testing.T, maxBytes int64) httpcache.Storage {
		if maxBytes != 0 {
			return nil
		}
		n++
		return newStore(client, redisstore.WithPrefix("cluster-test-"+strconv.Itoa(n)+":"))
	})
}

// TestSentinel runs the acceptance suite through Sentinel: a master of the
// test's own, watched by one sentinel, reached by a failover client.
func TestSentinel(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Redis and a sentinel")
	}
	master := startRedis(t, freePort(t))
	sentinelPort := freePort(t)
	dir := t.TempDir()
	config := "port " + strconv.Itoa(sentinelPort) + "\nbind 127.0.0.1\n" +
		"sentinel monitor httpcache 127.0.0.1 " + strconv.Itoa(master.port) + " 1\n"
	if err := os.WriteFile(dir+"/sentinel.conf", []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("redis-server", dir+"/sentinel.conf", "--sentinel")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	client := redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName:            "httpcache",
		SentinelAddrs:         []string{"127.0.0.1:" + strconv.Itoa(sentinelPort)},
		ContextTimeoutEnabled: true,
	})
	t.Cleanup(func() { client.Close() })
	for deadline := time.Now().Add(10 * time.Second); client.Ping(context.Background()).Err() != nil; {
		if time.Now().After(deadline) {
			t.Fatal("no master through the sentinel")
		}
		time.Sleep(20 * time.Millisecond)
	}
	storagetest.Run(t, func(t *testing.T, maxBytes int64) httpcache.Storage {
		if maxBytes != 0 {
			return nil
		}
		return newStore(client, redisstore.WithPrefix(t.Name()+":"))
	})
}
