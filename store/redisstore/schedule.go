package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Schedule is the delivery schedule: one sorted set per destination
// (cyclehub:deliveries:<destination>), member the delivery id, score when
// it is due (Unix ms). PostgreSQL holds the truth; this is rebuilt from
// it, so losing it (a flush, a restart without persistence) delays
// nothing for long and loses nothing.
type Schedule struct {
	c      *Client
	prefix string
}

// NewSchedule returns the schedule.
func (c *Client) NewSchedule(keyPrefix string) *Schedule {
	return &Schedule{c: c, prefix: keyPrefix + "cyclehub:deliveries:"}
}

// Add schedules deliveries at their times (a scheduled one moves).
func (s *Schedule) Add(ctx context.Context, dest string, ids []int64, at []time.Time) error {
	return s.add(ctx, dest, ids, at, false)
}

// Fill schedules the deliveries not scheduled yet; one already scheduled
// keeps its time (ZADD NX).
func (s *Schedule) Fill(ctx context.Context, dest string, ids []int64, at []time.Time) error {
	return s.add(ctx, dest, ids, at, true)
}

func (s *Schedule) add(ctx context.Context, dest string, ids []int64, at []time.Time, onlyNew bool) error {
	if len(ids) == 0 {
		return nil
	}
	members := make([]redis.Z, len(ids))
	for i, id := range ids {
		members[i] = redis.Z{Score: float64(at[i].UnixMilli()), Member: strconv.FormatInt(id, 10)}
	}
	ctx, cancel := context.WithTimeout(ctx, s.c.timeout)
	defer cancel()
	var err error
	if onlyNew {
		err = s.c.rdb.ZAddNX(ctx, s.prefix+dest, members...).Err()
	} else {
		err = s.c.rdb.ZAdd(ctx, s.prefix+dest, members...).Err()
	}
	if err != nil {
		return fmt.Errorf("schedule deliveries: %w", err)
	}
	return nil
}

// Due returns up to limit deliveries due at now, earliest first.
func (s *Schedule) Due(ctx context.Context, dest string, now time.Time, limit int) ([]int64, error) {
	ctx, cancel := context.WithTimeout(ctx, s.c.timeout)
	defer cancel()
	// ZRANGE … BYSCORE LIMIT (Redis 6.2+) replaces the deprecated ZRANGEBYSCORE.
	vals, err := s.c.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{
		Key: s.prefix + dest, Start: "-inf", Stop: strconv.FormatInt(now.UnixMilli(), 10),
		ByScore: true, Count: int64(limit),
	}).Result()
	if err != nil {
		return nil, fmt.Errorf("due deliveries: %w", err)
	}
	out := make([]int64, 0, len(vals))
	for _, v := range vals {
		if id, err := strconv.ParseInt(v, 10, 64); err == nil {
			out = append(out, id)
		}
	}
	return out, nil
}

// Remove unschedules deliveries.
func (s *Schedule) Remove(ctx context.Context, dest string, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	members := make([]any, len(ids))
	for i, id := range ids {
		members[i] = strconv.FormatInt(id, 10)
	}
	ctx, cancel := context.WithTimeout(ctx, s.c.timeout)
	defer cancel()
	if err := s.c.rdb.ZRem(ctx, s.prefix+dest, members...).Err(); err != nil {
		return fmt.Errorf("unschedule deliveries: %w", err)
	}
	return nil
}
