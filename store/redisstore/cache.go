package redisstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cache is a small key-value cache with expiry (enrichment answers).
// Keys are namespaced cyclehub:cache:<name>:<key>.
type Cache struct {
	c      *Client
	prefix string
}

// NewCache returns the cache called name.
func (c *Client) NewCache(keyPrefix, name string) *Cache {
	return &Cache{c: c, prefix: keyPrefix + "cyclehub:cache:" + name + ":"}
}

// Get returns the cached value; ok is false on a miss.
func (c *Cache) Get(ctx context.Context, key string) (value []byte, ok bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, c.c.timeout)
	defer cancel()
	v, err := c.c.rdb.Get(ctx, c.prefix+key).Bytes()
	switch {
	case errors.Is(err, redis.Nil):
		return nil, false, nil
	case err != nil:
		return nil, false, fmt.Errorf("cache get: %w", err)
	}
	return v, true, nil
}

// Set stores value for ttl.
func (c *Cache) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, c.c.timeout)
	defer cancel()
	if err := c.c.rdb.Set(ctx, c.prefix+key, value, ttl).Err(); err != nil {
		return fmt.Errorf("cache set: %w", err)
	}
	return nil
}
