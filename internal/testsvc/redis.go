package testsvc

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisURL returns the Redis URL from CYCLEHUB_REDIS_URL (after a PING) and
// a key prefix unique to this test, "test:<hex>:". The test must keep its
// keys under that prefix: when the test ends every key with the prefix is
// deleted (SCAN + DEL). Redis unavailable: see [Require].
func RedisURL(t testing.TB) (url string, keyPrefix string) {
	t.Helper()
	url = os.Getenv(EnvRedisURL)
	if url == "" {
		Require(t, "redis", EnvRedisURL+" is not set")
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("testsvc: %s=%q: %v", EnvRedisURL, url, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rdb := redis.NewClient(opts)
	err = rdb.Ping(ctx).Err()
	_ = rdb.Close() // only probed; the PING's error is the one that matters
	if err != nil {
		Require(t, "redis", "PING "+opts.Addr+": "+err.Error())
	}

	keyPrefix = "test:" + randHex(8) + ":"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := deleteRedisPrefix(ctx, opts, keyPrefix); err != nil {
			t.Errorf("testsvc: deleting redis keys %s*: %v", keyPrefix, err)
		}
	})
	return url, keyPrefix
}

// deleteRedisPrefix deletes every key starting with prefix. prefix must not
// contain glob characters (ours are "test:<hex>:").
func deleteRedisPrefix(ctx context.Context, opts *redis.Options, prefix string) error {
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	var cursor uint64
	for {
		keys, next, err := rdb.Scan(ctx, cursor, prefix+"*", 1000).Result()
		if err != nil {
			return err
		}
		if len(keys) > 0 {
			if err := rdb.Del(ctx, keys...).Err(); err != nil {
				return err
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// FlushRedisPrefix deletes every key of a test's prefix now, as a Redis
// flush or restart would (fault tests).
func FlushRedisPrefix(t testing.TB, url, keyPrefix string) {
	t.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("testsvc: %q: %v", url, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := deleteRedisPrefix(ctx, opts, keyPrefix); err != nil {
		t.Fatalf("testsvc: flushing redis keys %s*: %v", keyPrefix, err)
	}
}
