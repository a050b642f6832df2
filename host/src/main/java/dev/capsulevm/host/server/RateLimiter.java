package dev.capsulevm.host.server;

import dev.capsulevm.proofs.crypto.PublicKey;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A token bucket per account: {@code rate} programs per second, at most {@code burst} at once. An
 * account's bucket is checked only after its withdrawal's signature verified, so nobody can spend
 * another account's tokens. Full buckets are dropped when the map grows large, which bounds memory.
 */
final class RateLimiter {
  private static final int PRUNE_ABOVE = 100_000;

  private final double ratePerNano;
  private final double burst;
  private final Map<PublicKey, Bucket> buckets = new ConcurrentHashMap<>();

  private static final class Bucket {
    double tokens;
    long last;

    Bucket(double tokens, long last) {
      this.tokens = tokens;
      this.last = last;
    }
  }

  RateLimiter(double ratePerSecond, int burst) {
    this.ratePerNano = ratePerSecond / 1e9;
    this.burst = burst;
  }

  /** Takes one token from {@code account}'s bucket; false when it is empty. */
  boolean tryAcquire(PublicKey account) {
    long now = System.nanoTime();
    if (buckets.size() > PRUNE_ABOVE) {
      prune(now);
    }
    Bucket bucket = buckets.computeIfAbsent(account, k -> new Bucket(burst, now));
    synchronized (bucket) {
      refill(bucket, now);
      if (bucket.tokens < 1) {
        return false;
      }
      bucket.tokens -= 1;
      return true;
    }
  }

  private void refill(Bucket bucket, long now) {
    bucket.tokens = Math.min(burst, bucket.tokens + (now - bucket.last) * ratePerNano);
    bucket.last = now;
  }

  private void prune(long now) {
    for (Iterator<Bucket> it = buckets.values().iterator(); it.hasNext(); ) {
      Bucket b = it.next();
      synchronized (b) {
        refill(b, now);
        if (b.tokens >= burst) {
          it.remove();
        }
      }
    }
  }
}
